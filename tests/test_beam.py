"""Beam search with a language model and hotwords: finals, the server, the command line, bad input."""

from __future__ import annotations

import asyncio
import json
import logging
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from conftest import finals_of
from test_cli import assert_no_traceback, run
from test_server import final_texts, running_server, stream_clip, url

from model import load_model, transcribe
from model.decoding import (
    DEFAULT_BOOST,
    MAX_HOTWORDS,
    BeamSearchDecoder,
    GreedyDecoder,
    Hotword,
    check_hotwords,
)
from model.hotwords import HotwordSpotter
from model.lm import DEMO_LM_DIR, load_language_model
from model.loading import DEMO_MODEL_DIR
from model.vocab import Vocabulary
from streamer import Recognizer
from training.lm import write_language_model
from training.metrics import cer
from training.speech import SENTENCES, VOICE, trim
from training.synth import synthesize

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")

ROOT = Path(__file__).resolve().parent.parent
HELLO = ROOT / "examples" / "hello.wav"
TERM = "VANDERBILT"
TERM_SENTENCE = "PLEASE CALL VANDERBILT AFTER LUNCH"  # the demo model spells the name "VANDAR BIL T"


@pytest.fixture(scope="module")
def lm():
    return load_language_model("demo")


@pytest.fixture(scope="module")
def term_speech() -> np.ndarray:
    return trim(synthesize(TERM_SENTENCE, VOICE))


def stream(model, audio, block: int, decoder) -> list:
    recognizer = Recognizer(model, decoder=decoder)
    events = []
    for start in range(0, len(audio), block):
        events += recognizer.accept(audio[start : start + block])
    return events + recognizer.close()


# ----- what the decoder gives ----------------------------------------------------------------------


def test_the_language_model_corrects_misheard_words(demo, long_speech, lm):
    """With the demo LM the finals of five spoken sentences have fewer character errors than greedy ones."""
    audio, _ = long_speech
    greedy = " ".join(f.text for f in finals_of(stream(demo, audio, 16_000, GreedyDecoder(demo.vocab))))
    with_lm = " ".join(f.text for f in finals_of(stream(demo, audio, 16_000, BeamSearchDecoder(demo.vocab, lm))))
    reference = " ".join(SENTENCES)
    assert cer([reference], [with_lm]) < cer([reference], [greedy])


@pytest.mark.parametrize("blocks", [[320], [16_000], [1_000, 7, 33_000, 4_801]])
def test_chunking_never_changes_the_finals_with_the_lm(demo, long_speech, lm, blocks):
    """Finals decoded with the LM are the same whatever the audio's pieces, words and times included."""
    audio = long_speech[0][: 16_000 * 12]
    decoder = BeamSearchDecoder(demo.vocab, lm)
    reference = finals_of(stream(demo, audio, len(audio), decoder))
    recognizer, events, position, i = Recognizer(demo, decoder=decoder), [], 0, 0
    while position < len(audio):
        size = blocks[i % len(blocks)]
        events += recognizer.accept(audio[position : position + size])
        position, i = position + size, i + 1
    assert reference and finals_of(events + recognizer.close()) == reference


def test_beam_finals_carry_word_times_and_confidences(demo, long_speech, lm):
    """Every final word of a beam-decoded stream has its own ordered span in the sentence and a confidence in (0, 1]."""
    audio, spans = long_speech
    finals = finals_of(stream(demo, audio, 4_800, BeamSearchDecoder(demo.vocab, lm)))
    assert len(finals) == len(SENTENCES)
    for final, (start, end) in zip(finals, spans):
        assert final.text == " ".join(w.word for w in final.words)
        times = [t for w in final.words for t in (w.start, w.end)]
        assert times == sorted(times) and start - 0.3 <= times[0] and times[-1] <= end + 0.3
        assert all(0 < w.confidence <= 1 and w.end > w.start for w in final.words)


def test_a_hotword_is_spelled_as_given(demo, term_speech, lm):
    """A name the model misspells comes out right as a hotword, with and without the LM; greedy misses it."""
    assert TERM not in transcribe(demo, term_speech).text.split()
    for base in (GreedyDecoder(demo.vocab), BeamSearchDecoder(demo.vocab, lm)):
        decoder = base.with_hotwords([Hotword("Vanderbilt")])
        assert TERM in transcribe(demo, term_speech, decoder=decoder).text.split()


def test_a_hotword_takes_only_the_place_of_the_misheard_name(demo, term_speech):
    """The hotword replaces the words the name was heard as and nothing else; its word time lies where
    they were, and its confidence is the model's, not a made-up certainty."""
    plain = transcribe(demo, term_speech)
    spotted = transcribe(demo, term_speech, decoder=GreedyDecoder(demo.vocab).with_hotwords([Hotword("Vanderbilt")]))
    heard = [w.word for w in plain.words]
    words = [w.word for w in spotted.words]
    at, after = words.index(TERM), heard.index("AFTER")  # the words around the name are heard right
    assert words[:at] == heard[:at] and words[at + 1 :] == heard[after:]
    misheard = plain.words[at:after]  # VANDAR BIL T
    name = spotted.words[at]
    assert misheard[0].start - 0.1 <= name.start and name.end <= misheard[-1].end + 0.1
    assert 0 < name.confidence < 0.95


def test_the_spotter_finds_the_cheapest_span_exactly():
    """The spotter's single pass gives, for every hotword and last frame, the cost of the best span
    ending there: the same as aligning the hotword over every possible span one by one."""
    vocab = Vocabulary.librispeech()
    generator = np.random.default_rng(7)
    log_probs = np.log(generator.dirichlet(np.full(len(vocab), 0.3), size=24))
    spotter = HotwordSpotter(check_hotwords([Hotword("TEE"), Hotword("AN"), Hotword("NO ON")], vocab), vocab)
    loss = log_probs - log_probs.max(axis=1, keepdims=True)
    cost, first = spotter._best_spans(loss)
    for h in range(3):
        need = int(spotter.lengths[h] // 2)  # tokens the hotword has: a span needs at least that many frames
        for end in range(len(loss)):
            spans = [-spotter._align(loss[start : end + 1], h)[1] for start in range(0, end - need + 2)]
            expected = min(spans, default=np.inf)
            assert cost[h, end] == pytest.approx(expected, abs=1e-6) or (expected > 1e20 and cost[h, end] > 1e20)
            if expected < 1e20:
                assert -spotter._align(loss[first[h, end] : end + 1], h)[1] == pytest.approx(expected, abs=1e-6)


def heard(vocab, spelling: str, sure: float = 0.9, second: dict[int, str] | None = None) -> np.ndarray:
    """Log-probabilities of frames in which a model heard ``spelling`` (``|`` a word break): each
    character on one frame at ``sure`` and a blank after it; ``second`` gives the character at some
    positions a runner-up at a tenth of the rest."""
    frames = []
    for i, char in enumerate(spelling):
        for token in (vocab.ids[char], vocab.blank_id):
            row = np.full(len(vocab), (1 - sure) / (len(vocab) - 1))
            row[token] = sure
            if token != vocab.blank_id and second and i in second:
                row[vocab.ids[second[i]]] = (1 - sure) / 2
            frames.append(row / row.sum())
    return np.log(np.array(frames))


def spotted(vocab, log_probs: np.ndarray, hotwords: list[Hotword], **settings):
    """The greedy decoding of ``log_probs`` with ``hotwords`` spotted in it (``settings``: the spotter's)."""
    spotter = HotwordSpotter(check_hotwords(hotwords, vocab), vocab, **settings)
    return spotter.apply(vocab.decode_frames(log_probs.argmax(axis=1).tolist()), log_probs)


def test_a_name_heard_as_two_words_is_one_hotword():
    """A model that splits a name it does not know into two words (THIBO DEAUX) still gets it as one
    hotword: a word break inside a hotword costs little more than a blank would."""
    vocab = Vocabulary.librispeech()
    log_probs = heard(vocab, "WE|MET|THIBO|DEAUX|TODAY|", sure=0.999)
    name = [Hotword("Thibodeaux", 1.0)]  # may cost 10 nats: a surely heard break alone costs more
    assert spotted(vocab, log_probs, []).text == "WE MET THIBO DEAUX TODAY"
    assert spotted(vocab, log_probs, name).text == "WE MET THIBODEAUX TODAY"
    assert spotted(vocab, log_probs, name, word_break_cost=float("inf")).text == "WE MET THIBO DEAUX TODAY"


def test_of_two_hotwords_on_the_same_frames_the_one_further_below_its_allowance_wins():
    """Where a long hotword fits and a short one inside it fits a little better per character, the long
    one is placed: it explains more of what was heard (as a per-character bonus would decide)."""
    vocab = Vocabulary.librispeech()
    log_probs = heard(vocab, "ABOUT|MYTOCHONDRIA|", second={7: "I"})  # Y heard, I the runner-up
    hotwords = [Hotword("CHOND"), Hotword("MITOCHONDRIA")]
    assert spotted(vocab, log_probs, hotwords).text == "ABOUT MITOCHONDRIA"


def test_a_hotword_leaves_a_clearly_heard_fragment_of_a_word_it_cuts():
    """A hotword that cuts a word keeps the word's short outside part as a word of its own where the
    hotword does not fit over it (a clearly heard letter), instead of being dropped."""
    vocab = Vocabulary.librispeech()
    log_probs = heard(vocab, "TO|QZANSIBAR|", sure=0.999, second={4: "Z"})
    assert spotted(vocab, log_probs, [Hotword("ZANZIBAR")]).text == "TO Q ZANZIBAR"


def test_a_name_said_far_from_its_spelling_is_found_by_how_it_sounds():
    """A hotword's sounds-like spelling is searched too; where it fits, the phrase is written, with the
    heard words' times; without it the name said that way is not found."""
    vocab = Vocabulary.librispeech()
    log_probs = heard(vocab, "WE|MET|SHE|VAWN|TODAY|", sure=0.999)
    assert spotted(vocab, log_probs, [Hotword("Siobhan")]).text == "WE MET SHE VAWN TODAY"
    found, heard_words = spotted(vocab, log_probs, [Hotword("Siobhan", sounds_like=("she vawn",))]), spotted(vocab, log_probs, []).words
    assert found.text == "WE MET SIOBHAN TODAY"
    assert (found.words[2].start, found.words[2].end) == (heard_words[2].start, heard_words[3].end)


def test_sounds_like_spellings_are_searched_at_a_share_of_the_boost():
    """A sounds-like spelling gets a share (0.75) of its hotword's allowance: one the frames do not bear out at that
    share is not placed, though the same cost would do for the phrase's own spelling."""
    vocab = Vocabulary.librispeech()
    # SHE VAWN heard with four letters wrong, each the runner-up: 12.1 nats in all, 1.7 a character
    log_probs = heard(vocab, "WE|MET|SHA|FOUN|TODAY|", sure=0.9, second={9: "E", 11: "V", 12: "A", 13: "W"})
    assert spotted(vocab, log_probs, [Hotword("shevawn", 2.0)]).text == "WE MET SHEVAWN TODAY"
    assert spotted(vocab, log_probs, [Hotword("Siobhan", 2.0, ("shevawn",))]).text == "WE MET SHA FOUN TODAY"
    assert spotted(vocab, log_probs, [Hotword("Siobhan", 4.0, ("shevawn",))]).text == "WE MET SIOBHAN TODAY"


def test_hotwords_change_nothing_where_they_are_not_spoken(demo, long_speech, lm):
    """Sentences without any hotword decode to the same text with a hundred unrelated hotwords loaded."""
    audio = long_speech[0]
    names = [f"{a}{b}" for a in ("KOWAL", "ZIEL", "PRZYB", "SZCZEP", "WOJC") for b in "ABCDEFGHIJKLMNOPQRST"]
    for base in (GreedyDecoder(demo.vocab), BeamSearchDecoder(demo.vocab, lm)):
        plain = transcribe(demo, audio, decoder=base.with_hotwords([Hotword("QUIXOTE")])).text
        loaded = transcribe(demo, audio, decoder=base.with_hotwords([Hotword(n) for n in names])).text
        assert loaded == plain


@pytest.mark.parametrize(
    "hotwords, message",
    [
        ([Hotword("")], "hotword 1: the phrase must be non-empty"),
        ([Hotword("A" * 101)], "at most 100 characters"),
        ([Hotword("NAME", 0.0)], "boost must be a number above 0 and at most 10"),
        ([Hotword("NAME", 11.0)], "boost must be a number above 0 and at most 10"),
        ([Hotword("R2D2")], "the model cannot spell '2'"),
        ([Hotword("A")] * (MAX_HOTWORDS + 1), f"at most {MAX_HOTWORDS} hotwords"),
    ],
)
def test_bad_hotwords_are_refused_by_name(hotwords, message):
    """Each way a hotword list can be wrong is a ValueError that says which and why."""
    with pytest.raises(ValueError, match=message.replace("(", r"\(")):
        check_hotwords(hotwords, Vocabulary.librispeech())


def test_the_help_quotes_the_decoders_constants():
    """--help states the LM weight and hotword boosts the model uses (written out there to keep torch out of --help)."""
    import model.decoding
    import model.hotwords
    import model.lm
    from streamer.cli import parser

    assert parser.DEFAULT_LM_WEIGHT == model.lm.DEFAULT_LM_WEIGHT
    assert (parser.DEFAULT_BOOST, parser.MAX_BOOST) == (model.decoding.DEFAULT_BOOST, model.decoding.MAX_BOOST)
    assert parser.SOUNDS_LIKE_BOOST_SHARE == model.hotwords.SOUNDS_LIKE_BOOST_SHARE


def test_hotword_on_the_command_line_form():
    """``PHRASE:BOOST``, ``PHRASE`` and sounds-like spellings after ``=`` parse; a boost that is not a number is named."""
    from streamer.wire.events import Hotword as Written

    parse_hotword = Written.from_text
    assert parse_hotword("Kowalczyk:2.5") == Written("Kowalczyk", 2.5)
    assert parse_hotword("New York") == Written("New York")
    assert parse_hotword("Siobhan=she vawn, shivawn:3") == Written("Siobhan", 3.0, ("she vawn", "shivawn"))
    assert parse_hotword("Siobhan=she vawn") == Written("Siobhan", None, ("she vawn",))
    with pytest.raises(ValueError, match="must be a number, got 'x'"):
        parse_hotword("Kowalczyk:x")


# ----- where an LM comes from ----------------------------------------------------------------------


def test_a_language_model_folder_beside_the_model_is_found_and_logged(tmp_path, caplog):
    """A checkpoint with a language_model/ folder decodes with it (logged); lm=None decodes greedily."""
    folder = tmp_path / "model"
    shutil.copytree(DEMO_MODEL_DIR, folder)
    shutil.copytree(DEMO_LM_DIR, folder / "language_model")
    with caplog.at_level(logging.INFO, logger="model.loading"):
        model = load_model(folder, device="cpu")
    assert isinstance(model.decoder, BeamSearchDecoder) and model.lm is not None
    assert "found the language model" in caplog.text and "language_model" in caplog.text
    assert isinstance(load_model(folder, device="cpu", lm=None).decoder, GreedyDecoder)


def test_attrs_json_sets_the_weights(tmp_path):
    """The Wav2Vec2ProcessorWithLM attrs.json's alpha (natural log) and beta become lm_weight and word_score."""
    folder = tmp_path / "language_model"
    shutil.copytree(DEMO_LM_DIR, folder)
    (folder / "attrs.json").write_text(json.dumps({"alpha": 1.0, "beta": 0.5, "unk_score_offset": -5.0}))
    lm = load_language_model(folder)
    assert (round(lm.lm_weight, 4), lm.word_score, lm.unk_score) == (2.3026, 0.5, -5.0)
    assert load_language_model(folder, lm_weight=3.0, word_score=-1.0).lm_weight == 3.0


def test_the_arpa_writer_gives_a_model_kenlm_reads(tmp_path):
    """training/lm.py's ARPA file loads in KenLM, and each context's next-word probabilities sum to one."""
    sentences = ["THE CAT SAT ON THE MAT", "THE DOG SAT ON THE LOG", "A CAT AND A DOG", "THE CAT ATE"] * 3
    lm = load_language_model(write_language_model(sentences, tmp_path / "lm", order=3))
    words = sorted(lm.words) + ["<unk>"]
    for context in ([], ["THE"], ["THE", "CAT"], ["ON", "THE"], ["DOG", "CAT"]):
        state = lm.kenlm.start(False)
        for word in context:
            state, _ = lm.kenlm.score(state, lm.index(word))
        total = sum(10 ** lm.kenlm.score(state, lm.index(w))[1] for w in words) + 10 ** lm.kenlm.finish(state)[1]
        assert abs(total - 1.0) < 1e-3, context


# ----- bad language models -------------------------------------------------------------------------


def bad_lms(tmp_path: Path) -> dict[str, tuple[Path, str]]:
    """Each way an LM can be wrong: (path, what the one line must say)."""
    garbage = tmp_path / "garbage.arpa"
    garbage.write_text("this is not a language model\n")
    broken = tmp_path / "broken.arpa"
    broken.write_text("\\data\\\nngram 1=2\n\n\\1-grams:\n-1.0\tHELLO\nnot-a-number\tWORLD\n\n\\end\\\n")
    truncated = tmp_path / "truncated.arpa"
    truncated.write_text("\\data\\\nngram 1=3\n\n\\1-grams:\n-1.0\tHELLO\n-1.0\tWORLD\n")
    empty_folder = tmp_path / "empty_lm"
    empty_folder.mkdir()
    binary = tmp_path / "binary" / "lm.bin"
    binary.parent.mkdir()
    binary.write_bytes(b"mmap lm http://kheafield.com/code" + bytes(64))
    return {
        "missing": (tmp_path / "nowhere.arpa", "nowhere.arpa': no such file or folder"),
        "garbage": (garbage, "garbage.arpa is not a KenLM language model"),
        "broken line": (broken, "broken.arpa:6: 'not-a-number' is not a log10 probability"),
        "truncated": (truncated, "truncated.arpa is not a valid KenLM language model"),
        "folder without a KenLM file": (empty_folder, "empty_lm has no KenLM files"),
        "binary without its words": (binary, "unigrams.txt is missing"),
    }


@pytest.mark.parametrize("case", ["missing", "garbage", "broken line", "truncated", "folder without a KenLM file", "binary without its words"])
def test_a_bad_language_model_is_one_line_and_status_2(case, tmp_path, capsys):
    """transcribe --lm with a missing or malformed LM: one line naming the file, exit status 2."""
    path, message = bad_lms(tmp_path)[case]
    status, out, err = run(capsys, "transcribe", str(HELLO), "--model", "demo", "--lm", str(path))
    assert status == 2 and out == ""
    assert_no_traceback(err)
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("hubert-stream: error: cannot load --lm"), err
    assert message in lines[0]


def test_bad_hotwords_on_the_command_line(tmp_path, capsys):
    """A bad --hotword or a bad line of --hotwords-file: one line naming it, exit status 2."""
    listing = tmp_path / "names.txt"
    listing.write_text("# names\nKowalczyk:2\n\nNguyen:lots\n")
    cases = [
        (["--hotword", "R2D2"], "hotword 'R2D2': the model cannot spell '2'"),
        (["--hotword", "Kowalczyk:50"], "boost must be a number above 0 and at most 10"),
        (["--hotword", "Siobhan=she vawn,"], "hotword 'Siobhan': a sounds-like spelling must be non-empty text"),
        (["--hotword", "Siobhan=sh3 vawn"], "hotword 'Siobhan': sounds-like 'sh3 vawn': the model cannot spell '3'"),
        (["--hotwords-file", str(listing)], f"{listing}:4: hotword 'Nguyen:lots': the boost after ':' must be a number"),
        (["--hotwords-file", str(tmp_path / "none.txt")], "cannot read --hotwords-file"),
    ]
    for options, message in cases:
        status, out, err = run(capsys, "transcribe", str(HELLO), "--model", "demo", *options)
        assert status == 2 and out == "" and len(err.strip().splitlines()) == 1, err
        assert message in err


def test_hotwords_on_the_command_line(tmp_path, capsys, term_speech):
    """transcribe --hotword spells the name; the same file without it does not."""
    import soundfile as sf

    clip = tmp_path / "term.wav"
    sf.write(clip, term_speech, 16_000)
    listing = tmp_path / "names.txt"
    listing.write_text("Vanderbilt:2\n")
    for options, expected in (([], False), (["--hotword", "Vanderbilt"], True), (["--hotwords-file", str(listing)], True)):
        status, out, _ = run(capsys, "transcribe", str(clip), "--model", "demo", *options)
        assert status == 0 and (TERM in out.split()) == expected, (options, out)


def test_serve_with_a_malformed_lm_does_not_start(tmp_path):
    """serve --lm with a broken file exits with status 2 and names the file; no session is served."""
    path, message = bad_lms(tmp_path)["garbage"]
    done = subprocess.run(
        [sys.executable, "-m", "streamer", "serve", "--model", "demo", "--port", "0", "--lm", str(path)],
        capture_output=True, text=True, timeout=120, cwd=ROOT,
    )  # fmt: skip
    assert done.returncode == 2
    assert message in done.stderr and "Traceback" not in done.stderr


# ----- the server ------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def server(demo):
    with running_server(demo) as server:
        yield server


def test_hotwords_in_a_native_config(server, term_speech):
    """A session whose config lists the name gets it spelled right; a session beside it without hotwords does not."""
    audio = (term_speech * 32767).astype(np.int16)
    config = {"hotwords": [{"phrase": "Vanderbilt", "boost": 2.0}]}

    async def both():
        return await asyncio.gather(stream_clip(url(server), audio, config=config), stream_clip(url(server), audio))

    (with_hotwords, code1), (without, code2) = asyncio.run(both())
    assert code1 == code2 == 1000
    assert TERM in " ".join(final_texts(with_hotwords)).split()
    assert TERM not in " ".join(final_texts(without)).split()


def test_serve_hotwords_reach_every_session(term_speech):
    """serve --hotword: a session that sends no hotwords gets the name spelled right; one that sends its
    own gets both its own and the server's."""
    import os

    from test_client_install import server_port, wait_until_loaded

    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}
    command = [sys.executable, "-m", "streamer", "serve", "--model", "demo", "--port", "0", "--hotword", "Vanderbilt:2"]
    process = subprocess.Popen(command, cwd=ROOT, env=env, stderr=subprocess.PIPE, text=True)
    try:
        port = server_port(process)
        wait_until_loaded(port)
        address = f"ws://127.0.0.1:{port}/v1/stream"
        audio = (term_speech * 32767).astype(np.int16)
        config = {"hotwords": [{"phrase": "Kowalczyk"}]}

        async def both():
            return await asyncio.gather(stream_clip(address, audio), stream_clip(address, audio, config=config))

        (plain, code1), (own, code2) = asyncio.run(asyncio.wait_for(both(), 60))
    finally:
        process.terminate()
        process.wait(30)
    assert code1 == code2 == 1000
    assert TERM in " ".join(final_texts(plain)).split()
    assert TERM in " ".join(final_texts(own)).split()


def test_session_hotwords_add_to_the_decoders_own(demo):
    """A decoder made with hotwords keeps them when a session adds its own; the session's boost wins."""
    decoder = GreedyDecoder(demo.vocab).with_hotwords([Hotword("Vanderbilt", 2.0), Hotword("Nguyen", 1.5)])
    session = decoder.with_hotwords([Hotword("nguyen", 3.0), Hotword("Kowalczyk")])
    assert {(h.phrase, h.boost) for h in session.hotwords} == {("VANDERBILT", 2.0), ("NGUYEN", 3.0), ("KOWALCZYK", DEFAULT_BOOST)}
    full = GreedyDecoder(demo.vocab).with_hotwords([Hotword("A" * (i % 90 + 1) + "B" * (i // 90)) for i in range(MAX_HOTWORDS)])
    with pytest.raises(ValueError, match=f"at most {MAX_HOTWORDS} hotwords in all, and every decode here already has {MAX_HOTWORDS}"):
        full.with_hotwords([Hotword("Kowalczyk")])


@pytest.mark.parametrize(
    "hotwords, message",
    [
        ("Vanderbilt", '"hotwords" must be an array of hotwords, got string'),
        ([{"boost": 2}], "need 'phrase'"),
        ([{"phrase": 7}], '"phrase" must be a string, got number'),
        ([{"phrase": "Vanderbilt", "boost": "high"}], '"boost" must be a number, got string'),
        ([{"phrase": "Vanderbilt", "boost": 99}], "hotwords: hotword 'Vanderbilt': boost must be a number above 0"),
        ([{"phrase": "R2D2"}], "hotwords: hotword 'R2D2': the model cannot spell '2'"),
        ([{"phrase": "A" * 101}], "at most 100 characters"),
        ([{"phrase": "NAME"}] * (MAX_HOTWORDS + 1), f"hotwords: at most {MAX_HOTWORDS} hotwords"),
        ([{"phrase": "Siobhan", "sounds_like": "she vawn"}], '"sounds_like" must be an array of strings, got string'),
        ([{"phrase": "Siobhan", "sounds_like": ["she vawn", 3]}], '"sounds_like" must be an array of strings, it holds number'),
        ([{"phrase": "Siobhan", "sounds_like": ["SHE"] * 9}], "hotword 'Siobhan': at most 8 sounds-like spellings, got 9"),
        ([{"phrase": "Siobhan", "sounds_like": ["B" * 101]}], "at most 100 characters"),
    ],
)
def test_bad_hotwords_in_a_config_are_refused(server, hotwords, message):
    """A config with bad hotwords gets a bad_config error naming the problem, then close 1007."""
    events, code = asyncio.run(stream_clip(url(server), np.zeros(1_600, np.int16), config={"hotwords": hotwords}))
    errors = [e for e in events if e.type == "error"]
    assert code == 1007 and len(errors) == 1 and errors[0].code == "bad_config"
    assert message in errors[0].message


def test_sounds_like_in_a_native_config(server):
    """A session's hotword with a sounds-like spelling gets its name into the finals where the model
    writes the sound (SHE ON for Siobhan, as the demo model hears espeak-ng say it); the phrase alone does not."""
    audio = (trim(synthesize("WE MET SIOBHAN AFTER LUNCH", VOICE)) * 32767).astype(np.int16)
    plain, code1 = asyncio.run(stream_clip(url(server), audio, config={"hotwords": [{"phrase": "Siobhan"}]}))
    config = {"hotwords": [{"phrase": "Siobhan", "sounds_like": ["she on"]}]}
    sounds, code2 = asyncio.run(stream_clip(url(server), audio, config=config))
    assert code1 == code2 == 1000
    assert "SIOBHAN" not in " ".join(final_texts(plain)).split()
    assert "SIOBHAN" in " ".join(final_texts(sounds)).split()


def test_n_best_lists_take_a_beam_search_and_keep_the_hotwords(demo, lm):
    """``with_beam_search`` gives a decoder that has n-best lists: a beam search in place of greedy
    decoding, the same decoder where it is one already, the hotwords kept either way."""
    greedy = GreedyDecoder(demo.vocab)
    assert isinstance(greedy.with_beam_search(lm), BeamSearchDecoder)
    beam = BeamSearchDecoder(demo.vocab, lm)
    assert beam.with_beam_search(None) is beam
    named = greedy.with_hotwords([Hotword("Vanderbilt", 2.5, ("vanda bilt",))])
    searched = named.with_beam_search(lm)
    assert isinstance(searched.base, BeamSearchDecoder) and searched.hotwords == named.hotwords
    assert beam.with_hotwords([Hotword("Vanderbilt")]).with_beam_search(lm).base is beam
