"""Tests for the demo model's training recipe: what the augmenter feeds the CTC loss."""

from __future__ import annotations

import random

import numpy as np
import torch
import torch.nn.functional as F

from model.audio import AudioFront
from model.vocab import Vocabulary
from streamer.wire.units import SAMPLE_RATE
from training.train import PAD_MULTIPLE, Augmenter, TrainConfig, collate, make_batches


def _speech(seconds: float) -> np.ndarray:
    return (0.1 * np.cos(np.arange(int(seconds * SAMPLE_RATE)) * 0.05)).astype(np.float32)


def test_augmenter_joins_utterances_with_pauses_and_their_texts() -> None:
    """Joined utterances keep every sample of speech and both texts, in order."""
    augment = Augmenter(random.Random(0))
    audio, text = augment([(_speech(1.0), "HELLO"), (_speech(0.5), "WORLD")])
    assert text == "HELLO WORLD"
    assert len(audio) >= 1.5 * SAMPLE_RATE + 0.2 * SAMPLE_RATE  # both clips and the pauses after them


def test_noise_only_items_have_no_text_and_train_towards_blanks() -> None:
    """Noise alone is a training item with empty text, and the CTC loss on it is finite."""
    augment = Augmenter(random.Random(1))
    augment.active, augment.noise_only_share = True, 1.0
    noise, text = augment([(_speech(1.0), "HELLO")])
    assert text == "" and noise.std() > 0.05
    assert augment.noise_only_seconds[0] <= len(noise) / SAMPLE_RATE <= augment.noise_only_seconds[1]
    vocab = Vocabulary.librispeech()
    _, _, targets, lengths = collate([(noise, text), (_speech(1.0), "HI")], vocab, AudioFront())
    assert lengths.tolist() == [0, 2] and targets.dtype == torch.long
    frames = 50
    log_probs = torch.randn(frames, 2, len(vocab)).log_softmax(-1)
    loss = F.ctc_loss(log_probs, targets, torch.tensor([frames, frames]), lengths, blank=vocab.blank_id)
    assert torch.isfinite(loss)


def test_augmenter_leaves_speech_alone_until_active() -> None:
    """Before ``active`` (the clean phase) there is no noise-only item, speed change or level change."""
    augment = Augmenter(random.Random(2))
    augment.noise_only_share = augment.speed_share = augment.noise_share = 1.0
    clip = _speech(1.0)
    audio, text = augment([(clip, "HELLO")])
    assert text == "HELLO" and augment.level() == 1.0
    start = int(np.argmax(audio != 0))
    assert np.array_equal(audio[start : start + len(clip)], clip)


def test_tilt_moves_energy_between_low_and_high_frequencies() -> None:
    """A tilt keeps the length and changes the balance of low and high frequencies."""
    augment = Augmenter(random.Random(3), tilt_share=1.0)
    rng = np.random.default_rng(0)
    white = rng.normal(0, 0.1, SAMPLE_RATE).astype(np.float32)
    tilted = augment.tilt(white)
    spectrum = np.abs(np.fft.rfft(tilted)) / np.abs(np.fft.rfft(white))
    low, high = spectrum[50:1000].mean(), spectrum[-1000:].mean()
    assert len(tilted) == len(white) and abs(20 * np.log10(low / high)) > 1.0


def test_batches_keep_every_clip_whole_in_a_few_padded_shapes() -> None:
    """Batch lengths come in steps of PAD_MULTIPLE, stay within the budget, and cut no clip short."""
    rng = random.Random(4)
    data = [(_speech(rng.uniform(0.5, 4.0)), "HI") for _ in range(200)]
    config = TrainConfig(batch_seconds=12.0, max_item_seconds=6.0)
    batches = make_batches(data, config, random.Random(5), Vocabulary.librispeech(), Augmenter(random.Random(6)))
    shapes = set()
    for _ in range(40):
        audio, mask, _, _ = next(batches)
        assert audio.shape[1] % PAD_MULTIPLE == 0
        assert audio.numel() <= config.batch_seconds * SAMPLE_RATE or audio.shape[0] == 1
        assert mask.sum(-1).min() >= 0.5 * SAMPLE_RATE  # every row holds a whole clip, not padding
        shapes.add(tuple(audio.shape))
    assert len(shapes) <= 20
