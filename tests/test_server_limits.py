"""The server's limits: admission, prompt closes, overload, shutdown -- each at its documented bound."""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import gc
import logging
import socket
import struct
import sys
import termios
import time

import pytest
import test_server as shared
from test_server import CHUNK, final_texts, http_get, messages_until_close, running_server, stream_clip, url
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed, InvalidStatus

from streamer.server import session as session_module
from streamer.server.options import SEND_BUFFER_BYTES
from streamer.server.session import AUTH_SECONDS, CLOSE_TIMEOUT, MAX_PENDING_MESSAGES
from streamer.wire.events import parse_event

demo_folder, demo, clips, reference = shared.demo_folder, shared.demo, shared.clips, shared.reference  # fixtures
pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")

BEARER = {"Authorization": "Bearer s3cret"}


def rss_mib() -> float:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * 4096 / 2**20


async def wait_until(condition, seconds: float) -> float:
    """Seconds until ``condition()`` held; fails after ``seconds``."""
    start = time.monotonic()
    while not condition():
        assert time.monotonic() - start < seconds, "timed out"
        await asyncio.sleep(0.01)
    return time.monotonic() - start


def test_unauthenticated_sockets_hold_no_session_slot(demo, clips, reference):
    """Cap 2, token required, both strangers' places taken: a right-token client still connects; strangers go at 3 s."""
    with running_server(demo, token="s3cret", max_sessions=2) as server:

        async def scenario():
            strangers = [await connect(url(server)) for _ in range(2)]  # never send their token
            opened = time.monotonic()
            await stream_clip(url(server), clips["hello"], headers=BEARER)  # the header client gets a slot
            with pytest.raises(InvalidStatus) as refused:  # a third stranger: the unauthenticated budget is full
                async with connect(url(server)):
                    pass
            assert refused.value.response.status_code == 503
            outcomes = []
            for ws in strangers:
                events = await messages_until_close(ws)
                outcomes.append(([e.code for e in events], ws.close_code, time.monotonic() - opened))
            return outcomes, await stream_clip(url(server), clips["hello"], headers=BEARER)

        outcomes, (events, code) = asyncio.run(scenario())
    assert code == 1000 and final_texts(events) == reference["hello"]
    for codes, close_code, seconds in outcomes:
        assert codes == ["unauthorized"] and close_code == 1008
        assert seconds < AUTH_SECONDS + 0.5


def test_a_token_sent_when_every_slot_is_taken_gets_1013(demo, clips):
    """A browser whose token arrives after the cap filled gets error capacity and close 1013, not a session."""
    with running_server(demo, token="s3cret", max_sessions=1) as server:

        async def scenario():
            browser = await connect(url(server))  # admitted unauthenticated: holds no slot
            async with connect(url(server), additional_headers=BEARER) as holder:
                assert parse_event(await holder.recv()).type == "ready"
                await browser.send('{"type":"auth","token":"s3cret"}')
                events = await messages_until_close(browser)
            return events, browser.close_code

        events, code = asyncio.run(scenario())
    assert [(e.type, e.code) for e in events] == [("error", "capacity")] and code == 1013


def test_a_session_the_server_ends_releases_its_slot_at_once(demo, clips, caplog):
    """The server ends a session while audio is still in flight: slot freed within the close timeout, logged 1007."""
    caplog.set_level(logging.INFO, logger="streamer.server")
    with running_server(demo, max_sessions=1) as server:

        async def scenario():
            async with connect(url(server)) as ws:
                await ws.recv()
                for _ in range(40):  # 2.6 MB of audio queued behind the config the server will refuse
                    await ws.send(bytes(64_000))
                await ws.send('{"type":"config","encoding":"mp3"}')
                for _ in range(40):
                    with contextlib.suppress(Exception):
                        await ws.send(bytes(64_000))
                events = await messages_until_close(ws)
                closed = time.monotonic()
            freed = await wait_until(lambda: not server.http.slots, CLOSE_TIMEOUT + 5)
            return events, ws.close_code, freed, closed

        events, code, freed, _ = asyncio.run(scenario())
    assert code == 1007 and events[-1].code == "bad_config"
    assert freed < 1.0, f"the slot was held {freed:.1f} s after the client saw the close"
    closes = [r.getMessage() for r in caplog.records if " closed (" in r.getMessage()]
    assert len(closes) == 1 and "closed (1007)" in closes[0]


def test_a_client_that_reads_nothing_is_closed_after_the_write_timeout(demo, monkeypatch):
    """Errors pile up for a client that never reads: after the write timeout the session ends (4008) and frees its slot."""
    monkeypatch.setattr(session_module, "WRITE_TIMEOUT", 1.0)
    with running_server(demo) as server:

        async def scenario():
            sock = socket.socket()
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
            sock.connect(("127.0.0.1", server.port))
            ws = await connect(url(server), sock=sock, max_queue=1)
            start = time.monotonic()
            with contextlib.suppress(Exception):
                for _ in range(60_000):  # each earns a ~100-byte error event the client never reads
                    await ws.send("x")
                    if server.metrics.errors.get("write_timeout"):
                        break
            await wait_until(lambda: server.metrics.errors.get("write_timeout"), 20)
            detected = time.monotonic() - start
            await wait_until(lambda: not server.http.slots, CLOSE_TIMEOUT + 1)
            ws.transport.abort()
            return detected

        detected = asyncio.run(scenario())
    assert detected < 15


def send_queue(sock) -> int:
    """Bytes in a socket's kernel send queue, sent or not, that the peer has not acknowledged (Linux)."""
    return struct.unpack("i", fcntl.ioctl(sock.fileno(), termios.TIOCOUTQ, b"\0" * 4))[0]


@pytest.mark.skipif(sys.platform != "linux", reason="SO_SNDBUF doubling and TIOCOUTQ on sockets are Linux's")
def test_a_client_that_reads_nothing_fills_no_more_than_the_capped_kernel_send_buffer(demo):
    """Each session's socket has SO_SNDBUF send_buffer_bytes (Linux reserves twice that): the events piling
    up for a client that reads nothing take at most that much of the server's kernel, not megabytes."""
    with running_server(demo) as server:

        async def scenario():
            sock = socket.socket()
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)  # the client's kernel takes little
            sock.connect(("127.0.0.1", server.port))
            ws = await connect(url(server), sock=sock, max_queue=1, ping_interval=None)
            await wait_until(lambda: len(server._sessions) == 1, 5)
            server_socket = next(iter(server._sessions)).ws.transport.get_extra_info("socket")
            size = server_socket.getsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF)
            peak = 0

            async def flood() -> None:
                nonlocal peak
                for i in range(100_000):  # each earns a ~100-byte error event the client never reads
                    await ws.send("x")
                    if i % 100 == 0:
                        peak = max(peak, send_queue(server_socket))
                        if peak >= size // 2:
                            return

            with contextlib.suppress(asyncio.TimeoutError, ConnectionClosed):
                await asyncio.wait_for(flood(), 20)
            await asyncio.sleep(0.2)  # what the server still writes meanwhile
            peak = max(peak, send_queue(server_socket))
            ws.transport.abort()
            return size, peak

        size, peak = asyncio.run(scenario())
    assert size == 2 * SEND_BUFFER_BYTES
    assert size // 2 <= peak <= size + 16 * 1024, f"{peak} bytes queued for a {size}-byte send buffer"


@pytest.mark.parametrize("flood", ["tiny_audio", "finalize"])
def test_message_floods_stay_within_the_per_session_bound(demo, clips, flood):
    """2-byte audio messages or finalize messages as fast as possible: bounded queue, bounded memory, then a clean end."""
    with running_server(demo) as server:
        peak_jobs = 0

        async def flooder():
            nonlocal peak_jobs
            async with connect(url(server)) as ws:
                await ws.recv()
                message = bytes(2) if flood == "tiny_audio" else '{"type":"finalize"}'
                end = time.monotonic() + 3
                sent = 0
                while time.monotonic() < end:
                    await ws.send(message)
                    sent += 1
                    if sent % 500 == 0:
                        peak_jobs = max([peak_jobs, *(s.feed.pending_jobs for s in list(server._sessions))])
                await ws.send('{"type":"eof"}')
                events = await messages_until_close(ws)
                return sent, events, ws.close_code

        async def scenario():
            return await asyncio.gather(flooder(), flooder())

        asyncio.run(stream_clip(url(server), clips["hello"]))  # warm up: recognizers, buffers, allocator
        before = rss_mib()
        results = asyncio.run(scenario())
        grown = rss_mib() - before
    for sent, events, code in results:
        assert sent > 1_000 and code == 1000 and events[-1].type == "done"
    assert peak_jobs <= MAX_PENDING_MESSAGES
    # Two sessions' documented bound (4 unread frames, 64 queued messages, 256 events: well under 1 MiB
    # for tiny messages) plus what one 256 KiB socket read parses at once (~32k frames of 8 bytes) and
    # this process's client side. Before the message bound: 149 MiB.
    assert grown < 24, f"the server grew by {grown:.0f} MiB"


def test_shutdown_gives_ten_sessions_finals_done_and_1001_within_the_grace(demo, clips, reference):
    """Shutdown with 10 live sessions: each gets its finals, done and 1001 within the grace; /readyz and handshakes 503."""
    grace = 5.0
    with running_server(demo, shutdown_grace=grace) as server:

        async def scenario():
            sessions = [await connect(url(server)) for _ in range(10)]
            names = ["hello", "weather"] * 5
            for ws, name in zip(sessions, names, strict=True):
                await ws.recv()
                audio = clips[name]
                for first in range(0, len(audio), CHUNK):
                    await ws.send(audio[first : first + CHUNK].tobytes())
            total = sum(len(clips[n]) for n in names) / 16_000
            await wait_until(lambda: server.metrics.audio_seconds >= total - 1e-6, 30)  # every message taken in
            start = time.monotonic()
            asyncio.run_coroutine_threadsafe(server.shutdown(), server.loop)
            await asyncio.sleep(0.1)
            loop = asyncio.get_running_loop()
            ready = (await loop.run_in_executor(None, http_get, server, "/readyz"))[0]
            with pytest.raises(InvalidStatus) as refused:
                async with connect(url(server)):
                    pass
            results = [(await messages_until_close(ws), ws.close_code) for ws in sessions]
            return results, names, time.monotonic() - start, ready, refused.value.response.status_code

        results, names, seconds, ready, refused = asyncio.run(scenario())
    assert ready == 503 and refused == 503
    assert seconds < grace
    for (events, code), name in zip(results, names, strict=True):
        assert code == 1001 and events[-1].type == "done"
        assert final_texts(events) == reference[name]


@pytest.mark.parametrize("protocol", ["native", "vosk"])
def test_a_session_forced_closed_while_it_waits_for_a_message_leaves_no_traceback(demo, caplog, protocol):
    """At the end of the shutdown grace a session waiting for its client is cancelled and closed with 1001:
    its pending read ends with the close, quietly, and nothing is logged as an exception never retrieved."""
    caplog.set_level(logging.INFO)
    with running_server(demo, protocol=protocol) as server:

        async def scenario():
            async with connect(url(server) if protocol == "native" else url(server, "/")) as ws:
                if protocol == "native":
                    await ws.recv()  # ready: the session now waits for a message
                await wait_until(lambda: len(server._sessions) == 1, 5)
                await asyncio.sleep(0.1)
                # What the end of the shutdown grace does to a session still open:
                server.loop.call_soon_threadsafe(lambda: [s.force() for s in server._sessions])
                await messages_until_close(ws)
                return ws.close_code

        code = asyncio.run(scenario())
    gc.collect()  # a task whose exception nobody read is logged when it is collected
    assert code == 1001
    faults = [r.getMessage() for r in caplog.records if r.exc_info or r.levelno >= logging.ERROR]
    assert not faults, faults


def test_healthz_readyz_and_http_log_lines_name_the_path(demo, caplog, tmp_path):
    """/readyz is 200 when serving; each non-probe HTTP answer is logged with its path; the page URL is printed."""
    caplog.set_level(logging.INFO, logger="streamer.server")
    web = tmp_path / "web"
    web.mkdir()
    (web / "index.html").write_text("<h1>hi</h1>")
    with running_server(demo, web_root=web) as server:
        assert http_get(server, "/readyz")[0] == 200
        assert http_get(server, "/nope.js")[0] == 404
    text = "\n".join(r.getMessage() for r in caplog.records)
    assert "GET /nope.js 404" in text
    assert f"browser page at http://127.0.0.1:{server.port}/" in text


def test_readyz_says_full_at_the_session_cap_and_ready_once_a_slot_frees(demo):
    """At its session cap a replica fails readiness (load balancers send new sessions elsewhere); its
    sessions go on, and once one ends it is ready again."""
    with running_server(demo, max_sessions=1) as server:

        async def scenario():
            async with connect(url(server)) as ws:
                await ws.recv()  # ready: the one slot is taken
                status, _, body = await asyncio.get_running_loop().run_in_executor(None, http_get, server, "/readyz")
                assert (status, body) == (503, b"full: every session slot is taken\n")
            await wait_until(lambda: http_get(server, "/readyz")[0] == 200, 5)

        asyncio.run(scenario())


def test_a_request_path_is_logged_escaped(demo, caplog):
    """A request path with control characters is logged escaped, never as raw lines."""
    caplog.set_level(logging.INFO, logger="streamer.server")
    with running_server(demo) as server, socket.create_connection(("127.0.0.1", server.port)) as raw:
        raw.sendall(b"GET /a%0a\x1b[31m HTTP/1.1\r\nHost: x\r\n\r\n")
        raw.recv(100)
    assert not any("\x1b" in r.getMessage() for r in caplog.records)
