"""Sounds with no speech in them, for tests and benches: what a microphone left open hears.

Each function returns float32 16 kHz mono audio of ``seconds``, made from a seeded generator, at a
level a desk microphone would pick up (dBFS RMS given per sound), well above an energy gate's
threshold, so only a detector that knows speech can tell them from it.
"""

from __future__ import annotations

import numpy as np

from streamer.wire.units import SAMPLE_RATE

__all__ = ["NONSPEECH", "keyboard_clicks", "pink_noise", "tones_and_chords", "white_noise"]

WHITE_DB = -30.0  # a loud fan or hiss
PINK_DB = -25.0  # rumble and room noise: most of its power low
MUSIC_DB = -20.0  # background music
CLICK_PEAK = 0.3  # a keystroke's peak (about -10 dBFS): loud and short
NOTE_SECONDS = (0.15, 0.6)  # how long one note or chord lasts
TYPING_RATE = 6.0  # keystrokes per second, a fast typist
CLICK_SECONDS = 0.012  # one keystroke's sound


def _at_level(audio: np.ndarray, db: float) -> np.ndarray:
    rms = float(np.sqrt(np.mean(audio.astype(np.float64) ** 2)))
    return (audio * (10 ** (db / 20) / rms)).astype(np.float32)


def white_noise(seconds: float = 60.0, seed: int = 0) -> np.ndarray:
    """Gaussian white noise at ``WHITE_DB``."""
    rng = np.random.default_rng(seed)
    return _at_level(rng.standard_normal(int(seconds * SAMPLE_RATE)), WHITE_DB)


def pink_noise(seconds: float = 60.0, seed: int = 0) -> np.ndarray:
    """1/f noise (white noise shaped by 1/sqrt(f) in the frequency domain) at ``PINK_DB``."""
    rng = np.random.default_rng(seed)
    count = int(seconds * SAMPLE_RATE)
    spectrum = np.fft.rfft(rng.standard_normal(count))
    frequencies = np.fft.rfftfreq(count, 1 / SAMPLE_RATE)
    spectrum[1:] /= np.sqrt(frequencies[1:])
    spectrum[0] = 0
    return _at_level(np.fft.irfft(spectrum, count), PINK_DB)


def tones_and_chords(seconds: float = 60.0, seed: int = 0) -> np.ndarray:
    """Music-like sound at ``MUSIC_DB``: notes and chords of three to four notes of the equal-tempered
    scale, each with a few harmonics and a short attack and decay, one after another."""
    rng = np.random.default_rng(seed)
    count = int(seconds * SAMPLE_RATE)
    out = np.zeros(count)
    position = 0
    while position < count:
        length = min(int(rng.uniform(*NOTE_SECONDS) * SAMPLE_RATE), count - position)
        t = np.arange(length) / SAMPLE_RATE
        root = int(rng.integers(-12, 16))  # semitones from A4
        notes = [root] if rng.random() < 0.4 else [root, root + 4, root + 7, root + 12][: int(rng.integers(3, 5))]
        sound = np.zeros(length)
        for note in notes:
            frequency = 440.0 * 2 ** (note / 12)
            for harmonic, weight in ((1, 1.0), (2, 0.5), (3, 0.25)):
                sound += weight * np.sin(2 * np.pi * frequency * harmonic * t)
        envelope = np.minimum(1.0, t / 0.01) * np.exp(-3.0 * t)  # 10 ms attack, then decay
        out[position : position + length] = sound * envelope
        position += length
    return _at_level(out, MUSIC_DB)


def keyboard_clicks(seconds: float = 60.0, seed: int = 0) -> np.ndarray:
    """Typing: short broadband clicks (decaying noise bursts with a resonance) at random intervals
    around ``TYPING_RATE`` per second, over faint hiss."""
    rng = np.random.default_rng(seed)
    count = int(seconds * SAMPLE_RATE)
    out = rng.standard_normal(count) * 10 ** (-60 / 20)  # the room between keystrokes
    click = int(CLICK_SECONDS * SAMPLE_RATE)
    t = np.arange(click) / SAMPLE_RATE
    position = int(rng.exponential(1 / TYPING_RATE) * SAMPLE_RATE)
    while position + click < count:
        resonance = np.sin(2 * np.pi * rng.uniform(2_000, 5_000) * t)
        burst = (rng.standard_normal(click) + resonance) * np.exp(-t / 0.003)
        out[position : position + click] += CLICK_PEAK * burst / np.max(np.abs(burst))
        position += int((0.05 + rng.exponential(1 / TYPING_RATE)) * SAMPLE_RATE)
    return out.astype(np.float32)


NONSPEECH = {
    "white noise": white_noise,
    "pink noise": pink_noise,
    "tones and chords": tones_and_chords,
    "keyboard clicks": keyboard_clicks,
}
