"""The torch-free python client and the examples, against a real server."""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import sys
import threading
import types

import pytest
import test_server as shared
from test_server import EXAMPLES, REPO, final_texts, running_server, url

from clients import StreamClient, stream_file, stream_microphone
from streamer.wire.events import Done, Ready

demo_folder, demo, clips, reference = shared.demo_folder, shared.demo, shared.clips, shared.reference  # fixtures

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")

NO_TORCH = "import sys; sys.modules['torch'] = None; "  # any `import torch` now fails


def run_without_torch(code: str, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    return subprocess.run(
        [sys.executable, "-c", NO_TORCH + code, *args],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_stream_file_returns_the_transcript(demo, reference):
    """stream_file gets ready, the finals of transcribe_stream, and done; the session closes with 1000."""
    with running_server(demo) as server:
        result = asyncio.run(stream_file(url(server), EXAMPLES / "weather.wav"))
    assert result.close_code == 1000
    assert isinstance(result.events[0], Ready) and isinstance(result.events[-1], Done)
    assert final_texts(result.events) == reference["weather"]
    assert result.text == " ".join(reference["weather"])


def test_client_command_runs_without_torch(demo, reference):
    """`python -m clients.client URI FILE --quiet` works with torch unimportable and prints the finals."""
    with running_server(demo) as server:
        done = run_without_torch(
            "from clients.client import main; raise SystemExit(main(sys.argv[1:]))",
            url(server), str(EXAMPLES / "hello.wav"), "--quiet",
        )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert " ".join(reference["hello"]) in done.stdout


def test_client_command_sends_hotwords(demo, tmp_path):
    """`python -m clients.client URI FILE --hotword NAME` gets the name spelled right; without it the
    demo model misspells it (a hotword with sounds-like spellings goes through too). A boost that is
    not a number is one line and status 2 (argparse)."""
    import soundfile as sf

    from training.speech import VOICE, trim
    from training.synth import synthesize

    clip = tmp_path / "name.wav"
    sf.write(clip, trim(synthesize("please call vanderbilt after lunch", VOICE)), 16_000)
    with running_server(demo) as server:
        plain, named = (
            run_without_torch(
                "from clients.client import main; raise SystemExit(main(sys.argv[1:]))",
                url(server), str(clip), "--quiet", *options,
            )  # fmt: skip
            for options in ([], ["--hotword", "Vanderbilt", "--hotword", "Nguyen:2.5", "--hotword", "Siobhan=she vawn,shivawn:2"])
        )
    assert plain.returncode == named.returncode == 0, named.stderr
    assert "VANDERBILT" not in plain.stdout.split() and "VANDERBILT" in named.stdout.split()
    bad = run_without_torch("from clients.client import main; raise SystemExit(main(sys.argv[1:]))", "ws://x", str(clip), "--hotword", "A:lots")
    assert bad.returncode == 2 and "the boost after ':' must be a number" in bad.stderr


def test_stream_file_example_prints_the_transcript(demo, reference):
    """examples/stream_file.py against a live server prints the transcript, torch-free."""
    with running_server(demo) as server:
        example = str(EXAMPLES / "stream_file.py")
        done = run_without_torch(
            "import runpy; sys.argv = sys.argv[1:]; runpy.run_path(sys.argv[0], run_name='__main__')",
            example, str(EXAMPLES / "hello.wav"), "--uri", url(server),
        )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert f"transcript: {' '.join(reference['hello'])}" in done.stdout


def test_mic_example_explains_itself():
    """examples/mic_to_server.py --help runs (a microphone is not available on test machines)."""
    done = subprocess.run(
        [sys.executable, str(EXAMPLES / "mic_to_server.py"), "--help"], capture_output=True, text=True
    )
    assert done.returncode == 0 and "--uri" in done.stdout


@pytest.fixture
def closed_port():
    """A port bound and not listening: every connection to it is refused, as to a server that is down."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        yield sock.getsockname()[1]


def test_client_module_runs_once_and_names_a_server_that_is_down(closed_port):
    """`python -m clients.client` runs without runpy's RuntimeWarning; no server there is one line and status 1."""
    uri = f"ws://127.0.0.1:{closed_port}/v1/stream"
    done = subprocess.run(
        [sys.executable, "-m", "clients.client", uri, str(EXAMPLES / "hello.wav")],
        cwd=REPO, env={**os.environ, "PYTHONPATH": str(REPO)}, capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert "RuntimeWarning" not in done.stderr
    assert (done.returncode, done.stdout) == (1, "")
    assert done.stderr == f"error: cannot connect to {uri}: nothing listens there (is the server running?)\n"


def test_clients_say_in_one_line_what_went_wrong(demo, tmp_path, closed_port):
    """examples/stream_file.py and the client command: a server that is down, a wrong path, a wrong token,
    a missing file or one that is not audio is one line on stderr and status 1, torch-free, never a traceback."""
    notes = tmp_path / "notes.wav"
    notes.write_text("not a recording\n")
    hello, missing = str(EXAMPLES / "hello.wav"), str(tmp_path / "missing.wav")
    down = f"ws://127.0.0.1:{closed_port}/v1/stream"
    with running_server(demo, token="t0k") as server:
        wrong_path, wrong_token = url(server, "/v2/stream"), url(server)
        cases = [  # (uri, file, token, the line)
            (down, hello, "t0k", f"error: cannot connect to {down}: nothing listens there (is the server running?)"),
            (wrong_path, hello, "t0k", (
                f"error: {wrong_path} refused the session: HTTP 404 Not Found: no websocket endpoint here; "
                "connect to /v1/stream"
            )),
            (wrong_token, hello, "wrong", (
                f"error: {wrong_token} refused the session: HTTP 401 Unauthorized: wrong token; "
                "give the server's token (--token)"
            )),
            ("http://127.0.0.1/", hello, "t0k", (
                "error: http://127.0.0.1/ is not a websocket address; give ws://HOST:PORT/v1/stream"
            )),
            (url(server), missing, "t0k", f"error: cannot read {missing}: no such file"),
            (url(server), str(notes), "t0k", f"error: cannot read {notes}: Format not recognised (not audio libsndfile can read?)"),
        ]  # fmt: skip
        for uri, file, token, line in cases:
            example = run_without_torch(
                "import runpy; sys.argv = sys.argv[1:]; runpy.run_path(sys.argv[0], run_name='__main__')",
                str(EXAMPLES / "stream_file.py"), file, "--uri", uri, "--token", token,
            )  # fmt: skip
            command = run_without_torch(
                "from clients.client import main; raise SystemExit(main(sys.argv[1:]))", uri, file, "--token", token
            )
            for done in (example, command):
                assert done.returncode == 1 and done.stdout == "", done.stderr
                assert done.stderr.splitlines() == [line], done.stderr


def test_mic_example_names_a_server_that_is_down(closed_port):
    """examples/mic_to_server.py with no server there: one line and status 1 (no traceback, no 'listening...')."""
    uri = f"ws://127.0.0.1:{closed_port}/v1/stream"
    done = subprocess.run(
        [sys.executable, str(EXAMPLES / "mic_to_server.py"), "--uri", uri],
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert done.returncode == 1 and done.stdout == ""
    lines = done.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), done.stderr
    if "needs sounddevice" not in lines[0]:  # this machine has PortAudio: the server is what is missing
        assert lines[0] == f"error: cannot connect to {uri}: nothing listens there (is the server running?)"


def test_token_in_the_first_message_like_a_browser(demo, clips, reference):
    """StreamClient(token_in_message=True) authenticates through the config message."""
    with running_server(demo, token="t0k") as server:

        async def scenario():
            async with StreamClient(url(server), token="t0k", token_in_message=True) as client:
                await client.send_audio(clips["hello"])
                await client.eof()
                return [event async for event in client.events()], client.close_code

        events, code = asyncio.run(scenario())
    assert code == 1000 and final_texts(events) == reference["hello"]


def test_microphone_blocks_cross_the_thread_bridge(demo, clips, reference, monkeypatch):
    """stream_microphone hands PortAudio's blocks to the loop and sends them; stop gives the final."""
    audio = clips["hello"]

    class FakeInputStream:  # calls back from its own thread, as PortAudio does
        def __init__(self, samplerate, channels, dtype, device, blocksize, callback):
            self.blocksize, self.callback = blocksize, callback

        def __enter__(self):
            def produce():
                for first in range(0, len(audio), self.blocksize):
                    self.callback(audio[first : first + self.blocksize, None].copy(), self.blocksize, None, None)
                fake.finished.set()

            threading.Thread(target=produce, daemon=True).start()
            return self

        def __exit__(self, *exc):
            return None

    fake = types.SimpleNamespace(InputStream=FakeInputStream, finished=threading.Event())
    monkeypatch.setitem(sys.modules, "sounddevice", fake)
    with running_server(demo) as server:

        async def scenario():
            stop = asyncio.Event()
            loop = asyncio.get_running_loop()
            loop.run_in_executor(None, lambda: fake.finished.wait(10) and loop.call_soon_threadsafe(stop.set))
            return await stream_microphone(url(server), stop, sample_rate=16_000)

        result = asyncio.run(scenario())
    assert result.close_code == 1000
    assert final_texts(result.events) == reference["hello"]
