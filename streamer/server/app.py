"""The websocket server behind ``hubert-stream serve``: live partials and finals for many streams.

Small handlers around one shared model. One ``InferenceWorker`` thread runs every
stream's due hops together as batches; the event loop only reads, validates,
converts audio and writes events. Per connection, a receiver task reads the
client and a sender task is the only writer (``asyncio.wait(FIRST_COMPLETED)``);
bookkeeping is in ``try/finally``. ``process_request`` answers ``/healthz``,
``/metrics`` and the static page, and enforces the session cap, ``Origin`` and
token before the upgrade. The protocol is specified in ``docs/protocol.md``.

``hubert-stream serve`` (``streamer.cli.serve``) builds ``ServerOptions`` from its options and runs
``StreamServer.serve_until``.
"""

from __future__ import annotations

import asyncio
import hmac
import logging
import mimetypes
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from http import HTTPStatus
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.datastructures import Headers
from websockets.exceptions import ConnectionClosed
from websockets.http11 import Request, Response

from streamer.core.config import StreamingConfig
from streamer.server.resume import ResumeClock, resume_clock, shutdown_ending
from streamer.server.worker import Feed, InferenceWorker, Metrics
from streamer.wire.events import (
    AudioFormat,
    Config,
    Done,
    Ending,
    Eof,
    ErrorEvent,
    Event,
    Finalize,
    Lag,
    Ready,
    VoskConfig,
    VoskError,
    VoskReset,
    error_ending,
    parse_native,
    parse_vosk,
    vosk_reply,
)
from streamer.wire.protocol import NATIVE_PATH, VOSK_SAMPLE_RATE, CloseCode, ProtocolError, bearer_token, token_of
from streamer.wire.units import SAMPLE_RATE

__all__ = ["ServerOptions", "StreamServer"]

log = logging.getLogger(__name__)
# websockets logs every frame at DEBUG (audio, transcripts) and the handshake headers (tokens).
# Its own logger, capped at INFO, keeps them out of the logs even when the root logger is at DEBUG.
WS_LOG = logging.getLogger(f"{__name__}.websockets")
WS_LOG.setLevel(logging.INFO)

WEB_ROOT = Path(__file__).resolve().parents[2] / "clients" / "web"  # the browser page, when installed
AUTH_SECONDS = 10.0  # a browser sending its token in the first message must do so this soon
MAX_OUTBOX = 256  # events waiting for a slow reader before the server stops reading its audio
LAG_INTERVAL = 1.0  # seconds between two lag events of one session


@dataclass(frozen=True)
class ServerOptions:
    """Where to listen, which protocol, and every limit (see docs/protocol.md for each)."""

    host: str = "127.0.0.1"  # loopback: exposing the server is a decision, not a default
    port: int = 8765  # 0 picks a free port (tests)
    protocol: str = "native"  # "native" at /v1/stream, or "vosk" on every path
    max_sessions: int = 32  # over this, HTTP 503 before the upgrade
    max_message_bytes: int = 1 << 20  # 1 MiB (32 s of 16 kHz s16le); bigger closes with 1009
    idle_timeout: float = 30.0  # seconds without audio before the session ends (4001)
    max_session_seconds: float = 3600.0  # wall-clock length of one session (4002)
    max_buffer_seconds: float = 10.0  # queued audio per session before the server stops reading it
    lag_warning_seconds: float = 1.0  # seconds behind real time above which clients are told (lag event / field)
    allowed_origins: tuple[str, ...] = ()  # besides the server's own page origin; "*" allows any
    token: str | None = None  # bearer token; None: no authentication
    max_batch: int = 32  # windows per forward pass; 1 runs one forward per stream
    gather_seconds: float = 0.005  # bounded wait to gather other streams' hops into a batch
    shutdown_grace: float = 10.0  # seconds sessions get to receive their finals on SIGTERM
    web_root: Path | None = WEB_ROOT  # static files served at /, when the folder exists

    def __post_init__(self) -> None:
        if self.protocol not in ("native", "vosk"):
            raise ValueError(f"protocol must be 'native' or 'vosk', not {self.protocol!r}")
        if not 0 <= self.port <= 65535:
            raise ValueError(f"port must be 0-65535, got {self.port}")
        positive = (
            "max_sessions", "max_message_bytes", "idle_timeout", "max_session_seconds",
            "max_buffer_seconds", "lag_warning_seconds", "max_batch", "shutdown_grace",
        )  # fmt: skip
        for name in positive:
            if not getattr(self, name) > 0:
                raise ValueError(f"{name} must be positive, got {getattr(self, name)!r}")
        if self.gather_seconds < 0:
            raise ValueError(f"gather_seconds must not be negative, got {self.gather_seconds!r}")


class Session:
    """One connection on the event loop: its worker feed, its outbox, its timeouts."""

    def __init__(self, server: StreamServer, ws: ServerConnection, authorized: bool) -> None:
        self.server = server
        self.options = server.options
        self.ws = ws
        self.id = secrets.token_hex(6)
        self.vosk = self.options.protocol == "vosk"
        self.authorized = authorized
        self.progress = asyncio.Event()  # set when queued audio or the outbox shrinks
        self.feed = Feed(
            server.worker, VOSK_SAMPLE_RATE if self.vosk else SAMPLE_RATE,
            self._on_events, self._on_lag, self._on_failure, self.progress,
        )  # fmt: skip
        self.outbox: asyncio.Queue[Event | Ending] = asyncio.Queue()  # native: the sender's queue
        self.collected: list[Event] = []  # vosk: events since the last reply
        self.current = ""  # vosk: the current segment's text
        self.words = True  # vosk: include word timings in results
        self.clock: ResumeClock | None = None  # native: set by a config with a resume point
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
        self.authorized = self.server.token_ok(token)
        return self.authorized

    def send(self, event: Event | Ending) -> None:
        """Queue an event (or the ending) for the sender task."""
        if isinstance(event, ErrorEvent):
            self.server.metrics.count("errors", event.code)
        self.outbox.put_nowait(event)

    def _on_events(self, events: list[Event]) -> None:
        if self.vosk:
            self.collected.extend(events)
        else:
            if self.clock is not None:  # a resumable session: on the client's clock, with acks
                events = self.clock.events(events, self.feed.samples_final, self.feed.audio.samples_in)
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


class StreamServer:
    """The websocket server: one worker thread, many sessions.

    Args:
        model: a loaded streamable model, or
        load: a function returning one, run on the worker thread (``/healthz`` is 503 until it returns).
        streaming: the streaming knobs every session uses.
        options: address, protocol and limits.
    """

    def __init__(
        self,
        model: Any = None,
        *,
        load: Callable[[], Any] | None = None,
        streaming: StreamingConfig | None = None,
        options: ServerOptions | None = None,
    ) -> None:
        if (model is None) == (load is None):
            raise ValueError("give either a model or a function that loads one")
        self.options = options or ServerOptions()
        self.metrics = Metrics()
        self.worker = InferenceWorker(
            load or (lambda: model),
            streaming or StreamingConfig(),
            max_batch=self.options.max_batch,
            gather_seconds=self.options.gather_seconds,
            metrics=self.metrics,
        )
        self.port: int | None = None
        self._ws_server: Server | None = None
        self._sessions: set[Session] = set()
        self._slots: set[ServerConnection] = set()  # handshakes in progress and open sessions
        self._tasks: set[asyncio.Task[None]] = set()
        self._stopping = False
        self._shutdown: asyncio.Future[None] | None = None

    # ----- lifecycle -----------------------------------------------------------------------------

    async def start(self) -> None:
        """Start the worker (and the model loading) and listen; ``self.port`` is the bound port."""
        self.worker.start()
        o = self.options
        self._ws_server = await serve(
            self._handle,
            o.host,
            o.port,
            process_request=self._process_request,
            compression=None,  # audio does not compress; deflate would cost CPU and memory per session
            server_header=None,  # no version banner
            max_size=o.max_message_bytes,
            logger=WS_LOG,
        )
        self.port = self._ws_server.sockets[0].getsockname()[1]
        where = NATIVE_PATH if o.protocol == "native" else "/ (vosk protocol)"
        log.info("listening on ws://%s:%d%s", o.host, self.port, where)

    async def serve_until(self, stop: asyncio.Event) -> None:
        """Serve until ``stop`` is set, then shut down gracefully; raises if the model fails to load."""
        await self.start()
        assert self.worker.loaded is not None
        stopper = asyncio.ensure_future(stop.wait())
        try:
            await asyncio.wait({stopper, self.worker.loaded}, return_when=asyncio.FIRST_COMPLETED)
            if self.worker.loaded.done() and self.worker.loaded.exception() is not None:
                raise self.worker.loaded.exception()  # type: ignore[misc]
            await stopper
        finally:
            stopper.cancel()
            await self.shutdown()

    async def shutdown(self) -> None:
        """Stop accepting, give every live session its final, close them with 1001, stop the worker."""
        if self._shutdown is None:
            self._shutdown = asyncio.ensure_future(self._shut_down())
        await asyncio.shield(self._shutdown)  # every caller waits for the one shutdown

    async def _shut_down(self) -> None:
        self._stopping = True
        if self._ws_server is None:
            return
        log.info("shutting down: finishing %d sessions", len(self._sessions))
        self._ws_server.close(close_connections=False)  # stop listening; handshakes in flight get 503
        for session in list(self._sessions):
            session.end_with(shutdown_ending(session.clock))
        grace = self.options.shutdown_grace
        try:
            await asyncio.wait_for(self._ws_server.wait_closed(), grace)
        except asyncio.TimeoutError:
            log.warning("%d sessions did not finish within %g s; closing them", len(self._sessions), grace)
            await asyncio.gather(*(s.ws.close(CloseCode.GOING_AWAY) for s in list(self._sessions)))
            await self._ws_server.wait_closed()
        await asyncio.to_thread(self.worker.stop)
        log.info("stopped")

    @property
    def loaded(self) -> bool:
        future = self.worker.loaded
        return future is not None and future.done() and future.exception() is None

    def token_ok(self, token: str | None) -> bool:
        """Constant-time comparison with the configured token."""
        expected = self.options.token
        if expected is None:
            return True
        return token is not None and hmac.compare_digest(token.encode(), expected.encode())

    # ----- HTTP: before the upgrade --------------------------------------------------------------

    async def _process_request(self, connection: ServerConnection, request: Request) -> Response | None:
        path = urlsplit(request.path).path
        if "websocket" not in request.headers.get("Upgrade", "").lower():
            return await self._http(path)
        # Everything below runs without awaiting, so the slot check and reservation are atomic.
        refusal = self._refusal(path, request.headers)
        if refusal is not None:
            reason, status, text = refusal
            self.metrics.count("rejected", reason)
            response = _response(status, text)
            if status == HTTPStatus.SERVICE_UNAVAILABLE:
                response.headers["Retry-After"] = "1"
            return response
        # Reserve a slot until the TCP connection is gone, whatever happens to the handshake.
        self._slots.add(connection)
        task = asyncio.ensure_future(self._release_slot(connection))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return None

    def _refusal(self, path: str, headers: Headers) -> tuple[str, HTTPStatus, str] | None:
        """(metrics reason, status, body) when a websocket handshake must be refused."""
        if self.options.protocol == "native" and path != NATIVE_PATH:
            return "path", HTTPStatus.NOT_FOUND, f"no websocket endpoint here; connect to {NATIVE_PATH}\n"
        if not self._origin_ok(headers):
            return "origin", HTTPStatus.FORBIDDEN, "origin not allowed; see --allowed-origin\n"
        authorization = headers.get_all("Authorization")
        if authorization and not (len(authorization) == 1 and self.token_ok(bearer_token(authorization[0]))):
            return "token", HTTPStatus.UNAUTHORIZED, "wrong token\n"
        if self._stopping:
            return "shutting_down", HTTPStatus.SERVICE_UNAVAILABLE, "the server is shutting down\n"
        if not self.loaded:
            return "loading", HTTPStatus.SERVICE_UNAVAILABLE, "the model is still loading\n"
        if len(self._slots) >= self.options.max_sessions:
            return "capacity", HTTPStatus.SERVICE_UNAVAILABLE, "too many sessions; try again later\n"
        return None

    def _origin_ok(self, headers: Headers) -> bool:
        origins = headers.get_all("Origin")
        if not origins:
            return True  # not a browser: browsers always send Origin
        if len(origins) > 1:
            return False
        origin = origins[0].lower()
        allowed = {o.lower() for o in self.options.allowed_origins}
        if "*" in allowed or origin in allowed:
            return True
        hosts = headers.get_all("Host")
        return len(hosts) == 1 and origin in (f"http://{hosts[0].lower()}", f"https://{hosts[0].lower()}")

    async def _release_slot(self, connection: ServerConnection) -> None:
        try:
            await connection.wait_closed()
        finally:
            self._slots.discard(connection)

    async def _http(self, path: str) -> Response:
        if path == "/healthz":
            if self.loaded:
                return _response(HTTPStatus.OK, "ok\n")
            return _response(HTTPStatus.SERVICE_UNAVAILABLE, "loading the model\n")
        if path == "/metrics":
            return _response(HTTPStatus.OK, self.metrics.render(), "text/plain; version=0.0.4; charset=utf-8")
        if path == NATIVE_PATH:
            return _response(HTTPStatus.UPGRADE_REQUIRED, "this is a websocket endpoint\n")
        return await self._static(path)

    async def _static(self, path: str) -> Response:
        """A file from the web root; 404 for anything else, including when there is no web root."""
        root = self.options.web_root
        not_found = _response(HTTPStatus.NOT_FOUND, "not found\n")
        if root is None or not root.is_dir():
            return not_found
        root = root.resolve()
        target = (root / unquote(path).lstrip("/")).resolve()
        if target.is_dir():
            target = target / "index.html"
        if root not in target.parents or not target.is_file():
            return not_found
        body = await asyncio.to_thread(target.read_bytes)
        kind = mimetypes.guess_type(target.name)[0] or "application/octet-stream"
        if kind.startswith("text/") or kind in ("application/javascript", "application/json"):
            kind += "; charset=utf-8"
        return _response(HTTPStatus.OK, body, kind)

    # ----- sessions ------------------------------------------------------------------------------

    async def _handle(self, ws: ServerConnection) -> None:
        authorization = ws.request.headers.get_all("Authorization") if ws.request else []
        authorized = self.options.token is None or bool(authorization)  # a wrong header got 401 already
        session = Session(self, ws, authorized)
        self._sessions.add(session)
        self.metrics.add("sessions_active")
        self.metrics.add("sessions_total")
        if self._stopping:
            session.end_with(Ending(CloseCode.GOING_AWAY, "server shutting down"))
        log.info("session %s opened (%s protocol)", session.id, self.options.protocol)
        try:
            await (self._run_vosk(session) if session.vosk else self._run_native(session))
        except ConnectionClosed:
            pass  # the client left; nothing to send
        except Exception:
            log.exception("session %s failed", session.id)
            await ws.close(CloseCode.INTERNAL, "internal")
        finally:
            session._interrupted.cancel()
            session.feed.discard()
            self._sessions.discard(session)
            self.metrics.add("sessions_active", -1)
            code = ws.close_code if ws.close_code is not None else "none"
            log.info(
                "session %s closed (%s) after %.1f s with %.1f s of audio",
                session.id, code, time.monotonic() - session.started, session.feed.audio_seconds,
            )  # fmt: skip

    # ----- native protocol -----------------------------------------------------------------------

    async def _run_native(self, s: Session) -> None:
        receiver = asyncio.ensure_future(self._receive_native(s))
        sender = asyncio.ensure_future(self._send_events(s))
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
                    ending = error_ending("internal", "recognition failed for this session", CloseCode.INTERNAL)
            if ending.error is not None:
                s.send(ending.error)
            if ending.done:
                s.send(Done())
            s.send(ending)
            await sender
        finally:
            receiver.cancel()
            sender.cancel()

    async def _receive_native(self, s: Session) -> Ending:
        first: str | bytes | Ending | None = None
        if not s.authorized:  # no Authorization header: the first message must carry the token
            first = await s.next_message(within=AUTH_SECONDS)
            if isinstance(first, Ending):
                return first
            if isinstance(first, bytes) or not s.authorize(token_of(first)):
                return error_ending(
                    "unauthorized", 'send the token in an Authorization header or as "token" in the first message',
                    CloseCode.POLICY,
                )  # fmt: skip
        s.send(Ready(s.id, s.feed.format.sample_rate))
        while True:
            if first is not None:
                message, first = first, None  # the authorizing message may also be a config
            else:
                await s.wait_for_room()
                message = await s.next_message()
            if isinstance(message, Ending):
                return message
            ending = self._on_native_message(s, message)
            if ending is not None:
                return ending

    def _on_native_message(self, s: Session, message: str | bytes) -> Ending | None:
        """Act on one message; an ``Ending`` when the session must end."""
        try:
            if isinstance(message, bytes):
                s.accept_audio(message)
                return None
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

    async def _send_events(self, s: Session) -> None:
        """The only writer of a native session: events in order, then the close."""
        while True:
            item = await s.outbox.get()
            if isinstance(item, Ending):
                await s.ws.close(item.code, item.reason)
                return
            await s.ws.send(item.to_json())
            s.progress.set()

    # ----- Vosk protocol -------------------------------------------------------------------------

    async def _run_vosk(self, s: Session) -> None:
        """Vosk's protocol: one reply per audio, eof or reset message; a config gets none."""
        while True:
            message = await s.next_message(within=None if s.authorized else AUTH_SECONDS)
            if isinstance(message, Ending):
                return await self._end_vosk(s, message)
            try:
                if isinstance(message, bytes):
                    if not s.authorized:
                        return await self._end_vosk(s, _unauthorized_vosk())
                    future = s.accept_audio(message)
                    if future is not None:
                        await future
                    await s.ws.send(self._vosk_reply(s))
                    continue
                request = parse_vosk(message)
            except ProtocolError as e:
                if not s.authorized:
                    return await self._end_vosk(s, _unauthorized_vosk())
                if e.close is not None:
                    return await self._end_vosk(s, error_ending(e.code, str(e), e.close))
                s.server.metrics.count("errors", e.code)
                await s.ws.send(VoskError(str(e), e.code).to_json())
                continue
            if isinstance(request, VoskConfig):
                if not s.authorized and not s.authorize(request.token):
                    return await self._end_vosk(s, _unauthorized_vosk())
                if request.sample_rate is not None and not s.feed.started:  # like Vosk: later configs are ignored
                    s.feed.configure(AudioFormat(sample_rate=request.sample_rate))
                if request.words is not None:
                    s.words = request.words
            elif not s.authorized:
                return await self._end_vosk(s, _unauthorized_vosk())
            elif isinstance(request, VoskReset):
                await s.feed.finalize()
                await s.ws.send(self._vosk_reply(s, final=True))
            else:  # eof
                await s.feed.close()
                await s.ws.send(self._vosk_reply(s, final=True))
                await s.ws.close(CloseCode.NORMAL)
                return

    def _vosk_reply(self, s: Session, final: bool = False) -> str:
        """The reply from the events since the last one; ``final`` (eof, reset) always gives a result."""
        events, s.collected = s.collected, []
        # Vosk clients read the keys they know; "lag" says we are behind.
        lag = round(s.lag, 3) if s.lag > s.options.lag_warning_seconds else None
        reply, s.current = vosk_reply(events, s.current, s.words, final, lag)
        return reply.to_json()

    async def _end_vosk(self, s: Session, ending: Ending) -> None:
        """A server-side end: the last result (unsolicited, the one exception to one reply each), then close."""
        if ending.flush and s.feed.started:
            await s.feed.close()
            await s.ws.send(self._vosk_reply(s, final=True))
        if ending.error is not None:
            s.server.metrics.count("errors", ending.error.code)
            await s.ws.send(VoskError(ending.error.message, ending.error.code).to_json())
        await s.ws.close(ending.code, ending.reason)


def _unauthorized_vosk() -> Ending:
    return error_ending(
        "unauthorized", 'send the token in an Authorization header or as config "token"', CloseCode.POLICY
    )


def _response(status: HTTPStatus, body: str | bytes, content_type: str = "text/plain; charset=utf-8") -> Response:
    data = body.encode() if isinstance(body, str) else body
    headers = Headers(
        [
            ("Content-Type", content_type),
            ("Content-Length", str(len(data))),
            ("Connection", "close"),
            ("X-Content-Type-Options", "nosniff"),
            ("Cache-Control", "no-store"),
        ]
    )
    return Response(status.value, status.phrase, headers, data)
