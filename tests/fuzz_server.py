"""A seeded message fuzzer for the server's two protocols (used by test_server_fuzz.py and bench/bench_fuzz.py).

Each fuzzed session sends a stream of messages drawn from kinds a hostile or broken client sends --
audio of odd sizes and values, random bytes, JSON of the right shape with wrong values (NaN,
Infinity, 1e400, lists, dicts, huge numbers, lone surrogates), deep nesting, garbage text, floods of
control messages, messages over the server's size limit (one frame, or fragments that are each under
it) -- then eof. Every close code it sees is recorded with the kind of the last message.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import time
from collections import Counter
from dataclasses import dataclass, field

import numpy as np
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed, InvalidStatus

WEIRD_NUMBERS = ["NaN", "Infinity", "-Infinity", "1e400", "-1e400", "3e38", "1e308", "0", "-1", "16000.5",
                 "99999999999999999999999", "true", "null", '"16000"', "[]", "{}", "[16000]"]  # fmt: skip
WEIRD_STRINGS = ['"pcm_s16le"', '"pcm_f32le"', '"mp3"', '""', "[]", "{}", "null", "1", '"\\ud800"', '"\\u0000"',
                 '"' + "x" * 300 + '"']  # fmt: skip
# The decoder's fields of a config: hotwords (native), a phrase list and n-best (Vosk); some well formed.
WEIRD_HOTWORDS = ['[{"phrase":"Kowalczyk","boost":2.5}]', '[{"phrase":"New York"},{"phrase":"Nguyen","boost":10}]',
                  '"Kowalczyk"', '[{"boost":2}]', '[{"phrase":"R2D2"}]', '[{"phrase":"' + "A" * 101 + '"}]',
                  '[' + ",".join(['{"phrase":"A"}'] * 501) + ']'] + [
    '[{"phrase":' + w + "}]" for w in WEIRD_STRINGS] + ['[{"phrase":"Ravindra","boost":' + n + "}]" for n in WEIRD_NUMBERS] + [
    '[{"phrase":"Siobhan","sounds_like":' + w + "}]" for w in WEIRD_STRINGS + ['["she vawn"]', '["\\ud800"]', '[""]']]  # fmt: skip
WEIRD_PHRASES = ['["call mom","open the door","[unk]"]', '["open the door"]', "[]", "[1,2]", '"open the door"',
                 "[" + ",".join(['"x"'] * 1001) + "]", '["' + "a" * 101 + '"]', '["\\ud800"]', '["R2D2"]', "null"]  # fmt: skip
DOCUMENTED_CLOSES = {1000, 1001, 1007, 1008, 1009, 1013, 4001, 4002, 4008}
PARSE_KINDS = {"deep_json", "weird_config", "weird_auth", "huge_float_audio"}  # the wire layer's cases
OVERSIZE_KINDS = {"oversize_frame", "oversize_fragments"}  # the websocket layer closes these with 1009
OVERSIZE_BY = [1, 2, 1_000]  # bytes a message goes over the limit by
FRAGMENTS = [2, 3, 16]  # frames an oversize fragmented message is sent in


@dataclass
class FuzzStats:
    messages: int = 0
    sessions: int = 0
    closes: Counter = field(default_factory=Counter)  # close code -> sessions
    oversize_sent: Counter = field(default_factory=Counter)  # "native oversize_frame" and so on -> messages sent
    oversize_closes: Counter = field(default_factory=Counter)  # close code -> sessions that sent an oversize message
    bad: list = field(default_factory=list)  # (close code, kind of the last message) outside the documented set
    refused: int = 0  # handshakes refused (503 at the cap)
    seconds: float = 0.0


def oversize(rng: random.Random, max_bytes: int, fragmented: bool) -> str | bytes | list[str] | list[bytes]:
    """A message just over ``max_bytes``: text or binary, in one frame or in fragments each under the limit."""
    size = max_bytes + rng.choice(OVERSIZE_BY)
    text = rng.random() < 0.5
    data: str | bytes = "x" * size if text else bytes(size)
    if not fragmented:
        return data
    count = rng.choice(FRAGMENTS)
    step = -(-size // count)  # ceil: every fragment under the limit, together over it
    return [data[i : i + step] for i in range(0, size, step)]  # type: ignore[return-value]


def message(rng: random.Random, vosk: bool, max_bytes: int) -> tuple[str, str | bytes | list[str] | list[bytes]]:
    """One fuzzed message and its kind; ``max_bytes`` is the server's message size limit."""
    roll = rng.random()
    if roll < 0.30:
        n = rng.choice([0, 1, 2, 3, 160, 320, 801, 1600])
        return "audio", (np.sin(np.arange(n) * 0.05) * rng.choice([0, 100, 10_000, 32767])).astype("<i2").tobytes()
    if roll < 0.40:
        return "random_bytes", rng.randbytes(rng.choice([1, 2, 5, 64, 1000, 4096]))
    if roll < 0.47:
        value = rng.choice([3e38, 1e30, 1e5, -1e5, float("nan"), float("inf"), 1.0])
        return "huge_float_audio", np.full(rng.choice([1, 2, 160]), value, dtype="<f4").tobytes()
    if roll < 0.55:
        depth = rng.choice([10, 100, 1_000, 5_000])
        opener, closer = rng.choice([("[", "]"), ('{"a":', "}")])
        return "deep_json", opener * depth + "1" + closer * depth
    if roll < 0.65:
        keys = ["sample_rate", "channels", "phrase_list", "max_alternatives", "words"] if vosk else [
            "sample_rate", "channels", "encoding", "hotwords"]  # fmt: skip
        choices = {"encoding": WEIRD_STRINGS, "hotwords": WEIRD_HOTWORDS, "phrase_list": WEIRD_PHRASES,
                   "words": WEIRD_STRINGS + WEIRD_NUMBERS}  # fmt: skip
        fields = {k: rng.choice(choices.get(k, WEIRD_NUMBERS)) for k in rng.sample(keys, 1)}
        body = ",".join(f'"{k}":{v}' for k, v in fields.items())
        return "weird_config", ('{"config":{' + body + "}}") if vosk else ('{"type":"config",' + body + "}")
    if roll < 0.70:
        token = rng.choice(WEIRD_STRINGS + WEIRD_NUMBERS)
        return "weird_auth", ('{"config":{"token":' + token + "}}") if vosk else (
            '{"type":"auth","token":' + token + "}"
        )
    if roll < 0.82:
        return "garbage_text", rng.choice(["", "x", "{", "[]", "null", '{"type":"sing"}', '{"type":5}', "\u00e9" * 50,
                                           '{"type":null}', '{"reset":1}', '{"type":"config"}', '"eof"'])  # fmt: skip
    if roll < 0.955:
        return "control", '{"reset":1}' if vosk else '{"type":"finalize"}'
    if roll < 0.97:
        fragmented = rng.random() < 0.5
        return ("oversize_fragments" if fragmented else "oversize_frame"), oversize(rng, max_bytes, fragmented)
    return "eof", '{"eof":1}' if vosk else '{"type":"eof"}'


async def fuzz_session(
    address: str, rng: random.Random, vosk: bool, count: int, max_bytes: int, stats: FuzzStats
) -> None:
    """Send up to ``count`` fuzzed messages on one session (stopping at eof or the close), reading as it goes."""
    try:
        ws = await connect(address, max_size=None)
    except InvalidStatus:
        stats.refused += 1
        return
    stats.sessions += 1
    kind = "none"
    oversized = False  # an oversize message was sent: the server closes with 1009, unless it was closing already

    async def read() -> None:
        with contextlib.suppress(ConnectionClosed):
            async for _ in ws:
                pass

    reader = asyncio.ensure_future(read())
    try:
        for _ in range(count):
            kind, data = message(rng, vosk, max_bytes)
            await ws.send(data)
            stats.messages += 1
            if kind in OVERSIZE_KINDS:
                stats.oversize_sent[f"{'vosk' if vosk else 'native'} {kind}"] += 1
                oversized = True
            if kind == "eof":
                break
        else:
            await ws.send('{"eof":1}' if vosk else '{"type":"eof"}')
    except ConnectionClosed:
        pass
    await asyncio.wait_for(reader, 60)
    code = ws.close_code
    stats.closes[code] += 1
    if oversized:
        stats.oversize_closes[code] += 1
    if code not in DOCUMENTED_CLOSES:
        stats.bad.append((code, kind, ws.close_reason))


async def fuzz(
    address_native: str, address_vosk: str, seed: int, messages: int, max_bytes: int, parallel: int = 6
) -> FuzzStats:
    """About ``messages`` fuzzed messages over both protocols, ``parallel`` sessions at a time per protocol.

    ``max_bytes``: both servers' ``max_message_bytes``, which the oversize messages go over.
    """
    rng = random.Random(seed)
    stats = FuzzStats()
    start = time.monotonic()

    async def lane(address: str, vosk: bool, lane_seed: int) -> None:
        lane_rng = random.Random(lane_seed)
        while stats.messages < messages:
            await fuzz_session(address, lane_rng, vosk, lane_rng.choice([5, 30, 100, 300]), max_bytes, stats)

    lanes = [lane(address_native, False, rng.randrange(2**32)) for _ in range(parallel)]
    lanes += [lane(address_vosk, True, rng.randrange(2**32)) for _ in range(parallel)]
    await asyncio.gather(*lanes)
    stats.seconds = time.monotonic() - start
    return stats


def summary(stats: FuzzStats) -> dict:
    return {
        "messages": stats.messages,
        "sessions": stats.sessions,
        "refused": stats.refused,
        "seconds": round(stats.seconds, 1),
        "close_codes": _by_code(stats.closes),
        "oversize_sent": dict(sorted(stats.oversize_sent.items())),
        "oversize_close_codes": _by_code(stats.oversize_closes),
        "undocumented_closes": len(stats.bad),
    }


def _by_code(closes: Counter) -> dict[str, int]:
    return {str(k): v for k, v in sorted(closes.items(), key=lambda kv: str(kv[0]))}


__all__ = ["DOCUMENTED_CLOSES", "OVERSIZE_KINDS", "PARSE_KINDS", "FuzzStats", "fuzz", "oversize", "summary"]
