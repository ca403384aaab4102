"""The ``hubert-stream`` command (a shell): one parser, one ``main(argv) -> int``."""

from __future__ import annotations

from streamer.cli.commands import main

__all__ = ["main"]
