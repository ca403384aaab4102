"""The server's address, protocol and limits: one frozen ``ServerOptions`` (see docs/protocol.md for each)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

__all__ = ["SEND_BUFFER_BYTES", "WEB_ROOT", "ServerOptions"]

WEB_ROOT = Path(__file__).resolve().parents[2] / "clients" / "web"  # the browser page, when installed
# The kernel's send buffer (SO_SNDBUF) of each session's socket: what a client that reads nothing
# holds in the server's kernel before writes to it block and the write timeout starts counting. Left
# to itself, Linux grows it up to net.ipv4.tcp_wmem's maximum (4 MiB by default) per connection.
# Linux reserves twice the value set (for its bookkeeping): 128 KiB per session, which holds a minute
# or more of events (about 0.5-1.5 KB per second of speech) for a client that stalls, and sends
# 200 KB/s over a 300 ms round trip, a hundred times what a session needs (docs/performance.md).
SEND_BUFFER_BYTES = 64 * 1024


@dataclass(frozen=True)
class ServerOptions:
    """Where to listen, which protocol, and every limit (see docs/protocol.md for each)."""

    host: str = "127.0.0.1"  # loopback: exposing the server is a decision, not a default
    port: int = 8765  # 0 picks a free port (tests)
    protocol: str = "native"  # a name in streamer.server.protocols: "native" at /v1/stream, "vosk" on every path
    max_sessions: int = 32  # over this, HTTP 503 before the upgrade
    max_message_bytes: int = 1 << 20  # 1 MiB (32 s of 16 kHz s16le); bigger closes with 1009
    idle_timeout: float = 30.0  # seconds without audio before the session ends (4001)
    max_session_seconds: float = 3600.0  # wall-clock length of one session (4002)
    max_buffer_seconds: float = 10.0  # queued audio per session before the server stops reading it
    send_buffer_bytes: int = SEND_BUFFER_BYTES  # SO_SNDBUF of each session's socket; 0: the kernel's own sizing
    lag_warning_seconds: float = 1.0  # seconds behind real time above which clients are told (lag event / field)
    allowed_origins: tuple[str, ...] = ()  # besides the server's own page origin; "*" allows any
    token: str | None = None  # bearer token; None: no authentication
    max_batch: int = 32  # windows per forward pass; 1 runs one forward per stream
    gather_seconds: float = 0.005  # bounded wait to gather other streams' hops into a batch
    shutdown_grace: float = 5.0  # seconds sessions get to receive their finals on SIGTERM, then 1001 anyway
    web_root: Path | None = WEB_ROOT  # static files served at /, when the folder exists

    def __post_init__(self) -> None:
        if not 0 <= self.port <= 65535:
            raise ValueError(f"port must be 0-65535, got {self.port}")
        positive = (
            "max_sessions", "max_message_bytes", "idle_timeout", "max_session_seconds",
            "max_buffer_seconds", "lag_warning_seconds", "max_batch", "shutdown_grace",
        )  # fmt: skip
        for name in positive:
            if not getattr(self, name) > 0:
                raise ValueError(f"{name} must be positive, got {getattr(self, name)!r}")
        if self.send_buffer_bytes < 0:
            raise ValueError(f"send_buffer_bytes must not be negative, got {self.send_buffer_bytes!r}")
        if self.gather_seconds < 0:
            raise ValueError(f"gather_seconds must not be negative, got {self.gather_seconds!r}")
