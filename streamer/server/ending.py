"""How the server ends a session: what the client gets before the close frame, and that frame.

Server policy, not a message: every protocol's session returns an ``Ending`` from the places that
may end it (a timeout, a refusal, shutdown, eof) and delivers it in its own shape.
"""

from __future__ import annotations

from dataclasses import dataclass

from streamer.wire.events import ErrorEvent
from streamer.wire.protocol import CloseCode

__all__ = ["MESSAGE_TOO_BIG", "RECOGNITION_FAILED", "SHUTTING_DOWN", "Ending", "error_ending"]


@dataclass(frozen=True)
class Ending:
    """How the server ends a session: what the client gets before the close frame, and that frame."""

    code: int
    reason: str
    error: ErrorEvent | None = None  # sent just before the close
    flush: bool = True  # recognize the remaining audio and send its finals first
    done: bool = False  # send {"type":"done"} before closing (after eof)


def error_ending(code: str, message: str, close: CloseCode, flush: bool = False) -> Ending:
    """An ending with an error event: ``code`` from ``ERROR_CODES``, ``close`` from ``CloseCode``."""
    return Ending(close, code, ErrorEvent(code, message), flush=flush)


# On shutdown a session gets the finals of everything it sent, then done, then 1001.
SHUTTING_DOWN = Ending(CloseCode.GOING_AWAY, "server shutting down", done=True)
# The worker failed on this session's audio: the other sessions carry on.
RECOGNITION_FAILED = error_ending("internal", "recognition failed for this session", CloseCode.INTERNAL)
# A message over --max-message-bytes: the websocket layer has closed the connection with 1009 itself
# (docs/protocol.md, close codes), so nothing more reaches the client; the rest of its audio is dropped.
MESSAGE_TOO_BIG = Ending(CloseCode.TOO_BIG, "message too big", flush=False)
