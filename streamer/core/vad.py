"""Voice activity: which stretches of a stream hold speech, so silence and noise skip the model.

One small interface, two detectors beside it: ``SileroDetector`` (the silero-vad network, MIT, the
weights its wheel carries) and ``EnergyDetector`` (a level threshold, no model). A detector is shared
by every stream of a process and keeps nothing of them; each stream's state (the detector's
recurrent state, the samples short of a frame, the speech it heard) is a ``VoiceActivity`` that the
stream owns. ``listen`` runs the detector for many streams at once, one batched call per 32 ms frame.

A stream's samples may be handed in (``VoiceActivity.take``) on one thread while another judges them
(a server's VAD thread): samples queue in an inbox until a ``listen`` collects them, and one
``listen`` at a time judges (a lock), so a stream's frames are judged once, in order, with its state.

Frames are cut from the stream's own samples at fixed positions (every ``VAD_FRAME_SAMPLES`` from
its start), never from the blocks that happen to arrive, so any chunking of the same audio hears
the same speech.
"""

from __future__ import annotations

import importlib.util
import threading
from abc import ABC, abstractmethod
from collections import deque
from pathlib import Path
from typing import Any

import numpy as np

from streamer.core.config import StreamingConfig
from streamer.wire.units import SAMPLE_RATE

__all__ = [
    "VAD_FRAME_SAMPLES",
    "EnergyDetector",
    "SileroDetector",
    "SpeechDetector",
    "VoiceActivity",
    "detector",
    "listen",
]

VAD_FRAME_SAMPLES = 512  # 32 ms at 16 kHz: the frame silero-vad was trained on (and the energy detector uses)
SILERO_CONTEXT_SAMPLES = 64  # the samples before each frame silero-vad sees with it (its own streaming wrapper's)
SILERO_STATE_SIZE = 128  # the LSTM's hidden size: state [2 (h, c), batch, 128]
# A frame is speech from a probability of 0.5 on (silero-vad's default threshold), and speech goes on
# until one falls below 0.35: hysteresis, so a word's soft middle does not end it.
SPEECH_ON = 0.5
SPEECH_OFF = 0.35


class SpeechDetector(ABC):
    """Speech probabilities of frames of many streams, one frame per stream per call.

    Stateless itself: each stream's state is passed in and handed back, so one detector serves every
    stream and a stream's result never depends on which others share its call.
    """

    context_samples = 0  # samples before each frame the detector sees with it

    @abstractmethod
    def initial_state(self) -> Any:
        """A fresh stream's state."""

    @abstractmethod
    def probabilities(self, frames: np.ndarray, states: list[Any]) -> tuple[np.ndarray, list[Any]]:
        """``frames`` ``[streams, context_samples + VAD_FRAME_SAMPLES]`` raw samples, one row per stream with
        that stream's state; returns each frame's speech probability ``[streams]`` and the states after it."""


class SileroDetector(SpeechDetector):
    """silero-vad (v6, 16 kHz), the ONNX file its wheel carries, through onnxruntime on one CPU thread,
    with its recurrent state passed in per stream.

    onnxruntime rather than the wheel's TorchScript file: cheaper per call (a stream alone calls it
    every 32 ms), and its cost does not jump when the number of streams in a call changes, which
    TorchScript's shape specialization did (docs/performance.md).
    """

    context_samples = SILERO_CONTEXT_SAMPLES

    def __init__(self) -> None:
        import onnxruntime  # here: only --vad silero needs it

        options = onnxruntime.SessionOptions()
        options.inter_op_num_threads = options.intra_op_num_threads = 1  # tiny calls: threads cost more than they give
        self._session = onnxruntime.InferenceSession(
            str(_silero_file("silero_vad.onnx")), options, providers=["CPUExecutionProvider"]
        )
        self._rate = np.array(SAMPLE_RATE, dtype=np.int64)

    def initial_state(self) -> np.ndarray:
        return np.zeros((2, SILERO_STATE_SIZE), np.float32)

    def probabilities(self, frames: np.ndarray, states: list[np.ndarray]) -> tuple[np.ndarray, list[np.ndarray]]:
        state = np.stack(states, 1)  # [2, streams, 128]
        probs, state = self._session.run(None, {"input": frames, "state": state, "sr": self._rate})
        return probs[:, 0], list(state.transpose(1, 0, 2))  # [streams], each [2, 128]


class EnergyDetector(SpeechDetector):
    """A frame is speech when its level reaches ``threshold_db`` (dBFS RMS): no model, and no notion of
    speech either (a fan or music above the threshold counts)."""

    def __init__(self, threshold_db: float) -> None:
        self.threshold_db = threshold_db

    def initial_state(self) -> None:
        return None

    def probabilities(self, frames: np.ndarray, states: list[None]) -> tuple[np.ndarray, list[None]]:
        power = np.mean(frames.astype(np.float64) ** 2, axis=1)
        level_db = 10 * np.log10(power + 1e-20)
        return (level_db >= self.threshold_db).astype(np.float32), states


def _silero_file(name: str) -> Path:
    """A file the silero-vad wheel carries, found without importing the package (its import sets
    torch's global thread count)."""
    spec = importlib.util.find_spec("silero_vad")
    if spec is None or spec.origin is None:
        raise RuntimeError("the silero VAD needs the silero-vad package: pip install silero-vad (or use --vad energy/off)")
    path = Path(spec.origin).parent / "data" / name
    if not path.is_file():
        raise RuntimeError(f"the silero-vad package has no {name} (found {path.parent}); reinstall silero-vad")
    return path


_DETECTORS: dict[tuple[str, float], SpeechDetector] = {}


def detector(config: StreamingConfig) -> SpeechDetector | None:
    """The process's shared detector that ``config.vad`` names, loaded once; None for "off"."""
    if config.vad == "off":
        return None
    key = (config.vad, config.energy_threshold_db if config.vad == "energy" else 0.0)
    if key not in _DETECTORS:
        _DETECTORS[key] = SileroDetector() if config.vad == "silero" else EnergyDetector(config.energy_threshold_db)
    return _DETECTORS[key]


class VoiceActivity:
    """One stream's voice activity: its detector's state, the samples short of a frame, and the
    stretches of speech heard, in stream samples.

    ``take`` queues raw samples (from any thread); ``listen`` runs the detector on the whole frames
    among them. Readers pass the sample up to which they read (``until``): a stream's decisions at a
    given point of it must not change when the detector has already heard further.
    """

    def __init__(self, detector: SpeechDetector) -> None:
        self.detector = detector
        self.state = detector.initial_state()
        self._context = np.zeros(detector.context_samples, np.float32)
        self._inbox: deque[np.ndarray] = deque()  # blocks taken, not yet collected by a listen
        self._buffer = np.zeros(0, np.float32)  # collected samples not yet in a frame
        self.taken = 0  # stream samples handed to ``take`` (zeros completing the last frame included)
        self.heard = 0  # stream samples the detector has judged
        self.speaking = False
        self.spans: list[list[int]] = []  # [start, stop) of each stretch of speech; an open one grows
        self.judged_frames = 0  # frames judged since the stream began (what the detector cost)

    def take(self, samples: np.ndarray, whole: bool = False) -> None:
        """Queue raw samples of the stream, in order; ``whole``: the stream ends with them, so zeros
        complete its last frame."""
        if whole and (self.taken + len(samples)) % VAD_FRAME_SAMPLES:
            zeros = VAD_FRAME_SAMPLES - (self.taken + len(samples)) % VAD_FRAME_SAMPLES
            samples = np.concatenate([samples, np.zeros(zeros, np.float32)])
        if len(samples):
            self._inbox.append(samples)
            self.taken += len(samples)

    def unheard(self) -> int:
        """Whole frames taken and not yet judged."""
        return self.taken // VAD_FRAME_SAMPLES - self.heard // VAD_FRAME_SAMPLES

    def take_frames(self) -> np.ndarray:
        """The whole frames taken, each with the context before it ``[frames, context + VAD_FRAME_SAMPLES]``;
        they leave the buffer (``judged`` takes their results in order). Call within ``listen``."""
        blocks = [self._inbox.popleft() for _ in range(len(self._inbox))]
        if blocks:
            self._buffer = np.concatenate([self._buffer, *blocks])
        count = len(self._buffer) // VAD_FRAME_SAMPLES
        size = len(self._context) + VAD_FRAME_SAMPLES
        if not count:
            return np.zeros((0, size), np.float32)
        taken = np.concatenate([self._context, self._buffer[: count * VAD_FRAME_SAMPLES]])
        self._buffer = self._buffer[count * VAD_FRAME_SAMPLES :]
        if len(self._context):
            self._context = taken[len(taken) - len(self._context) :].copy()
        return np.lib.stride_tricks.sliding_window_view(taken, size)[::VAD_FRAME_SAMPLES][:count]

    def judged(self, probability: float, state: Any) -> None:
        """The speech probability of the next frame ``take_frames`` gave, and the detector's state after it."""
        self.state = state
        self.judged_frames += 1
        start, heard = self.heard, self.heard + VAD_FRAME_SAMPLES
        if self.speaking:
            self.speaking = probability >= SPEECH_OFF
        else:
            self.speaking = probability >= SPEECH_ON
            if self.speaking:
                self.spans.append([start, start])
        if self.speaking:
            self.spans[-1][1] = heard
        self.heard = heard  # last: a reader that sees it sees the spans up to it

    def speech_within(self, start: int, stop: int) -> tuple[int, int] | None:
        """The first and last speech sample (stop exclusive) heard in ``[start, stop)``, or None."""
        inside = [(max(a, start), min(b, stop)) for a, b in list(self.spans) if a < stop and b > start]
        return (inside[0][0], inside[-1][1]) if inside else None

    def forget_before(self, sample: int) -> None:
        """Drop the stretches of speech that ended before ``sample`` (nothing will ask about them), all
        but the last."""
        while len(self.spans) > 1 and self.spans[0][1] < sample:
            self.spans.pop(0)


_JUDGING = threading.Lock()  # one listen at a time: a stream's frames are judged once and in order


def listen(activities: list[VoiceActivity]) -> None:
    """Judge every whole frame buffered in ``activities`` (one per stream), batched across the
    streams of each detector: one call per frame position, with the streams that have that frame.
    Safe to call from several threads (one judges at a time)."""
    with _JUDGING:
        _listen(activities)


def _listen(activities: list[VoiceActivity]) -> None:
    groups: dict[int, list[VoiceActivity]] = {}
    for activity in activities:
        groups.setdefault(id(activity.detector), []).append(activity)
    for group in groups.values():
        frames = [activity.take_frames() for activity in group]  # each [frames, context + 512]
        for t in range(max(len(f) for f in frames)):  # (0 frames: no call)
            rows = [i for i, f in enumerate(frames) if t < len(f)]
            batch = np.stack([frames[i][t] for i in rows])  # [streams, context + 512]
            probs, states = group[0].detector.probabilities(batch, [group[i].state for i in rows])
            for i, probability, state in zip(rows, probs.tolist(), states):
                group[i].judged(probability, state)
