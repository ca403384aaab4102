"""GPU readiness check: one prepared run, under 8 minutes on one H100.

    bash bench/gpu_check.sh              # on the GPU machine (installs carried wheels, then this)
    python bench/gpu_check.py --dry-run  # anywhere: the same steps on the CPU at tiny sizes, seconds

Steps, each recorded in the JSON (``bench/results/gpu_check.json``; a dry run writes only to ``--out``):

1. ``parity``: the native model against transformers' ``HubertForCTC`` (the test-only reference)
   on the same random large-architecture weights, on the device in fp32 (TF32 off), bf16 and
   fp16: largest logit difference and argmax agreement, against the reference in the same
   precision and against the fp32 reference.
2. ``demo_stream``: the demo model streamed over ``bench/data/speech.wav`` (espeak-ng sentences
   with pauses) on the device and on the CPU; the finals compared with each other and the text.
3. ``window_forward``: one window batch (default ``StreamingConfig``) of the large architecture,
   eager against ``torch.compile`` (``model.device.compile_model``), per window, for the KV-cached
   step (the default) and the whole window (``kv_cache=False``), when the switch exists.
4. ``capacity``: how many real-time streams of the large architecture one device holds through
   ``BatchEngine`` (one inference thread, as the server runs it) with the 95th-percentile hop
   latency (a hop's audio is due -> its events are out) under ``--p95-bound``, in the default
   config (KV-cached windows, final pass) and with whole windows and no final pass (``kv_cache=False,
   final_pass=False``). Streams start staggered over one hop; the count doubles while it holds, then bisects.
5. ``final_passes``: the final passes of streams that end sentences together, batched in one padded,
   masked forward (``streamer.core.batch.forward_final_passes``, what ``BatchEngine`` runs) against
   one by one: time per pass and the largest logit difference.
6. ``plugins``: the demo model streamed on the device with what users plug in: finals beam-searched
   with the demo LM and hotwords, and ``vad="silero"``; each compared with the CPU in the same
   precision. A plug-in whose package is missing on the machine is recorded as such (the GPU
   machine has no network: its wheels travel in ``wheels/``).

A wall-clock budget (``--budget-s``) stops the capacity search early and says so in the JSON.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import math
import sys
import tempfile
import time
import wave
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from common import cpu_name, device_name, sync

from model import load_model
from streamer import BatchEngine, Final, Recognizer, StreamingConfig
from training.checkpoints import write_checkpoint
from training.metrics import cer

SAMPLE_RATE = 16_000
BLOCK = 320  # 20 ms blocks: how a sound card hands a live stream over
SPEECH = ROOT / "bench" / "data" / "speech.wav"  # the tests' five sentences, synthesized once
SPEECH_TEXT = ROOT / "bench" / "data" / "speech.json"
DEFAULT_OUT = ROOT / "bench" / "results" / "gpu_check.json"

# The large architecture (hubert-large-ls960-ft's shape), random weights.
LARGE = {
    "hidden_size": 1024,
    "num_hidden_layers": 24,
    "num_attention_heads": 16,
    "intermediate_size": 4096,
    "conv_dim": (512,) * 7,
    "feat_extract_norm": "layer",
    "do_stable_layer_norm": True,
    "conv_bias": True,
    "num_conv_pos_embeddings": 128,
    "num_conv_pos_embedding_groups": 16,
    "vocab_size": 32,
    "pad_token_id": 0,
}
# The dry run's stand-in: same layout, tiny.
TINY = dict(
    LARGE,
    hidden_size=64,
    num_hidden_layers=2,
    num_attention_heads=4,
    intermediate_size=128,
    conv_dim=(32,) * 6 + (48,),
    num_conv_pos_embeddings=15,
    num_conv_pos_embedding_groups=4,
)

# Pass marks, written into the JSON beside the figures.
FP32_MAX_ABS = 1e-3  # 24 layers in fp32 with TF32 off: summation order only
WINDOW_RESERVE_S = 100.0  # of the budget, kept for compiling the large window forward on a GPU
COMPILE_ALLOWANCE_S = 60.0  # a batch size is compiled only with this much of the budget left
GIVE_UP = 4  # a trial ends once a hop is this many times the p95 bound late: it cannot hold
DRY_CAPACITY_S = 3.0  # the dry run's capacity search gets at least this long per mode
LOW_PRECISION_AGREEMENT = 0.98  # bf16/fp16 argmax vs the reference in the same precision (random weights: near ties)


def log(message: str) -> None:
    print(f"[gpu_check {time.strftime('%H:%M:%S')}] {message}", flush=True)








def read_speech() -> tuple[np.ndarray, str]:
    """The committed test speech as float32 16 kHz, and its text."""
    with wave.open(str(SPEECH), "rb") as w:
        assert w.getframerate() == SAMPLE_RATE and w.getnchannels() == 1 and w.getsampwidth() == 2
        pcm = np.frombuffer(w.readframes(w.getnframes()), dtype="<i2")
    text = " ".join(json.loads(SPEECH_TEXT.read_text())["sentences"])
    return pcm.astype(np.float32) / 32768, text


# ----- 1. parity with transformers -----------------------------------------------------------


def check_parity(folder: Path, device: torch.device, dtypes: list[str], seconds: float) -> dict:
    import transformers

    generator = torch.Generator().manual_seed(1)
    audio = torch.randn(2, int(SAMPLE_RATE * seconds), generator=generator) * 0.3  # [batch, samples]
    tf32 = torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32
    torch.backends.cuda.matmul.allow_tf32 = torch.backends.cudnn.allow_tf32 = False  # fp32 means fp32 here

    def reference(dtype: torch.dtype):  # from the file each time: converting one copy would round twice
        ref = transformers.HubertForCTC.from_pretrained(folder, attn_implementation="sdpa")
        return ref.eval().to(device, dtype)

    with torch.inference_mode():
        ref32 = reference(torch.float32)(audio.to(device)).logits.float()
    results = {
        "audio": f"2 x {seconds} s of noise",
        "marks": {"fp32_max_abs": FP32_MAX_ABS, "low_precision_argmax_agreement": LOW_PRECISION_AGREEMENT},
    }
    for name in dtypes:
        dtype = getattr(torch, {"fp32": "float32", "bf16": "bfloat16", "fp16": "float16"}[name])
        native = load_model(folder, device=device, dtype=dtype)
        ref = reference(dtype)
        with torch.inference_mode():
            got = native(audio.to(device)).float()
            expected = ref(audio.to(device, dtype)).logits.float()
        agree = (got.argmax(-1) == expected.argmax(-1)).float().mean().item()
        entry = {
            "finite": {"native": bool(got.isfinite().all()), "reference": bool(expected.isfinite().all())},
            "max_abs_vs_reference_same_dtype": round((got - expected).abs().max().item(), 6),
            "argmax_agreement_same_dtype": round(agree, 5),
            "max_abs_vs_fp32_reference": round((got - ref32).abs().max().item(), 6),
            "argmax_agreement_vs_fp32_reference": round((got.argmax(-1) == ref32.argmax(-1)).float().mean().item(), 5),
        }
        if name == "fp32":
            entry["ok"] = entry["max_abs_vs_reference_same_dtype"] <= FP32_MAX_ABS and agree == 1.0
        else:
            entry["ok"] = agree >= LOW_PRECISION_AGREEMENT and entry["finite"]["native"]
        results[name] = entry
        log(f"parity {name}: {entry}")
        del native, ref
    torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32 = tf32
    if device.type == "cuda":
        torch.cuda.empty_cache()
    return results


# ----- 2. the demo streamed on the device vs the CPU -----------------------------------------


def stream_finals(model, audio: np.ndarray, config: StreamingConfig, decoder=None) -> str:
    recognizer = Recognizer(model, config, decoder=decoder)
    events = []
    for first in range(0, len(audio), BLOCK):
        events += recognizer.accept(audio[first : first + BLOCK])
    events += recognizer.close()
    return " ".join(e.text for e in events if isinstance(e, Final) and e.text)


def check_demo_stream(device: torch.device, dtypes: list[str | None], seconds: float | None) -> dict:
    audio, text = read_speech()
    if seconds is not None:  # the dry run: the first sentences only
        audio = audio[: int(seconds * SAMPLE_RATE)]
        text = " ".join(json.loads(SPEECH_TEXT.read_text())["sentences"][:2])
    configs = {"default": StreamingConfig(), "whole_windows": StreamingConfig(kv_cache=False, final_pass=False)}
    # Each precision is compared with the CPU in the same precision (fp16, which CPUs do not run
    # natively, with the CPU's fp32): the question is whether the device computes what the CPU does.
    cpu_models: dict[str, torch.nn.Module] = {}

    def cpu_model(dtype: str | None):
        key = dtype if dtype in ("float32", "bfloat16") else "float32"
        if key not in cpu_models:
            cpu_models[key] = load_model("demo", device="cpu", dtype=key)
        return cpu_models[key]

    results = {"audio_s": round(len(audio) / SAMPLE_RATE, 2)}
    for config_name, config in configs.items():
        entry = {}
        for dtype in dtypes:
            model = load_model("demo", device=device, dtype=dtype)
            name = str(model.dtype).removeprefix("torch.")
            cpu_text = stream_finals(cpu_model(name), audio, config)
            got = stream_finals(model, audio, config)
            entry[name] = {
                "finals": got,
                "cpu_finals": cpu_text,
                "identical_to_cpu": got == cpu_text,
                "cer_vs_cpu": round(cer([cpu_text], [got]), 4),
                "cer_vs_text": round(cer([text], [got]), 4),
                "cpu_cer_vs_text": round(cer([text], [cpu_text]), 4),
            }
        results[config_name] = entry
        log(f"demo stream ({config_name}): " + json.dumps(entry))
    return results


# ----- 6. plug-ins on the device: LM, hotwords, VAD ------------------------------------------


def check_plugins(device: torch.device, seconds: float | None) -> dict:
    """The demo streamed on ``device`` and on the CPU with the demo LM and hotwords, and with the VAD."""
    from model.decoding import BeamSearchDecoder, Hotword
    from model.lm import load_language_model

    audio, text = read_speech()
    if seconds is not None:
        audio = audio[: int(seconds * SAMPLE_RATE)]
        text = " ".join(json.loads(SPEECH_TEXT.read_text())["sentences"][:2])
    model = load_model("demo", device=device)
    name = str(model.dtype).removeprefix("torch.")
    cpu = load_model("demo", device="cpu", dtype=name if name in ("float32", "bfloat16") else "float32")
    results: dict = {"dtype": name, "audio_s": round(len(audio) / SAMPLE_RATE, 2)}
    try:
        lm = load_language_model("demo")
        plugins = {"lm_hotwords": (StreamingConfig(), BeamSearchDecoder(model.vocab, lm).with_hotwords([Hotword("Kowalczyk")]))}
    except ImportError as e:
        results["lm_hotwords"] = {"missing": str(e)}
        plugins = {}
    plugins["vad_silero"] = (StreamingConfig(vad="silero"), None)
    for key, (config, decoder) in plugins.items():
        try:
            started = time.perf_counter()
            got = stream_finals(model, audio, config, decoder)
            seconds_taken = time.perf_counter() - started
            cpu_text = stream_finals(cpu, audio, config, decoder)
        except ImportError as e:
            results[key] = {"missing": str(e)}
            continue
        results[key] = {
            "finals": got,
            "identical_to_cpu": got == cpu_text,
            "cer_vs_cpu": round(cer([cpu_text], [got]), 4),
            "cer_vs_text": round(cer([text], [got]), 4),
            "device_wall_s": round(seconds_taken, 2),
        }
        log(f"plug-in {key}: " + json.dumps(results[key]))
    return results


# ----- 3. the window forward, eager vs compiled ----------------------------------------------


def check_window_forward(model, config: StreamingConfig, batches: list[int], runs: int, deadline: float | None) -> dict:
    """Per window, eager against compiled, for both forwards ``compile_model`` compiles: the KV-cached
    step of the default config (``step``) and the whole window of ``kv_cache=False`` (``window``)."""
    try:
        from model.device import compile_model, uncompile_model
    except ImportError:
        return {"skipped": "model.device has no compile_model switch"}
    device = model.device
    frames, new = config.window_frames, config.hop_frames + config.lookahead_frames
    results = {}
    for batch in batches:
        if deadline is not None and time.perf_counter() > deadline - COMPILE_ALLOWANCE_S:
            results[str(batch)] = {"skipped": "out of the time budget"}
            continue
        window = torch.randn(batch, frames, model.config.conv_dim[-1], device=device, dtype=model.dtype)
        past = torch.randn_like(model.new_kv_cache(batch, frames - new))
        calls = {"step": lambda m: m.forward_step(window, new, past)[0], "window": lambda m: m.forward_window(window)}
        entry, eager_outs = {}, {}
        for mode in ("eager", "compiled"):
            if mode == "compiled":
                compile_model(model)
            for kind, call in calls.items():
                with torch.inference_mode():
                    start = time.perf_counter()
                    call(model)  # warm-up (and compilation)
                    sync(device)
                    entry[f"{kind}_{mode}_first_call_s"] = round(time.perf_counter() - start, 3)
                    times = []
                    for _ in range(runs):
                        start = time.perf_counter()
                        out = call(model)
                        sync(device)
                        times.append(time.perf_counter() - start)
                entry[f"{kind}_{mode}_ms_per_window"] = round(1000 * sorted(times)[len(times) // 2] / batch, 4)
                if mode == "eager":
                    eager_outs[kind] = out.float().clone()
                else:
                    entry[f"{kind}_max_abs_vs_eager"] = round((out.float() - eager_outs[kind]).abs().max().item(), 6)
                    entry[f"{kind}_speedup"] = round(
                        entry[f"{kind}_eager_ms_per_window"] / entry[f"{kind}_compiled_ms_per_window"], 2
                    )
        uncompile_model(model)  # back to eager for what follows
        results[str(batch)] = entry
        log(f"window forwards batch {batch}: {entry}")
    return results


# ----- 4. real-time streams one device holds -------------------------------------------------


def run_streams(
    model,
    config: StreamingConfig,
    streams: int,
    seconds: float,
    warmup: float,
    max_batch: int,
    noise: np.ndarray,
    give_up_after: float = math.inf,
) -> dict:
    """``streams`` live streams for ``seconds``, hops due on a real-time schedule, staggered over one hop.

    Every loop pushes each stream's due hops (its audio "arrives") and runs one ``BatchEngine.step``
    over the streams that got audio; a hop's latency runs from when its audio was due to the end of
    the step that answered it. Hops due in the first ``warmup`` seconds are not counted. A hop
    later than ``give_up_after`` ends the trial early.
    """
    device = model.device
    hop_s = config.hop_frames * BLOCK / SAMPLE_RATE
    hop_samples = config.hop_frames * BLOCK
    recognizers = [Recognizer(model, config) for _ in range(streams)]
    engine = BatchEngine(model, max_batch=max_batch)
    phase = np.arange(streams) * hop_s / streams  # stream i's hops are due at phase[i] + k * hop_s
    pushed = np.zeros(streams, dtype=np.int64)
    offsets = (np.arange(streams) * 7919 * BLOCK) % (len(noise) - hop_samples * int(seconds / hop_s + 2))
    latencies: list[float] = []
    gave_up = False
    start = time.perf_counter()
    while True:
        now = time.perf_counter() - start
        if now >= seconds:
            break
        due_count = np.floor((now - phase) / hop_s).astype(np.int64) + 1  # hops due so far, per stream
        due_count = np.maximum(due_count, 0)
        todo = np.flatnonzero(due_count > pushed)
        if len(todo) == 0:
            wait = float(np.min(phase + pushed * hop_s)) - now
            time.sleep(max(wait, 0.0))
            continue
        scheduled = []
        for i in todo:  # one hop per stream per round, as the engine runs them; the rest wait their turn
            k = pushed[i]
            first = offsets[i] + k * hop_samples
            recognizers[i].push(noise[first : first + hop_samples])
            scheduled.append(phase[i] + k * hop_s)
            pushed[i] = k + 1
        engine.step([recognizers[i] for i in todo])
        sync(device)
        done = time.perf_counter() - start
        latest = [done - t for t in scheduled if t >= warmup]
        latencies += latest
        if latest and max(latest) > give_up_after:
            gave_up = True
            break  # far behind already: the count fails, and waiting would only grow the backlog
    hops = len(latencies)
    p50, p95 = (float(np.percentile(latencies, q)) if hops else math.inf for q in (50, 95))
    return {
        "streams": streams,
        "hops_counted": hops,
        "p50_s": round(p50, 4),
        "p95_s": round(p95, 4),
        "mean_batch": round(engine.windows / max(engine.batches, 1), 1),
        "gave_up": gave_up,
    }


def search_capacity(
    model,
    config: StreamingConfig,
    bound: float,
    seconds: float,
    warmup: float,
    max_batch: int,
    start: int,
    limit: int,
    deadline: float,
    noise: np.ndarray,
) -> dict:
    """Double the stream count while p95 holds under ``bound``, then bisect; stop at ``deadline``."""
    trials, good, bad = [], 0, None
    n = start
    while n <= limit and (bad is None or bad - good > max(1, good // 16)):
        if time.perf_counter() > deadline:
            break
        trial = run_streams(model, config, n, seconds, warmup, max_batch, noise, give_up_after=GIVE_UP * bound)
        trial["holds"] = trial["p95_s"] <= bound and trial["hops_counted"] > 0 and not trial["gave_up"]
        trials.append(trial)
        log(f"  {trial}")
        if trial["holds"]:
            good = n
        else:
            bad = n
        n = n * 2 if bad is None else (good + bad) // 2
        if device_is_cuda(model):
            torch.cuda.empty_cache()
    return {
        "streams_held": good,
        "first_failing": bad,
        "complete": bad is not None and bad - good <= max(1, good // 16),
        "trials": trials,
    }


def check_final_passes(model, count: int, runs: int) -> dict:
    """``count`` final passes of 2-6 s (as many streams ending sentences in one round), batched against
    one by one on the model's device: seconds per pass and the largest logit difference."""
    from streamer.core.batch import FinalPassRequest, forward_final_passes

    rng = np.random.default_rng(1)
    audio, _ = read_speech()
    requests = []
    for _ in range(count):
        length = int(rng.uniform(2.0, 6.0) * SAMPLE_RATE)
        first = int(rng.integers(0, max(1, len(audio) - length)))
        clip = audio[first : first + length].astype(np.float32)
        clip = (clip - clip.mean()) / (clip.std() + 1e-7)
        requests.append(FinalPassRequest(clip, 0, model.config.num_frames(len(clip))))
    timings: dict[str, list[float]] = {"one_by_one": [], "batched": []}
    for _ in range(runs):  # taking turns, so both see the same device state
        for name in timings:
            sync(model.device)
            start = time.perf_counter()
            if name == "batched":
                together = forward_final_passes(model, requests, max_batch=count)
            else:
                alone = [forward_final_passes(model, [r])[0] for r in requests]
            sync(model.device)
            timings[name].append((time.perf_counter() - start) / count)
    difference = max(float((a - b).abs().max()) for a, b in zip(together, alone))
    best = {name: min(times) for name, times in timings.items()}
    return {
        "passes": count,
        "dtype": str(model.dtype).removeprefix("torch."),
        "seconds_per_pass": {name: round(t, 5) for name, t in best.items()},
        "speedup": round(best["one_by_one"] / best["batched"], 2),
        "max_logit_difference": round(difference, 6),
    }


def device_is_cuda(model) -> bool:
    return model.device.type == "cuda"


# ----- the run ---------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--dry-run", action="store_true", help="every step on the CPU at tiny sizes, in seconds")
    parser.add_argument("--device", default=None, help="default: cuda (cpu for --dry-run)")
    parser.add_argument("--out", type=Path, default=None, help=f"JSON results (default {DEFAULT_OUT}; dry run: none)")
    parser.add_argument("--budget-s", type=float, default=None, help="wall-clock budget (default 420; dry run 30)")
    parser.add_argument("--p95-bound", type=float, default=0.5, help="p95 hop latency a held stream may have, s")
    parser.add_argument("--max-batch", type=int, default=128, help="the engine's most windows per forward")
    parser.add_argument(
        "--skip", default="", help="comma-separated steps to skip: parity,demo,plugins,window,capacity,final"
    )
    args = parser.parse_args(argv)
    began = time.perf_counter()
    dry = args.dry_run
    device = torch.device(args.device or ("cpu" if dry else "cuda"))
    if device.type == "cuda" and not torch.cuda.is_available():
        print("gpu_check: no CUDA device here; run with --dry-run to exercise the steps on the CPU", file=sys.stderr)
        return 2
    budget = args.budget_s or (30.0 if dry else 420.0)
    skip = {s for s in args.skip.split(",") if s}
    if device.type == "cpu":
        torch.set_num_threads(1)
    architecture = TINY if dry else LARGE
    config = StreamingConfig()
    results: dict = {
        "setup": {
            "device": device_name(device),
            "cpu": cpu_name(),
            "dry_run": dry,
            "torch": torch.__version__,
            "cuda": torch.version.cuda,
            "architecture": {k: v for k, v in architecture.items() if k in ("hidden_size", "num_hidden_layers")},
            "streaming_config": "default (hop 0.3 s, lookahead 0.3 s, left context 1.0 s)",
            "p95_bound_s": args.p95_bound,
            "max_batch": args.max_batch,
        }
    }
    out = args.out or (None if dry else DEFAULT_OUT)
    results["setup"]["finished"] = False  # True once every step ran
    low = ["bf16", "fp16"] if device.type == "cuda" else ["bf16"]  # fp16 is CUDA-only (model/device.py)
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        log(f"writing a random checkpoint: {architecture['num_hidden_layers']} x {architecture['hidden_size']}")
        write_checkpoint(folder, architecture)
        if "parity" not in skip:
            results["parity"] = check_parity(folder, device, ["fp32", *low], seconds=1.0 if dry else 4.0)
            save(results, out)
        if "demo" not in skip:
            dtypes = ["float32", "bfloat16"] if dry else [None, "float32"]  # None: the device's default
            results["demo_stream"] = check_demo_stream(device, dtypes, seconds=5.0 if dry else None)
            save(results, out)
        if "plugins" not in skip:
            results["plugins"] = check_plugins(device, seconds=5.0 if dry else None)
            save(results, out)
        model = load_model(folder, device=device)  # the device's default precision
        results["setup"]["dtype"] = str(model.dtype).removeprefix("torch.")
        # Capacity before the compiled forward: it is the figure that matters most, and compiling
        # the large model takes a minute per batch size on a GPU, so it gets what time is left.
        window_reserve = 0.0 if dry or "window" in skip else WINDOW_RESERVE_S
        if "capacity" not in skip:
            noise = (np.random.default_rng(0).standard_normal(SAMPLE_RATE * 60) * 0.1).astype(np.float32)
            modes = {"default": config, "whole_windows": StreamingConfig(kv_cache=False, final_pass=False)}
            seconds, warmup = (0.9, 0.3) if dry else (6.0, 1.5)
            capacity = {"trial_seconds": seconds, "warmup_seconds": warmup}
            for i, (name, mode_config) in enumerate(modes.items()):
                left = budget - window_reserve - (time.perf_counter() - began)
                share = max(left / (len(modes) - i), DRY_CAPACITY_S if dry else 0.0)  # share what is left
                log(f"capacity, {name}: up to {share:.0f} s")
                results["capacity"] = capacity
                save(results, out)
                capacity[name] = search_capacity(
                    model,
                    mode_config,
                    args.p95_bound,
                    seconds,
                    warmup,
                    args.max_batch,
                    start=1 if dry else 32,
                    limit=8 if dry else 8192,
                    deadline=time.perf_counter() + share,
                    noise=noise,
                )
            save(results, out)
        if "final" not in skip:
            log("final passes, batched against one by one")
            results["final_passes"] = check_final_passes(model, 4 if dry else 32, 2 if dry else 3)
            save(results, out)
        if "window" not in skip:
            results["window_forward"] = check_window_forward(
                model,
                config,
                [2] if dry else [1, 32],
                3 if dry else 10,
                deadline=None if dry else began + budget,
            )
    if device.type == "cuda":
        results["setup"]["max_memory_allocated_gib"] = round(torch.cuda.max_memory_allocated(device) / 2**30, 2)
    results["setup"]["wall_s"] = round(time.perf_counter() - began, 1)
    results["setup"]["finished"] = True
    save(results, out)
    if out is None:
        print(json.dumps(results, indent=2))
    else:
        log(f"wrote {out}")
    return 0


def save(results: dict, out: Path | None) -> None:
    """Write what is measured so far: a run stopped by its timeout still leaves its figures."""
    if out is not None:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    raise SystemExit(main())
