"""The streaming audio front: validation, down-mixing and stateful resampling."""

from __future__ import annotations

import numpy as np
import pytest

from streamer.wire.audio import AudioInput, decode_pcm


def sine(rate: int, seconds: float, freq: float = 440.0) -> np.ndarray:
    t = np.arange(int(rate * seconds)) / rate
    return (0.5 * np.sin(2 * np.pi * freq * t)).astype(np.float32)


@pytest.mark.parametrize("rate", [8_000, 11_025, 16_000, 22_050, 44_100, 48_000, 96_000, 192_000])
def test_any_rate_becomes_16k_with_the_same_duration_and_pitch(rate):
    """A 1 s, 440 Hz tone at any supported rate comes out as 1 s of 440 Hz at 16 kHz."""
    source = AudioInput(rate)
    audio = sine(rate, 1.0)
    out = np.concatenate([source(audio[i : i + 1234]) for i in range(0, len(audio), 1234)] + [source.flush()])
    assert abs(len(out) - 16_000) <= 2
    spectrum = np.abs(np.fft.rfft(out[2000:14000]))
    assert abs(np.argmax(spectrum) * 16_000 / 12_000 - 440) < 3


def test_chunked_resampling_equals_one_shot():
    """Block boundaries leave no trace: 300-sample blocks give what one block gives."""
    audio = sine(44_100, 0.5, 1000)
    one = AudioInput(44_100)
    whole = np.concatenate([one(audio), one.flush()])
    many = AudioInput(44_100)
    parts = np.concatenate([many(audio[i : i + 300]) for i in range(0, len(audio), 300)] + [many.flush()])
    assert len(parts) == len(whole)
    assert np.abs(parts - whole).max() < 1e-4


def test_int16_and_stereo_are_mixed_down():
    """int16 is scaled to [-1, 1]; stereo (interleaved or [frames, 2]) is averaged to mono."""
    mono = sine(16_000, 0.1)
    as_int = (mono * 32767).astype(np.int16)
    assert np.allclose(AudioInput(16_000)(as_int), mono, atol=1e-4)
    stereo = np.stack([mono, np.zeros_like(mono)], axis=1)
    assert np.allclose(AudioInput(16_000, channels=2)(stereo), mono / 2)
    assert np.allclose(AudioInput(16_000, channels=2)(stereo.reshape(-1)), mono / 2)


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda: AudioInput(7_999), "unsupported sample rate 7999 Hz; supported: 8000-192000 Hz"),
        (lambda: AudioInput(384_000), "unsupported sample rate 384000 Hz"),
        (lambda: AudioInput(16_000)(np.zeros(10, dtype=np.float64)), "wrong sample type float64"),
        (lambda: AudioInput(16_000)(np.zeros(10, dtype=np.int32)), "wrong sample type int32"),
        (lambda: AudioInput(16_000)(np.array([0.1, np.nan], dtype=np.float32)), "non-finite samples"),
        (lambda: AudioInput(16_000, channels=2)(np.zeros(5, dtype=np.float32)), "partial sample frame"),
        (lambda: AudioInput(16_000, channels=2)(np.zeros((4, 3), dtype=np.float32)), "3 channels"),
        (lambda: decode_pcm(b"\x00\x01\x02", "pcm_s16le"), "partial sample: 3 bytes"),
        (lambda: decode_pcm(b"\x00" * 6, "pcm_f32le"), "partial sample: 6 bytes"),
        (lambda: decode_pcm(b"\x00" * 4, "mp3"), "unknown encoding 'mp3'"),
    ],
)
def test_bad_input_is_a_value_error_that_says_which(make, message):
    """Bad rates, dtypes, values and sizes raise ValueError naming the problem."""
    with pytest.raises(ValueError, match=message.replace("(", r"\(")):
        make()


def test_pcm_bytes_decode_little_endian():
    """Wire bytes decode as little-endian samples."""
    assert decode_pcm(b"\x01\x00\xff\x7f", "pcm_s16le").tolist() == [1, 32767]
    assert decode_pcm(np.array([0.5], "<f4").tobytes(), "pcm_f32le").tolist() == [0.5]
