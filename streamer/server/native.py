"""The native protocol (``/v1/stream``, docs/protocol.md): a receiver task and the one sender task.

The receiver reads and acts on client messages until the session must end; the sender is the only
writer (events in order, then the close). ``NativeSession.run`` waits for the first of them to
finish (``asyncio.wait(FIRST_COMPLETED)``) and then delivers the ending: the last finals, ``done``,
the close. Every event the worker gives is sent as it comes, with ``lag`` events while recognition
is behind, and on the client's own clock in a session opened with a resume point.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

from streamer.server.ending import RECOGNITION_FAILED, SHUTTING_DOWN, Ending, error_ending
from streamer.server.resume import RESTARTING, ResumeClock, resume_clock
from streamer.server.session import AUTH_SECONDS, Session, close
from streamer.wire.events import Config, Done, Eof, ErrorEvent, Event, Finalize, Lag, Ready, parse_native
from streamer.wire.protocol import NATIVE_PATH, CloseCode, ProtocolError, token_of

__all__ = ["LAG_INTERVAL", "NativeSession"]

LAG_INTERVAL = 1.0  # seconds between two lag events of one session


class NativeSession(Session):
    """A session of the native protocol: typed JSON events, each sent as the worker gives it."""

    path = NATIVE_PATH
    token_hint = 'as "token" in the first message'

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.clock: ResumeClock | None = None  # set by a config with a resume point
        self._last_lag_event = float("-inf")

    async def run(self) -> None:
        receiver = asyncio.ensure_future(self._receive())
        sender = asyncio.ensure_future(self._send_events())
        try:
            await asyncio.wait({receiver, sender}, return_when=asyncio.FIRST_COMPLETED)
            if sender.done():
                sender.result()  # raises ConnectionClosed when the client went away
                return
            ending = receiver.result()
            if ending.flush:
                try:
                    await self.feed.close()
                except Exception:
                    ending = RECOGNITION_FAILED
            if ending.error is not None:
                self.send(ending.error)
            if ending.done:
                self.send(Done())
            self.send(ending)
            await sender
        finally:
            receiver.cancel()
            sender.cancel()

    def deliver(self, events: list[Event]) -> None:
        if self.clock is not None:  # a resumable session: on the client's clock, with acks
            events = self.clock.events(events, self.feed.samples_final, self.feed.audio.samples_in)
        for event in events:
            self.send(event)

    def report_lag(self, lag: float) -> None:
        now = time.monotonic()
        if lag > self.options.lag_warning_seconds and now - self._last_lag_event >= LAG_INTERVAL:
            self._last_lag_event = now
            self.send(Lag(round(lag, 3)))

    def shutdown_ending(self) -> Ending:
        """A resumable session resumes on another replica (1012, no finals); others get theirs, then 1001."""
        return RESTARTING if self.clock is not None else SHUTTING_DOWN

    async def _receive(self) -> Ending:
        first: str | bytes | Ending | None = None
        if not self.authorized:  # no Authorization header: the first message must carry the token
            first = await self.next_message(within=AUTH_SECONDS)
            if isinstance(first, Ending):
                return first
            refusal = self.authorize(None if isinstance(first, bytes) else token_of(first))
            if refusal is not None:
                return refusal
        self.send(Ready(self.id, self.feed.format.sample_rate))
        while True:
            if first is not None:
                message, first = first, None  # the authorizing message may also be a config
            else:
                message = await self.wait_for_room() or await self.next_message()
            if isinstance(message, Ending):
                return message
            ending = self._on_message(message)
            if ending is not None:
                return ending

    def _on_message(self, message: str | bytes) -> Ending | None:
        """Act on one message; an ``Ending`` when the session must end."""
        try:
            if isinstance(message, bytes):
                return self.accept_audio(message)[1]
            request = parse_native(message)
        except ProtocolError as e:
            if e.close is not None:
                return error_ending(e.code, str(e), e.close)
            self.send(ErrorEvent(e.code, str(e)))
            return None
        if isinstance(request, Config):
            if self.feed.started:
                self.send(ErrorEvent("bad_message", "config must come before the audio; it was ignored"))
            else:
                try:
                    decoder = self.session_decoder(request.hotwords)
                except ProtocolError as e:
                    return error_ending(e.code, str(e), e.close)
                self.feed.configure(request.format, decoder)
                self.clock = resume_clock(request)
                self.send(Ready(self.id, self.feed.format.sample_rate, request.resume))
        elif isinstance(request, Finalize):
            self.feed.finalize()
        elif isinstance(request, Eof):
            return Ending(CloseCode.NORMAL, "", done=True)
        return None  # an auth message once authorized: nothing to do

    async def _send_events(self) -> None:
        """The only writer of a native session: events in order, then the close."""
        while True:
            item = await self.outbox.get()
            if isinstance(item, Ending):
                await close(self.ws, item.code, item.reason)
                return
            await self.write(item.to_json())
            self.progress.set()
