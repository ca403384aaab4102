"""A `finalize` (native protocol) or a `reset` (Vosk) at random points inside speech, through a real
server: the joined finals say what the same stream says without them (at most 1% of characters
apart over 40 cuts, no word missing), as ``finalize()`` does on the recognizer (tests/test_streaming.py)."""

from __future__ import annotations

import asyncio
import json

import numpy as np
import pytest
import test_server as shared
from websockets.asyncio.client import connect

from streamer.wire.events import Final, parse_event
from training.fidelity import LEAD_SAMPLES, CutReport
from training.speech import short_utterances

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")

demo_folder, demo = shared.demo_folder, shared.demo  # fixtures
CHUNK = 3_200  # 0.2 s of int16 samples per message
CLIPS = 20
CUTS_PER_CLIP = 2
MAX_DIFFERENCE = 0.01


def streams_with_cuts() -> list[tuple[np.ndarray, list[int]]]:
    """Short held-out sentences as int16 after 0.25 s of silence, each with two random cut points
    between its first and last audible sample."""
    rng = np.random.default_rng(1)
    out = []
    for clip in short_utterances()[1][:CLIPS]:
        audio = np.concatenate([np.zeros(LEAD_SAMPLES, np.int16), (np.clip(clip, -1, 1) * 32767).astype(np.int16)])
        loud = np.flatnonzero(np.abs(audio) > 32)
        out.append((audio, np.sort(rng.integers(loud[0], loud[-1], CUTS_PER_CLIP)).tolist()))
    return out


def pieces(audio: np.ndarray, cuts: list[int]) -> list[np.ndarray]:
    """The audio between the cuts, each in messages of at most ``CHUNK`` samples."""
    bounds = [0, *cuts, len(audio)]
    return [audio[a:b] for a, b in zip(bounds, bounds[1:])]


async def native(server, audio: np.ndarray, cuts: list[int]) -> str:
    async with connect(shared.url(server)) as ws:
        await ws.recv()  # ready
        for n, piece in enumerate(pieces(audio, cuts)):
            if n:
                await ws.send('{"type":"finalize"}')
            for first in range(0, len(piece), CHUNK):
                await ws.send(piece[first : first + CHUNK].tobytes())
        await ws.send('{"type":"eof"}')
        events = await shared.messages_until_close(ws)
    return " ".join(e.text for e in events if isinstance(e, Final))


async def vosk(server, audio: np.ndarray, cuts: list[int]) -> str:
    replies = []
    async with connect(shared.url(server, "")) as ws:
        await ws.send('{"config": {"sample_rate": 16000}}')
        for n, piece in enumerate(pieces(audio, cuts)):
            if n:
                await ws.send('{"reset": 1}')
                replies.append(json.loads(await ws.recv()))
            for first in range(0, len(piece), CHUNK):
                await ws.send(piece[first : first + CHUNK].tobytes())
                replies.append(json.loads(await ws.recv()))
        await ws.send('{"eof" : 1}')
        replies.append(json.loads(await ws.recv()))
    return " ".join(r["text"] for r in replies if r.get("text")).upper()


@pytest.mark.parametrize("protocol", ["native", "vosk"])
def test_cuts_through_the_server_lose_nothing(demo, protocol):
    """40 finalize (native) or reset (Vosk) messages inside speech: joined finals within 1% of the uncut stream's."""
    send = native if protocol == "native" else vosk
    report = CutReport()
    with shared.running_server(demo, protocol=protocol) as server:
        for audio, points in streams_with_cuts():
            uncut = asyncio.run(asyncio.wait_for(send(server, audio, []), 60))
            report.add(uncut, asyncio.run(asyncio.wait_for(send(server, audio, points), 60)), points)
    print(f"\n{protocol}: {report.cuts} cuts, joined finals {report.difference:.2%} of characters from the uncut streams'")
    assert not report.lost, "\n".join(report.lost)
    assert report.cuts >= 40 and report.difference <= MAX_DIFFERENCE
