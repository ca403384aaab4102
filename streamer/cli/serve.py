"""``hubert-stream serve``: the server's options, and running it until SIGTERM or SIGINT.

The one place serve's options are defined; ``streamer.server`` itself takes ``ServerOptions`` and a
``StreamingConfig`` and knows nothing of argparse.
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import logging
import os
import signal
from typing import Any

from streamer.cli.common import CliError, hotwords_of
from streamer.cli.options import streaming_config
from streamer.core.config import StreamingConfig
from streamer.server import protocols
from streamer.server.app import ServerOptions, StreamServer
from streamer.wire.protocol import NATIVE_PATH

log = logging.getLogger(__name__)

# A server runs small forwards back to back on the cores it is given, so idle OpenMP workers should
# spin between them and take the next at once, not sleep (model/device.py's PASSIVE default, chosen
# for one live stream on a shared machine). Measured with bench/bench_server.py (demo model, 2
# cores): one forward per stream, 40 streams, p95 0.04 s spinning against 3.3 s sleeping; batched,
# 128 streams, 0.24 s against 0.93 s. Set before the model (and torch) loads; a value in the
# environment wins.
SERVER_WAIT_POLICY = "ACTIVE"

LOG_LEVELS = ("debug", "info", "warning", "error")
LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"

# serve's limits: option, ServerOptions field, type, help. The defaults are ServerOptions'.
LIMIT_OPTIONS = (
    ("--max-sessions", "max_sessions", int, "concurrent sessions; more get HTTP 503"),
    ("--max-message-bytes", "max_message_bytes", int, "largest message; a bigger one closes the session with 1009"),
    ("--idle-timeout", "idle_timeout", float, "seconds without audio before a session ends with 4001"),
    ("--max-session-seconds", "max_session_seconds", float, "longest session (wall clock or audio), then 4002"),
    ("--max-buffer-seconds", "max_buffer_seconds", float, "audio queued per session before reading it pauses"),
    ("--send-buffer-bytes", "send_buffer_bytes", int, "kernel send buffer per session (0: the kernel's own sizing)"),
    ("--lag-warning", "lag_warning_seconds", float, "seconds behind real time that trigger lag events"),
    ("--max-batch", "max_batch", int, "windows per forward pass (1: one forward per stream)"),
    ("--shutdown-grace", "shutdown_grace", float, "seconds to deliver the last finals on SIGTERM; then 1001"),
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The ``serve`` options; the CLI adds the common --model/--device-type/--dtype/--hop/... itself."""
    d = ServerOptions()
    parser.add_argument("--host", default=d.host, help="interface to listen on (default: %(default)s)")
    parser.add_argument("--port", type=int, default=d.port, help="TCP port, 0 for any free one (default: %(default)s)")
    parser.add_argument(
        "--protocol", choices=protocols.names(), default=d.protocol,
        help=f"native at {NATIVE_PATH}, or Vosk-compatible on every path (default: %(default)s)",
    )  # fmt: skip
    parser.add_argument(
        "--allowed-origin", action="append", default=[], metavar="ORIGIN", dest="allowed_origins",
        help="browser origin allowed besides the server's own page (repeatable; '*' for any)",
    )  # fmt: skip
    parser.add_argument(
        "--token", default=os.environ.get("HUBERT_STREAM_TOKEN"),
        help="require this bearer token (default: $HUBERT_STREAM_TOKEN; none if unset)",
    )  # fmt: skip
    for option, field, kind, help_ in LIMIT_OPTIONS:
        parser.add_argument(
            option, type=kind, dest=field, default=getattr(d, field), metavar="N" if kind is int else "SECONDS",
            help=f"{help_} (default: %(default)s)",
        )  # fmt: skip
    parser.add_argument(
        "--log-level", choices=LOG_LEVELS, default="info",
        help="least important log lines shown on stderr: info shows where it listens and each session, "
        "warning only problems (default: %(default)s)",
    )  # fmt: skip
    parser.add_argument(
        "--gather-ms", type=float, default=d.gather_seconds * 1000, metavar="MS",
        help="how long an idle inference thread waits to batch streams together (default: %(default)s)",
    )  # fmt: skip


def options_from_args(args: argparse.Namespace) -> ServerOptions:
    """``ServerOptions`` from the options ``add_arguments`` defined."""
    return ServerOptions(
        host=args.host,
        port=args.port,
        protocol=args.protocol,
        allowed_origins=tuple(args.allowed_origins),
        token=args.token or None,
        gather_seconds=args.gather_ms / 1000,
        **{field: getattr(args, field) for _, field, _, _ in LIMIT_OPTIONS},
    )


def _load(args: argparse.Namespace) -> Any:
    """The model and its decoder, on the worker thread; a ``CliError`` stops the server from starting."""
    from streamer.cli.common import load_model

    return load_model(args)


def run(args: argparse.Namespace, model: Any = None, config: StreamingConfig | None = None) -> int:
    """Serve until SIGTERM or SIGINT; returns the exit status.

    Args:
        args: parsed options of ``add_arguments`` (plus ``--model``, ``--device-type``, ``--dtype`` and
            the streaming options ``--hop``/``--lookahead``/``--left-context``/``--endpoint-silence``/
            ``--final-pass`` when ``model``/``config`` are not given).
        model: an already loaded model. When None, ``args.model`` is loaded on the worker thread while
            the server already answers ``/healthz`` (503 until the model is ready).
        config: streaming knobs; built from ``args`` when None.
    """
    _configure_logging(getattr(args, "log_level", "info"))
    os.environ.setdefault("OMP_WAIT_POLICY", SERVER_WAIT_POLICY)  # read when torch loads (see above)
    try:
        options = options_from_args(args)
        streaming = config or streaming_config(args)
        if model is None:
            hotwords_of(args)  # a bad --hotword or --hotwords-file stops the server before it listens
        load = None if model is not None else functools.partial(_load, args)
        server = StreamServer(model, load=load, streaming=streaming, options=options)  # checks the protocol
    except (ValueError, CliError) as e:
        log.error("%s", e)
        return 2
    try:
        asyncio.run(_serve_with_signals(server))
    except (FileNotFoundError, ValueError, RuntimeError, OSError, CliError) as e:
        # A model that cannot load, or a port that cannot be bound: an environment problem,
        # exit status 2 as for the other subcommands.
        log.error("%s", e)
        return 2
    return 0


def _configure_logging(level: str) -> None:
    """The server's output is its log (where it listens, sessions, errors), on stderr at ``level``."""
    root = logging.getLogger()
    if not root.handlers:  # an embedding program's own logging setup is kept
        handler = logging.StreamHandler()
        handler.setFormatter(logging.Formatter(LOG_FORMAT))
        handler.setLevel(level.upper())  # also below loggers that set their own level (websockets' is INFO)
        root.addHandler(handler)
    root.setLevel(level.upper())


async def _serve_with_signals(server: StreamServer) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        try:
            loop.add_signal_handler(sig, stop.set)
        except (NotImplementedError, RuntimeError):  # Windows, or not the main thread
            pass
    await server.serve_until(stop)
