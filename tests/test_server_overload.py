"""Overload: flooders, a fast sender and a client that reads nothing, beside an honest live stream.

What each gets is asserted here; how long the live stream waits meanwhile is a figure of
bench/bench_overload.py (a contended core, alternating runs with and without the aggressors).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
import time

import numpy as np
import pytest
import test_server as shared
from test_server import final_texts, messages_until_close, running_server, stream_clip, url
from test_server_limits import wait_until
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from streamer.server import session as session_module
from streamer.server.session import CLOSE_TIMEOUT

demo_folder, demo, clips, reference = shared.demo_folder, shared.demo, shared.clips, shared.reference  # fixtures
pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")

FLOOD_MESSAGE = 65_536  # bytes: 32,768 int16 samples, 2.05 s of speech
FLOOD_MESSAGES = 12  # per flooder, sent as fast as the server takes them (the socket buffers take them all)
FLOODERS = 4
FAST_PACE = 8.0  # times real time


@pytest.fixture(scope="module")
def speech(clips) -> np.ndarray:
    """About 30 s of int16 speech: the two examples with 1 s pauses, twice."""
    gap = np.zeros(16_000, np.int16)
    return np.tile(np.concatenate([clips["weather"], gap, clips["hello"], gap]), 2)


def test_flooders_a_fast_sender_and_a_non_reader_beside_a_live_stream(
    demo, clips, reference, speech, monkeypatch, caplog
):
    """Four 64 KB flooders then eof, and an 8x sender: exact finals, done, 1000 (never a keepalive 1011).
    A client that reads nothing: 4008 after the write timeout, its slot freed. A real-time neighbour: exact finals."""
    from streamer.core.files import transcribe_stream

    monkeypatch.setattr(session_module, "WRITE_TIMEOUT", 1.0)
    flood = speech[: FLOOD_MESSAGES * FLOOD_MESSAGE // 2]
    fast = speech[: 20 * 16_000]
    expected_flood = final_texts(transcribe_stream(demo, flood, 16_000))
    expected_fast = final_texts(transcribe_stream(demo, fast, 16_000))
    caplog.set_level(logging.INFO, logger="streamer.server.app")
    with running_server(demo) as server:

        async def flooder():
            async with connect(url(server), compression=None, ping_timeout=None) as ws:
                reader = asyncio.ensure_future(messages_until_close(ws))
                for first in range(0, len(flood), FLOOD_MESSAGE // 2):
                    await ws.send(flood[first : first + FLOOD_MESSAGE // 2].tobytes())
                await ws.send('{"type":"eof"}')
                return await reader, ws.close_code

        async def non_reader():
            """A second of speech, then junk (each message earns an error event) as fast as it can; never reads a byte."""
            sock = socket.socket()
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
            sock.connect(("127.0.0.1", server.port))
            ws = await connect(url(server), sock=sock, compression=None, ping_timeout=None, max_queue=1)
            start = time.monotonic()
            with contextlib.suppress(ConnectionClosed):
                for first in range(0, 16_000, 1_600):
                    await ws.send(speech[first : first + 1_600].tobytes())
                while not server.metrics.errors.get("write_timeout") and time.monotonic() - start < 30:
                    await ws.send("x")
            await wait_until(lambda: server.metrics.errors.get("write_timeout"), 20)
            ws.transport.abort()
            return ws

        async def scenario():
            live = asyncio.ensure_future(stream_clip(url(server), clips["weather"], pace=1.0))
            await asyncio.sleep(0.3)
            aggressors = [flooder() for _ in range(FLOODERS)]
            aggressors.append(stream_clip(url(server), fast, pace=FAST_PACE, compression=None, ping_timeout=None))
            *outcomes, _ = await asyncio.gather(*aggressors, non_reader())
            await wait_until(lambda: not server.http.slots, CLOSE_TIMEOUT + 5)  # every slot back, the non-reader's too
            return outcomes, await live

        outcomes, (live_events, live_code) = asyncio.run(asyncio.wait_for(scenario(), 120))
    for (events, code), expected in zip(outcomes, [expected_flood] * FLOODERS + [expected_fast], strict=True):
        assert code == 1000 and events[-1].type == "done"
        assert final_texts(events) == expected
        assert not [e for e in events if e.type == "error"]
    assert live_code == 1000 and final_texts(live_events) == reference["weather"]
    closes = [
        r.getMessage().split(" closed (")[1].split(")")[0] for r in caplog.records if " closed (" in r.getMessage()
    ]
    assert sorted(closes) == ["1000"] * (FLOODERS + 2) + ["4008"]  # the non-reader's: 4008, nothing else


def test_a_live_stream_does_not_wait_behind_streams_ahead_of_real_time(demo, speech):
    """Eight streams queued far ahead of real time: a live stream's audio is recognized after a few of
    their hops (they take turns), not after a hop of each of them per round."""
    from streamer.core.config import StreamingConfig
    from streamer.server.worker import AHEAD_HOPS, InferenceWorker

    audio = speech.astype(np.float32) / 32768

    async def scenario() -> int:
        worker = InferenceWorker(lambda: demo, StreamingConfig())
        worker.start()
        await worker.loaded
        live = worker.open(lambda events: None)
        await worker.submit(live, "audio", np.zeros(1_600, np.float32))  # open: its recognizer exists
        batches: list[tuple[int, bool]] = []  # (windows, whether one is the live stream's)
        run_hops = worker._run_hops

        def spy(requests, by_recognizer) -> None:
            batches.append((len(requests), any(by_recognizer[r.recognizer] is live for r in requests)))
            run_hops(requests, by_recognizer)

        worker._run_hops = spy
        later = time.monotonic() + 100.0  # a live source would have this audio in 100 s
        for _ in range(8):
            backlog = worker.open(lambda events: None)
            for first in range(0, 10 * 16_000, 16_000):
                worker.submit(backlog, "audio", audio[first : first + 16_000], live_at=later)
        await asyncio.sleep(0.3)  # the backlog is being recognized
        before = len(batches)
        await worker.submit(live, "audio", audio[16_000:25_600])  # 0.6 s of speech: two hops
        after = batches[before:]
        worker.stop()
        return sum(windows - mine for windows, mine in after), [windows for windows, mine in after if mine]

    others, live_batches = asyncio.run(scenario())
    # Live hops run alone, never beside a backlog hop; backlog hops run between rounds: the batch
    # running when the audio came, the round that finds it done, and one more that may start before
    # the loop hears. Without turns each round carried all eight: at least 16.
    assert live_batches == [1, 1], f"the live stream's hops ran in batches of {live_batches}"
    assert others <= 3 * AHEAD_HOPS < 8, f"{others} hops of the backlog ran before the live audio's"
