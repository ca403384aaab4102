"""A license-clean, varied English sentence source for the synthetic-speech demo model.

Every sentence comes from a small hand-written grammar: about a hundred sentence templates
(statements in several tenses, questions, requests, directions, everyday dialogue, times,
dates, prices and spelled-out numbers) filled from a hand-written vocabulary of everyday
English words grouped by meaning, so that people eat food, read books and drive cars.
Nothing is downloaded and no third-party text is copied.

Sentences are returned normalized to the CTC character vocabulary (``A``-``Z``, apostrophe
and single spaces), so they can be used as labels as they are. Generation is deterministic
for a given seed, and the training and held-out splits are disjoint by construction: each
sentence is assigned to one split by a hash of its text, whatever the seed or count.

Run ``python -m training.corpus`` to print the vocabulary size, an estimate of how many distinct
sentences the grammar can produce, and a few samples.
"""

from __future__ import annotations

import functools
import hashlib
import math
import random
import re
import unicodedata
from collections.abc import Callable, Sequence
from typing import TypeVar

__all__ = [
    "MAX_WORDS",
    "MIN_WORDS",
    "heldout_sentences",
    "normalize_text",
    "training_sentences",
    "vocabulary",
]

MIN_WORDS = 4  # shortest sentence kept, in words
MAX_WORDS = 16  # longest sentence kept, in words; about 6 s of speech at 160 wpm
HELDOUT_BUCKETS = 10  # one sentence hash in ten belongs to the held-out split
HELDOUT_BUCKET = 0  # ... namely the one whose hash is 0 modulo HELDOUT_BUCKETS
MAX_DRAWS_PER_SENTENCE = 1_000  # give up if the grammar is this far from producing `count` new sentences

T = TypeVar("T")


def _words(text: str) -> tuple[str, ...]:
    """Split a whitespace-separated word list; ``_`` joins multi-word entries ("ice_cream").

    Duplicates are dropped (keeping the first) so every entry is equally likely.
    """
    return tuple(dict.fromkeys(word.replace("_", " ") for word in text.split()))


@functools.cache
def _phrases(text: str) -> tuple[str, ...]:
    """Split "a | b | c" into phrases; cached, so templates can list their phrases inline."""
    return tuple(" ".join(phrase.split()) for phrase in text.split("|"))


def _join(*parts: str) -> str:
    """Join the non-empty parts with spaces."""
    return " ".join(part for part in parts if part)


# ----------------------------------------------------------------------------------------------
# Vocabulary. American spelling throughout. Words that espeak-ng reads as something else are
# left out on purpose: abbreviations ("mr", "ok", "tv"), roman-numeral look-alikes ("vi", "xi")
# and anything it spells letter by letter. Numbers are always written out as words.
# ----------------------------------------------------------------------------------------------

JOBS = _words("""
    teacher doctor nurse farmer driver baker cook chef pilot dentist lawyer waiter manager
    engineer artist writer singer dancer painter builder plumber gardener mechanic scientist
    journalist photographer librarian police_officer firefighter shopkeeper soldier sailor
    fisherman secretary cashier guard guide president mayor captain coach judge professor
    musician actor author poet detective reporter carpenter electrician pharmacist
    receptionist accountant architect athlete shepherd babysitter butcher tailor hairdresser
    postman clerk officer volunteer
""")
PEOPLE = JOBS + _words("""
    student tourist visitor passenger customer guest stranger friend neighbor boss colleague
    partner child baby boy girl man woman kid teenager grandmother grandfather mother father
    parent brother sister son daughter uncle aunt cousin nephew niece husband wife king queen
    prince princess player cyclist runner swimmer climber roommate classmate landlord owner
""")
ANIMALS = _words("""
    dog cat horse cow sheep pig goat chicken duck goose rabbit mouse rat bird parrot owl eagle
    crow pigeon fox wolf bear deer lion tiger elephant monkey giraffe zebra kangaroo camel
    snake frog turtle fish shark whale dolphin bee butterfly spider ant squirrel hamster puppy
    kitten donkey swan penguin
""")
FOOD_COUNT = _words("""
    apple banana orange lemon pear peach plum strawberry cherry tomato potato carrot onion egg
    sandwich cake cookie biscuit pie pizza burger sausage pancake muffin cupcake melon
    pineapple cucumber pepper mushroom doughnut omelet potato_chip pastry bagel
""")
FOOD_MASS = _words("""
    bread rice cheese butter pasta salad chicken fish meat beef honey jam sugar salt flour
    cereal yogurt cream ice_cream popcorn chocolate toast garlic spinach broccoli corn lettuce
    fried_rice apple_pie soup vegetable_soup chicken_soup
""")
DRINKS = _words("""
    milk water coffee tea juice lemonade orange_juice hot_chocolate apple_juice cocoa
""")
# What comes in what, for "a cup of tea" and "a bowl of soup".
PORTIONS = {
    "a cup of": _words("tea coffee hot_chocolate cocoa soup"),
    "a glass of": _words("water milk juice lemonade orange_juice apple_juice"),
    "a bottle of": _words("water milk juice lemonade"),
    "a bowl of": _words("soup rice pasta salad cereal yogurt ice_cream popcorn vegetable_soup fried_rice"),
    "a slice of": _words("bread cheese pizza toast cake apple_pie melon pineapple"),
    "a piece of": _words("chocolate cake cheese toast chicken fish apple_pie"),
    "a plate of": _words("pasta rice chicken fish salad fried_rice pancakes sandwiches"),
}
MACHINES = _words("""
    lamp radio television computer laptop phone oven kettle printer camera heater fan
    dishwasher washing_machine light alarm
""")
READING = _words("""
    book letter newspaper magazine novel dictionary recipe list message email map note poem
    story report essay menu timetable postcard
""")
SMALL_THINGS = _words("""
    cup plate bowl glass bottle key phone laptop camera bag box envelope pen pencil notebook
    ticket wallet umbrella watch radio photo candle blanket pillow towel basket bucket hammer
    knife fork spoon kettle pan pot vase toy ball kite guitar drum violin calendar diary
    receipt package parcel present card coin brush comb toothbrush battery charger cable
    keyboard folder suitcase backpack jar tray mug teapot jug torch flashlight rope passport
    book letter newspaper magazine map
""")
LARGE_THINGS = _words("""
    lamp chair table mirror window door painting picture television fridge oven sofa bed desk
    shelf carpet curtain piano bench fence gate wall tent sign poster clock plant ladder
    printer computer bookcase cupboard
""")
THINGS = tuple(dict.fromkeys(SMALL_THINGS + LARGE_THINGS))
# Things other things can be on, in or under.
FURNITURE = _words("""
    table desk shelf drawer bed sofa chair bench fridge cupboard box bag basket suitcase
    backpack car sink counter bookcase piano floor doormat
""")
CLOTHES = _words("""
    coat jacket shirt sweater hat scarf dress skirt sock shoe boot glove tie belt uniform
    raincoat cap vest blouse suit
""")
VEHICLES = _words("""
    car bus train bike bicycle truck van taxi boat ship plane motorbike scooter tractor
    ferry helicopter
""")
PLACES = _words("""
    park library station school hospital museum bank market supermarket bakery cafe restaurant
    kitchen garden office airport beach cinema theater church hotel gym pool stadium zoo farm
    factory shop store pharmacy post_office bus_stop train_station town_hall city_center
    bookshop playground harbor bridge square castle palace garage classroom university
    college mall village forest
    lake river mountain island hill valley field bakery gallery concert_hall swimming_pool
    car_park police_station fire_station laundry corner_shop
""")
ROOMS = _words("""
    kitchen bathroom bedroom living_room hallway balcony garage attic basement classroom office
    garden shed
""")
NATURE = _words("""
    tree river mountain lake flower hill cloud star moon sun sky sea ocean wave rock stone
    leaf forest field beach island valley rainbow storm wind snow rain grass
""")
ABSTRACT = _words("""
    idea plan problem question story answer reason decision mistake choice secret joke song
    poem rule plan opinion lesson chance job project report result price number name address
    word language message letter dream habit memory promise excuse solution difference
    holiday weekend budget schedule appointment reservation order request offer discount
    exam test homework essay presentation speech interview invitation recipe puzzle
""")
CONTESTS = _words("game match race competition prize contest quiz election argument tournament")
EVENTS = _words("""
    meeting party concert game match wedding lesson trip holiday interview class lecture
    show film movie play festival picnic dinner lunch breakfast race conference exam birthday
    appointment rehearsal training tour
""")
BODY = _words("""
    head hand arm leg foot knee back shoulder neck finger nose ear eye mouth tooth hair face
    stomach throat elbow
""")
MASS_THINGS = _words("""
    money music information advice furniture news homework paper wood sand glass time work
    traffic luggage equipment help noise fun energy space weather
""")
MALE_NAMES = _words("""
    james john robert michael william david richard joseph thomas charles daniel matthew
    anthony mark paul steven andrew kenneth joshua kevin brian george edward ronald timothy
    jason jeffrey ryan jacob gary nicholas eric jonathan stephen larry justin scott brandon
    benjamin samuel frank gregory raymond alexander patrick jack dennis jerry tyler aaron henry
    adam peter nathan zachary walter kyle harold carl jeremy keith roger gerald ethan arthur
    terry christian sean lawrence austin joe noah jesse albert bryan billy bruce jordan dylan
    alan ralph gabriel roy wayne eugene logan randy louis russell vincent philip bobby johnny
    bradley oliver harry leo oscar sam tom ben luke jake owen lucas liam mason elijah isaac
    hugo felix theo martin simon colin ian neil stuart graham douglas gordon victor howard
""")
FEMALE_NAMES = _words("""
    mary patricia jennifer linda elizabeth barbara susan jessica sarah karen nancy lisa betty
    margaret sandra ashley kimberly emily donna michelle dorothy carol amanda melissa deborah
    stephanie rebecca sharon laura cynthia kathleen amy shirley angela helen anna brenda pamela
    nicole emma samantha katherine christine rachel catherine carolyn janet ruth maria heather
    diane virginia julie joyce victoria olivia kelly christina lauren joan evelyn judith megan
    cheryl andrea hannah martha jacqueline frances gloria ann teresa kathryn sara janice jean
    alice madison doris abigail julia judy grace denise amber marilyn beverly danielle theresa
    sophia marie diana natalie isabella charlotte rose alexis kayla lucy chloe ella mia ava zoe
    ruby daisy holly molly sophie jane kate ellen clara nora iris fiona eva leah paula wendy
""")
SURNAMES = _words("""
    smith johnson williams brown jones miller davis wilson anderson taylor thomas moore
    jackson martin thompson white harris clark lewis robinson walker young allen king wright
    scott green baker adams nelson hill campbell mitchell roberts carter phillips evans turner
    parker collins edwards stewart morris murphy cook rogers morgan cooper peterson reed bailey
    bell kelly howard ward richardson wood watson brooks bennett gray hughes price sanders
    myers ross foster fisher palmer hunter porter spencer harper lawson holmes barker
""")
TITLES = _words("doctor professor mister miss captain")
CITIES = _words("""
    london paris rome madrid berlin vienna prague dublin edinburgh glasgow manchester liverpool
    bristol oxford cambridge york boston chicago denver seattle portland dallas houston miami
    atlanta phoenix toronto montreal vancouver sydney melbourne auckland tokyo osaka seoul
    beijing shanghai delhi mumbai cairo nairobi lisbon athens oslo stockholm helsinki
    copenhagen amsterdam brussels geneva zurich warsaw budapest venice florence naples milan
    barcelona seville new_york san_francisco los_angeles las_vegas new_orleans cape_town
    hong_kong washington philadelphia detroit san_diego nashville memphis cleveland
""")
COUNTRIES = _words("""
    mexico brazil canada france spain italy germany japan china india egypt kenya peru chile
    argentina norway sweden finland denmark ireland scotland wales england portugal greece
    turkey poland australia new_zealand iceland austria switzerland morocco vietnam thailand
    korea
""")
ADJECTIVES = _words("""
    good bad nice great small big large little old new young long short tall high low hot cold
    warm cool wet dry clean dirty quiet loud noisy busy empty full heavy light dark bright soft
    hard easy difficult simple strange cheap expensive fresh safe dangerous beautiful pretty
    ugly lovely wonderful terrible awful famous popular modern ancient comfortable narrow wide
    deep thick thin smooth rough sharp strong weak fast slow perfect fine huge tiny round
    square flat broken crowded peaceful friendly useful important interesting boring special
    familiar ordinary strange unusual excellent amazing pleasant horrible curious lucky
    beautiful enormous shiny dusty rusty wooden plastic golden silver fancy plain colorful
    """)
PEOPLE_ADJECTIVES = _words("""
    happy sad tired hungry thirsty angry busy bored excited nervous worried surprised scared
    afraid sleepy sick cheerful upset lonely relaxed confused proud ready late sorry glad
    pleased curious grateful annoyed friendly helpful careful polite honest brave clever smart
    kind gentle funny serious calm strict lucky shy silly lazy patient rude quiet busy
""")
COLORS = _words("red blue green yellow orange purple pink brown black white gray")
FOOD_ADJECTIVES = _words("""
    sweet sour bitter salty spicy delicious tasty fresh hot cold warm crunchy soft creamy
    homemade cheap expensive healthy
""")
ABSTRACT_ADJECTIVES = _words("""
    good bad new old big small simple strange important interesting boring difficult easy
    clever silly funny serious secret special long short great excellent terrible perfect
    popular famous unusual familiar wonderful awful surprising exciting
""")
ANIMAL_ADJECTIVES = COLORS + _words("""
    big small little old young wild friendly lazy hungry tiny huge fat noisy quiet clever
    beautiful sleepy angry gentle
""")
WEATHER_ADJECTIVES = _words("sunny cloudy rainy windy foggy snowy stormy warm cold hot cool wet dry mild chilly")

# Adjectives that take -er / -est (the rest use "more").
SHORT_ADJECTIVES = _words("""
    big small old new young long short tall high low hot cold warm cool wet dry clean dirty
    quiet loud busy heavy light dark bright soft hard easy cheap fresh safe nice late early
    fast slow strong weak deep thick thin wide narrow happy sad angry lucky funny pretty
    friendly noisy tiny sweet windy sunny cloudy rainy
""")
IRREGULAR_COMPARATIVES = {"good": "better", "bad": "worse", "far": "farther"}

MANNER_ADVERBS = _words("""
    quickly slowly carefully quietly loudly happily gently easily badly well politely patiently
    suddenly finally calmly nervously silently safely clearly softly kindly warmly eagerly
    proudly quietly
""")
FREQUENCY_ADVERBS = _words("always usually often sometimes rarely never normally occasionally")
DEGREE_ADVERBS = _words("very really quite rather extremely so fairly incredibly slightly")

WEEKDAYS = _words("monday tuesday wednesday thursday friday saturday sunday")
MONTHS = _words("january february march april may june july august september october november december")
SEASONS = _words("spring summer autumn winter")

PAST_TIMES = _words("""
    yesterday last_night last_week last_month last_year last_summer last_winter this_morning
    on_monday on_friday on_saturday on_sunday two_days_ago a_week_ago a_few_minutes_ago
    the_day_before_yesterday earlier_today yesterday_afternoon yesterday_evening
    a_long_time_ago last_weekend
""")
FUTURE_TIMES = _words("""
    tomorrow tonight next_week next_month next_year next_summer this_evening this_weekend
    on_tuesday on_thursday on_saturday on_sunday later_today in_two_weeks in_a_few_days
    the_day_after_tomorrow tomorrow_morning tomorrow_afternoon soon next_weekend
""")
HABIT_TIMES = _words("""
    every_day every_morning every_evening every_night every_week on_sundays on_weekends
    after_work after_school before_breakfast after_dinner in_the_morning in_the_evening
    twice_a_week once_a_month at_lunchtime every_summer
""")

# Verbs with the kinds of object they take, so that people drink drinks and read letters.
# Codes: i intransitive, f food, d drink, o any thing, s small thing, m machine, t something to
# read, p person, l place, r room, a animal, x abstract, c clothes, v vehicle, e event,
# g contest, b body part.
VERBS = {
    verb.replace("_", " "): frame
    for verb, frame in (
        entry.split(":")
        for entry in """
            eat:f cook:fi buy:fdsc order:fd taste:fd bake:f cut:fs share:fdx sell:fsv make:fdx
            drink:d pour:d heat:fd grab:fds bring:fdsp carry:fs find:spx lose:sx open:st close:o
            fix:omv clean:orv paint:or wash:scv fold:c wear:c borrow:sv lend:s drop:s break:s
            keep:sax hide:s move:o check:tx read:t write:t send:ts sign:t print:t draw:al use:m
            need:fdox want:fdo like:pfdalce love:pfale hate:fe enjoy:fe miss:pel visit:pl call:p
            help:p meet:p thank:p invite:p ask:p tell:p teach:p follow:pa wake_up:p pick_up:psc
            look_for:psa wait_for:pv feed:a watch:ae see:palv hear:pa chase:a walk:i catch:av
            leave:lsv reach:l discuss:xe explain:x understand:xp forget:xs remember:pxe
            change:ox plan:xe cancel:e attend:e organize:e drive:v park:v ride:v repair:mv
            rent:vr book:e finish:fdxe start:xei win:g play:gi arrive:i sleep:i laugh:i smile:i
            wait:i run:i swim:i cry:i sing:i dance:i work:i rest:i travel:i shout:i listen:i
            study:i relax:i complain:i agree:i hurry:i practice:i hurt:b wash_up:i turn_off:m
            turn_on:m put_away:sc throw_away:s tidy:r decorate:r clean_up:r describe:plx
            answer:x return:sv prepare:fx choose:sx sort:s count:s weigh:s measure:o deliver:s
            collect:s
        """.split()
    )
}
# Verbs that do not take "-ing" in the progressive ("she is liking" is wrong).
STATIVE_VERBS = frozenset(_words("like love hate need want understand remember forget see hear know prefer mean"))

# Verbs that take a place with "to": "we walked to the park".
MOTION_VERBS = _words("go walk drive run hurry cycle fly travel move come return ride")

IRREGULAR_VERBS = {
    base: (past, participle)
    for base, past, participle in (
        line.split()
        for line in """
            begin began begun|break broke broken|bring brought brought|build built built
            |buy bought bought|catch caught caught|choose chose chosen|come came come
            |cut cut cut|draw drew drawn|drink drank drunk|drive drove driven|eat ate eaten
            |fall fell fallen|feed fed fed|feel felt felt|find found found|fly flew flown
            |forget forgot forgotten|get got gotten|give gave given|go went gone
            |grow grew grown|hang hung hung|hear heard heard|hide hid hidden|hit hit hit
            |hold held held|hurt hurt hurt|keep kept kept|know knew known|lead led led
            |leave left left|lend lent lent|let let let|lose lost lost|make made made
            |mean meant meant|meet met met|pay paid paid|put put put|read read read
            |ride rode ridden|ring rang rung|run ran run|say said said|see saw seen
            |sell sold sold|send sent sent|set set set|shake shook shaken|shut shut shut
            |sing sang sung|sit sat sat|sleep slept slept|speak spoke spoken|spend spent spent
            |stand stood stood|steal stole stolen|swim swam swum|take took taken
            |teach taught taught|tear tore torn|tell told told|think thought thought
            |throw threw thrown|understand understood understood|wake woke woken
            |wear wore worn|win won won|write wrote written|bite bit bitten|dig dug dug
            |sweep swept swept|have had had|do did done|be was been
        """.split("|")
    )
}
# Verbs that double their last consonant before -ed / -ing ("stop", "stopped", "stopping").
DOUBLING_VERBS = frozenset(_words("""
    stop plan drop shop jog hug nod grab chat clap skip step wrap slip beg tap hop prefer regret admit run swim
    sit cut hit put get let shut begin forget win dig set
"""))

IRREGULAR_PLURALS = {
    "man": "men", "woman": "women", "child": "children", "person": "people", "foot": "feet",
    "tooth": "teeth", "mouse": "mice", "grandchild": "grandchildren", "sheep": "sheep", "fish": "fish", "deer": "deer",
    "fisherman": "fishermen", "postman": "postmen", "policeman": "policemen", "leaf": "leaves",
    "knife": "knives", "shelf": "shelves", "wife": "wives", "goose": "geese", "life": "lives",
    "police officer": "police officers", "potato": "potatoes", "tomato": "tomatoes",
    "hero": "heroes", "dentist's": "dentists'", "barber's": "barbers'", "bus": "buses",
}

NUMBER_ONES = _words("""
    zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen
    fifteen sixteen seventeen eighteen nineteen
""")
NUMBER_TENS = ("", "", *"twenty thirty forty fifty sixty seventy eighty ninety".split())  # by tens digit
ORDINAL_ONES = _words("""
    zeroth first second third fourth fifth sixth seventh eighth ninth tenth eleventh twelfth
    thirteenth fourteenth fifteenth sixteenth seventeenth eighteenth nineteenth
""")
ORDINAL_TENS = ("", "", *"twentieth thirtieth fortieth fiftieth sixtieth seventieth eightieth ninetieth".split())


# ----------------------------------------------------------------------------------------------
# Morphology
# ----------------------------------------------------------------------------------------------

def number_words(n: int) -> str:
    """Spell out a non-negative integer: ``number_words(1_305)`` -> "one thousand three hundred five"."""
    if n < 0:
        raise ValueError(f"number_words needs a non-negative integer, got {n}")
    if n < 20:
        return NUMBER_ONES[n]
    if n < 100:
        tens, ones = divmod(n, 10)
        return NUMBER_TENS[tens] + ("" if ones == 0 else " " + NUMBER_ONES[ones])
    scales = ((10**12, "trillion"), (10**9, "billion"), (10**6, "million"), (1000, "thousand"), (100, "hundred"))
    for size, name in scales:
        if n >= size:
            high, rest = divmod(n, size)
            return number_words(high) + " " + name + ("" if rest == 0 else " " + number_words(rest))
    raise AssertionError("unreachable")


def ordinal_words(n: int) -> str:
    """Spell out an ordinal from 1 to 99: ``ordinal_words(21)`` -> "twenty first"."""
    if not 1 <= n <= 99:
        raise ValueError(f"ordinal_words supports 1 to 99, got {n}")
    if n < 20:
        return ORDINAL_ONES[n]
    tens, ones = divmod(n, 10)
    return ORDINAL_TENS[tens] if ones == 0 else NUMBER_TENS[tens] + " " + ORDINAL_ONES[ones]


def year_words(year: int) -> str:
    """Say a year the usual way: 1984 -> "nineteen eighty four", 2009 -> "two thousand nine"."""
    if 2000 <= year <= 2009:
        return number_words(year)
    high, low = divmod(year, 100)
    if low == 0:
        return number_words(high) + " hundred"
    if low < 10:
        return number_words(high) + " oh " + number_words(low)
    return number_words(high) + " " + number_words(low)


def plural(noun: str) -> str:
    """The plural of a noun from the vocabulary ("box" -> "boxes", "city" -> "cities")."""
    if noun in IRREGULAR_PLURALS:
        return IRREGULAR_PLURALS[noun]
    if " " in noun:  # "bus stop" -> "bus stops": the head noun is the last word
        head, last = noun.rsplit(" ", 1)
        return head + " " + plural(last)
    if noun.endswith(("s", "x", "z", "ch", "sh")):
        return noun + "es"
    if noun.endswith("y") and noun[-2:-1] not in ("a", "e", "i", "o", "u"):
        return noun[:-1] + "ies"
    return noun + "s"


def _third_person(word: str) -> str:
    if word in ("have", "do", "go"):
        return {"have": "has", "do": "does", "go": "goes"}[word]
    if word.endswith(("s", "x", "z", "ch", "sh")):
        return word + "es"
    if word.endswith("y") and word[-2:-1] not in ("a", "e", "i", "o", "u"):
        return word[:-1] + "ies"
    return word + "s"


def _past(word: str) -> str:
    if word in IRREGULAR_VERBS:
        return IRREGULAR_VERBS[word][0]
    if word in DOUBLING_VERBS:
        return word + word[-1] + "ed"
    if word.endswith("e"):
        return word + "d"
    if word.endswith("y") and word[-2:-1] not in ("a", "e", "i", "o", "u"):
        return word[:-1] + "ied"
    return word + "ed"


def _participle(word: str) -> str:
    return IRREGULAR_VERBS[word][1] if word in IRREGULAR_VERBS else _past(word)


def _gerund(word: str) -> str:
    if word.endswith("ie"):
        return word[:-2] + "ying"
    if word in DOUBLING_VERBS:
        return word + word[-1] + "ing"
    if word.endswith("e") and not word.endswith(("ee", "ye", "oe")) and word != "be":
        return word[:-1] + "ing"
    return word + "ing"


_VERB_FORMS: dict[str, Callable[[str], str]] = {
    "base": lambda word: word,
    "third": _third_person,
    "past": _past,
    "participle": _participle,
    "gerund": _gerund,
}


def verb_form(verb: str, form: str) -> str:
    """Inflect a verb, phrasal verbs on their first word: ("pick up", "past") -> "picked up".

    Args:
        verb: a base form from the vocabulary, e.g. "eat" or "wake up".
        form: one of "base", "third", "past", "participle", "gerund".
    """
    if form not in _VERB_FORMS:
        raise ValueError(f"unknown verb form {form!r}; choose one of {sorted(_VERB_FORMS)}")
    head, _, rest = verb.partition(" ")
    return _VERB_FORMS[form](head) + (" " + rest if rest else "")


def comparative(adjective: str) -> str:
    """The comparative of an adjective: "big" -> "bigger", "happy" -> "happier", "famous" -> "more famous"."""
    if adjective in IRREGULAR_COMPARATIVES:
        return IRREGULAR_COMPARATIVES[adjective]
    if adjective not in SHORT_ADJECTIVES:
        return "more " + adjective
    if adjective.endswith("e"):
        return adjective + "r"
    if adjective.endswith("y"):
        return adjective[:-1] + "ier"
    vowels = "aeiou"
    *_, before, vowel, last = "_" + adjective
    if last not in vowels + "wy" and vowel in vowels and before not in vowels:
        return adjective + last + "er"  # consonant-vowel-consonant doubles: big -> bigger, hot -> hotter
    return adjective + "er"


def article(phrase: str) -> str:
    """Prefix "a" or "an" by sound: "an apple", "a university", "an hour"."""
    first = phrase.split(" ", 1)[0]
    vowel_sound = first[0] in "aeiou"
    if first.startswith(("uni", "use", "usu", "euro", "one", "once")):
        vowel_sound = False
    if first.startswith(("hour", "honest", "honor")):
        vowel_sound = True
    return ("an " if vowel_sound else "a ") + phrase


# ----------------------------------------------------------------------------------------------
# Random choices that also count how many sentences were possible
# ----------------------------------------------------------------------------------------------

class _Picker:
    """A seeded random source that tallies the log of 1/p for the choices it made.

    For a sampler with probability p(s) over its support S, the mean of 1/p(s) over samples
    is |S| (importance sampling), which gives a rough count of the distinct sentences the
    grammar can produce; different paths that produce the same words make it an over-count.
    """

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self.log_inverse_probability = 0.0

    def choice(self, options: Sequence[T]) -> T:
        """One option, uniformly."""
        self.log_inverse_probability += math.log(len(options))
        return self.rng.choice(options)

    def weighted(self, options: Sequence[T], weights: Sequence[float]) -> T:
        """One option with the given relative weights."""
        index = self.rng.choices(range(len(options)), weights=weights)[0]
        self.log_inverse_probability += math.log(sum(weights) / weights[index])
        return options[index]

    def chance(self, probability: float) -> bool:
        """True with the given probability."""
        hit = self.rng.random() < probability
        self.log_inverse_probability -= math.log(probability if hit else 1.0 - probability)
        return hit

    def integer(self, low: int, high: int) -> int:
        """An integer in [low, high], uniformly."""
        self.log_inverse_probability += math.log(high - low + 1)
        return self.rng.randint(low, high)

    def maybe(self, probability: float, text: str | Callable[[], str]) -> str:
        """``text`` (or its result) with the given probability, else ""."""
        if not self.chance(probability):
            return ""
        return text() if callable(text) else text


# ----------------------------------------------------------------------------------------------
# Phrases
# ----------------------------------------------------------------------------------------------

class _Subject:
    """A sentence subject and what the verb must agree with."""

    def __init__(self, text: str, person: int, plural: bool) -> None:
        self.text = text
        self.person = person  # 1, 2 or 3
        self.plural = plural

    @property
    def third_singular(self) -> bool:
        return self.person == 3 and not self.plural

    def be(self, past: bool = False) -> str:
        """am/is/are or was/were."""
        if past:
            return "was" if (self.person == 1 or self.third_singular) and not self.plural else "were"
        if self.person == 1 and not self.plural:
            return "am"
        return "is" if self.third_singular else "are"

    def present(self, verb: str) -> str:
        """The simple present form agreeing with this subject."""
        return verb_form(verb, "third" if self.third_singular else "base")


_PRONOUN_SUBJECTS = (("i", 1, False), ("you", 2, False), ("he", 3, False), ("she", 3, False),
                     ("we", 1, True), ("they", 3, True))
_POSSESSIVE = {"i": "my", "you": "your", "he": "his", "she": "her", "we": "our", "they": "their"}
_NAMES = MALE_NAMES + FEMALE_NAMES
_FEMALE_NAME_SET = frozenset(FEMALE_NAMES) - frozenset(MALE_NAMES)
_RELATIVES = _words("""
    mother father brother sister son daughter uncle aunt cousin grandmother grandfather husband
    wife friend neighbor boss teacher roommate
""")
_SHARED_RELATIVES = tuple(r for r in _RELATIVES if r not in ("husband", "wife"))  # fine after "our"


def _name(p: _Picker) -> str:
    return p.choice(_NAMES)


def _full_name(p: _Picker) -> str:
    if p.chance(0.5):
        return p.choice(_NAMES) + " " + p.choice(SURNAMES)
    return p.choice(TITLES) + " " + p.choice(SURNAMES)


def _person_np(p: _Picker) -> tuple[str, bool]:
    """A noun phrase for a person or people, and whether it is plural."""
    kind = p.weighted(("name", "full", "possessive", "the", "plural", "pair"), (5, 1, 4, 3, 2, 1))
    if kind == "name":
        return _name(p), False
    if kind == "full":
        return _full_name(p), False
    if kind == "possessive":
        owner = p.weighted(("pronoun", "name"), (4, 1))
        det = p.choice(tuple(_POSSESSIVE.values())) if owner == "pronoun" else _name(p) + "'s"
        relatives = _RELATIVES if det not in ("our", "their") else _SHARED_RELATIVES
        return det + " " + p.choice(relatives), False
    if kind == "the":
        return "the " + p.maybe(0.3, lambda: p.choice(PEOPLE_ADJECTIVES) + " ") + p.choice(PEOPLE), False
    if kind == "plural":
        if p.chance(0.5):
            det = p.choice(("our", "my", "their", "your", "his", "her"))
            return det + " " + plural(p.choice(_SHARED_RELATIVES)), True
        det = p.choice(("the", "some", "two", "three", "a few", "most of the", "all the", "many"))
        return det + " " + plural(p.choice(PEOPLE)), True
    return _name(p) + " and " + _name(p), True


def _subject(p: _Picker) -> _Subject:
    if p.chance(0.45):
        text, person, is_plural = p.choice(_PRONOUN_SUBJECTS)
        return _Subject(text, person, is_plural)
    text, is_plural = _person_np(p)
    return _Subject(text, 3, is_plural)


def _determiner(p: _Picker, noun: str, plural_ok: bool = True, adjectives: Sequence[str] = ()) -> str:
    """A determiner + noun ("the lamp", "my old lamp", "these lamps", "an apple").

    Args:
        p: the random source.
        noun: a singular noun.
        plural_ok: whether the phrase may be plural ("these lamps").
        adjectives: adjectives that fit the noun; default: any physical adjective or color.
    """
    adjective = p.maybe(0.35, lambda: p.choice(adjectives or ADJECTIVES + COLORS) + " ")
    kinds, weights = ("the", "a", "possessive", "this", "plural"), (5, 3, 3, 1, 2)
    kind = p.weighted(kinds, weights) if plural_ok else p.weighted(kinds[:-1], weights[:-1])
    if kind == "the":
        return "the " + adjective + noun
    if kind == "a":
        return article(adjective + noun)
    if kind == "possessive":
        owner = p.choice(tuple(_POSSESSIVE.values()) + (_name(p) + "'s",))
        return owner + " " + adjective + noun
    if kind == "this":
        return p.choice(("this", "that")) + " " + adjective + noun
    det = p.choice(("the", "some", "these", "those", "my", "two", "three", "a few", "all the", "both"))
    return det + " " + adjective + plural(noun)


def _drink(p: _Picker) -> str:
    """A drink: "some tea", "a glass of milk", "the coffee"."""
    if p.chance(0.4):
        portion = p.choice(("a cup of", "a glass of", "a bottle of"))
        return portion + " " + p.choice(PORTIONS[portion])
    return p.choice(("some", "the", "a little", "more", "your", "hot", "cold", "fresh")) + " " + p.choice(DRINKS)


def _food(p: _Picker) -> str:
    """Something to eat: "some bread", "an apple", "three eggs", "the soup"."""
    if p.chance(0.5):
        adjective = p.maybe(0.3, lambda: p.choice(FOOD_ADJECTIVES) + " ")
        det = p.choice(("some", "the", "a little", "more", "enough", "your", "the last of the"))
        return det + " " + adjective + p.choice(FOOD_MASS)
    noun = p.choice(FOOD_COUNT)
    kind = p.weighted(("a", "the", "plural", "number"), (3, 2, 2, 1))
    if kind == "a":
        return article(p.maybe(0.3, lambda: p.choice(FOOD_ADJECTIVES) + " ") + noun)
    if kind == "the":
        return "the " + noun
    if kind == "plural":
        return p.choice(("some", "the", "a few", "those", "these", "fresh", "six")) + " " + plural(noun)
    return number_words(p.integer(2, 12)) + " " + plural(noun)


def _place(p: _Picker, cities: bool = True) -> str:
    """A place you can go to: "the park", "her office", or (if ``cities``) "london"."""
    if cities and p.chance(0.2):
        return p.choice(CITIES + COUNTRIES)
    place = p.choice(PLACES)
    kind = p.weighted(("the", "adjective", "possessive"), (6, 2, 1))
    if kind == "the":
        return "the " + place
    if kind == "adjective":
        return _join("the", p.choice(_phrases("old | new | big | little | local | nearest | busy | main")), place)
    return p.choice(("my", "your", "his", "her", "our", "their")) + " " + place


def _object(p: _Picker, code: str) -> str:
    """An object noun phrase of a kind from VERBS ("f" food, "o" thing, ...)."""
    if code == "f":
        return _food(p)
    if code == "d":
        return _drink(p)
    if code == "o":
        if p.chance(0.08):
            return p.choice(("some", "the", "more", "enough", "all the")) + " " + p.choice(MASS_THINGS)
        return _determiner(p, p.choice(THINGS))
    if code == "s":
        return _determiner(p, p.choice(SMALL_THINGS))
    if code == "m":
        return _determiner(p, p.choice(MACHINES))
    if code == "t":
        return _determiner(p, p.choice(READING), adjectives=ABSTRACT_ADJECTIVES)
    if code == "r":
        return p.choice(("the", "the", "my", "your", "our", "their", "his", "her")) + " " + p.choice(ROOMS)
    if code == "g":
        return p.choice(("the", "the", "a", "our", "their", "every")) + " " + p.choice(CONTESTS)
    if code == "p":
        if p.chance(0.3):
            return p.choice(("me", "you", "him", "her", "us", "them"))
        return _person_np(p)[0]
    if code == "l":
        return _place(p)
    if code == "a":
        return _determiner(p, p.choice(ANIMALS), adjectives=ANIMAL_ADJECTIVES)
    if code == "x":
        return _determiner(p, p.choice(ABSTRACT), adjectives=ABSTRACT_ADJECTIVES)
    if code == "c":
        return _determiner(p, p.choice(CLOTHES))
    if code == "v":
        return _determiner(p, p.choice(VEHICLES), plural_ok=False)
    if code == "e":
        return _determiner(p, p.choice(EVENTS), plural_ok=False, adjectives=ABSTRACT_ADJECTIVES)
    if code == "b":
        return p.choice(("my", "your", "his", "her", "their")) + " " + p.choice(BODY)
    raise AssertionError(f"unknown object code {code!r}")


_TRANSITIVE = tuple(verb for verb, frame in VERBS.items() if frame.replace("i", ""))
_INTRANSITIVE = tuple(verb for verb, frame in VERBS.items() if "i" in frame)
_DYNAMIC_TRANSITIVE = tuple(verb for verb in _TRANSITIVE if verb not in STATIVE_VERBS)
_DYNAMIC_INTRANSITIVE = tuple(verb for verb in _INTRANSITIVE if verb not in STATIVE_VERBS)


def _verb_phrase(p: _Picker, form: str, request: bool = False) -> str:
    """A verb in ``form`` with a fitting object, maybe a place or a manner adverb.

    Args:
        p: the random source.
        form: a verb form for :func:`verb_form`.
        request: something one can ask someone to do: a transitive action ("close the door").
    """
    dynamic = form == "gerund" or request  # no "is liking", no "please know the answer"
    if request or p.chance(0.8):
        verb = p.choice(_DYNAMIC_TRANSITIVE if dynamic else _TRANSITIVE)
        code = p.choice(VERBS[verb].replace("i", ""))
        phrase = verb_form(verb, form) + " " + _object(p, code)
    else:
        verb = p.choice(_DYNAMIC_INTRANSITIVE if dynamic else _INTRANSITIVE)
        phrase = verb_form(verb, form) + p.maybe(0.5, lambda: " " + _place_pp(p))
    return phrase + p.maybe(0.08, lambda: " " + p.choice(MANNER_ADVERBS))


def _place_pp(p: _Picker) -> str:
    """A prepositional phrase of place: "in the kitchen", "near the station", "in paris"."""
    prep = p.choice(("in", "at", "near", "behind", "outside", "inside", "next to", "across from", "around", "by"))
    if prep == "in" and p.chance(0.3):
        return "in " + p.choice(CITIES + COUNTRIES)
    return prep + " " + _place(p, cities=False)


def _clock_time(p: _Picker) -> str:
    """A time of day in words: "half past seven", "ten fifteen", "noon"."""
    hour = number_words(p.integer(1, 12))
    kind = p.weighted(("oclock", "half", "quarter", "minutes", "special"), (3, 2, 2, 3, 1))
    if kind == "oclock":
        return hour + " o'clock"
    if kind == "half":
        return "half past " + hour
    if kind == "quarter":
        return "a quarter " + p.choice(("past", "to")) + " " + hour
    if kind == "minutes":
        minute = p.choice((5, 10, 15, 20, 25, 30, 35, 40, 45, 50, 55)) if p.chance(0.7) else p.integer(11, 59)
        return hour + " " + (("oh " + number_words(minute)) if minute < 10 else number_words(minute))
    return p.choice(("noon", "midnight", "midday", "dawn", "sunset", "lunchtime"))


def _date(p: _Picker) -> str:
    """A spoken date: "the third of june", "may twenty first", "monday the fifth"."""
    day = ordinal_words(p.integer(1, 31))
    month = p.choice(MONTHS)
    kind = p.choice(("day_of_month", "month_day", "weekday"))
    if kind == "day_of_month":
        return "the " + day + " of " + month
    if kind == "month_day":
        return month + " " + day
    return p.choice(WEEKDAYS) + " the " + day


def _price(p: _Picker) -> str:
    """A spoken price: "twelve dollars", "three pounds fifty", "ninety nine cents"."""
    currency = p.choice(("dollars", "pounds", "euros"))
    kind = p.weighted(("whole", "with_cents", "cents", "big"), (4, 3, 1, 1))
    if kind == "whole":
        return number_words(p.integer(2, 99)) + " " + currency
    if kind == "with_cents":
        return number_words(p.integer(2, 49)) + " " + currency + " " + number_words(p.choice((10, 20, 25, 50, 75, 99)))
    if kind == "cents":
        return number_words(p.integer(5, 99)) + " " + p.choice(("cents", "pence"))
    return number_words(p.integer(1, 9) * 100 + p.choice((0, 0, 50, 20, 99))) + " " + currency


def _when(p: _Picker, tense: str) -> str:
    """A time expression that fits the tense ("past", "future" or "habit")."""
    if tense == "past":
        if p.chance(0.15):
            return p.choice((lambda: "in " + p.choice(MONTHS), lambda: "last " + p.choice(SEASONS + WEEKDAYS),
                             lambda: "in " + year_words(p.integer(1950, 2024))))()
        return p.choice(PAST_TIMES)
    if tense == "future":
        if p.chance(0.15):
            return p.choice((lambda: "at " + _clock_time(p), lambda: "on " + _date(p),
                             lambda: "next " + p.choice(WEEKDAYS + SEASONS)))()
        return p.choice(FUTURE_TIMES)
    return p.choice(HABIT_TIMES)


# ----------------------------------------------------------------------------------------------
# Sentence templates. Each returns lower-case words; training_sentences normalizes them.
# ----------------------------------------------------------------------------------------------


def _past_statement(p: _Picker) -> str:
    """ "my sister cooked the soup last night" """
    s = _subject(p)
    if p.chance(0.3):
        return _join(_when(p, "past"), s.text, _verb_phrase(p, "past"))
    return _join(s.text, _verb_phrase(p, "past"), p.maybe(0.6, lambda: _when(p, "past")))


def _future_statement(p: _Picker) -> str:
    """ "we are going to visit the museum next week" """
    s = _subject(p)
    aux = p.weighted(_phrases("will | is going to | might | won't | plans to"), (4, 3, 2, 1, 1))
    if aux == "is going to":
        aux = s.be() + " going to"
    elif aux == "plans to":
        aux = s.present("plan") + " to"
    return _join(s.text, aux, _verb_phrase(p, "base"), p.maybe(0.6, lambda: _when(p, "future")))


def _progressive_statement(p: _Picker) -> str:
    """ "the children are playing in the garden" """
    s = _subject(p)
    past = p.chance(0.35)
    if past:
        events = "you called | the phone rang | the lights went out | we arrived | it started to rain | the bus came"
        tail = p.maybe(0.5, lambda: "when " + p.choice(_phrases(events)))
    else:  # not a place: the verb phrase may already have one
        tail = p.maybe(0.4, lambda: p.choice(_phrases("right now | at the moment | this week | today | again")))
    return _join(s.text, s.be(past), p.maybe(0.1, "still"), _verb_phrase(p, "gerund"), tail)


def _perfect_statement(p: _Picker) -> str:
    """ "she has already finished the report" """
    s = _subject(p)
    adverb = p.weighted(_phrases(" | already | just | never | finally | not | recently"), (3, 2, 2, 1, 1, 1, 1))
    tail = p.maybe(0.2, lambda: p.choice(_phrases("twice | before | this week | three times | today | this year")))
    return _join(s.text, "has" if s.third_singular else "have", adverb, _verb_phrase(p, "participle"), tail)


def _present_vp(p: _Picker, s: _Subject) -> str:
    """A simple-present verb phrase agreeing with ``s`` ("reads the book" / "read the book")."""
    head, _, rest = _verb_phrase(p, "base").partition(" ")
    return _join(s.present(head), rest)


def _habit_statement(p: _Picker) -> str:
    """ "he usually drinks coffee" / "we visit our aunt on sundays" """
    s = _subject(p)
    if p.chance(0.5):
        return _join(s.text, p.choice(FREQUENCY_ADVERBS), _present_vp(p, s))
    return _join(s.text, _present_vp(p, s), _when(p, "habit"))


def _modal_statement(p: _Picker) -> str:
    """ "you should call the doctor tomorrow" """
    s = _subject(p)
    modals = "can | can't | could | should | shouldn't | must | might | would | will | may | need to | have to"
    modal = p.choice(_phrases(modals + " | want to | would like to | used to"))
    if modal in ("need to", "have to", "want to"):
        modal = s.present(modal.split()[0]) + " to"
    return _join(s.text, modal, _verb_phrase(p, "base"), p.maybe(0.3, lambda: _when(p, "future")))


def _negative_statement(p: _Picker) -> str:
    """ "they didn't find the keys" / "she doesn't eat meat anymore" """
    s = _subject(p)
    if p.chance(0.5):
        return _join(s.text, "didn't", _verb_phrase(p, "base"), p.maybe(0.5, lambda: _when(p, "past")))
    tail = p.maybe(0.4, lambda: p.choice(_phrases("anymore | very often | on weekends | at all | these days")))
    return _join(s.text, "doesn't" if s.third_singular else "don't", _verb_phrase(p, "base"), tail)


def _description(p: _Picker) -> str:
    """ "these shoes were really comfortable" """
    noun_kind = p.choice(("thing", "place", "animal", "food", "vehicle", "nature"))
    nouns = {"thing": THINGS + CLOTHES, "place": PLACES, "animal": ANIMALS, "food": FOOD_COUNT, "vehicle": VEHICLES,
             "nature": NATURE}
    noun = p.choice(nouns[noun_kind])
    is_plural = p.chance(0.3)
    det = p.choice(_phrases("the | this | that | my | your | our | her | his | their") + (_name(p) + "'s",))
    if is_plural:
        det = {"this": "these", "that": "those"}.get(det, det)
        noun = plural(noun)
    verb = p.weighted(("is", "was", "looks", "seems", "feels"), (4, 3, 1, 1, 1))
    if is_plural:
        verb = {"is": "are", "was": "were"}.get(verb, verb[:-1])  # "looks" -> "look"
    adjectives = {"food": FOOD_ADJECTIVES, "animal": ANIMAL_ADJECTIVES}.get(noun_kind, ADJECTIVES + COLORS)
    degree = p.maybe(0.4, lambda: p.choice(DEGREE_ADVERBS))
    adjective = p.choice(adjectives)
    more = p.maybe(0.25, lambda: "and " + p.choice(adjectives))
    when = p.maybe(0.2, lambda: _when(p, "past" if verb in ("was", "were") else "habit"))
    return _join(det, noun, verb, degree, adjective, more, when)


def _feeling(p: _Picker) -> str:
    """ "i was really tired after the long meeting" """
    s = _subject(p)
    past = p.chance(0.5)
    adjective = p.choice(PEOPLE_ADJECTIVES)
    reason = p.weighted(("", "because", "after", "about"), (2, 2, 1, 1))
    text = _join(s.text, s.be(past), p.maybe(0.4, lambda: p.choice(DEGREE_ADVERBS)), adjective)
    if reason == "because":
        s2 = _subject(p)
        return _join(text, "because", s2.text, _verb_phrase(p, "past") if past else _present_vp(p, s2))
    if reason == "after":
        return _join(text, "after", p.choice(("the", "the long", "that")), p.choice(EVENTS))
    if reason == "about":
        return _join(text, "about", _object(p, p.choice("xeo")))
    return text


_COMPARABLE = SHORT_ADJECTIVES + _phrases(
    "good | bad | expensive | comfortable | beautiful | famous | dangerous | popular | interesting | useful"
)


def _comparison(p: _Picker) -> str:
    """ "the lake is much colder than the river" / "london is busier than paris" """
    adjective = comparative(p.choice(_COMPARABLE))
    kind = p.choice((THINGS, PLACES, ANIMALS, VEHICLES, CITIES))
    first, second = p.choice(kind), p.choice(kind)
    if kind is CITIES:
        return _join(first, "is", p.maybe(0.3, "much"), adjective, "than", second,
                     p.maybe(0.3, lambda: "in " + p.choice(SEASONS)))
    verb = p.choice(("is", "was", "looks", "seems"))
    degree = p.maybe(0.3, lambda: p.choice(_phrases("much | a bit | a lot | slightly | far")))
    return _join("the", first, verb, degree, adjective, "than", p.choice(("the", "my", "your", "our")), second)


_SUPERLATIVES = _phrases("""
    best | worst | biggest | oldest | cheapest | nicest | quietest | busiest | most expensive | most beautiful
    | most popular | friendliest | tallest | longest | strangest | most interesting
""")


def _superlative(p: _Picker) -> str:
    """ "that was the best concert i have ever seen" """
    lead = p.choice(_phrases("this is the | that was the | it is the | they say it is the | it might be the"))
    noun = p.choice(PLACES + EVENTS + VEHICLES)
    tail = p.weighted(("in", "i have", "ever"), (2, 2, 1))
    if tail == "in":
        end = "in " + p.choice(CITIES + _phrases("town | the city | the world | the country | our street"))
    elif tail == "i have":
        end = p.choice(_phrases(
            "i have ever seen | we have ever had | i have ever visited | you will ever find | they have ever made"
        ))
    else:
        end = "of the year"
    return _join(lead, p.choice(_SUPERLATIVES), noun, end)


_HAPPENINGS = _phrases("""
    a problem with | a party at | a meeting at | a new cafe near | a long queue at | a fire at | a concert at
    | nobody at | plenty of room at | a lot of traffic near | a strange noise in
""")


def _there_is(p: _Picker) -> str:
    """ "there are three cats in the kitchen" / "there was a fire at the old factory" """
    tense = p.choice(("is", "was", "will be"))
    if p.chance(0.5):
        when = p.maybe(0.4, lambda: _when(p, "future" if tense == "will be" else "past"))
        return _join("there", tense, p.choice(_HAPPENINGS), _place(p, cities=False), when)
    count = p.weighted(("a", "number", "some", "no"), (3, 3, 2, 1))
    noun = p.choice(THINGS + ANIMALS + PEOPLE + VEHICLES)
    adjective = p.maybe(0.4, lambda: p.choice(ADJECTIVES + COLORS))
    if count == "a":
        thing = article(_join(adjective, noun))
    else:
        tense = {"is": "are", "was": "were"}.get(tense, tense)
        thing = _join(number_words(p.integer(2, 20)) if count == "number" else count, adjective, plural(noun))
    return _join("there", tense, thing, _place_pp(p))


def _weather(p: _Picker) -> str:
    """ "it will be cold and windy in oslo tomorrow" """
    kind = p.choice(("it_is", "forecast", "will", "yesterday", "rain"))
    adjective, second = p.choice(WEATHER_ADJECTIVES), p.choice(WEATHER_ADJECTIVES)
    where = p.maybe(0.4, lambda: "in " + p.choice(CITIES))
    if kind == "it_is":
        degree = p.maybe(0.4, lambda: p.choice(DEGREE_ADVERBS))
        now = p.choice(_phrases("today | this morning | right now | again"))
        return _join("it is", degree, adjective, "and", second, where, now)
    if kind == "forecast":
        return _join("the forecast says it will be", adjective, p.maybe(0.5, "and " + second), _when(p, "future"))
    if kind == "will":
        change = comparative(p.choice(_phrases("warm | cold | wet | dry | windy | cool")))
        happens = p.choice(("rain", "snow", "be " + adjective, "get " + change))
        return _join("it will", happens, where, _when(p, "future"))
    if kind == "yesterday":
        return _join("it was", adjective, p.maybe(0.5, "and " + second), where, _when(p, "past"))
    spell = p.choice(_phrases("all day | all night | for hours | the whole weekend | all morning"))
    happened = p.choice(_phrases("it rained | it snowed | the wind blew | the sun shone | it was foggy"))
    return _join(happened, spell, where)


_SCHEDULES = {  # what runs to a timetable, and what it does at a time
    _phrases("the train | the bus | the next train | the last bus | the flight | the ferry | the coach"):
        _phrases("leaves | arrives | departs | gets in"),
    _phrases("the film | the meeting | the concert | the lesson | the class | the show | the game | the party"
             " | dinner | lunch | breakfast | the tour | the match | the lecture"):
        _phrases("starts | begins | ends | finishes | is"),
    _phrases("the museum | the shop | the market | the library | the bank | the pool | the bakery | the pharmacy"):
        _phrases("opens | closes | shuts"),
}


def _schedule(p: _Picker) -> str:
    """ "the last bus leaves at a quarter to twelve on weekdays" """
    things = p.choice(tuple(_SCHEDULES))
    thing, verb = p.choice(things), p.choice(_SCHEDULES[things])
    days = ("on " + p.choice(WEEKDAYS),) + _phrases("every day | tomorrow | today | on weekdays | this evening")
    return _join(thing, verb, "at", _clock_time(p), p.maybe(0.4, lambda: p.choice(days)))


def _time_statement(p: _Picker) -> str:
    """ "it is half past six and dinner is ready" / "let's meet outside the bank at noon" """
    kind = p.choice(("now", "meet", "wake", "arrived", "ask"))
    if kind == "now":
        news = "we are late | the shops are closed | i am still at work | the children are asleep | dinner is ready"
        return _join("it is", _clock_time(p), p.maybe(0.5, lambda: "and " + p.choice(_phrases(news))))
    if kind == "meet":
        lead = p.choice(_phrases("let's meet | i will meet you | can we meet | we agreed to meet"))
        return _join(lead, _place_pp(p), "at", _clock_time(p))
    if kind == "wake":
        s = _subject(p)
        routine = p.choice(_phrases("wake up | get up | go to bed | leave home | eat lunch | start work | finish work"))
        return _join(s.text, p.choice(FREQUENCY_ADVERBS), s.present(routine), "at", _clock_time(p))
    if kind == "arrived":
        verb = p.choice(_phrases("arrived | left | called | woke up | got home | finished"))
        return _join(_subject(p).text, verb, "at", _clock_time(p), p.maybe(0.5, lambda: _when(p, "past")))
    thing = p.choice(_phrases("train | bus | film | meeting | party | shop | museum | class"))
    verb = p.choice(_phrases("leave | start | open | close | end | arrive"))
    return _join("what time", p.choice(_phrases("does the | did the | will the")), thing, verb)


def _date_statement(p: _Picker) -> str:
    """ "her birthday is on the third of june" / "they moved to lisbon in nineteen ninety eight" """
    kind = p.choice(("birthday", "moved", "born", "holiday", "deadline"))
    if kind == "birthday":
        owner = p.choice(_phrases("my | her | his | your | our | their") + (_name(p) + "'s",))
        occasion = p.choice(_phrases("birthday | wedding | party | exam | interview | appointment | flight"))
        return _join(owner, occasion, "is on", _date(p))
    if kind == "moved":
        verb = p.choice(_phrases("moved to | lived in | visited | worked in | studied in | left"))
        return _join(_subject(p).text, verb, p.choice(CITIES + COUNTRIES), "in", year_words(p.integer(1950, 2024)))
    if kind == "born":
        year = p.maybe(0.6, lambda: "in " + year_words(p.integer(1930, 2024)))
        return _join(_person_np(p)[0], "was born in", p.choice(CITIES + COUNTRIES), year)
    if kind == "holiday":
        where, when = p.choice(CITIES + COUNTRIES), p.choice(("on", "from", "until", "after"))
        return _join("we are going to", where, when, _date(p))
    task = p.choice(_phrases("report | essay | rent | project | application | bill | homework"))
    return _join("the", task, "is due on", _date(p))


_PRICED = THINGS + CLOTHES + FOOD_COUNT + _phrases("ticket | room | meal | taxi ride | haircut | lesson")


def _price_statement(p: _Picker) -> str:
    """ "the ticket costs twelve dollars fifty" / "how much is the lamp" """
    noun = p.choice(_PRICED)
    kind = p.choice(("costs", "paid", "how_much", "cheap"))
    if kind == "costs":
        det, verb = p.choice(_phrases("the | this | that | each | one")), p.choice(_phrases("costs | cost | is | was"))
        return _join(det, noun, verb, _price(p))
    if kind == "paid":
        verb = p.choice(_phrases("paid | spent | saved | lost | found | borrowed"))
        tail = {"paid": "for the", "spent": "on the"}.get(verb)
        return _join(_subject(p).text, verb, _price(p), p.maybe(0.6, f"{tail} {noun}") if tail else "")
    if kind == "how_much":
        lead = p.choice(_phrases("is the | was the | did you pay for the | do they want for the"))
        return _join("how much", lead, noun, p.maybe(0.3, lambda: p.choice(_phrases("now | today | in the shop"))))
    adjective = p.choice(COLORS + _phrases("nice | cheap | lovely | warm | small"))
    return _join("i found", article(_join(adjective, noun)), "for only", _price(p))


def _quantity_statement(p: _Picker) -> str:
    """ "we need four eggs and some milk" / "there are twelve chairs in the hall" """
    kind = p.choice(("need", "have", "count", "bought"))
    count = number_words(p.integer(2, 99) if p.chance(0.3) else p.integer(2, 12))
    if kind == "need":
        lead = p.choice(_phrases("we need | i need | you need | the recipe needs | they only need | we still need"))
        more = p.maybe(0.4, lambda: _join("and", p.choice(("some", "a little", "more")), p.choice(FOOD_MASS)))
        return _join(lead, count, plural(p.choice(FOOD_COUNT + THINGS)), more)
    if kind == "have":
        s = _subject(p)
        owned = plural(p.choice(ANIMALS + _SHARED_RELATIVES + SMALL_THINGS))
        more = p.maybe(0.3, lambda: "and " + article(p.choice(ANIMALS)))
        return _join(s.text, "has" if s.third_singular else "have", count, owned, more)
    if kind == "count":
        things = plural(p.choice(PEOPLE + THINGS + ANIMALS + _phrases("student | seat | room | house | tree")))
        return _join("there are", number_words(p.integer(2, 999)), things, _place_pp(p))
    when = p.choice(_phrases("at the market | for the party | this morning | yesterday | online | on sale"))
    return _join(_subject(p).text, "bought", count, plural(p.choice(FOOD_COUNT + THINGS + CLOTHES)), when)


_ERRANDS = _phrases("""
    stayed at home | went to bed early | took a taxi | called the doctor | left early | canceled the trip
    | bought a new umbrella | missed the train | skipped lunch | stayed late | could not sleep | walked to work
""")
_PRONOUNS = frozenset(text for text, _, _ in _PRONOUN_SUBJECTS)


def _reason_statement(p: _Picker) -> str:
    """ "we took a taxi because it was rainy" / "he tried to call but nobody was home" """
    s = _subject(p)
    first = _join(s.text, p.choice(_ERRANDS))
    connector = p.choice(("because", "so", "but", "and then"))
    if connector == "because":
        reasons = [
            lambda: "it was " + p.choice(WEATHER_ADJECTIVES),
            lambda: _join("the", p.choice(VEHICLES), "was late"),
            lambda: _join("the", p.choice(PLACES), "was closed"),
            lambda: "of the " + p.choice(_phrases("rain | snow | storm | traffic | noise | heat | strike | fog")),
        ]
        if s.text in _PRONOUNS:  # repeat a pronoun ("we were tired"); a name would need a gendered one
            troubles = "a headache | a cold | a fever | a meeting | a test | a long day | no money | work to do"
            reasons.append(lambda: _join(s.text, s.be(True), p.choice(PEOPLE_ADJECTIVES)))
            reasons.append(lambda: _join(s.text, "had", p.choice(_phrases(troubles))))
        return _join(first, "because", p.choice(reasons)())
    if connector == "so":
        return _join("it was", p.choice(WEATHER_ADJECTIVES), "so", s.text, _verb_phrase(p, "past"))
    if connector == "but":
        intent = p.choice(_phrases("wanted to | tried to | planned to | promised to | forgot to"))
        snag = p.choice(_phrases(
            "it was too late | there was no time | the shop was closed | nobody was home | it started to rain"
            " | the car broke down"
        ))
        return _join(s.text, intent, _verb_phrase(p, "base"), "but", snag)
    return _join(first, "and then", _verb_phrase(p, "past"))


def _conditional(p: _Picker) -> str:
    """ "if it rains tomorrow we will stay at home" / "if i had a car i would drive" """
    kind = p.choice(("weather", "you", "second"))
    if kind == "weather":
        weather = p.choice(_phrases("rains | snows | is sunny | gets cold | is too hot | stays dry"))
        when = p.choice(_phrases("tomorrow | this weekend | on saturday | later | tonight"))
        condition = _join("if it", weather, when)
    elif kind == "you":
        s = _subject(p)
        condition = _join("if", s.text, _present_vp(p, s))
    else:
        wish = "had more time | lived closer | had a car | knew the answer | won the lottery | were you | could fly"
        condition = _join("if", p.choice(("i", "we", "they", "you")), p.choice(_phrases(wish)))
        return _join(condition, _subject(p).text, "would", _verb_phrase(p, "base"))
    return _join(condition, _subject(p).text, p.choice(("will", "can", "should", "might")), _verb_phrase(p, "base"))


_OCCASIONS = _phrases("""
    lunch | dinner | breakfast | work | school | the meeting | the game | the concert | class | the party
    | the holidays | the storm
""")


def _sequence(p: _Picker) -> str:
    """ "after lunch we walked to the park" """
    s = _subject(p)
    first = _join(p.choice(("after", "before", "during")), p.choice(_OCCASIONS))
    if p.chance(0.5):
        return _join(first, s.text, _verb_phrase(p, "past"))
    return _join(s.text, p.choice(("usually", "always", "often", "never")), _present_vp(p, s), first)


_OPINION_LEADS = _phrases("""
    i think | i don't think | i believe | i guess | i'm sure | it seems | i hope | i doubt | everyone says
    | my friend thinks | i heard | did you know | i'm afraid | apparently
""")


def _opinion(p: _Picker) -> str:
    """ "i think the new library is wonderful" """
    lead = p.choice(_OPINION_LEADS)
    kind = p.choice(("description", "action", "future"))
    if kind == "description":
        body = _description(p)
    elif kind == "action":
        s = _subject(p)
        body = _join(s.text, _present_vp(p, s))
    else:
        body = _future_statement(p)
    return _join(lead, "that" if p.chance(0.2) else "", body)


def _wish(p: _Picker) -> str:
    """ "i'd like a cup of tea please" / "she loves reading old novels" """
    kind = p.choice(("would_like", "wants", "like_to", "prefer"))
    if kind == "would_like":
        lead = p.choice(_phrases("i would like | i'd like | we would like | could i have | can i get | she would like"))
        portion = p.choice(tuple(PORTIONS))
        return _join(lead, portion, p.choice(PORTIONS[portion]), p.maybe(0.5, "please"))
    s = _subject(p)
    if kind == "wants":
        verb = s.present(p.choice(_phrases("want | need | hope | plan | try | forget | decide")))
        return _join(s.text, verb, "to", _verb_phrase(p, "base"), p.maybe(0.4, lambda: _when(p, "future")))
    if kind == "like_to":
        verb = s.present(p.choice(_phrases("like | love | hate | enjoy | prefer")))
        return _join(s.text, verb, _verb_phrase(p, "gerund"), p.maybe(0.4, lambda: _when(p, "habit")))
    kind = p.choice((FOOD_MASS, DRINKS))
    when = p.maybe(0.5, lambda: p.choice(_phrases("in the morning | after dinner | when it is cold | on weekends")))
    return _join("i prefer", p.choice(kind), "to", p.choice(kind), when)


def _reported(p: _Picker) -> str:
    """ "she said that the museum was closed" """
    s = _subject(p)
    verb = p.choice(_phrases("said | told me | told us | mentioned | explained | wrote | promised | admitted | forgot"))
    s2 = _subject(p)
    body = p.choice((
        lambda: _join("the", p.choice(PLACES), "was", p.choice(_phrases("closed | open | busy | empty | quiet"))),
        lambda: _join(s2.text, "would", _verb_phrase(p, "base"), _when(p, "future")),
        lambda: _join(s2.text, "had", _verb_phrase(p, "participle")),
        lambda: _join("the", p.choice(VEHICLES + EVENTS), "was",
                      p.choice(_phrases("late | canceled | early | on time | full | delayed | great"))),
    ))()
    return _join(s.text, verb, "that", body)


def _location(p: _Picker) -> str:
    """ "the keys are on the kitchen table" / "where is my umbrella" """
    thing = p.choice(SMALL_THINGS + CLOTHES + ANIMALS)
    is_plural = p.chance(0.3)
    det = p.choice(_phrases("the | my | your | our | his | her"))
    noun = plural(thing) if is_plural else thing
    be = ("were" if is_plural else "was") if p.chance(0.3) else ("are" if is_plural else "is")
    prep = p.choice(_phrases("on | under | behind | next to | in | near | beside | on top of | inside | in front of"))
    kind_of = p.maybe(0.3, lambda: p.choice(_phrases("kitchen | bedroom | office | old | big | new")))
    where = _join(p.choice(("the", "the", "my", "your")), kind_of, p.choice(FURNITURE))
    if p.chance(0.3):
        return _join("where", be, det, noun)
    return _join(det, noun, be, p.maybe(0.2, "still"), prep, where)


def _directions(p: _Picker) -> str:
    """ "turn left at the church and go straight on" / "how do i get to the station" """
    kind = p.choice(("turn", "go", "take", "it_is", "how_do"))
    if kind == "turn":
        landmark = p.choice(_phrases(
            "bank | church | corner | lights | station | roundabout | school | bakery | next street | end of the road"
        ))
        then = "go straight on | keep going | walk for five minutes | cross the bridge | look for the sign"
        then_phrase = p.maybe(0.5, lambda: "and " + p.choice(_phrases(then)))
        return _join("turn", p.choice(("left", "right")), "at the", landmark, then_phrase)
    if kind == "go":
        lead = p.choice(_phrases("go straight | walk | drive | keep going"))
        along = p.choice(_phrases("past the | along the | through the | across the | up the | down the"))
        until = p.maybe(0.5, lambda: "until you reach " + _place(p, cities=False))
        return _join(lead, along, p.choice(PLACES + _phrases("road | street | hill | path | river")), until)
    if kind == "take":
        turn = p.choice(_phrases("street | road | turning | exit | door | left | right"))
        side = p.maybe(0.6, lambda: "on the " + p.choice(("left", "right")))
        return _join("take the", ordinal_words(p.integer(1, 4)), turn, side)
    if kind == "it_is":
        relation = p.choice(_phrases(
            "next to | opposite | behind | across from | near | around the corner from | a short walk from"
            " | two blocks from"
        ))
        return _join("the", p.choice(PLACES), "is", relation, _place(p, cities=False))
    lead = p.choice(_phrases(
        "how do i get to | is this the way to | can you tell me the way to | how far is it to | is it a long walk to"
        " | which bus goes to"
    ))
    return _join(lead, _place(p))


def _work(p: _Picker) -> str:
    """ "my brother works as a nurse in the hospital" """
    s = _subject(p)
    job = p.choice(JOBS)
    kind = p.choice(("works", "wants", "was"))
    if s.plural:
        job_phrase = plural(job)
    else:
        quality = p.maybe(0.3, lambda: p.choice(_phrases("good | young | famous | busy | local | new | retired")))
        job_phrase = article(_join(quality, job))
    if kind == "works":
        return _join(s.text, s.present("work"), "as", job_phrase, _place_pp(p))
    if kind == "wants":
        role_model = "like " + p.choice(("my", "your", "our")) + " " + p.choice(_RELATIVES)
        when = p.maybe(0.5, lambda: p.choice(("one day", "after college", role_model, "in the future")))
        return _join(s.text, s.present("want"), "to be", job_phrase, when)
    return _join(s.text, s.be(True), job_phrase, "for", number_words(p.integer(2, 40)), "years")


_KIN = _phrases("brother | sister | son | daughter | cousin | dog | cat | grandchild | aunt | uncle")


def _family(p: _Picker) -> str:
    """ "emma has two brothers and a dog" / "tom lives near his sister in boston" """
    name = _name(p)
    their = _POSSESSIVE[_pronoun_for(name)]
    kind = p.choice(("has", "lives", "visits"))
    if kind == "has":
        parts = []
        for _ in range(p.integer(1, 2)):
            count, relative = p.integer(1, 4), p.choice(_KIN)
            parts.append(article(relative) if count == 1 else _join(number_words(count), plural(relative)))
        return _join(name, "has", " and ".join(parts))
    if kind == "lives":
        near = p.choice(_phrases("with | near | next to | far from"))
        return _join(name, "lives", near, their, p.choice(_RELATIVES), "in", p.choice(CITIES))
    verb = p.choice(_phrases("visits | calls | writes to | emails | helps"))
    return _join(name, verb, their, p.choice(_RELATIVES), _when(p, "habit"))


def _possession(p: _Picker) -> str:
    """ "whose jacket is this" / "that is my umbrella" """
    noun = p.choice(THINGS + CLOTHES + VEHICLES)
    kind = p.choice(("whose", "that_is", "is_this"))
    if kind == "whose":
        return _join("whose", noun, "is", p.choice(_phrases("this | that | on the table | in the car")))
    if kind == "that_is":
        lead = p.choice(_phrases("that is | this is | that was | i think this is"))
        owner = p.choice(_phrases("my | your | her | his | our | their") + (_name(p) + "'s",))
        return _join(lead, owner, p.maybe(0.4, lambda: p.choice(ADJECTIVES + COLORS)), noun)
    mine = p.maybe(0.5, lambda: "or " + p.choice(_phrases("mine | yours | hers | his | theirs | ours")))
    return _join("is this", p.choice(_phrases("your | his | her | their")), noun, mine)


def _yes_no_question(p: _Picker) -> str:
    """ "did you lock the door last night" / "are they coming to the party" """
    kind = p.choice(("did", "do", "are", "have", "can", "will", "is"))
    s = _subject(p)
    if s.text == "i" and kind in ("are", "is"):
        kind = "did"
    if kind == "did":
        return _join("did", s.text, _verb_phrase(p, "base"), p.maybe(0.5, lambda: _when(p, "past")))
    if kind == "do":
        when = p.maybe(0.3, lambda: _when(p, "habit"))
        return _join("does" if s.third_singular else "do", s.text, _verb_phrase(p, "base"), when)
    if kind in ("are", "is"):
        state = p.choice((
            lambda: _verb_phrase(p, "gerund"),
            lambda: p.choice(PEOPLE_ADJECTIVES),
            lambda: "coming to the " + p.choice(EVENTS),
        ))()
        return _join(s.be(), s.text, state)
    if kind == "have":
        adverb = p.choice(_phrases("ever | already | | finally"))
        return _join("has" if s.third_singular else "have", s.text, adverb, _verb_phrase(p, "participle"))
    if kind == "can":
        modal = p.choice(_phrases("can | could | should | would | will"))
        return _join(modal, s.text, _verb_phrase(p, "base"), p.maybe(0.3, lambda: _when(p, "future")))
    return _join("will", s.text, _verb_phrase(p, "base"), _when(p, "future"))


_WHAT_QUESTIONS = _phrases("""
    what are you doing | what did you do | what should we cook | what do you want to do
    | what are we having for dinner | what did she say | what is your favorite | what kind of music do you like
    | what happened | what are you reading
""")


def _wh_question(p: _Picker) -> str:
    """ "where did you put the keys" / "how many chairs do we need" """
    kind = p.choice(("where", "what", "why", "who", "when", "how", "which", "how_many", "how_long"))
    if kind == "where":
        aux, s = p.choice(_phrases("did | do | will | should | can")), _subject(p)
        verb = p.choice(_phrases("put | find | buy | leave | keep | hide | park | see | meet"))
        return _join("where", aux, s.text, verb, _object(p, p.choice("oocv")))
    if kind == "what":
        return _join(p.choice(_WHAT_QUESTIONS), p.maybe(0.5, lambda: _when(p, p.choice(("past", "future")))))
    if kind == "why":
        if p.chance(0.5):
            who = _determiner(p, p.choice(PEOPLE + ANIMALS), plural_ok=False)
            doing = "crying | laughing | so quiet | so angry | running | hiding | waiting outside | late again | upset"
            return _join("why", p.choice(("is", "was")), who, p.choice(_phrases(doing)))
        return _join("why", p.choice(("did", "didn't")), _subject(p).text, _verb_phrase(p, "base"))
    if kind == "who":
        return _join("who", _verb_phrase(p, "past"), p.maybe(0.4, lambda: _when(p, "past")))
    if kind == "when":
        verb = p.choice(_phrases("arrive | start | leave | finish | end | begin"))
        return _join("when", p.choice(("will", "does", "did")), p.choice(("the", "your", "our")),
                     p.choice(VEHICLES + EVENTS), verb)
    if kind == "how":
        lead = p.choice(_phrases("was your | did you like the | long was the | was the | often do you have a"))
        return _join("how", lead, p.choice(EVENTS + _phrases("day | weekend | trip | flight | journey | first week")))
    if kind == "which":
        verb = p.choice(_phrases("like best | want | prefer | mean | recommend | need"))
        return _join("which", p.choice(THINGS + CLOTHES + FOOD_COUNT + PLACES), "do you", verb)
    if kind == "how_many":
        things = plural(p.choice(THINGS + PEOPLE + ANIMALS + FOOD_COUNT))
        verb = p.choice(_phrases(
            "are there | do you have | did you buy | do we need | can you see | were at the party"
        ))
        return _join("how many", things, verb, p.maybe(0.4, lambda: _place_pp(p)))
    travel = p.choice(_phrases("get to | walk to | drive to | fly to | cycle to"))
    return _join("how long does it take to", travel, _place(p))


def _tag_question(p: _Picker) -> str:
    """ "it's a lovely day isn't it" / "emma was tired wasn't she" """
    return p.choice((
        lambda: _join("it's", p.choice(_phrases("a lovely | a beautiful | a cold | a long | a busy | a quiet")),
                      p.choice(_phrases("day | morning | evening | afternoon | week")), "isn't it"),
        lambda: _join("you", p.choice(_phrases("like | know | remember | need | want")), _object(p, "o"), "don't you"),
        lambda: _tag_about_someone(p),
        lambda: _join("we can", _verb_phrase(p, "base"), "can't we"),
        lambda: _join("they haven't", p.choice(_phrases("left | finished | arrived | called | eaten | woken up")),
                      "yet have they"),
    ))()


def _tag_about_someone(p: _Picker) -> str:
    """ "emma was tired wasn't she" """
    name = _name(p)
    be = p.choice(("is", "was"))
    return _join(name, be, p.choice(PEOPLE_ADJECTIVES), be + "n't", _pronoun_for(name))


def _pronoun_for(name: str) -> str:
    """ "she" for a name in FEMALE_NAMES, else "he". """
    return "she" if name in _FEMALE_NAME_SET else "he"


def _command(p: _Picker) -> str:
    """ "please close the window before you leave" / "put the cup on the shelf" """
    kind = p.choice(("please", "dont", "could_you", "lets", "remember", "put", "call"))
    if kind == "please":
        when = "before you leave | when you get home | after dinner | right now | by friday | if you can | for me"
        return _join("please", _verb_phrase(p, "base", request=True),
                     p.maybe(0.4, lambda: p.choice(_phrases(when + " | as soon as possible"))))
    if kind == "dont":
        lead = p.choice(_phrases("don't forget to | remember to | try not to | make sure you | never"))
        return _join(lead, _verb_phrase(p, "base", request=True))
    if kind == "could_you":
        lead = p.choice(_phrases("could you | can you | would you | will you | would you mind if i"))
        return _join(lead, _verb_phrase(p, "base", request=True), p.maybe(0.6, "please"))
    if kind == "lets":
        return _join("let's", _verb_phrase(p, "base"), p.maybe(0.5, lambda: _when(p, "future")))
    if kind == "remember":
        lead = p.choice(_phrases("be careful with | look at | listen to | hold on to | keep an eye on | don't touch"))
        return _join(lead, _object(p, p.choice("oaoc")))
    if kind == "put":
        where = p.choice(_phrases("on | in | under | next to | behind | back in"))
        return _join("put the", p.choice(SMALL_THINGS + FOOD_COUNT + CLOTHES), where, "the", p.choice(FURNITURE))
    lead = p.choice(_phrases("call me | send me a message | wake me up | let me know | text me | come and find me"))
    when = p.choice(_phrases(
        "when you arrive | when you get home | if you need help | before you leave | when the train leaves"
        " | if anything changes | after the meeting | tomorrow morning"
    ) + ("at " + _clock_time(p),))
    return _join(lead, when)


_GREETINGS = _words("hello hi good_morning good_afternoon good_evening hey excuse_me")


def _dialogue(p: _Picker) -> str:
    """Everyday spoken exchanges: greetings, thanks, apologies, answers, offers."""
    name = _name(p)
    return p.choice((
        lambda: _join(p.choice(_GREETINGS), name, p.choice(_phrases(
            "how are you today | how was your weekend | nice to see you again | long time no see"
            " | how is your family | are you busy right now | did you have a good trip | what brings you here"
        ))),
        lambda: _join("thank you", p.choice(_phrases("so much | very much | again | ")), "for", p.choice(_phrases(
            "the lovely dinner | your help | coming | the flowers | waiting | the lift | everything | the advice"
            " | calling me back | the invitation | listening | the present"
        ))),
        lambda: _join("i'm sorry i'm late", p.choice(_phrases(
            "the bus was slow | the traffic was terrible | i missed the train | my alarm didn't go off | i got lost"
            " | the meeting ran over | it was raining"
        ))),
        lambda: _join("nice to meet you my name is", name, p.maybe(0.5, lambda: p.choice(SURNAMES))),
        lambda: _join(p.choice(_phrases("good morning | good afternoon | hello")), "everyone", p.choice(_phrases(
            "let's get started | thank you for coming | please take a seat | welcome to the meeting"
            " | today we have a lot to do | the bus leaves in ten minutes"
        ))),
        lambda: _join(p.choice(_phrases("yes | of course | sure | yes please | absolutely")), p.choice(_phrases(
            "i'd be happy to help | that sounds like a great idea | i'll do it right away | i'll see you there"
            " | that would be lovely | come on in | go ahead"
        ))),
        lambda: _join(p.choice(_phrases("no thanks | no thank you | not really | i'm afraid not")), p.choice(_phrases(
            "i've already eaten | i'm fine | i have to go | i'm too tired | maybe next time | i'm busy tonight"
            " | i don't drink coffee"
        ))),
        lambda: _join("excuse me", p.choice(_phrases(
            "is this seat taken | do you know where the station is | could you help me | what time is it"
            " | is there a bank near here | where are the toilets | can i sit here"
        ) + ("have you seen my " + p.choice(SMALL_THINGS),))),
        lambda: _join(
            "see you",
            p.choice(_phrases("tomorrow | later | on monday | next week | soon | tonight | in the morning")),
            p.choice(_phrases("at the station | at the office | at school | at the cafe | and take care") + (name,)),
        ),
        lambda: _join(p.choice(_phrases(
            "what do you mean by that | i didn't catch that | could you say that again | sorry what did you say"
            " | i don't understand the question | could you speak a bit slower"
        )), p.maybe(0.3, "please")),
        lambda: _join(p.choice(_phrases("that sounds | it looks | it seems | that was | that is")), p.choice(_phrases(
            "like a great idea | really interesting | very difficult | quite expensive | perfect to me"
            " | like a lot of work | wonderful | a bit strange"
        ))),
        lambda: _join(
            p.choice(_phrases("happy birthday | congratulations | good luck | well done | welcome home")),
            name,
            p.maybe(0.6, lambda: p.choice(_phrases(
                "we are so proud of you | you deserve it | have a wonderful day | we missed you"
                " | i hope you like the present"
            ))),
        ),
        lambda: _join(
            p.choice(_phrases("do you want to | would you like to | shall we | why don't we")),
            p.choice(_phrases(
                "go for a walk | get some lunch | watch a film | play cards | go to the beach | have dinner together"
                " | go shopping | meet for coffee"
            ) + ("visit " + _place(p),)),
            p.maybe(0.5, lambda: _when(p, "future")),
        ),
        lambda: _join(
            p.choice(_phrases("i'll have | can i have | i'll take | we'll have")),
            _food(p),
            p.choice(("and " + _food(p), "please", "with " + p.choice(FOOD_MASS), "to go", "thank you")),
        ),
    ))()


_CHORES = _phrases("""
    water the plants | do the dishes | take out the rubbish | feed the cat | walk the dog | make the bed
    | do the laundry | clean the windows | cut the grass | pay the bills | set the table | wash the car
    | tidy the room | cook dinner | do the shopping | iron the shirts | sweep the floor | empty the bin
""")


def _chores(p: _Picker) -> str:
    """ "he forgot to feed the cat again" """
    s = _subject(p)
    chore = p.choice(_CHORES)
    verb, _, rest = chore.partition(" ")
    form = p.choice(("past", "will", "has_to", "forgot"))
    if form == "past":
        return _join(s.text, verb_form(verb, "past"), rest, p.maybe(0.6, lambda: _when(p, "past")))
    if form == "will":
        return _join(s.text, "will", chore, p.maybe(0.6, lambda: _when(p, "future")))
    if form == "has_to":
        return _join(s.text, "has" if s.third_singular else "have", "to", chore, _when(p, "habit"))
    return _join(s.text, "forgot to", chore, p.maybe(0.5, "again"))


def _motion(p: _Picker) -> str:
    """ "we drove to chicago from denver in two days" """
    s = _subject(p)
    verb = p.choice(MOTION_VERBS)
    tense = p.choice(("past", "future", "progressive", "habit"))
    destination = "to " + _place(p) if p.chance(0.85) else "home"
    company = p.maybe(0.3, lambda: _join(p.choice(("with", "without")), _object(p, "p")))
    origin = p.maybe(0.2, lambda: _join(
        "from", p.choice(CITIES),
        p.maybe(0.5, lambda: _join("in", number_words(p.integer(2, 9)), p.choice(("hours", "days")))),
    ))
    if tense == "past":
        return _join(s.text, verb_form(verb, "past"), destination, company, origin,
                     p.maybe(0.4, lambda: _when(p, "past")))
    if tense == "future":
        return _join(s.text, "will", verb, destination, company, origin, p.maybe(0.5, lambda: _when(p, "future")))
    if tense == "progressive":
        return _join(s.text, s.be(), verb_form(verb, "gerund"), destination, company, origin,
                     p.maybe(0.5, lambda: _when(p, "future")))
    return _join(s.text, s.present(verb), destination, company, origin, _when(p, "habit"))


def _compound(p: _Picker) -> str:
    """Two short clauses joined by a conjunction."""
    first = p.choice((_past_statement, _feeling, _weather, _description))(p)
    second = p.choice((_past_statement, _feeling, _description, _motion))(p)
    return _join(first, p.choice(_phrases("and | but | so | while | although")), second)


_TEMPLATES: tuple[tuple[Callable[[_Picker], str], float], ...] = (  # (template, relative weight)
    (_past_statement, 8), (_future_statement, 5), (_progressive_statement, 4), (_perfect_statement, 3),
    (_habit_statement, 4), (_modal_statement, 4), (_negative_statement, 3), (_description, 4),
    (_feeling, 3), (_comparison, 2), (_superlative, 2), (_there_is, 3), (_weather, 3), (_schedule, 2),
    (_time_statement, 3), (_date_statement, 2), (_price_statement, 2), (_quantity_statement, 2),
    (_reason_statement, 3), (_conditional, 2), (_sequence, 2), (_opinion, 3), (_wish, 3),
    (_reported, 2), (_location, 3), (_directions, 2), (_work, 2), (_family, 2), (_possession, 2),
    (_yes_no_question, 5), (_wh_question, 5), (_tag_question, 1), (_command, 5), (_dialogue, 6),
    (_chores, 2), (_motion, 4), (_compound, 3),
)

# espeak-ng reads these as something other than the words: "the us" is "the U S".
_SPEECH_TRAPS = re.compile(r"\bthe us\b")


def _draw(p: _Picker) -> str:
    """One raw sentence from a weighted random template."""
    template = p.weighted([template for template, _ in _TEMPLATES], [weight for _, weight in _TEMPLATES])
    return template(p)


# ----------------------------------------------------------------------------------------------
# Public API
# ----------------------------------------------------------------------------------------------

_APOSTROPHES = str.maketrans({"\u2019": "'", "\u2018": "'", "`": "'", "\u02bc": "'"})
_SYMBOL_WORDS = {"&": " and ", "%": " percent ", "+": " plus ", "@": " at "}


def normalize_text(text: str) -> str:
    """Normalize text to the CTC character set: upper case A-Z, apostrophe and single spaces.

    Digits are spelled out ("42" -> "FORTY TWO"), accents are removed ("café" -> "CAFE"),
    curly apostrophes become straight ones, a few symbols become words ("&" -> "AND"), and
    any other character separates words. Apostrophes are kept inside words ("DON'T") and at
    the end of a plural possessive ("DOGS'"), but dropped when they quote a word.

    Args:
        text: any text.

    Returns:
        The normalized text, stripped; "" if nothing speakable is left.
    """
    text = unicodedata.normalize("NFKD", text.translate(_APOSTROPHES))
    text = "".join(char for char in text if not unicodedata.combining(char))
    for symbol, word in _SYMBOL_WORDS.items():
        text = text.replace(symbol, word)
    text = re.sub(r"\d+", lambda match: " " + number_words(int(match.group())) + " ", text)
    text = re.sub(r"[^A-Za-z']+", " ", text).upper()
    words = []
    for word in text.split():
        word = word.lstrip("'")
        if not word.endswith("S'"):
            word = word.rstrip("'")
        if word.strip("'"):
            words.append(word)
    return " ".join(words)


def _is_heldout(sentence: str) -> bool:
    """Which split a normalized sentence belongs to; a hash, so it never depends on seed or count."""
    digest = hashlib.sha256(sentence.encode("utf-8")).digest()
    return int.from_bytes(digest[:8], "big") % HELDOUT_BUCKETS == HELDOUT_BUCKET


def _sentences(count: int, seed: int, heldout: bool) -> list[str]:
    if count < 0:
        raise ValueError(f"count must be zero or more, got {count}")
    picker = _Picker(random.Random(seed))
    found: dict[str, None] = {}  # insertion-ordered set
    for _ in range(count * MAX_DRAWS_PER_SENTENCE * (HELDOUT_BUCKETS if heldout else 1)):
        if len(found) == count:
            break
        raw = _draw(picker)
        if _SPEECH_TRAPS.search(raw):
            continue
        sentence = normalize_text(raw)
        if MIN_WORDS <= sentence.count(" ") + 1 <= MAX_WORDS and _is_heldout(sentence) == heldout:
            found[sentence] = None
    if len(found) < count:
        raise RuntimeError(f"the grammar produced only {len(found)} distinct sentences of the {count} asked for")
    return list(found)


def training_sentences(count: int, seed: int = 0) -> list[str]:
    """Distinct normalized training sentences, deterministic for a seed.

    The list for a smaller count is a prefix of the list for a larger one with the same seed.
    No sentence returned here is ever returned by :func:`heldout_sentences` (any count, any seed).

    Args:
        count: how many sentences.
        seed: random seed.
    """
    return _sentences(count, seed, heldout=False)


def heldout_sentences(count: int, seed: int = 1) -> list[str]:
    """Distinct normalized held-out sentences, never produced by :func:`training_sentences`.

    Args:
        count: how many sentences.
        seed: random seed.
    """
    return _sentences(count, seed, heldout=True)


def vocabulary() -> set[str]:
    """Every upper-case word the grammar's word lists can produce, inflections included (roughly)."""
    words: set[str] = set()
    nouns = (PEOPLE + ANIMALS + FOOD_COUNT + THINGS + MACHINES + READING + FURNITURE + CLOTHES + VEHICLES
             + PLACES + ROOMS + NATURE + ABSTRACT + EVENTS + CONTESTS + BODY)
    for noun in nouns:
        words.update(normalize_text(noun).split())
        words.update(normalize_text(plural(noun)).split())
    for verb in tuple(VERBS) + MOTION_VERBS:
        for form in _VERB_FORMS:
            words.update(normalize_text(verb_form(verb, form)).split())
    for adjective in SHORT_ADJECTIVES:
        words.update(normalize_text(comparative(adjective)).split())
    for group in (FOOD_MASS, DRINKS, MASS_THINGS, MALE_NAMES, FEMALE_NAMES, SURNAMES, TITLES, CITIES, COUNTRIES,
                  ADJECTIVES, PEOPLE_ADJECTIVES, COLORS, FOOD_ADJECTIVES, WEATHER_ADJECTIVES, MANNER_ADVERBS,
                  FREQUENCY_ADVERBS, DEGREE_ADVERBS, WEEKDAYS, MONTHS, SEASONS, PAST_TIMES,
                  FUTURE_TIMES, HABIT_TIMES, NUMBER_ONES, NUMBER_TENS[2:], ORDINAL_ONES[1:], ORDINAL_TENS[2:]):
        for entry in group:
            words.update(normalize_text(entry).split())
    return words


def _report(samples: int = 100_000) -> None:
    """Print vocabulary size, the estimated number of distinct sentences, and examples."""
    picker = _Picker(random.Random(12345))
    log_inverse: list[float] = []
    seen: set[str] = set()
    used_words: set[str] = set()
    for _ in range(samples):
        picker.log_inverse_probability = 0.0
        sentence = normalize_text(_draw(picker))
        log_inverse.append(picker.log_inverse_probability)
        seen.add(sentence)
        used_words.update(sentence.split())
    peak = max(log_inverse)
    log_mean = peak + math.log(sum(math.exp(value - peak) for value in log_inverse) / samples)
    lengths = [s.count(" ") + 1 for s in seen]
    print(f"word-list vocabulary: {len(vocabulary())} distinct words (inflections included)")
    print(f"words used in {samples} draws: {len(used_words)}")
    print(f"distinct sentences in {samples} draws: {len(seen)} ({len(seen) / samples:.1%})")
    print(f"estimated distinct sentences possible: about 10^{log_mean / math.log(10):.0f} "
          f"(median path 10^{sorted(log_inverse)[samples // 2] / math.log(10):.0f})")
    print(f"words per sentence: mean {sum(lengths) / len(lengths):.1f}, "
          f"{sum(MIN_WORDS <= n <= MAX_WORDS for n in lengths) / len(lengths):.0%} within {MIN_WORDS}-{MAX_WORDS}")
    print("examples:")
    for sentence in training_sentences(15, seed=7):
        print("  " + sentence)


if __name__ == "__main__":
    _report()
