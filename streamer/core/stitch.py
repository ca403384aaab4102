"""Stitch per-window CTC frame ids into segments; decide where segments end.

Pure and synchronous: it sees only frame ids and their probabilities, and runs no model. The
recognizer commits the frames that have full lookahead and shows the rest as tentative.
Partials are read from the segment's frame ids as a whole, so a letter whose run crosses a
window boundary collapses once, and a real double letter (two runs with a blank between)
stays double. A segment that ends is not decoded here: the stitcher hands back a
``SegmentEnd`` (which frames, with the windows' ids), and whoever owns the model decodes its
final (``streamer.core.recognizer``), when and in which batch it chooses.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from model.vocab import Decoded, Vocabulary, collapse
from streamer.core.config import StreamingConfig
from streamer.wire.events import Event, Final, Hypothesis, Partial, WordTiming

__all__ = ["SegmentEnd", "Stitcher", "final_event", "word_timings"]

# Silence after a word's last letter that shows it is over, in 20 ms frames (0.3 s): longer than
# the blank runs between the letters of one word, so ``finalize`` does not cut a word in two.
WORD_PAUSE_FRAMES = 15
# Frames of the lookahead kept out of an early endpoint (``Stitcher.pause_ahead``), 0.2 s: the newest
# frames of a window are the ones a word just beginning may still decode as blank.
PAUSE_MARGIN_FRAMES = 10
# How much later than the windows' word boundary a finalize may end the segment at the final pass's
# own word boundary (0.2 s): the cut left the final pass at least 2 s of audio after it.
BOUNDARY_AHEAD_FRAMES = 10


@dataclass(frozen=True)
class SegmentEnd:
    """A segment with speech that the stitcher ended: its final is still to be decoded.

    Not an event: the one that owns the model turns it into a ``Final`` (see
    ``Recognizer.settle``), and drops it when the decoded text is empty.
    """

    segment: int  # the number its final carries
    start: int  # stream frame of its first frame
    stop: int  # stream frame just after its last frame
    utterance: int  # stream frame where its utterance began: the history a final pass may decode with
    ids: tuple[int, ...]  # the windows' frame ids of [start, stop)
    probs: tuple[float, ...]  # and their probabilities


class Stitcher:
    """Committed and tentative frame ids of the current segment, turned into events.

    Methods that can end a segment return ``SegmentEnd`` values among the events, in order.
    """

    def __init__(self, vocab: Vocabulary, config: StreamingConfig, partials: Any = None) -> None:
        self.vocab = vocab
        self.config = config
        # What restricts the partials' words (a decoder's ``partial_search()``, e.g. a phrase grammar's);
        # None: partials show the frames' best tokens.
        self.partials = partials
        self.segment = 0
        self.start = 0  # stream frame of the segment's first committed frame
        # Stream frame where the current utterance began: the stream's start or the first frame after a
        # pause that ended a segment. Segments cut inside speech (finalize, the longest segment) continue
        # it, and the final pass decodes them with the utterance's audio before them as history.
        self.utterance = 0
        self._after_pause = True  # the segment under way begins an utterance
        self.ids: list[int] = []
        self.probs: list[float] = []
        self._text = ("", "")  # vocab.extend_text state of self.ids, kept up to date so partials are cheap
        self.tentative_ids: list[int] = []
        self.tentative_probs: list[float] = []
        self.shown = ""  # text of the last partial sent in this segment
        self._silent = vocab.silent_ids | {vocab.delimiter_id}

    @property
    def end(self) -> int:
        """Stream frame just after the last committed frame."""
        return self.start + len(self.ids)

    def commit(self, ids: Sequence[int], probs: Sequence[float]) -> list[Event | SegmentEnd]:
        """Append frames that will not change; returns finals for segments this ends."""
        previous = self.ids[-1] if self.ids else None
        self.ids.extend(int(i) for i in ids)
        self._text = self.vocab.extend_text(self._text, collapse(self.ids[len(self.ids) - len(ids) :], previous))
        self.probs.extend(float(p) for p in probs)
        events: list[Event | SegmentEnd] = []
        if not self.has_speech():
            self._drop(len(self.ids))  # nothing said yet: keep no silence around
            return events
        first = len(self.ids) - len(ids)  # the frames just committed start here
        while (cut := self._endpoint(first)) is not None:  # a pause anywhere in them, not only at their end
            events += self._end_segment(cut, pause=True)
            first = 0
            if not self.has_speech():
                self._drop(len(self.ids))
                return events
        while len(self.ids) >= self.config.max_segment_frames and self.has_speech():
            events += self._end_segment(self._best_cut())
        return events

    def set_tentative(self, ids: Sequence[int], probs: Sequence[float]) -> None:
        """Frames still inside the lookahead: shown in partials, replaced by the next window."""
        self.tentative_ids = [int(i) for i in ids]
        self.tentative_probs = [float(p) for p in probs]

    def partial(self) -> list[Event]:
        """A partial when the segment's text changed since the last one sent, else nothing."""
        if self.partials is not None:
            text, stable = self._searched_text(), ""  # a search may revise any word: none is stable
        else:
            tentative = collapse(self.tentative_ids, self.ids[-1] if self.ids else None)
            text = self.vocab.state_text(self.vocab.extend_text(self._text, tentative))
            stable = self.vocab.state_text(self._text)
        if text == self.shown:
            return []
        if not text.startswith(stable):  # cannot happen for greedy CTC; never show a wrong split
            stable = ""
        self.shown = text
        return [Partial(self.segment, text, stable, text[len(stable) :])]

    def _searched_text(self) -> str:
        """The partial's text from ``partials``: committed frames are searched once, tentative ones each time."""
        search = self.partials
        if search.frames > len(self.ids):  # frames were dropped from the front: search the segment anew
            search.reset()
        search.commit(self.ids[search.frames :], self.probs[search.frames :])
        if not self.has_speech([*self.ids, *self.tentative_ids]):
            return ""
        return search.text(self.tentative_ids, self.tentative_probs)

    def flush(self) -> list[Event | SegmentEnd]:
        """Commit the tentative frames and end the segment (end of stream)."""
        self.ids.extend(self.tentative_ids)
        self.probs.extend(self.tentative_probs)
        self.tentative_ids, self.tentative_probs = [], []
        return self._end_segment(len(self.ids), pause=True)

    def end_at(self, count: int, speech: bool | None = None, pause: bool = False) -> list[Event | SegmentEnd]:
        """End the segment after its first ``count`` committed frames (``finalize``, or a pause the
        voice activity detector heard). The committed frames after them start the next segment as
        they are, and the tentative ones stay tentative, so the two segments say together what one
        would have said.

        ``speech``: whether those frames hold speech, when a final pass already said (its ids may
        hold a letter where the windows' do not); default: the windows' ids decide. ``pause``: a
        pause ended the segment, so the next one begins an utterance (no history before it)."""
        tentative = self.tentative_ids, self.tentative_probs
        events = self._end_segment(count, pause=pause, speech=speech)
        self.set_tentative(*tentative)
        return events + self.partial()

    def boundary_near(self, ids: Sequence[int], cut: int) -> int:
        """The cut nearest ``cut`` (at most ``BOUNDARY_AHEAD_FRAMES`` later) that splits no word of
        ``ids``: inside a silent run that holds a word delimiter or begins or ends them, else 0.

        A final pass may place letters a frame or two from where the windows did: ``finalize`` ends
        the segment at the word boundary of the final pass's own ids nearest its cut, so no word is
        split or lost."""
        best, n = 0, 0
        while n < len(ids):
            if ids[n] not in self._silent:
                n += 1
                continue
            end = n
            while end < len(ids) and ids[end] in self._silent:
                end += 1
            if n == 0 or end == len(ids) or self.vocab.delimiter_id in ids[n:end]:
                inside = min(max(cut, n), end)  # the run's cut nearest `cut`
                if inside <= cut + BOUNDARY_AHEAD_FRAMES and abs(inside - cut) < abs(best - cut):
                    best = inside
            n = end
        return best

    def pause_ahead(self) -> int:
        """How many of the tentative frames to commit now because they hold the pause that ends the
        segment: up to the end of ``endpoint_blank_frames`` silent frames after speech, when the
        window shows at least ``PAUSE_MARGIN_FRAMES`` more silence beyond them; else 0.

        Every frame before such a pause has a pause's worth of audio after it in the window, so its
        ids need no more lookahead, and the final comes a pause after the speech, not a pause plus
        the whole lookahead.
        """
        at = self._pause_reached(self.tentative_ids, self.config.endpoint_blank_frames + PAUSE_MARGIN_FRAMES)
        return 0 if at is None else max(0, at - PAUSE_MARGIN_FRAMES + 1)

    def word_cut(self, ids: Sequence[int], latest: int | None = None) -> int:
        """Where ``finalize`` may end the segment without cutting a word, as a count of frames of
        the committed ones followed by ``ids`` (the uncommitted ones, decoded up to the newest audio).

        Just after the last letter when speech has paused (``WORD_PAUSE_FRAMES`` silent frames
        after it). Else just after the last letter before the last committed word delimiter, so
        the word still being spoken goes whole to the next segment (0 when there is none). Silence
        after the cut goes along too: a word that has only just begun may decode as blank without
        the audio that follows. ``latest``: in speech, the cut comes at or before that many frames.
        """
        frames = [*self.ids, *(int(i) for i in ids)]
        letters = [n for n, i in enumerate(frames) if i not in self._silent]
        if not letters:
            return 0
        if len(frames) - 1 - letters[-1] >= WORD_PAUSE_FRAMES:
            return letters[-1] + 1
        last = len(self.ids) if latest is None else min(len(self.ids), latest)
        delimiters = [n for n, i in enumerate(self.ids[:last]) if i == self.vocab.delimiter_id]
        before = [n for n in letters if delimiters and n < delimiters[-1]]
        return before[-1] + 1 if before else 0

    def speech_end(self, ids: Sequence[int]) -> int:
        """The index in ``ids`` just after their last letter (0: none)."""
        for n in range(len(ids), 0, -1):
            if ids[n - 1] not in self._silent:
                return n
        return 0

    def has_speech(self, ids: Sequence[int] | None = None) -> bool:
        """Whether ``ids`` (default: the committed frames of the segment) hold a letter."""
        return any(i not in self._silent for i in (self.ids if ids is None else ids))

    def _pause_reached(self, ids: Sequence[int], length: int) -> int | None:
        """The index in ``ids`` (frames after the committed ones) of the frame with which a silent run
        after speech, counted on from the committed frames' trailing silence, reaches ``length``
        frames; None if none does. (No run of committed frames alone reaches an endpoint's length:
        it would have ended the segment.)"""
        spoken = self.has_speech()
        run = 0  # silent frames in a row, from the end of the committed ones
        while run < len(self.ids) and self.ids[len(self.ids) - 1 - run] in self._silent:
            run += 1
        for n, i in enumerate(ids):
            if i not in self._silent:
                spoken, run = True, 0
            elif spoken and (run := run + 1) >= length:
                return n
        return None

    def _endpoint(self, first: int) -> int | None:
        """Where the first pause of ``endpoint_blank_frames`` after speech that reaches that length
        at or after committed frame ``first`` ends (the next letter, or the end of the committed
        frames), or None. Pauses reaching it before ``first`` were found by earlier commits."""
        need = self.config.endpoint_blank_frames
        n = max(0, first - need)
        while n > 0 and self.ids[n - 1] in self._silent:  # from the start of the run under way
            n -= 1
        run = 0
        for n in range(n, len(self.ids)):
            if self.ids[n] in self._silent:
                run += 1
            elif run >= need and self.has_speech(self.ids[: n - run]):
                return n
            else:
                run = 0
        if run >= need and self.has_speech(self.ids[: len(self.ids) - run]):
            return len(self.ids)
        return None

    def _best_cut(self) -> int:
        """Where to cut an over-long segment: the middle of its longest silent run after speech."""
        silent = np.isin(np.asarray(self.ids), list(self._silent))
        best_len, best_cut = 0, len(self.ids)  # no silence at all: cut everything
        run_start = None
        for i, is_silent in enumerate([*silent.tolist(), False]):
            if is_silent and run_start is None:
                run_start = i
            elif not is_silent and run_start is not None:
                if run_start > 0 and i - run_start >= best_len:
                    best_len, best_cut = i - run_start, (run_start + i) // 2
                run_start = None
        return max(best_cut, 1)

    def _end_segment(self, cut: int, pause: bool = False, speech: bool | None = None) -> list[SegmentEnd]:
        """End the segment after frames ``[0, cut)``: a ``SegmentEnd`` when they hold speech (``speech``
        overrides the windows' ids); the rest start the next segment, a new utterance when ``pause``
        ended this one."""
        ids, probs = self.ids[:cut], self.probs[:cut]
        ended: list[SegmentEnd] = []
        if self.has_speech(ids) if speech is None else speech and cut > 0:
            ended.append(SegmentEnd(self.segment, self.start, self.start + cut, self.utterance, tuple(ids), tuple(probs)))
            self.segment += 1
        self._after_pause = pause
        self._drop(cut)
        self.tentative_ids, self.tentative_probs = [], []
        self.shown = ""
        return ended

    def retract(self, count: int) -> None:
        """``count`` of the segments ended last decoded to no text: their numbers go to the next ones."""
        self.segment -= count

    def _drop(self, count: int) -> None:
        self.start += count
        if self._after_pause:  # the silence before an utterance's first word is not its history
            self.utterance = self.start
        del self.ids[:count]
        del self.probs[:count]
        if self.partials is not None and count:
            self.partials.reset()
        self._text = self.vocab.extend_text(("", ""), collapse(self.ids))


def final_event(segment: int, decoded: Decoded, alternatives: tuple[Hypothesis, ...] | None = None) -> Final:
    """The ``Final`` of a decoded segment; with ``alternatives``, its n-best as well (best first)."""
    words = word_timings(decoded)
    return Final(segment, decoded.text, words[0].start, words[-1].end, words, alternatives)


def word_timings(decoded: Decoded) -> tuple[WordTiming, ...]:
    """A decoding's words, timed in stream seconds."""
    return tuple(WordTiming.at_frames(w.text, w.start, w.end, w.confidence) for w in decoded.words)
