"""The websocket server: real servers on port 0, real websocket clients, the demo model."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed, InvalidStatus

from streamer.server import ServerOptions, StreamServer
from streamer.wire.events import Final, Partial, parse_event
from streamer.wire.protocol import NATIVE_PATH
from training.metrics import cer

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")

REPO = Path(__file__).resolve().parent.parent
EXAMPLES = REPO / "examples"
CHUNK = 1_600  # 0.1 s at 16 kHz


# ----- shared helpers (test_vosk.py and test_clients.py import these) ----------------------------


@pytest.fixture(scope="session")
def demo_folder(tmp_path_factory) -> Path:
    """A private copy of the demo model: training rewrites model/demo every few minutes."""
    from model import load_model
    from model.loading import DEMO_MODEL_DIR

    if not (DEMO_MODEL_DIR / "config.json").is_file():
        pytest.skip("the demo model is not trained yet (python -m training.train)")
    target = tmp_path_factory.mktemp("demo") / "model"
    for _ in range(5):  # a copy taken mid-rewrite fails to load; take another
        shutil.rmtree(target, ignore_errors=True)
        shutil.copytree(DEMO_MODEL_DIR, target)
        try:
            load_model(target, device="cpu")
            return target
        except (ValueError, RuntimeError, OSError):
            time.sleep(2)
    raise RuntimeError("could not copy a loadable demo model")


@pytest.fixture(scope="session")
def demo(demo_folder):
    from model import load_model

    return load_model(demo_folder, device="cpu")


@pytest.fixture(scope="session")
def clips() -> dict[str, np.ndarray]:
    """The example recordings as int16 16 kHz mono."""
    return {name: sf.read(EXAMPLES / f"{name}.wav", dtype="int16")[0] for name in ("hello", "weather")}


@pytest.fixture(scope="session")
def reference(demo, clips) -> dict[str, list[str]]:
    """The texts of ``transcribe_stream``'s finals for each example: what the server must send."""
    from streamer.core.files import transcribe_stream

    texts = {name: final_texts(transcribe_stream(demo, audio, 16_000)) for name, audio in clips.items()}
    assert all(texts.values()), "the demo model recognizes nothing in the examples: is it trained?"
    return texts


def final_texts(events) -> list[str]:
    return [e.text for e in events if isinstance(e, Final)]


@contextlib.contextmanager
def running_server(model, streaming=None, **options):
    """A StreamServer on port 0 in its own thread and event loop, like a real process
    (``streaming``: a StreamingConfig other than the default)."""
    server = StreamServer(model, streaming=streaming, options=ServerOptions(port=0, **options))
    loop = asyncio.new_event_loop()
    started, stop = threading.Event(), asyncio.Event()

    async def main() -> None:
        await server.start()
        await server.worker.loaded
        started.set()
        await stop.wait()
        await server.shutdown()

    thread = threading.Thread(target=loop.run_until_complete, args=(main(),), daemon=True)
    thread.start()
    assert started.wait(30), "the server did not start"
    server.loop = loop
    try:
        yield server
    finally:
        loop.call_soon_threadsafe(stop.set)
        thread.join(30)
        loop.close()


def url(server, path: str = NATIVE_PATH) -> str:
    return f"ws://127.0.0.1:{server.port}{path}"


def http_get(server, path: str, headers: dict[str, str] | None = None) -> tuple[int, dict[str, str], bytes]:
    request = urllib.request.Request(f"http://127.0.0.1:{server.port}{path}", headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as e:
        return e.code, dict(e.headers), e.read()


async def stream_clip(
    address: str, audio: np.ndarray, pace: float | None = None, config: dict | None = None, headers=None, **connect_args
):
    """Send ``audio`` (int16 16 kHz unless ``config`` says otherwise) in 0.1 s messages, then eof.

    ``pace``: times real time (None: as fast as the server takes it). Returns (events, close code).
    """
    rate = (config or {}).get("sample_rate", 16_000)
    chunk = rate // 10
    async with connect(address, additional_headers=headers, **connect_args) as ws:
        if config is not None:
            await ws.send(json.dumps({"type": "config", **config}))

        async def send() -> None:
            start = time.monotonic()
            with contextlib.suppress(ConnectionClosed):  # the server may end the session first
                for i, first in enumerate(range(0, len(audio), chunk)):
                    if pace:
                        await asyncio.sleep(max(0.0, start + i * 0.1 / pace - time.monotonic()))
                    await ws.send(audio[first : first + chunk].tobytes())
                await ws.send('{"type":"eof"}')

        sender = asyncio.ensure_future(send())
        events = await messages_until_close(ws)
        await sender
        return events, ws.close_code


async def alongside(server, clip: np.ndarray, expected: list[str], scenario, headers=None):
    """Run ``scenario`` while a live session streams ``clip`` at 4x real time; check the live finals."""
    live = asyncio.ensure_future(stream_clip(url(server), clip, pace=4.0, headers=headers))
    await asyncio.sleep(0.2)
    outcome = await scenario()
    events, code = await live
    assert code == 1000 and final_texts(events) == expected, "the concurrent live session was affected"
    return outcome


async def expect_refused(address: str, status: int, **connect_args) -> None:
    with pytest.raises(InvalidStatus) as refused:
        async with connect(address, **connect_args):
            pass
    assert refused.value.response.status_code == status


async def messages_until_close(ws) -> list:
    out = []
    with contextlib.suppress(ConnectionClosed):
        async for message in ws:
            out.append(parse_event(message))
    return out


# ----- the transcript ----------------------------------------------------------------------------


def test_finals_over_the_wire_equal_transcribe_stream(demo, clips, reference):
    """A file sent over the wire gets ready, partials, then exactly transcribe_stream's finals, done and 1000."""
    with running_server(demo) as server:
        events, code = asyncio.run(stream_clip(url(server), clips["weather"]))
    assert code == 1000
    assert events[0].type == "ready" and events[0].sample_rate == 16_000
    assert events[-1].type == "done"
    assert any(isinstance(e, Partial) and e.text for e in events)
    assert final_texts(events) == reference["weather"]


def test_eight_concurrent_streams_get_correct_finals(demo, clips, reference):
    """Eight sessions at once (two at 48 kHz float stereo) each get their file's finals, batched together."""
    import soxr

    from streamer.core.files import transcribe_stream

    stereo48 = soxr.resample(clips["hello"].astype(np.float32) / 32768, 16_000, 48_000).astype(np.float32)
    stereo48 = np.repeat(stereo48[:, None], 2, axis=1)
    expected48 = final_texts(transcribe_stream(demo, stereo48, 48_000))  # resampling may flip a letter
    assert cer([" ".join(reference["hello"])], [" ".join(expected48)]) <= 0.05
    with running_server(demo) as server:

        async def scenario():
            jobs = [stream_clip(url(server), clips[name]) for name in ["hello", "weather"] * 3]
            config = {"sample_rate": 48_000, "encoding": "pcm_f32le", "channels": 2}
            jobs += [stream_clip(url(server), stereo48.reshape(-1, 2), config=config) for _ in range(2)]
            return await asyncio.gather(*jobs)

        results = asyncio.run(scenario())
        batches = server.metrics.batch_size
    expected = [reference["hello"], reference["weather"]] * 3 + [expected48] * 2
    for (events, code), texts in zip(results, expected, strict=True):
        assert code == 1000
        assert final_texts(events) == texts
    assert batches.sum / batches.count > 1.5, "windows of different streams should share forward passes"


# ----- limits: each with a live session alongside --------------------------------------------------


def test_session_cap_gives_503_and_failed_handshakes_leak_no_slot(demo, clips, reference):
    """Over max_sessions a handshake gets 503; broken and abandoned handshakes give their slot back."""
    handshake = b"GET /v1/stream HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
    valid = b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
    with running_server(demo, max_sessions=2) as server:

        async def connect_when_a_slot_frees():
            for _ in range(100):
                try:
                    return await connect(url(server))
                except InvalidStatus as e:
                    assert e.response.status_code == 503
                    await asyncio.sleep(0.05)
            raise AssertionError("a slot leaked: the server stayed full")

        async def scenario():
            answers = []
            for _ in range(3):  # each takes the one free slot and fails halfway through the handshake
                with socket.create_connection(("127.0.0.1", server.port)) as raw:
                    raw.sendall(handshake + b"\r\n")  # no key: refused after the slot check
                    answers.append(raw.recv(12))
                with socket.create_connection(("127.0.0.1", server.port)) as raw:
                    raw.sendall(handshake + valid)  # then hang up without reading the answer
                with socket.create_connection(("127.0.0.1", server.port)) as raw:
                    raw.sendall(handshake)  # never finishes the request
            assert answers[0] == b"HTTP/1.1 400"
            second = await connect_when_a_slot_frees()
            assert parse_event(await second.recv()).type == "ready"
            await expect_refused(url(server), 503)  # the live session and this one fill the cap
            await second.close()
            return await (await asyncio.wait_for(connect_when_a_slot_frees(), 10)).close()

        asyncio.run(alongside(server, clips["weather"], reference["weather"], scenario))
        for _ in range(100):
            if not server.http.slots:
                break
            time.sleep(0.02)
        assert not server.http.slots
        assert server.metrics.rejected["capacity"] >= 1


def test_oversized_message_closes_with_1009(demo, clips, reference):
    """A message over max_message_bytes closes that session with 1009."""
    with running_server(demo, max_message_bytes=64_000) as server:

        async def scenario():
            async with connect(url(server)) as ws:
                await ws.recv()
                await ws.send(bytes(64_002))
                await messages_until_close(ws)
                return ws.close_code

        assert asyncio.run(alongside(server, clips["hello"], reference["hello"], scenario)) == 1009


def test_idle_session_gets_its_final_then_4001(demo, clips, reference):
    """No audio for idle_timeout: the final of what was heard, an idle_timeout error, then close 4001."""
    with running_server(demo, idle_timeout=1.0) as server:

        async def scenario():
            async with connect(url(server)) as ws:
                for first in range(0, len(clips["hello"]), CHUNK):
                    await ws.send(clips["hello"][first : first + CHUNK].tobytes())
                events = await messages_until_close(ws)
                return events, ws.close_code

        events, code = asyncio.run(alongside(server, clips["hello"], reference["hello"], scenario))
    assert code == 4001
    assert final_texts(events) == reference["hello"]
    assert events[-1].type == "error" and events[-1].code == "idle_timeout"


def test_max_session_seconds_counts_the_audio_clock_and_the_wall_clock(demo, clips, reference):
    """4 s of audio, or 4 s of wall clock, whichever comes first: the final of what was kept, max_duration, 4002."""
    from streamer.core.files import transcribe_stream

    limit = 4.0
    with running_server(demo, max_session_seconds=limit, idle_timeout=10) as server:

        async def scenario():
            async with connect(url(server)) as fast:  # 10.9 s of audio at once: the audio clock ends it
                await fast.send(clips["weather"].tobytes())
                by_audio = await messages_until_close(fast), fast.close_code
            async with connect(url(server)) as slow:  # 1 s of audio, then nothing: the wall clock ends it
                start = time.monotonic()
                await slow.send(clips["hello"][:16_000].tobytes())
                by_wall = await messages_until_close(slow), slow.close_code, time.monotonic() - start
            return by_audio, by_wall

        (events, code), (wall_events, wall_code, seconds) = asyncio.run(
            alongside(server, clips["hello"], reference["hello"], scenario)
        )
    kept = clips["weather"][: int(limit * 16_000)]
    assert code == 4002 and final_texts(events) == final_texts(transcribe_stream(demo, kept, 16_000))
    assert events[-1].type == "error" and events[-1].code == "max_duration"
    assert wall_code == 4002 and wall_events[-1].code == "max_duration"
    assert limit <= seconds < limit + 0.5


def test_origins_outside_the_allowed_list_get_403(demo, clips, reference):
    """Browsers from other origins get 403; the server's own origin, listed ones and no Origin are let in."""
    with running_server(demo, allowed_origins=("https://app.example",)) as server:

        async def scenario():
            await expect_refused(url(server), 403, origin="https://evil.example")
            for origin in (f"http://127.0.0.1:{server.port}", "https://app.example", None):
                async with connect(url(server), origin=origin) as ws:
                    assert parse_event(await ws.recv()).type == "ready"

        asyncio.run(alongside(server, clips["hello"], reference["hello"], scenario))
        assert server.metrics.rejected == {"origin": 1}


def test_token_in_header_or_first_message(demo, clips, reference):
    """With --token: a wrong header gets 401, a missing token closes 1008, the right one works either way."""
    with running_server(demo, token="s3cret") as server:

        async def scenario():
            await expect_refused(url(server), 401, additional_headers={"Authorization": "Bearer nope"})
            async with connect(url(server)) as ws:  # a browser with the wrong token in its first message
                await ws.send('{"type":"config","sample_rate":16000,"token":"nope"}')
                events = await messages_until_close(ws)
                assert [e.code for e in events] == ["unauthorized"] and ws.close_code == 1008
            async with connect(url(server)) as ws:  # audio before the token
                await ws.send(bytes(3200))
                await messages_until_close(ws)
                assert ws.close_code == 1008
            async with connect(url(server)) as ws:
                await ws.send('{"type":"auth","token":"s3cret"}')
                assert parse_event(await ws.recv()).type == "ready"
            return await stream_clip(url(server), clips["hello"], headers={"Authorization": "Bearer s3cret"})

        events, code = asyncio.run(
            alongside(server, clips["hello"], reference["hello"], scenario, headers={"Authorization": "Bearer s3cret"})
        )
        assert code == 1000 and final_texts(events) == reference["hello"]


def test_bad_audio_and_garbage_json_get_errors_and_the_session_carries_on(demo, clips, reference):
    """Odd bytes, NaNs and garbage JSON each get an error event; the session still transcribes correctly."""
    with running_server(demo) as server:

        async def scenario():
            async with connect(url(server)) as ws:
                await ws.recv()
                await ws.send("this is not json")
                await ws.send('{"type":"sing"}')
                await ws.send(b"\x00\x01\x02")  # 1.5 samples of s16le
                await ws.send(json.dumps({"type": "config", "sample_rate": 16_000}))  # fine: before audio
                audio = clips["hello"]
                for first in range(0, len(audio), CHUNK):
                    await ws.send(audio[first : first + CHUNK].tobytes())
                await ws.send('{"type":"config","sample_rate":8000}')  # too late: ignored
                await ws.send('{"type":"eof"}')
                return await messages_until_close(ws), ws.close_code

        events, code = asyncio.run(alongside(server, clips["hello"], reference["hello"], scenario))
    assert code == 1000
    errors = [e.code for e in events if e.type == "error"]
    assert errors == ["bad_message", "bad_message", "bad_audio", "bad_message"]
    assert final_texts(events) == reference["hello"]


@pytest.mark.parametrize("step", ["consume", "close"])
def test_a_session_whose_recognition_fails_ends_with_1011_and_the_others_carry_on(
    demo, clips, reference, monkeypatch, step
):
    """A fault in one session's own step (after a shared batch, or its close at eof) ends only that session."""
    from streamer.core.recognizer import Recognizer

    method = step  # the batch driver hands each stream its window through consume()
    init, original = Recognizer.__init__, getattr(Recognizer, method)
    doomed: list[Recognizer] = []  # recognizers created once the scenario starts

    def remember(self, *args, **kwargs):
        init(self, *args, **kwargs)
        if armed:
            doomed.append(self)

    def fail_if_doomed(self, *args):
        if self in doomed and self.samples_recognized > 16_000:
            raise RuntimeError(f"simulated fault in {step}")
        return original(self, *args)

    armed = False
    monkeypatch.setattr(Recognizer, "__init__", remember)
    monkeypatch.setattr(Recognizer, method, fail_if_doomed)
    with running_server(demo) as server:

        async def scenario():
            nonlocal armed
            armed = True
            return await stream_clip(url(server), clips["weather"])

        events, code = asyncio.run(alongside(server, clips["hello"], reference["hello"], scenario))
    assert code == 1011
    assert [e.code for e in events if e.type == "error"] == ["internal"]
    heard = final_texts(events)  # the sentences that ended before the fault, nothing made up
    assert heard == reference["weather"][: len(heard)]


@pytest.mark.parametrize(
    "config",
    [
        {"encoding": "mp3"},
        {"sample_rate": 4_000},
        {"sample_rate": 400_000},
        {"channels": 0},
    ],
)
def test_bad_config_ends_the_session_with_1007(demo, config):
    """An unknown encoding, a rate outside 8-192 kHz or bad channels: bad_config error, close 1007."""
    with running_server(demo) as server:

        async def scenario():
            async with connect(url(server)) as ws:
                await ws.send(json.dumps({"type": "config", **config}))
                return await messages_until_close(ws), ws.close_code

        events, code = asyncio.run(scenario())
    assert code == 1007
    assert events[-1].type == "error" and events[-1].code == "bad_config"


def test_non_finite_floats_are_refused(demo, clips, reference):
    """float32 audio with a NaN gets bad_audio; the rest of the stream is recognized."""
    with running_server(demo) as server:

        async def scenario():
            async with connect(url(server)) as ws:
                await ws.send('{"type":"config","encoding":"pcm_f32le"}')
                await ws.send(np.array([0.0, np.nan], dtype="<f4").tobytes())
                audio = (clips["hello"] / 32768).astype("<f4")
                for first in range(0, len(audio), CHUNK):
                    await ws.send(audio[first : first + CHUNK].tobytes())
                await ws.send('{"type":"eof"}')
                return await messages_until_close(ws)

        events = asyncio.run(alongside(server, clips["hello"], reference["hello"], scenario))
    assert [e.code for e in events if e.type == "error"] == ["bad_audio"]
    assert final_texts(events) == reference["hello"]


def test_finalize_ends_the_segment_now(demo, clips):
    """A finalize message gets a final for the audio so far, before eof."""
    with running_server(demo) as server:

        async def scenario():
            async with connect(url(server)) as ws:
                await ws.send(clips["weather"][: 16_000 * 2].tobytes())
                await ws.send('{"type":"finalize"}')
                async for message in ws:
                    if parse_event(message).type == "final":
                        return True

        assert asyncio.run(asyncio.wait_for(scenario(), 20))


# ----- overload ------------------------------------------------------------------------------------


def test_a_client_faster_than_real_time_is_held_back(demo, clips):
    """Queued audio per session stays near max_buffer_seconds: the server stops reading instead of buffering."""
    from streamer.core.files import transcribe_stream

    with running_server(demo, max_buffer_seconds=1.0) as server:
        peak = 0.0
        done = threading.Event()

        def watch() -> None:
            nonlocal peak
            while not done.is_set():
                peak = max([peak, *(s.feed.pending_seconds for s in list(server._sessions))])
                time.sleep(0.002)

        watcher = threading.Thread(target=watch)
        watcher.start()
        try:
            long = np.tile(clips["weather"], 2)
            events, code = asyncio.run(stream_clip(url(server), long))
        finally:
            done.set()
            watcher.join()
    assert code == 1000 and final_texts(events) == final_texts(transcribe_stream(demo, long, 16_000))
    assert 0.5 < peak <= 1.0 + 0.1 + 1e-6  # the limit plus one 0.1 s message: never more


def test_lag_is_reported_when_inference_falls_behind(demo, clips):
    """Lag over the warning threshold sends lag events (at most one per second) to a real-time client."""
    with running_server(demo, lag_warning_seconds=1e-6) as server:  # any processing time is "behind"
        events, code = asyncio.run(stream_clip(url(server), clips["hello"], pace=1.0))
    lags = [e for e in events if e.type == "lag"]
    assert code == 1000 and 1 <= len(lags) <= 4 and all(e.seconds > 0 for e in lags)


def test_a_fast_sender_is_not_behind_real_time(demo, clips):
    """A file sent faster than real time, on a server faster than real time, gets no lag events.

    The demo model recognizes the clip several times faster than real time, so its lag stays near
    zero; the 2 s threshold leaves a wide margin for a loaded 2-core machine, where a 0.5 s one
    was once crossed (0.54 s) by scheduling noise alone."""
    with running_server(demo, lag_warning_seconds=2.0) as server:
        events, code = asyncio.run(stream_clip(url(server), clips["weather"]))
    assert code == 1000 and not [e for e in events if e.type == "lag"]


# ----- HTTP --------------------------------------------------------------------------------------


def test_healthz_metrics_no_banner_no_compression(demo, clips, tmp_path):
    """healthz is 200, metrics are Prometheus text, no Server header, and no permessage-deflate."""
    with running_server(demo, web_root=tmp_path / "absent") as server:
        status, headers, body = http_get(server, "/healthz")
        assert (status, body) == (200, b"ok\n")
        assert "Server" not in headers
        assert http_get(server, "/")[0] == 404

        async def scenario():
            async with connect(url(server)) as ws:  # the client offers permessage-deflate
                assert "Sec-WebSocket-Extensions" not in ws.response.headers
                assert "Server" not in ws.response.headers
            return await stream_clip(url(server), clips["hello"])

        asyncio.run(scenario())
        for _ in range(100):  # the handlers finish just after the clients see the close
            status, headers, body = http_get(server, "/metrics")
            if b"sessions_active 0" in body:
                break
            time.sleep(0.02)
    text = body.decode()
    assert status == 200 and headers["Content-Type"].startswith("text/plain; version=0.0.4")
    for name in ("sessions_active 0", "sessions_total 2", "audio_seconds_total 3.238", "batch_size_count",
                 "inference_seconds_sum", "queue_lag_seconds_bucket"):  # fmt: skip
        assert f"hubert_stream_{name}" in text


def test_healthz_is_503_until_the_model_is_loaded(demo):
    """While the model loads, /healthz is 503 and handshakes get 503; then both are ready."""
    release = threading.Event()

    def slow_load():
        release.wait(10)
        return demo

    server = StreamServer(load=slow_load, options=ServerOptions(port=0))

    async def scenario():
        await server.start()
        loop = asyncio.get_running_loop()
        status = (await loop.run_in_executor(None, http_get, server, "/healthz"))[0]
        await expect_refused(url(server), 503)
        release.set()
        await server.worker.loaded
        ready = (await loop.run_in_executor(None, http_get, server, "/healthz"))[0]
        await server.shutdown()
        return status, ready

    assert asyncio.run(scenario()) == (503, 200)


def test_static_files_are_served_from_the_web_root(demo, tmp_path):
    """Files under the web root are served at /, with index.html for /; nothing outside it is reachable."""
    web = tmp_path / "web"
    web.mkdir()
    (web / "index.html").write_text("<h1>hi</h1>")
    (tmp_path / "secret.txt").write_text("no")
    with running_server(demo, web_root=web) as server:
        status, headers, body = http_get(server, "/")
        assert (status, body) == (200, b"<h1>hi</h1>") and headers["Content-Type"].startswith("text/html")
        assert http_get(server, "/../secret.txt")[0] == 404
        assert http_get(server, "/%2e%2e/secret.txt")[0] == 404
        assert http_get(server, "/nope.js")[0] == 404
        assert http_get(server, NATIVE_PATH)[0] == 426


def test_nothing_secret_is_logged_even_at_debug(demo, clips, caplog):
    """At DEBUG, the logs hold neither the token, nor the transcript, nor frames."""
    caplog.set_level(logging.DEBUG)
    with running_server(demo, token="s3cret-t0ken") as server:
        events, _ = asyncio.run(
            stream_clip(url(server), clips["hello"], headers={"Authorization": "Bearer s3cret-t0ken"})
        )
    ours = [r for r in caplog.records if r.name.startswith(("streamer", "websockets.server"))]
    text = "\n".join(r.getMessage() for r in ours)
    assert "session" in text  # sessions are logged ...
    assert "s3cret" not in text  # ... but not the token,
    assert "WORLD" not in text and "world" not in text  # nor what was said,
    assert "BINARY" not in text and "TEXT" not in text  # nor websocket frames.
    assert final_texts(events)


# ----- shutdown ----------------------------------------------------------------------------------


def test_sigterm_delivers_every_live_sessions_final(demo_folder, demo, clips, reference):
    """SIGTERM: every live session gets the final of everything it sent, then 1001; the process exits 0."""
    env = {**os.environ, "PYTHONPATH": str(REPO), "OMP_NUM_THREADS": "1"}
    command = [sys.executable, "-m", "streamer", "serve", "--model", str(demo_folder), "--port", "0"]
    process = subprocess.Popen(command, cwd=REPO, env=env, stderr=subprocess.PIPE, text=True)
    try:
        port = None
        for line in process.stderr:
            if "listening on ws://" in line:
                port = int(line.rsplit(":", 1)[1].split("/")[0])
                break
        assert port, "the server never said where it listens"
        threading.Thread(target=process.stderr.read, daemon=True).start()  # keep the pipe drained
        server = type("Address", (), {"port": port})

        async def scenario():
            while http_get(server, "/healthz")[0] != 200:
                await asyncio.sleep(0.1)
            sessions = [await connect(url(server)) for _ in range(3)]
            names = ["hello", "weather", "hello"]
            for ws, name in zip(sessions, names, strict=True):
                await ws.recv()  # ready
                audio = clips[name]
                for first in range(0, len(audio), CHUNK):
                    await ws.send(audio[first : first + CHUNK].tobytes())
            total = sum(len(clips[n]) for n in names) / 16_000
            while f"audio_seconds_total {total:.3f}" not in http_get(server, "/metrics")[2].decode():
                await asyncio.sleep(0.05)  # every message has been taken in
            process.send_signal(signal.SIGTERM)
            results = [(await messages_until_close(ws), ws.close_code) for ws in sessions]
            return results, names

        results, names = asyncio.run(asyncio.wait_for(scenario(), 60))
        assert process.wait(30) == 0
    finally:
        process.kill()
        process.wait()
    for (events, code), name in zip(results, names, strict=True):
        assert code == 1001
        assert final_texts(events) == reference[name]


def test_shutdown_refuses_new_sessions_while_finishing_live_ones(demo, clips, reference):
    """During shutdown a new handshake is refused while the live session still gets its final and 1001."""
    with running_server(demo) as server:

        async def scenario():
            async with connect(url(server)) as ws:
                await ws.recv()
                await ws.send(clips["hello"].tobytes())
                await asyncio.sleep(0.5)
                asyncio.run_coroutine_threadsafe(server.shutdown(), server.loop)
                await asyncio.sleep(0.05)
                with pytest.raises((InvalidStatus, OSError)):
                    async with connect(url(server)):
                        pass
                return await messages_until_close(ws), ws.close_code

        events, code = asyncio.run(scenario())
    assert code == 1001 and final_texts(events) == reference["hello"]


def test_serve_with_a_model_that_cannot_load_exits_2(monkeypatch, caplog):
    """`hubert-stream serve` with an unknown model logs what went wrong and exits with status 2."""
    from streamer.cli import main

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with caplog.at_level(logging.ERROR):
        assert main(["serve", "--model", "./no-such-model-folder", "--port", "0"]) == 2
    assert "no model folder './no-such-model-folder'" in caplog.text
