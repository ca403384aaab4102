"""Regenerate examples/hello.wav and examples/weather.wav (16 kHz mono 16-bit) with espeak-ng.

Each .wav gets a .txt next to it holding the spoken text as the model should transcribe it.
Run from the repository root:  python examples/make_examples.py
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import soundfile as sf

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # so it runs from a checkout without installing the package

from training.corpus import normalize_text  # noqa: E402
from training.synth import SAMPLE_RATE, TRAIN_VOICES, Voice, synthesize  # noqa: E402

VOICE = Voice("en-us")  # a training voice at the default speed (175 wpm) and pitch
LEAD_SILENCE = 0.3  # seconds before the first word; espeak-ng itself leaves only ~10 ms
PAUSE = 1.0  # seconds of silence between sentences

EXAMPLES = {
    "hello": ["Hello world, this is a test of HuBERT stream."],
    "weather": [
        "Good morning, here is the weather for today.",
        "It will be cloudy in the morning with light rain after lunch.",
        "Tomorrow will be sunny and warm with a gentle breeze.",
    ],
}


def silence(seconds: float) -> np.ndarray:
    """Digital silence of the given length at SAMPLE_RATE."""
    return np.zeros(round(seconds * SAMPLE_RATE), dtype=np.float32)


def main() -> int:
    assert VOICE in TRAIN_VOICES
    for name, sentences in EXAMPLES.items():
        parts = [silence(LEAD_SILENCE)]
        for index, sentence in enumerate(sentences):
            parts += [silence(PAUSE)] if index else []
            parts.append(synthesize(sentence, VOICE))
        audio = np.concatenate(parts)
        sf.write(ROOT / "examples" / f"{name}.wav", audio, SAMPLE_RATE, subtype="PCM_16")
        text = normalize_text(" ".join(sentences))
        (ROOT / "examples" / f"{name}.txt").write_text(text + "\n")
        print(f"examples/{name}.wav: {len(audio) / SAMPLE_RATE:.1f} s  {text}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
