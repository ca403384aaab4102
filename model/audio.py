"""The audio front: what a checkpoint expects its input to look like.

HuBERT takes float32 mono audio at 16 kHz. Fine-tuned checkpoints say in
``preprocessor_config.json`` whether each input is normalized to zero mean and
unit variance first (``do_normalize``), exactly as transformers'
``Wav2Vec2FeatureExtractor`` does it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

__all__ = ["NORM_EPS", "SAMPLE_RATE", "AudioFront"]

SAMPLE_RATE = 16_000  # Hz, the rate HuBERT checkpoints take (preprocessor_config.json's sampling_rate)
NORM_EPS = 1e-7  # Wav2Vec2FeatureExtractor's epsilon for zero-mean unit-variance


@dataclass(frozen=True)
class AudioFront:
    """Input format of a checkpoint, from its ``preprocessor_config.json``."""

    do_normalize: bool = True
    sample_rate: int = SAMPLE_RATE

    @classmethod
    def from_file(cls, path: Path) -> AudioFront:
        settings = json.loads(Path(path).read_text(encoding="utf-8"))
        rate = settings.get("sampling_rate", SAMPLE_RATE)
        if rate != SAMPLE_RATE:
            raise ValueError(f"{path}: sampling_rate {rate} is not supported (only {SAMPLE_RATE})")
        if settings.get("feature_size", 1) != 1:
            raise ValueError(f"{path}: feature_size {settings['feature_size']} is not raw audio (expected 1)")
        return cls(do_normalize=bool(settings.get("do_normalize", True)))

    def save(self, folder: Path) -> None:
        settings = {
            "feature_extractor_type": "Wav2Vec2FeatureExtractor",
            "feature_size": 1,
            "sampling_rate": self.sample_rate,
            "padding_value": 0.0,
            "padding_side": "right",
            "do_normalize": self.do_normalize,
            "return_attention_mask": True,
        }
        (Path(folder) / "preprocessor_config.json").write_text(json.dumps(settings, indent=2) + "\n", encoding="utf-8")

    def __call__(self, audio: np.ndarray | torch.Tensor) -> np.ndarray | torch.Tensor:
        """Normalize one 1-D clip (or the last axis of a batch) when the checkpoint asks for it."""
        if not self.do_normalize:
            return audio
        if isinstance(audio, torch.Tensor):
            var, mean = torch.var_mean(audio, dim=-1, unbiased=False, keepdim=True)
            return (audio - mean) / torch.sqrt(var + NORM_EPS)
        audio = np.asarray(audio, dtype=np.float32)
        mean = audio.mean(axis=-1, keepdims=True)
        var = audio.var(axis=-1, keepdims=True)
        return ((audio - mean) / np.sqrt(var + NORM_EPS)).astype(np.float32)
