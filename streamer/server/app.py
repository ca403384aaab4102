"""The websocket server behind ``hubert-stream serve``: live partials and finals for many streams.

Small handlers around one shared model. One ``InferenceWorker`` thread (``worker``) runs every
stream's due hops together as batches; the event loop only reads, validates, converts audio
(``feed``) and writes events. The package, one job per module:

- ``options``: ``ServerOptions``, every limit;
- ``http``: ``/healthz``, ``/metrics``, the static page and the refusals before the upgrade;
- ``session``: one connection's feed, outbox, timeouts and backpressure;
- ``native`` and ``vosk``: the two protocols' loops;
- ``worker``, ``feed``, ``metrics``: the inference thread, its loop-side handle, Prometheus counters;
- ``app`` (here): ``StreamServer``, the lifecycle (start, sessions, graceful shutdown).

The protocol is specified in ``docs/protocol.md``. ``hubert-stream serve`` (``streamer.cli.serve``)
builds ``ServerOptions`` from its options and runs ``StreamServer.serve_until``.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from typing import Any

from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.exceptions import ConnectionClosed

from streamer.core.config import StreamingConfig
from streamer.server.http import HttpFront
from streamer.server.metrics import Metrics
from streamer.server.native import run_native
from streamer.server.options import ServerOptions
from streamer.server.session import Session
from streamer.server.vosk import run_vosk
from streamer.server.worker import InferenceWorker
from streamer.wire.protocol import NATIVE_PATH, CloseCode, Ending

__all__ = ["ServerOptions", "StreamServer"]

log = logging.getLogger(__name__)
# websockets logs every frame at DEBUG (audio, transcripts) and the handshake headers (tokens).
# Its own logger, capped at INFO, keeps them out of the logs even when the root logger is at DEBUG.
WS_LOG = logging.getLogger(f"{__name__}.websockets")
WS_LOG.setLevel(logging.INFO)


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
        self.http = HttpFront(self.options, self.metrics, lambda: self.loaded)
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
        self.http.stopping = True
        if self._ws_server is None:
            return
        log.info("shutting down: finishing %d sessions", len(self._sessions))
        self._ws_server.close(close_connections=False)  # stop listening; handshakes in flight get 503
        for session in list(self._sessions):
            session.end_with(Ending(CloseCode.GOING_AWAY, "server shutting down"))
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
        return self.http.token_ok(token)

    # ----- sessions ------------------------------------------------------------------------------

    async def _handle(self, ws: ServerConnection) -> None:
        authorization = ws.request.headers.get_all("Authorization") if ws.request else []
        authorized = self.options.token is None or bool(authorization)  # a wrong header got 401 already
        session = Session(ws, self.options, self.worker, self.metrics, self.http.token_ok, authorized)
        self._sessions.add(session)
        self.metrics.add("sessions_active")
        self.metrics.add("sessions_total")
        if self.http.stopping:
            session.end_with(Ending(CloseCode.GOING_AWAY, "server shutting down"))
        log.info("session %s opened (%s protocol)", session.id, self.options.protocol)
        try:
            await (run_vosk(session) if session.vosk else run_native(session))
        except ConnectionClosed:
            pass  # the client left; nothing to send
        except Exception:
            log.exception("session %s failed", session.id)
            await ws.close(CloseCode.INTERNAL, "internal")
        finally:
            session.close()
            self._sessions.discard(session)
            self.metrics.add("sessions_active", -1)
            code = ws.close_code if ws.close_code is not None else "none"
            log.info(
                "session %s closed (%s) after %.1f s with %.1f s of audio",
                session.id, code, time.monotonic() - session.started, session.feed.audio_seconds,
            )  # fmt: skip
