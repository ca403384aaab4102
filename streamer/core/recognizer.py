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
match offline decoding (the windows' own ids give the partials). The stitcher only says which
frames ended a segment (``SegmentEnd``); the recognizer turns that into a ``PendingFinal`` with
its final pass's audio, and the batch driver runs the final passes of many streams in one
forward (``streamer.core.engine``) before each stream ``settle``s its finals through its
``Decoder``. The single-stream API (``accept``, ``finalize``, ``close``) settles at once.

A stream's first windows reach back before its start. They are filled with the
features of digital silence, so every window has one shape and windows of many
streams batch without padding (``streamer.core.batch``), and those frames are masked
out of the model (zeroed before the positional conv, left out of attention), so the
first windows decode exactly as offline decoding of the audio so far. Unmasked, the
silence in front cost the first letters of nearly every stream: the demo model got
the first word of 2 in 70 short held-out sentences right, against 37 for offline
decoding (36 with the mask).

With ``StreamingConfig.kv_cache`` (on by default) a hop runs only its hop + lookahead frames through the
layers; the left context's keys and values per layer are the ones earlier hops computed
for those frames, kept per stream (``HubertForCTC.forward_step``). A stream's first hop,
and the first after a flush or a silent hop, computes its whole window and fills the cache.

With a voice activity detector (``StreamingConfig.vad``, ``streamer.core.vad``) a hop runs the model
only while the VAD hears speech in its new audio or the last window showed a letter in the frames
it commits (``silent``); the others count as blank and skip the conv stack too, so a pause costs
the VAD alone and noise writes no letters. A word's start is in the lookahead of the first window
that runs, so it is committed with full lookahead even when the VAD hears it a hop late. The final pass decodes only the stretch from
the first to the last speech of its audio, padded by ``SPEECH_PAD_FRAMES``; the frames outside it
are blank.
"""

from __future__ import annotations

import dataclasses
import math
import weakref
from dataclasses import dataclass

import numpy as np
import torch

from model.audio import NORM_EPS
from model.audio import SAMPLE_RATE as MODEL_SAMPLE_RATE
from model.decoding import Alternative, Decoder, frame_logprobs, greedy_frames
from model.transcribe import as_audio, model_decoder
from model.vocab import Decoded
from streamer.core.batch import FinalPassRequest, HopRequest, WindowBest, forward_final_passes, forward_hops
from streamer.core.stitch import SegmentEnd, Stitcher, final_event, word_timings
from streamer.core.config import StreamingConfig
from streamer.core.vad import VAD_FRAME_SAMPLES, VoiceActivity, detector, listen
from streamer.wire.events import Event, Hypothesis, Partial
from streamer.wire.units import FRAME_SAMPLES, SAMPLE_RATE

__all__ = [
    "PendingFinal",
    "Recognizer",
    "frame_sizes",
    "settle",
    "waiting_final_passes",
    "whole_frames",
    "zeros_to_whole_frame",
]


@dataclass
class PendingFinal:
    """A segment that ended and whose final is not decoded yet: it sits in a stream's events where
    its ``Final`` will be. ``request`` is its final pass (None without one: the windows' ids are
    decoded); whoever runs the final pass sets ``logits`` before ``Recognizer.settle``."""

    end: SegmentEnd
    request: FinalPassRequest | None
    logits: torch.Tensor | None = None  # [stop - start, vocab]

    def decode(self, decoder: Decoder, vocab) -> Decoded:
        return decoder.decode(self._logits(vocab), offset=self.end.start)

    def alternatives(self, decoder: Decoder, vocab, n: int) -> list[Alternative]:
        """The segment's best ``n`` hypotheses, best first."""
        return decoder.alternatives(self._logits(vocab), n, offset=self.end.start)

    def _logits(self, vocab) -> torch.Tensor:
        if self.logits is not None:
            return self.logits
        if self.request is not None:
            raise RuntimeError("settle() before the final pass ran: set the pending final's logits first")
        return frame_logprobs(self.end.ids, self.end.probs, len(vocab))  # no final pass: the windows' frames


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
        decoder: decodes the finals (default: the model's ``decoder``, greedy CTC). Partials and
            endpoints read the windows' greedy frame ids: cheap, and incremental per hop. A decoder
            that restricts its words (``partial_search``) restricts the partials' too.
        alternatives: how many hypotheses each final carries (``Final.alternatives``); 0: none.
    """

    def __init__(
        self, model, config: StreamingConfig | None = None, decoder: Decoder | None = None, alternatives: int = 0
    ) -> None:
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
        self.decoder = decoder or model_decoder(model)
        self.alternatives = alternatives
        self._silence = _silence_features(model)  # [conv_dim]
        self.reset()

    def reset(self) -> None:
        """Forget everything: the next sample is the start of a new stream at time 0."""
        c = self.config
        self.stitcher = Stitcher(self.model.vocab, c, self.decoder.partial_search())
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
        found = detector(c)
        self.activity = VoiceActivity(found) if found is not None else None  # None: every hop runs the model
        # Stream samples the VAD had judged when the last hop took its audio: the hop's decisions read
        # no further, so they do not depend on how far ahead the VAD has heard (a server's VAD thread).
        self._vad_until = 0
        self._resting = False  # the last hop skipped the model (silent)
        self._hop_audio: torch.Tensor | None = None  # the newest hop's normalized audio
        self._skipped: torch.Tensor | None = None  # the last silent hop's, whose conv features were not computed
        # The audio of the silent hop before a hop that runs again: its frames are that hop's first
        # committed ones, so the batch computes their conv features (``window(..., earlier)``).
        self.redo: torch.Tensor | None = None
        self._context_start = 0  # stream frame where the model's context begins (see listened)
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
            samples = samples.copy()
            self._pending.append(samples)
            self._pending_samples += len(samples)
            if self.activity is not None:  # the VAD may judge it at once (see hop_heard)
                self.activity.take(samples)
        self._received += len(samples)

    def next_hop(self) -> HopRequest | None:
        """Take the next due hop's audio, or None while less than a hop is buffered. With a VAD its
        ``gated`` is None until ``listen`` judged its audio (``streamer.core.batch.hear``)."""
        if self.samples_to_next_hop:
            return None
        c = self.config
        fresh = self._hop_samples()
        self._gather()
        block, self._raw = self._raw[:fresh], self._raw[fresh:]
        if self.activity is None:
            return HopRequest(self, torch.from_numpy(self._take_in(block)), gated=False)
        self._vad_until = self.samples_recognized // VAD_FRAME_SAMPLES * VAD_FRAME_SAMPLES
        self.activity.forget_before(max(0, self._end - self._sample_frames - c.window_frames) * self._frame)
        self._hop_audio = torch.from_numpy(self._take_in(block))
        return HopRequest(self, self._hop_audio, gated=None)  # the VAD decides

    @property
    def hop_heard(self) -> bool:
        """Whether the VAD has judged the audio of the next due hop (always True without a VAD): a
        server runs its VAD on a thread of its own, and a hop waits for its decisions."""
        if self.activity is None:
            return True
        hop_end = self.samples_recognized + self._hop_samples()
        return self.activity.heard >= hop_end // VAD_FRAME_SAMPLES * VAD_FRAME_SAMPLES

    @property
    def unheard(self) -> bool:
        """Whether the last hop's decisions need frames the VAD has not judged yet (``listen`` them)."""
        return self.activity is not None and self.activity.heard < self._vad_until

    def listened(self) -> bool:
        """Whether the next hop skips the model (``silent``), once ``listen`` has judged its audio.

        A hop that runs after skipped ones starts the model's context afresh at the frames it commits
        and shows: the frames before them are masked out of its window, as before a stream's start,
        and the keys/values of the left context are empty, so it costs a hop and not a whole window.
        """
        if self.silent():
            self._kv = None
            self._resting = True
            self._skipped = self._hop_audio
            return True
        if self._resting:
            c = self.config
            self._resting = False
            self.redo = self._skipped
            self._context_start = self._end - c.lookahead_frames  # the hop's first committed frame
            if c.kv_cache:  # masked out: its content is never read, zeros keep NaN out of the sums
                self._kv = self.model.new_kv_cache(1, c.left_context_frames)[0].zero_()
        return False

    def silent(self) -> bool:
        """Whether the next hop may skip the model (``listen`` has judged its audio): its VAD heard no
        speech in the hop's new audio, and the last window showed no letter in the frames the hop
        commits (they were its lookahead), so blanks lose nothing. Always False without a VAD."""
        if self.activity is None:
            return False
        if self.activity.speech_within(self._end * self._frame, self._vad_until) is not None:
            return False  # speech in the hop's new audio
        return not self.stitcher.has_speech(self.stitcher.tentative_ids)

    def window(self, new_features: torch.Tensor | None, earlier: torch.Tensor | None = None) -> torch.Tensor:
        """Append one hop's conv features ``[hop, conv_dim]``; return the window ``[window, conv_dim]``.

        Its first ``padding`` frames stand before the model's context: the model must mask them out.
        None: a silent hop, whose frames no window will read (they stand before the next context), so
        their conv features are not computed. ``earlier``: the conv features of the silent hop before
        this one (``redo``), whose frames this hop commits.
        """
        if earlier is not None:
            self._features.newest(earlier.shape[0]).copy_(earlier)
            self.redo = None
        self._append(self._silence.expand(self.config.hop_frames, -1) if new_features is None else new_features)
        return self._recent(self.config.window_frames)

    @property
    def padding(self) -> int:
        """Frames of the newest window that stand before the model's context: the stream's start, or
        where hops ran again after silent ones (0 once the windows are past it)."""
        return max(0, self.config.window_frames - (self._end - self._context_start))

    @property
    def kv(self) -> torch.Tensor | None:
        """Keys/values of the next window's left context ``[layers, 2, heads, left, head_dim]``, or
        None when the next hop must compute its whole window (kv_cache)."""
        return self._kv

    def keep_kv(self, kv: torch.Tensor) -> None:
        """Keep the keys/values the next hop's left context needs (set by the hop's forward)."""
        self._kv = kv

    def drop_kv(self) -> None:
        """The next hop computes its whole window (a gated hop left no keys/values)."""
        self._kv = None

    def consume(self, best: WindowBest | None) -> list[Event | PendingFinal]:
        """Take the newest window's best frames (None when gated): commit, show, end segments.

        Returns partials and, where segments ended, ``PendingFinal`` values in their place; pass
        the list to ``settle`` once their final passes ran.
        """
        c = self.config
        window_start = self._end - c.window_frames
        if best is None:
            ids, probs = [self.model.vocab.blank_id] * c.window_frames, [1.0] * c.window_frames
        else:
            ids, probs, window_start = best.ids, best.probs, window_start + best.skipped
        items = self._take(ids, probs, window_start, commit_until=self._end - c.lookahead_frames)
        return items + self._end_on_speech_end()

    def _end_on_speech_end(self) -> list[Event | PendingFinal]:
        """End the segment where its speech ended, once the VAD has heard ``endpoint_vad_frames`` of
        silence after it (``StreamingConfig.endpoint`` "vad"; "both": and the windows show as many
        blank frames after their last letter). The cut lies that much silence after the speech, or
        after the windows' last letter when that is later; the tentative frames before it are
        committed now, as a blank run in the lookahead does (``Stitcher.pause_ahead``)."""
        c, s = self.config, self.stitcher
        if self.activity is None or c.endpoint == "blank":
            return []
        speech = self.activity.speech_within(s.start * self._frame, self._vad_until)
        if speech is None or self._vad_until - speech[1] < c.endpoint_vad_frames * self._frame:
            return []
        frames = [*s.ids, *s.tentative_ids]  # the segment's frames up to the newest, from s.start
        spoken = s.speech_end(frames)  # just after the windows' last letter
        if not spoken or (c.endpoint == "both" and len(frames) - spoken < c.endpoint_vad_frames):
            return []
        cut = max(-(-speech[1] // self._frame) + c.endpoint_vad_frames - s.start, spoken)
        cut = min(cut, len(frames))
        events: list[Event | SegmentEnd] = []
        if cut > len(s.ids):  # commit the tentative frames up to the cut
            early = cut - len(s.ids)
            tentative = s.tentative_ids[early:], s.tentative_probs[early:]
            events += s.commit(s.tentative_ids[:early], s.tentative_probs[:early])
            self._committed += early
            s.set_tentative(*tentative)
            if events:  # the blank run ended the segment within them
                return self._to_pending(events)
        return self._to_pending(events + s.end_at(cut, pause=True))

    def settle(self, items: list[Event | PendingFinal]) -> list[Event]:
        """The events of ``items`` with each ``PendingFinal`` decoded into its ``Final`` (through
        ``decoder``), or dropped when it decodes to no text (see ``settle``)."""
        return settle(items, self.decoder, self.stitcher, self.alternatives)

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
    ) -> list[Event | PendingFinal]:
        """Commit ``[committed, commit_until)`` from a window's frame ids (``ids[0]`` is stream frame
        ``window_start``); the rest is tentative."""
        first = self._committed
        if isinstance(ids, torch.Tensor):
            ids, probs = ids.tolist(), probs.tolist()
        lo, hi = first - window_start, commit_until - window_start
        assert lo >= 0 or commit_until <= first, "a window must hold every frame it commits"
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
        return self._to_pending(events) + (self.stitcher.partial() if partial else [])

    def _to_pending(self, items: list[Event | SegmentEnd], logits: torch.Tensor | None = None) -> list[Event | PendingFinal]:
        """``items`` with each ``SegmentEnd`` made a ``PendingFinal``: with its final pass's audio, taken
        now (later hops move the sample buffer on), or with ``logits`` its final pass already gave."""
        out: list[Event | PendingFinal] = []
        for item in items:
            if not isinstance(item, SegmentEnd):
                out.append(item)
            elif logits is not None:
                out.append(PendingFinal(item, None, logits))
            elif self.config.final_pass:
                out.append(PendingFinal(item, self._final_pass_request(item.start, item.stop, item.utterance)))
            else:
                out.append(PendingFinal(item, None))
        return out

    def _settle_now(self, items: list[Event | PendingFinal]) -> list[Event]:
        """``settle`` after running the final passes ``items`` wait for, as a batch of their own."""
        waiting = waiting_final_passes(items)
        if waiting:
            for pending, logits in zip(waiting, forward_final_passes(self.model, [p.request for p in waiting])):
                pending.logits = logits
        return self.settle(items)

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
        return greedy_frames(self.model.forward_features(window[None])[0])

    def _final_pass_request(self, first: int, stop: int, utterance: int) -> FinalPassRequest:
        """The final pass of stream frames ``[first, stop)``, to decode as offline decoding would: the
        utterance's audio before them (from ``utterance``, after a finalize up to
        ``final_context_frames`` of it) and every sample heard after them, normalized together. A
        segment that begins after a pause has no history, so a session resumed at its start decodes
        it exactly as the uninterrupted stream did."""
        history = max(utterance, first - self.config.final_context_frames)
        start, end = max(0, min(first, history), self._end - self._sample_frames), self._end
        if self.activity is not None:  # only the speech, padded
            heard = min(end * self._frame + self._overlap, self._vad_until)  # what the VAD had judged
            speech = self.activity.speech_within(start * self._frame, heard)
            if speech is None:
                start = end = first
            else:
                lo = max(start, speech[0] // self._frame - SPEECH_PAD_FRAMES)
                hi = min(end, -(-speech[1] // self._frame) + SPEECH_PAD_FRAMES)
                more = min(end - hi, -(hi - lo) % FINAL_PASS_FRAMES_STEP)  # to a whole number of steps: later first
                start, end = max(start, lo - (-(hi - lo) % FINAL_PASS_FRAMES_STEP - more)), hi + more
        lo, hi = max(first, start), min(stop, end)
        if lo >= hi:
            return FinalPassRequest(np.zeros(0, np.float32), 0, 0, before=stop - first)
        samples = self._samples.newest((self._end - start) * self._frame + self._overlap)
        samples = samples[: (end - start) * self._frame + self._overlap].numpy().copy()
        return FinalPassRequest(self.norm.whole(samples), lo - start, hi - start, lo - first, stop - hi)

    def _flush(self, pad_last_frame: bool) -> list[Event]:
        """Run one last window over everything buffered and end the segment (end of stream)."""
        c = self.config
        events = self._drain()
        self._gather()
        self._kv = None  # the flush appends frames outside the hops: the next hop recomputes its window
        raw, zeros = self._raw, 0
        if pad_last_frame and len(raw):
            # Complete the last partial frame with zeros so no received sample is dropped.
            zeros = zeros_to_whole_frame(len(self._tail) + len(raw), self._frame, self._field)
            raw = np.concatenate([raw, np.zeros(zeros, np.float32)])
        new_frames = whole_frames(len(self._tail) + len(raw), self._frame, self._field)
        if new_frames:
            fresh = new_frames * self._frame + (self._overlap - len(self._tail))
            block, self._raw = raw[:fresh], raw[fresh:]
            if self.activity is not None:  # it has every received sample (push); the zeros complete them
                self.activity.take(np.zeros(zeros, np.float32), whole=pad_last_frame)
                self._vad_until = self.activity.taken // VAD_FRAME_SAMPLES * VAD_FRAME_SAMPLES
                listen([self.activity])
            self._append(self._conv(self._take_in(block)))
        elif pad_last_frame:
            self._raw = np.zeros(0, dtype=np.float32)
        items: list[Event | PendingFinal] = []
        if self._end > self._committed and not self.silent():
            # Window: left context before the first uncommitted frame (none before the stream's
            # start) up to the newest frame, decoded as offline decoding of that audio would be.
            start = max(self._context_start, self._committed - c.left_context_frames)
            probs, ids = self._decode(self._recent(self._end - start))
            items += self._take(ids, probs, start, commit_until=self._end, partial=False)
        return events + self._settle_now(items + self._to_pending(self.stitcher.flush()))

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
        if self.silent() and not self.stitcher.has_speech():
            return events  # no speech in the segment nor near its end: nothing to finalize
        extra = self._peek()  # [frames, conv_dim] of the buffered samples short of a hop, not kept
        if self._end + extra.shape[0] <= self._committed:
            return events + self._settle_now(self._to_pending(self.stitcher.flush()))
        start = max(self._context_start, self._committed - c.left_context_frames)
        probs, ids = self._decode(torch.cat([self._recent(self._end - start), extra]))
        # The final pass decodes the segment with the audio after the cut: in speech, keep enough of it
        # that the words before the cut decode as they would without the cut.
        latest = self._end + extra.shape[0] - FINAL_CUT_CONTEXT_FRAMES - self.stitcher.start if c.final_pass else None
        at = self.stitcher.word_cut(ids[self._committed - start :].tolist(), latest)
        cut = min(self._end, self.stitcher.start + at)
        # After a pause the cut may lie past the committed frames: this window commits up to it.
        items = self._take(ids, probs, start, commit_until=cut, partial=False)
        count = max(0, cut - self.stitcher.start)
        s = self.stitcher
        if not (c.final_pass and count > 0 and s.has_speech()):
            return events + self._settle_now(items + self._to_pending(s.end_at(count)))
        # The final pass decodes the segment as a whole; the cut moves to its own nearest word boundary.
        [logits] = forward_final_passes(self.model, [self._final_pass_request(s.start, s.end, s.utterance)])
        count = s.boundary_near(greedy_frames(logits)[1].tolist(), count)
        return events + self._settle_now(items + self._to_pending(s.end_at(count, speech=True), logits[:count]))

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
        """Run every due hop of this stream alone (a batch of one), each hop's final passes after it."""
        events: list[Event] = []
        while (request := self.next_hop()) is not None:
            [best] = forward_hops(self.model, [request])
            events += self._settle_now(self.consume(best))
        return events

    def _check_open(self) -> None:
        if self._closed:
            raise RuntimeError("this stream is closed; call reset() to start a new one")


def waiting_final_passes(items: list) -> list[PendingFinal]:
    """The ``PendingFinal`` values among ``items`` whose final pass has yet to run."""
    return [p for p in items if isinstance(p, PendingFinal) and p.logits is None and p.request is not None]


def settle(
    items: list[Event | PendingFinal], decoder: Decoder, stitcher: Stitcher, alternatives: int = 0
) -> list[Event]:
    """The events of ``items`` with each ``PendingFinal`` decoded into its ``Final`` through
    ``decoder`` (with its ``alternatives`` best hypotheses when that is not 0), or dropped when it
    decodes to no text: the segments after it (``stitcher``'s and the partials among ``items``)
    take their numbers, so they stay consecutive."""
    events: list[Event] = []
    retracted = 0
    for item in items:
        if isinstance(item, PendingFinal):
            hypotheses = item.alternatives(decoder, stitcher.vocab, alternatives) if alternatives else None
            decoded = hypotheses[0].decoded if hypotheses else item.decode(decoder, stitcher.vocab)
            if decoded.text:
                nbest = None
                if hypotheses:
                    nbest = tuple(
                        Hypothesis(h.decoded.text, round(h.score, 3), word_timings(h.decoded)) for h in hypotheses
                    )
                events.append(final_event(item.end.segment - retracted, decoded, nbest))
            else:
                retracted += 1
        elif retracted and isinstance(item, Partial):
            events.append(dataclasses.replace(item, segment=item.segment - retracted))
        else:
            events.append(item)
    if retracted:
        stitcher.retract(retracted)
    return events


def frame_sizes(model) -> tuple[int, int]:
    """``(samples per frame, receptive field)`` of the model's conv stack; ``ValueError`` for a
    stack the streamer does not support. Its knobs and word times count in 20 ms frames
    (``FRAME_SAMPLES``), and a frame must see at least its own samples."""
    config = model.config
    frame, field = config.frame_samples, config.receptive_field
    if MODEL_SAMPLE_RATE != SAMPLE_RATE:  # the model's input rate and the stream's are one fact, told twice
        raise ValueError(f"the model takes {MODEL_SAMPLE_RATE} Hz audio, the streamer carries {SAMPLE_RATE} Hz")
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


# Audio around the speech a voice activity detector heard that a final pass (and a file's chunk) still
# decodes (0.3 s): silero-vad calls a word's soft edges (an unvoiced start, a fading end) silence a frame
# or two early. With 0.3 s the finals of 70 short held-out sentences are those without the VAD; with
# 0.2 s, 7 of them changed by a letter or two (bench/bench_vad.py, docs/performance.md).
SPEECH_PAD_FRAMES = 15

# With a VAD, a final pass's stretch of speech grows (into the audio around it) to a whole number of
# these (0.5 s): the conv stack's first run at a new input length costs 5x a later one (oneDNN builds
# its kernels per shape), and speech cut at any frame made nearly every final pass a new length; in a
# server that doubled the final passes' cost (docs/performance.md).
FINAL_PASS_FRAMES_STEP = 25

# With the final pass, audio a finalize() in speech leaves after its cut (2 s): the words before the
# cut were decoded with this much future, so the two segments say what the uncut one would have (a
# cut with 1.2 s after it changed 1% of the characters, 2 s none, over 40 random cuts).
FINAL_CUT_CONTEXT_FRAMES = 100

def whole_frames(samples: int, frame: int, field: int) -> int:
    """Conv frames ``samples`` consecutive samples make: each frame needs ``field`` samples (its
    receptive field), and they start every ``frame`` samples."""
    return (samples - field) // frame + 1 if samples >= field else 0


def zeros_to_whole_frame(samples: int, frame: int, field: int) -> int:
    """Zeros that complete the last partial frame of ``samples`` samples (at least one frame), so
    that no received sample is dropped at the end of a stream."""
    frames = max(1, math.ceil((samples - field) / frame) + 1)
    return field + (frames - 1) * frame - samples


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
