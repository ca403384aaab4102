"""Failover with nothing lost: real replicas behind a real HAProxy, streams through the Python client.

Three ``python -m streamer serve --model demo`` replicas on fixed 127.0.0.1 ports (a restarted one
comes back on its port) behind ``deploy/haproxy.cfg``, with the helpers of tests/test_deploy.py.
Paced (real-time) speech in voices held out of training goes through ``StreamClient``, which resumes
by itself; one replica is killed (SIGKILL), or each is restarted in turn (SIGTERM), mid-speech.
"""

from __future__ import annotations

import asyncio
import signal
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import test_deploy as deploy
import test_server as shared
from test_resume import assert_continuous, heldout_speech, joined

from clients.client import StreamClient
from streamer.wire.events import Done, Final
from training.metrics import cer

pytestmark = [pytest.mark.filterwarnings("ignore::DeprecationWarning"), deploy.needs_haproxy]

demo_folder, demo = shared.demo_folder, shared.demo  # fixtures
CHUNK = 1_600  # 0.1 s at 16 kHz
STREAMS = 9  # paced streams at once: three per replica
ROLLING_STREAMS = 6  # paced streams during the rolling restart
ROLLING_SENTENCES = 10  # per stream: about 30 s of speech
MAX_CER = 0.02  # joined finals against an uninterrupted run of the same audio


class Cluster(deploy.Cluster):
    """Replicas on ports fixed up front, so a restarted replica comes back where HAProxy looks."""

    model: Path
    spawned: list[deploy.Process]

    def kill(self, index: int, sig: signal.Signals) -> None:
        """Signal a replica and wait for it to exit."""
        process = self.replicas[index].process.process
        process.send_signal(sig)
        process.wait(30)

    def restart(self, index: int) -> None:
        """A new replica process on the port of replica ``index`` (which has exited); wait until
        it is ready and HAProxy sees it up."""
        port = self.replicas[index].port
        self.replicas[index] = deploy.Replica(start(self.model, port), port)
        self.spawned.append(self.replicas[index].process)
        deploy.wait_for(lambda: deploy.http_get(port, self.readiness)[0] == 200, f"replica {port} is back")
        deploy.wait_for(lambda: set(deploy.server_states(self.monitor).values()) == {"UP"}, "HAProxy sees it up")


def start(model: Path, port: int) -> deploy.Process:
    process = deploy.start_replica(model, "--port", str(port))
    process.wait_for_line(rf"listening on ws://127\.0\.0\.1:{port}/")
    return process


@pytest.fixture(scope="module")
def cluster(tmp_path_factory, demo_folder) -> Iterator[Cluster]:
    """Three replicas (default session caps) on fixed ports and HAProxy in front."""
    ports = [deploy.free_port() for _ in range(3)]
    spawned: list[deploy.Process] = []
    try:
        for port in ports:
            spawned.append(start(demo_folder, port))
        replicas = [deploy.Replica(p, port) for p, port in zip(spawned, ports, strict=True)]
        for r in replicas:
            deploy.wait_for(lambda r=r: deploy.http_get(r.port, deploy.LIVENESS_PATH)[0] == 200, "the model loads")
        ready = deploy.http_get(ports[0], deploy.READINESS_PATH)[0] != 404
        readiness = deploy.READINESS_PATH if ready else deploy.LIVENESS_PATH
        frontend, monitor = deploy.free_port(), deploy.free_port()
        config = tmp_path_factory.mktemp("haproxy") / "haproxy.cfg"
        config.write_text(deploy.render_haproxy_config(frontend, monitor, ports, readiness))
        balancer = deploy.Process([deploy.HAPROXY, "-f", str(config), "-db"])
        spawned.append(balancer)
        built = Cluster(replicas, frontend, monitor, readiness)
        built.model, built.spawned = demo_folder, spawned
        deploy.wait_for(lambda: balancer.alive() and deploy._answers(monitor), "HAProxy listens")
        built.wait_all_up()
        yield built
    finally:
        for process in spawned:
            process.stop()


@pytest.fixture(scope="module")
def speech() -> list[np.ndarray]:
    """The failover streams' audio: 12-15 s each, one held-out voice each."""
    return [heldout_speech(i) for i in range(STREAMS)]


@pytest.fixture(scope="module")
def long_speech() -> list[np.ndarray]:
    """The rolling restart's: about 30 s each (three replicas restart one after the other meanwhile)."""
    return [heldout_speech(i, ROLLING_SENTENCES) for i in range(ROLLING_STREAMS)]


def uninterrupted(cluster: Cluster, speech: list[np.ndarray]) -> list[list[Final]]:
    """Each stream's finals from one session on one replica, sent as fast as it takes them."""

    async def one(audio: np.ndarray, replica: deploy.Replica) -> list[Final]:
        address = f"ws://127.0.0.1:{replica.port}/v1/stream"
        async with StreamClient(address) as client:
            for first in range(0, len(audio), CHUNK):
                await client.send_audio(audio[first : first + CHUNK])
            await client.eof()
            finals = [e async for e in client.events() if isinstance(e, Final)]
            assert client.close_code == 1000
            return finals

    async def run_all():
        return await asyncio.gather(*(one(a, cluster.replicas[i % 3]) for i, a in enumerate(speech)))

    return asyncio.run(asyncio.wait_for(run_all(), 120))


async def paced_stream(url: str, audio: np.ndarray, delay: float) -> tuple[list, StreamClient]:
    """One user: after ``delay`` s, stream ``audio`` at real-time pace through StreamClient, then eof;
    the events it showed, and the client (resumes, close code)."""
    await asyncio.sleep(delay)
    async with StreamClient(url) as client:

        async def send() -> None:
            loop = asyncio.get_running_loop()
            start = loop.time()
            for i, first in enumerate(range(0, len(audio), CHUNK)):
                await asyncio.sleep(max(0.0, start + i * CHUNK / 16_000 - loop.time()))
                await client.send_audio(audio[first : first + CHUNK])
            await client.eof()

        sender = asyncio.ensure_future(send())
        events = [e async for e in client.events()]
        await sender
        return events, client


def check_stream(events: list, client: StreamClient, reference: list[Final]) -> None:
    """What a user of one stream would notice: it ended normally after done; its finals are the
    uninterrupted run's segments, numbered alike and continuous in time, their text within 2% of
    characters of it; at each failover, the segments either side hold the words they did (no word
    missing or doubled there; a cold restart may still hear one differently)."""
    assert client.close_code == 1000 and isinstance(events[-1], Done), (client.close_code, events[-3:])
    finals = [e for e in events if isinstance(e, Final)]
    assert_continuous(finals)
    pairs = "\n".join(f"{a.segment}: {a.text} | {b.text}" for a, b in zip(reference, finals))
    detail = f"resumed at {client.resumed_at}\n{pairs}"
    assert [f.segment for f in finals] == [f.segment for f in reference], detail
    assert cer([joined(reference)], [joined(finals)]) <= MAX_CER, detail
    for resumed in client.resumed_at:
        for segment in (resumed.segment - 1, resumed.segment):
            if 0 <= segment < len(reference):
                want, got = reference[segment].text.split(), finals[segment].text.split()
                assert len(got) == len(want), f"segment {segment}: {want} -> {got}\n{detail}"


def test_a_replica_killed_mid_speech_loses_no_word(cluster, speech):
    """9 real-time streams over 3 replicas; the one with the most sessions is SIGKILLed mid-speech. Its
    streams resume on the others: every stream completes, its transcript within 2% of characters of
    the uninterrupted run, no word missing or doubled, times continuous."""
    cluster.wait_all_up()
    references = uninterrupted(cluster, speech)

    async def scenario():
        users = [asyncio.ensure_future(paced_stream(cluster.url, a, 0.1 * i)) for i, a in enumerate(speech)]
        await asyncio.sleep(5.0)  # every stream is in its second sentence or the pause before it
        counts = [r.metric("sessions_active") for r in cluster.replicas]
        victim = counts.index(max(counts))
        await asyncio.to_thread(cluster.kill, victim, signal.SIGKILL)
        results = await asyncio.gather(*users)
        return victim, counts, results

    victim, counts, results = asyncio.run(asyncio.wait_for(scenario(), 80))
    for (events, client), reference in zip(results, references, strict=True):
        check_stream(events, client, reference)
    assert sum(client.resumes for _, client in results) == counts[victim] >= 2, counts
    cluster.restart(victim)


def test_a_rolling_restart_loses_no_final(cluster, long_speech):
    """Each replica in turn gets SIGTERM and a new process on its port while 6 real-time streams run:
    the streams on a stopping replica resume on the others; every transcript is complete (no final
    lost, none twice) and reads like the uninterrupted run's."""
    cluster.wait_all_up()
    references = uninterrupted(cluster, long_speech)
    cluster.wait_all_up()

    async def scenario():
        streams = [asyncio.ensure_future(paced_stream(cluster.url, a, 0.1 * i)) for i, a in enumerate(long_speech)]
        await asyncio.sleep(2.0)
        restarted = []  # (replica, sessions it had) for each restart begun while every stream still ran
        for index in range(3):
            if any(s.done() for s in streams):
                break
            restarted.append((index, cluster.replicas[index].metric("sessions_active")))
            await asyncio.to_thread(cluster.kill, index, signal.SIGTERM)
            await asyncio.to_thread(cluster.restart, index)
        return restarted, await asyncio.gather(*streams)

    restarted, results = asyncio.run(asyncio.wait_for(scenario(), 85))
    assert [index for index, _ in restarted] == [0, 1, 2], f"the streams ended before every replica restarted: {restarted}"
    for (events, client), reference in zip(results, references, strict=True):
        check_stream(events, client, reference)
    assert sum(client.resumes for _, client in results) >= sum(sessions for _, sessions in restarted) > 0
