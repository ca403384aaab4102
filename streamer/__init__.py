"""Streaming HuBERT CTC in three layers: ``wire`` (messages, units, audio decoding; torch-free),
``core`` (config, stitcher, recognizer, batching engine) and the shells (``server``, ``cli``).

The names below load on first use, so ``import streamer.wire`` (all a remote client needs) pulls in
neither torch nor the core.
"""

from __future__ import annotations

import importlib

__all__ = [
    "BatchEngine",
    "Event",
    "FileRecognizer",
    "Final",
    "Partial",
    "Recognizer",
    "StreamingConfig",
    "WordTiming",
    "transcribe_file",
    "transcribe_stream",
]

_HOMES = {
    "BatchEngine": "streamer.core.engine",
    "Event": "streamer.wire.events",
    "FileRecognizer": "streamer.core.files",
    "Final": "streamer.wire.events",
    "Partial": "streamer.wire.events",
    "Recognizer": "streamer.core.recognizer",
    "StreamingConfig": "streamer.core.config",
    "WordTiming": "streamer.wire.events",
    "transcribe_file": "streamer.core.files",
    "transcribe_stream": "streamer.core.files",
}


def __getattr__(name: str):
    if name not in _HOMES:
        raise AttributeError(f"module 'streamer' has no attribute {name!r}")
    return getattr(importlib.import_module(_HOMES[name]), name)
