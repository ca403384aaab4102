"""Forward time of the native model against transformers' HubertForCTC, like for like.

    python bench/bench_model.py [--layers 24] [--runs 5]

Same large-architecture random weights (hidden 1024, 24 layers, layer-norm conv
encoder, stable pre-LN), 10 s of audio, batch 1, CPU, in fp32 and in bf16.
Runs alternate between the two implementations so background load hits both
alike; the median is reported. Writes bench/results/model_speed.json.
"""

from __future__ import annotations

import argparse
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from common import write_results  # noqa: E402

from model import load_model  # noqa: E402
from training.checkpoints import write_checkpoint  # noqa: E402

LARGE = dict(
    hidden_size=1024,
    num_attention_heads=16,
    intermediate_size=4096,
    conv_dim=(512,) * 7,
    feat_extract_norm="layer",
    do_stable_layer_norm=True,
    conv_bias=True,
    num_conv_pos_embeddings=128,
    num_conv_pos_embedding_groups=16,
    vocab_size=32,
    pad_token_id=0,
)
SECONDS = 10.0


def timed(fn, audio) -> float:
    start = time.perf_counter()
    fn(audio)
    return time.perf_counter() - start


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--layers", type=int, default=24)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "model_speed.json")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    import transformers

    audio = torch.randn(1, int(16_000 * SECONDS), generator=torch.Generator().manual_seed(0)) * 0.3
    results = {
        "setup": {
            "architecture": f"hidden 1024, {args.layers} layers, 16 heads, conv 512x7 (layer norm), stable pre-LN",
            "audio_seconds": SECONDS,
            "batch": 1,
            "threads": args.threads,
            "runs": args.runs,
            "torch": torch.__version__,
            "transformers": transformers.__version__,
            "cpu": platform.processor() or platform.machine(),
        }
    }
    with tempfile.TemporaryDirectory() as tmp:
        ref = write_checkpoint(Path(tmp), dict(LARGE, num_hidden_layers=args.layers))
        ref = transformers.HubertForCTC.from_pretrained(tmp, attn_implementation="sdpa").eval()
        for mode, dtype in (("fp32", torch.float32), ("bf16", torch.bfloat16)):
            native = load_model(tmp, device="cpu", dtype=dtype)
            reference = ref.to(dtype)
            x = audio.to(dtype)
            with torch.inference_mode():
                native_logits, ref_logits = native(x), reference(x).logits  # warm-up
                native_times, ref_times = [], []
                for _ in range(args.runs):
                    native_times.append(timed(native, x))
                    ref_times.append(timed(lambda a: reference(a).logits, x))
            entry = {
                "native_s": round(statistics.median(native_times), 4),
                "reference_s": round(statistics.median(ref_times), 4),
            }
            entry["speedup"] = round(entry["reference_s"] / entry["native_s"], 3)
            entry["max_abs_logit_diff"] = float((native_logits.float() - ref_logits.float()).abs().max())
            entry["same_argmax"] = bool(torch.equal(native_logits.argmax(-1), ref_logits.argmax(-1)))
            results[mode] = entry
            print(
                f"{mode}: native {entry['native_s']:.3f} s, transformers {entry['reference_s']:.3f} s, "
                f"speed-up {entry['speedup']:.2f}x, max |diff| {entry['max_abs_logit_diff']:.2e}, "
                f"same argmax {entry['same_argmax']}",
                flush=True,
            )
            del native
    write_results(args.out, results)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
