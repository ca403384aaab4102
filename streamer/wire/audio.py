"""Audio input for streaming: validate, down-mix and resample any source to 16 kHz float32 mono.

Torch-free. One ``AudioInput`` per stream: the resampler keeps state between
blocks (python-soxr's streaming API), so block boundaries leave no clicks or gaps.
"""

from __future__ import annotations

import numpy as np

__all__ = ["ENCODINGS", "MAX_RATE", "MIN_RATE", "SAMPLE_RATE", "AudioInput", "decode_pcm"]

SAMPLE_RATE = 16_000  # Hz, what the model takes
MIN_RATE = 8_000  # Hz, telephone audio
MAX_RATE = 192_000  # Hz, studio interfaces
INT16_SCALE = 32_768.0
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
        if not isinstance(channels, (int, np.integer)) or not 1 <= channels <= 64:
            raise ValueError(f"channels must be an integer from 1 to 64, got {channels!r}")
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
            if not np.isfinite(block).all():
                raise ValueError("non-finite samples (NaN or infinity) in the audio block")
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
