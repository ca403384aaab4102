"""Where the model runs and in which precision: the one place that decides."""

from __future__ import annotations

import torch

__all__ = ["DTYPES", "resolve_device", "resolve_dtype"]

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


def resolve_dtype(dtype: str | torch.dtype | None, device: torch.device) -> torch.dtype:
    """Pick the precision for ``device``.

    Default: bf16 on CUDA when the GPU has it, else fp16 (the feature-encoder norms then
    run in fp32, see ``model.hubert``); fp32 on CPU. bf16 on CPU is an option: it is
    fast on CPUs with AVX512-bf16 or AMX.
    """
    if dtype is None or dtype == "auto":
        if device.type == "cuda":
            return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
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
