"""Session resume: acks in the client's frames, a resumed session continuing the stream, and the
Python client resuming by itself when its connection drops. One in-process server, the demo model,
speech in voices held out of training."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import json

import numpy as np
import pytest
import test_server as shared
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from clients.client import ResumeError, StreamClient, Unacknowledged
from streamer.wire.events import Ack, Done, Final, Partial, Ready, Resume
from streamer.wire.units import FRAME_SECONDS, SAMPLE_RATE
from training.metrics import cer
from training.speech import PAUSE_SECONDS, SENTENCES, trim
from training.synth import HELDOUT_VOICES, synthesize

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")

demo_folder, demo = shared.demo_folder, shared.demo  # fixtures
running_server, url, messages_until_close = shared.running_server, shared.url, shared.messages_until_close

LEAD_SECONDS = 0.5  # silence before the first sentence
TAIL_SECONDS = 0.8  # and after the last


@functools.lru_cache(maxsize=16)
def heldout_speech(index: int, sentences: int = 4) -> np.ndarray:
    """About 12-15 s of int16 16 kHz speech: ``sentences`` sentences in held-out voice ``index``,
    1.2 s pauses between them (each ends a segment)."""
    voice = HELDOUT_VOICES[index % len(HELDOUT_VOICES)]
    parts = [np.zeros(int(LEAD_SECONDS * SAMPLE_RATE), np.float32)]
    for i in range(sentences):
        parts.append(trim(synthesize(SENTENCES[(index + i) % len(SENTENCES)], voice)))
        gap = PAUSE_SECONDS if i + 1 < sentences else TAIL_SECONDS
        parts.append(np.zeros(int(gap * SAMPLE_RATE), np.float32))
    return (np.clip(np.concatenate(parts), -1, 1) * 32767).astype(np.int16)


def joined(finals: list[Final]) -> str:
    return " ".join(f.text for f in finals if f.text)


def assert_continuous(finals: list[Final]) -> None:
    """Segments numbered 0, 1, 2...; finals and their words in time order, none overlapping the
    one before by more than a frame."""
    assert [f.segment for f in finals] == list(range(len(finals))), [f.segment for f in finals]
    words = [w for f in finals for w in f.words]
    for before, after in zip(words, words[1:]):
        assert after.start >= before.end - FRAME_SECONDS - 1e-6, (before, after)
        assert after.start >= before.start
    for f in finals:
        assert f.start <= f.end


async def plain_session(address: str, audio: np.ndarray, rate: int = SAMPLE_RATE, resume: dict | None = None):
    """A raw websocket session (no client library): config (with ``resume``), all the audio, eof."""
    async with connect(address) as ws:
        await ws.send(json.dumps({"type": "config", "sample_rate": rate, **({"resume": resume} if resume else {})}))
        chunk = rate // 10
        for first in range(0, len(audio), chunk):
            await ws.send(audio[first : first + chunk].tobytes())
        await ws.send('{"type":"eof"}')
        return await messages_until_close(ws), ws.close_code


# ----- the protocol ------------------------------------------------------------------------------


@pytest.mark.parametrize("rate", [16_000, 44_100])
def test_acks_count_the_clients_frames_and_follow_every_final(demo, rate):
    """With a resume point, every final is followed by an ack (offset in the client's frames at its
    own rate, growing; the next segment's number); the last ack before done covers all the audio.
    Without one, the session's events are exactly what they were: no acks, the same finals."""
    import soxr

    audio16 = heldout_speech(0)
    audio = audio16 if rate == SAMPLE_RATE else soxr.resample(audio16, SAMPLE_RATE, rate).astype(np.int16)
    with running_server(demo) as server:
        resumable, code = asyncio.run(plain_session(url(server), audio, rate, {"offset": 0, "segment": 0}))
        plain, plain_code = asyncio.run(plain_session(url(server), audio, rate))
    assert code == plain_code == 1000
    recognized = (Partial, Final)  # lag events depend on the machine's load
    assert [e for e in resumable if isinstance(e, recognized)] == [e for e in plain if isinstance(e, recognized)]
    assert not any(isinstance(e, Ack) for e in plain)
    assert [e.resume for e in resumable if isinstance(e, Ready)][-1] == Resume(0, 0)
    acks = [e for e in resumable if isinstance(e, Ack)]
    offsets = [a.offset for a in acks]
    assert offsets == sorted(set(offsets)) and 0 < offsets[0]
    for i, event in enumerate(resumable):
        if isinstance(event, Final):
            after = resumable[i + 1]
            assert isinstance(after, Ack) and after.segment == event.segment + 1
            assert after.offset >= round(event.end * rate) - rate // 100  # the final's audio is covered
    assert isinstance(resumable[-1], Done) and acks[-1] == Ack(len(audio), len([e for e in resumable if isinstance(e, Final)]))


def test_a_session_resumed_at_an_ack_continues_the_stream(demo):
    """A session cut after its second final: a new one opened at that final's ack with the audio after
    it gives the rest; joined, the finals read like the uninterrupted run's (within 2% of characters),
    numbered on, with times on the same clock."""
    audio = heldout_speech(1)
    with running_server(demo) as server:
        whole, _ = asyncio.run(plain_session(url(server), audio, resume={"offset": 0, "segment": 0}))
        reference = [e for e in whole if isinstance(e, Final)]
        acks = [e for e in whole if isinstance(e, Ack)]
        cut = acks[1]  # the ack after the second final
        first = reference[: cut.segment]
        rest, code = asyncio.run(
            plain_session(url(server), audio[cut.offset :], resume={"offset": cut.offset, "segment": cut.segment})
        )
    assert code == 1000
    assert [e.resume for e in rest if isinstance(e, Ready)][-1] == Resume(cut.offset, cut.segment)
    resumed = first + [e for e in rest if isinstance(e, Final)]
    assert_continuous(resumed)
    assert cer([joined(reference)], [joined(resumed)]) <= 0.02, (joined(reference), joined(resumed))
    for old, new in zip(reference, resumed):
        assert abs(old.start - new.start) <= 0.1 and abs(old.end - new.end) <= 0.1
    assert [a.offset for a in rest if isinstance(a, Ack)][-1] == len(audio)


# ----- the client --------------------------------------------------------------------------------


def test_unacknowledged_audio_is_kept_bounded_and_replayed_from_any_frame():
    """The client's store of unacknowledged audio: trimmed by acks, read back from any frame, and a
    ResumeError (not a silent loss) past its limit."""
    store = Unacknowledged(frame_bytes=2, limit_frames=10)
    store.append(bytes(range(8)))  # frames 0-3
    store.append(bytes(range(8, 16)))  # frames 4-7
    assert store.after(2) == bytes([4, 5, 6, 7]) and store.after(4) == bytes(range(8, 16)) and store.after(8) is None
    store.acknowledge(5)
    assert store.frames == 3 and len(store.blocks) == 1 and store.after(5) == bytes(range(10, 16))
    store.append(bytes(14))  # 3 + 7 = 10 frames: at the limit
    with pytest.raises(ResumeError, match="not acknowledged"):
        store.append(bytes(2))


async def stream_with_client(address: str, audio: np.ndarray, pace: float, on_event=None, **client_args):
    """Stream ``audio`` through StreamClient at ``pace`` times real time; (events, client)."""
    async with StreamClient(address, **client_args) as client:

        async def send() -> None:
            loop = asyncio.get_running_loop()
            start = loop.time()
            for i, first in enumerate(range(0, len(audio), 1_600)):
                await asyncio.sleep(max(0.0, start + i * 0.1 / pace - loop.time()))
                await client.send_audio(audio[first : first + 1_600])
            await client.eof()

        sender = asyncio.ensure_future(send())
        events = []
        async for event in client.events():
            events.append(event)
            if on_event is not None:
                on_event(event)
        with contextlib.suppress(ConnectionClosed):  # a client without resume: its sending just stops
            await sender
        return events, client


def test_the_client_resumes_when_its_connection_drops(demo):
    """The server side of a live stream's connection is torn down mid-sentence (no close frame, as
    when a replica dies): the client reconnects, replays what was not acknowledged, and its events
    read as one stream: the same transcript, no final twice, continuous times, done at the end."""
    audio = heldout_speech(2)
    with running_server(demo) as server:
        whole, _ = asyncio.run(plain_session(url(server), audio))
        reference = [e for e in whole if isinstance(e, Final)]

        def drop(event) -> None:
            if isinstance(event, Partial) and event.segment == 1 and not dropped:
                dropped.append(event)
                server.loop.call_soon_threadsafe(lambda: [s.ws.transport.abort() for s in server._sessions])

        dropped: list = []
        events, client = asyncio.run(asyncio.wait_for(stream_with_client(url(server), audio, 4.0, drop), 60))
    assert dropped, "the stream was never cut"
    assert client.resumes == 1 and client.close_code == 1000
    finals = [e for e in events if isinstance(e, Final)]
    assert_continuous(finals)
    assert cer([joined(reference)], [joined(finals)]) <= 0.02, (joined(reference), joined(finals))
    assert isinstance(events[-1], Done) and sum(isinstance(e, Ready) for e in events) == 2  # the first session's
    assert not any(isinstance(e, Ack) for e in events)


def test_a_client_without_resume_ends_with_the_broken_connection(demo):
    """resume=False: the client is one session, as before: a dropped connection ends the events (1006)."""
    audio = heldout_speech(2)
    with running_server(demo) as server:

        def drop(event) -> None:
            if isinstance(event, Partial):
                server.loop.call_soon_threadsafe(lambda: [s.ws.transport.abort() for s in server._sessions])

        events, client = asyncio.run(asyncio.wait_for(stream_with_client(url(server), audio, 4.0, drop, resume=False), 60))
    assert client.close_code == 1006 and client.resumes == 0
    assert not any(isinstance(e, Done) for e in events)


def test_a_stopping_server_hands_resumable_sessions_back_with_1012(demo):
    """Shutdown mid-sentence: a session with a resume point gets the finals and acks made so far, then
    1012 at once (its unfinished segment is the client's to replay elsewhere, not flushed mid-word);
    a session without one still gets the final of everything it sent, then 1001."""
    audio = heldout_speech(3)

    async def scenario(server, resume: dict | None):
        async with connect(url(server)) as ws:
            await ws.send(json.dumps({"type": "config", **({"resume": resume} if resume else {})}))
            for first in range(0, len(audio) // 2, 1_600):  # half the speech, then shutdown
                await ws.send(audio[first : first + 1_600].tobytes())
            await asyncio.sleep(0.5)
            asyncio.run_coroutine_threadsafe(server.shutdown(), server.loop)
            return await messages_until_close(ws), ws.close_code

    with running_server(demo) as server:
        events, code = asyncio.run(scenario(server, {"offset": 0, "segment": 0}))
    assert code == 1012
    finals, acks = [e for e in events if isinstance(e, Final)], [e for e in events if isinstance(e, Ack)]
    assert finals and acks[-1].segment == len(finals) and acks[-1].offset < len(audio) // 2
    assert finals[-1].end <= acks[-1].offset / SAMPLE_RATE
    with running_server(demo) as server:
        events, code = asyncio.run(scenario(server, None))
    assert code == 1001 and len([e for e in events if isinstance(e, Final)]) > len(finals)  # the flushed half-sentence
