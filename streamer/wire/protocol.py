"""What goes over the websocket: the native protocol's messages and the Vosk-compatible replies.

Torch-free, so remote clients can import it: ``clients/`` reads server events with
``parse_event`` and the server parses client messages with ``parse_native`` /
``parse_vosk``. The protocol is specified in ``docs/protocol.md``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from enum import IntEnum
from typing import Any, ClassVar

from streamer.wire.audio import ENCODINGS, MAX_RATE, MIN_RATE
from streamer.wire.events import Event, Final, Partial, event_from_dict

__all__ = [
    "DEFAULT_ENCODING",
    "DEFAULT_SAMPLE_RATE",
    "ERROR_CODES",
    "MAX_CHANNELS",
    "NATIVE_PATH",
    "VOSK_SAMPLE_RATE",
    "AudioFormat",
    "Auth",
    "CloseCode",
    "Config",
    "Done",
    "Ending",
    "Eof",
    "ErrorEvent",
    "Finalize",
    "Lag",
    "ProtocolError",
    "Ready",
    "VoskConfig",
    "VoskReset",
    "bearer_token",
    "error_ending",
    "parse_event",
    "parse_native",
    "parse_vosk",
    "token_of",
    "vosk_error",
    "vosk_final",
    "vosk_partial",
    "vosk_reply",
]

NATIVE_PATH = "/v1/stream"
DEFAULT_SAMPLE_RATE = 16_000  # Hz, native protocol without a config message
DEFAULT_ENCODING = "pcm_s16le"
VOSK_SAMPLE_RATE = 8_000  # Hz, what Vosk's server assumes when a client sends no config
MAX_CHANNELS = 8  # interleaved channels a client may send; they are averaged to mono

# Error codes of the ``error`` event, each with what happens to the session.
ERROR_CODES: dict[str, str] = {
    "bad_message": "text that is not a known JSON message; it is ignored and the session carries on",
    "bad_config": "a config with an unknown encoding, a rate outside 8-192 kHz or bad channels; session ends (1007)",
    "bad_audio": "a binary message of partial samples or non-finite floats; it is dropped, the session carries on",
    "unauthorized": "the token is missing from the first message or wrong; the session ends (1008)",
    "idle_timeout": "no audio for the idle timeout; the last final is sent and the session ends (4001)",
    "max_duration": "the session reached its maximum duration; the last final is sent and the session ends (4002)",
    "internal": "a server fault in this session; the session ends (1011), other sessions are unaffected",
    "capacity": "the token came in the first message but every session slot was taken by then; ends (1013)",
    "write_timeout": "the client read nothing for the write timeout while events waited; the session ends (4008)",
}


class CloseCode(IntEnum):
    """WebSocket close codes this server uses (4000-4999 are application codes)."""

    NORMAL = 1000  # after eof: the last final, then done
    GOING_AWAY = 1001  # the server is shutting down; the last final was sent first
    INVALID_DATA = 1007  # bad_config
    POLICY = 1008  # unauthorized
    TOO_BIG = 1009  # a message over the size limit (sent by the websockets library itself)
    INTERNAL = 1011  # internal
    TRY_AGAIN_LATER = 1013  # capacity: authenticated by message when every slot was taken
    IDLE_TIMEOUT = 4001
    MAX_DURATION = 4002
    WRITE_TIMEOUT = 4008  # the client read nothing for the write timeout (like HTTP 408)


# ----- server -> client events (the recognizer's Partial and Final, plus these) -----------------


@dataclass(frozen=True)
class Ready(Event):
    """The session is open: send audio at ``sample_rate``. Sent again after each accepted config."""

    type: ClassVar[str] = "ready"
    session: str
    sample_rate: int


@dataclass(frozen=True)
class Done(Event):
    """Everything the client sent was recognized and its events sent; the server closes next.

    After ``eof`` (then 1000) and on shutdown (then 1001).
    """

    type: ClassVar[str] = "done"


@dataclass(frozen=True)
class ErrorEvent(Event):
    """Something the client sent was refused; ``code`` is one of ``ERROR_CODES``."""

    type: ClassVar[str] = "error"
    code: str
    message: str


@dataclass(frozen=True)
class Lag(Event):
    """Recognition is behind real time: audio was recognized ``seconds`` after it was live."""

    type: ClassVar[str] = "lag"
    seconds: float


SERVER_EVENTS: dict[str, type[Event]] = {cls.type: cls for cls in (Ready, Done, ErrorEvent, Lag)}


def parse_event(text: str | bytes) -> Event:
    """Read one server message of the native protocol into its event dataclass."""
    data = json.loads(text)
    if not isinstance(data, dict):
        raise ValueError(f"a server event is a JSON object, got {type(data).__name__}")
    kind = data.get("type")
    if kind in SERVER_EVENTS:
        return SERVER_EVENTS[kind](**{k: v for k, v in data.items() if k != "type"})
    return event_from_dict(data)


@dataclass(frozen=True)
class Ending:
    """How a session ends: its close code and reason, and what the client gets first."""

    code: int
    reason: str
    error: ErrorEvent | None = None  # sent just before the close
    flush: bool = True  # recognize the remaining audio and send its finals first
    done: bool = False  # send {"type":"done"} before closing (after eof)


def error_ending(code: str, message: str, close: CloseCode, flush: bool = False) -> Ending:
    """An ending with an error event: ``code`` from ``ERROR_CODES``, ``close`` from ``CloseCode``."""
    return Ending(close, code, ErrorEvent(code, message), flush=flush)


# ----- client -> server messages -----------------------------------------------------------------


class ProtocolError(ValueError):
    """A client message the server refuses: ``code`` goes into the error event."""

    def __init__(self, code: str, message: str) -> None:
        assert code in ERROR_CODES, code
        super().__init__(message)
        self.code = code


@dataclass(frozen=True)
class AudioFormat:
    """How the binary messages of a session are encoded."""

    sample_rate: int = DEFAULT_SAMPLE_RATE
    encoding: str = DEFAULT_ENCODING
    channels: int = 1


@dataclass(frozen=True)
class Config:
    """``{"type":"config", "sample_rate":…, "encoding":…, "channels":…, "token":…}``; all fields optional."""

    format: AudioFormat
    token: str | None = None


@dataclass(frozen=True)
class Auth:
    """``{"type":"auth","token":…}``: the token for browsers, which cannot set an Authorization header."""

    token: str


@dataclass(frozen=True)
class Finalize:
    """End the current segment now."""


@dataclass(frozen=True)
class Eof:
    """No more audio: send the remaining finals, then done, then close."""


ClientMessage = Config | Auth | Finalize | Eof


def _load_object(text: str) -> dict[str, Any]:
    try:
        data = json.loads(text)
    except ValueError:
        raise ProtocolError(
            "bad_message", "text messages must be JSON objects; audio goes in binary messages"
        ) from None
    if not isinstance(data, dict):
        raise ProtocolError("bad_message", f"text messages must be JSON objects, got {type(data).__name__}")
    return data


def _token(data: dict[str, Any]) -> str | None:
    token = data.get("token")
    if token is not None and not isinstance(token, str):
        raise ProtocolError("bad_message", "token must be a string")
    return token


def _sample_rate(value: Any) -> int:
    # Vosk clients send floats (16000.0); accept any number that is a whole number of Hz.
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value != int(value):
        raise ProtocolError("bad_config", f"sample_rate must be a whole number of Hz, got {value!r}")
    if not MIN_RATE <= value <= MAX_RATE:
        raise ProtocolError("bad_config", f"unsupported sample_rate {value!r} Hz; supported: {MIN_RATE}-{MAX_RATE} Hz")
    return int(value)


def token_of(text: str) -> str | None:
    """The ``"token"`` of a JSON text message, if it has one (how browsers authenticate)."""
    try:
        data = json.loads(text)
    except ValueError:
        return None
    token = data.get("token") if isinstance(data, dict) else None
    return token if isinstance(token, str) else None


def bearer_token(header: str) -> str | None:
    """The token of an ``Authorization: Bearer <token>`` header."""
    scheme, _, token = header.partition(" ")
    return token.strip() if scheme.lower() == "bearer" else None


def parse_native(text: str) -> ClientMessage:
    """Parse a native-protocol text message; raises ``ProtocolError`` with its error code."""
    data = _load_object(text)
    kind = data.get("type")
    if kind == "config":
        rate = _sample_rate(data.get("sample_rate", DEFAULT_SAMPLE_RATE))
        encoding = data.get("encoding", DEFAULT_ENCODING)
        if encoding not in ENCODINGS:
            raise ProtocolError("bad_config", f"unknown encoding {encoding!r}; expected one of {sorted(ENCODINGS)}")
        channels = data.get("channels", 1)
        if isinstance(channels, bool) or not isinstance(channels, int) or not 1 <= channels <= MAX_CHANNELS:
            raise ProtocolError(
                "bad_config", f"channels must be a whole number from 1 to {MAX_CHANNELS}, got {channels!r}"
            )
        return Config(AudioFormat(rate, encoding, channels), _token(data))
    if kind == "auth":
        token = _token(data)
        if token is None:
            raise ProtocolError("bad_message", 'an auth message needs a "token"')
        return Auth(token)
    if kind == "finalize":
        return Finalize()
    if kind == "eof":
        return Eof()
    raise ProtocolError("bad_message", f"unknown message type {kind!r}; expected config, auth, finalize or eof")


# ----- Vosk compatibility ------------------------------------------------------------------------


@dataclass(frozen=True)
class VoskConfig:
    """``{"config": {"sample_rate": 8000, "words": true}}``; other Vosk keys are accepted and ignored."""

    sample_rate: int | None
    words: bool | None
    token: str | None


@dataclass(frozen=True)
class VoskReset:
    """``{"reset": 1}``: end the current utterance now (replies with its result)."""


VoskMessage = VoskConfig | VoskReset | Eof


def parse_vosk(text: str) -> VoskMessage:
    """Parse a Vosk text message (any spacing); raises ``ProtocolError``."""
    data = _load_object(text)
    if "config" in data:
        config = data["config"]
        if not isinstance(config, dict):
            raise ProtocolError("bad_message", '"config" must be a JSON object')
        rate = _sample_rate(config["sample_rate"]) if "sample_rate" in config else None
        words = bool(config["words"]) if "words" in config else None
        return VoskConfig(rate, words, _token(config))
    if data.get("eof"):
        return Eof()
    if data.get("reset"):
        return VoskReset()
    raise ProtocolError("bad_message", 'expected {"config": {...}}, {"eof": 1} or {"reset": 1}')


def vosk_error(code: str, message: str) -> dict[str, Any]:
    """The one reply to a Vosk message that was refused (Vosk itself has no error replies)."""
    return {"error": message, "code": code}


def vosk_partial(text: str) -> dict[str, Any]:
    """A Vosk partial result. Vosk's models write lowercase, so its clients expect lowercase."""
    return {"partial": text.lower()}


def vosk_final(finals: list[Final], words: bool = True) -> dict[str, Any]:
    """A Vosk result for the finals of one reply (usually one; none gives empty text)."""
    out: dict[str, Any] = {}
    if words:
        out["result"] = [
            {"conf": w.confidence, "end": w.end, "start": w.start, "word": w.word.lower()}
            for final in finals
            for w in final.words
        ]
    out["text"] = " ".join(f.text.lower() for f in finals if f.text)
    return out


def vosk_reply(
    events: list[Event], current: str, words: bool = True, final: bool = False
) -> tuple[dict[str, Any], str]:
    """The one reply to a Vosk message: a result if a segment ended (or ``final``), else the partial.

    Returns ``(reply, current)`` where ``current`` is the segment's text after these events.
    """
    finals = [e for e in events if isinstance(e, Final)]
    for event in events:
        if isinstance(event, Partial):
            current = event.text
        elif isinstance(event, Final):
            current = ""
    return (vosk_final(finals, words) if finals or final else vosk_partial(current)), current
