"""A fake CTC model whose frame ids are written into the audio, for testing the streaming bookkeeping
(hops, commits, flushes, voice activity) with events known exactly in advance.

The script is a list of CTC ids, one per 20 ms frame. ``audio(ids)`` turns it into samples: frame
``k`` is the 320 samples ``[320 k, 320 k + 320)``, all at level ``ids[k] * LEVEL_PER_ID``. The fake's
conv feature of a frame is the first sample of its 400-sample receptive field, and its logits pick
the id that level stands for, with the same confidence everywhere. So every window decodes each frame
to its scripted id whatever its context, zeros (digital silence, padding) decode to the blank, and a
last frame cut short and padded with zeros still decodes to its id. Stream it with ``normalize="none"``:
normalization would change the levels.
"""

from __future__ import annotations

import numpy as np
import torch

from model.audio import AudioFront
from model.hubert import HubertConfig
from model.vocab import Vocabulary
from streamer.wire.units import FRAME_SAMPLES

__all__ = ["LEVEL_PER_ID", "FakeCTC", "audio", "blanks", "letters"]

LEVEL_PER_ID = 1 / 64  # sample level of one id step: the 32 LibriSpeech ids stay within [0, 0.5)
LOGIT = 20.0  # the scripted id's logit (the others are 0): probability 1 - 6e-8, confidence 1.0


class FakeCTC:
    """The interface ``Recognizer`` and the batch driver use, with no network behind it.

    Counts what a real model would spend time on: ``forward_calls`` (transformer passes),
    ``forward_windows`` (windows in them) and ``conv_frames`` (frames through the conv stack).
    """

    def __init__(self) -> None:
        self.vocab = Vocabulary.librispeech()
        # The standard conv stack (320-sample frames, 400-sample receptive field), one channel out.
        self.config = HubertConfig(conv_dim=(1,) * 7, feat_extract_norm="layer", vocab_size=len(self.vocab))
        self.front = AudioFront(do_normalize=False)
        self.name = "fake-ctc"
        self.device = torch.device("cpu")
        self.dtype = torch.float32
        self.streamable = True
        self.forward_calls = 0
        self.forward_windows = 0
        self.conv_frames = 0

    def extract_features(self, input_values: torch.Tensor) -> torch.Tensor:
        """``[batch, samples]`` -> ``[batch, frames, 1]``: each frame's first sample."""
        field, stride = self.config.receptive_field, self.config.frame_samples
        frames = input_values.float().unfold(-1, field, stride)  # [batch, frames, 400]
        self.conv_frames += frames.shape[0] * frames.shape[1]
        return frames[..., :1]

    def forward_features(self, features: torch.Tensor, frame_mask: torch.Tensor | None = None) -> torch.Tensor:
        """``[batch, frames, 1]`` -> logits ``[batch, frames, vocab]``, the scripted id of each frame on top."""
        self.forward_calls += 1
        self.forward_windows += features.shape[0]
        ids = torch.round(features[..., 0] / LEVEL_PER_ID).long().clamp(0, len(self.vocab) - 1)  # [batch, frames]
        return torch.nn.functional.one_hot(ids, len(self.vocab)).float() * LOGIT

    forward_window = forward_features  # a window and a longer stretch decode alike here


def audio(ids: list[int], last_frame_samples: int = FRAME_SAMPLES) -> np.ndarray:
    """16 kHz float32 samples that the fake decodes to ``ids``, one id per frame; the last frame
    may be cut short to ``last_frame_samples``."""
    samples = np.repeat(np.asarray(ids, dtype=np.float32) * np.float32(LEVEL_PER_ID), FRAME_SAMPLES)
    return samples[: len(samples) - FRAME_SAMPLES + last_frame_samples]


def blanks(count: int) -> list[int]:
    """``count`` frames of the CTC blank (digital silence)."""
    return [Vocabulary.librispeech().blank_id] * count


def letters(text: str, frames_per_letter: int = 2) -> list[int]:
    """Frame ids that greedy CTC decodes to ``text``: each letter for ``frames_per_letter`` frames,
    a blank frame after each (so double letters stay double), ``|`` frames between words."""
    vocab = Vocabulary.librispeech()
    ids: list[int] = []
    for token in vocab.encode(text.upper()):
        ids += [token] * frames_per_letter + ([] if token == vocab.delimiter_id else blanks(1))
    return ids
