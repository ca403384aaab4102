"""The compiled window forward (model.device.compile_model, HUBERT_STREAM_COMPILE=1) equals eager."""

from __future__ import annotations

import pytest
import torch

from model import load_model
from model.device import COMPILE_ENV

TOLERANCE = 1e-4  # max |logit difference| in fp32, as the parity tests with transformers


@pytest.mark.slow
def test_compiled_window_forward_equals_eager(monkeypatch):
    """With the switch on, the demo's windows give eager's logits (fp32, within 1e-4) and the same ids."""
    monkeypatch.setenv(COMPILE_ENV, "1")
    model = load_model("demo", device="cpu", dtype="float32")
    assert "forward_features" in vars(model)  # the switch took effect
    eager = type(model).forward_features.__get__(model)
    windows = torch.randn(3, 80, model.config.conv_dim[-1], generator=torch.Generator().manual_seed(0))
    with torch.inference_mode():
        expected, got = eager(windows), model.forward_features(windows)
    assert (got - expected).abs().max().item() <= TOLERANCE
    assert torch.equal(got.argmax(-1), expected.argmax(-1))


def test_switch_is_off_by_default(monkeypatch):
    """Without HUBERT_STREAM_COMPILE the model runs eager: no compile time at start-up."""
    monkeypatch.delenv(COMPILE_ENV, raising=False)
    assert "forward_features" not in vars(load_model("demo", device="cpu"))
