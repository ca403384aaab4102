"""The streaming recognizer: 16 kHz audio in, partial and final events out.

Pure and synchronous. The model runs once per hop on ``left context + hop +
lookahead`` frames ending at the newest audio. Frames with full lookahead are
committed; frames inside the lookahead are tentative. Work happens only at fixed
hop positions of the stream, never at the edges of the blocks that ``accept``
happens to receive, so any chunking of the same audio gives the same events.

Conv features are cached: with a layer-norm feature encoder every frame depends
only on its own 400 samples, so each sample goes through the conv stack once and
only the transformer runs on the whole window. When a segment ends, the final pass (on by
default) decodes the segment once more as offline decoding would: every sample heard after
it and, when a ``finalize()`` cut it out of an utterance, the utterance before it (up to
``final_context_frames``), normalized together and run through the whole model, so finals
match offline decoding (the windows' own ids give the partials).

A stream's first windows reach back before its start. They are filled with the
features of digital silence, so every window has one shape and windows of many
streams batch without padding (``run_batch`` below), and those frames are masked
out of the model (zeroed before the positional conv, left out of attention), so the
first windows decode exactly as offline decoding of the audio so far. Unmasked, the
silence in front cost the first letters of nearly every stream: the demo model got
the first word of 2 in 70 short held-out sentences right, against 37 for offline
decoding (36 with the mask).

With ``StreamingConfig.kv_cache`` (on by default) a hop runs only its hop + lookahead frames through the
layers; the left context's keys and values per layer are the ones earlier hops computed
for those frames, kept per stream (``HubertForCTC.forward_step``). A stream's first hop,
and the first after a flush or a gated hop, computes its whole window and fills the cache.
"""

from __future__ import annotations

import math
import threading
import weakref
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch

from model.audio import NORM_EPS
from model.transcribe import as_audio
from streamer.core.config import StreamingConfig
from streamer.core.stitch import Stitcher
from streamer.wire.events import Event
from streamer.wire.units import FRAME_SAMPLES, SAMPLE_RATE

__all__ = ["HopRequest", "Recognizer", "frame_sizes", "run_batch", "whole_frames", "zeros_to_whole_frame"]


@dataclass
class HopRequest:
    """One due hop of one stream: audio for its new conv frames, then its window."""

    recognizer: Recognizer
    audio: torch.Tensor  # [hop * 320 + 80] normalized samples -> exactly hop new frames
    gated: bool  # quiet enough to skip the transformer


class RunningNorm:
    """Causal zero-mean unit-variance normalization with exponential forgetting."""

    def __init__(self, config: StreamingConfig, do_normalize: bool = True) -> None:
        self.enabled = config.normalize == "running" and do_normalize
        self.tau = config.norm_seconds * SAMPLE_RATE  # in samples
        self.floor = 10 ** (config.norm_floor_db / 10)  # variance of a signal at that RMS
        self.weight = 0.0
        self.mean = 0.0
        self.power = 0.0  # running mean of x**2

    def __call__(self, x: np.ndarray) -> np.ndarray:
        if not self.enabled or len(x) == 0:
            return x
        self.weight, self.mean, self.power = self._updated(x)
        return self._scale(x, self.mean, self.power - self.mean**2)

    def peek(self, x: np.ndarray) -> np.ndarray:
        """``x`` normalized as ``__call__`` would, leaving the statistics as they are."""
        if not self.enabled or len(x) == 0:
            return x
        _, mean, power = self._updated(x)
        return self._scale(x, mean, power - mean**2)

    def _updated(self, x: np.ndarray) -> tuple[float, float, float]:
        """Weight, mean and mean power after taking in ``x``."""
        decay = math.exp(-len(x) / self.tau)
        total = self.weight * decay + len(x)
        mean = (self.mean * self.weight * decay + float(x.sum(dtype=np.float64))) / total
        power = (self.power * self.weight * decay + float(np.dot(x, x))) / total
        return total, mean, power

    def whole(self, x: np.ndarray) -> np.ndarray:
        """``x`` normalized by its own mean and variance (with the same floor), as offline decoding does."""
        if not self.enabled or len(x) == 0:
            return x
        x64 = x.astype(np.float64)
        return self._scale(x64, float(x64.mean()), float(x64.var()))

    def _scale(self, x: np.ndarray, mean: float, var: float) -> np.ndarray:
        return ((x - mean) / math.sqrt(max(var, self.floor) + NORM_EPS)).astype(np.float32)


class Newest:
    """The newest ``keep`` rows of a stream (conv frames or samples), kept in a buffer twice that
    size so a hop appends without re-copying them; they move to the front once it is full.

    ``rows`` (``[2 * keep, ...]``) is the initial buffer: its first ``keep`` rows stand for
    what came before the stream began. A block appended at once may hold at most ``keep`` rows.
    """

    def __init__(self, rows: torch.Tensor, keep: int) -> None:
        self.keep = keep
        self._rows = rows
        self._stop = keep  # row after the newest

    def append(self, block: torch.Tensor) -> None:
        count = block.shape[0]
        if self._stop + count > self._rows.shape[0]:  # full: move the newest rows to the front
            # In pieces no longer than the distance moved, front to back, so no piece overlaps its
            # source and no temporary is allocated (a clone here cost more than the copy).
            distance = self._stop - self.keep  # > 0: the caller appends at most `keep` rows
            for first in range(0, self.keep, distance):
                last = min(first + distance, self.keep)
                self._rows[first:last] = self._rows[first + distance : last + distance]
            self._stop = self.keep
        self._rows[self._stop : self._stop + count] = block
        self._stop += count

    def newest(self, count: int) -> torch.Tensor:
        return self._rows[self._stop - count : self._stop]


class Recognizer:
    """Streaming recognizer for one stream of 16 kHz float32 mono audio.

    Args:
        model: a layer-norm HuBERT CTC from ``model.load_model`` (with ``vocab``).
        config: windows, endpointing and normalization knobs.
    """

    def __init__(self, model, config: StreamingConfig | None = None) -> None:
        if not model.streamable:
            raise ValueError(
                f"{model.name} has a group-norm feature encoder: each frame depends on the whole clip, "
                "so it cannot stream. Use a layer-norm checkpoint (hubert-large/xlarge, the demo model) "
                "or transcribe files offline"
            )
        # Frame arithmetic from the checkpoint's own conv stack: 320 samples per frame, each frame
        # seeing 400 (so neighbours share 80) for every HuBERT so far.
        self._frame, self._field = frame_sizes(model)
        self._overlap = self._field - self._frame  # samples shared by neighbouring frames
        # preprocessor_config.json's do_normalize: False means the checkpoint takes raw samples.
        front = getattr(model, "front", None)
        self._do_normalize = front is None or front.do_normalize
        self.model = model
        self.config = config or StreamingConfig()
        self._silence = _silence_features(model)  # [conv_dim]
        self.reset()

    def reset(self) -> None:
        """Forget everything: the next sample is the start of a new stream at time 0."""
        c = self.config
        self.stitcher = Stitcher(self.model.vocab, c, self._redecode if c.final_pass else None)
        self.norm = RunningNorm(c, self._do_normalize)
        self._raw = np.zeros(0, dtype=np.float32)  # received, not yet normalized
        self._pending: list[np.ndarray] = []  # blocks pushed since the last hop, not yet joined
        self._pending_samples = 0
        self._tail = np.zeros(0, dtype=np.float32)  # last 80 normalized samples (frame overlap)
        self._received = 0  # samples accepted since the stream began
        self._end = 0  # stream frame just after the newest conv frame
        self._committed = 0  # first stream frame not yet committed
        # Kept conv frames: a window plus what a flush may add. Stored in a buffer twice that size,
        # so a hop appends without re-copying.
        self._keep = c.window_frames + 2 * c.hop_frames
        self._features = Newest(self._silence.expand(2 * self._keep, -1).clone(), self._keep)  # silence first
        # The final pass runs the conv stack again on received samples, normalized with its whole
        # window: it keeps those of the longest segment, its history and the frames after it.
        self._sample_frames = c.final_context_frames + c.max_segment_frames + self._keep if c.final_pass else 0
        samples = self._sample_frames * self._frame + self._overlap
        self._samples = Newest(torch.zeros(2 * samples), samples) if c.final_pass else None
        self._loud_until = -1  # last frame whose hop was above the energy gate
        self._closed = False
        # With kv_cache: keys/values of the next window's left context, [layers, 2, heads, left, head_dim],
        # or None when the next hop must compute its whole window.
        self._kv: torch.Tensor | None = None

    # ----- the plain single-stream API ---------------------------------------------------------

    def accept(self, samples: np.ndarray) -> list[Event]:
        """Feed 16 kHz float32 mono samples; returns the events they caused."""
        self.push(samples)
        return self._drain()

    def finalize(self) -> list[Event]:
        """End the current segment now, at the last word boundary heard; the stream goes on.

        A word still being spoken is not cut in two: it starts the next segment (see
        ``_end_at_a_word``), so no audio is lost at the cut.
        """
        self._check_open()
        return self._end_at_a_word()

    def close(self) -> list[Event]:
        """End of stream: flush every sample, including a last partial frame, and finish."""
        if self._closed:
            return []
        events = self._flush(pad_last_frame=True)
        self._closed = True
        return events

    # ----- the two-phase API the batching engine drives ----------------------------------------

    @property
    def samples_received(self) -> int:
        """Samples pushed since the stream began."""
        return self._received

    @property
    def samples_final(self) -> int:
        """Samples before the current segment: finals (or dropped silence) cover them, and nothing
        before this point will be revised. A stream restarted here from the same audio loses nothing
        (what a server's ``ack`` reports; it only ever grows)."""
        return self.stitcher.start * self._frame

    @property
    def samples_recognized(self) -> int:
        """Samples that hops have taken in: the model has seen them (possibly as lookahead)."""
        return self._received - len(self._raw) - self._pending_samples

    @property
    def samples_to_next_hop(self) -> int:
        """Samples still to come before the next hop is due (0: one is due now)."""
        return max(0, self._hop_samples() - len(self._raw) - self._pending_samples)

    def push(self, samples: np.ndarray) -> None:
        """Buffer samples without running the model."""
        self._check_open()
        samples = as_audio(samples, "samples")
        if len(samples):
            self._pending.append(samples.copy())
            self._pending_samples += len(samples)
        self._received += len(samples)

    def next_hop(self) -> HopRequest | None:
        """Take the next due hop's audio, or None while less than a hop is buffered."""
        if self.samples_to_next_hop:
            return None
        fresh = self._hop_samples()
        self._gather()
        block, self._raw = self._raw[:fresh], self._raw[fresh:]
        return HopRequest(self, torch.from_numpy(self._take_in(block)), self._gate(block))

    def window(self, new_features: torch.Tensor) -> torch.Tensor:
        """Append one hop's conv features ``[hop, conv_dim]``; return the window ``[window, conv_dim]``.

        Its first ``padding`` frames stand before the stream's start: the model must mask them out.
        """
        self._append(new_features)
        return self._recent(self.config.window_frames)

    @property
    def padding(self) -> int:
        """Frames of the newest window that stand before the stream's start (0 after the first windows)."""
        return max(0, self.config.window_frames - self._end)

    def consume(self, logits: torch.Tensor | None) -> list[Event]:
        """Take the window's logits ``[window, vocab]`` (None when gated); return events."""
        if logits is None:
            return self._consume_best(None, None)
        probs, ids = _best(logits)
        return self._consume_best(ids.tolist(), probs.tolist())

    def _consume_best(self, ids: list[int] | None, probs: list[float] | None) -> list[Event]:
        """``consume`` from the window's greedy ids and probabilities (None when gated)."""
        c = self.config
        if ids is None:
            ids, probs = [self.model.vocab.blank_id] * c.window_frames, [1.0] * c.window_frames
        window_start = self._end - c.window_frames
        return self._take(ids, probs, window_start, commit_until=self._end - c.lookahead_frames)

    def _ends_segment(self, best: tuple[list[int], list[float]] | None) -> bool:
        """Whether consuming this window's ``best`` ids is likely to end the segment, and so run the
        final pass (a guess for ordering work; never wrong in what it decodes)."""
        if best is None or self.stitcher.redecode is None:
            return False
        window_start = self._end - self.config.window_frames
        return self.stitcher.would_end(best[0][max(0, self._committed - window_start) : self._end - window_start])

    # ----- internals ---------------------------------------------------------------------------

    def _hop_samples(self) -> int:
        """Received samples the next hop consumes: its frames' new samples, less the overlap kept."""
        return self.config.hop_frames * self._frame + (self._overlap - len(self._tail))

    def _take(
        self,
        ids: torch.Tensor | list[int],
        probs: torch.Tensor | list[float],
        window_start: int,
        commit_until: int,
        partial: bool = True,
    ) -> list[Event]:
        """Commit ``[committed, commit_until)`` from a window's frame ids; the rest is tentative."""
        first = self._committed
        if isinstance(ids, torch.Tensor):
            ids, probs = ids.tolist(), probs.tolist()
        lo, hi = first - window_start, commit_until - window_start
        events = self.stitcher.commit(ids[lo:hi], probs[lo:hi]) if commit_until > first else []
        self._committed = max(self._committed, commit_until)
        real_end = self._end - window_start  # frames past _end are padding
        tentative = max(hi, lo)
        self.stitcher.set_tentative(ids[tentative:real_end], probs[tentative:real_end])
        if early := self.stitcher.pause_ahead():  # a pause in the lookahead ends the segment now
            events += self.stitcher.commit(ids[tentative : tentative + early], probs[tentative : tentative + early])
            self._committed += early
            tentative += early
            self.stitcher.set_tentative(ids[tentative:real_end], probs[tentative:real_end])
        return events + (self.stitcher.partial() if partial else [])

    def _append(self, new_features: torch.Tensor) -> None:
        self._features.append(new_features)
        self._end += new_features.shape[0]

    def _take_in(self, block: np.ndarray) -> np.ndarray:
        """Normalize the received ``block`` onto the stream; returns it after the 80-sample frame overlap."""
        if self._samples is not None:
            self._samples.append(torch.from_numpy(block))
        audio = np.concatenate([self._tail, self.norm(block)])
        self._tail = audio[len(audio) - self._overlap :]
        return audio

    def _recent(self, count: int) -> torch.Tensor:
        """The newest ``count`` frames (silence before the stream began)."""
        return self._features.newest(count)

    @torch.inference_mode()
    def _conv(self, audio: np.ndarray) -> torch.Tensor:
        """Conv frames ``[frames, conv_dim]`` of normalized samples, alone."""
        return self.model.extract_features(torch.from_numpy(audio)[None].to(self.model.device))[0]

    @torch.inference_mode()
    def _decode(self, window: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Best probability and id of each frame of one window of conv frames ``[frames, conv_dim]``, alone."""
        return _best(self.model.forward_features(window[None])[0])

    @torch.inference_mode()
    def _redecode(self, first: int, stop: int) -> tuple[list[int], list[float]]:
        """Frame ids and probabilities of stream frames ``[first, stop)``, decoded as offline decoding
        would (the final pass): the utterance's audio before them (after a finalize, up to
        ``final_context_frames`` of it) and every sample heard after them, normalized together and
        run through the whole model. A segment that begins after a pause has no history, so a
        session resumed at its start decodes it exactly as the uninterrupted stream did."""
        history = max(self.stitcher.utterance, first - self.config.final_context_frames)
        start = max(0, min(first, history), self._end - self._sample_frames)
        audio = self.norm.whole(self._samples.newest((self._end - start) * self._frame + self._overlap).numpy())
        probs, ids = self._decode(self._conv(audio))
        lo, hi = first - start, stop - start
        return ids[lo:hi].tolist(), probs[lo:hi].tolist()

    def _gate(self, block: np.ndarray) -> bool:
        """True while this hop and the lookahead behind it are quieter than the energy gate."""
        threshold = self.config.energy_gate_db
        if threshold is None:
            return False
        rms_db = 10 * math.log10(float(np.mean(block.astype(np.float64) ** 2)) + 1e-20)
        hop_end = self._end + self.config.hop_frames
        if rms_db >= threshold:
            self._loud_until = hop_end
        quiet_since = hop_end - self._loud_until
        pending = bool(self.stitcher.tentative_ids) and any(
            i != self.model.vocab.blank_id for i in self.stitcher.tentative_ids
        )
        return quiet_since > self.config.window_frames and not pending

    def _flush(self, pad_last_frame: bool) -> list[Event]:
        """Run one last window over everything buffered and end the segment (end of stream)."""
        c = self.config
        events = self._drain()
        self._gather()
        self._kv = None  # the flush appends frames outside the hops: the next hop recomputes its window
        raw = self._raw
        if pad_last_frame and len(raw):
            # Complete the last partial frame with zeros so no received sample is dropped.
            zeros = zeros_to_whole_frame(len(self._tail) + len(raw), self._frame, self._field)
            raw = np.concatenate([raw, np.zeros(zeros, np.float32)])
        new_frames = whole_frames(len(self._tail) + len(raw), self._frame, self._field)
        if new_frames:
            fresh = new_frames * self._frame + (self._overlap - len(self._tail))
            block, self._raw = raw[:fresh], raw[fresh:]
            self._append(self._conv(self._take_in(block)))
        elif pad_last_frame:
            self._raw = np.zeros(0, dtype=np.float32)
        if self._end > self._committed:
            # Window: left context before the first uncommitted frame (none before the stream's
            # start) up to the newest frame, decoded as offline decoding of that audio would be.
            start = max(0, self._committed - c.left_context_frames)
            probs, ids = self._decode(self._recent(self._end - start))
            events += self._take(ids, probs, start, commit_until=self._end, partial=False)
        return events + self.stitcher.flush()

    def _end_at_a_word(self) -> list[Event]:
        """End the segment at the last word boundary heard (``finalize``); the stream goes on.

        One window decodes from the left context to the newest sample, and the segment ends where
        ``Stitcher.word_cut`` says: mostly inside the committed frames, whose ids stay as they are
        and start the next segment after the cut. A word still being spoken is left out of this
        final; the next hops decode it with the audio that follows. The samples short of a hop are
        decoded here but stay buffered, so the hops run where they would have run without the cut
        and the two segments say together what one would have said.
        """
        c = self.config
        events = self._drain()
        self._gather()
        extra = self._peek()  # [frames, conv_dim] of the buffered samples short of a hop, not kept
        if self._end + extra.shape[0] <= self._committed:
            return events + self.stitcher.flush()
        start = max(0, self._committed - c.left_context_frames)
        probs, ids = self._decode(torch.cat([self._recent(self._end - start), extra]))
        # The final pass decodes the segment with the audio after the cut: in speech, keep enough of it
        # that the words before the cut decode as they would without the cut.
        latest = self._end + extra.shape[0] - FINAL_CUT_CONTEXT_FRAMES - self.stitcher.start if c.final_pass else None
        at = self.stitcher.word_cut(ids[self._committed - start :].tolist(), latest)
        cut = min(self._end, self.stitcher.start + at)
        # After a pause the cut may lie past the committed frames: this window commits up to it.
        events += self._take(ids, probs, start, commit_until=cut, partial=False)
        return events + self.stitcher.end_at(max(0, cut - self.stitcher.start))

    def _peek(self) -> torch.Tensor:
        """Conv frames ``[frames, conv_dim]`` of the whole frames among the buffered samples,
        normalized with the running statistics they would bring; nothing is taken in."""
        frames = whole_frames(len(self._tail) + len(self._raw), self._frame, self._field)
        if not frames:
            return self._silence.new_zeros((0, self._silence.shape[0]))
        block = self._raw[: frames * self._frame + self._overlap - len(self._tail)]
        return self._conv(np.concatenate([self._tail, self.norm.peek(block)]))

    def _gather(self) -> None:
        """Join the blocks pushed since the last hop onto the raw buffer (one copy per hop)."""
        if self._pending:
            self._raw = np.concatenate([self._raw, *self._pending])
            self._pending, self._pending_samples = [], 0

    def _drain(self) -> list[Event]:
        """Run every due hop of this stream alone (a batch of one)."""
        events: list[Event] = []
        while (request := self.next_hop()) is not None:
            events += run_batch(self.model, [request])[self]
        return events

    def _check_open(self) -> None:
        if self._closed:
            raise RuntimeError("this stream is closed; call reset() to start a new one")


def frame_sizes(model) -> tuple[int, int]:
    """``(samples per frame, receptive field)`` of the model's conv stack; ``ValueError`` for a
    stack the streamer does not support. Its knobs and word times count in 20 ms frames
    (``FRAME_SAMPLES``), and a frame must see at least its own samples."""
    config = model.config
    frame, field = config.frame_samples, config.receptive_field
    if frame != FRAME_SAMPLES:
        raise ValueError(
            f"{getattr(model, 'name', 'this model')}: its conv strides {list(config.conv_stride)} make frames of "
            f"{frame} samples ({1000 * frame / SAMPLE_RATE:g} ms); the streamer supports "
            f"{FRAME_SAMPLES}-sample (20 ms) frames only. Transcribe files offline instead"
        )
    if field < frame:
        raise ValueError(
            f"{getattr(model, 'name', 'this model')}: its conv kernels {list(config.conv_kernel)} give a receptive "
            f"field of {field} samples, less than a {frame}-sample frame; the streamer cannot stream it"
        )
    return frame, field


# With the final pass, audio a finalize() in speech leaves after its cut (2 s): the words before the
# cut were decoded with this much future, so the two segments say what the uncut one would have (a
# cut with 1.2 s after it changed 1% of the characters, 2 s none, over 40 random cuts).
FINAL_CUT_CONTEXT_FRAMES = 100

_SCRATCH = threading.local()  # per thread: reusable CPU buffers that batches are stacked into


def whole_frames(samples: int, frame: int, field: int) -> int:
    """Conv frames ``samples`` consecutive samples make: each frame needs ``field`` samples (its
    receptive field), and they start every ``frame`` samples."""
    return (samples - field) // frame + 1 if samples >= field else 0


def zeros_to_whole_frame(samples: int, frame: int, field: int) -> int:
    """Zeros that complete the last partial frame of ``samples`` samples (at least one frame), so
    that no received sample is dropped at the end of a stream."""
    frames = max(1, math.ceil((samples - field) / frame) + 1)
    return field + (frames - 1) * frame - samples


def _stack(tensors: list[torch.Tensor]) -> torch.Tensor:
    """``tensors`` stacked on a new first axis: a view for one, else a copy into a reused buffer.

    A batch of windows is tens of MB; a fresh CPU tensor of that size is fresh memory from the
    OS every time, and its page faults cost 5-20x the copy itself. The buffer is per thread and
    per shape, and only valid until the next ``_stack`` of that shape in the thread, which is
    all ``run_batch`` needs: the model reads the batch and keeps nothing of it.
    """
    if len(tensors) == 1:
        return tensors[0][None]
    first = tensors[0]
    if first.device.type != "cpu":  # the CUDA caching allocator already reuses memory
        return torch.stack(tensors)
    buffers = _SCRATCH.__dict__.setdefault("buffers", {})
    key = (tuple(first.shape), first.dtype)
    buffer = buffers.get(key)
    if buffer is None or buffer.shape[0] < len(tensors):
        buffer = buffers[key] = torch.empty(len(tensors), *first.shape, dtype=first.dtype)
    return torch.stack(tensors, out=buffer[: len(tensors)])


@torch.inference_mode()
def run_batch(
    model,
    requests: list[HopRequest],
    on_error: Callable[[Recognizer, Exception], None] | None = None,
    on_events: Callable[[Recognizer, list[Event]], None] | None = None,
) -> dict[Recognizer, list[Event]]:
    """Run one hop for each request (one per recognizer) and hand each its events.

    A recognizer whose own step after the shared forward fails (its final pass runs the model
    again) goes to ``on_error`` and is left out of the result; the others still get theirs.
    Without ``on_error`` the exception propagates. ``on_events`` gets each recognizer's events as
    soon as they are made: the streams whose segment goes on come first, so their partials need
    not wait for the final passes of the streams whose segment this hop ends.
    """
    if len({id(r.recognizer) for r in requests}) != len(requests):
        raise ValueError("a batch takes at most one hop per stream: hops of one stream depend on each other")
    audio = _stack([r.audio for r in requests]).to(model.device)  # [batch, hop * 320 + 80]
    features = model.extract_features(audio)  # [batch, hop, conv_dim]
    windows = [r.recognizer.window(f) for r, f in zip(requests, features)]  # each [window, conv_dim]
    live = [i for i, r in enumerate(requests) if not r.gated]
    best = [None] * len(requests)  # per request: (ids, probs) of its window, None when gated
    for r in requests:
        if r.gated:
            r.recognizer._kv = None  # its frames skip the layers, so they leave no keys/values
    caching = {i for i in live if requests[i].recognizer.config.kv_cache}
    plain = [i for i in live if i not in caching]  # today's windows
    cached = [i for i in live if i in caching and requests[i].recognizer._kv is not None]
    filling = [i for i in live if i in caching and requests[i].recognizer._kv is None]  # first hops: whole windows
    for group, mode in ((plain, "plain"), (cached, "cached"), (filling, "fill")):
        if group:
            _forward(model, requests, windows, group, best, mode)
    results = {}
    order = range(len(requests))
    if on_events is not None and len(requests) > 1:  # only the order of hand-outs needs the guess
        order = sorted(order, key=lambda i: requests[i].recognizer._ends_segment(best[i]))
    for i in order:
        recognizer = requests[i].recognizer
        try:
            results[recognizer] = recognizer._consume_best(*(best[i] or (None, None)))
        except Exception as e:
            if on_error is None:
                raise
            on_error(recognizer, e)
            continue
        if on_events is not None:
            on_events(recognizer, results[recognizer])
    return results


def _frame_mask(padding: list[int], windows: torch.Tensor) -> torch.Tensor | None:
    """``[batch, window]`` True on real frames, or None when no window starts before its stream.

    A stream's first windows reach back before its start; those frames are masked out (zeroed
    before the positional conv and left out of attention), so the first windows decode as
    offline decoding of the audio so far, while every window keeps one shape for batching.
    """
    if not any(padding):
        return None
    frames = torch.arange(windows.shape[1], device=windows.device)
    return frames[None, :] >= torch.tensor(padding, device=windows.device)[:, None]


def _forward(
    model,
    requests: list[HopRequest],
    windows: list[torch.Tensor],
    group: list[int],
    best: list,
    mode: str,
) -> None:
    """One forward over the windows of ``group`` (indices into ``requests``); sets their ``best``.

    ``mode``: ``"plain"``, whole windows as today; ``"cached"``, the left context's keys/values
    come from the recognizers' caches and only the hop + lookahead frames run; ``"fill"``, whole
    windows that also leave the keys/values the next hop's left context needs (kv_cache on).
    """
    batch = _stack([windows[i] for i in group])  # [group, window, conv_dim]
    mask = _frame_mask([requests[i].recognizer.padding for i in group], batch)  # the frames before a stream's start
    cached = mode == "cached"
    if mode == "plain":
        logits = model.forward_window(batch, mask)  # [group, window, vocab]
        placeholder = 0
    else:
        c = requests[group[0]].recognizer.config
        frames, hop, left = c.window_frames, c.hop_frames, c.left_context_frames
        new = hop + c.lookahead_frames if cached else frames
        if cached:  # [group, layers, 2, heads, left, head_dim]
            past = _stack([requests[i].recognizer._kv for i in group])
        else:
            past = model.new_kv_cache(len(group), 0)
        logits, fresh = model.forward_step(batch, new, past, mask)  # [group, new, vocab], [group, ..., new, head_dim]
        placeholder = frames - new  # frames before `new` are never committed by a hop: blanks stand for them
        # The next hop's left context: this window's frames [hop, hop + left), from the past frames
        # [0, frames - new) and the fresh ones after them. A copy (the model's outputs may be buffers
        # a CUDA graph reuses), whose rows the streams keep as views until each has moved on.
        after_past = fresh[:, :, :, :, max(0, hop - placeholder) : hop + left - placeholder]
        kept = torch.cat([past[:, :, :, :, hop:], after_past], 4)  # [group, layers, 2, heads, left, head_dim]
        for row, i in enumerate(group):
            requests[i].recognizer._kv = kept[row]
    probs, ids = _best(logits)  # each [group, frames computed], once for the batch
    blank = model.vocab.blank_id
    for i, ids_i, probs_i in zip(group, ids.tolist(), probs.tolist()):
        best[i] = ([blank] * placeholder + ids_i, [1.0] * placeholder + probs_i) if placeholder else (ids_i, probs_i)


def _best(logits: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Greedy CTC per frame: the best token's probability and id, from logits ``[..., frames, vocab]``."""
    return torch.softmax(logits.float(), dim=-1).max(dim=-1)


_SILENCE: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()  # model -> (device, dtype, features)


@torch.inference_mode()
def _silence_features(model) -> torch.Tensor:
    """Conv features of digital silence (normalized zeros): the padding before a stream starts.

    Computed once per model (and device/dtype), not once per stream: a server opens many.
    """
    cached = _SILENCE.get(model)
    if cached is None or cached[:2] != (model.device, model.dtype):
        zeros = torch.zeros(1, model.config.receptive_field, device=model.device)
        cached = (model.device, model.dtype, model.extract_features(zeros)[0, 0])  # [conv_dim]
        _SILENCE[model] = cached
    return cached[2]
