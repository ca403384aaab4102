"""`hubert-stream mic` and `devices` without a sound card: a stand-in sounddevice plays recordings into the callback.

The stand-in behaves like PortAudio where it matters: the callback runs on another
thread, gets full ``[blocksize, channels]`` blocks in the requested sample format,
and its buffer is overwritten as soon as it returns; Ctrl-C is a real
KeyboardInterrupt delivered to the main thread.
"""

from __future__ import annotations

import _thread
import importlib.abc
import io
import json
import sys
import threading
import time
import types
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import soxr

import streamer.cli.mic
from streamer.cli import main
from streamer.cli.mic import Capture, CaptureSettings, InputDevice
from streamer.wire.events import Final, from_json
from training.metrics import cer

ROOT = Path(__file__).resolve().parent.parent
HELLO = ROOT / "examples" / "hello.wav"
WEATHER = ROOT / "examples" / "weather.wav"
MODEL = "demo"
PLAY_SPEED = 20.0  # the stand-in delivers blocks this many times faster than real time


class PortAudioError(Exception):
    """Stands in for sounddevice.PortAudioError."""


class Flags:
    """Stands in for sounddevice.CallbackFlags."""

    def __init__(self, input_overflow: bool = False) -> None:
        self.input_overflow = input_overflow


class FakeInputStream:
    """Plays ``audio`` ([frames, channels] at the device rate) into ``callback`` from a thread, block by block."""

    def __init__(self, player: FakeDevice, *, device, samplerate, channels, dtype, blocksize, callback) -> None:
        assert (device, samplerate, channels) == (player.index, player.rate, player.audio.shape[1])
        assert dtype == player.dtype and blocksize > 0
        self.player, self.blocksize, self.callback = player, blocksize, callback
        self.active = False
        self.closed = False
        self._halt = threading.Event()
        self._thread = threading.Thread(target=self._play, daemon=True)
        player.streams.append(self)

    def start(self) -> None:
        self.active = True
        self._thread.start()

    def abort(self) -> None:
        self._halt.set()
        if self._thread.is_alive() and self._thread is not threading.current_thread():
            self._thread.join()
        self.active = False

    def close(self) -> None:
        self.closed = True

    def _play(self) -> None:
        audio, size = self.player.audio, self.blocksize
        buffer = np.empty((size, audio.shape[1]), dtype=audio.dtype)  # PortAudio reuses one buffer
        for number, first in enumerate(range(0, len(audio), size)):
            if self._halt.is_set():
                return
            block = audio[first : first + size]
            buffer[:] = 0
            buffer[: len(block)] = block  # the last block is padded with silence, as a live device would
            self.callback(buffer, size, None, Flags(number in self.player.overflow_at))
            buffer[:] = np.iinfo(np.int16).max // 3 if buffer.dtype == np.int16 else 0.3  # clobbered after return
            self.player.delivered += 1
            time.sleep(size / self.player.rate / PLAY_SPEED)
        self.player.finished.set()
        if self.player.ending == "ctrl-c":
            time.sleep(0.05)
            if not self._halt.is_set():
                _thread.interrupt_main()  # what Ctrl-C in the terminal does
        else:  # "unplugged": the stream ends on its own
            self.active = False


class FakeDevice:
    """A stand-in ``sounddevice`` module with one input device that plays a recording."""

    def __init__(
        self,
        audio: np.ndarray,
        rate: int,
        dtype: str = "float32",
        name: str = "USB Microphone",
        formats: tuple[str, ...] = ("float32", "int16"),
        rates: tuple[int, ...] | None = None,
        overflow_at: tuple[int, ...] = (),
        ending: str = "ctrl-c",
        inputs: bool = True,
    ) -> None:
        self.audio, self.rate, self.dtype = audio, rate, dtype
        self.index = 3
        self.name = name
        self.formats = formats
        self.rates = rates or (rate,)
        self.overflow_at = set(overflow_at)
        self.ending = ending
        self.inputs = inputs
        self.streams: list[FakeInputStream] = []
        self.delivered = 0
        self.finished = threading.Event()

    def module(self) -> types.ModuleType:
        sd = types.ModuleType("sounddevice")
        sd.PortAudioError = PortAudioError
        sd.query_devices = self.query_devices
        sd.query_hostapis = lambda: ({"name": "ALSA", "devices": [0, self.index]},)
        sd.check_input_settings = self.check_input_settings
        sd.InputStream = lambda **kwargs: FakeInputStream(self, **kwargs)
        return sd

    def devices(self) -> list[dict]:
        output_only = {"name": "HDMI Output", "index": 0, "hostapi": 0, "max_input_channels": 0,
                       "max_output_channels": 2, "default_samplerate": 48000.0}  # fmt: skip
        mic = {"name": self.name, "index": self.index, "hostapi": 0, "max_input_channels": self.audio.shape[1],
               "max_output_channels": 0, "default_samplerate": float(self.rate)}  # fmt: skip
        return [output_only, mic] if self.inputs else [output_only]

    def query_devices(self, device=None, kind=None):
        if device is None and kind is None:
            return self.devices()
        if device is None and kind == "input":
            if not self.inputs:
                raise PortAudioError("Error querying device -1")
            return self.devices()[1]
        raise AssertionError(f"unexpected query_devices({device!r}, kind={kind!r})")

    def check_input_settings(self, device=None, channels=None, dtype=None, samplerate=None, extra_settings=None):
        if device != self.index:
            raise PortAudioError(f"Error querying device {device}")
        if dtype not in self.formats:
            raise PortAudioError("Sample format not supported [PaErrorCode -9994]")
        if samplerate not in self.rates:
            raise PortAudioError("Invalid sample rate [PaErrorCode -9997]")


def device_recording(source: Path, rate: int, dtype: str, folder: Path) -> tuple[np.ndarray, Path]:
    """``source`` as a stereo recording at ``rate`` in ``dtype``: the samples and a file holding exactly them."""
    mono, source_rate = sf.read(source, dtype="float32")
    mono = soxr.resample(mono, source_rate, rate).astype(np.float32)
    stereo = np.stack([mono, 0.8 * mono], axis=1)  # two channels that differ, as two microphones would
    path = folder / f"{source.stem}-{rate}-{dtype}.wav"
    sf.write(path, stereo, rate, subtype="PCM_16" if dtype == "int16" else "FLOAT")
    samples, _ = sf.read(path, dtype=dtype, always_2d=True)  # what the file holds, in the device's format
    return samples, path


def finals_of(jsonl: str) -> list[Final]:
    """The finals among JSON lines of events."""
    return [e for e in map(from_json, jsonl.splitlines()) if isinstance(e, Final)]


def use_device(monkeypatch, device: FakeDevice) -> FakeDevice:
    """Make `import sounddevice` give the stand-in."""
    monkeypatch.setitem(sys.modules, "sounddevice", device.module())
    return device


@pytest.mark.parametrize(
    "rate, dtype",
    [(44_100, "int16"), (44_100, "float32"), (48_000, "int16"), (48_000, "float32")],
)
def test_mic_gives_the_same_finals_as_transcribe(rate, dtype, tmp_path, monkeypatch, capsys, cached_model):
    """A stereo device at 44.1/48 kHz in int16/float32 yields the finals `transcribe` gives for the same audio."""
    monkeypatch.setattr(streamer.cli.mic, "QUEUE_SECONDS", 60.0)  # the stand-in plays faster than real time
    samples, path = device_recording(WEATHER, rate, dtype, tmp_path)
    formats = ("int16",) if dtype == "int16" else ("float32", "int16")  # an int16-only device gets int16
    device = use_device(monkeypatch, FakeDevice(samples, rate, dtype, formats=formats))

    assert main(["transcribe", str(path), "--model", MODEL, "--format", "jsonl", "--live"]) == 0
    from_file = finals_of(capsys.readouterr().out)
    assert main(["mic", "--model", MODEL, "--format", "jsonl"]) == 0
    captured = capsys.readouterr()
    from_mic = finals_of(captured.out)

    assert device.finished.is_set() and device.streams[0].closed
    assert f"{rate} Hz, 2 ch, {dtype}" in captured.err  # it says what it records
    assert "lost" not in captured.err  # nothing dropped: the comparison is fair
    file_text, mic_text = " ".join(f.text for f in from_file), " ".join(f.text for f in from_mic)
    assert file_text.strip(), "the model heard nothing: the comparison would be empty"
    assert cer([file_text], [mic_text]) <= 0.01
    assert len(from_mic) == len(from_file)


def test_mic_in_a_terminal_redraws_the_partial(tmp_path, monkeypatch, cached_model):
    """In a terminal the partial is redrawn in place (carriage return + erase) and finals end their lines."""

    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    samples, _ = device_recording(HELLO, 48_000, "float32", tmp_path)
    use_device(monkeypatch, FakeDevice(samples, 48_000))
    monkeypatch.setattr(streamer.cli.mic, "QUEUE_SECONDS", 60.0)
    terminal = Terminal()
    monkeypatch.setattr(sys, "stdout", terminal)
    assert main(["mic", "--model", MODEL]) == 0
    shown = terminal.getvalue()
    assert shown.count("\r\033[K") >= 2  # redrawn, not appended
    finals = [line.rsplit("\r\033[K", 1)[-1] for line in shown.split("\n")[:-1]]
    assert finals and all(finals), shown  # each final on a line of its own
    assert shown.endswith(("\n", "\r\033[K"))  # nothing half-drawn is left behind


def test_mic_piped_prints_finals_only(tmp_path, monkeypatch, capsys, cached_model):
    """When stdout is not a terminal, the default text format prints finals only, one per line."""
    samples, _ = device_recording(HELLO, 44_100, "int16", tmp_path)
    use_device(monkeypatch, FakeDevice(samples, 44_100, "int16", formats=("int16",)))
    assert main(["mic", "--model", MODEL]) == 0
    out = capsys.readouterr().out
    assert "\r" not in out and "\033" not in out
    assert out.endswith("\n") and all(line.strip() for line in out.splitlines())


def test_mic_writes_captions_to_a_file(tmp_path, monkeypatch, capsys, cached_model):
    """`mic --format vtt --output FILE` writes WebVTT captions of what was heard, finalized at Ctrl-C."""
    samples, _ = device_recording(HELLO, 48_000, "float32", tmp_path)
    use_device(monkeypatch, FakeDevice(samples, 48_000))
    target = tmp_path / "live.vtt"
    assert main(["mic", "--model", MODEL, "--format", "vtt", "--output", str(target)]) == 0
    text = target.read_text()
    assert text.startswith("WEBVTT\n\n") and " --> " in text
    assert capsys.readouterr().out == ""  # stdout is not a terminal: no live view


def test_stalled_recognizer_drops_blocks_and_reports_them(monkeypatch, capsys, cached_model):
    """When recognition stalls, the bounded queue fills; dropped blocks and device overflows are reported."""
    from streamer.core.recognizer import Recognizer

    rate, seconds = 48_000, 8.0
    noise = (np.random.default_rng(0).standard_normal((int(rate * seconds), 2)) * 0.01).astype(np.float32)
    device = use_device(monkeypatch, FakeDevice(noise, rate, overflow_at=(5, 17, 40)))
    real_accept = Recognizer.accept

    def stalled_accept(self, samples):
        device.finished.wait(timeout=30)  # recognition is stuck until the device has played everything
        return real_accept(self, samples)

    monkeypatch.setattr(Recognizer, "accept", stalled_accept)
    assert main(["mic", "--model", MODEL]) == 0
    err = capsys.readouterr().err
    blocks = device.delivered
    capacity = int(streamer.cli.mic.QUEUE_SECONDS / streamer.cli.mic.BLOCK_SECONDS)
    dropped = int(err.split(" block(s)")[0].rsplit(" ", 1)[-1])
    assert blocks - capacity - 2 <= dropped <= blocks - capacity  # all but the queue (and the block in hand)
    assert "3 input overflow(s)" in err
    assert "dropped because recognition fell behind" in err


def test_unplugged_device_finishes_what_was_heard(tmp_path, monkeypatch, capsys, cached_model):
    """A stream that stops on its own is reported, what was heard is still finalized, and the status is 1."""
    samples, _ = device_recording(HELLO, 48_000, "float32", tmp_path)
    use_device(monkeypatch, FakeDevice(samples, 48_000, ending="unplugged"))
    monkeypatch.setattr(streamer.cli.mic, "QUEUE_SECONDS", 60.0)
    assert main(["mic", "--model", MODEL, "--format", "jsonl"]) == 1
    captured = capsys.readouterr()
    assert "the input stream stopped" in captured.err
    assert finals_of(captured.out)


def test_callback_copies_and_never_blocks():
    """The callback keeps a copy of each block and, when the queue is full, drops instead of waiting."""
    device = InputDevice(1, "Mic", "ALSA", 2, 16_000, True)
    settings = CaptureSettings(device, 16_000, 2, "float32")
    made = {}

    def factory(**kwargs):
        made.update(kwargs)
        return types.SimpleNamespace(start=lambda: None, abort=lambda: None, close=lambda: None, active=True)

    sd = types.SimpleNamespace(PortAudioError=PortAudioError)
    capture = Capture(settings, sd, stream_factory=factory, queue_seconds=0.2)
    assert made["blocksize"] == 1600 and made["dtype"] == "float32" and made["samplerate"] == 16_000
    buffer = np.ones((1600, 2), dtype=np.float32)
    began = time.monotonic()
    for _ in range(5):
        made["callback"](buffer, 1600, None, Flags())
    assert time.monotonic() - began < 0.1
    buffer[:] = 7
    assert capture.queue.qsize() == 2 and capture.dropped_blocks == 3
    assert all((capture.queue.get() == 1).all() for _ in range(2))  # copies, not the reused buffer
    capture.stop()
    assert list(capture.blocks()) == []


# ----- errors: one line, exit status 2, no traceback ---------------------------------------------


class NoPortAudio(importlib.abc.MetaPathFinder):
    """Makes `import sounddevice` fail as it does when the PortAudio library is missing."""

    def find_spec(self, name, path=None, target=None):
        if name == "sounddevice":
            raise OSError("PortAudio library not found")


def assert_one_line_error(err: str, *fragments: str) -> None:
    """stderr holds exactly one line, a hubert-stream error containing every fragment."""
    assert "Traceback" not in err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("hubert-stream: error: "), err
    for fragment in fragments:
        assert fragment in lines[0], lines[0]


@pytest.mark.parametrize("command", [["mic", "--model", MODEL], ["devices"]])
def test_no_portaudio(command, monkeypatch, capsys):
    """Without the PortAudio library, mic and devices say how to install it and exit 2."""
    monkeypatch.delitem(sys.modules, "sounddevice", raising=False)
    monkeypatch.setattr(sys, "meta_path", [NoPortAudio(), *sys.meta_path])
    assert main(command) == 2
    assert_one_line_error(capsys.readouterr().err, "PortAudio library is missing", "libportaudio2")


def test_no_input_device(monkeypatch, capsys):
    """A machine with only output devices: mic says there is no input device and exits 2."""
    use_device(monkeypatch, FakeDevice(np.zeros((16_000, 2), np.float32), 48_000, inputs=False))
    assert main(["mic", "--model", MODEL]) == 2
    assert_one_line_error(capsys.readouterr().err, "no audio input device found")


@pytest.mark.parametrize(
    "spec, fragment",
    [("9", "no input device with index 9; input devices: 3"), ("webcam", "no input device matching 'webcam'")],
)
def test_unknown_input_device(spec, fragment, monkeypatch, capsys):
    """--input naming a device that does not exist lists what does and exits 2."""
    use_device(monkeypatch, FakeDevice(np.zeros((16_000, 2), np.float32), 48_000))
    assert main(["mic", "--input", spec, "--model", MODEL]) == 2
    assert_one_line_error(capsys.readouterr().err, fragment)


def test_input_device_by_name_or_index(monkeypatch):
    """--input takes the index or part of the name."""
    device = use_device(monkeypatch, FakeDevice(np.zeros((16_000, 2), np.float32), 48_000, name="Blue Yeti USB"))
    sd = device.module()
    assert streamer.cli.mic.find_input_device("yeti", sd).index == 3
    assert streamer.cli.mic.find_input_device("3", sd).name == "Blue Yeti USB"
    assert streamer.cli.mic.find_input_device(None, sd).is_default


def test_rate_the_recognizer_cannot_take(monkeypatch, capsys):
    """A device running at 4 kHz is refused with the supported range, exit 2."""
    use_device(monkeypatch, FakeDevice(np.zeros((4000, 1), np.float32), 4000))
    assert main(["mic", "--model", MODEL]) == 2
    assert_one_line_error(capsys.readouterr().err, "4000 Hz", "not supported", "8000-192000 Hz")


def test_rate_the_device_cannot_record(monkeypatch, capsys):
    """A device that reports a default rate PortAudio then refuses: the rate and PortAudio's reason, exit 2."""
    use_device(monkeypatch, FakeDevice(np.zeros((44_100, 2), np.float32), 44_100, rates=(48_000,)))
    assert main(["mic", "--model", MODEL]) == 2
    assert_one_line_error(capsys.readouterr().err, "cannot record 44100 Hz", "Invalid sample rate")


# ----- devices ---------------------------------------------------------------------------------


def test_devices_lists_inputs_with_rates_and_channels(monkeypatch, capsys):
    """`devices` lists input devices only, with index, name, channels and default rate; the default is starred."""
    use_device(monkeypatch, FakeDevice(np.zeros((10, 2), np.float32), 44_100, name="USB Microphone"))
    assert main(["devices"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert "name" in lines[0] and "default rate" in lines[0]
    assert len(lines) == 2 and "HDMI" not in lines[1]
    assert lines[1].startswith("*") and "USB Microphone" in lines[1] and "44100 Hz" in lines[1]
    assert lines[1].split()[1] == "3" and " 2 " in lines[1]


def test_devices_without_inputs(monkeypatch, capsys):
    """`devices` on a machine without inputs says so and exits 2."""
    use_device(monkeypatch, FakeDevice(np.zeros((10, 2), np.float32), 48_000, inputs=False))
    assert main(["devices"]) == 2
    assert_one_line_error(capsys.readouterr().err, "no audio input device found")


def test_packages_import_without_sounddevice():
    """The CLI, the mic module and the events import without loading sounddevice (or torch)."""
    import subprocess

    code = (
        "import sys, streamer, streamer.cli, streamer.cli.mic, streamer.cli.captions, streamer.__main__; "
        "print(json.dumps(sorted(m for m in ('sounddevice', 'torch') if m in sys.modules)))"
    )
    done = subprocess.run(
        [sys.executable, "-c", "import json; " + code], cwd=ROOT, capture_output=True, text=True, check=True
    )
    assert json.loads(done.stdout) == []


def test_the_mic_test_passes_when_the_suite_starts_with_sigint_ignored(tmp_path):
    """A suite started with SIGINT ignored (``nohup``, ``&`` in a script) still delivers the stand-in's
    Ctrl-C: the mic test finishes and passes instead of waiting for an interrupt that never comes."""
    import signal
    import subprocess

    test = "tests/test_mic.py::test_mic_gives_the_same_finals_as_transcribe[44100-int16]"
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--timeout", "120", test],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_IGN),  # what nohup and `&` leave
    )
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    assert "1 passed" in done.stdout
