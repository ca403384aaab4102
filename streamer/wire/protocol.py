"""The websocket protocol's codes and limits, and the bounded reader every text message goes through.

Torch-free, so remote clients can import it. The messages themselves (both directions, both
dialects) are the dataclasses of ``streamer.wire.events``; ``events.from_json`` reads any of them
with ``load_json`` below. The protocol is specified in ``docs/protocol.md``.
"""

from __future__ import annotations

import json
from enum import IntEnum
from typing import Any

from streamer.wire.units import SAMPLE_RATE

__all__ = [
    "DEFAULT_ENCODING",
    "DEFAULT_SAMPLE_RATE",
    "ERROR_CLOSE",
    "ERROR_CODES",
    "MAX_JSON_DEPTH",
    "MAX_TEXT_BYTES",
    "NATIVE_PATH",
    "RESUMABLE_CLOSES",
    "CloseCode",
    "ProtocolError",
    "json_type",
    "load_json",
    "token_of",
]

NATIVE_PATH = "/v1/stream"
DEFAULT_SAMPLE_RATE = SAMPLE_RATE  # Hz, native protocol without a config message
DEFAULT_ENCODING = "pcm_s16le"
# Text messages are commands of a few dozen bytes (a Vosk config with a phrase list: a few KiB).
MAX_TEXT_BYTES = 64 * 1024  # longer text messages are refused (bad_message) without being parsed
MAX_JSON_DEPTH = 32  # nested arrays/objects; deeper is refused before parsing (no RecursionError)


class CloseCode(IntEnum):
    """WebSocket close codes this server uses (4000-4999 are application codes)."""

    NORMAL = 1000  # after eof: the last final, then done
    GOING_AWAY = 1001  # the server is shutting down; the last final was sent first
    INVALID_DATA = 1007  # bad_config
    POLICY = 1008  # unauthorized
    TOO_BIG = 1009  # a message over the size limit (sent by the websockets library itself)
    INTERNAL = 1011  # internal
    SERVICE_RESTART = 1012  # shutting down: a session with a resume point resumes on another replica
    TRY_AGAIN_LATER = 1013  # capacity: authenticated by message when every slot was taken
    IDLE_TIMEOUT = 4001
    MAX_DURATION = 4002
    WRITE_TIMEOUT = 4008  # the client read nothing for the write timeout (like HTTP 408)


# Closes after which a client may resume its stream on another replica (docs/protocol.md, Resume):
# 1001 the server shut down, 1006 the connection dropped without a close (a replica died),
# 1011 a server fault in the session, 1012 service restart (a draining replica), 1013 try again later.
RESUMABLE_CLOSES = frozenset({1001, 1006, 1011, 1012, 1013})

# Error codes of the ``error`` event, each with what happens to the session.
ERROR_CODES: dict[str, str] = {
    "bad_message": "a text message that is not a known, well-formed JSON message; it is ignored and the session carries on",
    "bad_config": "a config with an unknown encoding, a rate outside 8-192 kHz, bad channels, bad hotwords or a field of the wrong type; session ends (1007)",
    "bad_audio": "a binary message of partial samples, non-finite floats or floats beyond +-2; it is dropped, the session carries on",
    "unauthorized": "the token is missing from the first message or wrong; the session ends (1008)",
    "idle_timeout": "no audio for the idle timeout; the last final is sent and the session ends (4001)",
    "max_duration": "the session reached its maximum duration; the last final is sent and the session ends (4002)",
    "internal": "a server fault in this session; the session ends (1011), other sessions are unaffected",
    "capacity": "the token came in the first message but every session slot was taken by then; ends (1013)",
    "write_timeout": "the client read nothing for the write timeout while events waited; the session ends (4008)",
}
# The close that follows each error code; None: the session carries on.
ERROR_CLOSE: dict[str, CloseCode | None] = {
    "bad_message": None,
    "bad_config": CloseCode.INVALID_DATA,
    "bad_audio": None,
    "unauthorized": CloseCode.POLICY,
    "idle_timeout": CloseCode.IDLE_TIMEOUT,
    "max_duration": CloseCode.MAX_DURATION,
    "internal": CloseCode.INTERNAL,
    "capacity": CloseCode.TRY_AGAIN_LATER,
    "write_timeout": CloseCode.WRITE_TIMEOUT,
}


class ProtocolError(ValueError):
    """A message refused: ``code`` (one of ``ERROR_CODES``) goes into the error event, and ``close``
    is the close code that follows it (None: the session carries on)."""

    def __init__(self, code: str, message: str) -> None:
        assert code in ERROR_CODES, code
        super().__init__(message)
        self.code = code

    @property
    def close(self) -> CloseCode | None:
        return ERROR_CLOSE[self.code]


def json_type(value: Any) -> str:
    """A value's JSON type name, for error messages."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, (int, float)):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    if isinstance(value, dict):
        return "object"
    return type(value).__name__


def load_json(text: str | bytes) -> dict[str, Any]:
    """One JSON object from a text message, bounded: ``ProtocolError('bad_message')`` for text over
    ``MAX_TEXT_BYTES``, nesting deeper than ``MAX_JSON_DEPTH``, invalid JSON, a value that is not an
    object, or a string with a lone surrogate (``"\\ud800"``: not text, it fails ``.encode()``).

    Non-finite numbers (``NaN``, ``Infinity``, ``1e400``, which Python's parser accepts) are
    kept as float ``nan``/``inf`` here, so the message's reader refuses them by field name with its
    own code (``bad_config`` in a config).
    """
    if isinstance(text, bytes):
        try:
            text = text.decode("utf-8")
        except UnicodeDecodeError:
            raise ProtocolError("bad_message", "text messages must be UTF-8") from None
    if len(text) > MAX_TEXT_BYTES:  # characters; a UTF-8 text is at least as many bytes
        raise ProtocolError("bad_message", f"text messages are at most {MAX_TEXT_BYTES} bytes, got {len(text)}")
    if _depth(text) > MAX_JSON_DEPTH:
        raise ProtocolError("bad_message", f"JSON nested deeper than {MAX_JSON_DEPTH} levels")
    try:
        data = json.loads(text)
    except ValueError:  # json.JSONDecodeError, and ints over Python's digit limit
        raise ProtocolError(
            "bad_message", "text messages must be JSON objects; audio goes in binary messages"
        ) from None
    if not isinstance(data, dict):
        raise ProtocolError("bad_message", f"text messages must be JSON objects, got {json_type(data)}")
    _check_strings(data)
    return data


def _depth(text: str) -> int:
    """Nesting depth of a JSON text: brackets outside strings, without parsing it."""
    if text.count("[") + text.count("{") <= MAX_JSON_DEPTH:
        return 0  # fast path: every command message
    depth = deepest = 0
    in_string = escaped = False
    for ch in text:
        if in_string:
            if escaped:
                escaped = False
            elif ch == "\\":
                escaped = True
            elif ch == '"':
                in_string = False
        elif ch == '"':
            in_string = True
        elif ch in "[{":
            depth += 1
            deepest = max(deepest, depth)
        elif ch in "]}":
            depth -= 1
    return deepest


def _check_strings(value: Any) -> None:
    """Refuse lone surrogates in any key or string (recursion bounded by ``MAX_JSON_DEPTH``)."""
    if isinstance(value, str):
        if not value.isascii():
            try:
                value.encode("utf-8")
            except UnicodeEncodeError:
                raise ProtocolError("bad_message", "a string holds a lone UTF-16 surrogate (\\ud800-\\udfff)") from None
    elif isinstance(value, dict):
        for key, item in value.items():
            _check_strings(key)
            _check_strings(item)
    elif isinstance(value, list):
        for item in value:
            _check_strings(item)


def token_of(text: str | bytes) -> str | None:
    """The ``"token"`` of a text message, if it is a well-formed JSON object with a string token
    (how browsers authenticate); None for anything else, malformed or hostile text included."""
    try:
        token = load_json(text).get("token")
    except ProtocolError:
        return None
    return token if isinstance(token, str) else None
