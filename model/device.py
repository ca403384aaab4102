"""Where the model runs, in which precision and on how many threads: the one place that decides.

Threads. PyTorch's CPU kernels run on an OpenMP pool (GNU libgomp in the Linux wheels) whose
idle workers spin by default, waiting for the next parallel region. A streaming hop is a
chain of small kernels with Python in between, so on a small or shared machine the spinning
workers steal the cores the next kernel needs: on a 2-core VM, 2 intra-op threads were
sometimes 4.5x *slower* than 1. ``OMP_WAIT_POLICY=PASSIVE`` makes idle workers sleep and
removed that. libgomp reads its environment once, when torch loads it, so this module sets
the policy before it imports torch, and ``model/__init__.py`` imports this module first (a
program that imported torch before ``model`` keeps the spinning policy: set the variable
in the environment yourself). A value already in the environment wins: ``hubert-stream serve``
sets ``ACTIVE``, because a server's back-to-back small forwards want spinning workers (see
``streamer/cli/serve.py``). The number of intra-op threads stays torch's
default (the physical cores); ``set_threads`` changes it and logs why.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

OPENMP_WAIT_POLICY = "PASSIVE"  # idle OpenMP workers sleep instead of spinning (see above)
os.environ.setdefault("OMP_WAIT_POLICY", OPENMP_WAIT_POLICY)  # before torch loads OpenMP

import torch

__all__ = [
    "COMPILED",
    "COMPILE_ENV",
    "DTYPES",
    "compile_model",
    "compile_requested",
    "cpu_has_native_bf16",
    "resolve_device",
    "resolve_dtype",
    "set_threads",
    "uncompile_model",
]

log = logging.getLogger(__name__)

COMPILE_ENV = "HUBERT_STREAM_COMPILE"  # "1": load_model compiles the window forwards (compile_model)
CUDA_COMPILE_MODE = "reduce-overhead"  # CUDA graphs: windows have fixed shapes, so replay pays
CPU_BF16_FLAGS = ("avx512_bf16", "amx_bf16")  # /proc/cpuinfo flags of native bf16 arithmetic
CPUINFO = Path("/proc/cpuinfo")

DTYPES = {
    "float32": torch.float32,
    "fp32": torch.float32,
    "bfloat16": torch.bfloat16,
    "bf16": torch.bfloat16,
    "float16": torch.float16,
    "fp16": torch.float16,
}


def resolve_device(device: str | torch.device | None = None) -> torch.device:
    """``None``/``"auto"``: CUDA when available, else CPU. Asking for missing CUDA is an error."""
    if device is None or str(device) == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    device = torch.device(device)
    if device.type == "cuda" and not torch.cuda.is_available():
        raise RuntimeError(
            "CUDA was requested but this PyTorch sees no CUDA device "
            f"(torch {torch.__version__}); choose the CPU ('cpu', or 'auto' to pick CUDA only when present)"
        )
    if device.type not in ("cpu", "cuda"):
        raise ValueError(f"device {str(device)!r} is not supported; choose 'cpu', 'cuda' or 'auto'")
    return device


def set_threads(threads: int | None) -> None:
    """Set torch's intra-op CPU threads (None: keep torch's default, the physical cores) and log it."""
    if threads is not None:
        if threads < 1:
            raise ValueError(f"threads must be at least 1, got {threads}")
        torch.set_num_threads(threads)
    log.info(
        "CPU threads: %d intra-op (%s), OMP_WAIT_POLICY=%s",
        torch.get_num_threads(),
        "chosen" if threads is not None else "torch's default: the physical cores",
        os.environ.get("OMP_WAIT_POLICY", "unset (workers spin)"),
    )


def cpu_has_native_bf16(cpuinfo: Path = CPUINFO) -> bool:
    """True when the CPU computes in bf16 natively (AVX512-bf16 or AMX), from /proc/cpuinfo's flags.

    Elsewhere (older x86, non-Linux) PyTorch emulates bf16 by converting, often slower than fp32.
    """
    try:
        text = cpuinfo.read_text(errors="replace")
    except OSError:
        return False
    for line in text.splitlines():
        if line.startswith("flags"):
            return any(flag in line.split() for flag in CPU_BF16_FLAGS)
    return False


def resolve_dtype(dtype: str | torch.dtype | None, device: torch.device) -> torch.dtype:
    """Pick the precision for ``device``.

    Default: bf16 on CUDA when the GPU has it, else fp16 (the feature-encoder norms then
    run in fp32, see ``model.hubert``). On the CPU: bf16 when it has native bf16
    (AVX512-bf16 or AMX: 2.6-3.7x faster than fp32 offline for the large model, see
    ``bench/``), fp32 elsewhere. The choice and its reason are logged.
    """
    if dtype is None or dtype == "auto":
        if device.type == "cuda":
            chosen = torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
            log.info("dtype %s: the default on this GPU", chosen)
            return chosen
        if cpu_has_native_bf16():
            log.info("dtype bfloat16: the CPU has native bf16 (%s)", " or ".join(CPU_BF16_FLAGS))
            return torch.bfloat16
        log.info("dtype float32: the CPU has no native bf16 (%s), where bf16 is emulated", " or ".join(CPU_BF16_FLAGS))
        return torch.float32
    if isinstance(dtype, str):
        if dtype not in DTYPES:
            raise ValueError(f"dtype {dtype!r} is not supported; choose one of {sorted(set(DTYPES))}")
        dtype = DTYPES[dtype]
    if dtype not in DTYPES.values():
        raise ValueError(f"dtype {dtype} is not supported; choose float32, bfloat16 or float16")
    if dtype == torch.float16 and device.type == "cpu":
        raise ValueError("float16 is for CUDA; on the CPU use float32 or bfloat16")
    return dtype


def compile_requested() -> bool:
    """True when the environment asks for the compiled window forwards (``HUBERT_STREAM_COMPILE=1``)."""
    return os.environ.get(COMPILE_ENV, "").strip().lower() not in ("", "0", "false", "no")


COMPILED = ("forward_window", "forward_step")  # the fixed-shape window forwards compile_model compiles


def compile_model(model, mode: str | None = None):
    """Compile the window forwards the recognizer and the engine run on every hop, in place.

    The one switch for ``torch.compile``: ``load_model`` calls it when ``HUBERT_STREAM_COMPILE=1``.
    It compiles ``forward_step`` (the KV-cached windows, the default) and ``forward_window`` (whole
    windows, ``kv_cache=False``): every window of one ``StreamingConfig`` has one shape, so each
    batch size compiles once (the first call of a new size takes seconds to a minute); after a
    few sizes torch marks the batch dynamic. ``forward_features``, which decodes stretches of any
    length (the final pass, the flush), stays eager: a new length would mean a new compile.
    On the CPU, inductor with freezing (weights folded as constants; the model is inference-only).
    Measured there (``bench/bench_large.py --compile``, large architecture, bf16, one thread, AMD
    EPYC): a live stream 1.11-1.22x faster than eager, batched streams up to 1.06x; off by default, since
    every new window shape (batch size, first hop) compiles on its first call, which a short
    session would wait for.
    On CUDA, ``mode`` defaults to ``"reduce-overhead"`` (CUDA graphs), which fixed shapes suit;
    ``bench/gpu_check.py`` measures it, not yet run on a GPU.
    bf16 logits differ from eager by rounding (inductor keeps some intermediates in fp32), as
    eager bf16 differs from fp32. Returns the model; ``uncompile_model`` undoes it.
    """
    if model.device.type == "cpu":
        import torch._inductor.config as inductor_config

        inductor_config.freezing = True  # process-wide: parameters are constants when compiled
    elif mode is None:
        mode = CUDA_COMPILE_MODE
    for name in COMPILED:
        eager = getattr(type(model), name).__get__(model)
        setattr(model, name, torch.compile(eager, mode=mode))  # an instance attribute over the method
    log.info("window forwards compiled with torch.compile (mode %s) on %s", mode or "default", model.device)
    return model


def uncompile_model(model):
    """Undo ``compile_model``: the window forwards run eager again. Returns the model."""
    for name in COMPILED:
        vars(model).pop(name, None)
    return model
