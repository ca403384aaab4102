"""The inference worker: one thread runs the model for every stream, batching their due hops.

The event loop never calls the model. It hands each stream's audio and commands to
the worker through a thread-safe queue (``submit``); the worker gathers what arrived
within a few milliseconds, pushes it into each stream's ``Recognizer``, and runs one
hop of every stream that has one due as a single batch through the core's batch driver
(``streamer.core.engine.BatchEngine``), round after round. Results go back to the loop with
``loop.call_soon_threadsafe``: the stream's events first, then the futures of the jobs they completed.

Final passes are queued work. A hop that ends a segment leaves its stream's events waiting for the
segment's final pass (the stream's later events wait behind them, in order; its hops go on). Each
round, after its live hops and before the hops of streams that are ahead, the queue's oldest
streams get their final passes as one batch: as many as fit in ``FINAL_ROUND_SECONDS`` of
estimated work, and always the oldest one. When many streams end a sentence at once, their final
passes spread over the next rounds instead of stalling every live stream for one long round: the
burst costs final latency (measured by bench/bench_server.py) rather than every stream's partials.

Live streams first: audio sent faster than real time (a file, a flood, a replay) is *ahead* while
a live source would only have it more than ``AHEAD_SECONDS`` from now. While any other stream is
open, hops of streams that are ahead run only in the gaps between live hops:

- a round with a live hop due runs the live hops alone;
- a round without one runs the next hop of at most ``AHEAD_HOPS`` streams that are ahead, in
  turn, unless a live hop is expected before that batch would be done: then the worker waits
  for the live audio instead. A live stream's next hop is expected when its sender's next
  messages, at the pace and size of the last one, complete it.

Without that, every round carried a hop of each backlogged stream and a live stream's hop waited
for those whole batches: on a contended core, four flooders took the median reply latency of live
neighbours from 30 ms to 111 ms (bench/bench_overload.py); with one backlog hop per round beside
the live ones, the p95 still went from 26 to 42 ms. A stream that is ahead waits at most
``AHEAD_MAX_WAIT`` for its turn, so none starves behind live streams that are themselves late, and
with no live stream open they batch together as before.

Memory. Batches of different sizes and lengths leave freed memory in the C heap that glibc keeps
for later: the server's resident memory rises to the largest batch it has served and stays there,
even once the load falls. Every ``TRIM_SECONDS`` the worker hands it back (``malloc_trim``, a few
milliseconds, between rounds, and once more when it falls idle after work), so resident memory
follows the memory in use.

Voice activity. With a VAD (``StreamingConfig.vad``) the worker hands the streams whose audio it
pushed in a round to the server's VAD thread (``streamer.server.listener.Listener``) as one batch; a
stream's hop waits until the VAD has judged its audio. With the model on a GPU the other streams'
hops and the final passes run meanwhile and the VAD thread wakes the worker after each batch; with
the model on the CPU the worker waits for the batch (the model's threads hold every core: its hops
ran 15% slower beside the VAD thread). The worker itself only reads the decisions (and judges a stream's last
frame when it closes).

``streamer.server.feed.Feed`` is the loop's side of one stream.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import ctypes.util
import logging
import math
import queue
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np

from streamer.core.config import StreamingConfig
from streamer.server.metrics import Metrics
from streamer.wire.events import Event
from streamer.wire.units import FRAME_SAMPLES, SAMPLE_RATE

__all__ = ["InferenceWorker", "Job", "Stream"]

log = logging.getLogger(__name__)

JobKind = Literal["audio", "finalize", "close"]

TRIM_SECONDS = 10.0  # how often the worker returns the C heap's free memory to the system (malloc_trim)
AHEAD_SECONDS = 1.0  # audio a live source would only have this much later is "ahead": it yields to live streams
AHEAD_HOPS = 1  # hops of streams that are ahead per round while a live stream is open (each adds to its wait)
AHEAD_MAX_WAIT = 0.5  # seconds streams that are ahead wait at most for a round of their own
HOLD_MARGIN = 0.003  # seconds: a backlog batch must end this long before a live hop is expected
HOLD_SLACK = 0.015  # seconds a live stream's audio may come late and still be waited for
LISTEN_WAIT = 1.0  # seconds the worker sleeps at most while every due hop waits for the VAD thread
FINAL_ROUND_SECONDS = 0.05  # estimated final-pass work per round beyond the oldest stream's (live hops wait for it)


@dataclass
class Job:
    """One thing a stream asked for; ``future`` resolves on the loop with its queue lag in seconds."""

    kind: JobKind
    samples: np.ndarray | None
    future: asyncio.Future[float]
    submitted: float = field(default_factory=time.monotonic)
    live_at: float = 0.0  # for audio: when a live source would have had its last sample (monotonic seconds)
    until: int = 0  # for audio: the stream's sample count once this job's samples are pushed


class Stream:
    """A stream's handle. Its recognizer and job lists belong to the worker thread.

    Args:
        on_events: called on the event loop with each list of events the stream produced.
    """

    def __init__(self, on_events: Callable[[list[Event]], None]) -> None:
        self.on_events = on_events
        self.recognizer: Any = None  # created on the worker thread: creating one runs the model
        self.decoder: Any = None  # this stream's decoder (None: the model's), set on the loop before any job
        self.alternatives = 0  # hypotheses each final carries, set on the loop before any job
        self.jobs: deque[Job] = deque()  # waiting, in order
        self.pushed: list[Job] = []  # audio pushed into the recognizer whose hops may still be due
        self.gone = False  # set on the loop by discard(); the worker then drops the stream
        self.samples_final = 0  # on the loop: the recognizer's samples_final as of the last events
        self.served = 0  # worker thread: the round that last ran a hop of this stream while it was ahead
        self.live_at = 0.0  # worker thread: when a live source had the last audio pushed (0: none yet)
        self.held: list = []  # worker thread: events waiting for final passes (PendingFinal among them), in order
        self.message_samples = 0  # worker thread: samples in the last audio pushed
        self.error: Exception | None = None  # why the worker gave up on this stream
        self.ended = False  # worker thread: closed or dropped; its recognizer is gone


_STOP = object()
_HEARD = object()  # the VAD thread judged a batch: hops waiting for it may be due


class InferenceWorker:
    """The one thread that runs the model for every stream.

    Args:
        load: returns the model; called on the worker thread, so loading does not block the loop.
        config: streaming knobs shared by every stream (one config: windows batch without padding).
        max_batch: most windows per forward pass (1 = one forward per stream, for comparison).
        gather_seconds: after waking up idle, wait this long for other streams' audio to batch with.
        metrics: where batch sizes, inference time and queue lag are recorded.
    """

    def __init__(
        self,
        load: Callable[[], Any],
        config: StreamingConfig,
        max_batch: int = 32,
        gather_seconds: float = 0.005,
        metrics: Metrics | None = None,
    ) -> None:
        if max_batch < 1:
            raise ValueError(f"max_batch must be at least 1, got {max_batch}")
        self.config = config
        self.max_batch = max_batch
        self.gather_seconds = gather_seconds
        self.metrics = metrics or Metrics()
        self.model: Any = None
        self.engine: Any = None  # the BatchEngine over the model, made on the worker thread
        self._load = load
        # Unbounded by type, bounded in practice: every session waits for its own audio to be
        # recognized once it has more than the server's buffer limit queued (see Session.wait_for_room).
        self._queue: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._streams: list[Stream] = []  # worker thread only
        self._rounds = 0  # worker thread only: rounds run, for taking streams that are ahead in turn
        self._ahead_at = 0.0  # worker thread only: when streams that are ahead last got a hop
        self._ahead_cost = 0.01  # worker thread only: seconds a batch of their hops takes (running mean)
        self._hold_until: float | None = None  # worker thread only: waiting for a live hop until then
        self._finals: deque[Stream] = deque()  # worker thread only: streams whose events wait for final passes
        self._final_cost = 0.01  # worker thread only: seconds one final pass takes (running mean)
        self._trimmed_at = time.monotonic()  # worker thread only: when the C heap's free memory was last returned
        self._untrimmed = False  # worker thread only: work ran since then
        self._listener: Any = None  # the VAD thread (streamer.server.listener.Listener), with a VAD
        self._listening: set[Stream] = set()  # worker thread only: streams whose due hop waits for the VAD
        # Whether the model's work goes on while the VAD thread judges (a GPU model: the CPU is free
        # beside it); on the CPU the worker waits for the VAD's decisions instead, as the model's
        # threads take every core and run slower beside a third busy thread. Set once the model is loaded.
        self.vad_beside = False
        self._thread = threading.Thread(target=self._run, name="inference", daemon=True)
        self._loop: asyncio.AbstractEventLoop | None = None
        self.loaded: asyncio.Future[None] | None = None  # resolves on the loop once the model is loaded

    # ----- the loop's side -----------------------------------------------------------------------

    def start(self) -> None:
        """Start the thread; call from the event loop that will receive the results."""
        self._loop = asyncio.get_running_loop()
        self.loaded = self._loop.create_future()
        self._thread.start()

    def open(self, on_events: Callable[[list[Event]], None]) -> Stream:
        """A new stream; ``on_events`` runs on the loop."""
        return Stream(on_events)

    def submit(
        self, stream: Stream, kind: JobKind, samples: np.ndarray | None = None, live_at: float | None = None
    ) -> asyncio.Future[float]:
        """Queue audio (16 kHz float32 mono), a finalize or the close of ``stream``; resolves when done.

        ``live_at``: when a live source would have had the audio's last sample (default: now); audio
        live more than ``AHEAD_SECONDS`` from now yields to live streams.
        """
        assert self._loop is not None, "start() the worker first"
        job = Job(kind, samples, self._loop.create_future())
        job.live_at = job.submitted if live_at is None else live_at
        self._queue.put((stream, job))
        return job.future

    def discard(self, stream: Stream) -> None:
        """Forget ``stream`` without flushing it (its client is gone); pending jobs are dropped."""
        stream.gone = True
        self._queue.put((stream, None))

    def stop(self, timeout: float = 10.0) -> None:
        """Stop the thread after its current batch (and the VAD thread)."""
        self._queue.put(_STOP)
        if self._thread.is_alive():
            self._thread.join(timeout)
        if self._listener is not None:
            self._listener.stop(timeout)

    # ----- the worker thread ---------------------------------------------------------------------

    def _run(self) -> None:
        try:
            self.model = self._load()
            self._new_recognizer()  # refuses a model that cannot stream (ValueError), and warms up
            from streamer.core.engine import BatchEngine

            self.engine = BatchEngine(self.model, self.max_batch)
            if self.config.vad != "off":
                from streamer.server.listener import Listener

                self.vad_beside = self.model.device.type != "cpu"
                self._listener = Listener(self._heard, self.metrics)
                self._listener.start()
        except Exception as e:  # reported on the loop; the server decides what to do
            log.error("could not load the model: %s", e)
            self._call_soon(_settle, self.loaded, None, e)
            return
        self.metrics.model_loaded = True
        self._call_soon(_settle, self.loaded, None, None)
        while True:
            idle_until = None  # idle: wait for a job for ever, or until the heap's free memory is due back
            if not self._finals and not any(s.jobs or s.pushed for s in self._streams):
                wait = None  # idle
                if self._untrimmed:  # idle after work: wake once more to hand back what the work freed
                    idle_until = self._trimmed_at + TRIM_SECONDS
            elif not self._finals and all(s in self._listening for s in self._streams if s.jobs or s.pushed):
                wait = LISTEN_WAIT  # every due hop waits for the VAD thread, which wakes the worker
            elif self._hold_until is not None:
                wait = max(0.0, self._hold_until - time.monotonic())  # a live hop is expected
            else:
                wait = 0.0
            if not self._take(wait, idle_until):
                return
            self._untrimmed = self._untrimmed or bool(self._streams)
            self._round()
            self._trim_memory()

    def _heard(self, streams: list[Stream], error: Exception | None) -> None:
        """On the VAD thread: its batch of ``streams`` is judged (``error``: it failed them); wake the worker."""
        self._queue.put((_HEARD, streams, error))

    def _trim_memory(self) -> None:
        """Every ``TRIM_SECONDS``, give the C heap's free memory back to the system (glibc only)."""
        now = time.monotonic()
        if _malloc_trim is None or now < self._trimmed_at + TRIM_SECONDS:
            return
        _malloc_trim(0)
        self._trimmed_at = time.monotonic()
        self._untrimmed = False

    def _take(self, wait: float | None, idle_until: float | None = None) -> bool:
        """Move queued jobs to their streams. ``wait``: None when idle, to wait for a job (until
        ``idle_until`` if given) and then gather briefly; else the seconds to wait for one (none to
        gather: work is waiting)."""
        items = []
        if wait is None:
            timeout = None if idle_until is None else max(0.0, idle_until - time.monotonic())
            with contextlib.suppress(queue.Empty):
                items.append(self._queue.get(timeout=timeout))
            deadline = time.monotonic() + self.gather_seconds
            while items and (left := deadline - time.monotonic()) > 0:
                try:
                    items.append(self._queue.get(timeout=left))
                except queue.Empty:
                    break
        elif wait > 0:
            with contextlib.suppress(queue.Empty):
                items.append(self._queue.get(timeout=wait))
        while True:
            try:
                items.append(self._queue.get_nowait())
            except queue.Empty:
                break
        for item in items:
            if item is _STOP:
                return False
            if item[0] is _HEARD:  # the VAD thread's batch: its streams' hops may run
                _, streams, error = item
                self._listening.difference_update(streams)
                for stream in streams if error is not None else ():
                    if stream in self._streams:
                        self._fail(stream, error)
                continue
            stream, job = item
            if job is None or stream.gone:
                self._forget(stream)
            elif stream.error is not None:
                self._call_soon(_settle, job.future, None, stream.error)
            elif stream.ended:
                self._call_soon(_settle, job.future, None, RuntimeError("the stream is closed"))
            else:
                stream.jobs.append(job)
                if stream.recognizer is None:
                    self._streams.append(stream)
                    self._guard(stream, self._create, stream)
        return True

    def _create(self, stream: Stream) -> None:
        stream.recognizer = self._new_recognizer(stream.decoder, stream.alternatives)

    def _new_recognizer(self, decoder: Any = None, alternatives: int = 0) -> Any:
        from streamer.core.recognizer import Recognizer

        # runs the model once (silence features)
        return Recognizer(self.model, self.config, decoder=decoder, alternatives=alternatives)

    def _round(self) -> None:
        """Push waiting audio, then run one due hop of every live stream and of a few streams ahead of
        real time (all of them when no live stream is open), in batches of ``max_batch``."""
        pushed = [stream for stream in list(self._streams) if self._guard(stream, self._advance, stream)]
        if self._listener is not None and pushed:
            self._listener.hear(pushed)  # in one batch: the detector's calls cost the same for 1 stream or 30
        self._rounds += 1
        now = time.monotonic()
        self._hold_until = None
        ahead = [s for s in self._streams if s.pushed and s.pushed[0].live_at > now + AHEAD_SECONDS]
        ahead_set = set(ahead)
        waiting: set[Stream] = set()  # streams ahead of real time that yield in the current round
        if ahead and len(ahead) < len(self._streams):  # a live stream is open: it must not wait behind them
            live = [s for s in self._streams if s not in ahead_set and s.recognizer is not None]
            taking = self._ahead_turn(ahead, live, now)
            for stream in taking:
                stream.served = self._rounds
            waiting = ahead_set - set(taking)
            if taking:
                self._ahead_at = now
        requests, later, by_recognizer = [], [], {}
        for stream in list(self._streams):
            if not stream.pushed or stream in waiting:
                continue
            if stream.recognizer.samples_to_next_hop == 0 and not stream.recognizer.hop_heard and not self.vad_beside:
                self._listener.wait(LISTEN_WAIT)  # the cores are the model's: let the VAD have them first
            if stream.recognizer.samples_to_next_hop == 0 and not stream.recognizer.hop_heard:
                self._listening.add(stream)  # its hop waits for the VAD thread's decisions
                continue
            self._listening.discard(stream)
            request = self._guard(stream, stream.recognizer.next_hop)
            if request is None:  # all its audio is recognized: its jobs are done
                if stream in self._streams:
                    done, stream.pushed = stream.pushed, []
                    self._post(stream, [], done)
                continue
            (later if stream in ahead_set and len(ahead) < len(self._streams) else requests).append(request)
            by_recognizer[request.recognizer] = stream
        # Live hops first, then queued final passes, then the streams ahead.
        self._run_hops(requests, by_recognizer)
        self._run_final_passes()
        if later:
            start = time.monotonic()
            self._run_hops(later, by_recognizer)
            self._ahead_cost += 0.2 * (time.monotonic() - start - self._ahead_cost)
        # A job is done once hops have taken all its samples, even while later audio still
        # waits: settling only when a stream has fully caught up made lag reports late and
        # overstated, and started backpressure early.
        for stream in by_recognizer.values():
            if stream in self._streams and stream.pushed:
                recognized = stream.recognizer.samples_recognized
                done = [job for job in stream.pushed if job.until <= recognized]
                if done:
                    stream.pushed = stream.pushed[len(done) :]
                    self._post(stream, [], done)

    def _ahead_turn(self, ahead: list[Stream], live: list[Stream], now: float) -> list[Stream]:
        """The streams ahead of real time that get a hop in the current round, beside the ``live`` ones."""
        turn = sorted(ahead, key=lambda s: s.served)[:AHEAD_HOPS]  # the longest waiting first: they take turns
        if now - self._ahead_at > AHEAD_MAX_WAIT:
            return turn
        if any(s.pushed and s.recognizer.samples_to_next_hop == 0 for s in live):
            return []  # live hops run alone
        expected = min((_next_hop_at(s) for s in live), default=math.inf)
        if now - HOLD_SLACK < expected < now + self._ahead_cost + HOLD_MARGIN:
            self._hold_until = max(expected, now)  # wait for its audio rather than start a batch
            return []
        return turn

    def _advance(self, stream: Stream) -> bool:
        """Push the stream's leading audio jobs; run a finalize/close once the audio before it is done.
        Returns whether it pushed audio into the stream's recognizer, which is still open."""
        pushed = False
        while stream.jobs:
            job = stream.jobs[0]
            if job.kind == "audio":
                stream.recognizer.push(job.samples)
                job.until = stream.recognizer.samples_received
                stream.live_at, stream.message_samples = job.live_at, len(job.samples)
                stream.pushed.append(stream.jobs.popleft())
                pushed = True
                continue
            if stream.pushed or stream.held:
                break  # a control job waits until every hop of the audio before it has run, and its finals
            events = stream.recognizer.finalize() if job.kind == "finalize" else stream.recognizer.close()
            stream.jobs.popleft()  # only now: if that raised, the failure settles the job with the others
            self._post(stream, events, [job])
            if job.kind == "close":
                self._forget(stream)
                return False
        return pushed

    def _run_hops(self, requests: list, by_recognizer: dict) -> None:
        """Run the hops of ``requests`` in batches of ``max_batch``. A stream whose hop ended a segment
        joins the final-pass queue; events of a stream already in it wait behind its finals. A failed
        forward fails the streams it ran for; a stream whose own step fails fails alone."""

        def fail_one(recognizer, error: Exception) -> None:
            log.error("stream failed after its batch", exc_info=error)
            self._fail(by_recognizer[recognizer], error)

        def post(recognizer, events: list[Event]) -> None:  # at once: partials need not wait for final passes
            stream = by_recognizer[recognizer]
            if stream.held:
                stream.held += events
            elif events:
                self._post(stream, events, [])

        for first in range(0, len(requests), self.max_batch):
            chunk = requests[first : first + self.max_batch]
            start = time.monotonic()
            vad = (self.engine.vad_seconds, self.engine.vad_frames, self.engine.silent_windows)
            try:
                waiting = self.engine.run_hops(chunk, post, fail_one)
            except Exception as e:
                log.exception("a batch of %d windows failed", len(chunk))
                for request in chunk:
                    self._fail(by_recognizer[request.recognizer], e)
                continue
            self.metrics.observe("inference_seconds", time.monotonic() - start)
            self.metrics.observe("batch_size", len(chunk))
            self.metrics.add("vad_seconds", self.engine.vad_seconds - vad[0])
            self.metrics.add("vad_frames", self.engine.vad_frames - vad[1])
            self.metrics.add("silent_windows", self.engine.silent_windows - vad[2])
            for recognizer, items in waiting:
                stream = by_recognizer[recognizer]
                if stream not in self._streams:
                    continue
                if not stream.held:
                    self._finals.append(stream)
                stream.held += items

    def _run_final_passes(self) -> None:
        """The final passes of the queue's oldest streams, as one batch: the oldest stream's, and more
        while their estimated cost stays within ``FINAL_ROUND_SECONDS``. Each stream then gets the
        events that waited for them."""
        from streamer.core.recognizer import waiting_final_passes  # here: the CLI imports this module without torch

        chosen, passes, cost = [], 0, 0.0
        while self._finals:
            stream = self._finals[0]
            count = len(waiting_final_passes(stream.held))
            if chosen and cost + count * self._final_cost > FINAL_ROUND_SECONDS:
                break
            chosen.append(self._finals.popleft())
            passes, cost = passes + count, cost + count * self._final_cost
        if not chosen:
            return
        by_recognizer = {stream.recognizer: stream for stream in chosen}
        waiting = [(stream.recognizer, stream.held) for stream in chosen]
        for stream in chosen:
            stream.held = []

        def fail_one(recognizer, error: Exception) -> None:
            log.error("stream failed in its final pass", exc_info=error)
            self._fail(by_recognizer[recognizer], error)

        def post(recognizer, events: list[Event]) -> None:
            if events and by_recognizer[recognizer] in self._streams:
                self._post(by_recognizer[recognizer], events, [])

        start = time.monotonic()
        self.engine.run_final_passes(waiting, post, fail_one)
        if passes:
            seconds = time.monotonic() - start
            self._final_cost += 0.2 * (seconds / passes - self._final_cost)
            self.metrics.observe("final_pass_seconds", seconds)
            self.metrics.observe("final_pass_batch_size", passes)

    def _guard(self, stream: Stream, step: Callable[..., Any], *args: Any) -> Any:
        """Run one stream's step; a failure ends that stream only."""
        try:
            return step(*args)
        except Exception as e:
            log.exception("stream failed on the inference thread")
            self._fail(stream, e)
            return None

    def _fail(self, stream: Stream, error: Exception) -> None:
        stream.error = error
        jobs = [*stream.pushed, *stream.jobs]
        self._forget(stream)
        for job in jobs:
            self._call_soon(_settle, job.future, None, error)

    def _forget(self, stream: Stream) -> None:
        """Drop the stream and everything the worker keeps for it, its recognizer included.

        The recognizer goes now, not when the stream's handle is collected: the session's objects on
        the loop refer to each other in cycles, which only Python's cyclic collector frees, and in a
        process holding torch's many long-lived objects its full collections come rarely, so each
        closed session's recognizer (a few MB of sample and feature buffers) stayed resident for
        thousands of sessions.
        """
        if stream in self._streams:
            self._streams.remove(stream)
        self._listening.discard(stream)
        if stream.held:
            self._finals.remove(stream)
        stream.jobs.clear()
        stream.pushed = []
        stream.held = []
        stream.recognizer = None
        stream.ended = True

    def _post(self, stream: Stream, events: list[Event], done: list[Job]) -> None:
        """Hand events and finished jobs to the loop, in order."""
        now = time.monotonic()
        lags = [now - job.submitted for job in done]
        for job, lag in zip(done, lags, strict=True):
            if job.kind == "audio":
                self.metrics.observe("queue_lag_seconds", lag)
        if events or done:
            # Read with the events, on this thread: the ack a session derives is consistent with them,
            # and covers no segment whose final still waits for its final pass.
            final = stream.recognizer.samples_final if stream.recognizer is not None else 0
            pending = [item.end.start for item in stream.held if _is_pending_final(item)]
            if pending:
                final = min(final, pending[0] * FRAME_SAMPLES)
            self._call_soon(_deliver, stream, events, done, lags, final)

    def _call_soon(self, callback: Callable[..., None], *args: Any) -> None:
        assert self._loop is not None
        try:
            self._loop.call_soon_threadsafe(callback, *args)
        except RuntimeError:  # the loop is closed: nobody is waiting any more
            pass


def _load_malloc_trim() -> Callable[[int], int] | None:
    """glibc's ``malloc_trim``, or None where the C library has none (musl, macOS)."""
    name = ctypes.util.find_library("c")
    trim = getattr(ctypes.CDLL(name), "malloc_trim", None) if name else None
    if trim is not None:
        trim.argtypes, trim.restype = [ctypes.c_size_t], ctypes.c_int
    return trim


_malloc_trim = _load_malloc_trim()


def _is_pending_final(item: Any) -> bool:
    from streamer.core.recognizer import PendingFinal  # here: the CLI imports this module without torch

    return isinstance(item, PendingFinal)


def _next_hop_at(stream: Stream) -> float:
    """When a live stream's next hop is expected to be due: when a sender keeping the pace and the
    message size of its last audio will have sent the samples the hop still needs."""
    if not stream.message_samples:
        return math.inf
    messages = math.ceil(stream.recognizer.samples_to_next_hop / stream.message_samples)
    return stream.live_at + messages * stream.message_samples / SAMPLE_RATE


def _settle(future: asyncio.Future | None, result: Any, error: BaseException | None) -> None:
    if future is None or future.done():
        return
    if error is not None:
        future.set_exception(error)
    else:
        future.set_result(result)


def _deliver(stream: Stream, events: list[Event], done: list[Job], lags: list[float], samples_final: int) -> None:
    """On the loop: events to the session (also when only ``samples_final`` grew: silence), then the
    futures of the jobs they finish."""
    if stream.gone:
        return
    grew = samples_final > stream.samples_final
    stream.samples_final = max(stream.samples_final, samples_final)
    if events or grew:
        stream.on_events(events)
    for job, lag in zip(done, lags, strict=True):
        _settle(job.future, lag, None)
