"""``python -m streamer``: the ``hubert-stream`` command."""

from __future__ import annotations

import sys

from streamer.cli import main

if __name__ == "__main__":
    sys.exit(main())
