"""What every benchmark shares: naming the machine, and writing its figures to bench/results/."""

from __future__ import annotations

import json
import platform
import subprocess
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "results"


def write_results(path: Path, results: dict) -> None:
    """Write ``results`` as indented JSON to ``path`` and say where."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(results, indent=2) + "\n")
    print(f"wrote {path}")


def cpu_name() -> str:
    """The CPU's model name as lscpu reports it (``platform.processor()`` is often just the arch)."""
    try:
        out = subprocess.run(["lscpu"], capture_output=True, text=True, check=False).stdout
    except OSError:
        out = ""
    for line in out.splitlines():
        if line.startswith("Model name"):
            return line.split(":", 1)[1].strip()
    return platform.processor() or platform.machine()


def device_name(device) -> str:
    """The GPU's name for a CUDA ``torch.device``, else the CPU's."""
    if device.type == "cuda":
        import torch

        return torch.cuda.get_device_name(device)
    return cpu_name()


def sync(device) -> None:
    """Wait for the device's queued work, so a timer measures it (a no-op on the CPU)."""
    if device.type == "cuda":
        import torch

        torch.cuda.synchronize(device)
