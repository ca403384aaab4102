"""Microphone capture: PortAudio's callback thread hands blocks to a consumer through a bounded queue.

``sounddevice`` (and the PortAudio library under it) is imported only when a microphone
is used, so everything else runs on machines without audio hardware. The callback
does nothing but copy the block and ``put_nowait`` it: it never blocks PortAudio's
thread. When the consumer falls behind, the queue fills and new blocks are dropped
and counted rather than piling up without bound; PortAudio's own input overflows
are counted too.

Problems a person can fix (no PortAudio, no input device, a rate the device or the
recognizer cannot take) are raised as ``MicError`` with a one-line message.
"""

from __future__ import annotations

import logging
import math
import queue
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np

from streamer.wire.units import MAX_CAPTURE_CHANNELS, MAX_RATE, MIN_RATE

__all__ = [
    "BLOCK_SECONDS",
    "QUEUE_SECONDS",
    "Capture",
    "CaptureSettings",
    "InputDevice",
    "MicError",
    "capture_settings",
    "find_input_device",
    "import_sounddevice",
    "input_devices",
]

log = logging.getLogger(__name__)

BLOCK_SECONDS = 0.1  # audio per callback: short enough for live partials, long enough to be cheap
QUEUE_SECONDS = 5.0  # audio the queue holds while the consumer is busy; beyond that blocks are dropped
SAMPLE_FORMATS = ("float32", "int16")  # in order of preference; PortAudio converts on most devices
STOP_POLL_SECONDS = 0.1  # how often a waiting consumer checks whether capture has stopped


class MicError(RuntimeError):
    """A microphone problem a person can fix; the message is one line that says how."""


def import_sounddevice() -> Any:
    """Import ``sounddevice`` lazily, turning a missing package or PortAudio library into ``MicError``."""
    try:
        import sounddevice
    except OSError as e:  # sounddevice raises OSError when it cannot load the PortAudio library
        raise MicError(
            f"cannot use a microphone: the PortAudio library is missing ({e}). Install it "
            "(Debian/Ubuntu: sudo apt-get install libportaudio2; macOS: brew install portaudio) "
            "or transcribe files with `hubert-stream transcribe`"
        ) from e
    except ImportError as e:
        raise MicError(
            "cannot use a microphone: the sounddevice package is not installed; run `pip install 'hubert-stream[mic]'`"
        ) from e
    return sounddevice


@dataclass(frozen=True)
class InputDevice:
    """An input device as PortAudio describes it."""

    index: int
    name: str
    hostapi: str
    channels: int  # most input channels it offers
    default_rate: int  # Hz
    is_default: bool = False


def input_devices(sd: Any | None = None) -> list[InputDevice]:
    """Every device with at least one input channel, the default one marked."""
    sd = sd or import_sounddevice()
    try:
        devices = list(sd.query_devices())
        hostapis = [api["name"] for api in sd.query_hostapis()]
    except sd.PortAudioError as e:
        raise MicError(f"PortAudio cannot list audio devices: {e}") from e
    default = _default_input_index(sd)
    found = []
    for index, info in enumerate(devices):
        if info["max_input_channels"] > 0:
            api = info.get("hostapi", -1)
            found.append(
                InputDevice(
                    index=int(info.get("index", index)),
                    name=str(info["name"]),
                    hostapi=hostapis[api] if 0 <= api < len(hostapis) else "?",
                    channels=int(info["max_input_channels"]),
                    default_rate=round(info["default_samplerate"]),
                    is_default=int(info.get("index", index)) == default,
                )
            )
    return found


def _default_input_index(sd: Any) -> int | None:
    try:
        return int(sd.query_devices(kind="input")["index"])
    except (sd.PortAudioError, KeyError, TypeError, ValueError):
        return None


def find_input_device(spec: str | int | None = None, sd: Any | None = None) -> InputDevice:
    """The device ``--input`` names: None for the default, an index, or (part of) a name."""
    sd = sd or import_sounddevice()
    devices = input_devices(sd)
    if not devices:
        raise MicError("no audio input device found; connect a microphone (see `hubert-stream devices`)")
    if spec is None or spec == "":
        for device in devices:
            if device.is_default:
                return device
        raise MicError("there is no default input device; choose one with --input (see `hubert-stream devices`)")
    if isinstance(spec, int) or str(spec).strip().isdigit():
        index = int(spec)
        for device in devices:
            if device.index == index:
                return device
        choices = ", ".join(str(d.index) for d in devices)
        raise MicError(f"no input device with index {index}; input devices: {choices} (see `hubert-stream devices`)")
    matches = [d for d in devices if str(spec).lower() in d.name.lower()]
    exact = [d for d in matches if d.name.lower() == str(spec).lower()]
    if len(exact) == 1 or len(matches) == 1:
        return (exact or matches)[0]
    if not matches:
        raise MicError(f"no input device matching {spec!r} (see `hubert-stream devices`)")
    names = "; ".join(f"{d.index}: {d.name}" for d in matches)
    raise MicError(f"several input devices match {spec!r} ({names}); give its index to --input")


@dataclass(frozen=True)
class CaptureSettings:
    """What the stream is opened with: the device's native rate, up to stereo, float32 if it can."""

    device: InputDevice
    sample_rate: int
    channels: int
    dtype: str

    @property
    def blocksize(self) -> int:
        return max(1, round(self.sample_rate * BLOCK_SECONDS))

    def describe(self) -> str:
        return f"{self.device.name} ({self.sample_rate} Hz, {self.channels} ch, {self.dtype})"


def capture_settings(device: InputDevice, sd: Any | None = None) -> CaptureSettings:
    """Check that the device can deliver its native rate and that the recognizer can take it."""
    sd = sd or import_sounddevice()
    rate = device.default_rate
    if not MIN_RATE <= rate <= MAX_RATE:
        raise MicError(
            f"input device {device.name!r} runs at {rate} Hz, which is not supported "
            f"(supported: {MIN_RATE}-{MAX_RATE} Hz); set the device to another rate or choose another with --input"
        )
    channels = min(device.channels, MAX_CAPTURE_CHANNELS)
    errors = []
    for dtype in SAMPLE_FORMATS:
        try:
            sd.check_input_settings(device=device.index, channels=channels, dtype=dtype, samplerate=rate)
        except (sd.PortAudioError, ValueError) as e:
            errors.append(f"{dtype}: {e}")
            continue
        return CaptureSettings(device, rate, channels, dtype)
    raise MicError(
        f"input device {device.name!r} cannot record {rate} Hz with {channels} channel(s) "
        f"({'; '.join(errors)}); choose another device with --input"
    )


class Capture:
    """An open input stream and the bounded queue its callback fills.

    Args:
        settings: from ``capture_settings``.
        sd: the ``sounddevice`` module (imported when None) or a stand-in with ``PortAudioError``.
        stream_factory: makes the stream; ``sounddevice.InputStream`` by default. It is called
            with ``device, samplerate, channels, dtype, blocksize, callback`` keywords and must
            return an object with ``start()``, ``abort()``, ``close()`` and ``active``, whose
            callback gets ``(indata [frames, channels], frames, time, status)`` from another thread.
        queue_seconds: how much audio may wait for the consumer before blocks are dropped
            (``QUEUE_SECONDS`` when None).
    """

    def __init__(
        self,
        settings: CaptureSettings,
        sd: Any | None = None,
        stream_factory: Callable[..., Any] | None = None,
        queue_seconds: float | None = None,
    ) -> None:
        self.settings = settings
        seconds = QUEUE_SECONDS if queue_seconds is None else queue_seconds
        self.queue: queue.Queue[np.ndarray] = queue.Queue(
            maxsize=max(1, math.ceil(seconds * settings.sample_rate / settings.blocksize))
        )
        self.overflows = 0  # callbacks where PortAudio reported lost input (status.input_overflow)
        self.dropped_blocks = 0  # blocks thrown away because the queue was full
        self.dropped_frames = 0
        self.stopped = threading.Event()
        sd = sd or import_sounddevice()
        self._errors = (sd.PortAudioError, ValueError)
        try:
            self.stream = (stream_factory or sd.InputStream)(
                device=settings.device.index,
                samplerate=settings.sample_rate,
                channels=settings.channels,
                dtype=settings.dtype,
                blocksize=settings.blocksize,
                callback=self._callback,
            )
        except self._errors as e:
            raise MicError(f"cannot open input device {settings.describe()}: {e}") from e

    def _callback(self, indata: np.ndarray, frames: int, time: Any, status: Any) -> None:
        # PortAudio's thread: copy (its buffer is reused after we return) and hand over; never block.
        if getattr(status, "input_overflow", False):
            self.overflows += 1
        try:
            self.queue.put_nowait(indata.copy())
        except queue.Full:
            self.dropped_blocks += 1
            self.dropped_frames += frames

    def start(self) -> None:
        try:
            self.stream.start()
        except self._errors as e:
            raise MicError(f"cannot start recording from {self.settings.describe()}: {e}") from e

    def stop(self) -> None:
        """Stop the stream (no more callbacks), then let the consumer drain the queue and end."""
        try:
            # abort, not stop: PortAudio's ALSA stop joins its thread, which waits for the next block, so a
            # device that stopped delivering (a PulseAudio pipe source with nothing written) hangs Ctrl-C for
            # good, a second Ctrl-C included. An input stream has nothing to drain: abort loses no more than
            # stop does (the unfinished block). tests/test_mic_real.py meets this on the real stack.
            self.stream.abort()
            self.stream.close()
        except self._errors as e:  # a device that vanished cannot be stopped; what was heard still counts
            log.warning("closing the input stream failed: %s", e)
        finally:
            self.stopped.set()

    @property
    def active(self) -> bool:
        """False once the stream ended on its own (device unplugged, PortAudio error)."""
        return bool(getattr(self.stream, "active", True))

    def blocks(self) -> Iterator[np.ndarray]:
        """Queued blocks in order, until ``stop()`` was called and the queue is empty."""
        while True:
            try:
                yield self.queue.get(timeout=STOP_POLL_SECONDS)
            except queue.Empty:
                if self.stopped.is_set():
                    return

    def report(self) -> str | None:
        """One line about lost audio, or None when nothing was lost."""
        if not self.overflows and not self.dropped_blocks:
            return None
        seconds = self.dropped_frames / self.settings.sample_rate
        return (
            f"audio was lost: {self.overflows} input overflow(s) reported by the device, "
            f"{self.dropped_blocks} block(s) ({seconds:.1f} s) dropped because recognition fell behind"
        )
