"""Overload on a contended core: honest neighbours' latency with and without aggressors, and what each aggressor gets.

    python bench/bench_overload.py                     # 2 pairs of rounds (A B A B), about 3 minutes
    python bench/bench_overload.py --pairs 1 --out /tmp/overload.json

One ``hubert-stream serve --model demo`` runs pinned to core 0 (``taskset -c 0``) with a busy loop
pinned there too, for the whole run; the clients run on core 1. Rounds alternate:

- **A (twin):** N honest neighbours stream speech in real time in 0.1 s chunks (native protocol).
- **B:** the same neighbours, plus four flooders sending 64 KB messages of speech as fast as the
  server takes them for 10 s then ``eof``, one sender at 8x real time (0.1 s chunks), and one
  client that reads nothing while it streams 20 s of speech in real time (a 4 KB socket receive
  buffer), then sends ``eof`` and reads.

A neighbour's latency is measured per event: from when a live source would have had the chunk
that event needs (found by feeding the same chunks to a ``Recognizer`` here, offline) to the
event's arrival; the neighbours' partials and finals must equal that offline run's, event for event.
Outcomes recorded for B: every flooder and the 8x sender get exact finals, ``done`` and 1000 (never
a keepalive 1011); the non-reader, whose unread events fit in the connection's buffers, is not
closed (the write timeout counts only once a write blocks) and reads every event, ``done`` and 1000. Writes ``bench/results/server_overload.json``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import platform
import random
import re
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections import Counter
from pathlib import Path

import numpy as np
import soundfile as sf

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from common import cpu_name, write_results
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from streamer.wire.events import Final, Partial, parse_event

RATE = 16_000
CHUNK = 1_600  # 0.1 s: what the neighbours and the 8x sender send per message
FLOOD_MESSAGE = 65_536  # bytes per flooder message: 32,768 int16 samples, 2.05 s
FLOODERS = 4
FAST_PACE = 8.0  # the fast sender's speed, times real time
FAST_SECONDS = 64.0  # of audio the fast sender sends
NON_READER_RCVBUF = 4_096  # bytes: the non-reader's socket receive buffer
NON_READER_SECONDS = 20.0  # of speech the non-reader sends in real time before it reads anything
GAP_SECONDS = 1.0  # silence between the example recordings in the looped speech
START_SECONDS = 120.0  # for the server to listen and load its model
SERVER_CORE, CLIENT_CORE = 0, 1
BUSY_LOOP = "while True: pass"


def speech(seconds: float) -> np.ndarray:
    """int16 speech: examples/weather.wav and hello.wav with 1 s pauses, looped to ``seconds``."""
    gap = np.zeros(int(GAP_SECONDS * RATE), np.int16)
    clips = [sf.read(ROOT / "examples" / f"{n}.wav", dtype="int16")[0] for n in ("weather", "hello")]
    loop = np.concatenate([clips[0], gap, clips[1], gap])
    return np.tile(loop, int(np.ceil(seconds * RATE / len(loop))))[: int(seconds * RATE)]




def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


# ----- the reference: which chunk each event needs ---------------------------------------------------


def reference_events(model, audio: np.ndarray) -> list[tuple[str, str, int]]:
    """(type, text, chunk index) of every partial and final a live stream of ``audio`` in 0.1 s chunks gets.

    The chunk index is the chunk after which an infinitely fast server would send the event (the
    events of the end of stream belong to the last chunk: ``eof`` follows it at once).
    """
    from streamer.core.recognizer import Recognizer

    recognizer = Recognizer(model)
    out = []
    chunks = range(0, len(audio), CHUNK)
    for j, first in enumerate(chunks):
        out += [(e.type, e.text, j) for e in recognizer.accept(audio[first : first + CHUNK].astype(np.float32) / 32768)]
    out += [(e.type, e.text, len(chunks) - 1) for e in recognizer.close()]
    return [(kind, text, j) for kind, text, j in out if kind in ("partial", "final")]


def finals_of(model, audio: np.ndarray) -> list[str]:
    from streamer.core.files import transcribe_stream

    return [e.text for e in transcribe_stream(model, audio, RATE) if isinstance(e, Final)]


# ----- the neighbours --------------------------------------------------------------------------------


async def neighbour(uri: str, audio: np.ndarray, phase: float) -> dict:
    """Stream ``audio`` in real time in 0.1 s chunks, then eof; every event with its arrival time."""
    await asyncio.sleep(phase)
    async with connect(uri, compression=None) as ws:
        assert parse_event(await ws.recv()).type == "ready"
        arrivals: list[tuple[float, object]] = []

        async def read() -> None:
            with contextlib.suppress(ConnectionClosed):
                async for message in ws:
                    arrivals.append((time.monotonic(), parse_event(message)))

        reader = asyncio.ensure_future(read())
        start = time.monotonic()
        for j, first in enumerate(range(0, len(audio), CHUNK)):
            await asyncio.sleep(max(0.0, start + (j + 1) * CHUNK / RATE - time.monotonic()))
            await ws.send(audio[first : first + CHUNK].tobytes())
        await ws.send('{"type":"eof"}')
        await reader
    return {"start": start, "arrivals": arrivals, "code": ws.close_code}


def latencies(run: dict, reference: list[tuple[str, str, int]]) -> tuple[list[float], bool]:
    """Each event's latency (arrival - when its chunk was live) and whether the events equal the reference's."""
    got = [(t, e) for t, e in run["arrivals"] if isinstance(e, Partial | Final)]
    same = [(e.type, e.text) for _, e in got] == [(kind, text) for kind, text, _ in reference]
    out = []
    for (arrived, _), (_, _, j) in zip(got, reference, strict=False):
        out.append(arrived - (run["start"] + (j + 1) * CHUNK / RATE))
    return out, same and run["code"] == 1000


async def neighbours(port: int, count: int, audio: np.ndarray, seed: int) -> list[dict]:
    rng = random.Random(seed)
    uri = f"ws://127.0.0.1:{port}/v1/stream"
    hop = 0.3  # spread the neighbours' phases over one hop
    return await asyncio.gather(*(neighbour(uri, audio, rng.uniform(0, hop)) for _ in range(count)))


# ----- the aggressors (run in their own process, on the clients' core) -----------------------------


async def _collect(ws) -> tuple[list, float | None]:
    """Every event until the close; and when ``done`` came."""
    events, done_at = [], None
    with contextlib.suppress(ConnectionClosed):
        async for message in ws:
            event = parse_event(message)
            events.append(event)
            if event.type == "done":
                done_at = time.monotonic()
    return events, done_at


def _outcome(events: list, code: int | None, started: float, done_at: float | None, **extra) -> dict:
    return {
        "code": code,
        "done": any(e.type == "done" for e in events),
        "finals": [e.text for e in events if isinstance(e, Final)],
        "errors": [e.code for e in events if e.type == "error"],
        "lag_events": sum(e.type == "lag" for e in events),
        "seconds_to_done": None if done_at is None else round(done_at - started, 2),
        **extra,
    }


async def flooder(uri: str, audio: np.ndarray, seconds: float) -> dict:
    """64 KB messages of speech as fast as the server takes them for ``seconds``, then eof; reads everything."""
    per = FLOOD_MESSAGE // 2
    async with connect(uri, compression=None, ping_timeout=None) as ws:
        reader = asyncio.ensure_future(_collect(ws))
        started = time.monotonic()
        sent = 0
        while time.monotonic() - started < seconds and (sent + 1) * per <= len(audio):
            await ws.send(audio[sent * per : (sent + 1) * per].tobytes())
            sent += 1
        await ws.send('{"type":"eof"}')
        events, done_at = await reader
    return _outcome(events, ws.close_code, started, done_at, messages=sent, samples=sent * per)


async def fast_sender(uri: str, audio: np.ndarray) -> dict:
    """0.1 s chunks at ``FAST_PACE`` times real time, then eof; reads everything."""
    async with connect(uri, compression=None, ping_timeout=None) as ws:
        reader = asyncio.ensure_future(_collect(ws))
        started = time.monotonic()
        behind = 0.0
        for j, first in enumerate(range(0, len(audio), CHUNK)):
            due = started + j * CHUNK / RATE / FAST_PACE
            await asyncio.sleep(max(0.0, due - time.monotonic()))
            behind = max(behind, time.monotonic() - due)
            await ws.send(audio[first : first + CHUNK].tobytes())
        sent_at = time.monotonic()
        await ws.send('{"type":"eof"}')
        events, done_at = await reader
    pace = len(audio) / RATE / (sent_at - started)
    return _outcome(events, ws.close_code, started, done_at, samples=len(audio), achieved_pace=round(pace, 2))


async def non_reader(uri: str, audio: np.ndarray) -> dict:
    """Speech in real time for ``NON_READER_SECONDS`` without reading a byte (a 4 KB receive buffer and a
    one-frame queue), then eof, and only then reads: whether the server closed it, and what was waiting."""
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, NON_READER_RCVBUF)
    host, port = uri.split("//")[1].split("/")[0].split(":")
    sock.connect((host, int(port)))
    ws = await connect(uri, sock=sock, compression=None, ping_timeout=None, max_queue=1, max_size=None)
    started = time.monotonic()
    closed_early = False
    try:
        for j, first in enumerate(range(0, int(NON_READER_SECONDS * RATE), CHUNK)):
            await asyncio.sleep(max(0.0, started + (j + 1) * CHUNK / RATE - time.monotonic()))
            await ws.send(audio[first : first + CHUNK].tobytes())
        await ws.send('{"type":"eof"}')
    except ConnectionClosed:
        closed_early = True
    unread_at = time.monotonic()
    events, done_at = await _collect(ws)
    return _outcome(
        events, ws.close_code, started, done_at, closed_before_reading=closed_early,
        unread_events=len(events), unread_bytes=sum(len(e.to_json()) for e in events),
        read_after_seconds=round(unread_at - started, 1),
    )  # fmt: skip


async def aggressors(port: int, flood_seconds: float, audio: np.ndarray, fast_audio: np.ndarray) -> dict:
    uri = f"ws://127.0.0.1:{port}/v1/stream"
    jobs = [flooder(uri, audio, flood_seconds) for _ in range(FLOODERS)]
    jobs += [fast_sender(uri, fast_audio), non_reader(uri, audio)]
    results = await asyncio.gather(*jobs)
    return {"flooders": results[:FLOODERS], "fast_sender": results[FLOODERS], "non_reader": results[FLOODERS + 1]}


def run_aggressors(port: int, flood_seconds: float) -> int:
    """The aggressor process: says ``ready``, waits for a line on stdin, prints its outcomes as JSON."""
    audio = speech(flood_seconds * 40 + 60)  # more than a flooder can send at 40x real time
    fast_audio = speech(FAST_SECONDS)
    print("ready", flush=True)
    sys.stdin.readline()
    print(json.dumps(asyncio.run(aggressors(port, flood_seconds, audio, fast_audio))), flush=True)
    return 0


# ----- the run ---------------------------------------------------------------------------------------


class Server:
    """``hubert-stream serve --model demo`` pinned to ``SERVER_CORE``, its log in a file."""

    def __init__(self, model: str) -> None:
        self.port = free_port()
        self.log = tempfile.NamedTemporaryFile("w+", suffix=".log", prefix="overload-")  # noqa: SIM115 (lives with the server)
        env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}
        command = [
            "taskset", "-c", str(SERVER_CORE), sys.executable, "-m", "streamer", "serve", "--model", model,
            "--port", str(self.port), "--log-level", "info",
        ]  # fmt: skip
        self.process = subprocess.Popen(command, cwd=ROOT, env=env, stderr=self.log)
        deadline = time.monotonic() + START_SECONDS
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/healthz", timeout=5):
                    break
            except OSError:
                if self.process.poll() is not None or time.monotonic() > deadline:
                    self.process.kill()
                    raise RuntimeError(f"the server did not start on port {self.port}") from None
                time.sleep(0.2)

    def log_since(self, offset: int) -> tuple[str, int]:
        self.log.flush()
        with open(self.log.name) as f:
            f.seek(offset)
            text = f.read()
        return text, offset + len(text)

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(30)
        self.log.close()


def closes_in(log: str) -> dict[str, int]:
    return dict(Counter(re.findall(r"session \w+ closed \((\S+)\)", log)))


def percentiles(values: list[float]) -> dict[str, float]:
    return {
        "p50": round(float(np.percentile(values, 50)), 4),
        "p95": round(float(np.percentile(values, 95)), 4),
        "events": len(values),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="demo")
    parser.add_argument("--pairs", type=int, default=2, help="A/B pairs of rounds, alternating")
    parser.add_argument("--neighbours", type=int, default=4)
    parser.add_argument("--seconds", type=float, default=20.0, help="speech per neighbour per round")
    parser.add_argument("--flood-seconds", type=float, default=10.0)
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "server_overload.json")
    parser.add_argument("--aggressors", type=int, metavar="PORT", help=argparse.SUPPRESS)  # the child process
    parser.add_argument("--dump", type=Path, help=argparse.SUPPRESS)  # every event's latency, for a closer look
    args = parser.parse_args(argv)
    if args.aggressors:
        return run_aggressors(args.aggressors, args.flood_seconds)
    if len(os.sched_getaffinity(0)) < 2 or CLIENT_CORE not in os.sched_getaffinity(0):
        print("needs cores 0 and 1: the server and a busy loop on one, the clients on the other", file=sys.stderr)
        return 2
    os.sched_setaffinity(0, {CLIENT_CORE})

    import torch

    from model import load_model

    torch.set_num_threads(1)
    demo = load_model(args.model, device="cpu")
    audio = speech(args.seconds)
    reference = reference_events(demo, audio)
    expected_neighbour = [text for kind, text, _ in reference if kind == "final"]
    assert expected_neighbour == finals_of(demo, audio), "0.1 s chunks and whole-file streaming should agree"
    load_before = os.getloadavg()

    busy = subprocess.Popen(["taskset", "-c", str(SERVER_CORE), sys.executable, "-c", BUSY_LOOP])
    server = Server(args.model)
    rounds: list[dict] = []
    dump: list[tuple] = []
    try:
        asyncio.run(neighbours(server.port, 1, audio[: 3 * RATE], seed=0))  # warm-up, not counted
        time.sleep(1.0)  # its log line
        offset = server.log_since(0)[1]
        for pair in range(args.pairs):
            for scenario in ("A", "B"):
                child = None
                if scenario == "B":
                    child = subprocess.Popen(
                        [sys.executable, __file__, "--aggressors", str(server.port), "--flood-seconds",
                         str(args.flood_seconds)],
                        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, cwd=ROOT,
                    )  # fmt: skip
                    assert child.stdout.readline().strip() == "ready"
                    child.stdin.write("go\n")
                    child.stdin.flush()
                runs = asyncio.run(neighbours(server.port, args.neighbours, audio, seed=pair))
                outcome = json.loads(child.stdout.readline()) if child else None
                if child:
                    child.wait(30)
                time.sleep(3.0)  # the server's close timeouts and log lines settle
                log, offset = server.log_since(offset)
                values, exact = [], []
                for n, run in enumerate(runs):
                    lat, same = latencies(run, reference)
                    values += lat
                    dump += [(scenario, pair, n, kind, j, v) for (kind, _, j), v in zip(reference, lat)]
                    exact.append(
                        same and [e.text for _, e in run["arrivals"] if isinstance(e, Final)] == expected_neighbour
                    )
                record = {
                    "scenario": scenario, "pair": pair, **percentiles(values), "neighbours_exact": exact,
                    "server_closes": closes_in(log), "tracebacks": log.count("Traceback"),
                    "keepalive_timeouts": log.count("keepalive"),
                }  # fmt: skip
                if outcome:
                    record["aggressors"] = outcome
                rounds.append(record)
                print(f"{scenario}{pair}: p50 {record['p50']:.3f} s  p95 {record['p95']:.3f} s  "
                      f"({record['events']} events)  exact {exact}  closes {record['server_closes']}", flush=True)  # fmt: skip
    finally:
        server.stop()
        busy.kill()
        busy.wait()

    if args.dump:
        args.dump.write_text(json.dumps(dump))
    # The aggressors' finals against this process's streaming of exactly what each sent.
    fast_expected = finals_of(demo, speech(FAST_SECONDS))
    long_audio = speech(args.flood_seconds * 40 + 60)
    non_reader_expected = finals_of(demo, long_audio[: int(NON_READER_SECONDS * RATE)])
    for record in rounds:
        if "aggressors" not in record:
            continue
        a = record["aggressors"]
        for f in a["flooders"]:
            f["finals_exact"] = f.pop("finals") == finals_of(demo, long_audio[: f["samples"]])
        a["fast_sender"]["finals_exact"] = a["fast_sender"].pop("finals") == fast_expected
        a["non_reader"]["finals_exact"] = a["non_reader"].pop("finals") == non_reader_expected

    pooled = {s: [r for r in rounds if r["scenario"] == s] for s in "AB"}
    by_pair = [
        round(b["p95"] / a["p95"], 3) for a, b in zip(pooled["A"], pooled["B"], strict=True)
    ]  # fmt: skip
    p95 = {s: round(float(np.mean([r["p95"] for r in pooled[s]])), 4) for s in "AB"}
    ratio = round(p95["B"] / p95["A"], 3)
    aggressor_rounds = [r["aggressors"] for r in pooled["B"]]
    report = {
        "cpu": cpu_name(),
        "setup": {
            "server": f"hubert-stream serve --model {args.model}, pinned to core {SERVER_CORE} "
            f"(taskset), one torch thread, a busy loop pinned to core {SERVER_CORE} in both scenarios",
            "clients": f"pinned to core {CLIENT_CORE}; aggressors in a second process",
            "neighbours": args.neighbours,
            "seconds_per_neighbour": args.seconds,
            "chunk_seconds": CHUNK / RATE,
            "flooders": FLOODERS,
            "flood_message_bytes": FLOOD_MESSAGE,
            "flood_seconds": args.flood_seconds,
            "fast_sender_pace": FAST_PACE,
            "fast_sender_audio_seconds": FAST_SECONDS,
            "non_reader": f"reads nothing while it sends {NON_READER_SECONDS:g} s of speech in real time "
            f"({NON_READER_RCVBUF}-byte receive buffer), then eof and reads",
            "load_average_before": [round(x, 2) for x in load_before],
            "load_average_after": [round(x, 2) for x in os.getloadavg()],
            "note": "other jobs share the 2 cores: compare A and B only as ratios of alternating rounds in one run",
            "python": platform.python_version(),
        },
        "latency": "per partial/final of the neighbours: from when a live source had the chunk it needs to its arrival",
        "p95_mean": p95,
        "p95_ratio_B_over_A": ratio,
        "p95_ratio_by_pair": by_pair,
        "within_10_percent": ratio <= 1.10,
        "neighbours_exact": all(all(r["neighbours_exact"]) for r in rounds),
        "flooders_exact_done_1000": all(
            f["finals_exact"] and f["done"] and f["code"] == 1000 for a in aggressor_rounds for f in a["flooders"]
        ),
        "fast_sender_exact_done_1000": all(
            a["fast_sender"]["finals_exact"] and a["fast_sender"]["done"] and a["fast_sender"]["code"] == 1000
            for a in aggressor_rounds
        ),
        "non_reader_not_closed_then_done_1000": all(
            not a["non_reader"]["closed_before_reading"]
            and a["non_reader"]["finals_exact"]
            and a["non_reader"]["done"]
            and a["non_reader"]["code"] == 1000
            for a in aggressor_rounds
        ),
        "closes_1011": sum(r["server_closes"].get("1011", 0) for r in rounds),
        "tracebacks": sum(r["tracebacks"] for r in rounds),
        "rounds": rounds,
    }
    for key in ("p95_mean", "p95_ratio_B_over_A", "p95_ratio_by_pair", "neighbours_exact", "flooders_exact_done_1000",
                "fast_sender_exact_done_1000", "non_reader_not_closed_then_done_1000", "closes_1011", "tracebacks"):  # fmt: skip
        print(f"{key}: {report[key]}")
    write_results(args.out, report)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
