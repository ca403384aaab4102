"""Talk to a running hubert-stream server: the microphone goes up, live partials and finals come back.

    hubert-stream serve --model demo &
    python examples/mic_to_server.py                # speak; Ctrl-C ends the stream and prints the transcript

Needs sounddevice (pip install sounddevice) and a PortAudio input device. Torch-free.
"""

from __future__ import annotations

import argparse
import asyncio
import signal
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # so it runs from a checkout without installing

from clients import ClientError, format_event, stream_microphone  # noqa: E402
from streamer.wire.events import Event, Ready  # noqa: E402


async def talk(uri: str, rate: int, device: int | str | None) -> str:
    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGINT, stop.set)  # Ctrl-C: eof, then the last final

    def show(event: Event) -> None:
        print(format_event(event), flush=True)
        if isinstance(event, Ready):  # the server took the session
            print("listening... Ctrl-C to stop", file=sys.stderr)

    result = await stream_microphone(uri, stop, sample_rate=rate, device=device, on_event=show)
    return result.text


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--uri", default="ws://127.0.0.1:8765/v1/stream", help="server (default: %(default)s)")
    parser.add_argument("--rate", type=int, default=16_000, help="microphone sample rate (default: %(default)s)")
    parser.add_argument("--device", default=None, help="input device number or name (default: the system's)")
    args = parser.parse_args()
    device = int(args.device) if args.device and args.device.isdigit() else args.device
    try:
        print(f"transcript: {asyncio.run(talk(args.uri, args.rate, device))}")
    except ClientError as e:  # a server that is down, a wrong path, no microphone: one line
        print(f"error: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
