"""Stitching committed CTC frame ids into segments, on hand-written id sequences."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from model.vocab import Vocabulary, collapse
from streamer.core.config import StreamingConfig
from streamer.core.stitch import SegmentEnd, Stitcher, final_event
from streamer.wire.events import Final, Partial

VOCAB = Vocabulary.librispeech()
_ = VOCAB.blank_id
SEP = VOCAB.delimiter_id
A, B, E, L, H, O = (VOCAB.ids[c] for c in "ABELHO")


def ids_of(text: str) -> list[int]:
    """Frames for a pattern like 'HH_E_LL_L_O': letters are ids, '_' blank, ' ' delimiter."""
    return [_ if c == "_" else SEP if c == " " else VOCAB.ids[c] for c in text]


def stitcher(**config) -> Stitcher:
    return Stitcher(VOCAB, StreamingConfig(**{"endpoint_blank_frames": 5, **config}))


def settled(events: list) -> list:
    """``events`` with each ``SegmentEnd`` decoded from the windows' own ids, as with no final pass."""
    return [final_event(e.segment, VOCAB.decode_frames(e.ids, e.probs, e.start)) if isinstance(e, SegmentEnd) else e for e in events]


def commit_windows(s: Stitcher, *windows: str) -> list:
    events = []
    for window in windows:
        frames = ids_of(window)
        events += settled(s.commit(frames, [0.9] * len(frames)))
    return events


def test_letter_split_across_windows_does_not_double():
    """A letter whose frames straddle a window boundary is one letter."""
    s = stitcher()
    commit_windows(s, "_HHE", "EEL_", "LLO")
    assert s.partial()[0].text == "HELLO"


def test_double_letter_with_blank_between_windows_stays_double():
    """A real double letter (a blank between the runs) survives a boundary at the blank."""
    s = stitcher()
    commit_windows(s, "HEL", "_", "LO")
    assert s.partial()[0].text == "HELLO"
    t = stitcher()
    commit_windows(t, "HEL", "LO")  # no blank: CTC collapses it
    assert t.partial()[0].text == "HELO"


def test_blank_run_after_speech_ends_the_segment_with_one_final():
    """Five blank frames after speech end the segment; the next words start segment 1."""
    s = stitcher()
    events = commit_windows(s, "__HE_LL", "O", "___", "__", "A_B", "_____")
    finals = [e for e in events if isinstance(e, Final)]
    assert [f.text for f in finals] == ["HELO", "AB"]  # the O follows the Ls without a blank
    assert [f.segment for f in finals] == [0, 1]
    assert finals[0].start == 0.04 and finals[0].end == 0.16  # frames 2 to 8 (exclusive), 20 ms each


def test_silence_only_gives_no_final_and_keeps_nothing():
    """Blank frames with no speech never produce a final and are not kept."""
    s = stitcher()
    assert commit_windows(s, "_" * 50, "   ", "_" * 20) == []
    assert s.ids == [] and s.start == 73
    assert s.flush() == []


def test_words_have_frame_times_and_confidence():
    """Words carry 20 ms start/end times from their frames and a confidence."""
    s = stitcher()
    commit_windows(s, "__AB_ BE__")
    (final,) = settled(s.flush())
    assert final.text == "AB BE"
    assert [(w.word, w.start, w.end) for w in final.words] == [("AB", 0.04, 0.08), ("BE", 0.12, 0.16)]
    assert all(w.confidence == pytest.approx(0.9) for w in final.words)


def test_max_segment_length_cuts_at_the_longest_blank_run():
    """An over-long segment is cut in the middle of its longest silent run, nothing lost or doubled."""
    s = stitcher(endpoint_blank_frames=10, max_segment_frames=20, hop_frames=2, lookahead_frames=2)
    events = commit_windows(s, "HE_L", "_L__", "____A", "B_E_", "A___", "B")  # 22 frames
    finals = [e for e in events if isinstance(e, Final)]
    assert [f.text for f in finals] == ["HELL"]
    assert s.start == 9  # the middle of the 6-frame silent run at frames 6-11
    assert finals[0].end == 0.12
    assert s.partial()[0].text == "ABEAB"


def test_max_segment_without_silence_cuts_everything():
    """A segment with no silent frame at all is still cut at the limit."""
    s = stitcher(max_segment_frames=6, hop_frames=1, lookahead_frames=1)
    events = commit_windows(s, "HEHEHEH")
    assert [e.text for e in events if isinstance(e, Final)] == ["HEHEHEH"]


def test_partials_only_when_text_changes_with_stable_and_unstable_parts():
    """Partials come only on a text change; stable + unstable == text; tentative frames are unstable."""
    s = stitcher()
    commit_windows(s, "_HE")
    s.set_tentative(ids_of("L"), [0.5])
    (first,) = s.partial()
    assert (first.text, first.stable, first.unstable) == ("HEL", "HE", "L")
    s.set_tentative(ids_of("_L"), [0.5, 0.5])
    assert s.partial() == []  # same text: nothing sent
    commit_windows(s, "L")
    s.set_tentative(ids_of(" B"), [0.5, 0.5])
    (second,) = s.partial()
    assert isinstance(second, Partial) and second.text == "HEL B" and second.stable == "HEL"
    assert second.stable + second.unstable == second.text


def test_flush_commits_tentative_frames():
    """finalize/close take the tentative tail into the final."""
    s = stitcher()
    commit_windows(s, "_HE")
    s.set_tentative(ids_of("LLO"), [0.8] * 3)
    (final,) = settled(s.flush())
    assert final.text == "HELO" and final.end == 0.12


def test_special_tokens_never_reach_the_text():
    """<s>, </s> and <unk> frames decode like blanks: no markup in a transcript."""
    bos, eos, unk = (VOCAB.ids[t] for t in ("<s>", "</s>", "<unk>"))
    decoded = VOCAB.decode_frames([H, bos, E, unk, L, eos, L, O])
    assert decoded.text == "HELLO"


def test_a_segment_that_ends_is_reported_as_work_not_decoded():
    """The stitcher runs no model: a segment that ends comes back as a SegmentEnd naming its stream
    frames, the utterance it belongs to and the windows' ids, for the model's owner to decode."""
    s = stitcher()
    events = []
    for window in ("____", "_HE_LO", "_____"):
        events += s.commit(ids_of(window), [0.9] * len(window))
    [end] = [e for e in events if isinstance(e, SegmentEnd)]
    assert (end.segment, end.start, end.stop, end.utterance) == (0, 4, 15, 4)  # leading silence is dropped
    assert list(end.ids) == ids_of("_HE_LO_____")
    assert not any(isinstance(e, Final) for e in events)


def test_the_stitcher_imports_no_model_code_and_takes_no_callback():
    """The stitcher is pure: it imports nothing that runs a model, and nothing it is built with can run one
    (``partials``, a phrase grammar's search over the frames' ids and probabilities, runs none either)."""
    import ast
    import inspect
    from pathlib import Path

    import streamer.core.stitch as stitch

    tree = ast.parse(Path(stitch.__file__).read_text())
    imported = {n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)}
    imported |= {a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
    assert not {m for m in imported if m and (m.startswith(("torch", "model.hubert", "model.loading", "model.decoding", "streamer.core.recognizer", "streamer.core.batch")))}
    assert list(inspect.signature(Stitcher).parameters) == ["vocab", "config", "partials"]
    assert "Callable" not in Path(stitch.__file__).read_text()


def test_an_utterance_begins_after_a_pause_and_goes_on_through_a_finalize():
    """The final pass's history: none for a segment after a pause (its first word is where the silence
    ends), the utterance so far for one a finalize cut out of speech."""
    s = stitcher()
    commit_windows(s, "___HE_LO______", "___")  # a pause ends the first segment; silence follows
    assert s.start == s.utterance == 17  # the silence after the pause is dropped: no history
    commit_windows(s, "__HE_L_LO ___B")
    assert s.utterance == 17
    [end] = [e for e in s.end_at(10) if isinstance(e, SegmentEnd)]  # finalize inside speech
    assert (end.start, end.utterance) == (17, 17)
    assert (s.start, s.utterance) == (27, 17)  # the next segment's history reaches back to the utterance


def test_a_segment_without_speech_ends_with_nothing_to_decode():
    """Silence ends without a SegmentEnd (no final pass, no final)."""
    s = stitcher()
    assert s.commit(ids_of("__________"), [0.9] * 10) == []
    assert s.flush() == []


@settings(max_examples=300, deadline=None, derandomize=True)
@given(
    frames=st.lists(st.integers(0, 33), max_size=60),  # 32 tokens + ids past the vocabulary
    cut=st.integers(0, 60),
)
def test_incremental_text_equals_full_decoding(frames, cut):
    """The partials' run-by-run text, however the frames are split, is decode_frames' text."""
    vocab = VOCAB
    head, tail = frames[:cut], frames[cut:]
    state = vocab.extend_text(("", ""), collapse(head))
    state = vocab.extend_text(state, collapse(tail, head[-1] if head else None))
    assert vocab.state_text(state) == vocab.decode_frames(frames).text
