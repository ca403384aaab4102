"""A third protocol, defined and registered outside the server package: each final as ``{"echo": text}``.

The client sends 16 kHz int16 audio in binary messages at ``/echo``, then any text message to say it
is done; the server answers every final with ``{"echo": "<its text>"}`` and closes with 1000 after
the last. Audio that cannot be decoded is not answered: the session fails and closes with 1011.
Importing this module registers it as ``--protocol echo``.
"""

from __future__ import annotations

import json
from typing import Any

from streamer.server.ending import Ending
from streamer.server.protocols import register
from streamer.server.session import Session, close
from streamer.wire.events import Event, Final
from streamer.wire.protocol import CloseCode

ECHO_PATH = "/echo"


class EchoSession(Session):
    """Finals only, in their own JSON shape; no config, partials, lag or errors on the wire."""

    path = ECHO_PATH

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.finals: list[str] = []  # texts of the finals not written yet

    async def run(self) -> None:
        ending = None if self.authorized else self.authorize(None)  # a token only in the header
        while ending is None:
            message = await self.wait_for_room() or await self.next_message()
            if isinstance(message, str):
                break  # the client is done
            ending = message if isinstance(message, Ending) else self.accept_audio(message)[1]
            await self._write_finals()
        if ending is None or ending.flush:
            await self.feed.close()
            await self._write_finals()
        if ending is None:
            ending = Ending(CloseCode.NORMAL, "")
        await close(self.ws, ending.code, ending.reason)

    def deliver(self, events: list[Event]) -> None:
        self.finals += [e.text for e in events if isinstance(e, Final)]

    async def _write_finals(self) -> None:
        finals, self.finals = self.finals, []
        for text in finals:
            await self.write(json.dumps({"echo": text}))


register("echo", EchoSession)
