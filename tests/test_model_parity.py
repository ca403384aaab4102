"""The native model against transformers' HubertForCTC on random checkpoints in the hub layout."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from model import load_model

pytest.importorskip("transformers", reason="parity tests need the dev extra (pip install -e .[dev])")

TOLERANCE = 1e-4  # max |logit difference| in fp32


def _audio(seed: int, seconds: float) -> torch.Tensor:
    generator = torch.Generator().manual_seed(seed)
    return torch.randn(1, int(16_000 * seconds), generator=generator) * 0.3


@pytest.mark.parametrize("style", ["base", "large"])
@pytest.mark.parametrize("weights", ["safetensors", "bin"])
def test_logits_match_reference(checkpoint_factory, style, weights):
    """Same logits (within 1e-4) and the same argmax as transformers, from either weights file."""
    folder, ref = checkpoint_factory(style, weights)
    native = load_model(folder, device="cpu", dtype="float32")
    audio = _audio(1, 1.37)
    with torch.inference_mode():
        expected = ref(audio).logits
        got = native(audio)
    assert got.shape == expected.shape == (1, (audio.shape[1] - 400) // 320 + 1, 32)
    assert (got - expected).abs().max().item() <= TOLERANCE
    assert torch.equal(got.argmax(-1), expected.argmax(-1))


def test_padded_batch_matches_reference_and_single_items(checkpoint_factory):
    """Layer-norm model: a padded batch with a mask gives what each clip gives alone, and what transformers gives."""
    folder, ref = checkpoint_factory("large")
    native = load_model(folder, device="cpu", dtype="float32")
    clips = [_audio(2, 2.0)[0], _audio(3, 0.9)[0], _audio(4, 1.31)[0]]
    batch = torch.zeros(3, len(clips[0]))
    mask = torch.zeros(3, len(clips[0]), dtype=torch.long)
    for row, clip in enumerate(clips):
        batch[row, : len(clip)] = clip
        mask[row, : len(clip)] = 1
    with torch.inference_mode():
        batched = native(batch, mask)
        reference = ref(batch, attention_mask=mask).logits
        for row, clip in enumerate(clips):
            frames = (len(clip) - 400) // 320 + 1
            alone = native(clip[None])[0]
            assert alone.shape[0] == frames
            assert (batched[row, :frames] - alone).abs().max().item() <= TOLERANCE
            assert (batched[row, :frames] - reference[row, :frames]).abs().max().item() <= TOLERANCE
            assert torch.equal(batched[row, :frames].argmax(-1), alone.argmax(-1))


@pytest.mark.parametrize("style", ["base", "large"])
def test_transcribe_matches_reference_greedy_decoding(checkpoint_factory, style):
    """transcribe() gives the text transformers' greedy decoding gives (special tokens skipped), for a batch."""
    transformers = pytest.importorskip("transformers")
    folder, ref = checkpoint_factory(style)
    native = load_model(folder, device="cpu", dtype="float32")
    processor = transformers.Wav2Vec2Processor(
        feature_extractor=transformers.Wav2Vec2FeatureExtractor.from_pretrained(folder),
        tokenizer=transformers.Wav2Vec2CTCTokenizer.from_pretrained(folder),
    )
    clips = [_audio(5, 1.0)[0].numpy(), _audio(6, 0.6)[0].numpy()]
    got = native.transcribe(clips)
    for clip, transcript in zip(clips, got):
        inputs = processor(clip, sampling_rate=16_000, return_tensors="pt")
        with torch.inference_mode():
            ids = ref(inputs.input_values).logits.argmax(-1)[0]
        expected = processor.decode(ids, skip_special_tokens=True)
        assert transcript.text == " ".join(expected.split())


def test_bf16_stays_close_to_fp32(checkpoint_factory):
    """The bf16 CPU path runs and lands near the fp32 logits."""
    folder, _ = checkpoint_factory("large")
    audio = _audio(7, 1.0)
    with torch.inference_mode():
        fp32 = load_model(folder, device="cpu", dtype="float32")(audio)
        bf16 = load_model(folder, device="cpu", dtype="bfloat16")(audio)
    assert bf16.dtype == torch.bfloat16
    assert np.corrcoef(fp32.flatten().numpy(), bf16.float().flatten().numpy())[0, 1] > 0.99
