"""The compiled window forwards (model.device.compile_model, HUBERT_STREAM_COMPILE=1) equal eager."""

from __future__ import annotations

import pytest
import torch
from conftest import finals_of

from model import load_model
from model.device import COMPILE_ENV, COMPILED
from streamer import Recognizer, StreamingConfig

TOLERANCE = 1e-4  # max |logit difference| in fp32, as the parity tests with transformers


@pytest.fixture(scope="module")
def compiled_demo():
    with pytest.MonkeyPatch.context() as patch:  # the switch on while this model loads, off after
        patch.setenv(COMPILE_ENV, "1")
        return load_model("demo", device="cpu", dtype="float32")


@pytest.mark.slow
def test_compiled_window_forwards_equal_eager(compiled_demo):
    """With the switch on, the default's KV-cached step (logits and the keys/values it hands back) and a
    whole window give eager's (fp32, within 1e-4), and the same ids."""
    model = compiled_demo
    assert set(COMPILED) <= set(vars(model))  # the switch took effect
    config = StreamingConfig()
    new = config.hop_frames + config.lookahead_frames
    generator = torch.Generator().manual_seed(0)
    windows = torch.randn(3, config.window_frames, model.config.conv_dim[-1], generator=generator)
    past = model.new_kv_cache(3, config.window_frames - new).normal_(generator=generator)
    with torch.inference_mode():
        step, eager_step = model.forward_step(windows, new, past), type(model).forward_step(model, windows, new, past)
        pairs = {
            "forward_step": (step[0], eager_step[0]),
            "forward_step keys/values": (step[1], eager_step[1]),
            "forward_window": (model.forward_window(windows), type(model).forward_window(model, windows)),
        }
    for name, (got, expected) in pairs.items():
        assert (got - expected).abs().max().item() <= TOLERANCE, name
        if name != "forward_step keys/values":
            assert torch.equal(got.argmax(-1), expected.argmax(-1)), name


@pytest.mark.slow
def test_compiled_stream_gives_eager_finals(compiled_demo, long_speech):
    """A stream in the default config through the compiled model says what the eager model says:
    the hops run compiled, the final pass's stretches of any length run eager."""
    audio = long_speech[0][: 8 * 16_000]  # the first sentences, pauses between them
    eager = load_model("demo", device="cpu", dtype="float32")
    assert not set(COMPILED) & set(vars(eager))

    def finals(model) -> list[str]:
        recognizer = Recognizer(model, StreamingConfig())
        events = [e for start in range(0, len(audio), 4800) for e in recognizer.accept(audio[start : start + 4800])]
        return [e.text for e in finals_of(events + recognizer.close())]

    expected = finals(eager)
    assert len(expected) >= 2 and finals(compiled_demo) == expected


def test_switch_is_off_by_default(monkeypatch):
    """Without HUBERT_STREAM_COMPILE the model runs eager: no compile time at start-up."""
    monkeypatch.delenv(COMPILE_ENV, raising=False)
    assert not set(COMPILED) & set(vars(load_model("demo", device="cpu")))
