"""A seeded message fuzzer for the server's two protocols (used by test_server_fuzz.py and bench/bench_fuzz.py).

Each fuzzed session sends a stream of messages drawn from kinds a hostile or broken client sends --
audio of odd sizes and values, random bytes, JSON of the right shape with wrong values (NaN,
Infinity, 1e400, lists, dicts, huge numbers, lone surrogates), deep nesting, garbage text, floods of
control messages -- then eof. Every close code it sees is recorded with the kind of the last message.
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
DOCUMENTED_CLOSES = {1000, 1001, 1007, 1008, 1009, 1013, 4001, 4002, 4008}
PARSE_KINDS = {"deep_json", "weird_config", "weird_auth", "huge_float_audio"}  # the wire layer's cases


@dataclass
class FuzzStats:
    messages: int = 0
    sessions: int = 0
    closes: Counter = field(default_factory=Counter)  # close code -> sessions
    bad: list = field(default_factory=list)  # (close code, kind of the last message) outside the documented set
    refused: int = 0  # handshakes refused (503 at the cap)
    seconds: float = 0.0


def message(rng: random.Random, vosk: bool) -> tuple[str, str | bytes]:
    """One fuzzed message and its kind."""
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
        keys = ["sample_rate", "channels"] if vosk else ["sample_rate", "channels", "encoding"]
        fields = {k: rng.choice(WEIRD_STRINGS if k == "encoding" else WEIRD_NUMBERS) for k in rng.sample(keys, 1)}
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
    if roll < 0.97:
        return "control", '{"reset":1}' if vosk else '{"type":"finalize"}'
    return "eof", '{"eof":1}' if vosk else '{"type":"eof"}'


async def fuzz_session(address: str, rng: random.Random, vosk: bool, count: int, stats: FuzzStats) -> None:
    """Send up to ``count`` fuzzed messages on one session (stopping at eof or the close), reading as it goes."""
    try:
        ws = await connect(address, max_size=None)
    except InvalidStatus:
        stats.refused += 1
        return
    stats.sessions += 1
    kind = "none"

    async def read() -> None:
        with contextlib.suppress(ConnectionClosed):
            async for _ in ws:
                pass

    reader = asyncio.ensure_future(read())
    try:
        for _ in range(count):
            kind, data = message(rng, vosk)
            await ws.send(data)
            stats.messages += 1
            if kind == "eof":
                break
        else:
            await ws.send('{"eof":1}' if vosk else '{"type":"eof"}')
    except ConnectionClosed:
        pass
    await asyncio.wait_for(reader, 60)
    code = ws.close_code
    stats.closes[code] += 1
    if code not in DOCUMENTED_CLOSES:
        stats.bad.append((code, kind, ws.close_reason))


async def fuzz(address_native: str, address_vosk: str, seed: int, messages: int, parallel: int = 6) -> FuzzStats:
    """About ``messages`` fuzzed messages over both protocols, ``parallel`` sessions at a time per protocol."""
    rng = random.Random(seed)
    stats = FuzzStats()
    start = time.monotonic()

    async def lane(address: str, vosk: bool, lane_seed: int) -> None:
        lane_rng = random.Random(lane_seed)
        while stats.messages < messages:
            await fuzz_session(address, lane_rng, vosk, lane_rng.choice([5, 30, 100, 300]), stats)

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
        "close_codes": {str(k): v for k, v in sorted(stats.closes.items(), key=lambda kv: str(kv[0]))},
        "undocumented_closes": len(stats.bad),
    }


__all__ = ["DOCUMENTED_CLOSES", "PARSE_KINDS", "FuzzStats", "fuzz", "summary"]
