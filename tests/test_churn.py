"""Many short sessions through a real server process: nothing a session held stays behind."""

from __future__ import annotations

import asyncio
import json
import os
import socket
import struct
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from websockets.asyncio.client import connect

ROOT = Path(__file__).resolve().parents[1]
WARMUP_SESSIONS = 200
SESSIONS = 1_000  # after the warm-up: half end with eof, half with a TCP reset
AT_ONCE = 5
SESSION_SAMPLES = 8_000  # 0.5 s each, as voice commands and reconnecting browsers send
MEMORY_GROWTH = 0.05  # resident memory may end at most 5% above its level after the warm-up

pytestmark = pytest.mark.slow


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _resident_mib(pid: int) -> float:
    return int(Path(f"/proc/{pid}/statm").read_text().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def _count(pid: int, what: str) -> int:
    return len(os.listdir(f"/proc/{pid}/{what}"))


def _active_sessions(port: int) -> int:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as response:
        for line in response.read().decode().splitlines():
            if line.startswith("hubert_stream_sessions_active "):
                return int(line.split()[1])
    raise AssertionError("/metrics has no sessions_active")


async def _session(url: str, audio: np.ndarray, reset: bool) -> None:
    async with connect(url) as ws:
        for first in range(0, len(audio), 1_600):
            await ws.send(audio[first : first + 1_600].tobytes())
        if reset:  # the client vanishes: SO_LINGER 0 makes close() send a TCP reset
            sock = ws.transport.get_extra_info("socket")
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            ws.transport.abort()
            return
        await ws.send(json.dumps({"type": "eof"}))
        async for _ in ws:
            pass


async def _sessions(url: str, audio: np.ndarray, count: int, first: int) -> None:
    rng = np.random.default_rng(first)
    for start in range(first, first + count, AT_ONCE):
        offsets = rng.integers(0, len(audio) - SESSION_SAMPLES, AT_ONCE)
        await asyncio.gather(
            *(_session(url, audio[o : o + SESSION_SAMPLES], reset=(start + i) % 2 == 1) for i, o in enumerate(offsets))
        )


def _settled(port: int) -> None:
    """Wait until the server has closed every session (a reset is noticed a moment later)."""
    deadline = time.monotonic() + 30
    while _active_sessions(port) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert _active_sessions(port) == 0
    time.sleep(0.5)  # the handlers' last bookkeeping


def test_a_thousand_short_sessions_leave_memory_threads_and_files_as_they_were():
    """After a warm-up, 1,000 short sessions (half ended by eof, half by a TCP reset) leave the server's
    resident memory within 5% of its warm-up level and its threads and open files where they were."""
    port = _free_port()
    command = [sys.executable, "-m", "streamer", "serve", "--model", "demo", "--port", str(port), "--log-level", "warning"]
    server = subprocess.Popen(command, cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)})
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2)
                break
            except OSError:
                assert server.poll() is None and time.monotonic() < deadline, "the server did not start"
                time.sleep(0.2)
        audio = (sf.read(ROOT / "examples" / "weather.wav", dtype="float32")[0] * 32767).astype(np.int16)
        url = f"ws://127.0.0.1:{port}/v1/stream"
        asyncio.run(_sessions(url, audio, WARMUP_SESSIONS, 0))
        _settled(port)
        warm = _resident_mib(server.pid), _count(server.pid, "task"), _count(server.pid, "fd")
        asyncio.run(_sessions(url, audio, SESSIONS, WARMUP_SESSIONS))
        _settled(port)
        after = _resident_mib(server.pid), _count(server.pid, "task"), _count(server.pid, "fd")
    finally:
        server.terminate()
        server.wait(30)
    assert after[0] <= warm[0] * (1 + MEMORY_GROWTH), f"resident memory {warm[0]:.0f} -> {after[0]:.0f} MiB"
    assert after[1:] == warm[1:], f"threads and open files {warm[1:]} -> {after[1:]}"
