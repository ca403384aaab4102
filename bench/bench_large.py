"""Streaming cost of the large architecture (random weights) against offline decoding.

    python bench/bench_large.py [--device cpu|cuda] [--dtype bfloat16] [--seconds 10] [--runs 3]

Same hub-layout random weights as ``bench/bench_model.py`` (hidden 1024, 24 layers,
layer-norm conv encoder, pre-LN), default ``StreamingConfig``. Random weights cost what
real ones cost; their text means nothing, so only compute is measured here (accuracy is
the demo model's, in ``bench/bench_streaming.py``). In one process, runs alternating:

- offline: ``model.transcribe`` of the whole recording, per audio second (the yardstick);
- live, one stream: ``Recognizer.accept`` in 20 ms blocks, as a sound card delivers them,
  compute per audio second (its real-time factor) and the ratio to offline;
- batched: N streams fed hop by hop through ``BatchEngine`` (one forward per due hop of
  all streams), compute per stream-second and the ratio to offline;
- with ``--compare``, the same live and batched runs for the KV-cached windows without the final
  pass (``--no-final-pass``) and for whole windows without it (``--no-kv-cache --no-final-pass``);
- with ``--compile``, the same live and batched runs with the window forwards compiled
  (``model.device.compile_model``, what ``HUBERT_STREAM_COMPILE=1`` does), compiling in the warm-up;
- the whole-file path (``transcribe_file``: offline in long chunks) and the live windows over
  a file (``transcribe_stream``), per audio second and the ratio to offline.

One intra-op thread unless ``--threads`` says otherwise (see ``model/device.py``).
Writes bench/results/large_model.json (or ``--out``).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench_model import LARGE
from common import device_name, sync, write_results

from model import load_model
from model.device import compile_model
from streamer import BatchEngine, Recognizer, StreamingConfig, transcribe_file, transcribe_stream
from training.checkpoints import write_checkpoint

SAMPLE_RATE = 16_000
BLOCK = 320  # 20 ms blocks for the live stream


def timed(fn, device: torch.device, clock=time.perf_counter) -> float:
    sync(device)
    start = clock()
    fn()
    sync(device)
    return clock() - start


def speechlike(seconds: float, seed: int = 0) -> np.ndarray:
    """Noise bursts and pauses: random weights make no words, but endpoints and segments still happen."""
    rng = np.random.default_rng(seed)
    audio = (rng.standard_normal(int(seconds * SAMPLE_RATE)) * 0.1).astype(np.float32)
    envelope = np.repeat((rng.random(int(seconds * 2) + 1) > 0.3).astype(np.float32), SAMPLE_RATE // 2)
    return audio * envelope[: len(audio)]


def offline(model, audio: np.ndarray) -> None:
    model.transcribe(audio)


def live(model, audio: np.ndarray, config: StreamingConfig) -> None:
    recognizer = Recognizer(model, config)
    for first in range(0, len(audio), BLOCK):
        recognizer.accept(audio[first : first + BLOCK])
    recognizer.close()


def batched(model, audios: list[np.ndarray], config: StreamingConfig, max_batch: int) -> None:
    """N streams, each pushed one hop of audio at a time; the engine runs every due hop together."""
    recognizers = [Recognizer(model, config) for _ in audios]
    engine = BatchEngine(model, max_batch=max_batch)
    hop = config.hop_frames * 320
    for first in range(0, len(audios[0]), hop):
        for recognizer, audio in zip(recognizers, audios):
            recognizer.push(audio[first : first + hop])
        engine.step(recognizers)
    for recognizer in recognizers:
        recognizer.close()


def whole_file(model, audio: np.ndarray, config: StreamingConfig, path=transcribe_file) -> None:
    for _ in path(model, audio, SAMPLE_RATE, config):
        pass


def median_ratio(times: dict[str, list[float]], name: str, base: str, per: float, base_per: float) -> dict:
    cost = statistics.median(times[name]) / per
    base_cost = statistics.median(times[base]) / base_per
    return {"compute_s_per_audio_s": round(cost, 4), "vs_offline": round(cost / base_cost, 2)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--device", default="cpu", help="cpu or cuda")
    parser.add_argument("--dtype", default=None, help="default: the device's default (model/device.py)")
    parser.add_argument("--layers", type=int, default=24)
    parser.add_argument("--hidden", type=int, default=1024, help="hidden size (1024: large); smaller for a dry run")
    parser.add_argument("--seconds", type=float, default=10.0, help="audio per offline/live/file run")
    parser.add_argument("--stream-seconds", type=float, default=3.0, help="audio per stream in the batched runs")
    parser.add_argument("--streams", default="8,16,32", help="stream counts for the batched runs")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument(
        "--compare", action="store_true",
        help="also time the windows without the final pass (KV-cached), and whole windows without it "
        "(--no-kv-cache --no-final-pass)",
    )  # fmt: skip
    parser.add_argument(
        "--compile", action="store_true",
        help="also time live and batched runs with the window forwards compiled (HUBERT_STREAM_COMPILE=1)",
    )  # fmt: skip
    parser.add_argument(
        "--clock",
        choices=("wall", "thread"),
        default=None,
        help="thread: this thread's CPU time (a shared CPU's load distorts wall time); default: thread on the CPU",
    )
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "large_model.json")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    config = StreamingConfig()
    clock_name = args.clock or ("thread" if args.device == "cpu" else "wall")
    clock = time.thread_time if clock_name == "thread" else time.perf_counter
    if clock_name == "thread" and args.threads != 1:
        parser.error("--clock thread counts one thread's CPU time: use it with --threads 1")
    stream_counts = [int(n) for n in args.streams.split(",") if n]
    architecture = dict(LARGE, num_hidden_layers=args.layers, hidden_size=args.hidden)
    architecture["intermediate_size"] = 4 * args.hidden
    with tempfile.TemporaryDirectory() as tmp:
        write_checkpoint(Path(tmp), architecture)
        model = load_model(tmp, device=args.device, dtype=args.dtype)
        others = {}  # job suffix -> (model, config) of the runs beside the default's
        if args.compare:
            others["windows_kv"] = model, StreamingConfig(final_pass=False)
            others["whole_windows"] = model, StreamingConfig(kv_cache=False, final_pass=False)
        if args.compile:  # a second copy, so eager and compiled runs alternate
            others["compiled"] = compile_model(load_model(tmp, device=args.device, dtype=args.dtype)), config
    device = model.device
    audio = speechlike(args.seconds)
    stream_audio = [speechlike(args.stream_seconds, seed) for seed in range(max(stream_counts, default=0))]
    print(f"{device_name(device)}, {model.dtype}, {args.threads} thread(s), {args.layers} layers x {args.hidden}")

    jobs = {
        "offline": (lambda: offline(model, audio), args.seconds),
        "live": (lambda: live(model, audio, config), args.seconds),
        "file": (lambda: whole_file(model, audio, config), args.seconds),
        "file_live_windows": (lambda: whole_file(model, audio, config, transcribe_stream), args.seconds),
        # the batched runs' yardstick: offline over the same length as each stream
        "offline_short": (lambda: offline(model, stream_audio[0]), args.stream_seconds),
    }
    for n in stream_counts:
        jobs[f"batched_{n}"] = (
            lambda n=n: batched(model, stream_audio[:n], config, max_batch=n),
            n * args.stream_seconds,
        )
    for suffix, (other_model, other) in others.items():
        jobs[f"live_{suffix}"] = (lambda m=other_model, other=other: live(m, audio, other), args.seconds)
        for n in stream_counts:
            jobs[f"batched_{n}_{suffix}"] = (
                lambda n=n, m=other_model, other=other: batched(m, stream_audio[:n], other, max_batch=n),
                n * args.stream_seconds,
            )
    times: dict[str, list[float]] = {name: [] for name in jobs}
    for name, (fn, _) in jobs.items():  # warm-up at full size
        fn()
    for run in range(args.runs):  # alternate, so background load hits every job alike
        for name, (fn, _) in jobs.items():
            times[name].append(timed(fn, device, clock))
        print(f"run {run + 1}/{args.runs}: " + ", ".join(f"{k} {v[-1]:.2f}s" for k, v in times.items()), flush=True)

    per = {name: per for name, (_, per) in jobs.items()}
    results = {
        "setup": {
            "architecture": f"hidden {args.hidden}, {args.layers} layers, conv 512x7 (layer norm), pre-LN, random",
            "config": "default StreamingConfig (hop 0.3 s, lookahead 0.3 s, left context 1.0 s, KV cache, final pass); "
            "with --compare also the KV-cached windows alone (windows_kv) and whole windows without the final pass, "
            "--no-kv-cache --no-final-pass (whole_windows); "
            "with --compile also the default with compiled window forwards (compiled)",
            "jobs": sorted(jobs),
            "device": device_name(device),
            "dtype": str(model.dtype).removeprefix("torch."),
            "threads": args.threads,
            "runs": args.runs,
            "audio_seconds": args.seconds,
            "stream_seconds": args.stream_seconds,
            "torch": torch.__version__,
            "timing": f"median of alternating runs after a warm-up; clock: {clock_name} "
            + ("(this thread's CPU time)" if clock_name == "thread" else "(wall; the machine's other load counts too)"),
        },
        "offline": {"compute_s_per_audio_s": round(statistics.median(times["offline"]) / args.seconds, 4)},
        "live_one_stream": median_ratio(times, "live", "offline", args.seconds, args.seconds),
        "file_path": median_ratio(times, "file", "offline", args.seconds, args.seconds),
        "file_live_windows": median_ratio(times, "file_live_windows", "offline", args.seconds, args.seconds),
        "batched": {
            str(n): median_ratio(times, f"batched_{n}", "offline_short", per[f"batched_{n}"], args.stream_seconds)
            for n in stream_counts
        },
        **{
            f"live_one_stream_{suffix}": median_ratio(times, f"live_{suffix}", "offline", args.seconds, args.seconds)
            for suffix in others
        },
        **{
            f"batched_{suffix}": {
                str(n): median_ratio(
                    times, f"batched_{n}_{suffix}", "offline_short", per[f"batched_{n}_{suffix}"], args.stream_seconds
                )
                for n in stream_counts
            }
            for suffix in others
        },
        "runs_s": {name: [round(t, 3) for t in ts] for name, ts in times.items()},
    }
    for key, entry in results.items():
        if key.startswith(("offline", "live", "file")):
            print(key, entry)
        elif key.startswith("batched"):
            for n, figures in entry.items():
                print(f"{key} {n} streams", figures)
    write_results(args.out, results)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
