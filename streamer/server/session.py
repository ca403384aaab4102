"""One websocket session on the event loop, the part every protocol shares: its worker feed, its
outbox, its timeouts, backpressure, authorization and closing.

Each protocol is a ``Session`` subclass of its own, side by side (``NativeSession`` in
``streamer.server.native``, ``VoskSession`` in ``streamer.server.vosk``), registered by name in
``streamer.server.protocols``. A subclass says what differs between protocols -- its path, its
default sample rate, where its token may go, how the worker's events reach the client, how lag is
reported, how shutdown ends it -- and serves the connection in ``run``: it reads with
``next_message``, takes audio with ``accept_audio``, checks a token with ``authorize``, and writes
with ``write`` (or queues for a sender task with ``send``). ``streamer.server.app`` creates the
registered class for each connection and ends sessions on shutdown with ``end_with``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
import time
from abc import ABC, abstractmethod
from collections.abc import Sequence
from typing import Any, ClassVar

from websockets.asyncio.server import ServerConnection
from websockets.exceptions import ConcurrencyError, ConnectionClosed
from websockets.frames import Close

from streamer.server.ending import MESSAGE_TOO_BIG, RECOGNITION_FAILED, SHUTTING_DOWN, Ending, error_ending
from streamer.server.feed import Feed
from streamer.server.http import HttpFront
from streamer.server.metrics import Metrics
from streamer.server.options import ServerOptions
from streamer.server.worker import InferenceWorker
from streamer.wire.events import ErrorEvent, Event
from streamer.wire.protocol import CloseCode, ProtocolError
from streamer.wire.units import SAMPLE_RATE

__all__ = [
    "AUTH_SECONDS", "CLOSE_TIMEOUT", "MAX_PENDING_MESSAGES", "WRITE_TIMEOUT",
    "Session", "WriteTimeout", "close", "refused_too_big",
]  # fmt: skip

log = logging.getLogger(__name__)

AUTH_SECONDS = 3.0  # a browser sending its token in the first message must do so this soon
WRITE_TIMEOUT = 10.0  # seconds one event may wait for a client that reads nothing; then 4008
CLOSE_TIMEOUT = 2.0  # seconds the closing handshake waits for the client's close frame, then drops TCP
MAX_OUTBOX = 256  # events waiting for a slow reader before the server stops reading its audio
MAX_PENDING_MESSAGES = 64  # audio and finalize messages per session queued for recognition (backpressure)


class Session(ABC):
    """One connection on the event loop, whatever its protocol: its worker feed, its outbox, its timeouts.

    A protocol subclasses it, sets the class attributes below where it differs, and implements
    ``run`` and ``deliver``.

    Args:
        ws: the connection.
        options: the server's limits.
        worker: the inference worker the session's audio goes to.
        metrics: where error events are counted.
        front: the HTTP side, which checks tokens and hands out session slots.
        authorized: whether the handshake already carried the right token (or none is required).
    """

    path: ClassVar[str | None] = None  # the one websocket path it is served at; None: every path
    sample_rate: ClassVar[int] = SAMPLE_RATE  # Hz of the binary audio until a config says otherwise
    token_hint: ClassVar[str] = "in the first message"  # where a token goes besides the Authorization header

    def __init__(
        self,
        ws: ServerConnection,
        options: ServerOptions,
        worker: InferenceWorker,
        metrics: Metrics,
        front: HttpFront,
        authorized: bool,
    ) -> None:
        self.ws = ws
        self.options = options
        self.metrics = metrics
        self.front = front
        self.id = secrets.token_hex(6)
        self.authorized = authorized
        self.progress = asyncio.Event()  # set when queued audio or the outbox shrinks
        self.feed = Feed(worker, self.sample_rate, self.deliver, self._on_lag, self._on_failure, self.progress)
        self.outbox: asyncio.Queue[Event | Ending] = asyncio.Queue()  # for a protocol with a sender task
        self.lag = 0.0  # how far behind real time the last audio was recognized
        self.started = self.last_audio = time.monotonic()
        self.deadline = self.started + options.max_session_seconds  # the wall-clock limit
        self.interrupt = asyncio.Event()  # set by shutdown or a worker failure
        self.interrupt_reason: Ending | None = None
        self._interrupted = asyncio.ensure_future(self.interrupt.wait())
        self.task = asyncio.current_task()  # the connection's handler, cancelled by force()
        self.forced = False

    # ----- what each protocol says -----------------------------------------------------------------

    @abstractmethod
    async def run(self) -> None:
        """Serve the session to its end; raises ``ConnectionClosed`` when the client went away."""

    @abstractmethod
    def deliver(self, events: list[Event]) -> None:
        """Take the worker's events for this session, on the loop: send them (``send``) or keep them for a reply."""

    def report_lag(self, lag: float) -> None:
        """Recognition is ``lag`` seconds behind real time (also in ``self.lag``); by default the client is not told."""

    def shutdown_ending(self) -> Ending:
        """How the session ends when the server shuts down: by default its finals, then 1001."""
        return SHUTTING_DOWN

    # ----- what every protocol shares --------------------------------------------------------------

    async def next_message(self, within: float | None = None) -> str | bytes | Ending:
        """The next client message, or why the session must end instead (shutdown, timeouts, a message
        over the size limit, which the websocket layer has already closed with 1009).

        ``within``: the message must come this soon (the token), else the idle timeout applies.
        """
        now = time.monotonic()
        limit = self.last_audio + self.options.idle_timeout if within is None else now + within
        receive = asyncio.ensure_future(self.ws.recv())
        try:
            done, _ = await asyncio.wait(
                {receive, self._interrupted},
                timeout=max(0.0, min(limit, self.deadline) - now),
                return_when=asyncio.FIRST_COMPLETED,
            )
            if receive in done:
                return receive.result()
        except ConnectionClosed as e:
            if not refused_too_big(e.sent, e.rcvd_then_sent):
                raise
            return MESSAGE_TOO_BIG
        finally:
            # Also when this task is cancelled meanwhile (the native sender failed first, shutdown): a
            # recv() left running ends with the connection's close, which asyncio would log as a task
            # exception never retrieved. Cancelling is safe: websockets' recv() loses nothing.
            if not receive.cancel() and not receive.cancelled():
                receive.exception()  # it finished: its outcome is read (or was, above)
        if self.interrupt_reason is not None:
            return self.interrupt_reason
        if time.monotonic() >= self.deadline:
            return self._max_duration()
        if within is not None:
            return error_ending("unauthorized", f"no token within {within:g} s", CloseCode.POLICY)
        seconds = self.options.idle_timeout
        return error_ending("idle_timeout", f"no audio for {seconds:g} s", CloseCode.IDLE_TIMEOUT, True)

    async def wait_for_room(self) -> Ending | None:
        """Backpressure: stop reading while too much audio, too many messages or too many events wait.

        Returns why the session must end instead (shutdown, failure, the wall-clock limit), if it must.
        """
        while self.interrupt_reason is None and (
            self.feed.pending_seconds > self.options.max_buffer_seconds
            or self.feed.pending_jobs >= MAX_PENDING_MESSAGES
            or self.outbox.qsize() > MAX_OUTBOX
        ):
            self.progress.clear()
            left = self.deadline - time.monotonic()
            if left <= 0:
                return self._max_duration()
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self.progress.wait(), left)
        return self.interrupt_reason

    def accept_audio(self, data: bytes) -> tuple[asyncio.Future[float] | None, Ending | None]:
        """Queue one binary message for recognition: its job's future, and an ending at the audio limit.

        Raises ``ProtocolError('bad_audio')``. Audio past ``max_session_seconds`` of the session's own
        clock is dropped and the session ends with ``max_duration`` (after the finals of what it kept).
        """
        limit = self.options.max_session_seconds
        try:
            future = self.feed.accept(data, max_seconds=limit - self.feed.audio_seconds)
        except ValueError as e:
            raise ProtocolError("bad_audio", f"{e}; the message was dropped") from None
        self.last_audio = time.monotonic()
        left = round((limit - self.feed.audio_seconds) * self.feed.format.sample_rate)  # whole frames
        ending = self._max_duration() if left <= 0 else None
        return future, ending

    async def write(self, text: str) -> None:
        """Send one message; a client that reads nothing for ``WRITE_TIMEOUT`` raises ``WriteTimeout``."""
        try:
            await asyncio.wait_for(self.ws.send(text), WRITE_TIMEOUT)
        except asyncio.TimeoutError:
            raise WriteTimeout from None

    def end_with(self, ending: Ending) -> None:
        """Make the session end at its next read (shutdown, worker failure)."""
        if self.interrupt_reason is None:
            self.interrupt_reason = ending
        self.interrupt.set()
        self.progress.set()

    def force(self) -> None:
        """The shutdown grace is over: stop whatever the session waits for and close it (1001)."""
        self.forced = True
        if self.task is not None:
            self.task.cancel()

    def session_decoder(self, hotwords: Sequence[Any]) -> Any:
        """The decoder of this session's stream: the model's, with ``hotwords`` (the wire's
        ``Hotword``s; a boost of None is the default) when there are any; for ``Feed.configure``.

        Raises ``ProtocolError('bad_config')`` naming what is wrong with the hotwords (too many, too
        long, a boost out of range, a character the model cannot spell, a bad sounds-like spelling).
        """
        if not hotwords:
            return None
        from model.decoding import DEFAULT_BOOST, Hotword

        base = self.feed.worker.model.decoder
        try:
            return base.with_hotwords(
                [Hotword(h.phrase, DEFAULT_BOOST if h.boost is None else h.boost, h.sounds_like) for h in hotwords]
            )
        except ValueError as e:
            raise ProtocolError("bad_config", f"hotwords: {e}") from None

    def authorize(self, token: object) -> Ending | None:
        """Check a token sent in a message (browsers cannot set headers) and take a session slot.

        Returns why the session must end instead: a wrong or missing token (1008), or every slot
        taken meanwhile (1013).
        """
        if not self.front.token_ok(token):  # type: ignore[arg-type]
            return error_ending(
                "unauthorized", f"send the token in an Authorization header or {self.token_hint}", CloseCode.POLICY
            )
        if not self.front.promote(self.ws):
            return error_ending("capacity", "too many sessions; try again later", CloseCode.TRY_AGAIN_LATER)
        self.authorized = True
        return None

    def send(self, event: Event | Ending) -> None:
        """Queue an event (or the ending) for the sender task."""
        if isinstance(event, ErrorEvent):
            self.metrics.count("errors", event.code)
        self.outbox.put_nowait(event)

    def close(self) -> None:
        """Bookkeeping once the connection is over: drop the stream without recognizing the rest."""
        self._interrupted.cancel()
        self.feed.discard()

    def _max_duration(self) -> Ending:
        seconds = self.options.max_session_seconds
        return error_ending("max_duration", f"sessions last at most {seconds:g} s", CloseCode.MAX_DURATION, True)

    def _on_lag(self, lag: float) -> None:
        self.lag = lag
        self.report_lag(lag)

    def _on_failure(self) -> None:
        self.end_with(RECOGNITION_FAILED)


def refused_too_big(sent: Close | None, rcvd_then_sent: bool | None) -> bool:
    """Whether the websocket layer closed the connection itself for a message over ``max_size`` (or in too
    many fragments): it sent 1009 first, not in answer to a close from the client."""
    return sent is not None and sent.code == CloseCode.TOO_BIG and not rcvd_then_sent


class WriteTimeout(Exception):
    """The client read nothing for ``WRITE_TIMEOUT`` while the server had events for it."""


async def close(ws: ServerConnection, code: int, reason: str = "") -> None:
    """The closing handshake, reading (and dropping) what the client still sends meanwhile, within the close timeout.

    Without the reading, the client's close frame waits behind its unread audio, the connection
    and its slot stay open for the close timeout, and the session ends as 1006.
    """
    drain = asyncio.ensure_future(_drain(ws))
    try:
        # websockets bounds the wait for the client's close frame, not the write of ours: a client
        # that reads nothing would hold it forever. Past the close timeout, drop the connection.
        await asyncio.wait_for(ws.close(code, reason), CLOSE_TIMEOUT + 0.5)
    except asyncio.TimeoutError:
        ws.transport.abort()
    finally:
        drain.cancel()


async def _drain(ws: ServerConnection) -> None:
    with contextlib.suppress(ConnectionClosed, ConcurrencyError):  # ConcurrencyError: someone else reads
        while True:
            await ws.recv()
