"""HuBERT CTC in plain PyTorch: config, network, loading, vocabulary and decoding."""

from __future__ import annotations

# First: model.device sets OpenMP's wait policy, which is read once, when torch loads.
import model.device  # isort: skip  # noqa: F401

from model.audio import FRAME_SAMPLES, RECEPTIVE_FIELD, SAMPLE_RATE, AudioFront
from model.hubert import HubertConfig, HubertForCTC
from model.loading import ALIASES, DEFAULT_MODEL, load_model, save_pretrained
from model.transcribe import Transcript, Word, transcribe
from model.vocab import Decoded, Vocabulary

__all__ = [
    "ALIASES",
    "DEFAULT_MODEL",
    "FRAME_SAMPLES",
    "RECEPTIVE_FIELD",
    "SAMPLE_RATE",
    "AudioFront",
    "Decoded",
    "HubertConfig",
    "HubertForCTC",
    "Transcript",
    "Vocabulary",
    "Word",
    "load_model",
    "save_pretrained",
    "transcribe",
]
