"""Hostile and malformed client messages through the real server (what the fuzzer found): each one
gets its documented ``error`` event (or Vosk error reply) and close code, never 1011 or a traceback."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import json
import logging
import time

import numpy as np
import pytest
import test_server as shared
from test_server import final_texts, messages_until_close, running_server, url
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from streamer.server.session import CLOSE_TIMEOUT
from streamer.wire.protocol import MAX_TEXT_BYTES

demo_folder, demo, clips, reference = shared.demo_folder, shared.demo, shared.clips, shared.reference  # fixtures

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")

TOKEN = "t0k"
DEEP_ARRAY = "[" * 5_000 + "]" * 5_000
DEEP_OBJECT = '{"a":' * 2_000 + "1" + "}" * 2_000
F32 = '{"type":"config","encoding":"pcm_f32le"}'


def f32(*values: float, frames: int = 1_600, channels: int = 1) -> bytes:
    """A float32 block of quiet noise with ``values`` at its start."""
    block = np.random.default_rng(0).normal(0, 0.01, frames * channels).astype("<f4")
    block[: len(values)] = values
    return block.tobytes()


# (id, messages after the session opens, error codes expected, close code expected)
NATIVE = [
    ("deep-array", [DEEP_ARRAY], ["bad_message"], 1000),
    ("deep-object", [DEEP_OBJECT], ["bad_message"], 1000),
    ("too-long", ['{"type":"finalize","pad":"' + "x" * MAX_TEXT_BYTES + '"}'], ["bad_message"], 1000),
    ("type-array", ['{"type":[]}'], ["bad_message"], 1000),
    ("server-event", ['{"type":"ready","session":"x","sample_rate":16000}'], ["bad_message"], 1000),
    ("auth-surrogate", ['{"type":"auth","token":"\\ud800"}'], ["bad_message"], 1000),
    ("auth-not-string", ['{"type":"auth","token":{}}'], ["bad_message"], 1000),
    ("rate-nan", ['{"type":"config","sample_rate":NaN}'], ["bad_config"], 1007),
    ("rate-infinity", ['{"type":"config","sample_rate":Infinity}'], ["bad_config"], 1007),
    ("rate-1e400", ['{"type":"config","sample_rate":1e400}'], ["bad_config"], 1007),
    ("rate-huge-int", ['{"type":"config","sample_rate":' + "9" * 400 + "}"], ["bad_config"], 1007),
    ("encoding-array", ['{"type":"config","encoding":[]}'], ["bad_config"], 1007),
    ("encoding-object", ['{"type":"config","encoding":{}}'], ["bad_config"], 1007),
    ("channels-string", ['{"type":"config","channels":"2"}'], ["bad_config"], 1007),
    ("token-surrogate-in-config", ['{"type":"config","token":"\\udfff"}'], ["bad_message"], 1000),
    ("f32-3e38", [F32, f32(3e38), f32()], ["bad_audio"], 1000),
    ("f32-1e30", [F32, f32(1e30), f32()], ["bad_audio"], 1000),
    ("f32-1e5", [F32, f32(1e5), f32()], ["bad_audio"], 1000),
    ("f32-nan", [F32, f32(np.nan), f32()], ["bad_audio"], 1000),
    (
        "f32-3e38-stereo-22k",
        [
            '{"type":"config","encoding":"pcm_f32le","sample_rate":22050,"channels":2}',
            f32(3e38, -3e38, frames=2_205, channels=2),
            f32(frames=2_205, channels=2),
        ],
        ["bad_audio"],
        1000,
    ),
    ("f32-overs-clipped", [F32, f32(1.9, -1.5), f32()], [], 1000),
]
SMALL_LIMIT = 64_000  # bytes: max_message_bytes of the servers the oversize messages go to
# (id, a message over SMALL_LIMIT): websockets sends a list as one message in fragments, one per item.
OVERSIZE = [
    ("binary-frame", bytes(SMALL_LIMIT + 1)),
    ("text-frame", "x" * (SMALL_LIMIT + 1)),
    ("binary-fragments", [bytes(SMALL_LIMIT // 2 + 1)] * 2),  # each fragment under the limit, together over it
    ("text-fragments", ["x" * 1_000] * 65),
    ("too-many-fragments", [b"\0\0"] * 5_000),  # 10 KB, in more fragments than the websocket layer takes (4,096)
]
# Before authentication everything malformed is simply not a token.
UNAUTHENTICATED = [
    ("auth-surrogate", ['{"type":"auth","token":"\\ud800"}']),
    ("deep-array", [DEEP_ARRAY]),
    ("deep-object", [DEEP_OBJECT]),
    ("rate-nan-wrong-token", ['{"type":"config","sample_rate":NaN,"token":"nope"}']),
    ("token-array", ['{"type":"auth","token":["t0k"]}']),
]
VOSK = [
    ("deep-object", [DEEP_OBJECT], ["bad_message"], 1000),
    ("config-array", ['{"config": []}'], ["bad_message"], 1000),
    ("eof-nan", ['{"eof": NaN}'], ["bad_message"], 1000),
    ("rate-nan", ['{"config": {"sample_rate": NaN}}'], ["bad_config"], 1007),
    ("rate-infinity", ['{"config": {"sample_rate": Infinity}}'], ["bad_config"], 1007),
    ("rate-1e400", ['{"config": {"sample_rate": 1e400}}'], ["bad_config"], 1007),
    ("rate-array", ['{"config": {"sample_rate": [8000]}}'], ["bad_config"], 1007),
    ("token-surrogate", ['{"config": {"token": "\\ud800"}}'], ["bad_message"], 1000),
]


@pytest.fixture(scope="module")
def servers(demo):
    """One server per protocol and authentication, shared by the module's cases."""
    with contextlib.ExitStack() as stack:
        yield {
            ("native", None): stack.enter_context(running_server(demo)),
            ("native", TOKEN): stack.enter_context(running_server(demo, token=TOKEN)),
            ("vosk", None): stack.enter_context(running_server(demo, protocol="vosk")),
            ("vosk", TOKEN): stack.enter_context(running_server(demo, protocol="vosk", token=TOKEN)),
        }


@pytest.fixture
def no_tracebacks(caplog):
    caplog.set_level(logging.INFO)
    yield
    gc.collect()  # a task whose exception nobody read is logged when it is collected
    faults = [r for r in caplog.records if r.exc_info or r.levelno >= logging.ERROR or "Traceback" in r.getMessage()]
    assert not faults, [r.getMessage() for r in faults]


@pytest.fixture(scope="module")
def small_servers(demo):
    """One server per protocol with a message size limit of SMALL_LIMIT."""
    with contextlib.ExitStack() as stack:
        yield {
            protocol: stack.enter_context(running_server(demo, protocol=protocol, max_message_bytes=SMALL_LIMIT))
            for protocol in ("native", "vosk")
        }


async def send_all(ws, messages) -> None:
    with contextlib.suppress(ConnectionClosed):  # a fatal message ends the session before the rest
        for message in messages:
            await ws.send(message)


@pytest.mark.parametrize(("messages", "errors", "close"), [c[1:] for c in NATIVE], ids=[c[0] for c in NATIVE])
def test_native_hostile_message_gets_its_documented_code(servers, no_tracebacks, messages, errors, close):
    """Each malformed message gets its error event and close code; after a non-fatal one the
    session still ends normally (done, 1000)."""

    async def scenario():
        async with connect(url(servers["native", None])) as ws:
            await send_all(ws, [*messages, '{"type":"eof"}'])
            return await messages_until_close(ws), ws.close_code

    events, code = asyncio.run(scenario())
    assert [e.code for e in events if e.type == "error"] == errors
    assert code == close
    assert (events[-1].type == "done") == (close == 1000)


@pytest.mark.parametrize("messages", [c[1] for c in UNAUTHENTICATED], ids=[c[0] for c in UNAUTHENTICATED])
def test_hostile_first_message_before_auth_is_unauthorized(servers, no_tracebacks, messages):
    """Before the token, a surrogate, deep nesting or a bad config is no token: unauthorized, 1008."""

    async def scenario():
        async with connect(url(servers["native", TOKEN])) as ws:
            await send_all(ws, messages)
            return await messages_until_close(ws), ws.close_code

    events, code = asyncio.run(scenario())
    assert [(e.type, e.code) for e in events] == [("error", "unauthorized")]
    assert code == 1008


def test_a_bad_config_with_the_right_token_authorizes_then_ends_with_1007(servers, no_tracebacks):
    """The token of a config is read even when its rate is NaN: ready, then bad_config and 1007."""

    async def scenario():
        async with connect(url(servers["native", TOKEN])) as ws:
            await send_all(ws, ['{"type":"config","sample_rate":NaN,"token":"t0k"}'])
            return await messages_until_close(ws), ws.close_code

    events, code = asyncio.run(scenario())
    assert [e.type for e in events] == ["ready", "error"] and events[-1].code == "bad_config"
    assert code == 1007


@pytest.mark.parametrize(("messages", "errors", "close"), [c[1:] for c in VOSK], ids=[c[0] for c in VOSK])
def test_vosk_hostile_message_gets_its_documented_code(servers, no_tracebacks, messages, errors, close):
    """The Vosk dialect: one error reply with the same codes; bad_config closes 1007, the rest go on."""

    async def scenario():
        replies = []
        async with connect(url(servers["vosk", None], "/")) as ws:
            await send_all(ws, [*messages, '{"eof": 1}'])
            with contextlib.suppress(ConnectionClosed):
                async for reply in ws:
                    replies.append(json.loads(reply))
            return replies, ws.close_code

    replies, code = asyncio.run(scenario())
    assert [r["code"] for r in replies if "error" in r] == errors
    assert code == close
    if close == 1000:
        assert set(replies[-1]) == {"result", "text"}  # eof's result came last


@pytest.mark.parametrize(
    "message", ['{"config": {"token": "\\ud800"}}', DEEP_OBJECT, '{"config": {"sample_rate": NaN}}']
)
def test_vosk_hostile_message_before_auth_is_unauthorized(servers, no_tracebacks, message):
    """The Vosk dialect with a token required: malformed first messages end with unauthorized, 1008."""

    async def scenario():
        async with connect(url(servers["vosk", TOKEN], "/")) as ws:
            await send_all(ws, [message])
            replies = []
            with contextlib.suppress(ConnectionClosed):
                async for reply in ws:
                    replies.append(json.loads(reply))
            return replies, ws.close_code

    replies, code = asyncio.run(scenario())
    assert [r.get("code") for r in replies] == ["unauthorized"]
    assert code == 1008


@pytest.mark.parametrize("value", [3e38, 1e30, 1e5])
def test_huge_float_samples_do_not_cost_the_rest_of_the_stream(servers, clips, reference, value):
    """A refused block of huge floats leaves the stream intact: the sentence after it gets its exact final
    (taken in, one such block would swamp the running statistics and silence or garble the rest)."""
    audio = (clips["hello"] / 32_768).astype("<f4")

    async def scenario():
        async with connect(url(servers["native", None])) as ws:
            await ws.send(F32)
            await ws.send(f32(value, value, value))
            for first in range(0, len(audio), 1_600):
                await ws.send(audio[first : first + 1_600].tobytes())
            await ws.send('{"type":"eof"}')
            return await messages_until_close(ws), ws.close_code

    events, code = asyncio.run(scenario())
    assert [e.code for e in events if e.type == "error"] == ["bad_audio"]
    assert "beyond" in next(e.message for e in events if e.type == "error")
    assert code == 1000 and final_texts(events) == reference["hello"]


@pytest.mark.parametrize("protocol", ["native", "vosk"])
@pytest.mark.parametrize("message", [c[1] for c in OVERSIZE], ids=[c[0] for c in OVERSIZE])
def test_an_oversize_message_mid_stream_closes_with_1009_and_no_traceback(
    small_servers, clips, no_tracebacks, caplog, protocol, message
):
    """A message over the size limit (one frame, fragments each under it, too many fragments) while audio
    and replies flow, on either dialect: the client sees 1009, the server logs one line and no traceback."""
    server = small_servers[protocol]
    audio = [clips["hello"][first : first + 1_600].tobytes() for first in range(0, 16_000, 1_600)]

    async def scenario():
        async with connect(url(server, "/v1/stream" if protocol == "native" else "/")) as ws:

            async def read() -> None:
                with contextlib.suppress(ConnectionClosed):
                    async for _ in ws:
                        pass

            reader = asyncio.ensure_future(read())
            await send_all(ws, [*audio, message])
            await asyncio.wait_for(reader, 10)
            return ws.close_code

    assert asyncio.run(scenario()) == 1009
    deadline = time.monotonic() + CLOSE_TIMEOUT + 2  # the server may wait the close timeout for the TCP close
    while not [r for r in caplog.records if "closed (1009)" in r.getMessage()] and time.monotonic() < deadline:
        time.sleep(0.02)
    lines = [r.getMessage() for r in caplog.records]
    assert len([m for m in lines if m.endswith("closed with 1009")]) == 1, lines
    assert len([m for m in lines if "closed (1009)" in m]) == 1, lines
