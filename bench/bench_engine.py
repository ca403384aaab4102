"""The batching engine alone: hops per second with a model that costs nothing.

    python bench/bench_engine.py [--streams 1000,3000] [--seconds 3] [--profile]

A fake model hands back precomputed conv features and logits, so what is timed is
the per-hop work around the model: slicing audio, normalizing, stacking windows,
greedy CTC, stitching, partial text. The fake's frames are mostly blank with
letters in runs, as speech gives, so partials change and segments end. Streams
get one hop of audio each, then one ``BatchEngine.step`` runs every due hop;
``push`` (the server's feed) is timed apart. One thread. Wall time and this process's
CPU time are both reported: on a shared machine the CPU time is the steadier figure. Target:
>= 10,000 hops/s, i.e. one inference thread keeps 3,000 streams at 0.3 s hops.
Writes bench/results/engine.json.
"""

from __future__ import annotations

import argparse
import cProfile
import pstats
import sys
import time
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from common import cpu_name, write_results

from model import HubertConfig, load_model
from model.device import resolve_dtype
from streamer import BatchEngine, Recognizer, StreamingConfig

POOL = 64  # distinct precomputed windows the fake cycles through
TARGET_HOPS_PER_S = 10_000


class FreeModel:
    """Looks like a streamable model to the recognizer; every forward is a precomputed slice."""

    def __init__(self, vocab, config: StreamingConfig, conv_dim: int = 512, max_batch: int = 256) -> None:
        self.vocab, self.name, self.streamable = vocab, "free", True
        self.config = HubertConfig(vocab_size=len(vocab))  # the standard conv stack: 320-sample frames
        self.device = torch.device("cpu")
        self.dtype = resolve_dtype(None, self.device)  # what a real model would run in here
        generator = torch.Generator().manual_seed(0)
        self._features = torch.randn(max_batch, config.hop_frames, conv_dim, generator=generator).to(self.dtype)
        self._conv_dim = conv_dim
        # Mostly blank, letters in runs of 2-4 frames, a word delimiter now and then.
        ids = torch.zeros(POOL + max_batch, config.window_frames, dtype=torch.long)
        letters = torch.randint(4, len(vocab), ids.shape, generator=generator)
        speaking = torch.rand(ids.shape, generator=generator) < 0.35
        ids[speaking] = letters[speaking]
        ids[:, ::9] = vocab.delimiter_id
        logits = torch.full((*ids.shape, len(vocab)), -4.0)
        self._logits = logits.scatter_(-1, ids[..., None], 4.0).to(self.dtype)  # [pool, window, vocab]
        self._next = 0

    def extract_features(self, audio: torch.Tensor) -> torch.Tensor:
        """``[batch, samples]`` -> ``[batch, frames, conv_dim]`` (precomputed)."""
        batch, samples = audio.shape
        frames = (samples - 400) // 320 + 1
        if frames == self._features.shape[1]:
            return self._features[:batch]
        return torch.zeros(batch, frames, self._conv_dim, dtype=self.dtype)

    def forward_features(self, windows: torch.Tensor, frame_mask: torch.Tensor | None = None) -> torch.Tensor:
        """``[batch, frames, conv_dim]`` -> logits ``[batch, frames, vocab]`` (precomputed; a final pass's
        longer stretch repeats a window's)."""
        first = self._next
        self._next = (self._next + windows.shape[0]) % POOL
        logits = self._logits[first : first + windows.shape[0]]
        if windows.shape[1] > logits.shape[1]:
            logits = logits.repeat(1, -(-windows.shape[1] // logits.shape[1]), 1)
        return logits[:, : windows.shape[1]]

    forward_window = forward_features  # the window path without a cache

    def new_kv_cache(self, batch: int, frames: int) -> torch.Tensor:
        """A cache of the layout the recognizer keeps, one element per frame (no layers to fill)."""
        return torch.empty(batch, 1, 2, 1, frames, 1, dtype=self.dtype)

    def forward_step(self, windows: torch.Tensor, new: int, past, frame_mask=None) -> tuple[torch.Tensor, torch.Tensor]:
        """Logits of a window's newest ``new`` frames and their keys/values (the KV-cached path)."""
        return self.forward_features(windows)[:, -new:], self.new_kv_cache(windows.shape[0], new)


def run(model, config: StreamingConfig, streams: int, seconds: float, max_batch: int) -> dict:
    recognizers = [Recognizer(model, config) for _ in range(streams)]
    engine = BatchEngine(model, max_batch=max_batch)
    hop = config.hop_frames * 320
    rng = np.random.default_rng(0)
    audio = (rng.standard_normal(hop * 4) * 0.1).astype(np.float32)
    pushing = stepping = cpu = 0.0
    hops = 0
    for step in range(int(seconds * 16_000) // hop):
        block = audio[(step % 4) * hop : (step % 4 + 1) * hop]
        start = time.perf_counter()
        for recognizer in recognizers:
            recognizer.push(block)
        pushing += time.perf_counter() - start
        start, start_cpu = time.perf_counter(), time.process_time()
        windows = engine.windows
        engine.step(recognizers)
        stepping += time.perf_counter() - start
        cpu += time.process_time() - start_cpu
        hops += engine.windows - windows
    return {
        "streams": streams,
        "hops": hops,
        "hops_per_s": round(hops / stepping),
        "hops_per_cpu_s": round(hops / cpu),  # per second of this process's CPU time: less hit by others' load
        "hops_per_s_with_push": round(hops / (stepping + pushing)),
        "step_ms_per_hop": round(1000 * stepping / hops, 4),
        "push_ms_per_hop": round(1000 * pushing / hops, 4),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--streams", default="1000,3000")
    parser.add_argument("--seconds", type=float, default=3.0, help="audio per stream")
    parser.add_argument("--max-batch", type=int, default=256)
    parser.add_argument("--profile", action="store_true", help="print the top of a cProfile of the last run")
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "engine.json")
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    config = StreamingConfig()
    model = FreeModel(load_model("demo", device="cpu").vocab, config, max_batch=args.max_batch)
    counts = [int(n) for n in args.streams.split(",")]
    run(model, config, 50, 1.0, args.max_batch)  # warm-up
    results = {
        "setup": {
            "cpu": cpu_name(),
            "threads": 1,
            "max_batch": args.max_batch,
            "seconds_per_stream": args.seconds,
            "torch": torch.__version__,
            "config": "default StreamingConfig (KV-cached windows, final pass)",
            "note": "a zero-cost model: only the engine's and recognizers' per-hop work; shared 2-core VM",
            "target_hops_per_s": TARGET_HOPS_PER_S,
        },
        "runs": [],
    }
    for n in counts:
        if args.profile and n == counts[-1]:
            profiler = cProfile.Profile()
            profiler.enable()
        entry = run(model, config, n, args.seconds, args.max_batch)
        results["runs"].append(entry)
        print(entry, flush=True)
    if args.profile:
        profiler.disable()
        pstats.Stats(profiler).sort_stats("tottime").print_stats(25)
    write_results(args.out, results)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
