"""Clients that never read: the server's memory with each session's kernel send buffer capped, and left
to the kernel.

    python bench/bench_non_readers.py                  # 200 clients, 60 s per setting (3 minutes)
    python bench/bench_non_readers.py --seconds 50 --warmup 5 --bad-messages 4 \
        --out bench/results/non_readers_bad_messages.json   # and error events as fast as the server answers
    python bench/bench_non_readers.py --clients 20 --seconds 10 --out /tmp/non_readers.json   # a quick check

For each ``--send-buffer-bytes`` setting (the server's default cap, and 0: the kernel's own sizing) it
starts ``hubert-stream serve --model demo`` (``bench_server.Server``, native protocol, default limits)
and samples its resident memory idle; runs as many clients that read for ``--warmup`` seconds (the
first forwards and batches that large take memory the server keeps) and samples it idle again, the
baseline; then opens the clients that never read, on 127.0.0.1. Each sends 0.1 s of speech every 0.1 s
and a ``finalize`` after every ``--finalize-every`` messages; it reads nothing, with a 4 KB receive buffer
and a one-frame queue, so what the server writes to it waits on the server's side, the worst case for
the server. Every second the bench samples the server's resident memory (``/proc/PID/statm``) and the
sockets' queues (``ss -tmn``): on the server's side the bytes not yet acknowledged, the kernel memory
queued for sending and the send buffer's size; on the clients' side the bytes received and not read.
Writes ``bench/results/non_readers.json``: per setting, the idle, baseline and peak resident memory,
the growth over the baseline per session, the peak kernel send memory in all and per session, how fast
a non-reader's unread events grew and so how long until they fill the send buffers, the sessions the
server closed for reading nothing (``write_timeout``), beside the documented per-session bound.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import datetime
import os
import platform
import re
import socket
import subprocess
import sys
import time
import urllib.request
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import soundfile as sf

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench_server import Server  # noqa: E402
from common import cpu_name, write_results  # noqa: E402
from websockets.asyncio.client import connect  # noqa: E402
from websockets.exceptions import ConnectionClosed, InvalidStatus  # noqa: E402

from streamer.server.options import SEND_BUFFER_BYTES, ServerOptions  # noqa: E402
from streamer.wire.protocol import NATIVE_PATH  # noqa: E402

RATE = 16_000  # Hz, the clients' audio
BAD_MESSAGE = "x"  # not JSON: the server answers with a bad_message error event and carries on
CHUNK = 1_600  # samples: 0.1 s per message
CLIENT_RCVBUF = 4_096  # bytes: each client's socket receive buffer, so the server's kernel keeps what it writes
CONNECT_SPREAD = 5.0  # seconds over which the clients connect
SAMPLE_EVERY = 1.0  # seconds between two samples
BASELINE_SAMPLES = 3  # of the idle server's memory
SETTLE_SECONDS = 2.0  # after the warm-up crowd left, before the baseline
PAGE = os.sysconf("SC_PAGE_SIZE")
WRITE_LIMIT = 32 * 1024  # bytes: websockets' write buffer high-water mark (serve's write_limit default)
MAX_OUTBOX = 256  # events a session keeps unsent (streamer.server.session.MAX_OUTBOX)
EVENT_BYTES = 250  # a final's JSON with its words, about (bench/results figures: 247 on average)
SKMEM = re.compile(r"skmem:\((?P<fields>[^)]*)\)")
MIB_FIELDS = ("rss", "send_q", "wmem_queued", "client_recv_q")  # in MiB in the samples written


def rss_bytes(pid: int) -> int:
    with open(f"/proc/{pid}/statm") as f:
        return int(f.read().split()[1]) * PAGE


def socket_queues(port: int) -> dict[str, int]:
    """The established TCP sockets on ``port`` (``ss -tmn``). The server's side: how many, bytes queued
    and not yet acknowledged (Send-Q) in all and at most, the kernel memory queued for sending (skmem
    ``w``) and the send buffer most of them have (``tb``). The clients' side: bytes received and not read
    (Recv-Q), which with the server's Send-Q is what the server wrote and nobody read."""
    server = _ss(f"( sport = :{port} )")
    clients = _ss(f"( dport = :{port} )")
    sizes = Counter(int(fields["tb"]) for _, _, fields in server)
    return {
        "sockets": len(server),
        "send_q": sum(send_q for _, send_q, _ in server),
        "send_q_max": max((send_q for _, send_q, _ in server), default=0),
        "wmem_queued": sum(int(fields["w"]) for _, _, fields in server),
        "sndbuf": sizes.most_common(1)[0][0] if sizes else 0,
        "client_recv_q": sum(recv_q for recv_q, _, _ in clients),
    }


def _ss(where: str) -> list[tuple[int, int, dict[str, str]]]:
    """(Recv-Q, Send-Q, skmem fields) of each established TCP socket ``where`` says."""
    out = subprocess.run(
        ["ss", "-tmnH", "state", "established", where], capture_output=True, text=True, check=True
    ).stdout
    sockets = []
    for entry in re.split(r"\n(?=\S)", out.strip()):
        memory = SKMEM.search(entry)
        if memory is None:
            continue
        recv_q, send_q = (int(n) for n in entry.split()[:2])
        sockets.append((recv_q, send_q, dict(re.findall(r"([a-z]+)(\d+)", memory.group("fields")))))
    return sockets


def errors(port: int) -> dict[str, int]:
    """The server's error counters from /metrics (write_timeout: sessions closed for reading nothing)."""
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as response:
        text = response.read().decode()
    return {m[1]: int(m[2]) for m in re.finditer(r'_errors_total\{code="([^"]+)"\} (\d+)', text)}


@dataclass(frozen=True)
class Traffic:
    """What each client sends besides speech in 0.1 s messages on a real-time schedule."""

    finalize_every: int = 2  # audio messages between two finalize
    bad_messages: int = 0  # malformed text messages after each audio message, each earning a bad_message error


async def client(port: int, audio, delay: float, seconds: float, traffic: Traffic, reads: bool) -> str:
    """Speech and ``traffic`` from one client; a client that ``reads`` nothing has a small receive buffer
    and never reads a byte. Returns how it ended: ``ran`` (until the end), ``closed`` (the server dropped
    it) or ``refused``."""
    await asyncio.sleep(delay)
    sock = socket.socket()
    if not reads:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, CLIENT_RCVBUF)
    sock.setblocking(False)
    await asyncio.get_running_loop().sock_connect(sock, ("127.0.0.1", port))
    uri = f"ws://127.0.0.1:{port}{NATIVE_PATH}"
    try:
        # No keepalive pings of its own: a non-reader's pongs would wait, unread, behind the server's events.
        ws = await connect(uri, sock=sock, compression=None, ping_interval=None, max_queue=1, open_timeout=30)
    except (InvalidStatus, OSError, asyncio.TimeoutError):
        sock.close()
        return "refused"
    reader = asyncio.ensure_future(drain(ws) if reads else asyncio.sleep(0))
    start = time.monotonic()
    try:
        for i in range(int(seconds * RATE / CHUNK)):
            await asyncio.sleep(max(0.0, start + i * CHUNK / RATE - time.monotonic()))
            first = (i * CHUNK) % (len(audio) - CHUNK)
            await asyncio.wait_for(ws.send(audio[first : first + CHUNK].tobytes()), 30)
            for _ in range(traffic.bad_messages):
                await asyncio.wait_for(ws.send(BAD_MESSAGE), 30)
            if i % traffic.finalize_every == traffic.finalize_every - 1:
                await asyncio.wait_for(ws.send('{"type":"finalize"}'), 30)
        return "ran"
    except (ConnectionClosed, OSError, asyncio.TimeoutError):
        return "closed"
    finally:
        reader.cancel()
        ws.transport.abort()


async def drain(ws) -> None:
    with contextlib.suppress(ConnectionClosed):
        async for _ in ws:
            pass


async def run_clients(port: int, audio, clients: int, seconds: float, traffic: Traffic, reads: bool) -> list:
    spread = min(CONNECT_SPREAD, seconds / 4)
    return [
        asyncio.ensure_future(client(port, audio, spread * i / clients, seconds, traffic, reads))
        for i in range(clients)
    ]


async def crowd(server: Server, audio, clients: int, seconds: float, warmup: float, traffic: Traffic) -> dict:
    """The idle server's memory, again after a warm-up crowd of clients that read, then the clients that
    read nothing, sampled every second: the peaks and what became of the clients."""
    pid, port = server.process.pid, server.port
    cold = await idle_rss(pid)
    # The first forwards, and batches as large as this crowd's, take memory the server keeps (allocator
    # arenas, intra-op buffers): as many clients that read, first, so the baseline holds it.
    await asyncio.gather(*await run_clients(port, audio, clients, warmup, traffic, reads=True))
    await asyncio.sleep(SETTLE_SECONDS)
    warm = await idle_rss(pid)
    jobs = await run_clients(port, audio, clients, seconds, traffic, reads=False)
    samples = []
    start = time.monotonic()
    while not all(job.done() for job in jobs):
        queues = await asyncio.to_thread(socket_queues, port)
        samples.append({"t": round(time.monotonic() - start, 1), "rss": rss_bytes(pid), **queues})
        await asyncio.sleep(SAMPLE_EVERY)
    outcomes = [job.result() for job in jobs]
    peak_rss = max(s["rss"] for s in samples)
    most_sessions = max(s["sockets"] for s in samples) or 1
    peak_queue = max(samples, key=lambda s: s["wmem_queued"])
    full = [s for s in samples if s["sockets"] >= clients]  # every client connected
    peak_unread = max(s["send_q"] + s["client_recv_q"] for s in samples)
    # How fast a non-reader's unread events grow, and so how long until they fill the server's kernel
    # send buffer and websockets' write buffer (then writes wait and the write timeout counts).
    rate = 0.0
    if len(full) >= 2 and full[-1]["t"] > full[0]["t"]:
        unread = [s["send_q"] + s["client_recv_q"] for s in (full[0], full[-1])]
        rate = (unread[1] - unread[0]) / clients / (full[-1]["t"] - full[0]["t"])
    buffers = Counter(s["sndbuf"] for s in samples).most_common(1)[0][0] + WRITE_LIMIT
    return {
        "idle_rss_mib": round(cold / 2**20, 1),
        "idle_rss_after_warmup_mib": round(warm / 2**20, 1),  # the baseline of the growth below
        "peak_rss_mib": round(peak_rss / 2**20, 1),
        "rss_growth_mib": round((peak_rss - warm) / 2**20, 1),
        "rss_growth_per_session_kib": round((peak_rss - warm) / clients / 1024, 1),
        "most_sessions_open": most_sessions,
        "peak_send_q_mib": round(max(s["send_q"] for s in samples) / 2**20, 2),
        "peak_kernel_send_memory_mib": round(peak_queue["wmem_queued"] / 2**20, 2),
        "peak_send_q_one_session_kib": round(max(s["send_q_max"] for s in samples) / 1024, 1),
        "peak_kernel_send_memory_per_session_kib": round(peak_queue["wmem_queued"] / most_sessions / 1024, 1),
        "send_buffer_kib": round(Counter(s["sndbuf"] for s in samples).most_common(1)[0][0] / 1024, 1),
        "peak_unread_per_session_kib": round(peak_unread / clients / 1024, 1),  # written by the server, not read
        "unread_per_session_bytes_per_s": round(rate),
        "minutes_to_fill_the_send_buffers": round(buffers / rate / 60, 1) if rate else None,
        "clients": {outcome: outcomes.count(outcome) for outcome in sorted(set(outcomes))},
        "errors": await asyncio.to_thread(errors, port),
        "samples": [
            {k: (round(v / 2**20, 2) if k in MIB_FIELDS else v) for k, v in s.items()} for s in samples
        ],
    }


async def idle_rss(pid: int) -> int:
    """The server's resident memory with no client: the least of a few samples."""
    samples = []
    for _ in range(BASELINE_SAMPLES):
        samples.append(rss_bytes(pid))
        await asyncio.sleep(SAMPLE_EVERY / 2)
    return min(samples)


def documented_bound(options: ServerOptions, send_buffer_bytes: int) -> dict[str, float]:
    """docs/protocol.md's per-session bound (Overload and memory), in KiB, for these options."""
    parts = {
        "unread_frames": 4 * options.max_message_bytes,
        "queued_audio": options.max_buffer_seconds * RATE * 4,  # float32
        "unsent_events": MAX_OUTBOX * EVENT_BYTES,
        "websocket_write_buffer": WRITE_LIMIT,
        "kernel_send_buffer": 2 * send_buffer_bytes,  # Linux reserves twice the SO_SNDBUF set
    }
    return {name: round(value / 1024, 1) for name, value in parts.items()} | {
        "total": round(sum(parts.values()) / 1024, 1)
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--clients", type=int, default=200)
    parser.add_argument("--seconds", type=float, default=60.0, help="how long each client sends, per setting")
    parser.add_argument("--warmup", type=float, default=10.0, help="seconds of the warm-up crowd, which reads")
    parser.add_argument("--finalize-every", type=int, default=2, help="messages (0.1 s each) between two finalize")
    parser.add_argument(
        "--bad-messages", type=int, default=0,
        help="malformed text messages after each audio message: each earns a ~100-byte error event, no recognition, "
        "so a client's unread events grow faster than speech alone makes them",
    )  # fmt: skip
    parser.add_argument("--threads", type=int, default=2, help="torch threads in the server")
    parser.add_argument(
        "--send-buffer-bytes", default=f"{SEND_BUFFER_BYTES},0",
        help="comma-separated settings of the server's --send-buffer-bytes to compare (0: the kernel's own sizing)",
    )  # fmt: skip
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "non_readers.json")
    args = parser.parse_args(argv)
    audio = sf.read(ROOT / "examples" / "weather.wav", dtype="int16")[0]
    traffic = Traffic(args.finalize_every, args.bad_messages)
    defaults = ServerOptions()
    report: dict[str, object] = {
        "setup": {
            "clients": args.clients, "seconds": args.seconds, "warmup_seconds": args.warmup,
            "finalize_every": args.finalize_every, "bad_messages": args.bad_messages,
            "client_rcvbuf": CLIENT_RCVBUF, "server_threads": args.threads, "cpu": cpu_name(),
            "cpu_count": os.cpu_count(), "python": platform.python_version(),
            "tcp_wmem": Path("/proc/sys/net/ipv4/tcp_wmem").read_text().split(),
            "date": datetime.date.today().isoformat(),
            "command": " ".join(["python", "bench/bench_non_readers.py", *(sys.argv[1:] if argv is None else argv)]),
        },
    }  # fmt: skip
    for size in (int(s) for s in args.send_buffer_bytes.split(",")):
        print(f"--send-buffer-bytes {size}: {args.clients} clients that never read, {args.seconds:g} s", flush=True)
        extra = ("--send-buffer-bytes", str(size), "--max-sessions", str(args.clients + 10))
        with Server("demo", 32, args.threads, extra=extra, protocol="native", max_buffer_seconds=None) as server:
            result = asyncio.run(crowd(server, audio, args.clients, args.seconds, args.warmup, traffic))
        bound = documented_bound(defaults, size)
        result["documented_bound_per_session_kib"] = bound
        result["kernel_send_memory_per_session_over_its_share_of_the_bound"] = (
            round(result["peak_kernel_send_memory_per_session_kib"] / bound["kernel_send_buffer"], 2) if size else None
        )
        report[f"send_buffer_bytes={size}"] = result
        for key, value in result.items():
            if key != "samples":
                print(f"  {key}: {value}", flush=True)
    write_results(args.out, report)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
