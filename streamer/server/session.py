"""One websocket session on the event loop: its worker feed, its outbox, its timeouts and backpressure.

The protocol loops (``streamer.server.native``, ``streamer.server.vosk``) read messages through
``Session.next_message`` and queue what they send with ``Session.send``; ``streamer.server.app``
creates sessions and ends them on shutdown with ``Session.end_with``.
"""

from __future__ import annotations

import asyncio
import secrets
import time
from collections.abc import Callable

from websockets.asyncio.server import ServerConnection

from streamer.server.feed import Feed
from streamer.server.metrics import Metrics
from streamer.server.options import ServerOptions
from streamer.server.worker import InferenceWorker
from streamer.wire.audio import SAMPLE_RATE
from streamer.wire.events import Event
from streamer.wire.protocol import (
    VOSK_SAMPLE_RATE,
    CloseCode,
    Ending,
    ErrorEvent,
    Lag,
    ProtocolError,
    error_ending,
)

__all__ = ["AUTH_SECONDS", "Session"]

AUTH_SECONDS = 10.0  # a browser sending its token in the first message must do so this soon
MAX_OUTBOX = 256  # events waiting for a slow reader before the server stops reading its audio
LAG_INTERVAL = 1.0  # seconds between two lag events of one session


class Session:
    """One connection on the event loop: its worker feed, its outbox, its timeouts.

    Args:
        ws: the connection.
        options: the server's limits.
        worker: the inference worker the session's audio goes to.
        metrics: where error events are counted.
        token_ok: checks a token sent in a message.
        authorized: whether the handshake already carried the right token (or none is required).
    """

    def __init__(
        self,
        ws: ServerConnection,
        options: ServerOptions,
        worker: InferenceWorker,
        metrics: Metrics,
        token_ok: Callable[[str | None], bool],
        authorized: bool,
    ) -> None:
        self.ws = ws
        self.options = options
        self.metrics = metrics
        self._token_ok = token_ok
        self.id = secrets.token_hex(6)
        self.vosk = options.protocol == "vosk"
        self.authorized = authorized
        self.progress = asyncio.Event()  # set when queued audio or the outbox shrinks
        self.feed = Feed(
            worker, VOSK_SAMPLE_RATE if self.vosk else SAMPLE_RATE,
            self._on_events, self._on_lag, self._on_failure, self.progress,
        )  # fmt: skip
        self.outbox: asyncio.Queue[Event | Ending] = asyncio.Queue()  # native: the sender's queue
        self.collected: list[Event] = []  # vosk: events since the last reply
        self.current = ""  # vosk: the current segment's text
        self.words = True  # vosk: include word timings in results
        self.lag = 0.0  # how far behind real time the last audio was recognized
        self._last_lag_event = float("-inf")
        self.started = self.last_audio = time.monotonic()
        self.interrupt = asyncio.Event()  # set by shutdown or a worker failure
        self.interrupt_reason: Ending | None = None
        self._interrupted = asyncio.ensure_future(self.interrupt.wait())

    async def next_message(self, within: float | None = None) -> str | bytes | Ending:
        """The next client message, or why the session must end instead (shutdown, timeouts)."""
        now = time.monotonic()
        end_at = self.started + self.options.max_session_seconds
        limit = self.last_audio + self.options.idle_timeout if within is None else now + within
        receive = asyncio.ensure_future(self.ws.recv())
        done, _ = await asyncio.wait(
            {receive, self._interrupted},
            timeout=max(0.0, min(limit, end_at) - now),
            return_when=asyncio.FIRST_COMPLETED,
        )
        if receive in done:
            return receive.result()
        receive.cancel()  # safe: websockets' recv() loses nothing when cancelled
        if self.interrupt_reason is not None:
            return self.interrupt_reason
        if time.monotonic() >= end_at:
            seconds = self.options.max_session_seconds
            return error_ending("max_duration", f"sessions last at most {seconds:g} s", CloseCode.MAX_DURATION, True)
        if within is not None:
            return error_ending("unauthorized", f"no token within {within:g} s", CloseCode.POLICY)
        seconds = self.options.idle_timeout
        return error_ending("idle_timeout", f"no audio for {seconds:g} s", CloseCode.IDLE_TIMEOUT, True)

    async def wait_for_room(self) -> None:
        """Backpressure: stop reading while too much audio is queued or too many events are unsent."""
        while not self.interrupt.is_set() and (
            self.feed.pending_seconds > self.options.max_buffer_seconds or self.outbox.qsize() > MAX_OUTBOX
        ):
            self.progress.clear()
            await self.progress.wait()

    def accept_audio(self, data: bytes) -> asyncio.Future[float] | None:
        """Queue one binary message for recognition; raises ``ProtocolError('bad_audio')``."""
        try:
            future = self.feed.accept(data)
        except ValueError as e:
            raise ProtocolError("bad_audio", f"{e}; the message was dropped") from None
        self.last_audio = time.monotonic()
        return future

    def end_with(self, ending: Ending) -> None:
        """Make the session end at its next read (shutdown, worker failure)."""
        if self.interrupt_reason is None:
            self.interrupt_reason = ending
        self.interrupt.set()
        self.progress.set()

    def authorize(self, token: str | None) -> bool:
        """Check a token sent in a message (browsers cannot set headers)."""
        self.authorized = self._token_ok(token)
        return self.authorized

    def send(self, event: Event | Ending) -> None:
        """Queue an event (or the ending) for the sender task."""
        if isinstance(event, ErrorEvent):
            self.metrics.count("errors", event.code)
        self.outbox.put_nowait(event)

    def close(self) -> None:
        """Bookkeeping once the connection is over: drop the stream without recognizing the rest."""
        self._interrupted.cancel()
        self.feed.discard()

    def _on_events(self, events: list[Event]) -> None:
        if self.vosk:
            self.collected.extend(events)
        else:
            for event in events:
                self.send(event)

    def _on_lag(self, lag: float) -> None:
        self.lag = lag
        now = time.monotonic()
        if not self.vosk and lag > self.options.lag_warning_seconds and now - self._last_lag_event >= LAG_INTERVAL:
            self._last_lag_event = now
            self.send(Lag(round(lag, 3)))

    def _on_failure(self) -> None:
        self.end_with(error_ending("internal", "recognition failed for this session", CloseCode.INTERNAL))
