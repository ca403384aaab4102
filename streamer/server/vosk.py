"""The Vosk dialect (``--protocol vosk``): one reply per audio, eof or reset message; a config gets none.

Compatible with Vosk's own server and clients (docs/protocol.md, "Vosk protocol"); the session reads,
acts and replies in one loop. The worker's events are kept until the next reply, which ``vosk_reply``
makes of them; lag goes into that reply as a field, never as a message of its own.
"""

from __future__ import annotations

from typing import Any

from streamer.server.ending import Ending, error_ending
from streamer.server.session import AUTH_SECONDS, Session, close
from streamer.wire.events import (
    AudioFormat,
    Event,
    Final,
    Hypothesis,
    Partial,
    VoskAlternatives,
    VoskConfig,
    VoskError,
    VoskPartial,
    VoskReset,
    VoskResult,
    WordTiming,
    parse_vosk,
)
from streamer.wire.protocol import CloseCode, ProtocolError

__all__ = ["VOSK_SAMPLE_RATE", "VoskSession", "vosk_reply"]

VOSK_SAMPLE_RATE = 8_000  # Hz, what Vosk's server assumes when a client sends no config


class VoskSession(Session):
    """A session of the Vosk dialect, on every path: keyed JSON replies, one per client message."""

    sample_rate = VOSK_SAMPLE_RATE
    token_hint = 'as config "token"'

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.collected: list[Event] = []  # events since the last reply
        self.current = ""  # the current segment's text
        self.words = True  # include word timings in results
        self.phrases: tuple[str, ...] | None = None  # phrase_list: the grammar results keep to
        self.max_alternatives = 0  # n-best results when above 0

    async def run(self) -> None:
        while True:
            message = await self.next_message(within=None if self.authorized else AUTH_SECONDS)
            if isinstance(message, Ending):
                return await self._end(message)
            try:
                if isinstance(message, bytes):
                    if not self.authorized:
                        return await self._end(self.authorize(None))
                    future, ending = self.accept_audio(message)
                    if ending is not None:  # the audio clock reached the limit: the reply is the last result
                        return await self._end(ending)
                    if future is not None:
                        await future
                    await self.write(self._reply())
                    continue
                request = parse_vosk(message)
                if isinstance(request, VoskConfig):
                    refusal = None if self.authorized else self.authorize(request.token)
                    if refusal is not None:
                        return await self._end(refusal)
                    self._configure(request)  # nothing to reply, as Vosk
                    continue
            except ProtocolError as e:
                if not self.authorized:
                    return await self._end(self.authorize(None))
                if e.close is not None:
                    return await self._end(error_ending(e.code, str(e), e.close))
                await self._write_error(e.code, str(e))
                continue
            if not self.authorized:
                return await self._end(self.authorize(None))
            elif isinstance(request, VoskReset):
                future = self.feed.finalize()
                if future is not None:
                    await future
                await self.write(self._reply(final=True))
            else:  # eof
                await self.feed.close()
                await self.write(self._reply(final=True))
                await close(self.ws, CloseCode.NORMAL)
                return

    def deliver(self, events: list[Event]) -> None:
        self.collected.extend(events)

    def _configure(self, config: VoskConfig) -> None:
        """Take a config's settings. As in Vosk, the audio format, ``phrase_list`` and
        ``max_alternatives`` count only before the first audio (Vosk makes its recognizer then);
        ``words`` counts at any time. ``ProtocolError(bad_config)`` for a phrase the model cannot write."""
        if config.words is not None:
            self.words = config.words
        if self.feed.started:
            return
        audio_format = self.feed.format if config.sample_rate is None else AudioFormat(sample_rate=config.sample_rate)
        if config.phrase_list is not None:
            self.phrases = config.phrase_list
        if config.max_alternatives is not None:
            self.max_alternatives = config.max_alternatives
        self.feed.configure(audio_format, self._decoder(), self.max_alternatives)

    def _decoder(self) -> Any:
        """The stream's decoder: a grammar of ``phrases`` when there are any; for alternatives a beam
        search with the model's LM (greedy decoding has one hypothesis); else the model's (None)."""
        model = self.feed.worker.model
        if self.phrases is not None:
            from model.grammar import GrammarDecoder, PhraseGrammar  # the server's model side, loaded by now

            try:
                return GrammarDecoder(PhraseGrammar(self.phrases, model.vocab))
            except ValueError as e:
                raise ProtocolError("bad_config", f"phrase_list: {e}") from None
        if self.max_alternatives:  # n-best needs a beam; the server's hotwords stay with it
            return model.decoder.with_beam_search(model.lm)
        return None

    def _reply(self, final: bool = False) -> str:
        """The reply from the events since the last one; ``final`` (eof, reset) always gives a result."""
        events, self.collected = self.collected, []
        # Vosk clients read the keys they know; "lag" says we are behind.
        lag = round(self.lag, 3) if self.lag > self.options.lag_warning_seconds else None
        reply, self.current = vosk_reply(events, self.current, self.words, final, lag, self.max_alternatives > 0)
        return reply.to_json()

    async def _write_error(self, code: str, message: str) -> None:
        """The one reply to a refused message (Vosk itself has none), counted like the native error events."""
        self.metrics.count("errors", code)
        await self.write(VoskError(message, code).to_json())

    async def _end(self, ending: Ending) -> None:
        """A server-side end: the last result (unsolicited, the one exception to one reply each), then close."""
        if ending.flush and self.feed.started:
            await self.feed.close()
            await self.write(self._reply(final=True))
        if ending.error is not None:
            await self._write_error(ending.error.code, ending.error.message)
        await close(self.ws, ending.code, ending.reason)


def vosk_reply(
    events: list[Event],
    current: str,
    words: bool = True,
    final: bool = False,
    lag: float | None = None,
    alternatives: bool = False,
) -> tuple[VoskPartial | VoskResult | VoskAlternatives, str]:
    """The one reply to a Vosk message: a result if a segment ended (or ``final``), else the partial.

    Vosk's models write lowercase, so its clients expect lowercase. If the events end more than one
    segment, the result joins them. With ``alternatives`` a result is the n-best list of the finals'
    ``alternatives``. Returns ``(reply, current)`` where ``current`` is the segment's text after these
    events.
    """
    finals = [e for e in events if isinstance(e, Final)]
    for event in events:
        if isinstance(event, Partial):
            current = event.text
        elif isinstance(event, Final):
            current = ""
    if not finals and not final:
        return VoskPartial(current.lower(), lag), current
    if alternatives:
        return VoskAlternatives(_joined_alternatives(finals), words, lag), current
    timings = (
        tuple(WordTiming(w.word.lower(), w.start, w.end, w.confidence) for f in finals for w in f.words)
        if words
        else None
    )
    return VoskResult(" ".join(f.text.lower() for f in finals if f.text), timings, lag), current


def _joined_alternatives(finals: list[Final]) -> tuple[Hypothesis, ...]:
    """The n-best of the finals one reply carries: each of the last one's alternatives after the
    earlier ones' best, scores added. No final: Vosk's empty n-best, one empty text at confidence 1."""
    if not finals:
        return (Hypothesis("", 1.0),)
    head = [(f.alternatives or (Hypothesis(f.text, 0.0, f.words),))[0] for f in finals[:-1]]
    out = []
    for last in finals[-1].alternatives or (Hypothesis(finals[-1].text, 0.0, finals[-1].words),):
        parts = [*head, last]
        out.append(
            Hypothesis(
                " ".join(h.text.lower() for h in parts if h.text),
                round(sum(h.confidence for h in parts), 3),
                tuple(WordTiming(w.word.lower(), w.start, w.end, w.confidence) for h in parts for w in h.words),
            )
        )
    return tuple(out)
