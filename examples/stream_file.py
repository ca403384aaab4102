"""Stream a sound file to a running hubert-stream server; print partials, finals and the transcript.

    hubert-stream serve --model demo &
    python examples/stream_file.py examples/weather.wav --realtime

Torch-free: only the client side of the package is imported.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # so it runs from a checkout without installing

from clients import ClientError, format_event, stream_file  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("file", type=Path, help="WAV, FLAC, OGG... any rate, any channels")
    parser.add_argument("--uri", default="ws://127.0.0.1:8765/v1/stream", help="server (default: %(default)s)")
    parser.add_argument("--realtime", action="store_true", help="send at the pace of a live source")
    parser.add_argument("--token", default=None, help="bearer token, if the server wants one")
    args = parser.parse_args()

    try:
        result = asyncio.run(
            stream_file(
                args.uri, args.file, realtime=args.realtime, token=args.token,
                on_event=lambda event: print(format_event(event), flush=True),
            )
        )  # fmt: skip
    except ClientError as e:  # a server that is down, a wrong path or token, a missing file: one line
        print(f"error: {e}", file=sys.stderr)
        return 1
    print(f"transcript: {result.text}")
    if result.close_code != 1000:
        print(f"the server ended the session: {result.close_code} {result.close_reason}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
