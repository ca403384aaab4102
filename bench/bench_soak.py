"""A long run of one server under session churn and misbehaving clients: its memory, threads, open
files and latency over time, with every honest session's finals exact.

    python bench/bench_soak.py                                     # 30 minutes (needs a free CPU)
    python bench/bench_soak.py --minutes 2 --out /tmp/soak-trial   # a short trial

One ``hubert-stream serve --model demo`` runs as a subprocess (native protocol, ``/v1/stream``;
bench_server.py's ``Server``: ``--max-sessions 1000`` admits every client, ``--max-buffer-seconds
30``) for ``--minutes``, with these clients in this process:

- **20 honest clients** (``--clients``), each streaming a whole recording (examples/weather.wav,
  then examples/hello.wav, in turn) in 0.1 s chunks on a real-time schedule, then ``eof``; each
  reads every event until the close, then opens a new session at once. Their first sessions start
  at random times within one recording, so sessions end and open all the time.
- **One flooder**: 60 s of speech per session in 64 KB messages as fast as the server takes them,
  then ``eof``; it reads everything, then reconnects.
- **One non-reader**: sends 0.1 s of speech every 0.1 s and never reads. Each chunk is followed by
  100 text messages that are not JSON, each earning a 115-byte ``bad_message`` error event: a
  real-time stream's own events would take hours to fill the loopback connection's buffers (the
  server's send buffer grows to megabytes), these fill them in under half a minute. The server's
  write then waits for the write timeout (10 s), closes (4008) and drops the connection 2 s later;
  the non-reader's next send fails and it reconnects (about 40 s a session).

At the end each client finishes the session it is in (the non-reader is cut off); the latency
figures count the events that came before the end, the totals every session.

Every 10 s it samples the server's resident memory (``/proc/PID/statm``), threads and open files,
and ``hubert_stream_sessions_active`` from ``/metrics``; partial and final latency p50/p95 over the
window are computed from the honest sessions' events that arrived in it.

Latency. A partial's latency runs from when a live source had the chunk that produced it to the
partial's arrival. The chunk is found beforehand by feeding the same 0.1 s chunks to a
``Recognizer`` here (bench_overload.py's ``reference_events``): hops depend on the audio alone, so
a session's partials equal that run's one for one (a session whose partials differ is counted and
its partials are left out). A final's latency runs from when a live source had the end of its last
word (``words[-1].end`` on the session's real-time clock) to its arrival: it holds the endpoint's
silence (0.7 s; not the last final's, which ``eof`` ends at once), the lookahead and the final pass
as well as processing. The algorithmic latency (hop + lookahead) comes on top of a partial's.

Exactness. Before the soak, the finals of each recording (and of the flooder's speech) are computed
here once with ``transcribe_stream`` on the same int16 audio the clients send; an honest session
whose final texts differ is a mismatch. A session with an error is one that raised, got an
``error`` event, missed ``done`` or closed with anything but 1000. Both counts should be 0.

Writes ``bench/results/soak.json`` (the samples, the totals, the memory after the first
``--settle-minutes`` and latency p95 per minute) and ``soak.png`` (memory, and latency, over time).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import datetime
import os
import platform
import random
import re
import socket
import sys
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import soundfile as sf

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench_overload import CHUNK, FLOOD_MESSAGE, NON_READER_RCVBUF, RATE, reference_events, speech  # noqa: E402
from bench_server import Server  # noqa: E402
from common import cpu_name, write_results  # noqa: E402
from websockets.asyncio.client import connect  # noqa: E402
from websockets.exceptions import ConnectionClosed, WebSocketException  # noqa: E402

from streamer.wire.events import Final, Partial, parse_event  # noqa: E402

RECORDINGS = ("weather", "hello")  # examples/*.wav, 10.9 s and 3.2 s, 16 kHz int16
SAMPLE_SECONDS = 10.0  # between samples of the server's memory, threads, files and sessions
FLOOD_SESSION_SECONDS = 60.0  # of speech per flooder session
JUNK_PER_CHUNK = 100  # non-JSON text messages the non-reader sends after each 0.1 s chunk
NON_READER_LIMIT = 120.0  # seconds a non-reader session may last before it gives up waiting to be dropped
RETRY_SECONDS = 1.0  # a client whose session failed waits this long before it reconnects
SLACK_SECONDS = 60.0  # a session may last its audio's real-time length plus this, then it has failed
DRAIN_SECONDS = 30.0  # for the server to close every session once the clients stop
MAX_ERROR_NOTES = 20  # failed sessions described in the results, the first ones
MEMORY_BAND = 0.05  # resident memory after the settle mark should stay within this fraction of its mean
LATENCY_TICKS = (0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1, 2, 5, 10, 20)  # seconds, on the log axis


# ----- what the clients record ---------------------------------------------------------------------------


@dataclass
class Record:
    """Everything the clients saw, on this process's monotonic clock."""

    t0: float  # the soak's start
    partials: list[tuple[float, float]] = field(default_factory=list)  # (arrival - t0, latency) per partial
    finals: list[tuple[float, float]] = field(default_factory=list)  # (arrival - t0, latency) per final
    honest_ended: list[float] = field(default_factory=list)  # end - t0 of each honest session
    mismatches: int = 0
    errors: int = 0
    partials_differ: int = 0
    lag_events: int = 0
    flooder: dict[str, int] = field(default_factory=lambda: {"sessions": 0, "mismatches": 0, "errors": 0})
    non_reader: dict[str, object] = field(default_factory=lambda: {"sessions": 0, "dropped": 0, "seconds_to_drop": []})
    notes: list[str] = field(default_factory=list)

    def note(self, text: str) -> None:
        if len(self.notes) < MAX_ERROR_NOTES:
            self.notes.append(f"{time.monotonic() - self.t0:.1f} s: {text}")


@dataclass(frozen=True)
class Reference:
    """One recording as the honest clients send it, its finals, and the chunk each partial needs."""

    audio: np.ndarray  # int16
    finals: list[str]
    partials: list[tuple[str, int]]  # (text, index of the 0.1 s chunk after which it is due)


def references(model) -> tuple[dict[str, Reference], list[str]]:
    """The recordings' references, and the flooder's speech's finals."""
    from streamer.core.files import transcribe_stream

    def finals_of(audio: np.ndarray) -> list[str]:
        return [e.text for e in transcribe_stream(model, audio, RATE) if isinstance(e, Final)]

    out = {}
    for name in RECORDINGS:
        audio = sf.read(ROOT / "examples" / f"{name}.wav", dtype="int16")[0]
        events = reference_events(model, audio)
        finals = finals_of(audio)
        assert [t for kind, t, _ in events if kind == "final"] == finals, "0.1 s chunks and whole-file streaming agree"
        out[name] = Reference(audio, finals, [(t, j) for kind, t, j in events if kind == "partial"])
    return out, finals_of(speech(FLOOD_SESSION_SECONDS))


async def read_all(ws) -> list[tuple[float, object]]:
    """Every event until the close, with its arrival time."""
    arrivals = []
    with contextlib.suppress(ConnectionClosed):
        async for message in ws:
            arrivals.append((time.monotonic(), parse_event(message)))
    return arrivals


def problem(arrivals: list[tuple[float, object]], code: int | None) -> str | None:
    """Why a session that should have ended normally did not, or None."""
    events = [e for _, e in arrivals]
    errors = [e.code for e in events if e.type == "error"]
    if errors:
        return f"error events {errors}"
    if not events or events[-1].type != "done":
        return "no done"
    if code != 1000:
        return f"closed with {code}"
    return None


# ----- the clients ---------------------------------------------------------------------------------------


async def honest_session(uri: str, ref: Reference, name: str, record: Record) -> None:
    """One recording in real time in 0.1 s chunks, then eof; its latencies and outcome go to ``record``."""
    async with connect(uri, compression=None) as ws:
        reader = asyncio.ensure_future(read_all(ws))
        start = time.monotonic()
        for j, first in enumerate(range(0, len(ref.audio), CHUNK)):
            await asyncio.sleep(max(0.0, start + (j + 1) * CHUNK / RATE - time.monotonic()))  # live now
            await ws.send(ref.audio[first : first + CHUNK].tobytes())
        await ws.send('{"type":"eof"}')
        arrivals = await reader
    record.honest_ended.append(time.monotonic() - record.t0)
    partials = [(t, e) for t, e in arrivals if isinstance(e, Partial)]
    if [e.text for _, e in partials] == [text for text, _ in ref.partials]:
        for (arrived, _), (_, j) in zip(partials, ref.partials, strict=True):
            record.partials.append((arrived - record.t0, arrived - (start + (j + 1) * CHUNK / RATE)))
    else:
        record.partials_differ += 1
    finals = [(t, e) for t, e in arrivals if isinstance(e, Final)]
    for arrived, final in finals:
        if final.words:
            record.finals.append((arrived - record.t0, arrived - (start + final.words[-1].end)))
    record.lag_events += sum(e.type == "lag" for _, e in arrivals)
    if [e.text for _, e in finals] != ref.finals:
        record.mismatches += 1
        record.note(f"{name}: finals {[e.text for _, e in finals]}")
    why = problem(arrivals, ws.close_code)
    if why:
        record.errors += 1
        record.note(f"{name}: {why}")


async def honest(
    uri: str, refs: dict[str, Reference], first: int, phase: float, deadline: float, record: Record
) -> None:
    """Sessions one after another until the deadline, the recordings in turn from ``first`` on."""
    await asyncio.sleep(phase)
    turn = first
    while time.monotonic() < deadline:
        name = RECORDINGS[turn % len(RECORDINGS)]
        turn += 1
        limit = len(refs[name].audio) / RATE + SLACK_SECONDS
        try:
            await asyncio.wait_for(honest_session(uri, refs[name], name, record), limit)
        except (OSError, WebSocketException, asyncio.TimeoutError) as e:
            record.honest_ended.append(time.monotonic() - record.t0)
            record.errors += 1
            record.note(f"{name}: {type(e).__name__}: {e}")
            await asyncio.sleep(RETRY_SECONDS)


async def flood_session(uri: str, audio: np.ndarray) -> tuple[list[tuple[float, object]], int | None]:
    """``audio`` in 64 KB messages as fast as the server takes them, then eof; every event, and the close code."""
    per = FLOOD_MESSAGE // 2  # samples per message
    async with connect(uri, compression=None, ping_timeout=None) as ws:
        reader = asyncio.ensure_future(read_all(ws))
        for first in range(0, len(audio), per):
            await ws.send(audio[first : first + per].tobytes())
        await ws.send('{"type":"eof"}')
        return await reader, ws.close_code


def first_difference(got: list[str], expected: list[str]) -> str:
    """Where two lists of final texts part: the index and both texts there."""
    for i, (a, b) in enumerate(zip(got, expected)):
        if a != b:
            return f"final {i}: got {a!r}, expected {b!r}"
    return f"{len(got)} finals, expected {len(expected)}"


async def flooder(uri: str, audio: np.ndarray, expected: list[str], deadline: float, record: Record) -> None:
    """Flood sessions one after another until the deadline."""
    stats = record.flooder
    while time.monotonic() < deadline:
        try:
            arrivals, code = await asyncio.wait_for(flood_session(uri, audio), len(audio) / RATE + SLACK_SECONDS)
        except (OSError, WebSocketException, asyncio.TimeoutError) as e:
            stats["sessions"] += 1
            stats["errors"] += 1
            record.note(f"flooder: {type(e).__name__}: {e}")
            await asyncio.sleep(RETRY_SECONDS)
            continue
        stats["sessions"] += 1
        got = [e.text for _, e in arrivals if isinstance(e, Final)]
        if got != expected:
            stats["mismatches"] += 1
            record.note(f"flooder: finals differ: {first_difference(got, expected)}")
        why = problem(arrivals, code)
        if why:
            stats["errors"] += 1
            record.note(f"flooder: {why}")


async def non_reader_session(uri: str, port: int, audio: np.ndarray, end: float) -> bool:
    """Speech in real time, each chunk followed by junk, reading nothing, until ``end``: whether it was dropped
    before then."""
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, NON_READER_RCVBUF)  # before connecting: the window
    sock.setblocking(False)
    try:
        await asyncio.get_running_loop().sock_connect(sock, ("127.0.0.1", port))
        ws = await connect(uri, sock=sock, compression=None, ping_timeout=None, max_queue=1)
    except BaseException:
        sock.close()
        raise
    start = time.monotonic()
    try:
        j = 0
        while (due := start + (j + 1) * CHUNK / RATE) <= end:
            await asyncio.sleep(max(0.0, due - time.monotonic()))
            first = (j * CHUNK) % (len(audio) - CHUNK)
            await ws.send(audio[first : first + CHUNK].tobytes())
            for _ in range(JUNK_PER_CHUNK):
                await ws.send("x")  # not JSON: a bad_message error event the client never reads
            j += 1
        await asyncio.sleep(max(0.0, end - time.monotonic()))
    except ConnectionClosed:
        return True
    finally:
        ws.transport.abort()
    return False


async def non_reader(uri: str, port: int, audio: np.ndarray, deadline: float, record: Record) -> None:
    """Non-reading sessions one after another until the deadline."""
    stats = record.non_reader
    while time.monotonic() < deadline:
        start = time.monotonic()
        end = min(deadline, start + NON_READER_LIMIT)
        try:
            dropped = await asyncio.wait_for(non_reader_session(uri, port, audio, end), end - start + SLACK_SECONDS)
        except (OSError, WebSocketException, asyncio.TimeoutError) as e:
            record.note(f"non-reader: {type(e).__name__}: {e}")
            await asyncio.sleep(RETRY_SECONDS)
            continue
        if dropped:
            stats["sessions"] += 1
            stats["dropped"] += 1
            stats["seconds_to_drop"].append(round(time.monotonic() - start, 1))
        elif end < deadline:  # it ran its whole limit (one cut short by the deadline is not counted)
            stats["sessions"] += 1
            record.note(f"non-reader: not dropped within {NON_READER_LIMIT:g} s")


# ----- the server's side ---------------------------------------------------------------------------------


def metrics(port: int) -> str:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as response:
        return response.read().decode()


def gauge(text: str, name: str) -> float:
    """The value of an unlabelled metric in Prometheus text."""
    found = re.search(rf"^{name} (\S+)$", text, re.MULTILINE)
    assert found, f"/metrics has no {name}"
    return float(found.group(1))


def labelled(text: str, name: str) -> dict[str, int]:
    """A labelled counter's values, by its one label's value."""
    return {label: int(float(v)) for label, v in re.findall(rf'^{name}{{\w+="([^"]*)"}} (\S+)$', text, re.MULTILINE)}


def server_state(pid: int, port: int) -> dict[str, float]:
    """Resident memory (MiB), threads, open files and active sessions of the server, now."""
    resident = int(Path(f"/proc/{pid}/statm").read_text().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20
    return {
        "rss_mib": round(resident, 1),
        "threads": len(os.listdir(f"/proc/{pid}/task")),
        "fds": len(os.listdir(f"/proc/{pid}/fd")),
        "sessions_active": int(gauge(metrics(port), "hubert_stream_sessions_active")),
    }


async def sampler(server: Server, deadline: float, record: Record) -> list[dict]:
    """The server's state every ``SAMPLE_SECONDS`` from the start to the deadline."""
    samples = []
    for k in range(int((deadline - record.t0) / SAMPLE_SECONDS) + 1):
        await asyncio.sleep(max(0.0, record.t0 + k * SAMPLE_SECONDS - time.monotonic()))
        if server.process.poll() is not None:
            raise RuntimeError(f"the server exited with {server.process.returncode}")
        state = await asyncio.to_thread(server_state, server.process.pid, server.port)
        samples.append({"t": round(time.monotonic() - record.t0, 1), **state})
        print(f"  {samples[-1]['t']:6.0f} s  {state['rss_mib']:6.1f} MiB  threads {state['threads']}  "
              f"files {state['fds']}  sessions {state['sessions_active']}  honest sessions so far "
              f"{len(record.honest_ended)}", flush=True)  # fmt: skip
    return samples


async def soak(server: Server, refs: dict[str, Reference], flood: tuple[np.ndarray, list[str]], args) -> tuple:
    uri = f"ws://127.0.0.1:{server.port}/v1/stream"
    record = Record(t0=time.monotonic())
    deadline = record.t0 + args.minutes * 60
    rng = random.Random(0)
    longest = max(len(r.audio) for r in refs.values()) / RATE
    clients = [honest(uri, refs, i, rng.uniform(0, longest), deadline, record) for i in range(args.clients)]
    clients += [flooder(uri, *flood, deadline, record), non_reader(uri, server.port, flood[0], deadline, record)]
    running = asyncio.gather(*clients)
    try:
        samples = await sampler(server, deadline, record)
        await running  # each client finishes the session it is in
    finally:
        running.cancel()
    return record, samples


def drained(server: Server) -> dict[str, float]:
    """The server's state once it has closed every session (the non-reader's last one is dropped late)."""
    until = time.monotonic() + DRAIN_SECONDS
    while server_state(server.process.pid, server.port)["sessions_active"] and time.monotonic() < until:
        time.sleep(0.5)
    time.sleep(1.0)  # the handlers' last bookkeeping
    return server_state(server.process.pid, server.port)


# ----- figures -------------------------------------------------------------------------------------------


def percentile(values: list[float], q: float) -> float | None:
    return round(float(np.percentile(values, q)), 4) if values else None


def latency_between(record: Record, since: float, until: float) -> dict[str, object]:
    """p50/p95 of the partials and finals that arrived in (since, until], and how many there were."""
    out: dict[str, object] = {}
    for kind, events in (("partial", record.partials), ("final", record.finals)):
        values = [lat for t, lat in events if since < t <= until]
        out |= {f"{kind}_p50": percentile(values, 50), f"{kind}_p95": percentile(values, 95), f"{kind}s": len(values)}
    return out


def memory_after(samples: list[dict], settle_seconds: float) -> dict[str, object]:
    """Resident memory from the settle mark on: its range, and its largest distance from its mean."""
    values = [s["rss_mib"] for s in samples if s["t"] >= settle_seconds]
    if not values:
        return {"samples": 0, "note": f"the run ended before {settle_seconds / 60:g} minutes"}
    mean = float(np.mean(values))
    spread = max(abs(v - mean) for v in values) / mean
    return {
        "samples": len(values), "min_mib": min(values), "max_mib": max(values), "mean_mib": round(mean, 1),
        "max_distance_from_mean": round(spread, 4), "within_5_percent": spread <= MEMORY_BAND,
    }  # fmt: skip


def plot(report: dict, path: Path) -> None:
    """Resident memory, and partial and final latency p50/p95, against minutes, the settle mark on both."""
    import matplotlib
    import matplotlib.ticker

    matplotlib.use("Agg")  # files only, no display
    import matplotlib.pyplot as plt

    samples = report["samples"]
    settle = report["setup"]["settle_minutes"]
    minutes = [s["t"] / 60 for s in samples]
    fig, (mem, lat) = plt.subplots(2, 1, figsize=(9, 7), sharex=True)
    mem.plot(minutes, [s["rss_mib"] for s in samples], color="tab:blue", marker=".")
    mem.set_ylabel("server resident memory (MiB)")
    memory = report["memory_after_settle"]
    if memory["samples"]:  # the band the memory should stay in from the settle mark on
        low, high = memory["mean_mib"] * (1 - MEMORY_BAND), memory["mean_mib"] * (1 + MEMORY_BAND)
        band = f"mean ± {MEMORY_BAND:.0%} after the mark"
        mem.fill_between([settle, minutes[-1]], low, high, color="tab:blue", alpha=0.1, label=band)
        mem.legend(loc="lower right", fontsize=9)

    def span(key: str) -> str:
        low, high = min(s[key] for s in samples), max(s[key] for s in samples)
        return f"{low}" if low == high else f"{low}-{high}"

    mem.set_title(
        f"{report['setup']['clients']} real-time clients, a flooder and a non-reader; "
        f"threads {span('threads')}, open files {span('fds')}",
        fontsize=10,
    )
    for kind, color in (("partial", "tab:green"), ("final", "tab:red")):
        for q, style in (("p50", "--"), ("p95", "-")):
            points = [(m, s[f"{kind}_{q}"]) for m, s in zip(minutes, samples) if s[f"{kind}_{q}"] is not None]
            if points:
                lat.plot(*zip(*points), style, color=color, marker=".", label=f"{kind} {q}")
    lat.set_yscale("log")
    lat.yaxis.set_major_locator(matplotlib.ticker.FixedLocator(LATENCY_TICKS))
    lat.yaxis.set_major_formatter(matplotlib.ticker.FormatStrFormatter("%g"))
    lat.yaxis.set_minor_formatter(matplotlib.ticker.NullFormatter())
    lat.set_ylabel("latency over the last 10 s (s)")
    lat.set_xlabel("minutes since the clients started")
    lat.legend(loc="center right", ncol=2, fontsize=9)  # between the partials (tens of ms) and the finals (~1 s)
    for ax in (mem, lat):
        ax.grid(True, alpha=0.3)
        ax.axvline(settle, color="gray", linestyle=":")
    mark = f"{settle:g} min "
    mem.annotate(mark, (settle, 0.98), xycoords=("data", "axes fraction"), va="top", ha="right", color="gray")
    mem.set_xlim(0, max(report["setup"]["minutes"], settle) * 1.02)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    print(f"wrote {path}")


def summarize(record: Record, samples: list[dict], after: dict, server_metrics: str, args) -> dict:
    end = args.minutes * 60
    for before, s in zip([None, *samples], samples):  # each sample's window runs from the one before it
        s |= latency_between(record, before["t"] if before else 0.0, s["t"])
    by_minute = []
    for m in range(int(np.ceil(args.minutes))):
        figures = latency_between(record, m * 60, min((m + 1) * 60, end))
        by_minute.append({"minute": m + 1, **{k: v for k, v in figures.items() if "p50" not in k}})
    stats = record.non_reader
    drops = stats.pop("seconds_to_drop")
    stats["median_seconds_to_drop"] = percentile(drops, 50)
    return {
        "samples": samples,
        "totals": {
            "sessions": len(record.honest_ended), "mismatches": record.mismatches, "errors": record.errors,
            "sessions_with_other_partials": record.partials_differ, "lag_events": record.lag_events,
            "partials": len(record.partials), "finals": len(record.finals),
            "flooder": record.flooder, "non_reader": stats, "notes": record.notes,
            "server_sessions_total": int(gauge(server_metrics, "hubert_stream_sessions_total")),
            "server_errors_total": labelled(server_metrics, "hubert_stream_errors_total"),
            "server_rejected_total": labelled(server_metrics, "hubert_stream_rejected_total"),
            "after_drain": after,
        },
        "memory_after_settle": memory_after(samples, args.settle_minutes * 60),
        "latency_p95_by_minute": by_minute,
        "latency_whole_run": latency_between(record, 0, end),
    }  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--minutes", type=float, default=30.0)
    parser.add_argument("--clients", type=int, default=20, help="honest real-time clients")
    parser.add_argument("--model", default="demo")
    parser.add_argument("--threads", type=int, default=2, help="torch threads in the server")
    parser.add_argument("--settle-minutes", type=float, default=5.0, help="memory is judged from this mark on")
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "soak", help="stem of .json and .png")
    args = parser.parse_args(argv)

    import torch

    from model import load_model

    torch.set_num_threads(1)
    demo = load_model(args.model, device="cpu")
    refs, flood_finals = references(demo)
    del demo
    setup = {
        "model": args.model, "minutes": args.minutes, "clients": args.clients, "chunk_seconds": CHUNK / RATE,
        "recordings": {name: round(len(r.audio) / RATE, 2) for name, r in refs.items()},
        "reference_finals": {name: r.finals for name, r in refs.items()},
        "flooder_session_seconds": FLOOD_SESSION_SECONDS, "flood_message_bytes": FLOOD_MESSAGE,
        "non_reader_junk_per_chunk": JUNK_PER_CHUNK, "sample_seconds": SAMPLE_SECONDS,
        "settle_minutes": args.settle_minutes, "server_threads": args.threads,
        "cpu": cpu_name(), "cpu_count": os.cpu_count(), "machine": platform.machine(),
        "python": platform.python_version(), "date": datetime.date.today().isoformat(),
        "command": " ".join(["python", "bench/bench_soak.py", *sys.argv[1:]]),
    }  # fmt: skip
    print(f"soak: {args.minutes:g} min, {args.clients} honest clients, a flooder and a non-reader", flush=True)
    with Server(args.model, max_batch=32, threads=args.threads, protocol="native") as server:
        record, samples = asyncio.run(soak(server, refs, (speech(FLOOD_SESSION_SECONDS), flood_finals), args))
        after = drained(server)
        server_metrics = metrics(server.port)
    report = {"setup": setup, **summarize(record, samples, after, server_metrics, args)}
    totals, memory = report["totals"], report["memory_after_settle"]
    print(f"honest sessions {totals['sessions']}, mismatches {totals['mismatches']}, errors {totals['errors']}; "
          f"flooder {totals['flooder']}; non-reader {totals['non_reader']}", flush=True)  # fmt: skip
    print(f"memory after {args.settle_minutes:g} min: {memory}", flush=True)
    write_results(args.out.parent / f"{args.out.name}.json", report)
    plot(report, args.out.parent / f"{args.out.name}.png")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
