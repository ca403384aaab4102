"""Forward time of the native model against transformers' HubertForCTC, like for like.

    python bench/bench_model.py [--layers 24] [--runs 5]

Same large-architecture random weights (hidden 1024, 24 layers, layer-norm conv
encoder, stable pre-LN), 10 s of audio, batch 1, CPU, in fp32 and in bf16.
Runs alternate between the two implementations so background load hits both
alike; the median is reported. With ``--compile`` each implementation also runs under
``torch.compile`` (inductor, freezing on the CPU), and the best mode of each is compared.
Writes bench/results/model_speed.json.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from common import cpu_name, write_results  # noqa: E402

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
    parser.add_argument("--threads", type=int, default=1, help="intra-op threads (1: the CPU default, model/device.py)")
    parser.add_argument("--compile", action="store_true", help="also time each implementation under torch.compile")
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
            "cpu": cpu_name(),
        }
    }
    with tempfile.TemporaryDirectory() as tmp:
        ref = write_checkpoint(Path(tmp), dict(LARGE, num_hidden_layers=args.layers))
        ref = transformers.HubertForCTC.from_pretrained(tmp, attn_implementation="sdpa").eval()
        for mode, dtype in (("fp32", torch.float32), ("bf16", torch.bfloat16)):
            native = load_model(tmp, device="cpu", dtype=dtype)
            reference = ref.to(dtype)
            x = audio.to(dtype)
            runners = {"native": native, "reference": lambda a, reference=reference: reference(a).logits}
            if args.compile:
                import torch._inductor.config as inductor_config

                inductor_config.freezing = True  # weights as constants, as model.device.compile_model does
                runners["native_compiled"] = torch.compile(native)
                runners["reference_compiled"] = torch.compile(runners["reference"])
            with torch.inference_mode():
                logits = {name: run(x) for name, run in runners.items()}  # warm-up (and compiling)
                times = {name: [] for name in runners}
                for _ in range(args.runs):
                    for name, run in runners.items():
                        times[name].append(timed(run, x))
            entry = {f"{name}_s": round(statistics.median(ts), 4) for name, ts in times.items()}
            entry["speedup"] = round(entry["reference_s"] / entry["native_s"], 3)
            entry["max_abs_logit_diff"] = float((logits["native"].float() - logits["reference"].float()).abs().max())
            entry["same_argmax"] = bool(torch.equal(logits["native"].argmax(-1), logits["reference"].argmax(-1)))
            line = (
                f"{mode}: native {entry['native_s']:.3f} s, transformers {entry['reference_s']:.3f} s, "
                f"speed-up {entry['speedup']:.2f}x, max |diff| {entry['max_abs_logit_diff']:.2e}, "
                f"same argmax {entry['same_argmax']}"
            )
            if args.compile:  # the best mode of each, eager or compiled
                best = {
                    who: min((name for name in runners if name.startswith(who)), key=lambda n: entry[f"{n}_s"])
                    for who in ("native", "reference")
                }
                entry["best_modes"] = best
                entry["best_speedup"] = round(entry[f"{best['reference']}_s"] / entry[f"{best['native']}_s"], 3)
                entry["best_same_argmax"] = bool(
                    torch.equal(logits[best["native"]].argmax(-1), logits[best["reference"]].argmax(-1))
                )
                line += (
                    f"; compiled: native {entry['native_compiled_s']:.3f} s, transformers "
                    f"{entry['reference_compiled_s']:.3f} s; best of each ({best['native']} vs {best['reference']}) "
                    f"{entry['best_speedup']:.2f}x, same argmax {entry['best_same_argmax']}"
                )
            results[mode] = entry
            print(line, flush=True)
            del native, runners
    write_results(args.out, results)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
