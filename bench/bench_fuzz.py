"""The server under a seeded fuzz of both protocols: messages, sessions, close codes and tracebacks.

    python bench/bench_fuzz.py                      # 10,000 messages, seed 16
    python bench/bench_fuzz.py --messages 2000 --out /tmp/fuzz.json

Runs a native and a Vosk ``StreamServer`` (demo model) in this process with small limits, fuzzes
both with ``tests/fuzz_server.py`` while an honest session streams ``examples/weather.wav`` at 4x real
time, and writes ``bench/results/server_fuzz.json``: message count, time, close codes (none outside
the documented set, never 1011), the oversize messages sent and how their sessions closed, tracebacks
logged at INFO and above grouped by the exception and the function that raised it, and whether the
honest session got its exact finals.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import logging
import sys
import traceback
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

import soundfile as sf
from common import cpu_name, write_results
from fuzz_server import fuzz, summary
from test_server import final_texts, running_server, stream_clip, url


class Tracebacks(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self.where: Counter = Counter()

    def emit(self, record: logging.LogRecord) -> None:
        if record.exc_info and record.exc_info[1] is not None:
            error = record.exc_info[1]
            last = traceback.extract_tb(error.__traceback__)[-1]
            own = [f for f in traceback.extract_tb(error.__traceback__) if "/streamer/" in f.filename]
            at = f"{Path(own[-1].filename).name}:{own[-1].name}" if own else f"{Path(last.filename).name}:{last.name}"
            self.where[f"{type(error).__name__} in {at}"] += 1


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--messages", type=int, default=10_000)
    parser.add_argument("--seed", type=int, default=16)
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "server_fuzz.json")
    args = parser.parse_args(argv)

    import torch

    from model import load_model
    from streamer.core.files import transcribe_stream

    torch.set_num_threads(1)
    demo = load_model("demo", device="cpu")
    weather = sf.read(ROOT / "examples" / "weather.wav", dtype="int16")[0]
    expected = final_texts(transcribe_stream(demo, weather, 16_000))
    handler = Tracebacks()
    logging.getLogger().addHandler(handler)
    logging.getLogger().setLevel(logging.INFO)
    small = {"max_message_bytes": 64_000, "max_sessions": 16, "idle_timeout": 5.0}
    with running_server(demo, **small) as native, running_server(demo, protocol="vosk", **small) as vosk:

        async def scenario():
            honest = asyncio.ensure_future(stream_clip(url(native), weather, pace=4.0))
            stats = await fuzz(url(native), url(vosk, "/"), args.seed, args.messages, small["max_message_bytes"])
            return stats, await honest

        stats, (events, code) = asyncio.run(scenario())
    gc.collect()  # a task whose exception nobody read is logged when it is collected
    results = {
        "cpu": cpu_name(),
        "seed": args.seed,
        **summary(stats),
        "tracebacks": sum(handler.where.values()),
        "tracebacks_by_cause": dict(handler.where.most_common()),
        "honest_session_exact": code == 1000 and final_texts(events) == expected,
    }
    for key, value in results.items():
        print(f"{key}: {value}")
    write_results(args.out, results)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
