"""Offline transcription: whole clips in, text with word timings out."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch

from model.audio import SAMPLE_RATE
from model.decoding import Decoder, GreedyDecoder
from model.vocab import Decoded

__all__ = ["Transcript", "Word", "as_audio", "model_decoder", "transcribe"]


@dataclass(frozen=True)
class Word:
    """A transcribed word: ``start``/``end`` in seconds of the clip (10 ms steps), ``confidence`` 0-1."""

    word: str
    start: float
    end: float
    confidence: float


@dataclass(frozen=True)
class Transcript:
    """A clip's text and its words (``start``/``end`` in seconds of the clip)."""

    text: str
    words: tuple[Word, ...] = ()

    @classmethod
    def from_decoded(cls, decoded: Decoded, frame_seconds: float) -> Transcript:
        words = tuple(
            Word(w.text, round(w.start * frame_seconds, 2), round(w.end * frame_seconds, 2), round(w.confidence, 3))
            for w in decoded.words
        )
        return cls(decoded.text, words)


def as_audio(audio: np.ndarray | torch.Tensor | Sequence[float], what: str = "audio") -> np.ndarray:
    """Check one clip of 16 kHz mono float audio and return it as float32 numpy."""
    if isinstance(audio, torch.Tensor):
        audio = audio.detach().cpu().numpy()
    audio = np.asarray(audio)
    if audio.ndim != 1:
        raise ValueError(f"{what} must be 1-D mono samples, got shape {audio.shape}; mix channels down first")
    if not np.issubdtype(audio.dtype, np.floating):
        raise ValueError(f"{what} must be float samples in [-1, 1], got dtype {audio.dtype}")
    audio = audio.astype(np.float32, copy=False)
    if not np.isfinite(audio).all():
        raise ValueError(f"{what} contains NaN or infinite samples")
    return audio


@torch.inference_mode()
def transcribe(
    model, audio, batch_size: int = 8, decoder: Decoder | None = None
) -> Transcript | list[Transcript]:
    """Transcription of whole clips.

    Args:
        model: a model from ``load_model`` (it carries ``vocab``, ``front`` and ``decoder``).
        audio: one clip (1-D float32, 16 kHz, mono) or a list of clips.
        batch_size: clips per forward pass.
        decoder: turns each clip's logits into text (default: the model's, greedy CTC).

    Returns:
        A ``Transcript`` for one clip, or a list in the same order for a list.
    """
    single = isinstance(audio, (np.ndarray, torch.Tensor)) and np.ndim(audio) == 1
    clips = [as_audio(a, f"audio[{i}]") for i, a in enumerate([audio] if single else audio)]
    # Layer-norm models batch any clips: padding is masked out exactly. Group-norm models must
    # not get a mask: their first conv normalizes each channel over the whole input, padding
    # included, and no mask reaches inside that norm (transformers documents the same). Padding
    # would change their output, so they batch only clips of equal length.
    groups = [list(range(len(clips)))]
    if not model.streamable:
        by_length: dict[int, list[int]] = {}
        for i, clip in enumerate(clips):
            by_length.setdefault(len(clip), []).append(i)
        groups = list(by_length.values())
    results: dict[int, Transcript] = {}
    for group in groups:
        for first in range(0, len(group), batch_size):
            rows = group[first : first + batch_size]
            results.update(zip(rows, _transcribe_batch(model, [clips[i] for i in rows], decoder)))
    ordered = [results[i] for i in range(len(clips))]
    return ordered[0] if single else ordered


def _transcribe_batch(model, clips: list[np.ndarray], decoder: Decoder | None) -> list[Transcript]:
    decoder = decoder or model_decoder(model)
    config = model.config
    frames = [config.num_frames(len(c)) for c in clips]
    if max(frames) == 0:
        return [Transcript("") for _ in clips]
    longest = max(len(c) for c in clips)
    batch = np.zeros((len(clips), longest), dtype=np.float32)
    mask = np.zeros((len(clips), longest), dtype=np.int64)
    for row, clip in enumerate(clips):
        batch[row, : len(clip)] = model.front(clip)  # normalize each clip alone, then pad with zeros
        mask[row, : len(clip)] = 1
    attention_mask = None
    if model.streamable and len(set(frames)) > 1:
        attention_mask = torch.from_numpy(mask).to(model.device)
    logits = model(torch.from_numpy(batch).to(model.device), attention_mask)  # [batch, frames, vocab]
    frame_seconds = config.frame_samples / SAMPLE_RATE  # the checkpoint's conv strides decide it
    return [Transcript.from_decoded(decoder.decode(logits[row, :n]), frame_seconds) for row, n in enumerate(frames)]


def model_decoder(model) -> Decoder:
    """The decoder ``load_model`` attached to ``model`` (greedy CTC over its vocabulary by default)."""
    decoder = getattr(model, "decoder", None)
    return decoder if decoder is not None else GreedyDecoder(model.vocab)
