"""Every message on the wire, both directions, both dialects, as small frozen dataclasses.

Torch-free on purpose: remote clients import this module without the model. Each message has
``to_dict()``/``to_json()``, and one ``from_json(text, dialect)`` reads any of them back:

- native protocol (a ``"type"`` field): server -> client ``ready``, ``partial``, ``final``,
  ``lag``, ``error``, ``done``; client -> server ``config``, ``auth``, ``finalize``, ``eof``;
- Vosk dialect (keyed objects): client -> server ``{"config": {...}}``, ``{"eof": 1}``,
  ``{"reset": 1}``; server -> client ``{"partial": ...}``, ``{"result": [...], "text": ...}``,
  ``{"alternatives": [...]}``, ``{"error": ..., "code": ...}``.

Every message checks its fields when it is made, from JSON or in Python: a field of the wrong
JSON type, a non-finite number or a missing required field is a ``ProtocolError`` naming the
field (``bad_config`` for a config, ``bad_message`` otherwise), never a ``TypeError`` later.
The protocol is specified in ``docs/protocol.md``.
"""

from __future__ import annotations

import json
import math
from dataclasses import MISSING, asdict, dataclass, fields
from typing import Any, ClassVar

from streamer.wire.audio import ENCODINGS
from streamer.wire.protocol import (
    DEFAULT_ENCODING,
    DEFAULT_SAMPLE_RATE,
    ProtocolError,
    json_type,
    load_json,
)
from streamer.wire.units import FRAME_SECONDS, MAX_RATE, MAX_WIRE_CHANNELS, MIN_RATE

__all__ = [
    "Ack",
    "AudioFormat",
    "Auth",
    "ClientMessage",
    "Config",
    "Done",
    "Eof",
    "ErrorEvent",
    "Event",
    "MAX_RESUME",
    "Final",
    "Finalize",
    "Hotword",
    "Hypothesis",
    "Lag",
    "MAX_ALTERNATIVES",
    "MAX_PHRASE_CHARS",
    "MAX_PHRASE_LIST_CHARS",
    "MAX_PHRASES",
    "Message",
    "Partial",
    "Ready",
    "Resume",
    "VoskAlternatives",
    "VoskConfig",
    "VoskEof",
    "VoskError",
    "VoskPartial",
    "VoskReset",
    "VoskResult",
    "WordTiming",
    "from_json",
    "parse_event",
    "parse_native",
    "parse_vosk",
]


# ----- field checks ------------------------------------------------------------------------------


def _convert(name: str, annotation: str, value: Any, code: str) -> Any:
    """``value`` as the field's type, or a ``ProtocolError(code)`` naming the field."""
    if annotation.endswith(" | None"):
        if value is None:
            return None
        annotation = annotation.removesuffix(" | None")
    if annotation == "str":
        if isinstance(value, str):
            return value
        expected = "a string"
    elif annotation == "bool":
        if isinstance(value, bool):
            return value
        if isinstance(value, int) or (isinstance(value, float) and math.isfinite(value)):  # Vosk clients send 0/1
            return bool(value)
        expected = "true or false"
    elif annotation in ("int", "float"):
        if isinstance(value, int) and not isinstance(value, bool):
            if annotation == "int":
                return value  # any size: range checks follow where a field has a range
            if abs(value) < 2**1023:  # float() of a longer int raises OverflowError
                return float(value)
            raise ProtocolError(code, f'"{name}" must be a finite number, got an integer of {len(str(value))} digits')
        if isinstance(value, float):
            if not math.isfinite(value):
                raise ProtocolError(code, f'"{name}" must be a finite number, got {value}')
            if annotation == "float":
                return value
            if value.is_integer():  # 16000.0 is a whole number of Hz
                return int(value)
            expected = "a whole number"
        else:
            expected = "a number"
    elif annotation == "Resume":
        if isinstance(value, Resume):
            return value
        if isinstance(value, dict):
            return Resume.from_dict(value, code)
        expected = "an object"
    elif annotation == "tuple[Hotword, ...]":
        if isinstance(value, (list, tuple)):
            return tuple(h if isinstance(h, Hotword) else Hotword.from_dict(h, code) for h in value)
        expected = "an array of hotwords"
    elif annotation == "tuple[WordTiming, ...]":
        if isinstance(value, (list, tuple)):
            return tuple(w if isinstance(w, WordTiming) else WordTiming.from_dict(w, code) for w in value)
        expected = "an array of words"
    elif annotation == "tuple[Hypothesis, ...]":
        if isinstance(value, (list, tuple)):
            return tuple(h if isinstance(h, Hypothesis) else Hypothesis.from_dict(h, code) for h in value)
        expected = "an array of alternatives"
    elif annotation == "tuple[str, ...]":
        if isinstance(value, (list, tuple)):
            for item in value:
                if not isinstance(item, str):
                    raise ProtocolError(code, f'"{name}" must be an array of strings, it holds {json_type(item)}')
            return tuple(value)
        expected = "an array of strings"
    else:  # pragma: no cover - a field type this module does not read
        raise AssertionError(f"no reader for {annotation}")
    raise ProtocolError(code, f'"{name}" must be {expected}, got {json_type(value)}')


@dataclass(frozen=True)
class _Checked:
    """A record whose fields are checked (and whole floats made ints) when it is made."""

    refusal: ClassVar[str] = "bad_message"  # the error code of a malformed one

    def __post_init__(self) -> None:
        for f in fields(self):
            value = getattr(self, f.name)
            converted = _convert(f.name, str(f.type), value, self.refusal)
            if converted is not value:
                object.__setattr__(self, f.name, converted)

    @classmethod
    def from_dict(cls, data: Any, code: str | None = None) -> Any:
        """Read the dataclass from its wire form (unknown keys are ignored)."""
        code = code or cls.refusal
        if not isinstance(data, dict):
            raise ProtocolError(code, f"{cls.__name__} must be a JSON object, got {json_type(data)}")
        given, missing = {}, []
        for f in fields(cls):
            if f.name in data:
                given[f.name] = data[f.name]
            elif f.default is MISSING and f.default_factory is MISSING:
                missing.append(f.name)
        if missing:
            raise ProtocolError(code, f"{_describe(cls)} need {', '.join(repr(m) for m in missing)}")
        return cls(**given)

    def _fields_dict(self) -> dict[str, Any]:
        """Fields for the wire; optional fields (default None or empty) are left out while so."""
        return {
            f.name: _wire_value(v)
            for f in fields(self)
            if ((v := getattr(self, f.name)) is not None or f.default is not None) and not (v == () == f.default)
        }


def _wire_value(value: Any) -> Any:
    """A field's JSON value: records (alone or in a tuple) as their dicts."""
    if isinstance(value, _Checked):
        return value.to_dict()
    if isinstance(value, tuple):
        return [_wire_value(v) for v in value]
    return value


def _describe(cls: type) -> str:
    kind = getattr(cls, "type", None)
    return f"{kind} messages" if kind else getattr(cls, "noun", cls.__name__)


@dataclass(frozen=True)
class WordTiming(_Checked):
    """A recognized word: ``start``/``end`` in seconds of stream time (20 ms steps), ``confidence`` 0-1.

    The one word type: finals on the wire, the recognizer's finals and offline transcripts.
    """

    word: str
    start: float
    end: float
    confidence: float

    @classmethod
    def at_frames(
        cls, text: str, start: int, end: int, confidence: float, frame_seconds: float = FRAME_SECONDS
    ) -> WordTiming:
        """A word decoded at CTC frames ``[start, end)``, its times rounded to the 10 ms."""
        return cls(text, round(start * frame_seconds, 2), round(end * frame_seconds, 2), round(confidence, 3))

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class Hypothesis(_Checked):
    """One of a final's alternatives (n-best): its text, its log score ``confidence`` (higher is
    better; the best comes first) and its words."""

    text: str
    confidence: float
    words: tuple[WordTiming, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {"text": self.text, "confidence": self.confidence, "words": [w.to_dict() for w in self.words]}


MAX_RESUME = 2**53 - 1  # largest offset or segment number: exact in a JavaScript number


@dataclass(frozen=True)
class Resume(_Checked):
    """Where a resumed session's stream starts: ``offset`` sample frames of the client's audio at its
    declared rate (what the last ``ack`` said), and the number of its next segment.

    In a ``config`` it continues an earlier session; in a ``ready`` it confirms the server took it.
    """

    refusal: ClassVar[str] = "bad_config"
    noun: ClassVar[str] = 'resume points ("resume")'
    offset: int
    segment: int

    def __post_init__(self) -> None:
        super().__post_init__()
        for name in ("offset", "segment"):
            value = getattr(self, name)
            if not 0 <= value <= MAX_RESUME:
                raise ProtocolError(self.refusal, f'resume "{name}" must be 0 to 2**53-1, got {_short(value)}')

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class Hotword(_Checked):
    """A word or phrase a session's finals should spell where it is heard: ``{"phrase": "Kowalczyk", "boost": 2.5}``,
    with spellings of how it sounds if wanted: ``{"phrase": "Siobhan", "sounds_like": ["she vawn"]}``.

    The wire checks the types; the server checks the bounds (count, length, boost, spelling) with
    the model's decoder, and refuses a config that breaks them with ``bad_config``.
    """

    refusal: ClassVar[str] = "bad_config"
    noun: ClassVar[str] = 'hotwords ("hotwords")'
    phrase: str
    boost: float | None = None  # None: the server's default
    sounds_like: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return self._fields_dict()

    @classmethod
    def from_text(cls, text: str) -> Hotword:
        """The command lines' form, ``PHRASE[=SOUNDS LIKE[,SOUNDS LIKE...]][:BOOST]``
        (``Siobhan=she vawn,shivawn:2``); the boost is None where none is given. ``ValueError`` names
        a boost that is not a number."""
        rest, sep, boost_text = text.rpartition(":")
        boost = None
        if sep:
            try:
                boost = float(boost_text)
            except ValueError:
                raise ValueError(f"hotword {text!r}: the boost after ':' must be a number, got {boost_text!r}") from None
        else:
            rest = text
        phrase, sep, sounds = rest.partition("=")
        return cls(phrase, boost, tuple(s.strip() for s in sounds.split(",")) if sep else ())


# ----- the native protocol -----------------------------------------------------------------------


@dataclass(frozen=True)
class Message(_Checked):
    """A message of the native protocol: a JSON object whose ``"type"`` names the dataclass."""

    type: ClassVar[str] = "message"

    def to_dict(self) -> dict[str, Any]:
        return {"type": self.type, **self._fields_dict()}

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), ensure_ascii=False, separators=(",", ":"))

    @staticmethod
    def from_json(text: str | bytes, dialect: str = "native") -> Message | VoskMessage:
        return from_json(text, dialect)


@dataclass(frozen=True)
class Event(Message):
    """What the server sends (native protocol): the recognizer's partials and finals, and the rest."""


@dataclass(frozen=True)
class Ready(Event):
    """The session is open: send audio at ``sample_rate``. Sent again after each accepted config;
    ``resume`` echoes a config's resume point once the session continues from it."""

    type: ClassVar[str] = "ready"
    session: str
    sample_rate: int
    resume: Resume | None = None


@dataclass(frozen=True)
class Partial(Event):
    """The current segment's text so far. ``text == stable + unstable``.

    ``stable`` is decoded from frames with full lookahead and will not change;
    ``unstable`` is the tail still inside the lookahead, which may.
    """

    type: ClassVar[str] = "partial"
    segment: int
    text: str
    stable: str
    unstable: str


@dataclass(frozen=True)
class Final(Event):
    """A finished segment: its text, its span in stream seconds and its words; ``alternatives``,
    the n-best (the first is ``text``), when the session asked for them."""

    type: ClassVar[str] = "final"
    segment: int
    text: str
    start: float
    end: float
    words: tuple[WordTiming, ...] = ()
    alternatives: tuple[Hypothesis, ...] | None = None

    def to_dict(self) -> dict[str, Any]:
        out = {**super().to_dict(), "words": [w.to_dict() for w in self.words]}
        if self.alternatives is not None:
            out["alternatives"] = [h.to_dict() for h in self.alternatives]
        return out


@dataclass(frozen=True)
class Ack(Event):
    """Audio up to ``offset`` is final: nothing before it will be revised, and ``segment`` is the
    number of the next final. Sent only in sessions opened with a ``resume`` point.

    ``offset`` counts sample frames of the client's audio at its declared rate, from the start of
    the first session of the stream (a resumed session continues the count). A client keeps the
    audio after the last ``offset`` and, should the connection break, opens a new session with
    ``"resume": {"offset": ..., "segment": ...}`` and sends that audio again.
    """

    type: ClassVar[str] = "ack"
    offset: int
    segment: int


@dataclass(frozen=True)
class Lag(Event):
    """Recognition is behind real time: audio was recognized ``seconds`` after it was live."""

    type: ClassVar[str] = "lag"
    seconds: float


@dataclass(frozen=True)
class ErrorEvent(Event):
    """Something the client sent was refused; ``code`` is one of ``protocol.ERROR_CODES``."""

    type: ClassVar[str] = "error"
    code: str
    message: str


@dataclass(frozen=True)
class Done(Event):
    """Everything the client sent was recognized and its events sent; the server closes next.

    After ``eof`` (then 1000) and on shutdown (then 1001).
    """

    type: ClassVar[str] = "done"


@dataclass(frozen=True)
class AudioFormat:
    """How the binary messages of a session are encoded."""

    sample_rate: int = DEFAULT_SAMPLE_RATE
    encoding: str = DEFAULT_ENCODING
    channels: int = 1


def _short(number: int) -> str:
    """An int for an error message, however many digits a client sent."""
    return str(number) if abs(number) < 10**12 else f"a {len(str(abs(number)))}-digit number"


def _check_rate(rate: int | None) -> None:
    if rate is not None and not MIN_RATE <= rate <= MAX_RATE:
        raise ProtocolError(
            "bad_config", f"unsupported sample_rate {_short(rate)} Hz; supported: {MIN_RATE}-{MAX_RATE} Hz"
        )


@dataclass(frozen=True)
class Config(Message):
    """How the client's audio is encoded, before any audio; every field is optional.
    May carry the ``token`` (browsers cannot set an Authorization header). ``resume`` continues an
    earlier session's stream from its last ``ack`` (and asks for ``ack`` events)."""

    type: ClassVar[str] = "config"
    refusal: ClassVar[str] = "bad_config"
    sample_rate: int = DEFAULT_SAMPLE_RATE
    encoding: str = DEFAULT_ENCODING
    channels: int = 1
    token: str | None = None
    resume: Resume | None = None
    hotwords: tuple[Hotword, ...] = ()

    def __post_init__(self) -> None:
        super().__post_init__()
        _check_rate(self.sample_rate)
        if self.encoding not in ENCODINGS:
            raise ProtocolError(
                "bad_config", f"unknown encoding {self.encoding!r}; expected one of {sorted(ENCODINGS)}"
            )
        if not 1 <= self.channels <= MAX_WIRE_CHANNELS:
            raise ProtocolError("bad_config", f"channels must be 1 to {MAX_WIRE_CHANNELS}, got {_short(self.channels)}")

    @property
    def format(self) -> AudioFormat:
        return AudioFormat(self.sample_rate, self.encoding, self.channels)


@dataclass(frozen=True)
class Auth(Message):
    """The token, for browsers, which cannot set an Authorization header."""

    type: ClassVar[str] = "auth"
    token: str


@dataclass(frozen=True)
class Finalize(Message):
    """End the current segment now."""

    type: ClassVar[str] = "finalize"


@dataclass(frozen=True)
class Eof(Message):
    """No more audio: send the remaining finals, then done, then close."""

    type: ClassVar[str] = "eof"


ClientMessage = Config | Auth | Finalize | Eof
NATIVE: dict[str, type[Message]] = {
    cls.type: cls for cls in (Ready, Partial, Final, Ack, Lag, ErrorEvent, Done, Config, Auth, Finalize, Eof)
}
CLIENT_TYPES = (Config, Auth, Finalize, Eof)


# ----- the Vosk dialect --------------------------------------------------------------------------


@dataclass(frozen=True)
class VoskMessage(_Checked):
    """A message of the Vosk dialect: keyed JSON objects without a ``"type"``."""

    def to_dict(self) -> dict[str, Any]:
        return self._fields_dict()

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), ensure_ascii=False)


MAX_PHRASES = 1_000  # phrases in a Vosk phrase_list: the grammar's search grows with their letters
MAX_PHRASE_CHARS = 100  # characters in one phrase
# Characters of a whole phrase_list: a final's search keeps a byte per state (two per letter) per frame
# of its segment (10 MB for a 20 s segment at this bound), and each frame of a session's searches costs
# in proportion to them (docs/performance.md, "Phrase lists").
MAX_PHRASE_LIST_CHARS = 5_000
MAX_ALTERNATIVES = 10  # most alternatives a Vosk client may ask for per result


@dataclass(frozen=True)
class VoskConfig(VoskMessage):
    """``{"config": {"sample_rate": 8000, "words": true, "phrase_list": [...], "max_alternatives": 3}}``;
    other Vosk keys are accepted and ignored.

    ``phrase_list`` restricts results to those phrases (``"[unk]"`` among them stands for speech
    that fits none); ``max_alternatives`` (0 = off) turns results into n-best lists."""

    refusal: ClassVar[str] = "bad_config"
    sample_rate: int | None = None
    words: bool | None = None
    token: str | None = None
    phrase_list: tuple[str, ...] | None = None
    max_alternatives: int | None = None

    def __post_init__(self) -> None:
        super().__post_init__()
        _check_rate(self.sample_rate)
        if self.phrase_list is not None:
            if not 1 <= len(self.phrase_list) <= MAX_PHRASES:
                raise ProtocolError(
                    self.refusal, f'"phrase_list" must hold 1 to {MAX_PHRASES} phrases, got {len(self.phrase_list)}'
                )
            for phrase in self.phrase_list:
                if not phrase.split():
                    raise ProtocolError(self.refusal, '"phrase_list" holds an empty phrase')
                if len(phrase) > MAX_PHRASE_CHARS:
                    raise ProtocolError(
                        self.refusal,
                        f'"phrase_list" phrases are at most {MAX_PHRASE_CHARS} characters, got {len(phrase)}',
                    )
            if (total := sum(len(p) for p in self.phrase_list)) > MAX_PHRASE_LIST_CHARS:
                raise ProtocolError(
                    self.refusal, f'"phrase_list" holds at most {MAX_PHRASE_LIST_CHARS} characters in all, got {total}'
                )
        if self.max_alternatives is not None and not 0 <= self.max_alternatives <= MAX_ALTERNATIVES:
            raise ProtocolError(
                self.refusal, f'"max_alternatives" must be 0 to {MAX_ALTERNATIVES}, got {_short(self.max_alternatives)}'
            )

    def to_dict(self) -> dict[str, Any]:
        return {"config": self._fields_dict()}


@dataclass(frozen=True)
class VoskEof(VoskMessage):
    """``{"eof": 1}``: no more audio; the last result comes, then the close."""

    def to_dict(self) -> dict[str, Any]:
        return {"eof": 1}


@dataclass(frozen=True)
class VoskReset(VoskMessage):
    """``{"reset": 1}``: end the current utterance now (replies with its result)."""

    def to_dict(self) -> dict[str, Any]:
        return {"reset": 1}


@dataclass(frozen=True)
class VoskPartial(VoskMessage):
    """``{"partial": "hello wor"}``, with ``"lag"`` in seconds while recognition is behind."""

    partial: str
    lag: float | None = None


@dataclass(frozen=True)
class VoskResult(VoskMessage):
    """``{"result": [{"conf", "end", "start", "word"}, ...], "text": ...}``: an utterance ended.
    ``words`` is None when the client turned word timings off; ``lag`` as in ``VoskPartial``."""

    text: str
    words: tuple[WordTiming, ...] | None = None
    lag: float | None = None

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        if self.words is not None:
            out["result"] = [{"conf": w.confidence, "end": w.end, "start": w.start, "word": w.word} for w in self.words]
        out["text"] = self.text
        if self.lag is not None:
            out["lag"] = self.lag
        return out

    @classmethod
    def from_dict(cls, data: Any, code: str | None = None) -> VoskResult:
        result = data.get("result")
        if result is not None:
            if not isinstance(result, list) or not all(isinstance(w, dict) for w in result):
                raise ProtocolError("bad_message", f'"result" must be an array of words, got {json_type(result)}')
            keys = {"word": "word", "start": "start", "end": "end", "confidence": "conf"}
            result = [{name: w[key] for name, key in keys.items() if key in w} for w in result]
        return super().from_dict({"text": data.get("text"), "words": result, "lag": data.get("lag")}, code)


@dataclass(frozen=True)
class VoskAlternatives(VoskMessage):
    """``{"alternatives": [{"confidence": -3.4, "result": [{"end", "start", "word"}, ...], "text": ...}, ...]}``:
    an utterance ended, in a session with ``max_alternatives``. Best first; ``confidence`` is the log
    score of each (higher is better). ``"result"`` is there when the client wants word timings
    (``words``) and the text has words; ``lag`` as in ``VoskPartial``."""

    alternatives: tuple[Hypothesis, ...]
    words: bool = True
    lag: float | None = None

    def to_dict(self) -> dict[str, Any]:
        entries = []
        for h in self.alternatives:
            entry: dict[str, Any] = {"confidence": h.confidence}
            if self.words and h.words:  # as Vosk: an empty text has no "result"
                entry["result"] = [{"end": w.end, "start": w.start, "word": w.word} for w in h.words]
            entry["text"] = h.text
            entries.append(entry)
        out: dict[str, Any] = {"alternatives": entries}
        if self.lag is not None:
            out["lag"] = self.lag
        return out

    @classmethod
    def from_dict(cls, data: Any, code: str | None = None) -> VoskAlternatives:
        entries = data.get("alternatives")
        if not isinstance(entries, list) or not all(isinstance(e, dict) for e in entries):
            raise ProtocolError("bad_message", f'"alternatives" must be an array of objects, got {json_type(entries)}')
        words = any("result" in e for e in entries) or not entries
        hypotheses = [
            {
                "text": e.get("text"),
                "confidence": e.get("confidence"),
                "words": [{**w, "confidence": 1.0} if isinstance(w, dict) else w for w in e.get("result", [])],
            }
            for e in entries
        ]
        return super().from_dict({"alternatives": hypotheses, "words": words, "lag": data.get("lag")}, code)


@dataclass(frozen=True)
class VoskError(VoskMessage):
    """``{"error": "...", "code": "bad_audio"}``: the one reply to a refused message (Vosk has none)."""

    error: str
    code: str


VOSK_CLIENT_TYPES = (VoskConfig, VoskEof, VoskReset)


def _vosk_from_dict(data: dict[str, Any]) -> VoskMessage:
    """Vosk messages are told apart by their keys, in this order."""
    if "config" in data:
        if not isinstance(data["config"], dict):
            raise ProtocolError("bad_message", f'"config" must be a JSON object, got {json_type(data["config"])}')
        return VoskConfig.from_dict(data["config"])
    if _flag(data, "eof"):
        return VoskEof()
    if _flag(data, "reset"):
        return VoskReset()
    if "partial" in data:
        return VoskPartial.from_dict(data)
    if "alternatives" in data:
        return VoskAlternatives.from_dict(data)
    if "text" in data:
        return VoskResult.from_dict(data)
    if "error" in data:
        return VoskError.from_dict(data)
    raise ProtocolError("bad_message", 'expected {"config": {...}}, {"eof": 1} or {"reset": 1}')


VoskClientMessage = VoskConfig | VoskEof | VoskReset


def _flag(data: dict[str, Any], key: str) -> bool:
    """A Vosk command key (``"eof": 1``): set when truthy; a non-finite number is refused."""
    value = data.get(key)
    if isinstance(value, float) and not math.isfinite(value):
        raise ProtocolError("bad_message", f'"{key}" must be a finite number, got {value}')
    return bool(value)


# ----- reading -----------------------------------------------------------------------------------


def from_json(text: str | bytes, dialect: str = "native") -> Message | VoskMessage:
    """Read any message of ``dialect`` (``"native"`` or ``"vosk"``) from its JSON text.

    Bounded and checked: raises ``ProtocolError`` (a ``ValueError``) with the error code the server
    answers it with for text that is too long or too deep, not a JSON object, of unknown type, with a
    missing field, a field of the wrong type, a non-finite number or a lone surrogate.
    """
    data = load_json(text)
    if dialect == "vosk":
        return _vosk_from_dict(data)
    if dialect != "native":
        raise ValueError(f"dialect must be 'native' or 'vosk', not {dialect!r}")
    kind = data.get("type")
    if not isinstance(kind, str) or kind not in NATIVE:
        shown = repr(kind) if isinstance(kind, str) else json_type(kind)
        raise ProtocolError("bad_message", f"unknown message type {shown}; expected one of {', '.join(NATIVE)}")
    return NATIVE[kind].from_dict(data)


def parse_native(text: str | bytes) -> ClientMessage:
    """A client's text message in the native protocol; ``ProtocolError`` with its error code."""
    message = from_json(text)
    if not isinstance(message, CLIENT_TYPES):
        raise ProtocolError(
            "bad_message", f"{message.type!r} is a server event; clients send config, auth, finalize or eof"
        )
    return message


def parse_vosk(text: str | bytes) -> VoskClientMessage:
    """A client's text message in the Vosk dialect (any spacing); ``ProtocolError``."""
    message = from_json(text, "vosk")
    if not isinstance(message, VOSK_CLIENT_TYPES):
        raise ProtocolError("bad_message", 'expected {"config": {...}}, {"eof": 1} or {"reset": 1}')
    return message


def parse_event(text: str | bytes) -> Event:
    """A server's message in the native protocol (what clients read)."""
    message = from_json(text)
    if not isinstance(message, Event):
        raise ProtocolError("bad_message", f"{message.type!r} is a client message, not a server event")
    return message
