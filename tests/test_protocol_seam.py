"""Protocols are a seam: a protocol defined outside the server package (tests/echo_protocol.py) is
registered by name and served by a real server, with no edit to streamer/server."""

from __future__ import annotations

import asyncio
import contextlib
import json

import numpy as np
import pytest
from echo_protocol import ECHO_PATH, EchoSession
from test_server import final_texts, running_server, url
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

import streamer.cli.parser
from streamer.server import ServerOptions, StreamServer, protocols

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")

CHUNK = 1_600  # 0.1 s at 16 kHz


async def echo_client(address: str, audio: np.ndarray) -> tuple[list[dict], int | None]:
    """Send int16 16 kHz ``audio`` in 0.1 s messages, then a text message; every reply until the close."""
    async with connect(address) as ws:

        async def send() -> None:
            for first in range(0, len(audio), CHUNK):
                await ws.send(audio[first : first + CHUNK].tobytes())
            await ws.send("done")

        sender = asyncio.ensure_future(send())
        replies = []
        with contextlib.suppress(ConnectionClosed):
            async for message in ws:
                replies.append(json.loads(message))
        await sender
    return replies, ws.close_code


def test_a_registered_protocol_gets_each_final_of_real_speech_in_its_own_shape(demo, long_speech):
    """Speech streamed to a server running the registered echo protocol comes back as one
    {"echo": text} per final, the same texts as transcribe_stream's, then close 1000."""
    from streamer.core.files import transcribe_stream

    audio = (long_speech[0] * 32767).astype("<i2")
    expected = final_texts(transcribe_stream(demo, audio, 16_000))
    assert len(expected) > 1, "the demo model should find several sentences in the speech"
    with running_server(demo, protocol="echo") as server:
        replies, code = asyncio.run(echo_client(url(server, ECHO_PATH), audio))
    assert code == 1000
    assert replies == [{"echo": text} for text in expected]


def test_the_cli_and_the_server_take_their_protocol_names_from_the_registry():
    """`serve --protocol echo` parses once echo is registered, and a server refuses a name nobody registered."""
    assert protocols.session_class("echo") is EchoSession
    args = streamer.cli.parser.build_parser().parse_args(["serve", "--protocol", "echo"])
    assert args.protocol == "echo"
    with pytest.raises(ValueError, match="'native', 'vosk', 'echo'"):
        StreamServer(object(), options=ServerOptions(protocol="morse"))


def test_a_protocol_name_is_served_by_one_class():
    """Registering a taken name for another class is refused; registering the same class again is not."""
    protocols.register("echo", EchoSession)
    with pytest.raises(ValueError, match="already served by NativeSession"):
        protocols.register("native", EchoSession)
