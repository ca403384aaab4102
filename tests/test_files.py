"""The fast whole-file path: offline decoding in long chunks, with the live stream's events."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import finals_of

from streamer import FileRecognizer, Partial, transcribe_file
from streamer.core import files
from training.metrics import cer
from training.speech import SENTENCES

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


@pytest.mark.parametrize("chunk_frames", [files.CHUNK_FRAMES, 300])  # 300: several chunks over the 16 s
def test_file_finals_are_as_accurate_as_offline(demo, long_speech, monkeypatch, chunk_frames):
    """Against the spoken text, the file path's finals are at least as accurate as offline decoding."""
    monkeypatch.setattr(files, "CHUNK_FRAMES", chunk_frames)
    audio, spans = long_speech
    text = " ".join(SENTENCES)
    finals = finals_of(transcribe_file(demo, audio, 16_000))
    assert cer([text], [" ".join(f.text for f in finals)]) <= cer([text], [demo.transcribe(audio).text])
    assert [f.segment for f in finals] == list(range(len(spans)))  # one final per sentence, numbered
    for final, (start, end) in zip(finals, spans):
        assert start - 0.2 <= final.start < final.end <= end + 0.2
        assert final.words and final.words[0].start == final.start


def test_file_events_do_not_depend_on_block_sizes(demo, long_speech, monkeypatch):
    """Blocks of any size give the same events as the whole recording at once."""
    monkeypatch.setattr(files, "CHUNK_FRAMES", 300)
    audio = long_speech[0]
    whole = FileRecognizer(demo)
    expected = whole.accept(audio) + whole.close()
    recognizer, events, position = FileRecognizer(demo), [], 0
    for size in [1, 7_000, 333, 48_000, 16_000] * 10:
        events += recognizer.accept(audio[position : position + size])
        position += size
    events += recognizer.accept(audio[position:]) + recognizer.close()
    assert events == expected


def test_file_partials_grow_to_the_final(demo, long_speech):
    """Partials come before each final, with nothing tentative, and the last one is the final's text."""
    events = list(transcribe_file(demo, long_speech[0], 16_000))
    for final in finals_of(events):
        partials = [e for e in events if isinstance(e, Partial) and e.segment == final.segment]
        assert partials and all(p.unstable == "" for p in partials)
        assert partials[-1].text == final.text


@pytest.mark.parametrize("samples", [0, 1, 399, 400, 4_000])
def test_tiny_or_silent_files_give_no_finals(demo, samples):
    """Empty, sub-frame and silent recordings close cleanly with no finals."""
    assert finals_of(transcribe_file(demo, np.zeros(samples, np.float32), 16_000)) == []
