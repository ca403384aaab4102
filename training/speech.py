"""espeak-ng speech for tests: sentences joined by pauses, with where each one sits."""

from __future__ import annotations

import functools

import numpy as np

from streamer.wire.units import SAMPLE_RATE
from training.synth import Voice, synthesize

PAUSE_SECONDS = 1.2  # longer than the default 0.7 s endpoint
SENTENCES = (
    "THE WEATHER WILL BE SUNNY TOMORROW",
    "PLEASE CALL YOUR MOTHER AFTER LUNCH",
    "WE FOUND A SMALL CAT IN THE GARDEN",
    "THE TRAIN LEAVES AT SEVEN IN THE MORNING",
    "HE BOUGHT THREE APPLES AND A LOAF OF BREAD",
)
VOICE = Voice("en-us", None, 160, 50)


@functools.lru_cache(maxsize=8)
def speech_with_pauses(sentences: tuple[str, ...], lead: float = 0.5, tail: float = 0.8):
    """Return (audio, spans): float32 16 kHz audio and each sentence's (start, end) in seconds."""
    parts = [np.zeros(int(lead * SAMPLE_RATE), np.float32)]
    spans, position = [], len(parts[0])
    for i, sentence in enumerate(sentences):
        audio = trim(synthesize(sentence, VOICE))
        spans.append((position / SAMPLE_RATE, (position + len(audio)) / SAMPLE_RATE))
        parts.append(audio)
        position += len(audio)
        gap = PAUSE_SECONDS if i + 1 < len(sentences) else tail
        parts.append(np.zeros(int(gap * SAMPLE_RATE), np.float32))
        position += len(parts[-1])
    return np.concatenate(parts), spans


def trim(audio: np.ndarray, threshold: float = 1e-3) -> np.ndarray:
    """Cut the leading and trailing silence espeak-ng adds."""
    loud = np.flatnonzero(np.abs(audio) > threshold)
    return audio[loud[0] : loud[-1] + 1] if len(loud) else audio[:0]


@functools.lru_cache(maxsize=2)
def heldout_recording(seconds: float = 60.0, seed: int = 7) -> tuple[list[str], np.ndarray]:
    """Held-out sentences with pauses, as many as make ``seconds`` of audio: (sentences, audio)."""
    from training.corpus import heldout_sentences

    sentences, audio = [], np.zeros(0, np.float32)
    for sentence in heldout_sentences(200, seed=seed):
        sentences.append(sentence)
        audio, _ = speech_with_pauses(tuple(sentences))
        if len(audio) >= seconds * SAMPLE_RATE:
            break
    return sentences, audio


SHORT_COUNT = 70  # short sentences, each its own stream: enough that one first word is 1.4 points
SHORT_SEED = 11


@functools.lru_cache(maxsize=2)
def short_utterances(count: int = SHORT_COUNT, seed: int = SHORT_SEED) -> tuple[list[str], list[np.ndarray]]:
    """Held-out sentences, each spoken alone in a random voice kept out of training: (texts, clips).

    The clips keep espeak-ng's own edges (about 10 ms of silence before the speech), as a user's
    stream starts when they start talking.
    """
    import random

    from training.corpus import heldout_sentences
    from training.synth import HELDOUT_VOICES, random_voice

    rng = random.Random(seed)
    sentences = heldout_sentences(count, seed=seed)
    return sentences, [synthesize(s, random_voice(rng, HELDOUT_VOICES)) for s in sentences]


ROOM_NOISE_DB = -60.0  # white noise under a whole paused recording: a quiet room's hiss, not digital silence


@functools.lru_cache(maxsize=2)
def paused_recording(
    count: int = 30, seed: int = 5, pauses: tuple[float, float] = (1.0, 5.0)
) -> tuple[list[str], np.ndarray, list[tuple[float, float]]]:
    """Held-out sentences in held-out voices, each after a pause drawn from ``pauses`` (seconds), over
    room noise at ``ROOM_NOISE_DB``: (sentences, audio, each sentence's (start, end) in seconds).
    With the default pauses about half of it is silence, as in a meeting."""
    import random

    from training.corpus import heldout_sentences
    from training.synth import HELDOUT_VOICES, random_voice

    rng = random.Random(seed)
    sentences = heldout_sentences(count, seed=seed)
    parts, spans, position = [], [], 0
    for sentence in sentences:
        pause = np.zeros(int(rng.uniform(*pauses) * SAMPLE_RATE), np.float32)
        speech = trim(synthesize(sentence, random_voice(rng, HELDOUT_VOICES)))
        position += len(pause)
        spans.append((position / SAMPLE_RATE, (position + len(speech)) / SAMPLE_RATE))
        parts += [pause, speech]
        position += len(speech)
    parts.append(np.zeros(int(pauses[0] * SAMPLE_RATE), np.float32))
    audio = np.concatenate(parts)
    noise = np.random.default_rng(seed).standard_normal(len(audio)) * 10 ** (ROOM_NOISE_DB / 20)
    return sentences, (audio + noise).astype(np.float32), spans
