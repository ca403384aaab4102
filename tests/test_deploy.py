"""Deployment: real replicas behind a real HAProxy, the image's command, the compose file and manifests.

Everything listens on 127.0.0.1. The replicas are ``python -m streamer serve`` processes on port 0;
HAProxy runs ``deploy/haproxy.cfg`` with only its ``bind`` and ``server`` addresses replaced.
"""

from __future__ import annotations

import asyncio
import contextlib
import csv
import io
import json
import os
import queue
import re
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
import test_server as shared
import yaml
from websockets.exceptions import InvalidStatus

from clients.client import ClientError, StreamClient
from streamer.cli.parser import build_parser
from streamer.server.worker import Metrics
from streamer.wire.events import Final, Ready, parse_event
from streamer.wire.protocol import NATIVE_PATH

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")

REPO = Path(__file__).resolve().parent.parent
DEPLOY = REPO / "deploy"
HAPROXY = shutil.which("haproxy")
demo_folder, demo, clips, reference = shared.demo_folder, shared.demo, shared.clips, shared.reference  # fixtures
needs_haproxy = pytest.mark.skipif(HAPROXY is None, reason="haproxy is not installed (apt-get install haproxy)")

READINESS_PATH = "/readyz"  # what the balancer and Kubernetes check: 200 when a replica takes sessions
LIVENESS_PATH = "/healthz"  # 200 once the model is loaded
START_SECONDS = 60  # a replica loads the demo model, or HAProxy sees every replica up, within this
CHUNK = 1_600  # 0.1 s at 16 kHz
CAPS = (1, 2, 2)  # --max-sessions of the three replicas: the first is full with one session


# ----- processes ---------------------------------------------------------------------------------


def free_port() -> int:
    """A port nothing listens on now (HAProxy needs fixed ports; the replicas use port 0)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def http_get(port: int, path: str) -> tuple[int, dict[str, str], bytes]:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=5) as response:
            return response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as e:
        return e.code, dict(e.headers), e.read()


def wait_for(condition, what: str, seconds: float = START_SECONDS) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, f"{what} within {seconds} s"
        time.sleep(0.1)


class Process:
    """A child process whose output (stdout and stderr) is drained by a thread; bounded waits for a line."""

    def __init__(self, command: list[str], **popen) -> None:
        self.command = command
        self.process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, **popen)
        self.lines: queue.Queue[str] = queue.Queue()
        self.log: list[str] = []
        threading.Thread(target=self._drain, daemon=True).start()

    def _drain(self) -> None:
        for line in self.process.stdout:
            self.lines.put(line)
            self.log.append(line)

    def wait_for_line(self, pattern: str, seconds: float = START_SECONDS) -> re.Match:
        deadline = time.monotonic() + seconds
        while (left := deadline - time.monotonic()) > 0:
            try:
                match = re.search(pattern, self.lines.get(timeout=min(left, 1.0)))
            except queue.Empty:
                self.alive()
                continue
            if match:
                return match
        raise AssertionError(
            f"no line like {pattern!r} from {self.command} in {seconds} s: {''.join(self.log)[-2000:]}"
        )

    def alive(self) -> bool:
        assert self.process.poll() is None, f"{self.command[:4]} exited: {''.join(self.log)[-2000:]}"
        return True

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait(10)


@dataclass
class Replica:
    process: Process
    port: int

    def metric(self, name: str) -> float:
        text = http_get(self.port, "/metrics")[2].decode()
        return float(re.search(rf"^hubert_stream_{name} (\S+)$", text, re.MULTILINE).group(1))


def start_replica(model: Path, *options: str) -> Process:
    env = {**os.environ, "PYTHONPATH": str(REPO), "OMP_NUM_THREADS": "1"}
    command = [sys.executable, "-m", "streamer", "serve", "--model", str(model), "--port", "0", *options]
    return Process(command, cwd=REPO, env=env)


def render_haproxy_config(frontend: int, monitor: int, replicas: list[int], readiness: str) -> str:
    """deploy/haproxy.cfg with local addresses: the two `bind` lines, the `server` lines, the check path."""
    text = (DEPLOY / "haproxy.cfg").read_text()
    replaced = {
        "    bind :8080\n": f"    bind 127.0.0.1:{frontend}\n",
        "    bind :8404\n": f"    bind 127.0.0.1:{monitor}\n",
        f"uri {READINESS_PATH}\n": f"uri {readiness}\n",
    }
    for old, new in replaced.items():
        assert text.count(old) == 1, f"deploy/haproxy.cfg no longer has exactly one {old.strip()!r}"
        text = text.replace(old, new)
    servers = re.findall(r"^    server .*\n", text, re.MULTILINE)
    assert len(servers) == 3, "deploy/haproxy.cfg should name the three replicas of deploy/compose.yaml"
    local = "".join(f"    server replica{i + 1} 127.0.0.1:{port}\n" for i, port in enumerate(replicas))
    return text.replace("".join(servers), local)


def server_states(monitor: int) -> dict[str, str]:
    """HAProxy's view of each replica: UP, DOWN, ... from its CSV statistics."""
    body = http_get(monitor, "/stats;csv")[2].decode().lstrip("# ")
    rows = csv.DictReader(io.StringIO(body))
    return {r["svname"]: r["status"] for r in rows if r["pxname"] == "replicas" and r["svname"].startswith("replica")}


@dataclass
class Cluster:
    replicas: list[Replica]
    frontend: int
    monitor: int
    readiness: str

    @property
    def url(self) -> str:
        return f"ws://127.0.0.1:{self.frontend}{NATIVE_PATH}"

    def wait_all_up(self) -> None:
        """Every replica ready and seen UP by HAProxy (after sessions of an earlier test have gone)."""
        for r in self.replicas:
            wait_for(lambda r=r: r.metric("sessions_active") == 0, f"replica {r.port} has no sessions left")
        wait_for(lambda: set(server_states(self.monitor).values()) == {"UP"}, "HAProxy sees every replica up")


@pytest.fixture(scope="module")
def cluster(tmp_path_factory, demo_folder) -> Iterator[Cluster]:
    """Three replicas (session caps 1, 2, 2) and HAProxy in front, all on 127.0.0.1."""
    processes: list[Process] = []
    try:
        processes = [start_replica(demo_folder, "--max-sessions", str(cap)) for cap in CAPS]
        ports = [int(p.wait_for_line(r"listening on ws://[\d.]+:(\d+)/").group(1)) for p in processes]
        replicas = [Replica(p, port) for p, port in zip(processes, ports, strict=True)]
        for r in replicas:
            wait_for(lambda r=r: http_get(r.port, LIVENESS_PATH)[0] == 200, f"replica {r.port} loads the model")
        # HAProxy checks /readyz, or /healthz against a server that answers /readyz with 404.
        readiness = READINESS_PATH if http_get(ports[0], READINESS_PATH)[0] != 404 else LIVENESS_PATH
        frontend, monitor = free_port(), free_port()
        config = tmp_path_factory.mktemp("haproxy") / "haproxy.cfg"
        config.write_text(render_haproxy_config(frontend, monitor, ports, readiness))
        balancer = Process([HAPROXY, "-f", str(config), "-db"])
        processes.append(balancer)
        built = Cluster(replicas, frontend, monitor, readiness)
        wait_for(lambda: balancer.alive() and _answers(monitor), "HAProxy listens")
        built.wait_all_up()
        yield built
    finally:
        for p in processes:
            p.stop()


def _answers(port: int) -> bool:
    with contextlib.suppress(OSError):
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
        return True
    return False


# ----- sessions through the balancer ---------------------------------------------------------------


async def open_session(url: str) -> StreamClient:
    client = StreamClient(url)
    await client.__aenter__()
    ready = parse_event(await client.ws.recv())
    assert isinstance(ready, Ready), f"expected ready, got {ready}"
    return client


async def finish(client: StreamClient, audio: np.ndarray) -> tuple[list[str], int | None]:
    """Send the clip as fast as the server takes it, then eof; the finals' texts and the close code."""
    for first in range(0, len(audio), CHUNK):
        await client.send_audio(audio[first : first + CHUNK])
    await client.eof()
    events = [e async for e in client.events()]
    return [e.text for e in events if isinstance(e, Final)], client.close_code


@needs_haproxy
def test_streams_through_haproxy_get_their_finals_on_every_replica(cluster, clips, reference):
    """Three sessions at once through HAProxy: least-connections puts one on each replica; each gets its finals."""
    cluster.wait_all_up()
    before = [r.metric("sessions_total") for r in cluster.replicas]

    async def scenario():
        clients = [await open_session(cluster.url) for _ in range(3)]
        return await asyncio.gather(*(finish(c, clips["hello"]) for c in clients))

    results = asyncio.run(asyncio.wait_for(scenario(), 60))
    assert results == [(reference["hello"], 1000)] * 3
    assert [r.metric("sessions_total") - b for r, b in zip(cluster.replicas, before, strict=True)] == [1, 1, 1]


@needs_haproxy
def test_a_full_replica_sends_new_sessions_to_the_others(cluster, clips, reference):
    """The first replica at its cap (1): four new sessions through HAProxy all start, on the other two; none sees 503."""
    cluster.wait_all_up()
    full, *others = cluster.replicas

    async def scenario():
        direct = await open_session(f"ws://127.0.0.1:{full.port}{NATIVE_PATH}")  # fills the first replica
        clients = [await open_session(cluster.url) for _ in range(sum(CAPS[1:]))]  # InvalidStatus if a 503 got through
        placed = [full.metric("sessions_active")] + [r.metric("sessions_active") for r in others]
        results = await asyncio.gather(*(finish(c, clips["hello"]) for c in [direct, *clients]))
        return placed, results

    placed, results = asyncio.run(asyncio.wait_for(scenario(), 60))
    assert placed == [1, *CAPS[1:]]
    assert results == [(reference["hello"], 1000)] * (1 + sum(CAPS[1:]))


@needs_haproxy
def test_when_every_replica_is_full_the_client_gets_503(cluster):
    """All replicas at their caps: a new session through HAProxy is refused with HTTP 503 and Retry-After."""
    cluster.wait_all_up()

    async def scenario():
        held = [await open_session(f"ws://127.0.0.1:{r.port}{NATIVE_PATH}") for r, cap in
                zip(cluster.replicas, CAPS, strict=True) for _ in range(cap)]  # fmt: skip
        try:
            with pytest.raises(ClientError, match="503") as refused:
                await open_session(cluster.url)
            assert isinstance(refused.value.__cause__, InvalidStatus)
            return refused.value.__cause__.response
        finally:
            for client in held:
                await client.__aexit__(None, None, None)

    response = asyncio.run(asyncio.wait_for(scenario(), 60))
    assert response.status_code == 503
    assert response.headers["Retry-After"] == "1"


# ----- static checks: the files as shipped ---------------------------------------------------------


@needs_haproxy
def test_haproxy_accepts_the_shipped_config():
    """`haproxy -c` passes deploy/haproxy.cfg; its only warnings are the compose host names it cannot resolve here."""
    check = subprocess.run(
        [HAPROXY, "-c", "-f", str(DEPLOY / "haproxy.cfg")], capture_output=True, text=True, check=False
    )
    assert check.returncode == 0, check.stdout + check.stderr
    warnings = [line for line in (check.stdout + check.stderr).splitlines() if "WARNING" in line]
    assert all("could not resolve address 'replica" in w for w in warnings), warnings


def serve_args(argv: list[str]):
    """The container's arguments as ``hubert-stream`` parses them (SystemExit if one is not an option)."""
    assert argv[0] == "serve", argv
    return build_parser().parse_args(argv)


def dockerfile_command() -> list[str]:
    """ENTRYPOINT + CMD of deploy/Dockerfile (exec form)."""
    text = (DEPLOY / "Dockerfile").read_text()
    parts = {key: json.loads(value) for key, value in re.findall(r"^(ENTRYPOINT|CMD) (\[.*\])$", text, re.MULTILINE)}
    assert set(parts) == {"ENTRYPOINT", "CMD"}, "the Dockerfile needs an exec-form ENTRYPOINT and CMD"
    return parts["ENTRYPOINT"] + parts["CMD"]


def test_the_images_command_serves_the_demo_model():
    """The image's ENTRYPOINT + CMD, run here (on 127.0.0.1, port 0): loads, answers /healthz, exits 0 on SIGTERM."""
    command = dockerfile_command()
    assert command[0] == "hubert-stream"
    executable = shutil.which("hubert-stream") or str(Path(sys.executable).parent / "hubert-stream")
    args = serve_args(command[1:])
    assert args.host == "0.0.0.0", "in a container the server must listen beyond loopback"
    exposed = re.search(r"^EXPOSE (\d+)$", (DEPLOY / "Dockerfile").read_text(), re.MULTILINE)
    assert exposed and int(exposed.group(1)) == args.port
    # Here only loopback, and any free port: the last --host/--port win.
    env = {**os.environ, "PYTHONPATH": str(REPO), "OMP_NUM_THREADS": "1"}
    server = Process([executable, *command[1:], "--host", "127.0.0.1", "--port", "0"], cwd=REPO, env=env)
    try:
        port = int(server.wait_for_line(r"listening on ws://127\.0\.0\.1:(\d+)/").group(1))
        wait_for(lambda: http_get(port, LIVENESS_PATH)[0] == 200, "the image's command loads the demo model")
        server.process.send_signal(signal.SIGTERM)
        assert server.process.wait(30) == 0
    finally:
        server.stop()


def kubernetes_objects() -> dict[str, dict]:
    objects = {}
    for path in sorted((DEPLOY / "kubernetes").glob("*.yaml")):
        for doc in yaml.safe_load_all(path.read_text()):
            objects[doc["kind"]] = doc
    return objects


def test_kubernetes_probes_ports_and_drain_match_the_server():
    """The Deployment's args are serve options; probes, ports, Service and drain timing agree with them."""
    objects = kubernetes_objects()
    kustomization = objects.pop("Kustomization")
    listed = set(kustomization["resources"])
    assert listed == {p.name for p in (DEPLOY / "kubernetes").glob("*.yaml")} - {"kustomization.yaml"}
    deployment, service = objects["Deployment"], objects["Service"]
    pod = deployment["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    args = serve_args(container["args"])
    assert args.host == "0.0.0.0"
    ports = {p["name"]: p["containerPort"] for p in container["ports"]}
    assert ports == {"ws": args.port}

    def probe(kind: str) -> tuple[str, int]:
        get = container[kind]["httpGet"]
        return get["path"], ports.get(get["port"], get["port"])

    assert probe("readinessProbe") == (READINESS_PATH, args.port)
    assert probe("livenessProbe") == (LIVENESS_PATH, args.port)
    assert probe("startupProbe") == (LIVENESS_PATH, args.port)
    # The drain: preStop's pause, then SIGTERM and --shutdown-grace for the last finals, all before SIGKILL.
    pre_stop = container["lifecycle"]["preStop"]["exec"]["command"]
    assert pre_stop[0] == "sleep"
    assert pod["terminationGracePeriodSeconds"] > float(pre_stop[1]) + args.shutdown_grace
    assert deployment["spec"]["selector"]["matchLabels"] == service["spec"]["selector"]
    assert deployment["spec"]["template"]["metadata"]["labels"] == service["spec"]["selector"]
    (service_port,) = service["spec"]["ports"]
    assert ports.get(service_port["targetPort"], service_port["targetPort"]) == args.port
    annotations = deployment["spec"]["template"]["metadata"]["annotations"]
    assert (annotations["prometheus.io/path"], int(annotations["prometheus.io/port"])) == ("/metrics", args.port)


def test_the_autoscaler_scales_on_a_metric_the_server_exports():
    """The HPA targets the Deployment on a Pods metric that /metrics really has, below the session cap."""
    objects = kubernetes_objects()
    hpa, deployment = objects["HorizontalPodAutoscaler"], objects["Deployment"]
    target = hpa["spec"]["scaleTargetRef"]
    assert (target["kind"], target["name"]) == ("Deployment", deployment["metadata"]["name"])
    (metric,) = hpa["spec"]["metrics"]
    name = metric["pods"]["metric"]["name"]
    assert metric["type"] == "Pods"
    assert re.search(rf"^# TYPE {name} gauge$", Metrics().render(), re.MULTILINE), f"/metrics has no gauge {name}"
    args = serve_args(deployment["spec"]["template"]["spec"]["containers"][0]["args"])
    assert 0 < float(metric["pods"]["target"]["averageValue"]) < args.max_sessions
    assert hpa["spec"]["minReplicas"] <= deployment["spec"]["replicas"] <= hpa["spec"]["maxReplicas"]


def test_compose_replicas_are_the_haproxy_servers():
    """deploy/compose.yaml runs the replicas that deploy/haproxy.cfg names, on the port their command sets."""
    compose = yaml.safe_load((DEPLOY / "compose.yaml").read_text())
    services = compose["services"]
    servers = re.findall(r"^    server (\S+) (\S+):(\d+)$", (DEPLOY / "haproxy.cfg").read_text(), re.MULTILINE)
    assert servers, "no server lines in deploy/haproxy.cfg"
    for name, host, port in servers:
        assert name == host and host in services, f"haproxy's {host} is not a compose service"
        args = serve_args(services[host]["command"])
        assert (args.host, args.port) == ("0.0.0.0", int(port))
        assert services[host]["build"]["dockerfile"] == "deploy/Dockerfile"
        grace = int(services[host]["stop_grace_period"].removesuffix("s"))
        assert grace > args.shutdown_grace, "compose would SIGKILL a replica before its drain ends"
    balancer = services["balancer"]
    assert "./haproxy.cfg:/usr/local/etc/haproxy/haproxy.cfg:ro" in balancer["volumes"]
    bind = re.search(r"^frontend speech\n    bind :(\d+)$", (DEPLOY / "haproxy.cfg").read_text(), re.MULTILINE)
    assert any(p.endswith(f"{bind.group(1)}:{bind.group(1)}") for p in balancer["ports"])
