"""The finals of the bundled recordings, pinned: a change to the core that alters any of them shows here.

``pinned_finals.json`` holds, per recording, the finals (text and word times, rounded to 10 ms) of
each way in: a live stream, a live stream with a finalize every 2.5 s, the same streams batched
through one engine, the fast file path, and offline ``model.transcribe``. Regenerate it only for a
change that means to alter what users get, and say so in the commit.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import soundfile as sf

from conftest import finals_of

ROOT = Path(__file__).resolve().parents[1]
PINNED = json.loads((Path(__file__).parent / "pinned_finals.json").read_text())
BLOCK = 4_000  # samples per accept, 0.25 s
FINALIZE_EVERY = 40_000  # samples between two finalize() calls, 2.5 s


def _finals(events) -> list:
    return [[e.text, [[w.word, round(w.start, 2), round(w.end, 2)] for w in e.words]] for e in finals_of(events)]


def _clip(name: str):
    audio, rate = sf.read(ROOT / name, dtype="float32")
    return audio, rate


@pytest.mark.parametrize("name", sorted(PINNED))
def test_live_stream_finals_are_pinned(demo, name):
    """A live stream of each bundled recording gives the pinned finals, word times included."""
    from streamer.core.files import transcribe_stream

    audio, rate = _clip(name)
    assert _finals(transcribe_stream(demo, audio, rate)) == PINNED[name]["stream"]


@pytest.mark.parametrize("name", sorted(PINNED))
def test_finals_with_finalize_cuts_are_pinned(demo, name):
    """A live stream cut by finalize() every 2.5 s gives the pinned finals."""
    from streamer import Recognizer

    audio, _ = _clip(name)
    recognizer, events = Recognizer(demo), []
    for start in range(0, len(audio), BLOCK):
        events += recognizer.accept(audio[start : start + BLOCK])
        if start and start % FINALIZE_EVERY == 0:
            events += recognizer.finalize()
    events += recognizer.close()
    assert _finals(events) == PINNED[name]["finalize"]


def test_batched_finals_are_pinned(demo):
    """The recordings streamed side by side through one engine give the pinned finals."""
    from conftest import stream_batched

    names = list(PINNED)
    got = stream_batched(demo, [_clip(n)[0] for n in names], block=4_800)
    assert {n: _finals(e) for n, e in zip(names, got)} == {n: PINNED[n]["batched"] for n in names}


@pytest.mark.parametrize("name", sorted(PINNED))
def test_file_and_offline_text_are_pinned(demo, name):
    """The fast file path and offline transcription give the pinned text."""
    from model import transcribe
    from streamer.core.files import transcribe_file

    audio, rate = _clip(name)
    assert _finals(transcribe_file(demo, audio, rate)) == PINNED[name]["file"]
    assert transcribe(demo, audio).text == PINNED[name]["offline"]
