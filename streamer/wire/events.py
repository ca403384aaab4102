"""Transcript events: what the recognizer emits and what goes over the wire.

Torch-free on purpose: remote clients import this module without the model.
Each event is a small frozen dataclass; ``to_json()`` adds a ``"type"`` field and
``from_json()`` reads one back (for any event type).
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from typing import Any, ClassVar

__all__ = ["Event", "Final", "Partial", "WordTiming", "event_from_dict", "event_from_json"]


@dataclass(frozen=True)
class WordTiming:
    """A word of a final: ``start``/``end`` in seconds of stream time (20 ms steps)."""

    word: str
    start: float
    end: float
    confidence: float


@dataclass(frozen=True)
class Event:
    type: ClassVar[str] = "event"

    def to_dict(self) -> dict[str, Any]:
        return {"type": self.type, **asdict(self)}

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), ensure_ascii=False, separators=(",", ":"))

    @staticmethod
    def from_json(text: str | bytes) -> Event:
        return event_from_json(text)


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
    """A finished segment: its text, its span in stream seconds and its words."""

    type: ClassVar[str] = "final"
    segment: int
    text: str
    start: float
    end: float
    words: tuple[WordTiming, ...] = field(default_factory=tuple)

    def to_dict(self) -> dict[str, Any]:
        out = super().to_dict()
        out["words"] = [asdict(w) for w in self.words]
        return out


EVENT_TYPES: dict[str, type[Event]] = {cls.type: cls for cls in (Partial, Final)}


def event_from_dict(data: dict[str, Any]) -> Event:
    """Rebuild an event from its wire form; unknown types are a ValueError."""
    kind = data.get("type")
    if kind not in EVENT_TYPES:
        raise ValueError(f"unknown event type {kind!r}; expected one of {sorted(EVENT_TYPES)}")
    fields_ = {k: v for k, v in data.items() if k != "type"}
    if kind == "final":
        fields_["words"] = tuple(WordTiming(**w) for w in fields_.get("words", ()))
    return EVENT_TYPES[kind](**fields_)


def event_from_json(text: str | bytes) -> Event:
    return event_from_dict(json.loads(text))
