"""Session resume on the server: a resumed session's clock, and the acks that let a client resume.

A client that opens a session with ``"resume": {"offset": F, "segment": N}`` in its config (a fresh
stream sends ``{"offset": 0, "segment": 0}``) gets a ``ResumeClock``: every event of the session is
moved onto the client's stream (segments numbered from N, times shifted by F / rate seconds), and
``ack`` events tell the client how much of its audio the finals now cover, in its own sample
frames, so it can replay the rest on another replica if this one goes away. Sessions without a
resume point, and the Vosk dialect, never see any of this. See docs/protocol.md, "Resume".

Small and apart from the session loop on purpose: ``resume_clock`` is called where a config is
accepted, ``ResumeClock.events`` where the worker's events reach the session, ``RESTARTING`` where the
server ends resumable sessions to stop.
"""

from __future__ import annotations

from dataclasses import replace

from streamer.server.ending import Ending
from streamer.wire.events import Ack, Config, Event, Final, Partial, WordTiming
from streamer.wire.protocol import CloseCode
from streamer.wire.units import SAMPLE_RATE

__all__ = ["ACK_SILENCE_SECONDS", "RESTARTING", "ResumeClock", "resume_clock"]

# Through a long silence no final comes, but the acknowledged point still moves: an ack at least
# every this many seconds of it keeps the audio a client must hold small.
ACK_SILENCE_SECONDS = 1.0
TIME_DECIMALS = 3  # shifted times are rounded to the millisecond (a client rate's frame may be finer)


class ResumeClock:
    """One resumable session's place in its client's stream.

    Args:
        offset: sample frames of the client's stream before this session (at ``sample_rate``).
        segment: the number of this session's first segment.
        sample_rate: the client's declared rate, in Hz.
    """

    def __init__(self, offset: int, segment: int, sample_rate: int) -> None:
        self.offset = offset
        self.first_segment = segment
        self.sample_rate = sample_rate
        self.shift = offset / sample_rate  # seconds of the stream before this session
        self.acked = offset  # client frames the last ack reported
        self.next_segment = segment  # the next final's number, as the last ack reported it

    def events(self, events: list[Event], samples_final: int, frames_received: int) -> list[Event]:
        """The session's ``events`` on the client's stream, followed by an ``ack`` when the finals
        now cover more of its audio.

        Args:
            events: the recognizer's events, as the worker delivered them.
            samples_final: the recognizer's ``samples_final`` (16 kHz samples) read with them.
            frames_received: sample frames of client audio this session has taken in.
        """
        out = [self._shifted(e) for e in events]
        next_segment = self.next_segment
        for event in out:
            if isinstance(event, Final):
                next_segment = event.segment + 1
        acked = self.offset + min(frames_received, self.client_frames(samples_final))
        silence = ACK_SILENCE_SECONDS * self.sample_rate
        if acked > self.acked and (next_segment != self.next_segment or acked - self.acked >= silence):
            self.acked, self.next_segment = acked, next_segment
            out.append(Ack(acked, next_segment))
        return out

    def client_frames(self, samples: int) -> int:
        """A 16 kHz sample count in the client's frames, rounded down: a resume replays a few
        samples twice rather than skip one."""
        return samples * self.sample_rate // SAMPLE_RATE

    def _shifted(self, event: Event) -> Event:
        if isinstance(event, Partial):
            return replace(event, segment=event.segment + self.first_segment)
        if isinstance(event, Final):
            words = tuple(
                WordTiming(w.word, self._time(w.start), self._time(w.end), w.confidence) for w in event.words
            )
            return replace(
                event,
                segment=event.segment + self.first_segment,
                start=self._time(event.start),
                end=self._time(event.end),
                words=words,
            )
        return event

    def _time(self, seconds: float) -> float:
        return round(seconds + self.shift, TIME_DECIMALS)


def resume_clock(config: Config) -> ResumeClock | None:
    """The clock of a session opened with ``config``: None when it asked for no resume point."""
    if config.resume is None:
        return None
    return ResumeClock(config.resume.offset, config.resume.segment, config.sample_rate)


# How a stopping server ends a session with a resume point: at once, with 1012 (service restart).
# The finals and acks already made go first, and the client replays the rest, unfinished segment
# included, on another replica. Flushing that segment here would end it wherever the audio stopped,
# mid-word, and the word would reach the client in two pieces; and no ``done``: not everything the
# client sent was recognized. (Sessions without one get their last final, ``done`` and 1001.)
RESTARTING = Ending(CloseCode.SERVICE_RESTART, "service restart: resume elsewhere", flush=False)
