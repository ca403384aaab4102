"""Decoders: a span's CTC logits in, text with word times and confidences out.

``Decoder`` is the seam where a decoder plugs in (greedy here; a beam search with a language
model or hotwords beside it). Every final, the whole-file path and offline ``transcribe`` decode
through a ``Decoder``. ``greedy_frames`` is the one place that takes the best token of each frame:
``GreedyDecoder`` builds on it, and the streaming core uses it for the frame ids its partials and
endpoints are read from (cheap and incremental; a partial must not cost a decode of its segment).
"""

from __future__ import annotations

from abc import ABC, abstractmethod

import torch

from model.vocab import Decoded, Vocabulary

__all__ = ["Decoder", "GreedyDecoder", "greedy_frames"]


def greedy_frames(logits: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """The best token of each frame: its probability and its id, from logits ``[..., frames, vocab]``.

    Returns ``(probs, ids)``, each ``[..., frames]``.
    """
    return torch.softmax(logits.float(), dim=-1).max(dim=-1)


class Decoder(ABC):
    """Turns the CTC logits of one span of frames into text, word spans and word confidences."""

    @abstractmethod
    def decode(self, logits: torch.Tensor, offset: int = 0) -> Decoded:
        """Decode logits ``[frames, vocab]``; spans in ``Decoded`` count from frame ``offset``."""


class GreedyDecoder(Decoder):
    """Greedy CTC: the best token per frame, repeats collapsed, blanks dropped.

    Args:
        vocab: the checkpoint's vocabulary.
    """

    def __init__(self, vocab: Vocabulary) -> None:
        self.vocab = vocab

    def decode(self, logits: torch.Tensor, offset: int = 0) -> Decoded:
        probs, ids = greedy_frames(logits)
        return self.vocab.decode_frames(ids.tolist(), probs.tolist(), offset)
