"""Output writers: text, JSON lines, SRT and WebVTT captions, and the live terminal line (no model needed)."""

from __future__ import annotations

import io
import re

import pytest

from streamer.cli.captions import (
    DIM,
    RESET,
    CaptionLimits,
    LiveDisplay,
    caption_cues,
    format_timestamp,
    make_writer,
    wrap_words,
)
from streamer.wire.events import Final, Partial, WordTiming, from_json

SRT_TIMING = re.compile(r"^(\d\d):(\d\d):(\d\d),(\d\d\d) --> (\d\d):(\d\d):(\d\d),(\d\d\d)$")
VTT_TIMING = re.compile(r"^(\d\d):(\d\d):(\d\d)\.(\d\d\d) --> (\d\d):(\d\d):(\d\d)\.(\d\d\d)$")


def final_from_words(segment: int, words: list[str], start: float = 0.0, word_seconds: float = 0.4) -> Final:
    """A final whose words follow each other every ``word_seconds``."""
    timed = tuple(
        WordTiming(w, round(start + i * word_seconds, 2), round(start + i * word_seconds + 0.3, 2), 0.9)
        for i, w in enumerate(words)
    )
    return Final(segment, " ".join(words), timed[0].start, timed[-1].end, timed)


def parse_captions(text: str, vtt: bool) -> list[tuple[float, float, list[str]]]:
    """Parse SRT or WebVTT strictly enough to catch a malformed file; returns (start, end, lines) per cue."""
    timing = VTT_TIMING if vtt else SRT_TIMING
    if vtt:
        assert text.startswith("WEBVTT\n\n")
        text = text[len("WEBVTT\n\n") :]
    assert text == "" or text.endswith("\n\n")
    cues = []
    for number, block in enumerate(filter(None, text.split("\n\n")), 1):
        lines = block.split("\n")
        if not vtt:
            assert lines.pop(0) == str(number)
        match = timing.match(lines.pop(0))
        assert match, block
        h1, m1, s1, ms1, h2, m2, s2, ms2 = map(int, match.groups())
        start, end = h1 * 3600 + m1 * 60 + s1 + ms1 / 1000, h2 * 3600 + m2 * 60 + s2 + ms2 / 1000
        assert lines and all(lines)
        cues.append((start, end, lines))
    return cues


def test_timestamps_in_both_caption_dialects():
    """SRT uses a comma before the milliseconds, WebVTT a dot; hours roll over past 59 minutes."""
    assert format_timestamp(3723.456, ",") == "01:02:03,456"
    assert format_timestamp(3723.456) == "01:02:03.456"
    assert format_timestamp(0.0) == "00:00:00.000"
    assert format_timestamp(59.9996) == "00:01:00.000"


def test_two_lines_are_balanced():
    """A caption that needs two lines splits them evenly rather than filling the first to the brim."""
    words = "THE QUICK BROWN FOX JUMPS OVER THE LAZY DOG AND RUNS AWAY".split()
    lines = wrap_words(words, 42)
    assert len(lines) == 2 and all(len(line) <= 42 for line in lines)
    assert abs(len(lines[0]) - len(lines[1])) <= 6
    assert " ".join(lines) == " ".join(words)


def test_long_final_is_split_at_words_within_limits():
    """A long final becomes several cues of at most 2 x 42 characters and 6 s, with the words' times, in order."""
    words = ("IT WILL BE CLOUDY IN THE MORNING WITH LIGHT RAIN AFTER LUNCH " * 4).split()
    final = final_from_words(3, words, start=12.0)
    cues = caption_cues(final)
    assert len(cues) > 1
    assert " ".join(c.text for c in cues) == final.text
    for cue in cues:
        assert len(cue.lines) <= 2 and all(len(line) <= 42 for line in cue.lines)
        assert 0 < cue.end - cue.start <= 6.0
    starts = [c.start for c in cues]
    assert starts == sorted(starts) and cues[0].start == final.start and cues[-1].end == final.end
    assert all(a.end <= b.start for a, b in zip(cues, cues[1:]))


def test_slow_speech_is_split_by_duration():
    """Few words spread over a long time are cut by the 6 s limit even though they would fit on one line."""
    final = final_from_words(0, ["SO", "WELL", "THEN", "OKAY", "YES"], word_seconds=2.0)
    cues = caption_cues(final)
    assert len(cues) >= 2 and all(c.end - c.start <= 6.0 for c in cues)


def test_word_longer_than_a_line_gets_its_own_cue():
    """A word longer than the line limit is never cut in the middle."""
    final = final_from_words(0, ["A", "SUPERCALIFRAGILISTICEXPIALIDOCIOUS", "B"])
    cues = caption_cues(final, CaptionLimits(max_line_chars=10))
    assert [c.text for c in cues] == ["A", "SUPERCALIFRAGILISTICEXPIALIDOCIOUS", "B"]


def test_final_without_word_timings_still_captions():
    """A final with no word timings (an older producer) is spread evenly over its span."""
    final = Final(0, "HELLO THERE", 1.0, 2.0)
    (cue,) = caption_cues(final)
    assert (cue.start, cue.end, cue.text) == (1.0, 2.0, "HELLO THERE")


@pytest.mark.parametrize("fmt", ["srt", "vtt"])
def test_caption_files_are_well_formed(fmt):
    """Numbered (SRT) or headed (WebVTT) cues, increasing times, text equal to the finals; partials ignored."""
    finals = [
        final_from_words(0, ("GOOD MORNING HERE IS THE WEATHER FOR TODAY " * 3).split(), start=0.3),
        final_from_words(1, "TOMORROW WILL BE SUNNY".split(), start=20.0),
    ]
    out = io.StringIO()
    writer = make_writer(fmt, out)
    writer.begin()
    writer.write(Partial(0, "GOOD MORNING", "GOOD", " MORNING"))
    for final in finals:
        writer.write(final)
    writer.end()
    cues = parse_captions(out.getvalue(), vtt=fmt == "vtt")
    assert len(cues) >= 3
    assert " ".join(" ".join(lines) for _, _, lines in cues) == " ".join(f.text for f in finals)
    times = [t for start, end, _ in cues for t in (start, end)]
    assert times == sorted(times) and all(end > start for start, end, _ in cues)


def test_empty_vtt_still_has_its_header():
    """A recording with nothing said still gives a valid (empty) WebVTT file."""
    out = io.StringIO()
    writer = make_writer("vtt", out)
    writer.begin()
    writer.end()
    assert out.getvalue() == "WEBVTT\n\n"


def test_text_and_jsonl_writers():
    """text prints one final per line; jsonl prints every event exactly as its to_json()."""
    events = [Partial(0, "HELLO", "HEL", "LO"), final_from_words(0, ["HELLO", "WORLD"])]
    text, lines = io.StringIO(), io.StringIO()
    for fmt, out in (("text", text), ("jsonl", lines)):
        writer = make_writer(fmt, out)
        for event in events:
            writer.write(event)
    assert text.getvalue() == "HELLO WORLD\n"
    assert lines.getvalue().splitlines() == [e.to_json() for e in events]
    assert [from_json(line) for line in lines.getvalue().splitlines()] == events


def test_unknown_format_names_the_choices():
    """Asking for a format that does not exist lists the ones that do."""
    with pytest.raises(ValueError, match="text, jsonl, srt, vtt"):
        make_writer("docx", io.StringIO())


def test_live_display_redraws_partial_and_dims_unstable_tail():
    """The partial is redrawn over itself with its unstable end dimmed; a final ends the line."""
    out = io.StringIO()
    live = LiveDisplay(out, color=True, columns=lambda: 80)
    live.write(Partial(0, "HELLO WOR", "HELLO ", "WOR"))
    live.write(Partial(0, "HELLO WORLD", "HELLO WORLD", ""))
    live.write(final_from_words(0, ["HELLO", "WORLD"]))
    live.end()
    assert out.getvalue() == (
        f"\r\033[KHELLO {DIM}WOR{RESET}" "\r\033[KHELLO WORLD" "\r\033[KHELLO WORLD\n"
    )  # fmt: skip


def test_live_display_keeps_long_partials_on_one_line():
    """A partial wider than the terminal shows its end, so the carriage return can still redraw it."""
    out = io.StringIO()
    live = LiveDisplay(out, color=False, columns=lambda: 20)
    stable, unstable = "A" * 30 + " ", "BCD"
    live.write(Partial(0, stable + unstable, stable, unstable))
    shown = out.getvalue().removeprefix("\r\033[K")
    assert len(shown) == 19 and shown.startswith("…") and shown.endswith("A BCD")
    live.end()
    assert out.getvalue().endswith("\r\033[K")  # the unfinished partial is wiped at the end
