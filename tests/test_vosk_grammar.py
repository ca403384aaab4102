"""The Vosk dialect's phrase_list and max_alternatives, through a server, with Vosk's message shapes."""

from __future__ import annotations

import asyncio
import json
import shutil

import numpy as np
import pytest
import test_server as shared
from test_server import running_server, url
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

demo_folder, demo = shared.demo_folder, shared.demo  # fixtures

pytestmark = [
    pytest.mark.filterwarnings("ignore::DeprecationWarning"),
    pytest.mark.skipif(shutil.which("espeak-ng") is None, reason="espeak-ng is not installed"),
]

PHRASES = ["turn on the light", "turn off the light", "open the door", "what time is it", "call mom"]
CHUNK = 3_200  # 0.2 s at 16 kHz, as Vosk's test client sends


@pytest.fixture(scope="module")
def server(demo):
    """One Vosk-dialect server for the module's sessions."""
    with running_server(demo, protocol="vosk") as server:
        yield server


@pytest.fixture(scope="module")
def speech():
    """espeak-ng speech of ``texts`` as int16 16 kHz: half a second of silence, then each text and a
    second of silence after it (an endpoint)."""
    from training.speech import VOICE, trim
    from training.synth import synthesize

    def say(*texts: str) -> np.ndarray:
        parts = [np.zeros(8_000, np.float32)]
        for text in texts:
            parts += [trim(synthesize(text, VOICE)), np.zeros(16_000, np.float32)]
        return (np.concatenate(parts) * 32767).astype(np.int16)

    return say


async def vosk_session(uri: str, config: dict, audio: np.ndarray) -> list[dict]:
    """Config, then 0.2 s chunks with one reply each, then eof: every reply, as Vosk's test client."""
    replies = []
    async with connect(uri) as ws:
        await ws.send(json.dumps({"config": {"sample_rate": 16000, **config}}))
        for first in range(0, len(audio), CHUNK):
            await ws.send(audio[first : first + CHUNK].tobytes())
            replies.append(json.loads(await ws.recv()))
        await ws.send('{"eof" : 1}')
        replies.append(json.loads(await ws.recv()))
    return replies


def run(server, config: dict, audio: np.ndarray) -> list[dict]:
    return asyncio.run(vosk_session(url(server, "/"), config, audio))


def listed_words(phrases: list[str]) -> set[str]:
    return {w for p in phrases for w in p.split()}


def test_phrase_list_keeps_every_partial_and_result_to_the_listed_words(server, speech):
    """With phrase_list, partials and results hold listed words or [unk] only; a spoken phrase comes out exact."""
    audio = speech("turn off the light", "the weather is nice today", "open the door")
    replies = run(server, {"phrase_list": [*PHRASES, "[unk]"]}, audio)
    allowed = listed_words(PHRASES) | {"[unk]"}
    partials = [r["partial"] for r in replies if "partial" in r]
    results = [r for r in replies if "text" in r]
    assert any(partials)
    for text in partials + [r["text"] for r in results]:
        assert set(text.split()) <= allowed, text
    texts = [r["text"] for r in results if r["text"]]
    assert texts[0] == "turn off the light" and texts[-1] == "open the door"
    assert len(texts) == 3 and set(texts[1].split()) == {"[unk]"}  # speech no phrase fits
    words = [w for r in results for w in r.get("result", [])]
    assert [w["word"] for w in words] == " ".join(texts).split()
    assert all(set(w) == {"conf", "end", "start", "word"} and 0 <= w["conf"] <= 1 for w in words)


def test_phrase_list_without_unk_forces_a_listed_phrase(server, speech):
    """Without [unk] in the list, every word of every reply is a listed one, as Vosk's closed grammar."""
    phrases = ["yes", "no", "open the door"]
    audio = speech("open the door", "the weather is nice today")
    replies = run(server, {"phrase_list": phrases}, audio)
    for text in [r.get("partial", r.get("text")) for r in replies]:
        assert set(text.split()) <= listed_words(phrases), text
    assert [r["text"] for r in replies if r.get("text")][0] == "open the door"


def test_max_alternatives_gives_vosk_n_best_lists(server, speech):
    """max_alternatives turns results into Vosk's {"alternatives": [...]}: at most N, best first, distinct."""
    audio = speech("turn off the light")
    graded = run(server, {"phrase_list": PHRASES, "max_alternatives": 3}, audio)
    free = run(server, {"max_alternatives": 2, "words": False}, audio)
    results = [r for r in graded if "alternatives" in r]
    assert results and all(set(r) == {"alternatives"} for r in results)
    best = next(r["alternatives"] for r in results if r["alternatives"][0]["text"])
    assert 2 <= len(best) <= 3
    assert best[0]["text"] == "turn off the light"
    assert all(set(a) == {"confidence", "result", "text"} for a in best)
    assert [w["word"] for w in best[0]["result"]] == best[0]["text"].split()
    assert all(set(w) == {"end", "start", "word"} for a in best for w in a["result"])
    confidences = [a["confidence"] for a in best]
    assert confidences == sorted(confidences, reverse=True)
    assert len({a["text"] for a in best}) == len(best)
    assert all(a["text"] in PHRASES for a in best)
    # without a phrase list, a beam search's n-best; words off: no "result"
    free_best = next(r["alternatives"] for r in free if "alternatives" in r and r["alternatives"][0]["text"])
    assert len(free_best) == 2 and free_best[0]["text"] != free_best[1]["text"]
    assert free_best[0]["confidence"] >= free_best[1]["confidence"]
    assert all(set(h) == {"confidence", "text"} for h in free_best)


def test_n_best_lists_keep_the_servers_hotwords(speech):
    """A server started with a hotword (serve --hotword) spells it in a Vosk session's n-best lists too."""
    from model import Hotword, load_model

    model = load_model("demo", hotwords=[Hotword("Vanderbilt")])
    with running_server(model, protocol="vosk") as server:
        replies = run(server, {"max_alternatives": 2}, speech("please call vanderbilt after lunch"))
    best = next(r["alternatives"] for r in replies if "alternatives" in r and r["alternatives"][0]["text"])
    assert "vanderbilt" in best[0]["text"].split()


def test_an_empty_n_best_is_vosks(server):
    """eof with nothing said gives Vosk's empty n-best: one empty text at confidence 1."""
    replies = run(server, {"max_alternatives": 2}, np.zeros(8_000, np.int16))
    assert replies[-1] == {"alternatives": [{"confidence": 1.0, "text": ""}]}


@pytest.mark.parametrize(
    ("config", "named"),
    [
        ({"phrase_list": []}, "phrase_list"),
        ({"phrase_list": "open the door"}, "phrase_list"),
        ({"phrase_list": ["open", 3]}, "phrase_list"),
        ({"phrase_list": ["x" * 101]}, "100 characters"),
        ({"phrase_list": ["open"] * 1001}, "1000 phrases"),
        ({"phrase_list": ["open the door " * 7] * 60}, "5000 characters in all"),
        ({"phrase_list": ["call 911"]}, "'9'"),
        ({"phrase_list": ["  "]}, "empty phrase"),
        ({"max_alternatives": 11}, "max_alternatives"),
        ({"max_alternatives": -1}, "max_alternatives"),
        ({"max_alternatives": "3"}, "max_alternatives"),
    ],
)
def test_a_bad_phrase_list_or_max_alternatives_is_a_bad_config(server, config, named):
    """A phrase list or max_alternatives out of bounds gets one bad_config error naming it, then close 1007."""

    async def scenario():
        async with connect(url(server, "/")) as ws:
            await ws.send(json.dumps({"config": config}))
            reply = json.loads(await ws.recv())
            with pytest.raises(ConnectionClosed):
                await ws.recv()
            return reply, ws.close_code

    reply, code = asyncio.run(scenario())
    assert reply["code"] == "bad_config" and named in reply["error"]
    assert code == 1007


def test_a_phrase_list_after_audio_is_ignored_as_in_vosk(server, speech):
    """Vosk makes its recognizer at the first audio: a phrase_list sent later changes nothing."""
    audio = speech("open the door")

    async def scenario():
        replies = []
        async with connect(url(server, "/")) as ws:
            await ws.send('{"config": {"sample_rate": 16000}}')
            await ws.send(audio[:CHUNK].tobytes())
            replies.append(json.loads(await ws.recv()))
            await ws.send('{"config": {"phrase_list": ["yes", "no"]}}')
            for first in range(CHUNK, len(audio), CHUNK):
                await ws.send(audio[first : first + CHUNK].tobytes())
                replies.append(json.loads(await ws.recv()))
            await ws.send('{"eof" : 1}')
            replies.append(json.loads(await ws.recv()))
        return replies

    texts = [r["text"] for r in asyncio.run(scenario()) if r.get("text")]
    assert texts and not set(" ".join(texts).split()) <= {"yes", "no"}
