"""The server's voice activity thread: one thread judges every session's audio as it arrives.

The inference thread pushes each stream's audio into its recognizer, whose ``VoiceActivity`` queues
it, and hands the round's streams here together (``Listener.hear``). This thread takes every stream
handed to it since its last batch and runs the detector over all of them at once (``streamer.core.vad.listen``: one batched
call per 32 ms frame position), so each call judges many streams, and the inference thread (on a
GPU server, the GPU's driver) only reads the decisions: a hop waits until the VAD has judged its
audio (``Recognizer.hop_heard``), and this thread wakes the inference thread after each batch.

Each detector call has a fixed cost (a stream alone costs 4.7 ms per audio second, one of 32 in a
call 1.4 ms), so the batch decides what the VAD costs in a server: judging each round's due hops
alone (1-13 streams a call) costs 2.6 ms per stream per audio second, as much as the demo model's
hops it saves; judging every stream pushed in a round, as here, 2.0 ms (docs/performance.md).
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable
from typing import Any

from streamer.core.vad import listen
from streamer.server.metrics import Metrics

__all__ = ["Listener"]

log = logging.getLogger(__name__)

_STOP = object()


class Listener:
    """The thread that runs the voice activity detector for every stream of a server.

    Args:
        on_heard: called on this thread after each batch with the streams judged and the exception
            that failed them (None when all went well); it must only hand them over (a queue's put).
        metrics: where the detector's time and frames are counted.
    """

    def __init__(self, on_heard: Callable[[list[Any], Exception | None], None], metrics: Metrics) -> None:
        self._on_heard = on_heard
        self._metrics = metrics
        self._queue: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._idle = threading.Condition()
        self._handed = 0  # batches handed over and not yet judged (under _idle)
        self._thread = threading.Thread(target=self._run, name="vad", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def hear(self, streams: list[Any]) -> None:
        """Judge the audio that ``streams``' recognizers have taken (``streamer.server.worker.Stream``)."""
        with self._idle:
            self._handed += 1
        self._queue.put(streams)

    def wait(self, timeout: float) -> None:
        """Return once every batch handed over is judged (or after ``timeout`` seconds)."""
        with self._idle:
            self._idle.wait_for(lambda: self._handed == 0, timeout)

    def stop(self, timeout: float = 10.0) -> None:
        self._queue.put(_STOP)
        if self._thread.is_alive():
            self._thread.join(timeout)

    def _run(self) -> None:
        while True:
            items = [self._queue.get()]
            while True:
                try:
                    items.append(self._queue.get_nowait())
                except queue.Empty:
                    break
            if any(item is _STOP for item in items):
                return
            streams = list({id(s): s for batch in items for s in batch}.values())  # each stream once
            activities = [a for s in streams if (r := s.recognizer) is not None and (a := r.activity) is not None]
            before = sum(a.judged_frames for a in activities)
            started = time.thread_time()  # CPU time: what the detector costs, not how long the thread waited for a core
            error = None
            try:
                listen(activities)
            except Exception as e:  # the streams fail on the inference thread; the thread goes on
                log.exception("voice activity detection failed for %d streams", len(streams))
                error = e
            self._metrics.add("vad_seconds", time.thread_time() - started)
            self._metrics.add("vad_frames", sum(a.judged_frames for a in activities) - before)
            with self._idle:
                self._handed -= len(items)
                self._idle.notify_all()
            self._on_heard(streams, error)
