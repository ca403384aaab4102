"""The native protocol (``/v1/stream``, docs/protocol.md): a receiver task and the one sender task.

The receiver reads and acts on client messages until the session must end; the sender is the only
writer (events in order, then the close). ``run_native`` waits for the first of them to finish
(``asyncio.wait(FIRST_COMPLETED)``) and then delivers the ending: the last finals, ``done``, the close.
"""

from __future__ import annotations

import asyncio

from streamer.server.resume import resume_clock
from streamer.server.session import AUTH_SECONDS, Session, close
from streamer.server.ending import RECOGNITION_FAILED, Ending, error_ending
from streamer.wire.events import Config, Done, Eof, ErrorEvent, Finalize, Ready, parse_native
from streamer.wire.protocol import CloseCode, ProtocolError, token_of

__all__ = ["run_native"]


async def run_native(s: Session) -> None:
    """Serve one native session to its end; raises ``ConnectionClosed`` when the client went away."""
    receiver = asyncio.ensure_future(_receive(s))
    sender = asyncio.ensure_future(_send_events(s))
    try:
        await asyncio.wait({receiver, sender}, return_when=asyncio.FIRST_COMPLETED)
        if sender.done():
            sender.result()  # raises ConnectionClosed when the client went away
            return
        ending = receiver.result()
        if ending.flush:
            try:
                await s.feed.close()
            except Exception:
                ending = RECOGNITION_FAILED
        if ending.error is not None:
            s.send(ending.error)
        if ending.done:
            s.send(Done())
        s.send(ending)
        await sender
    finally:
        receiver.cancel()
        sender.cancel()


async def _receive(s: Session) -> Ending:
    first: str | bytes | Ending | None = None
    if not s.authorized:  # no Authorization header: the first message must carry the token
        first = await s.next_message(within=AUTH_SECONDS)
        if isinstance(first, Ending):
            return first
        refusal = s.authorize(None if isinstance(first, bytes) else token_of(first))
        if refusal is not None:
            return refusal
    s.send(Ready(s.id, s.feed.format.sample_rate))
    while True:
        if first is not None:
            message, first = first, None  # the authorizing message may also be a config
        else:
            message = await s.wait_for_room() or await s.next_message()
        if isinstance(message, Ending):
            return message
        ending = _on_message(s, message)
        if ending is not None:
            return ending


def _on_message(s: Session, message: str | bytes) -> Ending | None:
    """Act on one message; an ``Ending`` when the session must end."""
    try:
        if isinstance(message, bytes):
            return s.accept_audio(message)[1]
        request = parse_native(message)
    except ProtocolError as e:
        if e.close is not None:
            return error_ending(e.code, str(e), e.close)
        s.send(ErrorEvent(e.code, str(e)))
        return None
    if isinstance(request, Config):
        if s.feed.started:
            s.send(ErrorEvent("bad_message", "config must come before the audio; it was ignored"))
        else:
            s.feed.configure(request.format)
            s.clock = resume_clock(request)
            s.send(Ready(s.id, s.feed.format.sample_rate, request.resume))
    elif isinstance(request, Finalize):
        s.feed.finalize()
    elif isinstance(request, Eof):
        return Ending(CloseCode.NORMAL, "", done=True)
    return None  # an auth message once authorized: nothing to do


async def _send_events(s: Session) -> None:
    """The only writer of a native session: events in order, then the close."""
    while True:
        item = await s.outbox.get()
        if isinstance(item, Ending):
            await close(s.ws, item.code, item.reason)
            return
        await s.write(item.to_json())
        s.progress.set()
