#!/usr/bin/env bash
# GPU readiness check (bench/gpu_check.py): parity with transformers on the GPU in
# fp32/bf16/fp16, the demo streamed on the GPU vs the CPU, the window forward eager vs compiled,
# and how many real-time large-model streams one GPU holds. Under 8 minutes on one H100; writes
# bench/results/gpu_check.json. Extra arguments go to gpu_check.py (e.g. --dry-run, --skip parity).
#
# The GPU machine has torch, transformers, huggingface_hub, safetensors and numpy but no network:
# the other wheels travel in a gitignored wheels/ folder (see bench/README.md) and are installed
# from there when it is present. The check itself needs none of them.
set -euo pipefail
cd "$(dirname "$0")/.."
if compgen -G "wheels/*.whl" > /dev/null; then
    python -m pip install --quiet --no-index --find-links wheels/ soxr websockets soundfile \
        || echo "gpu_check.sh: could not install the carried wheels; going on without them" >&2
    python -m pip install --quiet --no-index --find-links wheels/ flashlight-text silero-vad onnxruntime \
        || echo "gpu_check.sh: no carried wheels for the plug-ins; the plugins step records them as missing" >&2
fi
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"
command -v nvidia-smi > /dev/null && nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv || true
exec timeout 470 python bench/gpu_check.py "$@"
