"""The two installs this checkout builds: the full wheel ships no training code, and the client
distribution (``pip install ./clients``) runs in a fresh virtualenv that has no torch at all.

Both build from the checkout with pip, which fetches the build backends (setuptools, hatchling) and
the client's dependencies from the package index or its cache.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
import zipfile
from pathlib import Path

import pytest
import test_server as shared
from test_server import EXAMPLES, REPO

demo_folder, demo, clips, reference = shared.demo_folder, shared.demo, shared.clips, shared.reference  # fixtures

PIP_SECONDS = 600  # a cold pip cache downloads numpy and friends
SERVER_START_SECONDS = 60
RUNTIME_TOP_LEVEL = {"clients", "model", "streamer"}
TRAINING_MODULES = {"corpus", "synth", "train", "metrics", "speech", "checkpoints"}  # training/'s modules


def clean_env(**extra: str) -> dict[str, str]:
    """This process's environment without what would make the checkout or the main venv win."""
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV")}
    return {**env, **extra}


def build_wheel(project: Path, out: Path) -> Path:
    """``pip wheel PROJECT --no-deps``; returns the one wheel it wrote."""
    done = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", str(project), "--no-deps", "-q", "-w", str(out)],
        capture_output=True, text=True, timeout=PIP_SECONDS, env=clean_env(), check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    (wheel,) = out.glob("*.whl")
    return wheel


def wheel_files(wheel: Path) -> set[str]:
    """Paths in a wheel, without its .dist-info metadata."""
    with zipfile.ZipFile(wheel) as archive:
        return {name for name in archive.namelist() if ".dist-info/" not in name}


def copy_checkout(target: Path) -> Path:
    """The checkout without build leftovers: setuptools copies into ``build/`` and never empties it,
    so a stale ``build/lib`` (say from before training/ moved) would leak into a wheel built in place."""
    leftovers = shutil.ignore_patterns(".git", "build", "dist", "*.egg-info", "__pycache__", ".*_cache", ".hypothesis")
    shutil.copytree(REPO, target, ignore=leftovers)
    return target


def test_the_wheel_ships_the_runtime_and_no_training_code(tmp_path):
    """`pip wheel .` holds model/, streamer/ and clients/ with the demo model, and nothing of training/."""
    files = wheel_files(build_wheel(copy_checkout(tmp_path / "src"), tmp_path / "wheel"))
    assert {name.split("/")[0] for name in files} == RUNTIME_TOP_LEVEL
    # The recipe's modules, wherever they might have been left (streamer/server/metrics.py is the
    # server's Prometheus metrics, not training's).
    leftovers = {
        name for name in files if name.split("/")[0] in ("model", "training") and Path(name).stem in TRAINING_MODULES
    }
    assert not leftovers, sorted(leftovers)
    assert "model/demo/model.safetensors" in files  # `--model demo` works from the wheel
    assert "clients/pyproject.toml" not in files  # the client distribution's recipe is not a package file
    for layer in ("wire", "core", "server", "cli"):
        assert f"streamer/{layer}/__init__.py" in files


def test_the_client_wheel_ships_the_clients_and_the_wire_layer_only(tmp_path):
    """`pip wheel ./clients` holds every module of clients/ and streamer/wire/ and streamer's lazy
    __init__, and nothing that needs torch (no model/, no streamer core or shells, no browser page)."""
    files = wheel_files(build_wheel(REPO / "clients", tmp_path))
    expected = {"streamer/__init__.py"} | {
        path.relative_to(REPO).as_posix()
        for folder in ("clients", "streamer/wire")
        for path in (REPO / folder).glob("*.py")
    }
    assert files == expected


def server_port(process: subprocess.Popen) -> int:
    """The port a `hubert-stream serve --port 0` says it listens on."""
    for line in process.stderr:
        found = re.search(r"listening on ws://[\d.]+:(\d+)/", line)
        if found:
            threading.Thread(target=process.stderr.read, daemon=True).start()  # keep the pipe drained
            return int(found.group(1))
    raise AssertionError("the server exited without saying where it listens")


def wait_until_loaded(port: int) -> None:
    deadline = time.monotonic() + SERVER_START_SECONDS
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=5) as response:
                if response.status == 200:
                    return
        except (urllib.error.URLError, OSError):
            pass
        time.sleep(0.2)
    raise AssertionError(f"the server did not load its model in {SERVER_START_SECONDS} s")


@pytest.mark.slow
def test_client_install_streams_a_file_without_torch(tmp_path, demo_folder, reference):
    """In a fresh virtualenv (no system site-packages) `pip install ./clients` pulls no torch, and
    examples/stream_file.py from it prints the finals of a real `hubert-stream serve`."""
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=120)
    python = venv / "bin" / "python"
    done = subprocess.run(
        [str(python), "-m", "pip", "install", "-q", str(REPO / "clients")],
        capture_output=True, text=True, timeout=PIP_SECONDS, env=clean_env(), check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr

    def client_python(code: str) -> subprocess.CompletedProcess:
        return subprocess.run(
            [str(python), "-c", code], cwd=tmp_path, capture_output=True, text=True, env=clean_env(), timeout=60,
            check=False,
        )  # fmt: skip

    no_torch = client_python("import torch")
    assert no_torch.returncode != 0 and "No module named 'torch'" in no_torch.stderr
    no_core = client_python("import streamer.core")  # only the wire layer is installed
    assert no_core.returncode != 0 and "No module named 'streamer.core'" in no_core.stderr
    homes = client_python("import clients, streamer.wire; print(clients.__file__); print(streamer.wire.__file__)")
    assert homes.returncode == 0, homes.stderr
    for home in homes.stdout.split():
        assert Path(home).is_relative_to(venv), f"{home} is not the installed copy"

    # The example puts its checkout on sys.path; a copy outside the checkout uses the installed client.
    example = shutil.copy(EXAMPLES / "stream_file.py", tmp_path / "stream_file.py")
    hubert_stream = Path(sys.executable).with_name("hubert-stream")  # the main install's command
    server = subprocess.Popen(
        [str(hubert_stream), "serve", "--model", str(demo_folder), "--port", "0"],
        cwd=REPO, env={**os.environ, "PYTHONPATH": str(REPO), "OMP_NUM_THREADS": "1"},
        stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        port = server_port(server)
        wait_until_loaded(port)
        streamed = subprocess.run(
            [str(python), example, str(EXAMPLES / "hello.wav"), "--uri", f"ws://127.0.0.1:{port}/v1/stream"],
            cwd=tmp_path, capture_output=True, text=True, env=clean_env(), timeout=120, check=False,
        )  # fmt: skip
    finally:
        server.terminate()
        try:
            server.wait(30)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
    assert streamed.returncode == 0, streamed.stderr
    finals = [line.split("] ", 1)[1] for line in streamed.stdout.splitlines() if line.startswith("[")]
    assert finals == reference["hello"]
    assert f"transcript: {' '.join(reference['hello'])}" in streamed.stdout.splitlines()
