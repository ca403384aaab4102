"""Character and word error rates, for training curves, benchmarks and tests."""

from __future__ import annotations

from collections.abc import Sequence

__all__ = ["cer", "edit_distance", "first_words_right", "wer"]


def edit_distance(ref: Sequence, hyp: Sequence) -> int:
    """Levenshtein distance between two sequences (substitutions, insertions, deletions)."""
    previous = list(range(len(hyp) + 1))
    for i, r in enumerate(ref, 1):
        current = [i]
        for j, h in enumerate(hyp, 1):
            current.append(min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (r != h)))
        previous = current
    return previous[-1]


def cer(refs: Sequence[str], hyps: Sequence[str]) -> float:
    """Character error rate over a corpus: total edits / total reference characters."""
    edits = sum(edit_distance(" ".join(r.split()), " ".join(h.split())) for r, h in zip(refs, hyps, strict=True))
    return edits / max(1, sum(len(" ".join(r.split())) for r in refs))


def wer(refs: Sequence[str], hyps: Sequence[str]) -> float:
    """Word error rate over a corpus: total word edits / total reference words."""
    edits = sum(edit_distance(r.split(), h.split()) for r, h in zip(refs, hyps, strict=True))
    return edits / max(1, sum(len(r.split()) for r in refs))


def first_words_right(refs: Sequence[str], hyps: Sequence[str]) -> int:
    """How many hypotheses begin with their reference's first word (where streams go wrong first)."""
    return sum(h.split()[:1] == r.split()[:1] for r, h in zip(refs, hyps, strict=True))
