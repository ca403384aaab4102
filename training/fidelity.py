"""How faithful a stream is: short utterances each streamed alone, and ``finalize`` at random points.

Shared by the tests (which assert the bounds) and ``bench/bench_streaming.py`` (which records them).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from streamer import Final, Recognizer, StreamingConfig
from training.metrics import cer, edit_distance

__all__ = ["CutReport", "finalize_cuts", "finals_text", "short_streams", "word_deletions"]

LEAD_SAMPLES = 4_000  # 0.25 s of silence before each clip, so a cut can fall on the first word's very start


def finals_text(events) -> str:
    """The text of the ``Final`` events among ``events``, joined by spaces."""
    return " ".join(e.text for e in events if isinstance(e, Final))


def short_streams(model, clips: list[np.ndarray], config: StreamingConfig | None = None) -> list[str]:
    """Each clip its own fresh stream, in one block: the text of its finals."""
    texts = []
    for clip in clips:
        recognizer = Recognizer(model, config)
        texts.append(finals_text(recognizer.accept(clip) + recognizer.close()))
    return texts


@dataclass
class CutReport:
    """What ``finalize`` at random points inside speech did to the joined finals."""

    cuts: int = 0
    edits: float = 0.0  # characters edited, against the uncut streams' finals
    characters: int = 0  # of the uncut streams' finals
    lost: list[str] = field(default_factory=list)  # "uncut -> joined" where a word went missing (deleted)

    def add(self, uncut: str, joined: str, points: list[int]) -> None:
        """Count one stream: its finals ``uncut`` and, with ``finalize`` at ``points``, ``joined``."""
        if word_deletions(uncut.split(), joined.split()):
            self.lost.append(f"{uncut!r} cut at {points} -> {joined!r}")
        self.edits += cer([uncut], [joined]) * len(uncut)
        self.characters += len(uncut)
        self.cuts += len(points)

    @property
    def difference(self) -> float:
        """Share of the uncut streams' characters that the cuts changed."""
        return self.edits / max(1, self.characters)


def word_deletions(ref: list[str], hyp: list[str]) -> int:
    """Words of ``ref`` that an alignment with the fewest edits deletes (of equally short alignments,
    the one with the fewest deletions). A word whose letters changed is substituted, not deleted, and
    two words run together (their letters all there, at most one more: ``WANT ET`` -> ``WANTHET``) are
    merged, not deleted."""
    # Each cell: (edits, deletions) of aligning ref[:i] with hyp[:j], compared as tuples.
    rows = [[(j, 0) for j in range(len(hyp) + 1)]]
    for i, r in enumerate(ref, 1):
        previous, current = rows[-1], [(i, i)]
        for j, h in enumerate(hyp, 1):
            options = [
                (previous[j][0] + 1, previous[j][1] + 1),  # r deleted
                (current[j - 1][0] + 1, current[j - 1][1]),  # h inserted
                (previous[j - 1][0] + (r != h), previous[j - 1][1]),  # kept or substituted
            ]
            if i >= 2 and _merged(ref[i - 2] + r, h):
                options.append((rows[-2][j - 1][0] + 1, rows[-2][j - 1][1]))  # ref[i-2] and r run together
            current.append(min(options))
        rows.append(current)
    return rows[-1][-1][1]


def _merged(letters: str, word: str) -> bool:
    """Whether ``word`` is ``letters`` (two words' letters) with at most one letter more or changed."""
    return len(word) >= len(letters) and edit_distance(letters, word) <= 1


def finalize_cuts(
    model, clips: list[np.ndarray], config: StreamingConfig | None = None, per_clip: int = 2, seed: int = 0
) -> CutReport:
    """Stream each clip (after ``LEAD_SAMPLES`` of silence) with ``finalize()`` at ``per_clip`` random
    points between its first and last audible sample; compare the joined finals with the same
    stream uncut."""
    rng = np.random.default_rng(seed)
    lead = np.zeros(LEAD_SAMPLES, np.float32)
    report = CutReport()
    for clip in clips:
        audio = np.concatenate([lead, clip])
        loud = np.flatnonzero(np.abs(audio) > 1e-3)
        points = np.sort(rng.integers(loud[0], loud[-1], per_clip)).tolist()
        recognizer, events, position = Recognizer(model, config), [], 0
        for point in points:
            events += recognizer.accept(audio[position:point]) + recognizer.finalize()
            position = point
        joined = finals_text(events + recognizer.accept(audio[position:]) + recognizer.close())
        whole = Recognizer(model, config)
        report.add(finals_text(whole.accept(audio) + whole.close()), joined, points)
    return report
