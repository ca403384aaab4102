"""The websocket server behind ``hubert-stream serve``: live partials and finals for many streams.

Small handlers around one shared model. One ``InferenceWorker`` thread (``worker``) runs every
stream's due hops together as batches; the event loop only reads, validates, converts audio
(``feed``) and writes events. The package, one job per module:

- ``options``: ``ServerOptions``, every limit;
- ``http``: ``/healthz``, ``/metrics``, the static page and the refusals before the upgrade;
- ``session``: what every protocol's session shares: its feed, outbox, timeouts and backpressure;
- ``native`` and ``vosk``: one ``Session`` subclass per protocol; ``protocols``: their names;
- ``ending``: how the server ends a session;
- ``worker``, ``feed``, ``metrics``: the inference thread, its loop-side handle, Prometheus counters;
- ``app`` (here): ``StreamServer``, the lifecycle (start, sessions, graceful shutdown).

The protocol is specified in ``docs/protocol.md``. ``hubert-stream serve`` (``streamer.cli.serve``)
builds ``ServerOptions`` from its options and runs ``StreamServer.serve_until``.
"""

from __future__ import annotations

import asyncio
import logging
import socket
import time
from collections.abc import Callable
from typing import Any

from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.exceptions import ConnectionClosed

from streamer.core.config import StreamingConfig
from streamer.server.http import HttpFront
from streamer.server.metrics import Metrics
from streamer.server.options import ServerOptions
from streamer.server.protocols import session_class
from streamer.server.session import CLOSE_TIMEOUT, WRITE_TIMEOUT, Session, WriteTimeout, close, refused_too_big
from streamer.server.worker import InferenceWorker
from streamer.wire.protocol import CloseCode

__all__ = ["ServerOptions", "StreamServer"]

log = logging.getLogger(__name__)
# websockets logs every frame at DEBUG (audio, transcripts) and the handshake headers (tokens).
# Its own logger, capped at INFO, keeps them out of the logs even when the root logger is at DEBUG.
# Its INFO lines (listening, "connection rejected (404 Not Found)") are replaced by ours, which name the path.
WS_LOG = logging.getLogger(f"{__name__}.websockets")
WS_LOG.setLevel(logging.WARNING)
# The server pings every 20 s to keep proxies and NATs from dropping quiet connections, but never
# closes a session for a late pong: backpressure stops reading a fast sender's audio, and its pong
# then waits behind that audio. Dead clients are found by the idle timeout and the write timeout.
PING_INTERVAL = 20.0  # seconds
# Frames websockets may queue unread per session (above this it stops reading the socket): with
# 1 MiB messages, 4 MiB; the documented per-session memory bound counts them.
MAX_QUEUE = 4
SHUTDOWN_POLL = 0.02  # seconds between two checks whether every session has finished


class StreamServer:
    """The websocket server: one worker thread, many sessions.

    Args:
        model: a loaded streamable model, or
        load: a function returning one, run on the worker thread (``/healthz`` is 503 until it returns).
        streaming: the streaming knobs every session uses.
        options: address, protocol and limits; ``ValueError`` for a protocol ``streamer.server.protocols``
            does not know.
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
        self.session_class = session_class(self.options.protocol)
        self.metrics = Metrics()
        self.worker = InferenceWorker(
            load or (lambda: model),
            streaming or StreamingConfig(),
            max_batch=self.options.max_batch,
            gather_seconds=self.options.gather_seconds,
            metrics=self.metrics,
        )
        self.http = HttpFront(self.options, self.metrics, lambda: self.loaded, self.session_class.path)
        self.port: int | None = None
        self._ws_server: Server | None = None
        self._sessions: set[Session] = set()
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
            process_request=self.http.process_request,
            compression=None,  # audio does not compress; deflate would cost CPU and memory per session
            server_header=None,  # no version banner
            max_size=o.max_message_bytes,
            max_queue=MAX_QUEUE,
            ping_interval=PING_INTERVAL,
            ping_timeout=None,
            close_timeout=CLOSE_TIMEOUT,
            logger=WS_LOG,
        )
        self.port = self._ws_server.sockets[0].getsockname()[1]
        where = self.session_class.path or f"/ ({o.protocol} protocol)"
        log.info("listening on ws://%s:%d%s", o.host, self.port, where)
        if o.web_root is not None and (o.web_root / "index.html").is_file():
            host = f"[{o.host}]" if ":" in o.host else o.host
            log.info("browser page at http://%s:%d/", "127.0.0.1" if o.host in ("0.0.0.0", "") else host, self.port)

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
        self.http.stopping = True  # from now on handshakes get 503 and /readyz says so
        if self._ws_server is None:
            return
        start = time.monotonic()
        log.info("shutting down: finishing %d sessions", len(self._sessions))
        for session in list(self._sessions):
            session.end_with(session.shutdown_ending())
        # Keep listening meanwhile, so load balancers read /readyz and late handshakes get a clear 503.
        grace = self.options.shutdown_grace
        while (self._sessions or self.http.slots or self.http.pending) and time.monotonic() - start < grace:
            await asyncio.sleep(SHUTDOWN_POLL)
        if self._sessions:
            log.warning("%d sessions did not finish within %g s; closing them", len(self._sessions), grace)
            for session in list(self._sessions):
                session.force()
        self._ws_server.close()  # stop listening; close what is left (handshakes, unauthenticated)
        await self._ws_server.wait_closed()
        await asyncio.to_thread(self.worker.stop)
        log.info("stopped after %.1f s", time.monotonic() - start)

    @property
    def loaded(self) -> bool:
        future = self.worker.loaded
        return future is not None and future.done() and future.exception() is None

    def token_ok(self, token: str | None) -> bool:
        """Constant-time comparison with the configured token."""
        return self.http.token_ok(token)

    # ----- sessions ------------------------------------------------------------------------------

    async def _handle(self, ws: ServerConnection) -> None:
        _cap_send_buffer(ws, self.options.send_buffer_bytes)
        authorization = ws.request.headers.get_all("Authorization") if ws.request else []
        authorized = self.options.token is None or bool(authorization)  # a wrong header got 401 already
        session = self.session_class(ws, self.options, self.worker, self.metrics, self.http, authorized)
        self._sessions.add(session)
        self.metrics.add("sessions_active")
        self.metrics.add("sessions_total")
        if self.http.stopping:
            session.end_with(session.shutdown_ending())
        log.info("session %s opened (%s protocol)", session.id, self.options.protocol)
        try:
            await session.run()
        except ConnectionClosed:
            pass  # the client left; nothing to send
        except WriteTimeout:
            log.info("session %s: the client read nothing for %g s", session.id, WRITE_TIMEOUT)
            self.metrics.count("errors", "write_timeout")
            await close(ws, CloseCode.WRITE_TIMEOUT, "write_timeout")  # dropped after the close timeout
        except asyncio.CancelledError:
            if not session.forced:
                raise
            asyncio.current_task().uncancel()  # type: ignore[union-attr]
            await close(ws, CloseCode.GOING_AWAY, "server shutting down")
        except Exception:
            log.exception("session %s failed", session.id)
            await close(ws, CloseCode.INTERNAL, "internal")
        finally:
            session.close()
            self._sessions.discard(session)
            self.metrics.add("sessions_active", -1)
            code = _closed_with(ws)
            sent = ws.protocol.close_sent
            if refused_too_big(sent, ws.protocol.close_rcvd_then_sent):  # noticed by a read or a write
                log.info("session %s: %s; closed with 1009", session.id, sent.reason)  # type: ignore[union-attr]
            log.info(
                "session %s closed (%s) after %.1f s with %.1f s of audio",
                session.id, code, time.monotonic() - session.started, session.feed.audio_seconds,
            )  # fmt: skip


def _cap_send_buffer(ws: ServerConnection, size: int) -> None:
    """Set the kernel's send buffer of a session's socket (SO_SNDBUF; 0 keeps the kernel's own sizing).

    What a client that reads nothing can hold in the kernel before writes to it block and the write
    timeout starts: part of the per-session memory bound (docs/protocol.md, Overload and memory).
    """
    sock = ws.transport.get_extra_info("socket")
    if size and sock is not None:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, size)


def _closed_with(ws: ServerConnection) -> int | str:
    """The close code of a session, for the log: the one the server sent (its own, or the client's echoed).

    websockets' ``close_code`` is the code received: 1006 where the client's close frame never came or
    was not read, as for a client that reads nothing (the server sent 4008) or a message over the
    size limit (the websocket layer sent 1009 and reads no further). With no close frame sent, 1006 it is.
    """
    sent = ws.protocol.close_sent
    if sent is not None:
        return sent.code
    return ws.close_code if ws.close_code is not None else "none"
