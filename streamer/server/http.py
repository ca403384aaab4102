"""The HTTP side, before any upgrade: ``/healthz``, ``/readyz``, ``/metrics``, the static page, and admission.

``HttpFront.process_request`` is websockets' ``process_request`` hook. Plain HTTP requests get
health, readiness, metrics or a file; websocket handshakes are refused here (wrong path, ``Origin``,
token, shutdown, loading, capacity) before they cost a session. An admitted handshake holds a
session slot until its TCP connection is gone -- except one that must still send its token in its
first message: that one waits in a separate budget of unauthenticated connections (as many as
there are slots, for at most ``AUTH_SECONDS``) and takes a slot only once its token is right
(``promote``), so strangers never hold the service.
"""

from __future__ import annotations

import asyncio
import hmac
import logging
import mimetypes
from collections.abc import Callable
from http import HTTPStatus
from urllib.parse import unquote, urlsplit

from websockets.asyncio.server import ServerConnection
from websockets.datastructures import Headers
from websockets.http11 import Request, Response

from streamer.server.metrics import Metrics
from streamer.server.options import ServerOptions

__all__ = ["HttpFront", "response"]

log = logging.getLogger(__name__)
PROBES = ("/healthz", "/readyz", "/metrics")  # polled every few seconds: logged at DEBUG only


class HttpFront:
    """Answers plain HTTP and admits or refuses websocket handshakes.

    Args:
        options: the server's options (origins, token, cap, web root).
        metrics: where refusals are counted and what ``/metrics`` renders.
        loaded: whether the model is ready (``/healthz`` and handshakes are 503 until then).
        path: the one path websocket handshakes are admitted at (the protocol's); None: every path.
    """

    def __init__(self, options: ServerOptions, metrics: Metrics, loaded: Callable[[], bool], path: str | None) -> None:
        self.options = options
        self.path = path
        self.metrics = metrics
        self.loaded = loaded
        self.stopping = False  # set on shutdown: handshakes get 503
        self.slots: set[ServerConnection] = set()  # authenticated handshakes in progress and open sessions
        self.pending: set[ServerConnection] = set()  # connections whose token must come in a message
        self._tasks: set[asyncio.Task[None]] = set()

    def token_ok(self, token: str | None) -> bool:
        """Constant-time comparison with the configured token."""
        expected = self.options.token
        if expected is None:
            return True
        if not isinstance(token, str):
            return False
        # surrogatepass: a lone surrogate in a JSON token is a wrong token, not an encoding error.
        return hmac.compare_digest(token.encode("utf-8", "surrogatepass"), expected.encode())

    def promote(self, connection: ServerConnection) -> bool:
        """Move a connection that just sent the right token from the pending budget to a session slot."""
        if connection in self.slots:
            return True
        if len(self.slots) >= self.options.max_sessions:
            return False
        self.pending.discard(connection)
        self.slots.add(connection)
        return True

    async def process_request(self, connection: ServerConnection, request: Request) -> Response | None:
        path = urlsplit(request.path).path
        if "websocket" not in request.headers.get("Upgrade", "").lower():
            answer = await self._http(path)
            level = logging.DEBUG if path in PROBES else logging.INFO
            log.log(level, "GET %s %d", _printable(path), answer.status_code)
            return answer
        # Everything below runs without awaiting, so the slot check and reservation are atomic.
        refusal = self._refusal(path, request.headers)
        if refusal is not None:
            reason, status, text = refusal
            self.metrics.count("rejected", reason)
            answer = response(status, text)
            if status == HTTPStatus.SERVICE_UNAVAILABLE:
                answer.headers["Retry-After"] = "1"
            log.info("websocket %s refused: %d (%s)", _printable(path), status.value, reason)
            return answer
        # Reserve a slot (or a place in the unauthenticated budget) until the TCP connection is gone,
        # whatever happens to the handshake.
        if self._needs_token_message(request.headers):
            self.pending.add(connection)
        else:
            self.slots.add(connection)
        task = asyncio.ensure_future(self._release_slot(connection))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return None

    def _refusal(self, path: str, headers: Headers) -> tuple[str, HTTPStatus, str] | None:
        """(metrics reason, status, body) when a websocket handshake must be refused."""
        if self.path is not None and path != self.path:
            return "path", HTTPStatus.NOT_FOUND, f"no websocket endpoint here; connect to {self.path}\n"
        if not self._origin_ok(headers):
            return "origin", HTTPStatus.FORBIDDEN, "origin not allowed; see --allowed-origin\n"
        authorization = headers.get_all("Authorization")
        if authorization and not (len(authorization) == 1 and self.token_ok(_bearer_token(authorization[0]))):
            return "token", HTTPStatus.UNAUTHORIZED, "wrong token\n"
        if self.stopping:
            return "shutting_down", HTTPStatus.SERVICE_UNAVAILABLE, "the server is shutting down\n"
        if not self.loaded():
            return "loading", HTTPStatus.SERVICE_UNAVAILABLE, "the model is still loading\n"
        if len(self.slots) >= self.options.max_sessions:
            return "capacity", HTTPStatus.SERVICE_UNAVAILABLE, "too many sessions; try again later\n"
        if self._needs_token_message(headers) and len(self.pending) >= self.options.max_sessions:
            return "unauthenticated", HTTPStatus.SERVICE_UNAVAILABLE, "too many connections waiting to authenticate\n"
        return None

    def _needs_token_message(self, headers: Headers) -> bool:
        """A token is required and the handshake has no Authorization header (a wrong one got 401)."""
        return self.options.token is not None and not headers.get_all("Authorization")

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
            self.slots.discard(connection)
            self.pending.discard(connection)

    async def _http(self, path: str) -> Response:
        if path == "/healthz":
            if self.loaded():
                return response(HTTPStatus.OK, "ok\n")
            return response(HTTPStatus.SERVICE_UNAVAILABLE, "loading the model\n")
        if path == "/readyz":  # for load balancers: 503 while loading, at the session cap and once shutting down
            if self.stopping:
                return response(HTTPStatus.SERVICE_UNAVAILABLE, "shutting down\n")
            if not self.loaded():
                return response(HTTPStatus.SERVICE_UNAVAILABLE, "loading the model\n")
            if len(self.slots) >= self.options.max_sessions:  # its sessions go on; new ones go elsewhere
                return response(HTTPStatus.SERVICE_UNAVAILABLE, "full: every session slot is taken\n")
            return response(HTTPStatus.OK, "ready\n")
        if path == "/metrics":
            return response(HTTPStatus.OK, self.metrics.render(), "text/plain; version=0.0.4; charset=utf-8")
        if path == self.path:  # the protocol's one websocket path (a protocol on every path serves files too)
            return response(HTTPStatus.UPGRADE_REQUIRED, "this is a websocket endpoint\n")
        return await self._static(path)

    async def _static(self, path: str) -> Response:
        """A file from the web root; 404 for anything else, including when there is no web root."""
        root = self.options.web_root
        not_found = response(HTTPStatus.NOT_FOUND, "not found\n")
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
        return response(HTTPStatus.OK, body, kind)


def response(status: HTTPStatus, body: str | bytes, content_type: str = "text/plain; charset=utf-8") -> Response:
    """A complete HTTP response that closes the connection."""
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


def _printable(path: str) -> str:
    """A request path for the log: at most 200 characters, control characters escaped."""
    return path[:200].encode("unicode_escape").decode("ascii")


def _bearer_token(header: str) -> str | None:
    """The token of an ``Authorization: Bearer <token>`` header."""
    scheme, _, token = header.partition(" ")
    return token.strip() if scheme.lower() == "bearer" else None
