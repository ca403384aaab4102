"""Whole files through the streaming recognizer."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np

from streamer.core.config import StreamingConfig
from streamer.core.recognizer import Recognizer
from streamer.wire.audio import AudioInput
from streamer.wire.events import Event

__all__ = ["BLOCK_SECONDS", "transcribe_stream"]

BLOCK_SECONDS = 1.0  # how much source audio is handed over at a time


def transcribe_stream(
    model, audio: np.ndarray, sample_rate: int, config: StreamingConfig | None = None
) -> Iterator[Event]:
    """Stream a whole recording through a ``Recognizer``, yielding events as they come.

    Args:
        model: a streamable model from ``model.load_model``.
        audio: int16 or float32 samples, 1-D mono or ``[frames, channels]``.
        sample_rate: the recording's rate, 8-192 kHz.
        config: streaming knobs (defaults when None).
    """
    audio = np.asarray(audio)
    channels = audio.shape[1] if audio.ndim == 2 else 1
    source = AudioInput(sample_rate, channels)
    recognizer = Recognizer(model, config)
    block = max(1, int(BLOCK_SECONDS * sample_rate))
    for first in range(0, len(audio), block):
        yield from recognizer.accept(source(audio[first : first + block]))
    yield from recognizer.accept(source.flush())
    yield from recognizer.close()
