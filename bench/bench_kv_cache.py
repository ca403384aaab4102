"""Accuracy and cost of left-context KV caching on the demo model, against full windows and offline.

    python bench/bench_kv_cache.py [--seconds 60] [--dtypes float32,bfloat16]

On the ~60 s of held-out espeak-ng sentences ``bench/bench_streaming.py`` uses, for each
precision: offline decoding, the stream with full windows, and the same stream with
``StreamingConfig(kv_cache=True)``, both without the final pass (so the finals are the windows'
own ids, which the cache changes): CER of the finals against the text and against offline,
and CPU time (``time.thread_time``, one thread; the machine is shared, so thread time, not wall
time). Streams are fed in 20 ms blocks as a sound card delivers them. Writes
bench/results/kv_cache.json.
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

from common import cpu_name, write_results

from model import load_model
from streamer import Final, Recognizer, StreamingConfig
from training.metrics import cer
from training.speech import heldout_recording

BLOCK = 320  # 20 ms
CONFIGS = {
    # The windows' own finals (no final pass): what the cache changes in them
    "full windows": StreamingConfig(kv_cache=False, final_pass=False),
    "kv_cache (the default windows)": StreamingConfig(kv_cache=True, final_pass=False),
    "hop 0.16 / look 0.16, full windows": StreamingConfig(hop_frames=8, lookahead_frames=8, kv_cache=False, final_pass=False),
    "hop 0.16 / look 0.16, kv_cache": StreamingConfig(hop_frames=8, lookahead_frames=8, kv_cache=True, final_pass=False),
}


def stream(model, audio: np.ndarray, config: StreamingConfig) -> tuple[str, float]:
    recognizer = Recognizer(model, config)
    events = []
    start = time.thread_time()
    for first in range(0, len(audio), BLOCK):
        events += recognizer.accept(audio[first : first + BLOCK])
    events += recognizer.close()
    spent = time.thread_time() - start
    return " ".join(e.text for e in events if isinstance(e, Final) and e.text), spent


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--dtypes", default="float32,bfloat16")
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "kv_cache.json")
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    sentences, audio = heldout_recording(args.seconds)
    text = " ".join(sentences)
    results = {
        "setup": {
            "cpu": cpu_name(),
            "torch": torch.__version__,
            "threads": 1,
            "audio_seconds": round(len(audio) / 16_000, 1),
            "sentences": len(sentences),
            "timing": "CPU seconds (thread_time) of one run each, the machine shared with other jobs",
        }
    }
    for dtype in args.dtypes.split(","):
        model = load_model("demo", device="cpu", dtype=dtype)
        with torch.inference_mode():
            model.transcribe(audio[:16_000])  # warm-up
            start = time.thread_time()
            offline = model.transcribe(audio).text
            offline_s = time.thread_time() - start
        entry = {"offline": {"cer_vs_text": round(cer([text], [offline]), 4), "cpu_s": round(offline_s, 3)}}
        for name, config in CONFIGS.items():
            got, spent = stream(model, audio, config)
            entry[name] = {
                "cer_vs_text": round(cer([text], [got]), 4),
                "cer_vs_offline": round(cer([offline], [got]), 4),
                "cpu_s": round(spent, 3),
                "vs_offline_compute": round(spent / offline_s, 2),
            }
            print(dtype, name, entry[name], flush=True)
        results[dtype] = entry
    write_results(args.out, results)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
