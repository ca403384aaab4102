"""Left-context key/value caching (StreamingConfig.kv_cache, HubertForCTC.forward_step)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from conftest import stream_batched

from model import load_model
from streamer import Final, Recognizer, StreamingConfig
from training.metrics import cer
from training.speech import SENTENCES, speech_with_pauses

TOLERANCE = 1e-4  # max |logit difference| in fp32, as the parity tests with transformers
CER_MARGIN = 0.005  # the cache may cost at most half a CER point against the text


@pytest.fixture(scope="module")
def demo():
    return load_model("demo", device="cpu", dtype="float32")


@pytest.fixture(scope="module")
def speech():
    audio, _ = speech_with_pauses(SENTENCES)
    return audio, " ".join(SENTENCES)


def finals(model, audio, config, chunk=1_600) -> list[Final]:
    recognizer = Recognizer(model, config)
    events = []
    for first in range(0, len(audio), chunk):
        events += recognizer.accept(audio[first : first + chunk])
    return [e for e in events + recognizer.close() if isinstance(e, Final)]


def windows_of(model, batch=3, frames=80, seed=0):
    generator = torch.Generator().manual_seed(seed)
    return torch.randn(batch, frames, model.config.conv_dim[-1], generator=generator)


@pytest.mark.parametrize("kind", ["demo", "large-style"])
def test_step_over_the_whole_window_is_forward_features(demo, checkpoint_factory, kind):
    """Every frame computed fresh: forward_step gives forward_features' logits exactly (even and odd pos-conv kernels)."""
    model = demo if kind == "demo" else load_model(checkpoint_factory("large")[0], device="cpu", dtype="float32")
    windows = windows_of(model)
    with torch.inference_mode():
        expected = model.forward_features(windows)
        got, fresh = model.forward_step(windows, windows.shape[1], model.new_kv_cache(windows.shape[0], 0))
    assert torch.equal(got, expected)
    assert fresh.shape == model.new_kv_cache(*windows.shape[:2]).shape  # every frame's keys/values


@pytest.mark.parametrize("kind", ["demo", "large-style"])
@pytest.mark.parametrize("new", [1, 30, 79])
def test_cached_keys_from_the_same_window_give_its_logits(demo, checkpoint_factory, kind, new):
    """With the left frames' keys/values from the window itself, the new frames' logits are the full window's."""
    model = demo if kind == "demo" else load_model(checkpoint_factory("large")[0], device="cpu", dtype="float32")
    windows = windows_of(model)
    with torch.inference_mode():
        full = model.forward_features(windows)
        _, kv = model.forward_step(windows, windows.shape[1], model.new_kv_cache(windows.shape[0], 0))  # every frame's
        got, _ = model.forward_step(windows, new, kv[:, :, :, :, :-new])
    assert got.shape == (3, new, model.config.vocab_size)
    assert (got - full[:, -new:]).abs().max().item() <= TOLERANCE
    assert torch.equal(got.argmax(-1), full[:, -new:].argmax(-1))


def test_frame_mask_hides_frames_as_forward_features_does(demo):
    """A frame mask (frames before a stream's start) masks keys and pos-conv inputs alike in both paths."""
    windows = windows_of(demo)
    mask = torch.ones(3, 80, dtype=torch.bool)
    mask[0, :40] = False
    with torch.inference_mode():
        expected = demo.forward_features(windows, mask)
        got, _ = demo.forward_step(windows, 80, demo.new_kv_cache(3, 0), mask)
    assert torch.equal(got, expected)


def test_no_left_context_means_identical_events(demo, speech):
    """Left context 0: every frame is recomputed each hop, so the cache changes no event at all."""
    audio = speech[0][: 16_000 * 8]
    for left in (0,):
        plain = StreamingConfig(left_context_frames=left, kv_cache=False)
        cached = StreamingConfig(left_context_frames=left, kv_cache=True)
        expected, got = Recognizer(demo, plain), Recognizer(demo, cached)
        for first in range(0, len(audio), 1_600):
            block = audio[first : first + 1_600]
            assert got.accept(block) == expected.accept(block)
        assert got.close() == expected.close()


def test_cached_stream_stays_as_accurate(demo, speech):
    """On the tests' five sentences the cached windows' own finals (no final pass) are within half a CER
    point of full windows'."""
    audio, text = speech
    plain = " ".join(f.text for f in finals(demo, audio, StreamingConfig(kv_cache=False, final_pass=False)))
    cached = " ".join(f.text for f in finals(demo, audio, StreamingConfig(kv_cache=True, final_pass=False)))
    assert cer([text], [cached]) <= cer([text], [plain]) + CER_MARGIN
    assert cer([text], [cached]) < 0.06


def test_batched_cached_streams_match_single_streams(demo, speech):
    """Cached streams through the engine (caches stacked across streams) get what each gets alone."""
    audio, _ = speech
    config = StreamingConfig(kv_cache=True)
    clips = [audio[: 16_000 * s] for s in (5, 7, 9)]
    for events, clip in zip(stream_batched(demo, clips, config), clips):
        batched = [f.text for f in events if isinstance(f, Final)]
        assert batched == [f.text for f in finals(demo, clip, config, chunk=len(clip))]


def test_whole_window_at_the_start_then_hop_and_lookahead(demo, speech, monkeypatch):
    """The cache fills with a whole window at the start; else hop + lookahead run, also across a
    finalize(), which leaves the hops (and so the cached frames) where they were, and after silent
    hops, whose frames the next window masks out (its context starts afresh)."""
    config = StreamingConfig(kv_cache=True, vad="energy", energy_threshold_db=-60.0)
    computed = []
    real = demo.forward_step

    def spy(features, new, past, frame_mask=None):
        computed.append(new)
        return real(features, new, past, frame_mask)

    monkeypatch.setattr(demo, "forward_step", spy)
    recognizer = Recognizer(demo, config)
    speech_part = speech[0][16_000 : 16_000 * 3]
    hop = config.hop_frames * 320
    overlap = 80  # the first hop also takes the samples its first frame shares with the next
    recognizer.accept(speech_part[: 4 * hop + overlap])
    assert computed == [config.window_frames] + [config.hop_frames + config.lookahead_frames] * 3
    computed.clear()
    recognizer.finalize()
    recognizer.accept(speech_part[4 * hop + overlap : 6 * hop + overlap])
    assert computed and set(computed) == {config.hop_frames + config.lookahead_frames}
    computed.clear()
    computed.clear()
    recognizer.accept(np.zeros(20 * hop, np.float32))  # silent hops: no speech near them
    assert len(computed) < 5
    computed.clear()
    recognizer.accept(speech_part[: 4 * hop])
    assert computed and set(computed) == {config.hop_frames + config.lookahead_frames}
