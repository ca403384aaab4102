"""The Vosk-compatible mode: clients written to Vosk's documented protocol work unchanged."""

from __future__ import annotations

import asyncio
import json
import wave
from pathlib import Path

import numpy as np
import pytest
import test_server as shared
from test_server import EXAMPLES, final_texts, running_server, url
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

demo_folder, demo, clips, reference = shared.demo_folder, shared.demo, shared.clips, shared.reference  # fixtures

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


async def vosk_test_client(uri: str, path: Path) -> list[dict]:
    """Vosk's own websocket/test.py: config, 0.2 s chunks with one recv() after each send, then eof."""
    replies = []
    async with connect(uri) as websocket:
        wf = wave.open(str(path), "rb")
        await websocket.send('{ "config" : { "sample_rate" : %d } }' % (wf.getframerate()))  # noqa: UP031 (Vosk's line)
        buffer_size = int(wf.getframerate() * 0.2)  # 0.2 seconds of audio
        while True:
            data = wf.readframes(buffer_size)
            if len(data) == 0:
                break
            await websocket.send(data)
            replies.append(json.loads(await websocket.recv()))
        await websocket.send('{"eof" : 1}')
        replies.append(json.loads(await websocket.recv()))
    return replies


def results_text(replies: list[dict]) -> str:
    return " ".join(r["text"] for r in replies if r.get("text"))


def write_wav(path: Path, audio: np.ndarray, rate: int) -> Path:
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(audio.astype("<i2").tobytes())
    return path


def test_vosk_client_gets_partials_and_the_final(demo, clips, reference):
    """Vosk's test client gets one reply per chunk (partials, then results) and the right text at eof."""
    path = EXAMPLES / "weather.wav"
    with running_server(demo, protocol="vosk") as server:
        replies = asyncio.run(vosk_test_client(url(server, ""), path))
    chunks = -(-len(clips["weather"]) // 3_200)
    assert len(replies) == chunks + 1
    assert all(set(r) in ({"partial"}, {"result", "text"}) for r in replies)
    assert any(r.get("partial") for r in replies)
    assert "text" in replies[-1]
    assert results_text(replies) == " ".join(reference["weather"]).lower()
    words = [w for r in replies for w in r.get("result", [])]
    assert [w["word"] for w in words] == results_text(replies).split()
    assert all(0 <= w["start"] <= w["end"] <= 11 and 0 <= w["conf"] <= 1 for w in words)


def test_vosk_default_rate_is_8k_and_every_path_works(demo, clips, tmp_path):
    """Without a config the rate is Vosk's 8 kHz; any path is the endpoint, and eof ends with close 1000."""
    import soxr

    from streamer.core.files import transcribe_stream

    audio8 = (soxr.resample(clips["hello"].astype(np.float32) / 32768, 16_000, 8_000) * 32767).astype(np.int16)
    expected = " ".join(final_texts(transcribe_stream(demo, audio8, 8_000))).lower()
    with running_server(demo, protocol="vosk") as server:

        async def scenario():
            async with connect(url(server, "/any/path?x=1")) as ws:
                replies = []
                for first in range(0, len(audio8), 1_600):
                    await ws.send(audio8[first : first + 1_600].tobytes())
                    replies.append(json.loads(await ws.recv()))
                await ws.send('{"eof":1}')
                replies.append(json.loads(await ws.recv()))
                with pytest.raises(ConnectionClosed):
                    await ws.recv()
                return replies, ws.close_code

        replies, code = asyncio.run(scenario())
    assert code == 1000
    assert results_text(replies) == expected and expected


def test_vosk_config_spacing_floats_and_words_off(demo, clips, reference):
    """A compact config with a float rate and words off: results carry text only."""
    with running_server(demo, protocol="vosk") as server:

        async def scenario():
            async with connect(url(server, "/")) as ws:
                await ws.send('{"config":{"sample_rate":16000.0,"words":false,"model":"x"}}')
                await ws.send(clips["hello"].tobytes())
                first = json.loads(await ws.recv())
                await ws.send('{  "eof"  :  1  }')
                return first, json.loads(await ws.recv())

        first, last = asyncio.run(scenario())
    assert "partial" in first or "text" in first
    assert "result" not in last
    assert " ".join(filter(None, [first.get("text"), last["text"]])) == " ".join(reference["hello"]).lower()


def test_vosk_bad_audio_gets_one_error_reply_and_carries_on(demo, clips, reference):
    """An odd byte count and garbage text each get exactly one error reply; the stream goes on."""
    with running_server(demo, protocol="vosk") as server:

        async def scenario():
            async with connect(url(server, "/")) as ws:
                await ws.send('{"config": {"sample_rate": 16000}}')
                await ws.send(b"\x01\x02\x03")
                odd = json.loads(await ws.recv())
                await ws.send("garbage")
                garbage = json.loads(await ws.recv())
                replies = []
                for first in range(0, len(clips["hello"]), 3_200):
                    await ws.send(clips["hello"][first : first + 3_200].tobytes())
                    replies.append(json.loads(await ws.recv()))
                await ws.send('{"eof" : 1}')
                replies.append(json.loads(await ws.recv()))
                return odd, garbage, replies

        odd, garbage, replies = asyncio.run(scenario())
    assert odd["code"] == "bad_audio" and garbage["code"] == "bad_message"
    assert results_text(replies) == " ".join(reference["hello"]).lower()


def test_vosk_shutdown_sends_the_last_result_then_1001(demo, clips, reference):
    """On shutdown a Vosk session gets one last result for what it sent, then close 1001."""
    with running_server(demo, protocol="vosk") as server:

        async def scenario():
            async with connect(url(server, "/")) as ws:
                await ws.send('{"config": {"sample_rate": 16000}}')
                await ws.send(clips["hello"].tobytes())
                replies = [json.loads(await ws.recv())]
                asyncio.run_coroutine_threadsafe(server.shutdown(), server.loop)
                async for message in ws:
                    replies.append(json.loads(message))
                return replies, ws.close_code

        replies, code = asyncio.run(scenario())
    assert code == 1001
    assert results_text(replies) == " ".join(reference["hello"]).lower()


def test_vosk_reset_mid_speech_loses_no_word(demo, clips, reference):
    """Resets inside speech end utterances at word boundaries: the results together say what one stream does."""
    audio = clips["weather"]

    async def scenario() -> list[dict]:
        replies = []
        async with connect(url(server, "")) as websocket:
            await websocket.send('{"config": {"sample_rate": 16000}}')
            for n, start in enumerate(range(0, len(audio), 3_200)):  # 0.2 s chunks
                await websocket.send(audio[start : start + 3_200].tobytes())
                replies.append(json.loads(await websocket.recv()))
                if n in (4, 8, 13, 21):  # after 1.0, 1.8, 2.8 and 4.4 s
                    await websocket.send('{"reset": 1}')
                    replies.append(json.loads(await websocket.recv()))
            await websocket.send('{"eof" : 1}')
            replies.append(json.loads(await websocket.recv()))
        return replies

    with running_server(demo, protocol="vosk") as server:
        replies = asyncio.run(asyncio.wait_for(scenario(), 60))
    assert results_text(replies) == " ".join(reference["weather"]).lower()
