"""Write transcript events as text, JSON lines, SRT or WebVTT captions, or a live terminal line.

Torch-free. One writer per stream of events: ``begin()``, ``write(event)`` for each
event as it comes, ``end()``. Writers flush after every line so that a pipe or a
file being watched sees captions while they are made.

Captions are built from finals only. A final longer than a readable caption is cut
at word boundaries using its word timestamps, so each cue holds at most
``max_lines`` lines of ``max_line_chars`` characters and lasts at most
``max_seconds`` (a single word longer than a line, or a single word slower than
``max_seconds``, still gets a cue of its own: words are never split).
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TextIO

from streamer.wire.events import Event, Final, Partial, WordTiming

__all__ = [
    "FORMATS",
    "CaptionLimits",
    "Cue",
    "EventWriter",
    "JsonlWriter",
    "LiveDisplay",
    "SrtWriter",
    "TextWriter",
    "VttWriter",
    "caption_cues",
    "format_timestamp",
    "make_writer",
    "wrap_words",
]

FORMATS = ("text", "jsonl", "srt", "vtt")
ELLIPSIS = "…"
DIM, RESET = "\033[2m", "\033[0m"  # ANSI faint text, and back to normal
CLEAR_LINE = "\r\033[K"  # carriage return, then erase to the end of the line
MIN_TERMINAL_COLUMNS = 10


@dataclass(frozen=True)
class CaptionLimits:
    """How much text one caption may hold, and for how long."""

    max_line_chars: int = 42  # the usual broadcast limit for Latin scripts (BBC, Netflix)
    max_lines: int = 2  # two lines cover the lower third without hiding the picture
    max_seconds: float = 6.0  # longer cues feel stuck; viewers read ~17 characters per second

    def __post_init__(self) -> None:
        if self.max_line_chars < 1 or self.max_lines < 1 or self.max_seconds <= 0:
            raise ValueError(f"caption limits must be positive, got {self}")


@dataclass(frozen=True)
class Cue:
    """One caption: its span in stream seconds and its lines."""

    start: float
    end: float
    lines: tuple[str, ...]

    @property
    def text(self) -> str:
        return " ".join(self.lines)


def wrap_words(words: Sequence[str], max_chars: int) -> list[str]:
    """Break words into the fewest lines of at most ``max_chars``; two lines are balanced.

    A word longer than ``max_chars`` gets a line of its own (it is never split).
    """
    lines: list[str] = []
    for word in words:
        if lines and len(lines[-1]) + 1 + len(word) <= max_chars:
            lines[-1] += " " + word
        else:
            lines.append(word)
    if len(lines) == 2:
        # Greedy filling leaves a long first line and a short second one; a balanced pair reads better.
        best = lines
        for cut in range(1, len(words)):
            pair = [" ".join(words[:cut]), " ".join(words[cut:])]
            if max(map(len, pair)) < max(map(len, best)):
                best = pair
        lines = best
    return lines


def caption_cues(final: Final, limits: CaptionLimits | None = None) -> list[Cue]:
    """Cut one final into cues that respect ``limits``, at word boundaries, timed by its words."""
    limits = limits or CaptionLimits()
    words = list(final.words) or _spread_words(final)
    cues: list[Cue] = []
    group: list[WordTiming] = []

    def fits(candidate: list[WordTiming]) -> bool:
        lines = wrap_words([w.word for w in candidate], limits.max_line_chars)
        too_long = len(lines) > limits.max_lines or any(len(line) > limits.max_line_chars for line in lines)
        return not too_long and candidate[-1].end - candidate[0].start <= limits.max_seconds

    def close_group() -> None:
        lines = wrap_words([w.word for w in group], limits.max_line_chars)
        cues.append(Cue(group[0].start, max(group[-1].end, group[0].start + 0.001), tuple(lines)))

    for word in words:
        if group and not fits([*group, word]):
            close_group()
            group = []
        group.append(word)
    if group:
        close_group()
    return cues


def _spread_words(final: Final) -> list[WordTiming]:
    """A final without word timings (an older server): spread its words evenly over its span."""
    texts = final.text.split()
    if not texts:
        return []
    step = max(final.end - final.start, 0.0) / len(texts)
    return [WordTiming(t, final.start + i * step, final.start + (i + 1) * step, 1.0) for i, t in enumerate(texts)]


def format_timestamp(seconds: float, decimal: str = ".") -> str:
    """``HH:MM:SS.mmm`` (WebVTT) or, with ``decimal=","``, ``HH:MM:SS,mmm`` (SRT)."""
    millis = max(0, round(seconds * 1000))
    hours, millis = divmod(millis, 3_600_000)
    minutes, millis = divmod(millis, 60_000)
    secs, millis = divmod(millis, 1000)
    return f"{hours:02d}:{minutes:02d}:{secs:02d}{decimal}{millis:03d}"


class EventWriter:
    """Writes one stream's events to ``out`` in one format."""

    def __init__(self, out: TextIO) -> None:
        self.out = out

    def begin(self) -> None:
        """Start of the stream (headers)."""

    def write(self, event: Event) -> None:
        raise NotImplementedError

    def end(self) -> None:
        """End of the stream (trailers, clearing a live line)."""

    def _emit(self, text: str) -> None:
        self.out.write(text)
        self.out.flush()


class JsonlWriter(EventWriter):
    """Every event, one per line, exactly as on the wire (``event.to_json()``)."""

    def write(self, event: Event) -> None:
        self._emit(event.to_json() + "\n")


class TextWriter(EventWriter):
    """The text of each final on a line of its own; partials are not written."""

    def write(self, event: Event) -> None:
        if isinstance(event, Final):
            self._emit(event.text + "\n")


class SrtWriter(EventWriter):
    """SubRip captions: numbered cues, ``HH:MM:SS,mmm --> HH:MM:SS,mmm``, a blank line after each."""

    decimal = ","

    def __init__(self, out: TextIO, limits: CaptionLimits | None = None) -> None:
        super().__init__(out)
        self.limits = limits or CaptionLimits()
        self.cues = 0  # cues written so far

    def write(self, event: Event) -> None:
        if isinstance(event, Final):
            for cue in caption_cues(event, self.limits):
                self.cues += 1
                self._emit(self._cue_text(cue))

    def _cue_text(self, cue: Cue) -> str:
        timing = f"{format_timestamp(cue.start, self.decimal)} --> {format_timestamp(cue.end, self.decimal)}"
        return f"{self.cues}\n{timing}\n" + "\n".join(cue.lines) + "\n\n"


class VttWriter(SrtWriter):
    """WebVTT captions: the ``WEBVTT`` header, then cues timed ``HH:MM:SS.mmm --> HH:MM:SS.mmm``."""

    decimal = "."

    def begin(self) -> None:
        self._emit("WEBVTT\n\n")

    def _cue_text(self, cue: Cue) -> str:
        timing = f"{format_timestamp(cue.start, self.decimal)} --> {format_timestamp(cue.end, self.decimal)}"
        return f"{timing}\n" + "\n".join(cue.lines) + "\n\n"


class LiveDisplay(EventWriter):
    """A terminal view: the current partial redrawn in place, its unstable tail dimmed; finals on their own lines.

    Args:
        out: a terminal.
        color: dim the unstable tail with ANSI (off when ``NO_COLOR`` is set, by default).
        columns: the terminal's width (asked of the terminal each time by default). A partial
            longer than one line shows its end, so a carriage return can always redraw it.
    """

    def __init__(self, out: TextIO, color: bool | None = None, columns: Callable[[], int] | None = None) -> None:
        super().__init__(out)
        self.color = not os.environ.get("NO_COLOR") if color is None else color
        self.columns = columns or (lambda: shutil.get_terminal_size().columns)
        self.showing = False  # a partial is on the current line

    def write(self, event: Event) -> None:
        if isinstance(event, Partial):
            self._emit(CLEAR_LINE + self._fit(event.stable, event.unstable))
            self.showing = bool(event.text)
        elif isinstance(event, Final):
            self._emit(CLEAR_LINE + event.text + "\n")
            self.showing = False

    def end(self) -> None:
        if self.showing:
            self._emit(CLEAR_LINE)
            self.showing = False

    def _fit(self, stable: str, unstable: str) -> str:
        room = max(self.columns(), MIN_TERMINAL_COLUMNS) - 1  # the last column would wrap the cursor
        if len(stable) + len(unstable) > room:
            keep = room - len(ELLIPSIS)
            unstable = unstable[-keep:]
            stable = ELLIPSIS + (stable[len(stable) - (keep - len(unstable)) :] if keep > len(unstable) else "")
        if self.color and unstable:
            return stable + DIM + unstable + RESET
        return stable + unstable


WRITERS: dict[str, type[EventWriter]] = {
    "text": TextWriter,
    "jsonl": JsonlWriter,
    "srt": SrtWriter,
    "vtt": VttWriter,
}


def make_writer(fmt: str, out: TextIO) -> EventWriter:
    """The writer for one of ``FORMATS``."""
    if fmt not in WRITERS:
        raise ValueError(f"unknown output format {fmt!r}; choose one of {', '.join(FORMATS)}")
    return WRITERS[fmt](out)
