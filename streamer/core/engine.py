"""Batching engine: the due hops of many streams run as one forward pass.

Every hop of one ``StreamingConfig`` has the same audio length and every window
the same number of frames, so requests stack without padding. A single stream
is a batch of one and skips the stacking copies.
"""

from __future__ import annotations

from collections.abc import Iterable

from streamer.core.recognizer import Recognizer, run_batch
from streamer.wire.events import Event

__all__ = ["BatchEngine"]


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
