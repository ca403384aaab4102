"""The event loop's side of one stream: audio in, jobs to the inference worker, what is pending and how late.

``Feed`` decodes and resamples a session's audio, submits it to the ``InferenceWorker``, and keeps
the account the server's backpressure and lag reports are made of.
"""

from __future__ import annotations

import asyncio
import functools
import time
from collections.abc import Callable
from typing import Any

import numpy as np

from streamer.server.worker import InferenceWorker, JobKind
from streamer.wire.audio import ENCODINGS, AudioInput, decode_pcm
from streamer.wire.events import AudioFormat, Event
from streamer.wire.units import SAMPLE_RATE

__all__ = ["MIN_JOB_SAMPLES", "Feed"]

MIN_JOB_SAMPLES = 320  # 20 ms at 16 kHz, one CTC frame: smaller messages are joined before they reach the worker


class Feed:
    """The event loop's side of one stream: audio in, jobs to the worker, what is pending and how late.

    Args:
        worker: the inference worker.
        sample_rate: the input rate until ``configure``.
        on_events: called on the loop with the stream's events.
        on_lag: called on the loop with how far behind real time each message was recognized.
        on_failure: called on the loop when the worker gave up on the stream.
        progress: set whenever queued audio shrinks (backpressure waits on it).
    """

    def __init__(
        self,
        worker: InferenceWorker,
        sample_rate: int,
        on_events: Callable[[list[Event]], None],
        on_lag: Callable[[float], None],
        on_failure: Callable[[], None],
        progress: asyncio.Event,
    ) -> None:
        self.worker = worker
        self.stream = worker.open(on_events)
        self.format = AudioFormat(sample_rate=sample_rate)
        self.audio = AudioInput(sample_rate)
        self.on_lag, self.on_failure, self.progress = on_lag, on_failure, progress
        self.started = False  # audio has arrived
        self.submitted = False  # the worker has seen this stream
        self.closed = False  # the close job was submitted
        self.audio_seconds = 0.0  # input received
        self.pending_seconds = 0.0  # queued on the worker, not yet recognized
        self.pending_jobs = 0  # messages (audio, finalize, close) queued on the worker, not yet done
        self._origin = 0.0  # when a live source would have captured the first sample
        self._unfinalized = False  # audio was submitted since the last finalize
        self._held: list[np.ndarray] = []  # 16 kHz audio under MIN_JOB_SAMPLES, waiting for more

    def configure(self, audio_format: AudioFormat, decoder: Any = None, alternatives: int = 0) -> None:
        """Take a new input format and the stream's decoder (None: the model's), before any audio;
        ``alternatives``: how many hypotheses each final carries (0: none)."""
        self.audio = AudioInput(audio_format.sample_rate, audio_format.channels)
        self.format = audio_format
        self.stream.decoder = decoder
        self.stream.alternatives = alternatives

    def accept(self, data: bytes, max_seconds: float | None = None) -> asyncio.Future[float] | None:
        """Decode, convert and queue one binary message; ``ValueError`` for bad audio (nothing queued).

        ``max_seconds``: take at most this much of the message (whole frames); the rest is dropped.
        """
        width = ENCODINGS[self.format.encoding][1]
        frame_bytes = width * self.format.channels
        if max_seconds is not None and len(data) % frame_bytes == 0:  # partial frames: decode_pcm refuses them
            data = data[: max(0, round(max_seconds * self.format.sample_rate)) * frame_bytes]
        samples = self.audio(decode_pcm(data, self.format.encoding))
        now = time.monotonic()
        seconds = len(data) / (frame_bytes * self.format.sample_rate)
        if not self.started:  # a live source captured the first sample this long ago
            self.started, self._origin = True, now - seconds
        self.audio_seconds += seconds
        self.worker.metrics.add("audio_seconds", seconds)
        # Audio sent faster than real time could not have been live before its place in the stream:
        # lag counts from then, so fast senders are not "behind" while the server keeps up.
        return self._submit_audio(samples, max(now, self._origin + self.audio_seconds), whole=False)

    def finalize(self) -> asyncio.Future[float] | None:
        """End the current segment now: the resampler's tail, then a finalize.

        None when no audio came since the last finalize: there is no segment to end, and a flood of
        finalize messages then costs the worker nothing.
        """
        self._submit_audio(self.audio.flush(), time.monotonic())
        if not self._unfinalized:
            return None
        self._unfinalized = False
        return self._submit("finalize")

    async def close(self) -> None:
        """End of stream: recognize everything received; its events arrive before this returns."""
        if self.closed:
            return
        self.closed = True
        self._submit_audio(self.audio.flush(), time.monotonic())
        if self.submitted:  # a stream that never got audio has nothing to recognize
            await self._submit("close")

    @property
    def samples_final(self) -> int:
        """16 kHz samples of this stream that finals cover: nothing before will be revised."""
        return self.stream.samples_final

    def discard(self) -> None:
        """The client is gone: drop the stream without recognizing the rest."""
        self.worker.discard(self.stream)

    def _submit_audio(self, samples: np.ndarray, live_at: float, whole: bool = True) -> asyncio.Future[float] | None:
        """Queue audio on the worker; ``whole=False`` holds back less than ``MIN_JOB_SAMPLES`` to join the next.

        Each job costs the worker and the loop the same whatever its size: a flood of 2-byte messages
        would otherwise cost a job per sample. Audio held back goes with the next message, finalize or close.
        """
        if self._held:
            samples = np.concatenate([*self._held, samples])
            self._held = []
        if not whole and len(samples) < MIN_JOB_SAMPLES:
            if len(samples):
                self._held.append(samples)
            return None
        if not len(samples):
            return None
        seconds = len(samples) / SAMPLE_RATE
        self.pending_seconds += seconds
        self._unfinalized = True
        return self._submit("audio", samples, seconds, live_at)

    def _submit(
        self, kind: JobKind, samples: np.ndarray | None = None, seconds: float = 0.0, live_at: float | None = None
    ) -> asyncio.Future[float]:
        self.submitted = True
        self.pending_jobs += 1
        future = self.worker.submit(self.stream, kind, samples, live_at)
        future.add_done_callback(functools.partial(self._done, seconds, live_at))
        return future

    def _done(self, seconds: float, live_at: float | None, future: asyncio.Future[float]) -> None:
        self.pending_seconds -= seconds
        self.pending_jobs -= 1
        self.progress.set()
        if future.cancelled():
            return
        if future.exception() is not None:
            self.on_failure()
        elif live_at is not None:
            self.on_lag(max(0.0, time.monotonic() - live_at))  # from when the audio was live to now
