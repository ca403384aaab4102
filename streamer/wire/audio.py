"""Audio input for streaming: validate, down-mix and resample any source to 16 kHz float32 mono.

Torch-free. One ``AudioInput`` per stream: the resampler keeps state between
blocks (python-soxr's streaming API), so block boundaries leave no clicks or gaps.

Float samples are full scale at +-1. A block with NaN or infinity, or with a sample beyond
``MAX_FLOAT_SAMPLE`` (+6 dB over full scale), is refused whole with a ``ValueError`` (the server
answers ``bad_audio`` and drops the message); overs up to that are clipped to +-1. So the
down-mix, the resampler and the recognizer only ever see samples in [-1, 1].
"""

from __future__ import annotations

import numpy as np

from streamer.wire.units import (
    INT16_SCALE,
    MAX_FLOAT_SAMPLE,
    MAX_INPUT_CHANNELS,
    MAX_RATE,
    MIN_RATE,
    SAMPLE_RATE,
)

__all__ = ["ENCODINGS", "AudioInput", "decode_pcm"]

# Wire encodings: name -> (numpy dtype, bytes per sample)
ENCODINGS = {"pcm_s16le": (np.dtype("<i2"), 2), "pcm_f32le": (np.dtype("<f4"), 4)}
ACCEPTED_DTYPES = (np.dtype(np.int16), np.dtype(np.float32))


def decode_pcm(data: bytes, encoding: str) -> np.ndarray:
    """Raw little-endian PCM bytes -> a 1-D array of samples (still interleaved)."""
    if encoding not in ENCODINGS:
        raise ValueError(f"unknown encoding {encoding!r}; expected one of {sorted(ENCODINGS)}")
    dtype, width = ENCODINGS[encoding]
    if len(data) % width:
        raise ValueError(f"partial sample: {len(data)} bytes is not a whole number of {width}-byte {encoding} samples")
    return np.frombuffer(data, dtype=dtype).astype(dtype.newbyteorder("="), copy=False)


class AudioInput:
    """Stateful front for one stream: any rate 8-192 kHz, int16 or float32, any channel count.

    Args:
        sample_rate: the source's rate in Hz.
        channels: interleaved channels in each block; they are averaged to mono.
    """

    def __init__(self, sample_rate: int, channels: int = 1) -> None:
        if not isinstance(sample_rate, (int, np.integer)) or isinstance(sample_rate, bool):
            raise ValueError(f"sample rate must be an integer number of Hz, got {sample_rate!r}")
        if not MIN_RATE <= sample_rate <= MAX_RATE:
            raise ValueError(f"unsupported sample rate {sample_rate} Hz; supported: {MIN_RATE}-{MAX_RATE} Hz")
        if not isinstance(channels, (int, np.integer)) or not 1 <= channels <= MAX_INPUT_CHANNELS:
            raise ValueError(f"channels must be an integer from 1 to {MAX_INPUT_CHANNELS}, got {channels!r}")
        self.sample_rate = int(sample_rate)
        self.channels = int(channels)
        self._resampler = None
        if self.sample_rate != SAMPLE_RATE:
            import soxr

            self._resampler = soxr.ResampleStream(self.sample_rate, SAMPLE_RATE, 1, dtype="float32", quality="HQ")
        self.samples_in = 0  # source frames accepted so far

    def __call__(self, block: np.ndarray) -> np.ndarray:
        """Convert one block: 1-D interleaved samples or ``[frames, channels]``. Returns 16 kHz float32 mono."""
        block = np.asarray(block)
        if block.dtype not in ACCEPTED_DTYPES:
            raise ValueError(f"wrong sample type {block.dtype}; expected int16 or float32")
        if block.ndim == 2:
            if block.shape[1] != self.channels:
                raise ValueError(f"block has {block.shape[1]} channels, the stream was opened with {self.channels}")
        elif block.ndim == 1:
            if block.size % self.channels:
                raise ValueError(
                    f"partial sample frame: {block.size} samples is not a multiple of {self.channels} channels"
                )
            block = block.reshape(-1, self.channels)
        else:
            raise ValueError(f"audio blocks must be 1-D or [frames, channels], got shape {block.shape}")
        if block.dtype == np.int16:
            mono = block.astype(np.float32).mean(axis=1) / INT16_SCALE
        else:
            block = _full_scale(block)
            mono = block.mean(axis=1, dtype=np.float32)
        self.samples_in += len(mono)
        if self._resampler is None:
            return np.ascontiguousarray(mono, dtype=np.float32)
        return self._resampler.resample_chunk(np.ascontiguousarray(mono, dtype=np.float32))

    def flush(self) -> np.ndarray:
        """End of stream: the resampler's last output samples."""
        if self._resampler is None:
            return np.zeros(0, dtype=np.float32)
        out = self._resampler.resample_chunk(np.zeros(0, dtype=np.float32), last=True)
        import soxr

        self._resampler = soxr.ResampleStream(self.sample_rate, SAMPLE_RATE, 1, dtype="float32", quality="HQ")
        return out


def _full_scale(block: np.ndarray) -> np.ndarray:
    """Float samples checked and clipped to [-1, 1]; ``ValueError`` for a block that is not audio."""
    peak = float(np.max(np.abs(block), initial=0.0))  # NaN propagates; inf is inf
    if peak <= 1.0:
        return block
    if not np.isfinite(peak):
        raise ValueError("non-finite samples (NaN or infinity) in the audio block")
    if peak > MAX_FLOAT_SAMPLE:
        raise ValueError(
            f"float sample {peak:.3g} is beyond +-{MAX_FLOAT_SAMPLE:g}: float audio is full scale at +-1 "
            "(int16 values belong in pcm_s16le)"
        )
    return np.clip(block, -1.0, 1.0)
