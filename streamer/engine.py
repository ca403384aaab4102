"""Batching engine: the due hops of many streams run as one forward pass.

Every hop of one ``StreamingConfig`` has the same audio length and every window
the same number of frames, so requests stack without padding. A single stream
is a batch of one and skips the stacking copies.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

import torch

from streamer.events import Event
from streamer.recognizer import HopRequest, Recognizer

__all__ = ["BatchEngine", "run_batch"]


def _stack(tensors: list[torch.Tensor]) -> torch.Tensor:
    return tensors[0][None] if len(tensors) == 1 else torch.stack(tensors)


def _frame_mask(padding: list[int], windows: torch.Tensor) -> torch.Tensor | None:
    """``[batch, window]`` True on real frames, or None when no window starts before its stream.

    A stream's first windows reach back before its start; those frames are masked out (zeroed
    before the positional conv and left out of attention), so the first windows decode as
    offline decoding of the audio so far, while every window keeps one shape for batching.
    """
    if not any(padding):
        return None
    frames = torch.arange(windows.shape[1], device=windows.device)
    return frames[None, :] >= torch.tensor(padding, device=windows.device)[:, None]


@torch.inference_mode()
def run_batch(
    model, requests: list[HopRequest], on_error: Callable[[Recognizer, Exception], None] | None = None
) -> dict[Recognizer, list[Event]]:
    """Run one hop for each request (one per recognizer) and hand each its events.

    A recognizer whose own step after the shared forward fails (its final pass runs the model
    again) goes to ``on_error`` and is left out of the result; the others still get theirs.
    Without ``on_error`` the exception propagates.
    """
    if len({id(r.recognizer) for r in requests}) != len(requests):
        raise ValueError("a batch takes at most one hop per stream: hops of one stream depend on each other")
    audio = _stack([r.audio for r in requests]).to(model.device)  # [batch, hop * 320 + 80]
    features = model.extract_features(audio)  # [batch, hop, conv_dim]
    windows = [r.recognizer.window(f) for r, f in zip(requests, features)]  # each [window, conv_dim]
    live = [i for i, r in enumerate(requests) if not r.gated]
    logits = None
    if live:
        stacked = _stack([windows[i] for i in live])  # [live, window, conv_dim]
        logits = model.forward_features(stacked, _frame_mask([requests[i].recognizer.padding for i in live], stacked))
    row = {i: n for n, i in enumerate(live)}
    results = {}
    for i, r in enumerate(requests):
        try:
            results[r.recognizer] = r.recognizer.consume(logits[row[i]] if i in row else None)
        except Exception as e:
            if on_error is None:
                raise
            on_error(r.recognizer, e)
    return results


class BatchEngine:
    """Runs the due hops of many recognizers (of one model and one config) together.

    Args:
        model: the shared model.
        max_batch: most windows per forward pass.
    """

    def __init__(self, model, max_batch: int = 32) -> None:
        self.model = model
        self.max_batch = max_batch
        self.batches = 0  # forward passes run
        self.windows = 0  # windows run

    def step(self, recognizers: Iterable[Recognizer]) -> dict[Recognizer, list[Event]]:
        """Run every due hop of ``recognizers``, one hop per stream per batch; return their events."""
        events: dict[Recognizer, list[Event]] = {}
        waiting = list(recognizers)
        while waiting:
            requests = []
            for recognizer in waiting:
                request = recognizer.next_hop()
                if request is not None:
                    requests.append(request)
            waiting = [r.recognizer for r in requests]
            for first in range(0, len(requests), self.max_batch):
                chunk = requests[first : first + self.max_batch]
                for recognizer, new in run_batch(self.model, chunk).items():
                    events.setdefault(recognizer, []).extend(new)
                self.batches += 1
                self.windows += len(chunk)
        return events
