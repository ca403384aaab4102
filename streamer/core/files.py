"""Whole files: decoded offline in long chunks (fast), or through the live recognizer.

A file is not live: all of its audio is there, so it need not be cut into 1.6 s windows
that each re-run the model. ``FileRecognizer`` decodes it as offline decoding does, in
chunks of about 30 s (bounded memory for hours of audio) that overlap by a second of
context on each side and are cut in the middle of a blank run, so no word is split. Its
frame ids go through the same ``Stitcher`` as a live stream's, so segments, finals with
word times and partials (stable text only: nothing is tentative) look as they do live.
It costs about one offline pass and is as accurate as offline decoding.
``transcribe_stream`` runs the live recognizer instead: finals identical to a live
stream of the same audio, at the live cost. With a voice activity detector
(``StreamingConfig.vad``) a chunk decodes only from its first to its last speech, padded, and
its frames outside that are blank; a chunk with no speech does not run the model.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import torch

from model.decoding import Decoder, greedy_frames
from model.transcribe import as_audio, model_decoder
from streamer.core.batch import SILENT_LOGIT
from streamer.core.config import StreamingConfig
from streamer.core.recognizer import (
    SPEECH_PAD_FRAMES,
    PendingFinal,
    Recognizer,
    frame_sizes,
    settle,
    whole_frames,
    zeros_to_whole_frame,
)
from streamer.core.stitch import SegmentEnd, Stitcher
from streamer.core.vad import VoiceActivity, detector, listen
from streamer.wire.audio import AudioInput
from streamer.wire.events import Event

__all__ = ["BLOCK_SECONDS", "CHUNK_FRAMES", "FileRecognizer", "transcribe_file", "transcribe_stream"]

BLOCK_SECONDS = 1.0  # how much source audio is handed over at a time
CHUNK_FRAMES = 1500  # 30 s decoded per forward pass: the overlap costs 2/30 of a pass, memory stays bounded
CONTEXT_FRAMES = 50  # 1 s of audio each side of a chunk that the model hears but whose frames it does not keep
CUT_SEARCH_FRAMES = 250  # a chunk ends in the middle of the longest blank run of its last 5 s


class FileRecognizer:
    """Recordings decoded offline in long chunks, with the events of a live ``Recognizer``.

    Same interface as ``Recognizer`` (``accept``, ``finalize``, ``close``, ``reset``); events
    come a chunk (about 30 s of audio) at a time. Works with group-norm models too: each chunk
    is one offline clip.

    Args:
        model: a model from ``model.load_model``.
        config: endpointing knobs (``endpoint_blank_frames``, ``max_segment_frames``) and the
            partials' step (``hop_frames``); the window sizes do not apply.
        decoder: decodes each segment's logits into its final (default: the model's, greedy CTC).
    """

    def __init__(self, model, config: StreamingConfig | None = None, decoder: Decoder | None = None) -> None:
        self.model = model
        self.config = config or StreamingConfig()
        self.decoder = decoder or model_decoder(model)
        self._frame, self._field = frame_sizes(model)  # samples per frame, receptive field
        self.reset()

    def reset(self) -> None:
        """Forget everything: the next sample is the start of a new recording at time 0."""
        self.stitcher = Stitcher(self.model.vocab, self.config)
        self._audio = np.zeros(0, dtype=np.float32)  # samples from stream frame self._base on
        self._base = 0  # stream frame of self._audio[0]
        self._start = 0  # first stream frame not yet handed to the stitcher
        self._rows = torch.zeros(0, self.model.config.vocab_size)  # logits of the stitcher's frames, [frames, vocab]
        self._rows_start = 0  # stream frame of self._rows[0]
        found = detector(self.config)
        self.activity = VoiceActivity(found) if found is not None else None
        self._closed = False

    def accept(self, samples: np.ndarray) -> list[Event]:
        """Feed 16 kHz float32 mono samples; returns the events of every chunk now complete."""
        if self._closed:
            raise RuntimeError("this recording is closed; call reset() to start a new one")
        samples = as_audio(samples, "samples")
        self._audio = np.concatenate([self._audio, samples]) if len(samples) else self._audio
        if self.activity is not None:
            self.activity.take(samples)
            listen([self.activity])
        events: list[Event] = []
        while self._frames_held() - (self._start - self._base) >= CHUNK_FRAMES + CONTEXT_FRAMES:
            events += self._decode(self._start + CHUNK_FRAMES, last=False)
        return events

    def finalize(self) -> list[Event]:
        """Decode everything received and end the current segment; the recording goes on."""
        return self._decode(self._base + self._frames_held(), last=True) + self._settle(self.stitcher.flush())

    def close(self) -> list[Event]:
        """End of recording: decode the rest (a last partial frame padded with zeros) and finish."""
        if self._closed:
            return []
        have = len(self._audio)
        if have:  # complete the last partial frame with zeros so no received sample is dropped
            padding = np.zeros(zeros_to_whole_frame(have, self._frame, self._field), np.float32)
            self._audio = np.concatenate([self._audio, padding])
        if self.activity is not None:
            self.activity.take(np.zeros(0, np.float32), whole=True)
            listen([self.activity])
        events = self.finalize()
        self._closed = True
        return events

    def _frames_held(self) -> int:
        return whole_frames(len(self._audio), self._frame, self._field)

    @torch.inference_mode()
    def _decode(self, stop: int, last: bool) -> list[Event]:
        """Decode frames ``[start, stop)`` with context around them; hand the stitcher those up to the cut."""
        end = self._base + self._frames_held()
        if stop <= self._start or end <= self._start:
            return []
        heard_until = end if last else min(end, stop + CONTEXT_FRAMES)  # frames the model hears
        logits = self._logits(self._base, heard_until)  # [frames, vocab]
        probs, ids = greedy_frames(logits)  # each [frames]
        ids, probs = ids.tolist(), probs.tolist()
        cut = min(stop, end) if last else self._cut(ids, stop)
        events: list[Event] = []
        hop = self.config.hop_frames
        for first in range(self._start, cut, hop):  # partials step as a live stream's do
            piece = slice(first - self._base, min(first + hop, cut) - self._base)
            self._rows = torch.cat([self._rows, logits[piece]])
            events += self._settle(self.stitcher.commit(ids[piece], probs[piece]))
            events += self.stitcher.partial()
        self._start = cut
        keep_from = max(0, cut - CONTEXT_FRAMES)  # the next chunk's left context
        self._audio = self._audio[(keep_from - self._base) * self._frame :]
        self._base = keep_from
        return events

    def _logits(self, first: int, stop: int) -> torch.Tensor:
        """Logits ``[stop - first, vocab]`` of stream frames ``[first, stop)``, decoded as one clip; with
        a VAD only from its first to its last speech (padded), the frames outside blank."""
        lo, hi = first, stop
        if self.activity is not None:
            speech = self.activity.speech_within(first * self._frame, (stop - 1) * self._frame + self._field)
            self.activity.forget_before(first * self._frame)
            if speech is None:
                lo = hi = first
            else:
                lo = max(first, speech[0] // self._frame - SPEECH_PAD_FRAMES)
                hi = min(stop, -(-speech[1] // self._frame) + SPEECH_PAD_FRAMES)
        blank = torch.zeros(self.model.config.vocab_size)
        blank[self.model.vocab.blank_id] = SILENT_LOGIT
        if hi <= lo:
            return blank.expand(stop - first, -1)
        audio = self._audio[(lo - self._base) * self._frame : (hi - self._base - 1) * self._frame + self._field]
        clip = torch.from_numpy(np.ascontiguousarray(self.model.front(audio)))[None].to(self.model.device)
        logits = self.model(clip)[0].float().cpu()  # [hi - lo, vocab]
        return torch.cat([blank.expand(lo - first, -1), logits, blank.expand(stop - hi, -1)])

    def _settle(self, items: list[Event | SegmentEnd]) -> list[Event]:
        """Events with each segment that ended decoded from its frames' logits; then the logits of
        frames the stitcher has let go of are dropped."""
        pending = [
            PendingFinal(i, None, self._rows[i.start - self._rows_start : i.stop - self._rows_start])
            if isinstance(i, SegmentEnd)
            else i
            for i in items
        ]
        events = settle(pending, self.decoder, self.stitcher)
        if (gone := self.stitcher.start - self._rows_start) > 0:
            self._rows, self._rows_start = self._rows[gone:], self.stitcher.start
        return events

    def _cut(self, ids: list[int], stop: int) -> int:
        """The middle of the longest blank run in the chunk's last ``CUT_SEARCH_FRAMES`` (else ``stop``)."""
        silent = self.model.vocab.silent_ids
        lo = max(self._start + 1, stop - CUT_SEARCH_FRAMES) - self._base
        best, best_cut, run = 0, stop, 0
        for i in range(lo, stop - self._base):
            run = run + 1 if ids[i] in silent else 0
            if run > best:
                best, best_cut = run, self._base + i + 1 - run // 2
        return best_cut


def transcribe_file(
    model, audio: np.ndarray, sample_rate: int, config: StreamingConfig | None = None
) -> Iterator[Event]:
    """Transcribe a whole recording fast (``FileRecognizer``), yielding events as they come.

    Args:
        model: a model from ``model.load_model``.
        audio: int16 or float32 samples, 1-D mono or ``[frames, channels]``.
        sample_rate: the recording's rate, 8-192 kHz.
        config: endpointing knobs (defaults when None).
    """
    yield from _feed(FileRecognizer(model, config), audio, sample_rate)


def transcribe_stream(
    model, audio: np.ndarray, sample_rate: int, config: StreamingConfig | None = None
) -> Iterator[Event]:
    """Stream a whole recording through a live ``Recognizer``, yielding events as they come.

    Finals are those a live stream of the same audio gets; ``transcribe_file`` is faster.

    Args:
        model: a streamable model from ``model.load_model``.
        audio: int16 or float32 samples, 1-D mono or ``[frames, channels]``.
        sample_rate: the recording's rate, 8-192 kHz.
        config: streaming knobs (defaults when None).
    """
    yield from _feed(Recognizer(model, config), audio, sample_rate)


def _feed(recognizer, audio: np.ndarray, sample_rate: int) -> Iterator[Event]:
    audio = np.asarray(audio)
    channels = audio.shape[1] if audio.ndim == 2 else 1
    source = AudioInput(sample_rate, channels)
    block = max(1, int(BLOCK_SECONDS * sample_rate))
    for first in range(0, len(audio), block):
        yield from recognizer.accept(source(audio[first : first + block]))
    yield from recognizer.accept(source.flush())
    yield from recognizer.close()
