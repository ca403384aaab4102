"""Things that talk to a hubert-stream server. Torch-free: they install and run without the model.

The names below load on first use, so ``python -m clients.client`` runs the module once, as
``__main__``, instead of finding it already imported by this package (runpy's RuntimeWarning).
"""

from __future__ import annotations

import importlib

__all__ = [
    "ClientError",
    "SessionResult",
    "StreamClient",
    "format_event",
    "read_audio",
    "stream_file",
    "stream_microphone",
]


def __getattr__(name: str) -> object:
    if name not in __all__:
        raise AttributeError(f"module 'clients' has no attribute {name!r}")
    return getattr(importlib.import_module("clients.client"), name)
