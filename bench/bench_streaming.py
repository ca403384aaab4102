"""Streaming cost, latency and accuracy against offline decoding, over a few configs.

    python bench/bench_streaming.py [--model demo] [--seconds 60]

For each config, on about 60 s of espeak-ng sentences with pauses:
- compute: streaming time per audio second, divided by offline (one forward over the
  whole recording); this thread's CPU time with ``--threads 1``, else wall time; both the
  best of repeated runs (3 offline; 3 streaming, the configs taking turns) after a full-size
  warm-up, so other load on the machine counts less;
- algorithmic latency: hop + lookahead;
- partial latency p50/p95: in a paced simulation (audio arrives in 20 ms blocks
  at real time, compute takes the time it really took), from a word's end in the
  audio (its final's word timing) to the first partial that shows it in place;
- final latency p50/p95: from a segment's last word's end to its final event;
- difference of the streamed finals from the offline transcript (CER), and the CER
  of each against the spoken text;
- on 70 short held-out sentences in voices kept out of training, each its own stream
  (where a stream's start weighs most): how many first words come out right, and the
  CER, streamed and offline;
- ``finalize()`` at 40 random points inside the first 20 of them: how much the joined
  finals differ from the uncut streams'.
Writes bench/results/streaming.json.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from common import cpu_name, write_results  # noqa: E402

from model import load_model  # noqa: E402
from streamer import Final, Partial, Recognizer, StreamingConfig  # noqa: E402
from streamer.core.config import FRAME_SECONDS  # noqa: E402
from training.metrics import cer, first_words_right  # noqa: E402
from training.fidelity import finalize_cuts, short_streams  # noqa: E402
from training.speech import heldout_recording, short_utterances  # noqa: E402

SHORT_SEED = 11  # training.speech's default set, the one the tests use
OTHER_SEED = 23  # another 70 sentences and voices
BLOCK = 320  # 20 ms blocks, as a sound card delivers them
TIMING_ROUNDS = 3  # streaming runs per config for its compute figure, the configs taking turns
CONFIGS = [
    # StreamingConfig fields over BASE (window sizes in 20 ms frames); the default is BASE itself
    {},
    {"final_pass": False},  # the windows' own ids as finals
    {"kv_cache": False},
    {"final_context_frames": 50},
    {"final_context_frames": 200},
    {"kv_cache": False, "final_pass": False},  # whole windows, the windows' own finals
    {"lookahead_frames": 30, "final_pass": False},
    {"lookahead_frames": 60, "left_context_frames": 40, "final_pass": False},
    {"lookahead_frames": 60, "left_context_frames": 40},
    {"lookahead_frames": 10},  # cheaper windows: the final pass still decodes the finals
    {"lookahead_frames": 5},
    {"lookahead_frames": 0},
    {"hop_frames": 8, "lookahead_frames": 8},
    {"hop_frames": 25, "lookahead_frames": 25},
]
BASE = {
    "hop_frames": 15, "lookahead_frames": 15, "left_context_frames": 50, "kv_cache": True,
    "final_pass": True, "final_context_frames": 500,
}  # fmt: skip


def config_name(config: StreamingConfig) -> str:
    """How docs/performance.md's streaming table names a config."""
    name = (
        f"hop {config.hop_frames * FRAME_SECONDS:g} / look {config.lookahead_frames * FRAME_SECONDS:g} / "
        f"left {config.left_context_frames * FRAME_SECONDS:g}"
    )
    name += ", kv cache" if config.kv_cache else ""
    if config.final_pass:
        return name + f", final pass (history up to {config.final_context_frames * FRAME_SECONDS:g} s)"
    return name + ", windows' finals"


def percentile(values: list[float], q: float) -> float:
    return float(np.percentile(values, q)) if values else float("nan")


def paced_run(model, audio: np.ndarray, config: StreamingConfig, clock=time.perf_counter):
    """Stream in real-time 20 ms blocks; return (compute seconds, finals, latency of each final word,
    latency of each final). ``clock`` times the compute (``time.thread_time`` with one thread: the
    CPU time this thread spent, which other load on the machine does not inflate).

    A word's latency runs from its end in the audio (the final's word timing) to the first
    moment a partial of its segment showed that word in that place, or else its final; a final's
    from its last word's end to the final itself.
    """
    recognizer = Recognizer(model, config)
    free_at = 0.0  # simulated wall clock: when the recognizer is free again
    compute = 0.0
    finals: list[Final] = []
    latencies: list[float] = []
    final_latencies: list[float] = []
    seen: list[tuple[float, list[str]]] = []  # (time, words) of the current segment's partials

    def take(events, now: float) -> None:
        for event in events:
            if isinstance(event, Partial):
                seen.append((now, event.text.split()))
            elif isinstance(event, Final):
                for k, word in enumerate(event.words):
                    shown = next((t for t, words in seen if len(words) > k and words[k] == word.word), now)
                    latencies.append(shown - word.end)
                seen.clear()
                finals.append(event)
                final_latencies.append(now - event.end)

    for start in range(0, len(audio), BLOCK):
        arrival = (start + BLOCK) / 16_000
        began = max(free_at, arrival)
        t = clock()
        events = recognizer.accept(audio[start : start + BLOCK])
        spent = clock() - t
        compute += spent
        free_at = began + spent
        take(events, free_at)
    t = clock()
    events = recognizer.close()
    spent = clock() - t
    compute += spent
    take(events, max(free_at, len(audio) / 16_000) + spent)
    return compute, finals, latencies, final_latencies


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", default="demo")
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "streaming.json")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    clock = time.thread_time if args.threads == 1 else time.perf_counter  # see paced_run
    model = load_model(args.model, device="cpu")

    sentences, audio = heldout_recording(args.seconds)
    seconds = len(audio) / 16_000
    with torch.inference_mode():
        model.transcribe(audio)  # warm-up at full size: the first call pays for allocation
        times = []
        for _ in range(3):
            t = clock()
            offline = model.transcribe(audio)
            times.append(clock() - t)
        offline_time = min(times)
    results = {
        "model": args.model,
        "cpu": cpu_name(),
        "audio_seconds": round(seconds, 1),
        "sentences": len(sentences),
        "threads": args.threads,
        "clock": clock.__name__,
        "offline_seconds": round(offline_time, 3),
        "configs": {},
    }
    print(f"{seconds:.1f} s of speech, {len(sentences)} sentences; offline decode {offline_time:.2f} s")
    reference = " ".join(sentences)
    offline_cer = cer([reference], [offline.text])
    results["offline_cer_vs_text"] = round(offline_cer, 4)
    short_sets = {}  # name -> (texts, clips): the tests' set, and one more the defaults were not tuned on
    for key, seed in (("short_sentences", SHORT_SEED), ("short_sentences_other", OTHER_SEED)):
        texts, clips = short_utterances(seed=seed)
        short_sets[key] = texts, clips
        short_offline = [t.text for t in model.transcribe(clips)]
        results[key] = {
            "seed": seed,
            "sentences": len(texts),
            "offline_first_words_right": first_words_right(texts, short_offline),
            "offline_cer": round(cer(texts, short_offline), 4),
        }
        print(
            f"{len(texts)} short sentences (seed {seed}), each its own stream; offline: first word right "
            f"{results[key]['offline_first_words_right']}, CER {results[key]['offline_cer']:.2%}"
        )
    header = (
        f"{'config':72} {'compute':>8} {'p50':>6} {'p95':>6} {'final':>6} {'vs off':>7} "
        f"{'CER':>6} {'1st':>4} {'short':>6} {'other':>6} {'cuts':>6}  (offline CER {offline_cer:.2%})"
    )
    configs = {}  # name -> config
    for fields in CONFIGS:
        config = StreamingConfig(**{**BASE, **fields})
        configs[config_name(config) + (" (default)" if config == StreamingConfig() else "")] = config
    # Compute: the best of TIMING_ROUNDS runs per config, the configs taking turns, so a slow spell of
    # the machine (or of the allocator after another config's larger tensors) does not land on one.
    # Finals and latencies come from the last round's run.
    runs = {name: [] for name in configs}
    for _ in range(TIMING_ROUNDS):
        for name, config in configs.items():
            runs[name].append(paced_run(model, audio, config, clock))
    print(header)
    for name, config in configs.items():
        _, finals, latencies, final_latencies = runs[name][-1]
        compute = min(run[0] for run in runs[name])
        streamed = " ".join(f.text for f in finals)
        entry = {
            "hop_s": round(config.hop_frames * FRAME_SECONDS, 2),
            "lookahead_s": round(config.lookahead_frames * FRAME_SECONDS, 2),
            "left_context_s": round(config.left_context_frames * FRAME_SECONDS, 2),
            "kv_cache": config.kv_cache,
            "final_pass": config.final_pass,
            "final_context_s": round(config.final_context_frames * FRAME_SECONDS, 2) if config.final_pass else None,
            "compute_seconds": round(compute, 3),
            "compute_vs_offline": round(compute / offline_time, 2),
            "real_time_factor": round(compute / seconds, 4),
            "algorithmic_latency_s": round(config.latency_seconds, 2),
            "partial_latency_p50_s": round(percentile(latencies, 50), 3),
            "partial_latency_p95_s": round(percentile(latencies, 95), 3),
            "words_timed": len(latencies),
            "final_latency_p50_s": round(percentile(final_latencies, 50), 3),
            "final_latency_p95_s": round(percentile(final_latencies, 95), 3),
            "cer_vs_offline": round(cer([offline.text], [streamed]), 4),
            "cer_vs_text": round(cer([reference], [streamed]), 4),
        }
        for key, prefix in (("short_sentences", "short"), ("short_sentences_other", "other")):
            texts, clips = short_sets[key]
            short = short_streams(model, clips, config)
            entry[f"{prefix}_first_words_right"] = first_words_right(texts, short)
            entry[f"{prefix}_cer"] = round(cer(texts, short), 4)
        cuts = finalize_cuts(model, short_sets["short_sentences"][1][:20], config)
        entry["finalize_cuts"] = cuts.cuts
        entry["finalize_cut_difference"] = round(cuts.difference, 4)
        entry["finalize_cut_words_lost"] = len(cuts.lost)
        results["configs"][name] = entry
        print(
            f"{name:72} {entry['compute_vs_offline']:>7.2f}x {entry['partial_latency_p50_s']:>5.2f}s "
            f"{entry['partial_latency_p95_s']:>5.2f}s {entry['final_latency_p50_s']:>5.2f}s {entry['cer_vs_offline']:>7.2%} "
            f"{entry['cer_vs_text']:>6.2%} {entry['short_first_words_right']:>4} {entry['short_cer']:>6.2%} "
            f"{entry['other_cer']:>6.2%} {entry['finalize_cut_difference']:>6.2%}",
            flush=True,
        )
    results["normalization"] = {}
    for mode in ("running", "none"):
        config = StreamingConfig(normalize=mode)
        _, finals, _, _ = paced_run(model, audio, config)
        results["normalization"][mode] = round(cer([offline.text], [" ".join(f.text for f in finals)]), 4)
    print(f"normalization, CER vs offline: {results['normalization']}")
    write_results(args.out, results)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
