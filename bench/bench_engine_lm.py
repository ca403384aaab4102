"""What the demo LM adds to a server's work: many streams through the batching engine, finals greedy
or beam-searched with the LM.

    python bench/bench_engine_lm.py [--streams 32] [--seconds 10] [--runs 3]

The inference worker's loop without sockets: N streams of the demo model, each the example speech
from its own offset, pushed one hop at a time through ``BatchEngine`` (hops batched, then the final
passes), every final decoded by the streams' decoder: greedy (the default) or ``BeamSearchDecoder``
with the demo LM. CPU time of this thread (robust to a shared machine's load, unlike the real-time
capacity of bench/bench_server.py) per stream-second, the two decoders alternating, median of the
runs. Writes bench/results/engine_lm.json.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import soundfile as sf
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from common import cpu_name, write_results  # noqa: E402

from model import load_model  # noqa: E402
from model.decoding import BeamSearchDecoder, GreedyDecoder  # noqa: E402
from model.lm import load_language_model  # noqa: E402
from streamer import BatchEngine, Recognizer, StreamingConfig  # noqa: E402
from streamer.wire.events import Final  # noqa: E402

SAMPLE_RATE = 16_000


def run(model, clips: list[np.ndarray], decoder, config: StreamingConfig) -> tuple[float, int]:
    """CPU seconds to recognize every clip as its own stream, batched; and the finals made."""
    recognizers = [Recognizer(model, config, decoder=decoder) for _ in clips]
    engine = BatchEngine(model, max_batch=32)
    hop = config.hop_frames * 320
    finals = 0
    start = time.thread_time()
    for first in range(0, len(clips[0]), hop):
        for recognizer, clip in zip(recognizers, clips):
            recognizer.push(clip[first : first + hop])
        for events in engine.step(recognizers).values():
            finals += sum(isinstance(e, Final) for e in events)
    for recognizer in recognizers:
        finals += sum(isinstance(e, Final) for e in recognizer.close())
    return time.thread_time() - start, finals


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--streams", type=int, default=32)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "engine_lm.json")
    args = parser.parse_args()
    torch.set_num_threads(1)
    model = load_model("demo", device="cpu", lm=None)
    speech = sf.read(ROOT / "examples" / "weather.wav", dtype="float32")[0]
    speech = np.concatenate([speech, np.zeros(SAMPLE_RATE, np.float32)])  # a pause before it repeats
    length = int(args.seconds * SAMPLE_RATE)
    rng = np.random.default_rng(0)
    clips = [np.resize(np.roll(speech, -int(rng.integers(len(speech)))), length) for _ in range(args.streams)]
    decoders = {"greedy": GreedyDecoder(model.vocab), "beam search, demo LM": BeamSearchDecoder(model.vocab, load_language_model("demo"))}
    config = StreamingConfig()
    run(model, clips[:2], decoders["greedy"], config)  # warm-up
    times: dict[str, list[float]] = {name: [] for name in decoders}
    finals: dict[str, int] = {}
    for number in range(args.runs):
        for name, decoder in decoders.items():
            seconds, finals[name] = run(model, clips, decoder, config)
            times[name].append(seconds / (args.streams * args.seconds))
        print(f"run {number + 1}: " + ", ".join(f"{k} {v[-1]:.4f}" for k, v in times.items()), flush=True)
    cost = {name: statistics.median(values) for name, values in times.items()}
    results = {
        "cpu": cpu_name(),
        "torch_threads": 1,
        "dtype": str(model.dtype).removeprefix("torch."),
        "streams": args.streams,
        "seconds_per_stream": args.seconds,
        "runs": args.runs,
        "clock": "thread CPU time per stream-second, median of runs",
        "finals_per_run": finals,
        "cpu_s_per_stream_s": {name: round(value, 5) for name, value in cost.items()},
        "lm_over_greedy": round(cost["beam search, demo LM"] / cost["greedy"], 3),
    }
    print(results, flush=True)
    write_results(args.out, results)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
