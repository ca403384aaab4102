"""The batch driver: the due hops of many streams run as one forward, their final passes as another.

Every hop of one ``StreamingConfig`` has the same audio length and every window the same
number of frames, so hops stack without padding. A hop whose window ends a segment leaves a
``PendingFinal`` in its stream's events; the final passes of all the streams a round of hops
left waiting run together afterwards, padded and masked (``streamer.core.batch``), so the
streams whose segment goes on get their partials without waiting for them. The streams' voice
activity is heard first, batched across them, and the hops it calls silent skip the transformer.
The server's inference worker, the benches and the GPU check all drive streams through this class.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from streamer.core.batch import HopRequest, forward_final_passes, forward_hops, hear, similar_lengths
from streamer.core.recognizer import PendingFinal, Recognizer, waiting_final_passes
from streamer.wire.events import Event

__all__ = ["BatchEngine", "Waiting"]

OnEvents = Callable[[Recognizer, list[Event]], None]
OnError = Callable[[Recognizer, Exception], None]
Waiting = list[tuple[Recognizer, list]]  # streams whose events wait for final passes, with those events


def _per_stream(
    work: list[tuple[Recognizer, Any]], step: Callable[[Recognizer, Any], Any], on_error: OnError | None
) -> Iterator[tuple[Recognizer, Any]]:
    """``(recognizer, step(recognizer, argument))`` for each pair of ``work``; a stream whose step fails
    goes to ``on_error`` and is left out (without ``on_error`` the exception propagates)."""
    for recognizer, argument in work:
        try:
            result = step(recognizer, argument)
        except Exception as e:
            if on_error is None:
                raise
            on_error(recognizer, e)
            continue
        yield recognizer, result


class BatchEngine:
    """Runs the due hops and the final passes of many recognizers (of one model and one config).

    Args:
        model: the shared model.
        max_batch: most windows (or final passes) per forward.
    """

    def __init__(self, model, max_batch: int = 32) -> None:
        if max_batch < 1:
            raise ValueError(f"max_batch must be at least 1, got {max_batch}")
        self.model = model
        self.max_batch = max_batch
        self.batches = 0  # forwards of hops run
        self.windows = 0  # windows run
        self.final_batches = 0  # forwards of final passes run
        self.final_passes = 0  # final passes run
        self.silent_windows = 0  # hops whose voice activity let them skip the transformer
        self.vad_frames = 0  # 32 ms frames the voice activity detectors judged
        self.vad_seconds = 0.0  # CPU time they took (the calling thread's)

    def run_hops(
        self, requests: list[HopRequest], on_events: OnEvents, on_error: OnError | None = None
    ) -> Waiting:
        """Run one hop per request (at most one per stream), ``max_batch`` windows per forward.

        The events of a stream whose hop ended no segment go to ``on_events`` at once; the streams
        with finals to decode are returned, for ``run_final_passes``. A stream whose own step
        fails goes to ``on_error`` (without it, the exception propagates); a failed forward raises.
        """
        waiting: Waiting = []
        for first in range(0, len(requests), self.max_batch):
            chunk = requests[first : first + self.max_batch]
            started = time.thread_time()
            self.vad_frames += hear(chunk)
            self.vad_seconds += time.thread_time() - started
            self.silent_windows += sum(1 for request in chunk if request.gated)
            best = forward_hops(self.model, chunk)
            self.batches += 1
            self.windows += len(chunk)
            windows = [(request.recognizer, window) for request, window in zip(chunk, best)]
            for recognizer, items in _per_stream(windows, lambda r, window: r.consume(window), on_error):
                if any(isinstance(item, PendingFinal) for item in items):
                    waiting.append((recognizer, items))
                else:
                    on_events(recognizer, items)
        return waiting

    def run_final_passes(self, waiting: Waiting, on_events: OnEvents, on_error: OnError | None = None) -> None:
        """Run the final passes ``waiting`` streams need, batched across them, and hand each stream
        its events with its finals decoded. A failed forward fails every stream of it (``on_error``);
        a stream whose decoding fails fails alone."""
        pending = [p for _, items in waiting for p in waiting_final_passes(items)]
        if pending:
            try:
                logits = forward_final_passes(self.model, [p.request for p in pending], self.max_batch)
            except Exception as e:
                if on_error is None:
                    raise
                for recognizer, _ in waiting:
                    on_error(recognizer, e)
                return
            for p, row in zip(pending, logits):
                p.logits = row
            self.final_batches += len(similar_lengths([len(p.request.audio) for p in pending], self.max_batch))
            self.final_passes += len(pending)
        for recognizer, events in _per_stream(waiting, lambda r, items: r.settle(items), on_error):
            on_events(recognizer, events)

    def step(self, recognizers: Iterable[Recognizer]) -> dict[Recognizer, list[Event]]:
        """Run every due hop of ``recognizers``, one hop per stream per round, each round's final
        passes after its hops; return their events."""
        events: dict[Recognizer, list[Event]] = {}

        def collect(recognizer: Recognizer, new: list[Event]) -> None:
            events.setdefault(recognizer, []).extend(new)

        waiting_for_hops = list(recognizers)
        while waiting_for_hops:
            requests = [request for r in waiting_for_hops if (request := r.next_hop()) is not None]
            waiting_for_hops = [r.recognizer for r in requests]
            self.run_final_passes(self.run_hops(requests, collect), collect)
        return events
