"""The GPU readiness script runs end to end on the CPU in its dry mode, so it is ready when a GPU is."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

pytest.importorskip("transformers", reason="the GPU check compares with transformers (pip install -e .[dev])")


def test_dry_run_covers_every_step(tmp_path):
    """--dry-run checks parity, streams the demo, searches capacity and writes the JSON, on the CPU, in seconds."""
    out = tmp_path / "gpu_check.json"
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    done = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "gpu_check.py"), "--dry-run", "--out", str(out)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    results = json.loads(out.read_text())
    assert results["setup"]["dry_run"] is True and results["setup"]["finished"] is True
    # Parity with transformers on the same weights, in every precision the device has.
    assert results["parity"]["fp32"]["ok"] and results["parity"]["bf16"]["ok"]
    assert results["parity"]["fp32"]["max_abs_vs_reference_same_dtype"] <= 1e-4
    # The demo streamed in the device's precisions gives the CPU's finals, and real words.
    demo = results["demo_stream"]["default"]
    assert demo["float32"]["identical_to_cpu"] and demo["bfloat16"]["identical_to_cpu"]
    assert demo["float32"]["cpu_cer_vs_text"] < 0.15
    # The plug-ins run there too: LM and hotwords on the finals, the VAD on the audio.
    assert results["plugins"]["lm_hotwords"]["identical_to_cpu"] and results["plugins"]["vad_silero"]["identical_to_cpu"]
    # The compiled window forward ran beside eager and agrees within bf16 rounding.
    for kind in ("step", "window"):
        assert results["window_forward"]["2"][f"{kind}_max_abs_vs_eager"] < 0.1
    # The capacity search ran trials and found that at least one stream keeps up.
    capacity = results["capacity"]
    for mode in [m for m in ("default", "whole_windows") if m in capacity]:
        assert capacity[mode]["streams_held"] >= 1
        assert all(t["hops_counted"] > 0 for t in capacity[mode]["trials"])
