"""CTC decoders on the same logits: accuracy and CPU time, beside the large architecture's forward.

    python bench/bench_decoders.py [--utterances 100] [--runs 3]

The demo model's logits of held-out sentences in held-out voices (as bench/eval_demo_model.py) are
decoded by greedy CTC, by this project's ``BeamSearchDecoder`` (flashlight-text) without and with
the demo LM, and, where importable, by pyctcdecode with the same beam width, LM and weights (alpha =
lm_weight / ln 10, beta = word_score). CPU time per audio second is this thread's, one torch thread.
Beside them, in alternating runs: the offline forward of the large architecture (random weights,
as bench/bench_large.py) on a 10 s clip, per audio second, the yardstick the decoders' cost is
given against. Writes bench/results/decoders.json.
"""

from __future__ import annotations

import argparse
import math
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench_large import speechlike  # noqa: E402
from bench_model import LARGE  # noqa: E402
from common import cpu_name, write_results  # noqa: E402
from eval_demo_model import load_with_voices  # noqa: E402
from eval_hotwords import all_logits  # noqa: E402

from model import load_model  # noqa: E402
from model.decoding import DEFAULT_BEAM_SIZE, BeamSearchDecoder, GreedyDecoder  # noqa: E402
from model.lm import load_language_model  # noqa: E402
from streamer.wire.units import FRAME_SECONDS  # noqa: E402
from training.checkpoints import write_checkpoint  # noqa: E402
from training.corpus import heldout_sentences  # noqa: E402
from training.metrics import cer, wer  # noqa: E402
from training.synth import HELDOUT_VOICES, build_dataset  # noqa: E402



def pyctcdecode_decoders(vocab, lm) -> dict:
    """pyctcdecode without and with the LM, when it is installed (it is not a dependency)."""
    try:
        from pyctcdecode import build_ctcdecoder
    except ImportError:
        return {}
    labels = ["" if i == vocab.blank_id else " " if i == vocab.delimiter_id else t for i, t in enumerate(vocab.tokens)]
    arpa = next(lm.path.glob("*.arpa"))
    plain = build_ctcdecoder(labels)
    with_lm = build_ctcdecoder(
        labels, kenlm_model_path=str(arpa), unigrams=sorted(lm.words), alpha=lm.lm_weight / math.log(10), beta=lm.word_score
    )

    def run(decoder):
        return lambda logits: decoder.decode(torch.log_softmax(logits, -1).numpy(), beam_width=DEFAULT_BEAM_SIZE)

    return {"pyctcdecode, no LM": run(plain), "pyctcdecode, LM": run(with_lm)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--utterances", type=int, default=100)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--lm", default="demo")
    parser.add_argument("--cache", type=Path, default=Path.home() / ".cache" / "hubert-stream")
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "decoders.json")
    args = parser.parse_args()
    torch.set_num_threads(1)
    model = load_model("demo", device="cpu", dtype="float32", lm=None)
    items = load_with_voices(build_dataset(heldout_sentences(300), HELDOUT_VOICES, args.cache / "eval-heldout_voices", seed=1))
    items = items[: args.utterances]
    logits, refs = all_logits(model, [a for a, _, _ in items]), [t for _, t, _ in items]
    audio_seconds = sum(x.shape[0] for x in logits) * FRAME_SECONDS
    lm = load_language_model(args.lm)
    vocab = model.vocab
    decoders = {
        "greedy": GreedyDecoder(vocab).decode,
        "flashlight-text, no LM": BeamSearchDecoder(vocab).decode,
        "flashlight-text, LM": BeamSearchDecoder(vocab, lm).decode,
    }
    decoders.update(pyctcdecode_decoders(vocab, lm))

    with tempfile.TemporaryDirectory() as tmp:
        write_checkpoint(Path(tmp), dict(LARGE, num_hidden_layers=24))
        large = load_model(tmp, device="cpu")
        large_dtype = str(large.dtype).removeprefix("torch.")
        clip = speechlike(10.0)
        large.transcribe(clip)  # warm-up
        times: dict[str, list[float]] = {name: [] for name in ["large forward", *decoders]}
        texts: dict[str, list[str]] = {}
        for run in range(args.runs):
            start = time.thread_time()
            large.transcribe(clip)
            times["large forward"].append((time.thread_time() - start) / 10.0)
            for name, decode in decoders.items():
                start = time.thread_time()
                out = [decode(x) for x in logits]
                times[name].append((time.thread_time() - start) / audio_seconds)
                texts[name] = [o if isinstance(o, str) else o.text for o in out]
            print(f"run {run + 1}: " + ", ".join(f"{k} {v[-1]:.4f}" for k, v in times.items()), flush=True)
    large_cost = statistics.median(times["large forward"])
    rows = []
    for name in decoders:
        cost = statistics.median(times[name])
        hyps = [" ".join(t.split()) for t in texts[name]]
        rows.append(
            {
                "decoder": name,
                "cpu_s_per_audio_s": round(cost, 5),
                "vs_large_forward": round(cost / large_cost, 4),
                "cer": round(cer(refs, hyps), 4),
                "wer": round(wer(refs, hyps), 4),
            }
        )
        print(rows[-1], flush=True)
    write_results(
        args.out,
        {
            "cpu": cpu_name(),
            "torch_threads": 1,
            "clock": "thread CPU time, median of runs",
            "runs": args.runs,
            "utterances": len(items),
            "audio_seconds": round(audio_seconds, 1),
            "beam_size": DEFAULT_BEAM_SIZE,
            "lm": args.lm,
            "lm_weight": lm.lm_weight,
            "word_score": lm.word_score,
            "large_forward": {"cpu_s_per_audio_s": round(large_cost, 4), "dtype": large_dtype, "clip_seconds": 10.0},
            "rows": rows,
        },
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
