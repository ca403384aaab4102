"""The websocket server (a shell): HTTP side, native protocol, Vosk dialect, inference worker, metrics."""

from __future__ import annotations

from streamer.server.app import StreamServer
from streamer.server.options import ServerOptions

__all__ = ["ServerOptions", "StreamServer"]
