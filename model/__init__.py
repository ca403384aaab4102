"""HuBERT CTC in plain PyTorch: config, network, loading, vocabulary and decoding."""

from __future__ import annotations

# First: model.device sets OpenMP's wait policy, which is read once, when torch loads.
import model.device  # isort: skip  # noqa: F401

from model.audio import AudioFront
from model.decoding import BeamSearchDecoder, Decoder, GreedyDecoder, Hotword
from model.hubert import HubertConfig, HubertForCTC
from model.lm import load_language_model
from model.loading import ALIASES, DEFAULT_MODEL, load_model, save_pretrained
from model.transcribe import Transcript, transcribe
from model.vocab import Decoded, Vocabulary

__all__ = [
    "ALIASES",
    "DEFAULT_MODEL",
    "AudioFront",
    "BeamSearchDecoder",
    "Decoded",
    "Decoder",
    "GreedyDecoder",
    "HubertConfig",
    "HubertForCTC",
    "Hotword",
    "Transcript",
    "Vocabulary",
    "load_language_model",
    "load_model",
    "save_pretrained",
    "transcribe",
]
