"""The protocols the server speaks, by name: each name serves its connections with one ``Session`` subclass.

The one list of protocol names: ``hubert-stream serve --protocol`` offers them, ``StreamServer``
refuses any other and creates the registered class for each connection. A new protocol is a module
with its ``Session`` subclass and one ``register`` call (docs/architecture.md, "Adding a protocol").
"""

from __future__ import annotations

from streamer.server.native import NativeSession
from streamer.server.session import Session
from streamer.server.vosk import VoskSession

__all__ = ["names", "register", "session_class"]

_SESSIONS: dict[str, type[Session]] = {}


def register(name: str, session: type[Session]) -> None:
    """Serve ``--protocol name`` with ``session``; a name already taken by another class is refused."""
    if not (isinstance(session, type) and issubclass(session, Session)):
        raise TypeError(f"a protocol is served by a Session subclass, not {session!r}")
    if _SESSIONS.get(name, session) is not session:
        raise ValueError(f"protocol {name!r} is already served by {_SESSIONS[name].__name__}")
    _SESSIONS[name] = session


def names() -> tuple[str, ...]:
    """The registered protocol names, in the order they were registered."""
    return tuple(_SESSIONS)


def session_class(name: str) -> type[Session]:
    """The class that serves protocol ``name``; ``ValueError`` naming the choices for any other."""
    try:
        return _SESSIONS[name]
    except KeyError:
        choices = ", ".join(repr(n) for n in _SESSIONS)
        raise ValueError(f"protocol must be one of {choices}, not {name!r}") from None


register("native", NativeSession)
register("vosk", VoskSession)
