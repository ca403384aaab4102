"""Stream a file or the microphone to a hubert-stream server and print what comes back.

Torch-free: it needs ``websockets`` and ``numpy``, plus ``soundfile`` for files other
than 16-bit WAV and ``sounddevice`` for the microphone (both imported only when used)::

    python -m clients.client ws://127.0.0.1:8765/v1/stream examples/hello.wav
    python -m clients.client ws://127.0.0.1:8765/v1/stream --mic        # Ctrl-C ends the stream
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import random
import signal
import sys
import time
import wave
from collections import deque
from collections.abc import AsyncIterator, Callable, Coroutine, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidStatus, InvalidURI

from streamer.wire.events import (
    Ack,
    Config,
    Done,
    Eof,
    ErrorEvent,
    Event,
    Final,
    Finalize,
    Hotword,
    Lag,
    Partial,
    Ready,
    Resume,
    parse_event,
)
from streamer.wire.protocol import NATIVE_PATH, RESUMABLE_CLOSES
from streamer.wire.units import SAMPLE_RATE

__all__ = [
    "ClientError",
    "ResumeError",
    "SessionResult",
    "StreamClient",
    "format_event",
    "main",
    "read_audio",
    "stream_file",
    "stream_microphone",
]

log = logging.getLogger(__name__)

CHUNK_SECONDS = 0.1  # audio per binary message: small enough for live partials, big enough to be cheap
MIC_QUEUE_BLOCKS = 50  # 5 s of microphone audio waiting to be sent before the oldest is dropped
MAX_MESSAGE_BYTES = 1 << 20  # what the client accepts from the server
# Session resume (docs/protocol.md, "Resume"). The client keeps the audio the server has not yet
# acknowledged as final, at most this much; a server that falls further behind fails the stream
# (ResumeError) rather than let a failover lose words. Servers ack at every final and every second
# of silence, and end a segment after 20 s of speech at the latest.
RESUME_BUFFER_SECONDS = 60.0
RESUME_ATTEMPTS = 8  # connection tries after an abnormal close before the stream fails (ResumeError)
BACKOFF_FIRST = 0.1  # seconds: the wait before the second try; doubled each try, with full jitter
BACKOFF_MAX = 2.0  # seconds: the longest wait between two tries (8 tries: at most ~9 s of waiting)
RETRY_STATUSES = frozenset({502, 503, 504})  # refused handshakes worth another try (a full or dead replica)

MAX_REFUSAL_CHARS = 200  # of the body of an HTTP refusal, quoted in the error


class ClientError(Exception):
    """A session that could not start, or audio that could not be read; the message says why, in one line.

    The error it stands for (``OSError``, ``InvalidStatus``, ...) is its ``__cause__``.
    """


@dataclass
class SessionResult:
    """Everything a session sent, and how it ended."""

    events: list[Event] = field(default_factory=list)
    close_code: int | None = None
    close_reason: str = ""

    @property
    def finals(self) -> list[Final]:
        return [e for e in self.events if isinstance(e, Final)]

    @property
    def text(self) -> str:
        """The finals' texts joined: the transcript."""
        return " ".join(f.text for f in self.finals if f.text)


class ResumeError(ClientError):
    """The stream could not go on without losing audio: no replica took it back in time, or the
    server left more audio unacknowledged than the client keeps."""


class Unacknowledged:
    """The client's audio after the server's last ack, as sent: ``(first frame, bytes)`` blocks.

    Args:
        frame_bytes: bytes per sample frame (all channels).
        limit_frames: the most frames it holds; appending beyond raises ``ResumeError``.
    """

    def __init__(self, frame_bytes: int, limit_frames: int) -> None:
        self.frame_bytes = frame_bytes
        self.limit_frames = limit_frames
        self.blocks: deque[tuple[int, bytes]] = deque()
        self.start = 0  # first frame not acknowledged
        self.end = 0  # frames sent since the stream began

    @property
    def frames(self) -> int:
        return self.end - self.start

    def append(self, data: bytes) -> None:
        frames = len(data) // self.frame_bytes
        if self.frames + frames > self.limit_frames:
            raise ResumeError(
                f"the server has not acknowledged the last {self.frames + frames} sample frames "
                f"(over the {self.limit_frames} this client keeps to resume without loss); "
                "it is too far behind: give it fewer streams, or raise max_unacked_seconds"
            )
        self.blocks.append((self.end, data))
        self.end += frames

    def acknowledge(self, offset: int) -> None:
        """Forget the audio before ``offset``."""
        self.start = max(self.start, min(offset, self.end))
        while self.blocks and self.blocks[0][0] + len(self.blocks[0][1]) // self.frame_bytes <= self.start:
            self.blocks.popleft()

    def after(self, offset: int) -> bytes | None:
        """The kept audio from frame ``offset`` to the end of its block; None at the end."""
        for first, data in self.blocks:
            stop = first + len(data) // self.frame_bytes
            if first <= offset < stop:
                return data[(offset - first) * self.frame_bytes :]
        return None


class StreamClient:
    """One native-protocol stream, which resumes by itself when its connection breaks::

        async with StreamClient(uri, sample_rate=48_000) as client:
            await client.send_audio(block)       # int16 or float32 samples, or raw bytes
            await client.eof()
            async for event in client.events():
                print(event)

    Resume: the client keeps the audio the server has not acknowledged as final (``ack`` events),
    up to ``max_unacked_seconds``. When the connection ends abnormally (1001, 1006, 1011, 1012,
    1013) while you iterate ``events()``, it connects to the same ``uri`` again (so a load
    balancer picks a live replica), with exponential back-off and jitter, at most
    ``RESUME_ATTEMPTS`` tries, refused handshakes (502-504, connection refused) included; it
    opens the new session at the last ack, sends the audio after it again (and ``eof`` if you had
    sent it), and carries on. ``events()`` is one stream: no final twice (a final of a segment
    already delivered is dropped), times and segment numbers continuing; a resumed session's
    ``ready`` and the ``ack`` events are not shown. When the stream cannot go on without losing
    audio, ``send_audio`` or ``events()`` raise ``ResumeError``. A server without resume (no
    ``resume`` echoed in its ``ready``) gets plain sessions: after ``max_unacked_seconds`` the
    client stops keeping audio. The first connection is not retried: a refusal there is yours.

    Args:
        uri: ``ws://host:port/v1/stream``.
        sample_rate: rate of the audio you send, 8000-192000 Hz.
        encoding: ``pcm_s16le`` or ``pcm_f32le``.
        channels: interleaved channels per frame.
        token: bearer token, when the server wants one.
        token_in_message: send the token in the config message (as browsers must) instead of a header.
        resume: resume after an abnormal close (False: one session, as servers without resume give).
        max_unacked_seconds: the most unacknowledged audio kept for a resume.
        hotwords: words or phrases the finals should spell where they are heard (names, terms), each a
            phrase, ``(phrase, boost)``, ``(phrase, boost, sounds_like)`` or a ``Hotword``; the server
            checks them (``bad_config`` when it refuses one).
    """

    def __init__(
        self,
        uri: str,
        sample_rate: int = SAMPLE_RATE,
        encoding: str = "pcm_s16le",
        channels: int = 1,
        token: str | None = None,
        token_in_message: bool = False,
        resume: bool = True,
        max_unacked_seconds: float = RESUME_BUFFER_SECONDS,
        hotwords: Sequence[str | tuple | Hotword] = (),
    ) -> None:
        self.uri = uri
        # A bad rate, encoding or channel count is a ValueError here, not a close from the server.
        self.config = Config(
            sample_rate,
            encoding,
            channels,
            token if token_in_message else None,
            Resume(0, 0) if resume else None,
            tuple(h if isinstance(h, Hotword) else Hotword(h) if isinstance(h, str) else Hotword(*h) for h in hotwords),
        )
        self.dtype = np.dtype("<i2") if encoding == "pcm_s16le" else np.dtype("<f4")
        self.headers = {}
        if token is not None and not token_in_message:
            self.headers["Authorization"] = f"Bearer {token}"
        self.ws: ClientConnection | None = None
        frame_bytes = self.dtype.itemsize * channels
        self.unacked = Unacknowledged(frame_bytes, int(max_unacked_seconds * sample_rate)) if resume else None
        self.acked = Resume(0, 0)  # the server's last ack: where a resumed session starts
        self.resumed_at: list[Resume] = []  # where each resumed session began
        self._confirmed = False  # the server echoed the resume point: it sends acks
        self._delivered = 0  # segments whose final the user has seen
        self._eof = False  # eof was sent: a resumed session sends it again after the replay
        self._replaying = False  # a resume is under way: new audio waits in `unacked` for its replay
        self._replay_task: asyncio.Future[None] | None = None

    async def __aenter__(self) -> StreamClient:
        """Connect and send the config; ``ClientError`` when there is no session to be had at ``uri``."""
        try:
            self.ws = await self._connect()
        except InvalidURI as e:
            raise ClientError(f"{self.uri} is not a websocket address; give ws://HOST:PORT{NATIVE_PATH}") from e
        except InvalidStatus as e:
            raise ClientError(_refusal(self.uri, e)) from e
        except InvalidHandshake as e:
            raise ClientError(f"{self.uri} did not answer as a websocket server: {e}") from e
        except ConnectionRefusedError as e:
            raise ClientError(f"cannot connect to {self.uri}: nothing listens there (is the server running?)") from e
        except (OSError, asyncio.TimeoutError) as e:  # no route, unknown host, no answer in time
            raise ClientError(f"cannot connect to {self.uri}: {_reason(e)}") from e
        await self.ws.send(self.config.to_json())
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self.ws is not None
        if self._replay_task is not None:
            self._replay_task.cancel()
        await self.ws.close()

    async def send_audio(self, samples: np.ndarray | bytes) -> None:
        """Send one block: samples in the configured encoding (converted if needed), or raw bytes."""
        assert self.ws is not None, "use StreamClient in an async with block"
        if isinstance(samples, np.ndarray):
            samples = _convert(samples, self.dtype).tobytes()
        if self.unacked is not None:
            try:
                self.unacked.append(samples)
            except ResumeError:
                if self._confirmed:
                    raise
                log.warning("the server does not acknowledge audio (no resume): this stream cannot resume")
                self.unacked = None
        await self._send(samples)

    async def finalize(self) -> None:
        """End the current segment now."""
        assert self.ws is not None
        await self._send(Finalize().to_json())

    async def eof(self) -> None:
        """No more audio: the server sends the last finals, then done, then closes."""
        assert self.ws is not None
        self._eof = True
        await self._send(Eof().to_json())

    async def events(self) -> AsyncIterator[Event]:
        """Server events until the stream ends (see ``close_code``), across resumed sessions."""
        assert self.ws is not None
        while True:
            ws = self.ws
            try:
                async for message in ws:
                    for event in self._take(parse_event(message)):
                        yield event
            except ConnectionClosed:
                pass  # an error close; close_code says which
            if self.unacked is None or ws.close_code not in RESUMABLE_CLOSES:
                return
            log.info("session closed with %s; resuming at frame %d", ws.close_code, self.acked.offset)
            await self._resume()

    @property
    def resumes(self) -> int:
        """How many times the stream was resumed in a new session."""
        return len(self.resumed_at)

    @property
    def close_code(self) -> int | None:
        return None if self.ws is None else self.ws.close_code

    @property
    def close_reason(self) -> str:
        return "" if self.ws is None or self.ws.close_reason is None else self.ws.close_reason

    # ----- resume ---------------------------------------------------------------------------------

    async def _connect(self) -> ClientConnection:
        return await connect(self.uri, additional_headers=self.headers, compression=None, max_size=MAX_MESSAGE_BYTES)

    async def _send(self, message: str | bytes) -> None:
        """Send on the live session; while a resume is under way its replay sends it instead."""
        if self._replaying:
            return
        try:
            await self.ws.send(message)
        except ConnectionClosed:
            if self.unacked is None:
                raise
            # The connection broke: events() resumes and replays this from `unacked`.

    def _take(self, event: Event) -> list[Event]:
        """The events the user sees for one from the server: acks, a resumed session's ready and
        finals (or partials) of segments already delivered are the client's own business."""
        if isinstance(event, Ack):
            self.acked = Resume(event.offset, event.segment)
            if self.unacked is not None:
                self.unacked.acknowledge(event.offset)
            return []
        if isinstance(event, Ready):
            self._confirmed = self._confirmed or event.resume is not None
            return [] if self.resumed_at else [event]
        if isinstance(event, (Final, Partial)) and event.segment < self._delivered:
            return []  # the replay recognized again what was final before the failover
        if isinstance(event, Final):
            self._delivered = event.segment + 1
        return [event]

    async def _resume(self) -> None:
        """Connect again (back-off and jitter) and open a session at the last ack; the audio after
        it is replayed by a task while ``events()`` reads on (a reader that stopped to replay a
        minute of audio would stall the server's events, and so its reading of that audio)."""
        assert self.unacked is not None
        self._replaying = True
        last: Exception | None = None
        for attempt in range(RESUME_ATTEMPTS):
            if attempt:
                await asyncio.sleep(random.uniform(0, min(BACKOFF_MAX, BACKOFF_FIRST * 2 ** (attempt - 1))))
            try:
                ws = await self._connect()
                await ws.send(replace(self.config, resume=self.acked).to_json())
            except InvalidStatus as e:
                if e.response.status_code not in RETRY_STATUSES:
                    raise ResumeError(f"could not resume the stream: {_refusal(self.uri, e)}") from e
                last = e
            except (OSError, InvalidHandshake, TimeoutError, ConnectionClosed) as e:
                last = e
            else:
                self.ws = ws
                self.resumed_at.append(self.acked)
                self._replay_task = asyncio.ensure_future(self._replay(ws, self.acked.offset))
                return
        raise ResumeError(f"could not resume the stream after {RESUME_ATTEMPTS} tries: {last}") from last

    async def _replay(self, ws: ClientConnection, position: int) -> None:
        """Send the unacknowledged audio from ``position`` on ``ws``, and what comes meanwhile; then eof
        if it was sent, and hand sending back to ``send_audio``."""
        assert self.unacked is not None
        try:
            while (block := self.unacked.after(position)) is not None:
                await ws.send(block)
                position += len(block) // self.unacked.frame_bytes
            if self._eof:
                await ws.send(Eof().to_json())
        except ConnectionClosed:
            return  # events() sees the close and resumes again
        # No await since the last check: every block sent meanwhile went with the replay.
        if ws is self.ws:
            self._replaying = False


def _refusal(uri: str, refused: InvalidStatus) -> str:
    """One line for a handshake the server answered with an HTTP error, quoting the server's reason."""
    response = refused.response
    said = " ".join(bytes(response.body or b"").decode("utf-8", "replace").split())[:MAX_REFUSAL_CHARS]
    hint = ""
    if response.status_code == 401:
        hint = "; give the server's token (--token)"
    elif response.status_code == 404 and not said:
        hint = f"; the native protocol is at {NATIVE_PATH}"
    return (
        f"{uri} refused the session: HTTP {response.status_code} {response.reason_phrase}"
        + (f": {said}" if said else "")
        + hint
    )


def _reason(error: BaseException) -> str:
    if isinstance(error, OSError) and error.strerror:
        return error.strerror
    return " ".join(str(error).split()) or type(error).__name__


def _convert(samples: np.ndarray, dtype: np.dtype) -> np.ndarray:
    if samples.dtype == dtype:
        return samples
    if np.issubdtype(samples.dtype, np.floating) and dtype.kind == "i":
        return (np.clip(samples, -1.0, 1.0) * 32767).astype(dtype)
    if samples.dtype == np.int16 and dtype.kind == "f":
        return (samples / 32768.0).astype(dtype)
    return samples.astype(dtype)


def read_audio(path: str | Path) -> tuple[np.ndarray, int]:
    """A sound file as int16 ``[frames, channels]`` and its rate (16-bit WAV without soundfile).

    Raises:
        ClientError: the file is missing, a folder, or not audio that can be read here.
    """
    path = Path(path)
    if not path.exists():
        raise ClientError(f"cannot read {path}: no such file")
    if path.is_dir():
        raise ClientError(f"cannot read {path}: it is a directory")
    try:
        import soundfile
    except (ImportError, OSError):  # not installed, or no libsndfile
        soundfile = None
    if soundfile is not None:
        try:
            data, rate = soundfile.read(str(path), dtype="int16", always_2d=True)
        except (soundfile.SoundFileError, OSError, RuntimeError) as e:
            reason = (getattr(e, "error_string", None) or _reason(e)).rstrip(".")
            raise ClientError(f"cannot read {path}: {reason} (not audio libsndfile can read?)") from e
        return data, rate
    try:
        with wave.open(str(path), "rb") as w:
            if w.getsampwidth() != 2:
                raise ClientError(
                    f"cannot read {path}: only 16-bit WAV can be read without soundfile; pip install soundfile"
                )
            frames = np.frombuffer(w.readframes(w.getnframes()), dtype="<i2")
            return frames.reshape(-1, w.getnchannels()), w.getframerate()
    except (wave.Error, EOFError, OSError) as e:
        raise ClientError(
            f"cannot read {path}: not a WAV file ({_reason(e)}); pip install soundfile for other formats"
        ) from e


async def _collect(client: StreamClient, on_event: Callable[[Event], None] | None) -> SessionResult:
    result = SessionResult()
    async for event in client.events():
        result.events.append(event)
        if on_event is not None:
            on_event(event)
    result.close_code, result.close_reason = client.close_code, client.close_reason
    return result


async def _send_and_collect(
    client: StreamClient, send: Coroutine[Any, Any, None], on_event: Callable[[Event], None] | None
) -> SessionResult:
    """Send (a coroutine) while collecting events; when the server ends the session first, sending stops."""
    sender = asyncio.ensure_future(send)
    receiver = asyncio.ensure_future(_collect(client, on_event))
    try:
        await asyncio.wait({sender, receiver}, return_when=asyncio.FIRST_COMPLETED)
        if sender.done() and not sender.cancelled():
            error = sender.exception()
            if error is not None and not isinstance(error, ConnectionClosed):
                raise error  # a local failure (file, microphone): the server would wait for audio forever
        return await receiver
    finally:
        sender.cancel()
        receiver.cancel()


async def stream_file(
    uri: str,
    path: str | Path,
    realtime: bool = False,
    chunk_seconds: float = CHUNK_SECONDS,
    token: str | None = None,
    on_event: Callable[[Event], None] | None = None,
    hotwords: Sequence[str | tuple | Hotword] = (),
) -> SessionResult:
    """Send a sound file (as fast as the server takes it, or at ``realtime`` pace) and collect the events
    (``hotwords`` as ``StreamClient`` takes them).

    Raises:
        ClientError: the file cannot be read, or there is no session to be had at ``uri``.
    """
    audio, rate = read_audio(path)
    chunk = max(1, int(rate * chunk_seconds))
    async with StreamClient(uri, sample_rate=rate, channels=audio.shape[1], token=token, hotwords=hotwords) as client:

        async def send() -> None:
            start = time.monotonic()
            for i, first in enumerate(range(0, len(audio), chunk)):
                if realtime:
                    await asyncio.sleep(max(0.0, start + i * chunk_seconds - time.monotonic()))
                await client.send_audio(audio[first : first + chunk])
            await client.eof()

        return await _send_and_collect(client, send(), on_event)


async def stream_microphone(
    uri: str,
    stop: asyncio.Event,
    sample_rate: int = SAMPLE_RATE,
    device: int | str | None = None,
    token: str | None = None,
    on_event: Callable[[Event], None] | None = None,
    hotwords: Sequence[str | tuple | Hotword] = (),
) -> SessionResult:
    """Send the microphone until ``stop`` is set, then eof; collect the events (``hotwords`` as
    ``StreamClient`` takes them).

    Raises:
        ClientError: no sounddevice/PortAudio, a microphone that cannot be opened, or no session at ``uri``.
    """
    try:
        import sounddevice
    except (ImportError, OSError) as e:
        raise ClientError(f"the microphone needs sounddevice and PortAudio: pip install sounddevice ({e})") from e
    # An unknown device is a ValueError; PortAudio's own refusals are PortAudioError.
    microphone_errors = (getattr(sounddevice, "PortAudioError", ValueError), ValueError)
    loop = asyncio.get_running_loop()
    blocks: asyncio.Queue[np.ndarray] = asyncio.Queue(MIC_QUEUE_BLOCKS)

    def offer(block: np.ndarray) -> None:  # on the loop: never block, drop the oldest when full
        if blocks.full():
            blocks.get_nowait()
        blocks.put_nowait(block)

    def callback(indata: np.ndarray, frames: int, when: object, status: object) -> None:
        loop.call_soon_threadsafe(offer, indata[:, 0].copy())  # PortAudio's thread: copy and hand over

    async with StreamClient(uri, sample_rate=sample_rate, token=token, hotwords=hotwords) as client:

        async def send() -> None:
            with contextlib.ExitStack() as opened:
                try:
                    opened.enter_context(
                        sounddevice.InputStream(
                            samplerate=sample_rate, channels=1, dtype="int16", device=device,
                            blocksize=int(sample_rate * CHUNK_SECONDS), callback=callback,
                        )
                    )  # fmt: skip
                except microphone_errors as e:
                    raise ClientError(f"cannot open the microphone: {_reason(e)}") from e
                stopper = asyncio.ensure_future(stop.wait())
                while not stop.is_set():
                    getter = asyncio.ensure_future(blocks.get())
                    await asyncio.wait({getter, stopper}, return_when=asyncio.FIRST_COMPLETED)
                    if getter.done():
                        await client.send_audio(getter.result())
                    else:
                        getter.cancel()
                stopper.cancel()
            await asyncio.sleep(0)  # run the hand-overs PortAudio scheduled before the stream closed
            while not blocks.empty():  # what was captured before the stop still counts
                await client.send_audio(blocks.get_nowait())
            await client.eof()

        return await _send_and_collect(client, send(), on_event)


def format_event(event: Event) -> str:
    """One human-readable line per event."""
    if isinstance(event, Partial):
        return f"  ... {event.text}"
    if isinstance(event, Final):
        return f"[{event.start:7.2f} - {event.end:7.2f}] {event.text}"
    if isinstance(event, Ready):
        return f"(session {event.session}, send {event.sample_rate} Hz)"
    if isinstance(event, ErrorEvent):
        return f"error {event.code}: {event.message}"
    if isinstance(event, Lag):
        return f"(server is {event.seconds:.1f} s behind)"
    if isinstance(event, Done):
        return "(done)"
    return event.to_json()


def _hotword(text: str) -> Hotword:
    """``PHRASE[=SOUNDS LIKE[,SOUNDS LIKE...]][:BOOST]`` (argparse names a boost that is not a number)."""
    try:
        return Hotword.from_text(text)
    except ValueError as e:
        raise argparse.ArgumentTypeError(str(e)) from None


def main(argv: list[str] | None = None) -> int:
    """``python -m clients.client URI FILE`` or ``python -m clients.client URI --mic``."""
    parser = argparse.ArgumentParser(prog="python -m clients.client", description=__doc__.splitlines()[0])
    parser.add_argument("uri", help="server address, e.g. ws://127.0.0.1:8765/v1/stream")
    parser.add_argument("file", nargs="?", help="sound file to send")
    parser.add_argument("--mic", action="store_true", help="send the microphone instead (Ctrl-C to stop)")
    parser.add_argument("--device", default=None, help="microphone: device number or name")
    parser.add_argument("--rate", type=int, default=SAMPLE_RATE, help="microphone: sample rate (default: %(default)s)")
    parser.add_argument("--realtime", action="store_true", help="send the file at real-time pace")
    parser.add_argument("--token", default=None, help="bearer token, if the server requires one")
    parser.add_argument(
        "--hotword", action="append", default=[], type=_hotword, metavar="PHRASE[=SOUNDS_LIKE,...][:BOOST]",
        help="a word or phrase the finals should spell where it is heard (repeatable); SOUNDS_LIKE: spellings of how "
        "it sounds (Siobhan=she vawn); BOOST: the server's default if left out",
    )  # fmt: skip
    parser.add_argument("--json", action="store_true", help="print events as JSON lines")
    parser.add_argument("--quiet", action="store_true", help="print only the finals")
    args = parser.parse_args(argv)
    if (args.file is None) == (not args.mic):
        parser.error("give a FILE or --mic")

    def show(event: Event) -> None:
        if args.quiet and not isinstance(event, Final):
            return
        print(event.to_json() if args.json else format_event(event), flush=True)

    async def go() -> SessionResult:
        if args.file is not None:
            return await stream_file(args.uri, args.file, args.realtime, token=args.token, on_event=show, hotwords=args.hotword)
        stop = asyncio.Event()
        asyncio.get_running_loop().add_signal_handler(signal.SIGINT, stop.set)
        device = int(args.device) if args.device is not None and args.device.isdigit() else args.device
        return await stream_microphone(args.uri, stop, args.rate, device, args.token, on_event=show, hotwords=args.hotword)

    try:
        result = asyncio.run(go())
    except (ClientError, OSError) as e:  # OSError: the connection broke during the session
        print(f"error: {e}", file=sys.stderr)
        return 1
    if result.close_code not in (1000, None):
        print(f"the server closed the session: {result.close_code} {result.close_reason}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
