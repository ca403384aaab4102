"""Decoders: a span's CTC logits in, text with word times and confidences out.

``Decoder`` is the seam where a decoder plugs in (greedy here; a beam search with a language
model or hotwords beside it). Every final, the whole-file path and offline ``transcribe`` decode
through a ``Decoder``. ``greedy_frames`` is the one place that takes the best token of each frame:
``GreedyDecoder`` builds on it, and the streaming core uses it for the frame ids its partials and
endpoints are read from (cheap and incremental; a partial must not cost a decode of its segment).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import torch

from model.vocab import Decoded, Vocabulary

__all__ = ["Alternative", "Decoder", "GreedyDecoder", "frame_logprobs", "greedy_frames"]


def greedy_frames(logits: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """The best token of each frame: its probability and its id, from logits ``[..., frames, vocab]``.

    Returns ``(probs, ids)``, each ``[..., frames]``.
    """
    return torch.softmax(logits.float(), dim=-1).max(dim=-1)


@dataclass(frozen=True)
class Alternative:
    """One hypothesis of an n-best list: its decoding and its log score (higher is better)."""

    decoded: Decoded
    score: float


def frame_logprobs(ids: Sequence[int], probs: Sequence[float], size: int) -> torch.Tensor:
    """A stand-in for frames' distributions when only each frame's best token and its probability
    were kept: that token at its probability, the other ``size - 1`` sharing the rest.

    Returns log-probabilities ``[frames, size]``; their greedy decoding is the ``ids`` again.
    """
    p = torch.tensor(probs, dtype=torch.float64).clamp(1e-9, 1 - 1e-9)
    logp = ((1 - p) / (size - 1)).log()[:, None].repeat(1, size)
    logp[torch.arange(len(p)), torch.tensor(ids, dtype=torch.long)] = p.log()
    return logp.float()


class Decoder(ABC):
    """Turns the CTC logits of one span of frames into text, word spans and word confidences."""

    @abstractmethod
    def decode(self, logits: torch.Tensor, offset: int = 0) -> Decoded:
        """Decode logits ``[frames, vocab]``; spans in ``Decoded`` count from frame ``offset``."""

    def alternatives(self, logits: torch.Tensor, n: int, offset: int = 0) -> list[Alternative]:
        """Up to ``n`` hypotheses with distinct texts, best first. A decoder that keeps one
        hypothesis gives that one, scored by the log-probability of its frames' tokens."""
        decoded = self.decode(logits, offset)
        logp = torch.log_softmax(logits.float(), dim=-1)
        ids = torch.tensor(decoded.frame_ids, dtype=torch.long)
        score = float(logp[torch.arange(len(ids)), ids].sum()) if len(ids) == len(logp) else 0.0
        return [Alternative(decoded, score)][:n]

    def partial_search(self) -> Any:
        """What constrains a stream's partials, or None: partials show the frames' best tokens.

        A decoder that restricts its words (a grammar) returns an object with ``reset()``,
        ``frames``, ``commit(ids, probs)`` and ``text(ids, probs) -> str`` that the streaming
        core feeds the segment's frames to (``model.grammar.PartialSearch``)."""
        return None


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
