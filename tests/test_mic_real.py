"""`hubert-stream mic` on the real audio stack: PortAudio, ALSA's pulse plugin and a PulseAudio daemon.

tests/test_mic.py plays recordings through a stand-in ``sounddevice``; this file takes
the path a Linux user's microphone takes. The test starts its own PulseAudio daemon
(private runtime folder and socket, no default.pa, so it touches no session daemon),
whose only source is ``module-pipe-source``: a virtual microphone that delivers exactly
the samples written to its fifo, and nothing while nothing is written. An ALSA
``pulse`` PCM named ``hubert_test_mic`` (an asoundrc under a private XDG_CONFIG_HOME)
is how PortAudio's ALSA host API reaches it, as it reaches PulseAudio's ``default``.

The sentence is written at real-time pace, at the rate PortAudio reports for the device
(so nothing between the fifo and the callback resamples), and `mic` must print the
finals `transcribe` prints for the same wav: same text, times and words.

Where the stack cannot be built (no pulseaudio, no ALSA pulse plugin, no PortAudio) the
tests skip and say which; with HUBERT_STREAM_REAL_AUDIO=1 (set by .ci/run) they fail instead.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import soxr

from streamer.cli import main
from streamer.cli.mic import BLOCK_SECONDS
from streamer.wire.events import Final, from_json

ROOT = Path(__file__).resolve().parent.parent
WEATHER = ROOT / "examples" / "weather.wav"  # 10.9 s, three sentences: three finals
DEVICE = "hubert_test_mic"  # the ALSA PCM (and PulseAudio source) the test makes
DEVICE_RATE = 44_100  # Hz: the pipe's rate, and the rate PortAudio reports for an ALSA pulse PCM
REQUIRED_ENV = "HUBERT_STREAM_REAL_AUDIO"  # "1": a missing audio stack fails the test instead of skipping
START_SECONDS = 10.0  # how long the daemon may take to accept connections
LISTEN_SECONDS = 120.0  # how long `mic` may take to load the model and open the device
SETTLE_SECONDS = 0.3  # after "listening": the source is silent until written, so waiting loses nothing
TAIL_SECONDS = 1.5  # after the last write, for PulseAudio -> ALSA -> PortAudio to hand over the last block
EXIT_SECONDS = 60.0  # from Ctrl-C to exit: finishing the queue and the final pass
ASOUNDRC = f"""
pcm.{DEVICE} {{
    type pulse
    device "{DEVICE}"
    hint {{ show on description "hubert-stream test microphone" }}
}}
"""


def unavailable(reason: str) -> None:
    """Skip, or fail where the environment says the real audio stack must be there (CI)."""
    if os.environ.get(REQUIRED_ENV) == "1":
        pytest.fail(f"{reason} ({REQUIRED_ENV}=1: the real audio stack is required here)")
    pytest.skip(reason)


class PulseDaemon:
    """A private PulseAudio daemon with one virtual microphone fed through a fifo."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        runtime, config = folder / "runtime", folder / "config"
        runtime.mkdir(mode=0o700)
        (config / "alsa").mkdir(parents=True)
        (config / "alsa" / "asoundrc").write_text(ASOUNDRC)  # alsa.conf reads $XDG_CONFIG_HOME/alsa/asoundrc
        self.socket = runtime / "native"
        self.fifo = folder / "mic.fifo"
        self.env = {
            **os.environ,
            "PULSE_SERVER": f"unix:{self.socket}",  # clients (the ALSA plugin) go to this daemon only
            "PULSE_RUNTIME_PATH": str(runtime),
            "XDG_CONFIG_HOME": str(config),
        }
        self.log = (folder / "pulseaudio.log").open("w")
        self.process = subprocess.Popen(
            [
                "pulseaudio",
                "--daemonize=no",
                "-n",  # no default.pa: only the modules below
                "--exit-idle-time=-1",
                "--use-pid-file=no",
                "--system=no",  # as root it warns and runs as a per-user daemon, which is what we want
                "--high-priority=no",
                "--realtime=no",
                "--log-target=stderr",
                f"--load=module-native-protocol-unix auth-anonymous=1 socket={self.socket}",
                (
                    f"--load=module-pipe-source source_name={DEVICE} file={self.fifo} "
                    f"format=s16le rate={DEVICE_RATE} channels=1"
                ),
            ],
            env=self.env,
            stdout=self.log,
            stderr=subprocess.STDOUT,
        )
        self.writer: int | None = None

    def wait_ready(self) -> str | None:
        """None once the daemon accepts connections and the fifo has a writer; else why not."""
        deadline = time.monotonic() + START_SECONDS
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                return f"pulseaudio exited with status {self.process.returncode}: {self.log_tail()}"
            if self.fifo.exists() and self.socket.exists():
                with socket.socket(socket.AF_UNIX) as probe:
                    try:
                        probe.connect(str(self.socket))
                    except OSError:
                        pass
                    else:
                        # Held open for the whole module: with no writer the pipe source plays silence.
                        self.writer = os.open(self.fifo, os.O_WRONLY)
                        return None
            time.sleep(0.05)
        return f"pulseaudio did not accept connections within {START_SECONDS:.0f} s: {self.log_tail()}"

    def play(self, samples: np.ndarray) -> None:
        """Write int16 mono samples into the virtual microphone at real-time pace, a block at a time."""
        assert self.writer is not None and samples.dtype == np.int16 and samples.ndim == 1
        block = round(DEVICE_RATE * BLOCK_SECONDS)
        began = time.monotonic()
        for first in range(0, len(samples), block):
            os.write(self.writer, samples[first : first + block].tobytes())
            time.sleep(max(0.0, began + (first + block) / DEVICE_RATE - time.monotonic()))

    def log_tail(self) -> str:
        self.log.flush()
        return " | ".join((self.folder / "pulseaudio.log").read_text().strip().splitlines()[-5:])

    def close(self) -> None:
        if self.writer is not None:
            os.close(self.writer)
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=10)
        self.log.close()


@pytest.fixture(scope="module")
def pulse(tmp_path_factory):
    """The running daemon, checked to be visible to PortAudio through ALSA; stopped after the module."""
    if shutil.which("pulseaudio") is None:
        unavailable("pulseaudio is not installed (Debian: apt-get install pulseaudio libasound2-plugins)")
    daemon = PulseDaemon(tmp_path_factory.mktemp("pulse"))
    try:
        problem = daemon.wait_ready()
        if problem:
            unavailable(problem)
        listed = hubert_stream(daemon, "devices")
        if listed.returncode != 0 or DEVICE not in listed.stdout:
            unavailable(
                f"PortAudio does not see the PulseAudio device {DEVICE!r} through ALSA (are libportaudio2 and "
                f"libasound2-plugins installed?); `hubert-stream devices` said: {(listed.stdout + listed.stderr).strip()}"
            )
        yield daemon
    finally:
        daemon.close()


def hubert_stream(daemon: PulseDaemon, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "streamer", *args],
        cwd=ROOT,
        env=daemon.env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


@contextmanager
def ctrl_c_reaches_children() -> Iterator[None]:
    """Children started inside get SIGINT's default action, even where this process ignores it.

    A shell starts a background job with SIGINT ignored; children inherit that and Python keeps
    it, so the Ctrl-C the test sends would do nothing. A handler (unlike "ignore") is reset by exec.
    """
    previous = signal.getsignal(signal.SIGINT)
    if previous is signal.SIG_IGN:
        signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


def device_wav(folder: Path) -> tuple[np.ndarray, Path]:
    """The sentence as the device records it (int16 mono at its rate), padded to whole blocks, and a wav of it.

    PortAudio hands over whole blocks only; a live microphone keeps delivering, but this one goes quiet
    after the sentence, so an unfinished last block would never arrive. Whole blocks make "the same
    audio" exact.
    """
    speech, rate = sf.read(WEATHER, dtype="float32")
    speech = soxr.resample(speech, rate, DEVICE_RATE)
    block = round(DEVICE_RATE * BLOCK_SECONDS)
    speech = np.concatenate([speech, np.zeros(-len(speech) % block, np.float32)])
    path = folder / "weather-44100.wav"
    sf.write(path, speech, DEVICE_RATE, subtype="PCM_16")
    samples, _ = sf.read(path, dtype="int16")
    return samples, path


def finals(jsonl: str) -> list[Final]:
    """The final events among JSON lines: text, times and words."""
    return [event for event in map(from_json, jsonl.splitlines()) if isinstance(event, Final)]


def test_devices_lists_the_virtual_microphone(pulse):
    """`devices` lists the PulseAudio PCM with what PortAudio reports: 32 channels at 44100 Hz."""
    listed = hubert_stream(pulse, "devices")
    assert listed.returncode == 0, listed.stderr
    row = next(line for line in listed.stdout.splitlines() if DEVICE in line)
    assert row.split()[-4:] == ["ALSA", "32", str(DEVICE_RATE), "Hz"], row
    assert any(line.startswith("*") for line in listed.stdout.splitlines()[1:])  # a default is marked


def test_mic_through_portaudio_prints_the_finals_of_transcribe(pulse, tmp_path, capsys, cached_model):
    """`mic --input hubert_test_mic` hears the sentence played into the device and prints `transcribe`'s finals.

    It records at the device's own rate with 2 of its 32 channels, and Ctrl-C after the device
    went quiet ends it cleanly (exit 0): PortAudio's stop would wait forever for the next block.
    """
    samples, path = device_wav(tmp_path)
    assert main(["transcribe", str(path), "--model", "demo", "--format", "jsonl", "--live"]) == 0
    expected = finals(capsys.readouterr().out)
    assert len(expected) == 3, expected  # the comparison covers several segments

    out_path, err_path = tmp_path / "mic.jsonl", tmp_path / "mic.err"
    with out_path.open("w") as out, err_path.open("w") as err, ctrl_c_reaches_children():
        mic = subprocess.Popen(
            [sys.executable, "-m", "streamer", "mic", "--model", "demo", "--input", DEVICE, "--format", "jsonl"],
            cwd=ROOT,
            env=pulse.env,
            stdout=out,
            stderr=err,
        )
    try:
        deadline = time.monotonic() + LISTEN_SECONDS
        while "listening on" not in err_path.read_text():
            assert mic.poll() is None, f"`mic` exited with status {mic.returncode}: {err_path.read_text()}"
            assert time.monotonic() < deadline, f"`mic` was not listening within {LISTEN_SECONDS:.0f} s"
            time.sleep(0.1)
        assert f"listening on {DEVICE} ({DEVICE_RATE} Hz, 2 ch, float32)" in err_path.read_text()
        time.sleep(SETTLE_SECONDS)
        pulse.play(samples)
        time.sleep(TAIL_SECONDS)
        assert mic.poll() is None, f"`mic` ended before Ctrl-C: {err_path.read_text()}"
        mic.send_signal(signal.SIGINT)
        try:
            mic.wait(timeout=EXIT_SECONDS)
        except subprocess.TimeoutExpired:
            pytest.fail(f"`mic` did not exit within {EXIT_SECONDS:.0f} s of Ctrl-C")
    finally:
        if mic.poll() is None:
            mic.kill()
            mic.wait(timeout=10)
    err_text = err_path.read_text()
    assert mic.returncode == 0, err_text
    assert "lost" not in err_text, err_text  # no overflow, nothing dropped
    assert finals(out_path.read_text()) == expected
