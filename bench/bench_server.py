"""How many real-time streams one server holds with p95 reply latency under 1 s, batched and not,
with the streams' sentences ending together (synchronized starts) and apart (random starts).

    python bench/bench_server.py --modes batched       # the full search, both starts (minutes; needs a free CPU)
    python bench/bench_server.py --streams 1,2 --seconds 3 --out /tmp/check.json   # a quick check

For each mode the server runs as a subprocess (``hubert-stream serve --protocol
vosk``) with ``--max-batch 32`` (batched) or ``--max-batch 1`` (one forward per stream).
N clients in this process each send 0.2 s chunks of speech on a real-time schedule,
with random phases, and wait for the one reply Vosk's protocol gives each chunk.
A chunk's latency runs from when a live source would have had it (its scheduled time)
to its reply, so a client that falls behind real time shows up as growing latency.
This is processing latency; the algorithmic latency (hop + lookahead) comes on top.
Final latency is reported beside it: from when a live source had the end of a segment's last
word (the ``end`` of the result's last word, on the stream's real-time clock) to the reply that
carries that result. It holds the endpoint's pause and the lookahead as well as processing. The
stream count doubles until p95 reply latency passes the budget, then is bisected.

Starts: ``sync`` sends every stream the clip from its start (within one chunk), so their
sentences, and the final passes that end them, come at once; ``random`` starts each at a
random place, as independent users would. The same work, only burstier. ``--pauses`` streams a
recording of held-out sentences with 1-5 s pauses over room noise (``training.speech.paused_recording``,
over half of it silence) instead of ``examples/weather.wav``; with ``--serve-args '--vad silero'`` the
server's voice activity detection time per audio second (from ``/metrics``) is reported too. Writes
``bench/results/server_streams.json``.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime
import json
import os
import platform
import random
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import numpy as np
import soundfile as sf

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from common import cpu_name, write_results  # noqa: E402
from websockets.asyncio.client import connect  # noqa: E402

CHUNK_SECONDS = 0.2  # what Vosk's clients send
BUDGET_SECONDS = 1.0  # p95 partial latency must stay under this
WARMUP_SECONDS = 1.0  # latencies of each stream's first second are not counted
MODES = {"batched": 32, "one_forward_per_stream": 1}
STARTS = ("sync", "random")
START_SECONDS = 120.0  # for the server to listen and load its model


def free_port() -> int:
    """A port free now, handed to the server: nothing to parse out of its log."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Server:
    """``hubert-stream serve`` on a free port (Vosk's protocol unless told), for the duration of a ``with`` block."""

    def __init__(
        self,
        model: str,
        max_batch: int,
        threads: int,
        dtype: str | None = None,
        extra: tuple[str, ...] = (),
        protocol: str = "vosk",
        max_buffer_seconds: float | None = 30.0,  # None: the server's default
    ) -> None:
        env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": str(threads)}
        self.port = free_port()
        buffer = ["--max-buffer-seconds", f"{max_buffer_seconds:g}"] if max_buffer_seconds is not None else []
        command = [
            sys.executable, "-m", "streamer", "serve", "--model", model, "--port", str(self.port),
            "--protocol", protocol, "--max-batch", str(max_batch), "--max-sessions", "1000", *buffer,
            "--log-level", "warning", *(["--dtype", dtype] if dtype else []), *extra,
        ]  # fmt: skip
        self.process = subprocess.Popen(command, cwd=ROOT, env=env)  # its warnings go to the bench's stderr
        deadline = time.monotonic() + START_SECONDS
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/healthz", timeout=5):
                    break  # listening, and the model is loaded
            except OSError:
                if self.process.poll() is not None or time.monotonic() > deadline:
                    self.process.kill()
                    raise RuntimeError(f"the server did not start on port {self.port}") from None
                time.sleep(0.2)

    def __enter__(self) -> Server:
        return self

    def metric(self, name: str) -> float:
        """A counter from the server's ``/metrics`` (``hubert_stream_`` + ``name``)."""
        with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/metrics", timeout=10) as response:
            for line in response.read().decode().splitlines():
                if line.startswith(f"hubert_stream_{name} "):
                    return float(line.split()[1])
        raise KeyError(name)

    def __exit__(self, *exc: object) -> None:
        self.process.terminate()
        self.process.wait(30)


async def one_stream(
    uri: str, audio: np.ndarray, seconds: float, phase: float, offset: int = 0
) -> tuple[list[float], list[float]]:
    """Send ``seconds`` of audio in real time, from chunk ``offset`` of the clip on; return each chunk's
    latency after the warm-up, and each final's latency after the end of its last word."""
    chunk = int(16_000 * CHUNK_SECONDS)
    latencies, finals = [], []
    await asyncio.sleep(phase)
    async with connect(uri, compression=None) as ws:
        await ws.send('{"config": {"sample_rate": 16000}}')
        start = time.monotonic()
        for i in range(int(seconds / CHUNK_SECONDS)):
            due = start + (i + 1) * CHUNK_SECONDS  # a live source has this chunk now
            await asyncio.sleep(max(0.0, due - time.monotonic()))
            first = ((i + offset) * chunk) % (len(audio) - chunk)
            await ws.send(audio[first : first + chunk].tobytes())
            reply = json.loads(await ws.recv())
            now = time.monotonic()
            if (i + 1) * CHUNK_SECONDS > WARMUP_SECONDS:
                latencies.append(now - due)
            if reply.get("result") and reply["result"][-1]["end"] > WARMUP_SECONDS:
                finals.append(now - (start + reply["result"][-1]["end"]))
        await ws.send('{"eof" : 1}')
        await ws.recv()
    return latencies, finals


async def measure(port: int, streams: int, seconds: float, audio: np.ndarray, random_start: bool) -> dict[str, float]:
    rng = random.Random(streams)
    uri = f"ws://127.0.0.1:{port}/"
    chunks = (len(audio) - int(16_000 * CHUNK_SECONDS)) // int(16_000 * CHUNK_SECONDS)
    runs = [
        one_stream(uri, audio, seconds, rng.uniform(0, CHUNK_SECONDS), rng.randrange(chunks) if random_start else 0)
        for _ in range(streams)
    ]
    done = await asyncio.gather(*runs)
    latencies = np.concatenate([np.asarray(all_, dtype=float) for all_, _ in done])
    finals = np.concatenate([np.asarray(f, dtype=float) for _, f in done])
    out = {"p50": round(float(np.percentile(latencies, 50)), 4), "p95": round(float(np.percentile(latencies, 95)), 4)}
    if len(finals):
        out["final_p50"] = round(float(np.percentile(finals, 50)), 4)
        out["final_p95"] = round(float(np.percentile(finals, 95)), 4)
    return out


def capacity(
    port: int, seconds: float, audio: np.ndarray, counts: list[int] | None, random_start: bool = False
) -> tuple[int, dict]:
    """Most streams with p95 under the budget: the given counts, or doubling then bisection."""
    results: dict[int, dict[str, float]] = {}

    def ok(n: int) -> bool:
        results[n] = r = asyncio.run(measure(port, n, seconds, audio, random_start))
        finals = f"  finals p50 {r['final_p50']:.3f} s  p95 {r['final_p95']:.3f} s" if "final_p50" in r else ""
        print(f"  {n:4d} streams: p50 {r['p50']:.3f} s  p95 {r['p95']:.3f} s{finals}", flush=True)
        return results[n]["p95"] < BUDGET_SECONDS

    if counts:
        passed = [n for n in counts if ok(n)]
        return max(passed, default=0), results
    good, bad = 0, 1
    while ok(bad):
        good, bad = bad, bad * 2
    while bad - good > max(1, good // 8):  # to within about 12%
        middle = (good + bad) // 2
        good, bad = (middle, bad) if ok(middle) else (good, middle)
    return good, results


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", default="demo")
    parser.add_argument("--seconds", type=float, default=20.0, help="audio per stream per measurement")
    parser.add_argument("--streams", default=None, help="comma-separated counts to try instead of the search")
    parser.add_argument("--threads", type=int, default=2, help="torch threads in the server")
    parser.add_argument("--dtype", default=None, help="the server's --dtype (default: the device's default)")
    parser.add_argument("--modes", default=",".join(MODES), help=f"any of {', '.join(MODES)}")
    parser.add_argument(
        "--starts", default=",".join(STARTS),
        help="any of sync (every stream at the clip's start, within one chunk: their sentences, and so their final "
        "passes, end together) and random (each at a random place, as independent users would); default: both",
    )  # fmt: skip
    parser.add_argument("--serve-args", default="", help="more options for the server, e.g. '--no-final-pass'")
    parser.add_argument(
        "--compare-args", default=None, metavar="ARGS",
        help="also search each mode and start with these server options added (e.g. '--lm demo'), right after "
        "the search without them; reported under compare/",
    )  # fmt: skip
    parser.add_argument(
        "--pauses", action="store_true",
        help="stream held-out sentences with 1-5 s pauses over room noise instead of examples/weather.wav",
    )  # fmt: skip
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "server_streams.json")
    args = parser.parse_args()
    counts = [int(n) for n in args.streams.split(",")] if args.streams else None
    if args.pauses:
        from training.speech import paused_recording

        audio = (np.clip(paused_recording()[1], -1, 1) * 32767).astype(np.int16)
    else:
        audio = sf.read(ROOT / "examples" / "weather.wav", dtype="int16")[0]

    report: dict[str, object] = {
        "setup": {
            "model": args.model, "seconds_per_stream": args.seconds, "chunk_seconds": CHUNK_SECONDS,
            "budget_p95_seconds": BUDGET_SECONDS, "server_threads": args.threads, "dtype": args.dtype or "default",
            "cpu": cpu_name(), "cpu_count": os.cpu_count(), "machine": platform.machine(),
            "python": platform.python_version(), "date": datetime.date.today().isoformat(),
            "serve_args": args.serve_args, "compare_args": args.compare_args,
            "audio": "paused_recording" if args.pauses else "examples/weather.wav",
            "command": " ".join(["python", "bench/bench_server.py", *sys.argv[1:]]),
        },
    }  # fmt: skip
    starts = args.starts.split(",")
    for mode in args.modes.split(","):
        report[mode] = {}
        for start in starts:
            print(f"{mode} (--max-batch {MODES[mode]}), {start} starts:", flush=True)
            variants = [("", args.serve_args)]
            if args.compare_args is not None:
                variants.append(("compare", f"{args.serve_args} {args.compare_args}"))
            for label, serve_args in variants:
                with Server(args.model, MODES[mode], args.threads, args.dtype, tuple(serve_args.split())) as server:
                    held, results = capacity(server.port, args.seconds, audio, counts, start == "random")
                    vad = server.metric("vad_seconds_total") / max(server.metric("audio_seconds_total"), 1e-9)
                found = {"max_streams": held, "by_streams": {str(n): r for n, r in sorted(results.items())}}
                if "--vad" in serve_args:  # the inference thread's VAD time over all sessions, per audio second
                    found["vad_seconds_per_audio_second"] = round(vad, 6)
                if label:
                    report.setdefault(label, {}).setdefault(mode, {})[start] = found
                else:
                    report[mode][start] = found
                print(f"  -> {held} real-time streams with p95 < {BUDGET_SECONDS:g} s ({serve_args or 'no extra options'})", flush=True)
        if set(STARTS) <= set(starts) and report[mode]["random"]["max_streams"]:
            ratio = report[mode]["sync"]["max_streams"] / report[mode]["random"]["max_streams"]
            report[mode]["sync_over_random"] = round(ratio, 2)
            print(f"  {mode}: synchronized / random starts: {ratio:.2f}x", flush=True)
    if "batched" in report and "one_forward_per_stream" in report:
        for start in starts:
            unbatched = report["one_forward_per_stream"][start]["max_streams"]  # type: ignore[index]
            batched = report["batched"][start]["max_streams"]  # type: ignore[index]
            report[f"ratio_{start}"] = round(batched / unbatched, 2) if unbatched else None
            print(f"{start} starts, batched / one forward per stream: {report[f'ratio_{start}']}x")
    write_results(args.out, report)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
