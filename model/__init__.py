"""HuBERT CTC in plain PyTorch: config, network, loading, vocabulary and decoding."""

from __future__ import annotations

# First: model.device sets OpenMP's wait policy, which is read once, when torch loads.
import model.device  # isort: skip  # noqa: F401

from model.audio import AudioFront
from model.decoding import Decoder, GreedyDecoder
from model.hubert import HubertConfig, HubertForCTC
from model.loading import ALIASES, DEFAULT_MODEL, load_model, save_pretrained
from model.transcribe import Transcript, transcribe
from model.vocab import Decoded, Vocabulary

__all__ = [
    "ALIASES",
    "DEFAULT_MODEL",
    "AudioFront",
    "Decoded",
    "Decoder",
    "GreedyDecoder",
    "HubertConfig",
    "HubertForCTC",
    "Transcript",
    "Vocabulary",
    "load_model",
    "save_pretrained",
    "transcribe",
]
