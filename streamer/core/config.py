"""Every streaming knob in one place. Sizes are in 20 ms CTC frames."""

from __future__ import annotations

from dataclasses import dataclass, fields

from streamer.wire.units import FRAME_SECONDS

VAD_CHOICES = ("silero", "energy", "off")  # StreamingConfig.vad; the detectors are in streamer.core.vad
ENDPOINT_CHOICES = ("blank", "vad", "both")  # StreamingConfig.endpoint

__all__ = ["ENDPOINT_CHOICES", "FRAME_SECONDS", "VAD_CHOICES", "StreamingConfig"]


@dataclass(frozen=True)
class StreamingConfig:
    """How a stream is cut into windows and into segments.

    Defaults were chosen from the trade-off measured by ``bench/bench_streaming.py``.
    """

    hop_frames: int = 15  # 0.3 s: the model runs once per hop of new audio
    lookahead_frames: int = 15  # 0.3 s of future audio every committed frame has seen
    left_context_frames: int = 50  # 1.0 s of past audio in front of each window
    endpoint_blank_frames: int = 35  # 0.7 s of blank after speech ends a segment
    max_segment_frames: int = 1000  # 20 s: longer segments are cut at their longest blank run
    normalize: str = "running"  # "running": causal mean/variance of the stream; "none"
    norm_seconds: float = 10.0  # time constant of the running statistics
    norm_floor_db: float = -40.0  # variance floor (dBFS RMS): faint noise is not blown up to speech level
    # Voice activity ("silero", "energy", "off"): hops whose audio holds no speech skip the model and
    # count as blank, and the final pass decodes only the speech (streamer.core.vad).
    vad: str = "off"
    energy_threshold_db: float = -50.0  # vad="energy": a 32 ms frame at or above this level (dBFS RMS) is speech
    # What ends a segment besides the blank run (``endpoint_blank_frames``), with a VAD on: "vad", once
    # the VAD has heard ``endpoint_vad_frames`` of silence after the segment's speech; "both", only
    # when the windows also show as many blank frames after their last letter; "blank", the blank
    # run alone. Without a VAD only the blank run ends segments. By measurement (bench/bench_vad.py,
    # docs/performance.md): with 0.5 s of VAD silence finals come 0.24 s sooner than on the blank run
    # and split no more sentences at a hesitation; 0.3 s halves the wait but splits more of them.
    endpoint: str = "vad"
    endpoint_vad_frames: int = 25  # 0.5 s
    # Decode each ended segment once more, as offline decoding would, for its final: the windows' ids
    # alone left short sentences 1.5 CER points behind offline decoding (the model is bidirectional;
    # docs/performance.md). Partials come from the windows either way.
    final_pass: bool = True
    # Most history the final pass sees before a segment that finalize() or the segment length cut
    # out of an utterance (10 s); after a pause it sees none (docs/performance.md).
    final_context_frames: int = 500
    # Reuse the left context's keys/values from earlier hops: only hop + lookahead frames run through
    # the layers (30 of 80 by default; 1.7-1.9x less compute for the large model), approximating full
    # windows. The final pass decodes the finals, so the approximation only touches partials.
    kv_cache: bool = True

    def __post_init__(self) -> None:
        for f in fields(self):
            value = getattr(self, f.name)
            if f.name.endswith("_frames") and (not isinstance(value, int) or isinstance(value, bool) or value < 0):
                raise ValueError(f"{f.name} must be a whole number of frames >= 0, got {value!r}")
        if self.hop_frames < 1:
            raise ValueError("hop_frames must be at least 1 frame (20 ms)")
        if self.endpoint_blank_frames < 1:
            raise ValueError("endpoint_blank_frames must be at least 1 frame")
        if self.max_segment_frames < self.hop_frames + self.lookahead_frames:
            raise ValueError("max_segment_frames must be at least hop_frames + lookahead_frames")
        if self.normalize not in ("running", "none"):
            raise ValueError(f"normalize must be 'running' or 'none', not {self.normalize!r}")
        if self.vad not in VAD_CHOICES:
            raise ValueError(f"vad must be one of {', '.join(VAD_CHOICES)}, not {self.vad!r}")
        if self.endpoint not in ENDPOINT_CHOICES:
            raise ValueError(f"endpoint must be one of {', '.join(ENDPOINT_CHOICES)}, not {self.endpoint!r}")
        if self.endpoint_vad_frames < 1:
            raise ValueError("endpoint_vad_frames must be at least 1 frame")
        if self.norm_seconds <= 0:
            raise ValueError("norm_seconds must be positive")

    @property
    def window_frames(self) -> int:
        """Frames the model sees per hop: left context + hop + lookahead."""
        return self.left_context_frames + self.hop_frames + self.lookahead_frames

    @property
    def latency_seconds(self) -> float:
        """Algorithmic latency: a sound waits up to one hop, then the lookahead, before it is committed."""
        return (self.hop_frames + self.lookahead_frames) * FRAME_SECONDS

    @classmethod
    def from_seconds(
        cls, hop: float | None = None, lookahead: float | None = None, left_context: float | None = None,
        endpoint_silence: float | None = None, vad_silence: float | None = None, **other,
    ) -> StreamingConfig:
        """Build from seconds (as the CLI takes them), rounded to whole frames."""
        given = {
            "hop_frames": hop, "lookahead_frames": lookahead,
            "left_context_frames": left_context, "endpoint_blank_frames": endpoint_silence,
            "endpoint_vad_frames": vad_silence,
        }  # fmt: skip
        for name, seconds in given.items():
            if seconds is not None:
                if seconds < 0:
                    raise ValueError(f"{name.replace('_frames', '')} must not be negative, got {seconds} s")
                other[name] = round(seconds / FRAME_SECONDS)
        return cls(**other)
