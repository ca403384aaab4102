"""The live pipeline: audio input, windows, stitching, events, batching, server and CLI."""

from __future__ import annotations

from streamer.config import StreamingConfig
from streamer.events import Event, Final, Partial, WordTiming

__all__ = [
    "BatchEngine",
    "Event",
    "Final",
    "Partial",
    "Recognizer",
    "StreamingConfig",
    "WordTiming",
    "transcribe_stream",
]


def __getattr__(name: str):
    # The recognizer, engine and file helpers need torch; the events above do not, and remote
    # clients import streamer.events without torch installed.
    if name == "Recognizer":
        from streamer.recognizer import Recognizer

        return Recognizer
    if name == "BatchEngine":
        from streamer.engine import BatchEngine

        return BatchEngine
    if name == "transcribe_stream":
        from streamer.files import transcribe_stream

        return transcribe_stream
    raise AttributeError(name)
