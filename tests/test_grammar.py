"""The phrase-list grammar decoder: exact search over hand-made frames, and the demo model's speech."""

from __future__ import annotations

import shutil

import numpy as np
import pytest
import torch

from model.decoding import frame_logprobs
from model.grammar import UNK, GrammarDecoder, PartialSearch, PhraseGrammar
from model.vocab import Vocabulary

VOCAB = Vocabulary.librispeech()


def frames(spelling: str, hold: int = 2) -> torch.Tensor:
    """Log-probabilities of a clean CTC rendering of ``spelling`` ("|" for word breaks, "_" blank):
    each symbol held ``hold`` frames at 0.9, with blanks between letters."""
    ids = []
    for char in spelling:
        token = "<pad>" if char == "_" else char
        ids += [VOCAB.ids[token]] * hold + [VOCAB.blank_id]
    return frame_logprobs(ids, [0.9] * len(ids), len(VOCAB))


def test_the_best_phrase_sequence_comes_out_with_word_frames():
    """Spelled audio of two listed phrases decodes to exactly them, words in order and in time."""
    grammar = PhraseGrammar(["Open the door", "call mom", "yes"], VOCAB)
    decoded = GrammarDecoder(grammar).decode(frames("_OPEN|THE|DOOR___CALL|MOM_"), offset=100)
    assert decoded.text == "open the door call mom"
    starts = [w.start for w in decoded.words]
    assert starts == sorted(starts) and starts[0] >= 100
    assert all(w.end > w.start and 0 < w.confidence <= 1 for w in decoded.words)


def test_a_misspelling_still_gives_the_nearest_listed_phrase():
    """Letters a greedy decoding would get wrong still come out as the listed phrase."""
    decoded = GrammarDecoder(PhraseGrammar(["open the door", "close the window"], VOCAB)).decode(frames("OPEN|THE|DOER"))
    assert decoded.text == "open the door"


def test_unk_takes_speech_no_phrase_fits_and_only_with_unk_listed():
    """Unlisted words become [unk] when the list has it; without it a listed phrase is forced."""
    audio = frames("WEATHER|IS|NICE___YES_")
    assert GrammarDecoder(PhraseGrammar(["yes", "no", UNK], VOCAB)).decode(audio).text.split() == [UNK] * 3 + ["yes"]
    assert set(GrammarDecoder(PhraseGrammar(["yes", "no"], VOCAB)).decode(audio).text.split()) <= {"yes", "no"}
    assert set(GrammarDecoder(PhraseGrammar([UNK], VOCAB)).decode(audio).text.split()) == {UNK}  # [unk] alone


def test_silence_decodes_to_nothing():
    """Frames of blank give no words."""
    silence = frame_logprobs([VOCAB.blank_id] * 30, [0.99] * 30, len(VOCAB))
    assert GrammarDecoder(PhraseGrammar(["yes", UNK], VOCAB)).decode(silence).text == ""


def test_alternatives_are_distinct_listed_phrases_best_first():
    """The n-best holds at most n distinct texts of listed phrases, scores falling."""
    decoder = GrammarDecoder(PhraseGrammar(["turn on the light", "turn off the light", "call mom", UNK], VOCAB))
    alternatives = decoder.alternatives(frames("TURN|OFF|THE|LIGHT"), 3)
    texts = [a.decoded.text for a in alternatives]
    assert texts[0] == "turn off the light" and texts[1] == "turn on the light" and len(texts) == 3
    scores = [a.score for a in alternatives]
    assert scores == sorted(scores, reverse=True)
    assert decoder.alternatives(frames("TURN|OFF|THE|LIGHT"), 1)[0].decoded.text == "turn off the light"


def test_partials_show_the_word_under_way_and_match_a_whole_search():
    """A partial names a listed word as soon as its letters start, and committing frames in pieces
    gives what one search of them all gives."""
    grammar = PhraseGrammar(["open the door", "open the window"], VOCAB)
    audio = frames("OPEN|THE|WIN")
    ids = audio.argmax(-1).tolist()
    probs = audio.exp().max(-1).values.tolist()
    whole = PartialSearch(grammar)
    assert whole.text(ids, probs) == "open the window"
    pieces = PartialSearch(grammar)
    for first in range(0, len(ids) - 5, 4):
        pieces.commit(ids[first : first + 4], probs[first : first + 4])
    done = pieces.frames
    assert pieces.text(ids[done:], probs[done:]) == "open the window"


@pytest.mark.parametrize(
    ("phrases", "named"),
    [([], "empty"), (["call 911"], "'9'"), (["caf\u00e9"], "'\u00e9'"), (["   "], "empty phrase"), ("yes", "list")],
)
def test_phrases_the_model_cannot_write_are_refused(phrases, named):
    """An empty list, an empty phrase or a character outside the vocabulary is a ValueError naming it."""
    with pytest.raises(ValueError, match=named):
        PhraseGrammar(phrases, VOCAB)


@pytest.mark.skipif(shutil.which("espeak-ng") is None, reason="espeak-ng is not installed")
def test_spoken_listed_phrases_are_recognized_exactly(demo_model):
    """The demo model with a phrase list gets spoken commands exactly, where greedy decoding misspells some."""
    from model.decoding import GreedyDecoder
    from training.speech import VOICE
    from training.synth import synthesize

    spoken = ["turn on the light", "open the door", "what time is it", "turn off the light"]
    decoder = GrammarDecoder(PhraseGrammar([*spoken, "call mom", UNK], demo_model.vocab))
    greedy = GreedyDecoder(demo_model.vocab)
    misspelled = 0
    for text in spoken:
        audio = synthesize(text, VOICE)
        with torch.inference_mode():
            logits = demo_model(torch.from_numpy(demo_model.front(audio))[None])[0]
        assert decoder.decode(logits).text == text
        misspelled += greedy.decode(logits).text.lower() != text
    assert misspelled >= 1  # the grammar is doing work, not repeating greedy decoding
    assert np.isfinite([a.score for a in decoder.alternatives(logits, 2)]).all()
