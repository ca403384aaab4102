"""Hotwords found where the acoustics allow them: a CTC word spotter that every decoder's result passes.

A decoder, greedy or beam search with an LM, spells a rare name the way the model heard it
(``KOWALCHICK`` for ``KOWALCZYK``, ``VANDA BILT`` for ``VANDERBILT``). ``HotwordSpotter`` searches the
same frames for each hotword, exactly and without pruning: for every span of frames, how much less
likely the hotword's spelling is there than the model's best path through those frames (its
*cost*, natural log). Where a hotword's cost is below its boost times its number of characters,
it replaces the words heard in that span, with its own character and word times from its alignment.

Spans are compared with the frames' best tokens, not with the decoder's words, so the test is
acoustic and the same under any decoder: an LM can neither invent a hotword nor hide one. A phrase
is spotted once per span; overlapping candidates go to the one furthest below its allowance. A word
break the model heard inside a hotword costs it ``WORD_BREAK_COST`` (a name it does not know often
comes out as two words). A hotword's sounds-like spellings are searched beside its phrase, at
``SOUNDS_LIKE_BOOST_SHARE`` of its boost, and write the phrase. ``WORD_BREAK_COST``,
``DEFAULT_BOOST`` and ``SOUNDS_LIKE_BOOST_SHARE`` were chosen on a development set of other names and
sentences than the test set's (bench/tune_hotwords.py).
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np

from model.vocab import CharSpan, Decoded, Vocabulary, WordSpan

__all__ = [
    "DEFAULT_BOOST",
    "MAX_BOOST",
    "MAX_HOTWORDS",
    "MAX_HOTWORD_CHARS",
    "Hotword",
    "HotwordSpotter",
    "check_hotwords",
]

DEFAULT_BOOST = 2.0  # natural log per character: how much less likely than the best path a hotword may be
MAX_BOOST = 10.0
MAX_HOTWORDS = 500  # per decoder (per session on a server)
MAX_HOTWORD_CHARS = 100  # characters in one hotword phrase
SURE_BLANK_LOG_PROB = math.log(0.999)  # a frame this sure of blank is searched only as part of its run
KEPT_PART_CHARS = 3  # a word a spot cuts keeps a part this long outside the spot (see HotwordSpotter.place)
WORD_BREAK_COST = 0.5  # natural log: what a word break the model heard inside a hotword costs it (VANDA BILT)
MAX_SOUNDS_LIKE = 8  # sounds-like spellings of one hotword
SOUNDS_LIKE_BOOST_SHARE = 0.75  # a sounds-like spelling is searched at this share of its hotword's boost
_NEVER = -1e30  # the score of a state no path reaches


@dataclass(frozen=True)
class Hotword:
    """A word or phrase to expect: it takes the place of the words heard where its spelling is at most
    ``boost`` (natural log) per character less likely than the model's best path through those frames.

    ``sounds_like``: spellings of how it sounds, as the model would write them (``("SHE VAWN",)`` for
    Siobhan), for names said far from how they are spelled; each is searched too, at
    ``SOUNDS_LIKE_BOOST_SHARE`` of the boost, and where one fits, the phrase is written.
    """

    phrase: str
    boost: float = DEFAULT_BOOST
    sounds_like: tuple[str, ...] = ()


def check_hotwords(hotwords: Iterable[Hotword], vocab: Vocabulary) -> tuple[Hotword, ...]:
    """Hotwords in the vocabulary's spelling (one space between words), each checked.

    ``ValueError`` names the first that is wrong: too many, empty, too long, a boost out of
    (0, ``MAX_BOOST``], a character the model cannot spell, or a bad sounds-like spelling (the same
    bounds, at most ``MAX_SOUNDS_LIKE`` of them).
    """
    checked = []
    for number, hotword in enumerate(hotwords, 1):
        if number > MAX_HOTWORDS:
            raise ValueError(f"at most {MAX_HOTWORDS} hotwords")
        if not isinstance(hotword.phrase, str) or not hotword.phrase.strip():
            raise ValueError(f"hotword {number}: the phrase must be non-empty text")
        phrase = " ".join(hotword.phrase.split())
        if len(phrase) > MAX_HOTWORD_CHARS:
            raise ValueError(f"hotword {phrase[:20]!r}...: at most {MAX_HOTWORD_CHARS} characters, got {len(phrase)}")
        boost = hotword.boost
        if isinstance(boost, bool) or not isinstance(boost, (int, float)) or not 0 < boost <= MAX_BOOST:
            raise ValueError(f"hotword {phrase!r}: boost must be a number above 0 and at most {MAX_BOOST:g}, got {boost!r}")
        sounds = hotword.sounds_like
        if isinstance(sounds, str) or not isinstance(sounds, (tuple, list)):
            raise ValueError(f"hotword {phrase!r}: sounds_like must be a list of spellings, got {sounds!r}")
        if len(sounds) > MAX_SOUNDS_LIKE:
            raise ValueError(f"hotword {phrase!r}: at most {MAX_SOUNDS_LIKE} sounds-like spellings, got {len(sounds)}")
        spelled = _spelled(phrase, f"hotword {phrase!r}", vocab)
        spellings = []
        for text in sounds:
            if not isinstance(text, str) or not text.strip():
                raise ValueError(f"hotword {phrase!r}: a sounds-like spelling must be non-empty text, got {text!r}")
            text = " ".join(text.split())
            what = f"hotword {phrase!r}: sounds-like {text!r}"
            if len(text) > MAX_HOTWORD_CHARS:
                raise ValueError(f"{what[:40]}...: at most {MAX_HOTWORD_CHARS} characters, got {len(text)}")
            spellings.append(_spelled(text, what, vocab))
        checked.append(Hotword(spelled, float(boost), tuple(dict.fromkeys(x for x in spellings if x != spelled))))
    return tuple(checked)


def _spelled(text: str, what: str, vocab: Vocabulary) -> str:
    """``text`` as the vocabulary spells it (as given, upper or lower case); ``ValueError`` names
    ``what`` and the characters it cannot spell."""
    for candidate in (text, text.upper(), text.lower()):
        if all(c == " " or c in vocab.ids for c in candidate):
            return candidate
    bad = sorted({c for c in text.upper() if c != " " and c not in vocab.ids and c.lower() not in vocab.ids})
    raise ValueError(f"{what}: the model cannot spell {''.join(bad)!r}")


def searched_frames(log_probs: np.ndarray, blank_id: int) -> np.ndarray:
    """The frames a search over ``log_probs`` needs: runs of frames that are surely blank count as
    their first frame (every hypothesis takes blank there, so the rest only cost time; the one frame
    kept still separates a repeated character). Most CTC frames are such blanks."""
    sure = log_probs[:, blank_id] > SURE_BLANK_LOG_PROB
    return np.flatnonzero(~(sure & np.concatenate(([False], sure[:-1]))))


@dataclass(frozen=True)
class Spot:
    """A hotword placed on frames ``[start, end]`` (inclusive, from the decode's first frame):
    ``path`` is the alignment there of ``spelling`` (the phrase or one of its sounds-like
    spellings), one token id per frame; ``cost`` per character."""

    hotword: Hotword
    start: int
    end: int
    path: tuple[int, ...]
    cost: float
    spelling: str


class HotwordSpotter:
    """Finds hotwords in a span's log-probabilities and puts them into a decoding of it.

    Args:
        hotwords: checked hotwords (``check_hotwords``).
        vocab: the checkpoint's vocabulary.
        word_break_cost: what a word break heard inside a hotword costs it (natural log; ``inf``: none
            may be).
        sounds_like_share: the share of a hotword's boost its sounds-like spellings are searched at.
    """

    def __init__(
        self,
        hotwords: Sequence[Hotword],
        vocab: Vocabulary,
        word_break_cost: float = WORD_BREAK_COST,
        sounds_like_share: float = SOUNDS_LIKE_BOOST_SHARE,
    ) -> None:
        self.hotwords, self.vocab, self.word_break_cost = tuple(hotwords), vocab, word_break_cost
        blank = vocab.blank_id
        # One row per spelling searched: each hotword's phrase, then its sounds-like spellings.
        self.rows = [(h, spelling) for h in self.hotwords for spelling in (h.phrase, *h.sounds_like)]
        # Each spelling as CTC states: blank, token, blank, token, ..., blank; all padded to one width.
        states = [[blank, *[x for token in vocab.encode(spelling) for x in (token, blank)]] for _, spelling in self.rows]
        width = max(map(len, states), default=1)
        self.states = np.full((len(states), width), blank, dtype=np.int64)
        self.skip = np.zeros((len(states), width), dtype=bool)  # a state its second predecessor may jump to
        for i, row in enumerate(states):
            self.states[i, : len(row)] = row
            for s in range(2, len(row)):
                self.skip[i, s] = row[s] != blank and row[s] != row[s - 2]
        self.lengths = np.array([len(row) for row in states], dtype=np.int64)
        self.valid = np.arange(width)[None, :] < self.lengths[:, None]
        self.chars = np.array([len(spelling.replace(" ", "")) for _, spelling in self.rows], dtype=np.float64)
        boosts = [h.boost * (1.0 if spelling == h.phrase else sounds_like_share) for h, spelling in self.rows]
        self.allowed = np.array(boosts) * self.chars  # cost a spot may have

    def spots(self, log_probs: np.ndarray) -> list[Spot]:
        """The hotwords placed in ``log_probs`` ``[frames, vocab]``: non-overlapping, best first."""
        if not self.hotwords or len(log_probs) == 0:
            return []
        kept = searched_frames(log_probs, self.vocab.blank_id)
        loss = self._loss(log_probs)
        cost, begin = self._best_spans(loss[kept])
        found = np.argwhere(cost < self.allowed[:, None])  # (row, last searched frame) pairs
        # Overlapping candidates go to the one furthest below its allowance: the longer hotword
        # where both fit equally well per character, as a per-character bonus would decide.
        margin = (self.allowed[:, None] - cost)[found[:, 0], found[:, 1]]
        order = np.argsort(-margin, kind="stable")
        taken: list[Spot] = []
        for h, last in found[order]:
            start, end = int(kept[begin[h, last]]), int(kept[last])
            if any(start <= s.end and s.start <= end for s in taken):
                continue
            path, score = self._align(loss[start : end + 1], h)  # on every frame of the span
            hotword, spelling = self.rows[h]
            taken.append(Spot(hotword, start, end, path, -score / self.chars[h], spelling))
        return taken

    def _loss(self, log_probs: np.ndarray) -> np.ndarray:
        """What each token costs on each frame against that frame's best token (0 for the best).

        A hotword's blank states also take a word break, at ``word_break_cost`` more: a model that
        has not heard a name often splits it into words of its own (VANDA BILT for VANDERBILT).
        """
        loss = log_probs - log_probs.max(axis=1, keepdims=True)
        blank, delimiter = self.vocab.blank_id, self.vocab.delimiter_id
        loss[:, blank] = np.maximum(loss[:, blank], loss[:, delimiter] - self.word_break_cost)
        return loss

    def _best_spans(self, loss: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """For each hotword and last frame, the cost of the best span ending there and its first frame.

        A Viterbi pass over every hotword at once, where any frame may start a span afresh.
        """
        count, width = self.states.shape
        frames = len(loss)
        rows = np.arange(count)
        score = np.full((count, width), _NEVER)
        begin = np.zeros((count, width), dtype=np.int64)
        cost = np.empty((count, frames))
        first = np.empty((count, frames), dtype=np.int64)
        never_col = np.full((count, 1), _NEVER)
        never_two = np.full((count, 2), _NEVER)
        for t in range(frames):
            one = np.concatenate((never_col, score[:, :-1]), axis=1)
            two = np.where(self.skip, np.concatenate((never_two, score[:, :-2]), axis=1), _NEVER)
            best = np.maximum(score, np.maximum(one, two))
            from_one = (one >= score) & (one >= two)
            from_two = (two > score) & (two > one)
            shifted_one = np.concatenate((begin[:, :1], begin[:, :-1]), axis=1)
            shifted_two = np.concatenate((begin[:, :2], begin[:, :-2]), axis=1)
            begin = np.where(from_two, shifted_two, np.where(from_one, shifted_one, begin))
            fresh = best[:, :2] < 0.0  # starting here beats any span that began earlier
            best[:, :2] = np.where(fresh, 0.0, best[:, :2])
            begin[:, :2] = np.where(fresh, t, begin[:, :2])
            score = np.where(self.valid, best + loss[t][self.states], _NEVER)
            last, before = score[rows, self.lengths - 1], score[rows, self.lengths - 2]
            cost[:, t] = -np.maximum(last, before)
            first[:, t] = np.where(last >= before, begin[rows, self.lengths - 1], begin[rows, self.lengths - 2])
        return cost, first

    def _align(self, loss: np.ndarray, h: int) -> tuple[tuple[int, ...], float]:
        """The best alignment of hotword ``h`` over all of ``loss``'s frames: token ids and its score."""
        states = self.states[h, : self.lengths[h]]
        skip = self.skip[h, : self.lengths[h]]
        size, frames = len(states), len(loss)
        score = np.full(size, _NEVER)
        score[:2] = loss[0][states[:2]]
        back = np.zeros((frames, size), dtype=np.int64)
        for t in range(1, frames):
            one = np.concatenate(([_NEVER], score[:-1]))
            two = np.where(skip, np.concatenate(([_NEVER, _NEVER], score[:-2])), _NEVER)
            choices = np.stack((score, one, two))
            back[t] = choices.argmax(axis=0)
            score = choices.max(axis=0) + loss[t][states]
        state = size - 1 if size == 1 or score[-1] >= score[-2] else size - 2
        total = float(score[state])
        path = []
        for t in range(frames - 1, -1, -1):
            path.append(int(states[state]))
            state -= int(back[t, state])
        return tuple(reversed(path)), total

    def apply(self, decoded: Decoded, log_probs: np.ndarray, offset: int = 0) -> Decoded:
        """``decoded`` (of ``log_probs``' frames, spans from ``offset``) with the hotwords spotted in
        those frames in place of what it heard there (``spots``, then ``place``)."""
        return self.place(decoded, self.spots(log_probs), log_probs, offset)

    def place(self, decoded: Decoded, spots: list[Spot], log_probs: np.ndarray, offset: int = 0) -> Decoded:
        """``decoded`` with ``spots`` (``spots(log_probs)``: one search serves every decoding of the
        same frames, as an n-best list's) in place of what it heard there.

        A word the spot cuts keeps its part outside the spot as a word of its own when that part has
        at least ``KEPT_PART_CHARS`` characters (ABOUTHEBAN ETRTHY -> ABOUT ABERNATHY); a shorter part
        is taken in by the hotword, aligned again over the spot and that part together.
        """
        path = np.array(decoded.frame_ids, dtype=np.int64)
        if not spots or len(path) != len(log_probs):
            return decoded
        loss = self._loss(log_probs)
        placed: list[tuple[Spot, int, int]] = []  # each spot with the frames it took over
        for spot in spots:
            h = self.rows.index((spot.hotword, spot.spelling))
            taken = self._short_parts(decoded, spot, offset)
            start, end = min([spot.start, *taken]), max([spot.end, *taken])
            if taken:
                alignment, score = self._align(loss[start : end + 1], h)
                if -score >= self.allowed[h]:  # too dear with those parts: they stay words of their own
                    start, end, alignment = spot.start, spot.end, spot.path
            else:
                alignment = spot.path
            if any(start <= e and s <= end for _, s, e in placed):
                continue
            path[start : end + 1] = alignment
            placed.append((spot, start, end))
        if not placed:
            return decoded
        probs = np.exp(log_probs[np.arange(len(path)), path])
        return _decode_segments(self.vocab, path, probs, offset, placed)

    @staticmethod
    def _short_parts(decoded: Decoded, spot: Spot, offset: int) -> list[int]:
        """The frames outside ``spot`` of the words it cuts that ``place`` gives to the hotword: the
        cut characters' own frames, and each part outside shorter than ``KEPT_PART_CHARS``."""
        taken = []
        for word in decoded.words:
            if word.start - offset > spot.end or word.end - offset - 1 < spot.start:
                continue
            chars = [c for c in decoded.chars if word.start <= c.start < word.end]
            left = [c for c in chars if c.end - offset - 1 < spot.start]
            right = [c for c in chars if c.start - offset > spot.end]
            cut = [c for c in chars if c not in left and c not in right]
            for part in (left, right, cut):
                if part is cut or len(part) < KEPT_PART_CHARS:
                    frames = (f - offset for c in part for f in range(c.start, c.end))
                    taken += [f for f in frames if not spot.start <= f <= spot.end]
        return taken


def _decode_segments(vocab: Vocabulary, path: np.ndarray, probs: np.ndarray, offset: int, placed) -> Decoded:
    """``vocab.decode_frames`` of ``path``, with a word break at each end of every placed spot's span
    (the spans' alignments hold no delimiter at their edges, and a neighbouring word may touch them).

    A spot of a sounds-like spelling writes its phrase: the phrase's words take the heard words'
    spans one for one where their numbers match, else share the span by their lengths. ``chars``
    stay the characters heard.
    """
    phrases = {s: spot.hotword.phrase for spot, s, _ in placed if spot.spelling != spot.hotword.phrase}
    cuts = sorted({0, len(path), *[c for _, s, e in placed for c in (s, e + 1)]})
    chars: list[CharSpan] = []
    words: list[WordSpan] = []
    for a, b in itertools.pairwise(cuts):
        part = vocab.decode_frames(path[a:b].tolist(), probs[a:b].tolist(), offset + a)
        chars += part.chars
        words += part.words if a not in phrases else _phrase_words(phrases[a], part.words)
    return Decoded(" ".join(w.text for w in words), tuple(int(i) for i in path), tuple(chars), tuple(words))


def _phrase_words(phrase: str, heard: Sequence[WordSpan]) -> list[WordSpan]:
    """``phrase``'s words over the frames of the ``heard`` words of a sounds-like spot."""
    names = phrase.split()
    if len(names) == len(heard):
        return [WordSpan(name, w.start, w.end, w.confidence) for name, w in zip(names, heard)]
    start, end = heard[0].start, heard[-1].end
    confidence = float(np.mean([w.confidence for w in heard]))
    edges = np.cumsum([0, *map(len, names)]) / sum(map(len, names))
    bounds = [start + round(x * (end - start)) for x in edges]
    return [WordSpan(name, a, max(b, a + 1), confidence) for name, a, b in zip(names, bounds, bounds[1:])]
