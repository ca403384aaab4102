"""The Vosk dialect (``--protocol vosk``): one reply per audio, eof or reset message; a config gets none.

Compatible with Vosk's own server and clients (docs/protocol.md, "Vosk protocol"); the session reads,
acts and replies in one loop.
"""

from __future__ import annotations

from streamer.server.ending import Ending, error_ending
from streamer.server.session import AUTH_SECONDS, Session, close
from streamer.wire.events import (
    AudioFormat,
    Event,
    Final,
    Partial,
    VoskConfig,
    VoskError,
    VoskPartial,
    VoskReset,
    VoskResult,
    WordTiming,
    parse_vosk,
)
from streamer.wire.protocol import CloseCode, ProtocolError

__all__ = ["run_vosk", "vosk_reply"]


async def run_vosk(s: Session) -> None:
    """Serve one Vosk session to its end; raises ``ConnectionClosed`` when the client went away."""
    while True:
        message = await s.next_message(within=None if s.authorized else AUTH_SECONDS)
        if isinstance(message, Ending):
            return await _end(s, message)
        try:
            if isinstance(message, bytes):
                if not s.authorized:
                    return await _end(s, s.authorize(None))
                future, ending = s.accept_audio(message)
                if ending is not None:  # the audio clock reached the limit: the reply is the last result
                    return await _end(s, ending)
                if future is not None:
                    await future
                await s.write(_reply(s))
                continue
            request = parse_vosk(message)
        except ProtocolError as e:
            if not s.authorized:
                return await _end(s, s.authorize(None))
            if e.close is not None:
                return await _end(s, error_ending(e.code, str(e), e.close))
            s.metrics.count("errors", e.code)
            await s.write(VoskError(str(e), e.code).to_json())
            continue
        if isinstance(request, VoskConfig):
            refusal = None if s.authorized else s.authorize(request.token)
            if refusal is not None:
                return await _end(s, refusal)
            if request.sample_rate is not None and not s.feed.started:  # like Vosk: later configs are ignored
                s.feed.configure(AudioFormat(sample_rate=request.sample_rate))
            if request.words is not None:
                s.words = request.words
        elif not s.authorized:
            return await _end(s, s.authorize(None))
        elif isinstance(request, VoskReset):
            future = s.feed.finalize()
            if future is not None:
                await future
            await s.write(_reply(s, final=True))
        else:  # eof
            await s.feed.close()
            await s.write(_reply(s, final=True))
            await close(s.ws, CloseCode.NORMAL)
            return


def _reply(s: Session, final: bool = False) -> str:
    """The reply from the events since the last one; ``final`` (eof, reset) always gives a result."""
    events, s.collected = s.collected, []
    # Vosk clients read the keys they know; "lag" says we are behind.
    lag = round(s.lag, 3) if s.lag > s.options.lag_warning_seconds else None
    reply, s.current = vosk_reply(events, s.current, s.words, final, lag)
    return reply.to_json()


async def _end(s: Session, ending: Ending) -> None:
    """A server-side end: the last result (unsolicited, the one exception to one reply each), then close."""
    if ending.flush and s.feed.started:
        await s.feed.close()
        await s.write(_reply(s, final=True))
    if ending.error is not None:
        s.metrics.count("errors", ending.error.code)
        await s.write(VoskError(ending.error.message, ending.error.code).to_json())
    await close(s.ws, ending.code, ending.reason)


def vosk_reply(
    events: list[Event], current: str, words: bool = True, final: bool = False, lag: float | None = None
) -> tuple[VoskPartial | VoskResult, str]:
    """The one reply to a Vosk message: a result if a segment ended (or ``final``), else the partial.

    Vosk's models write lowercase, so its clients expect lowercase. If the events end more than one
    segment, the result joins them. Returns ``(reply, current)`` where ``current`` is the segment's
    text after these events.
    """
    finals = [e for e in events if isinstance(e, Final)]
    for event in events:
        if isinstance(event, Partial):
            current = event.text
        elif isinstance(event, Final):
            current = ""
    if not finals and not final:
        return VoskPartial(current.lower(), lag), current
    timings = (
        tuple(WordTiming(w.word.lower(), w.start, w.end, w.confidence) for f in finals for w in f.words)
        if words
        else None
    )
    return VoskResult(" ".join(f.text.lower() for f in finals if f.text), timings, lag), current
