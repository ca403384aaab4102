"""espeak-ng speech synthesis at 16 kHz, and cached synthetic datasets for the demo model.

``synthesize(text, voice)`` runs ``espeak-ng --stdout``, reads the sample rate from the WAV
header (22,050 Hz in espeak-ng 1.51) and resamples to 16 kHz with soxr. Voices are an
espeak-ng English language voice crossed with a voice variant (``en-us+f2``) at a speed and
pitch. ``TRAIN_VOICES`` and ``HELDOUT_VOICES`` split them so that every held-out voice has a
language voice or a variant never heard in training. ``MIXED_ACCENT_VOICES`` adds accents
espeak-ng does not ship: a training language voice's spelling rules spoken with another
training voice's phoneme table (``en-us~en-rp``: American rules and stress, RP vowels), so
the model hears more than seven accents without ever hearing a held-out one. ``random_voice``
can also scale each utterance's first three formants by a few percent (``formant_spread``),
which moves its vowels the way another speaker or accent would.

``build_dataset`` synthesizes a list of sentences with random voices into a cache folder of
int16 shards, in parallel, and reuses the cache when called again with the same arguments.

Speed, measured on the 2-core development machine (espeak-ng 1.51, soxr HQ, nothing else
running): one process makes about 300 s of 16 kHz audio per wall second; ``build_dataset`` with
2 workers 350-480 s per second, so the 6,000 training sentences (4.3 hours of speech, 2.6 s per
sentence on average) take 44 s and 490 MB of int16 shards.

espeak-ng quirks this module works around:

- The alias "en-gb" silently ignores a ``+variant`` ("en-gb+f4" sounds exactly like "en-gb");
  the same voice's own name "en" honours it, so ``Voice("en-gb", ...)`` runs ``-v en+f4``.
- An unknown variant is also silently ignored, so variants are checked against the installed
  variant files before synthesis.
- Upper-case words can be read as acronyms ("IT" becomes "I T"), so text is lower-cased.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import json
import multiprocessing
import os
import random
import re
import shutil
import struct
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import numpy as np

from streamer.wire.units import SAMPLE_RATE

ESPEAK = "espeak-ng"  # executable name looked up on PATH
INT16_SCALE = 32_768  # int16 full scale; float audio is int16 / INT16_SCALE
DEFAULT_SPEED = 175  # words per minute, espeak-ng's default
DEFAULT_PITCH = 50  # espeak-ng pitch adjustment, 0-99; 50 is the voice's own pitch
SPEED_LIMITS = (80, 450)  # words per minute espeak-ng accepts
PITCH_LIMITS = (0, 99)
SPEED_RANGE = (130, 200)  # words per minute drawn by random_voice: slow-ish to brisk speech
PITCH_RANGE = (30, 70)  # pitch adjustment drawn by random_voice: lower to higher, still natural
SHARD_SIZE = 500  # utterances per cache shard: ~45 MB of int16 audio, resumable in small steps
PROGRESS_INTERVAL = 5.0  # seconds between progress lines
CACHE_FORMAT = 1  # bump when the shard layout or the synthesis changes, to invalidate caches
SUBPROCESS_TIMEOUT = 60.0  # seconds; espeak-ng takes ~20 ms per sentence, so this means it hung

# espeak-ng names that need another spelling to accept a "+variant" (see the module docstring).
_ESPEAK_VOICE_NAMES = {"en-gb": "en"}

# English language voices (``espeak-ng --voices=en``), without the mb-* voices, which need mbrola.
LANGUAGE_VOICES = (
    "en-gb",  # Great Britain
    "en-us",  # America
    "en-gb-scotland",
    "en-gb-x-rp",  # Received Pronunciation
    "en-gb-x-gbclan",  # Lancaster
    "en-gb-x-gbcwmd",  # West Midlands
    "en-029",  # Caribbean
    "en-us-nyc",  # New York City
)
# Ordinary human-sounding variants (``espeak-ng --voices=variant``); None is the voice's own.
# Left out: whisper, robot, demonic and novelty ones, and those that clip (klatt4, klatt5, paul,
# ed, john, iven) or are very quiet (m8, david, victor).
MALE_VARIANTS = ("m1", "m2", "m3", "m4", "m5", "m6", "m7", "robert", "Michael")
FEMALE_VARIANTS = ("f1", "f2", "f3", "f4", "f5", "linda", "steph", "aunty")
KLATT_VARIANTS = ("klatt", "klatt2", "klatt3")  # the Klatt formant synthesizer, male
VARIANTS = (None, *MALE_VARIANTS, *FEMALE_VARIANTS, *KLATT_VARIANTS)
# Held out of training entirely. en-us-nyc is the accent closest to a training one (phoneme
# strings differ from en-us by 6%, from en-gb by 7%); the other accents differ by 4-19%.
HELDOUT_LANGUAGE_VOICES = ("en-us-nyc",)
HELDOUT_VARIANTS = ("m4", "f3", "klatt3")  # one male, one female, one Klatt


@dataclass(frozen=True)
class Voice:
    """One espeak-ng voice: a language voice, a variant, a speed and a pitch."""

    name: str  # espeak-ng language voice, e.g. "en-us"
    variant: str | None = None  # espeak-ng variant file, e.g. "f2"; None for the voice's own
    speed: int = DEFAULT_SPEED  # words per minute
    pitch: int = DEFAULT_PITCH  # 0-99, 50 is the voice's own pitch
    phonemes: str | None = None  # another espeak-ng phoneme table, e.g. "en-rp"; None for the voice's own
    formants: tuple[int, int, int] | None = None  # F1-F3 scaled by these percentages on top of the variant

    def __post_init__(self) -> None:
        if not SPEED_LIMITS[0] <= self.speed <= SPEED_LIMITS[1]:
            raise ValueError(f"speed must be {SPEED_LIMITS[0]}-{SPEED_LIMITS[1]} words per minute, got {self.speed}")
        if not PITCH_LIMITS[0] <= self.pitch <= PITCH_LIMITS[1]:
            raise ValueError(f"pitch must be {PITCH_LIMITS[0]}-{PITCH_LIMITS[1]}, got {self.pitch}")

    @property
    def label(self) -> str:
        """The voice as people write it: "en-us+f2", "en-gb", or "en-us~en-rp+f2" for a mixed accent."""
        accent = self.name + (f"~{self.phonemes}" if self.phonemes else "")
        shift = f" (F1-F3 {'/'.join(map(str, self.formants))}%)" if self.formants else ""
        return accent + (f"+{self.variant}" if self.variant else "") + shift

    def espeak_args(self) -> list[str]:
        """Command-line options selecting this voice: ``["-v", "en+f2", "-s", "175", "-p", "50"]``.

        A mixed accent or shifted formants add ``--path`` to a data folder where this call has
        just written the voice and variant files they need (see :func:`_shadow_data`).
        """
        name, variant, data = _ESPEAK_VOICE_NAMES.get(self.name, self.name), self.variant, []
        if self.phonemes or self.formants:
            executable = _espeak_path()
            data = [f"--path={_shadow_data(executable, os.getpid())}"]
            if self.phonemes:
                name = _mixed_accent_voice(executable, self.name, self.phonemes)
            if self.formants:
                variant = _shifted_variant(executable, self.variant, self.formants)
        voice = name + (f"+{variant}" if variant else "")
        return [*data, "-v", voice, "-s", str(self.speed), "-p", str(self.pitch)]


def _cross(names: Sequence[str], variants: Sequence[str | None]) -> tuple[Voice, ...]:
    return tuple(Voice(name, variant) for name in names for variant in variants)


_TRAIN_LANGUAGES = tuple(name for name in LANGUAGE_VOICES if name not in HELDOUT_LANGUAGE_VOICES)
_TRAIN_VARIANTS = tuple(variant for variant in VARIANTS if variant not in HELDOUT_VARIANTS)

TRAIN_VOICES: tuple[Voice, ...] = _cross(_TRAIN_LANGUAGES, _TRAIN_VARIANTS)
# The phoneme table of each training language voice (the ``phonemes`` line of its voice file).
TRAIN_PHONEME_TABLES = {
    "en-gb": "en",
    "en-us": "en-us",
    "en-gb-scotland": "en-sc",
    "en-gb-x-rp": "en-rp",
    "en-gb-x-gbclan": "en-n",
    "en-gb-x-gbcwmd": "en-wm",
    "en-029": "en-wi",
}
MIXED_VARIANTS_EACH = 3  # variants per mixed accent, in rotation, so every variant is used evenly
# Every training language voice spoken with every other training voice's phoneme table (42
# accents), each with a few training variants: about half of the training voices.
_MIXED_ACCENTS = tuple(
    (name, table)
    for name in _TRAIN_LANGUAGES
    for table in TRAIN_PHONEME_TABLES.values()
    if table != TRAIN_PHONEME_TABLES[name]
)
MIXED_ACCENT_VOICES: tuple[Voice, ...] = tuple(
    Voice(name, _TRAIN_VARIANTS[(MIXED_VARIANTS_EACH * index + offset) % len(_TRAIN_VARIANTS)], phonemes=table)
    for index, (name, table) in enumerate(_MIXED_ACCENTS)
    for offset in range(MIXED_VARIANTS_EACH)
)
# Every held-out voice has an unseen language voice, an unseen variant, or both.
HELDOUT_VOICES: tuple[Voice, ...] = (
    _cross(HELDOUT_LANGUAGE_VOICES, VARIANTS) + _cross(_TRAIN_LANGUAGES, HELDOUT_VARIANTS)
)


def random_voice(rng: random.Random, voices: Sequence[Voice], formant_spread: int = 0) -> Voice:
    """A voice from ``voices`` with a random speed in SPEED_RANGE and pitch in PITCH_RANGE.

    Args:
        rng: the random source, e.g. ``random.Random(seed)``.
        voices: the voices to choose from, e.g. TRAIN_VOICES.
        formant_spread: if set, also scale F1, F2 and F3 each by a random 100 +- this many
            percent, which moves vowels around the vowel space the way speakers and accents do.
    """
    if not voices:
        raise ValueError("random_voice needs at least one voice, e.g. TRAIN_VOICES")
    voice = rng.choice(voices)
    voice = replace(voice, speed=rng.randint(*SPEED_RANGE), pitch=rng.randint(*PITCH_RANGE))
    if formant_spread:
        shift = tuple(100 + rng.randint(-formant_spread, formant_spread) for _ in range(3))
        voice = replace(voice, formants=shift)
    return voice


# ----------------------------------------------------------------------------------------------
# Synthesis
# ----------------------------------------------------------------------------------------------

def _espeak_path() -> str:
    path = shutil.which(ESPEAK)
    if path is None:
        raise RuntimeError(
            f"{ESPEAK} is not installed or not on PATH; install it with `apt-get install -y espeak-ng` "
            "(or `brew install espeak-ng` on macOS)"
        )
    return path


@functools.lru_cache(maxsize=4)
def _espeak_info(executable: str) -> tuple[str, Path | None, frozenset[str]]:
    """The version line of an espeak-ng executable, its data folder and its installed variant names."""
    result = subprocess.run([executable, "--version"], capture_output=True, text=True, timeout=SUBPROCESS_TIMEOUT)
    version = result.stdout.strip()
    match = re.search(r"Data at:\s*(\S+)", version)
    data = Path(match.group(1)) if match and Path(match.group(1)).is_dir() else None
    variants: frozenset[str] = frozenset()
    if data is not None and (data / "voices" / "!v").is_dir():
        variants = frozenset(path.name for path in (data / "voices" / "!v").iterdir())
    return version, data, variants


def _espeak_data(executable: str) -> Path:
    """espeak-ng's data folder (``espeak-ng-data``), from its version line."""
    version, data, _ = _espeak_info(executable)
    if data is None:
        raise RuntimeError(f"cannot find the espeak-ng data folder from {version!r}")
    return data


@functools.cache
def _language_voice_file(data: Path, name: str) -> Path:
    """The voice file of an espeak-ng language voice ("en-us" -> .../lang/gmw/en-US)."""
    for folder in (data / "lang", data / "voices"):
        for path in sorted(folder.rglob("*")) if folder.is_dir() else ():
            # A voice file's first "language" line is its own; later ones list what it also speaks.
            first = re.search(r"^language\s+(\S+)", path.read_text(errors="replace"), re.MULTILINE) if path.is_file() else None
            if first and first.group(1) == name:
                return path
    raise ValueError(f"no espeak-ng language voice {name!r} in {data} (see `espeak-ng --voices=en`)")


def _renamed(text: str, name: str) -> list[str]:
    """The lines of a voice or variant file, with ``name`` as its name (after a leading "language" line)."""
    lines = [line for line in text.splitlines() if not line.startswith("name ")]
    lines.insert(1 if lines and lines[0].startswith("language") else 0, f"name {name}")
    return lines


def _mixed_voice_text(text: str, name: str, phonemes: str) -> str:
    """A voice file's text with its phoneme table swapped for ``phonemes`` and a new name."""
    lines = _renamed(text, name)
    tables = [index for index, line in enumerate(lines) if line.split()[:1] == ["phonemes"]]
    if tables:
        lines[tables[0]] = f"phonemes {phonemes}"
    else:  # the language's own table: set ours after the language lines, before any "replace"
        last_language = max(index for index, line in enumerate(lines) if line.startswith("language "))
        lines.insert(last_language + 1, f"phonemes {phonemes}")
    return "\n".join(lines) + "\n"


def _process_exists(pid: int) -> bool:
    try:
        os.kill(pid, 0)  # signal 0: only checks (POSIX)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process
        return True
    return True


_SHADOW_PREFIX = "hubert-stream-espeak-"
_ACCENT_FILE, _SHIFT_FILE = "hs-accent", "hs-shift"  # the voice and variant this process writes


@functools.lru_cache(maxsize=4)
def _shadow_data(executable: str, pid: int) -> Path:
    """This process's data folder for espeak-ng's ``--path``, where it can add a voice and a variant.

    espeak-ng reads voices only from its data folder, and lists at most 349 of them (its
    ``N_VOICES_LIST``; a stock install has 322). So each process gets a shadow folder, made of
    symbolic links to espeak-ng's data, and rewrites one voice file (``voices/hs-accent``) and one
    variant file (``voices/!v/hs-shift``) before each call. Shadows of processes that have ended
    are removed. ``pid`` is a parameter so forked workers do not inherit their parent's folder.
    One synthesis at a time per process, then: threads would overwrite each other's files.
    """
    data = _espeak_data(executable)
    temporary = Path(tempfile.gettempdir())
    for stale in temporary.glob(f"{_SHADOW_PREFIX}*") if os.name == "posix" else ():
        owner = stale.name.removeprefix(_SHADOW_PREFIX)
        if owner.isdigit() and not _process_exists(int(owner)):
            shutil.rmtree(stale, ignore_errors=True)
    root = temporary / f"{_SHADOW_PREFIX}{pid}"
    shutil.rmtree(root, ignore_errors=True)
    shadow = root / "espeak-ng-data"
    (shadow / "voices" / "!v").mkdir(parents=True)
    # Real folders down to voices/!v, where this process writes; links for everything else.
    for folder, keep in (("", "voices"), ("voices", "!v"), ("voices/!v", None)):
        for entry in (data / folder).iterdir():
            if entry.name != keep:
                (shadow / folder / entry.name).symlink_to(entry.resolve())
    return root


def _shadow_voices(executable: str) -> Path:
    """The ``voices`` folder of this process's shadow data (see :func:`_shadow_data`)."""
    return _shadow_data(executable, os.getpid()) / "espeak-ng-data" / "voices"


def _mixed_accent_voice(executable: str, name: str, phonemes: str) -> str:
    """Write the voice ``name`` with the phoneme table ``phonemes`` into the shadow data; its -v name."""
    text = _mixed_voice_text(_language_voice_file(_espeak_data(executable), name).read_text(), _ACCENT_FILE, phonemes)
    (_shadow_voices(executable) / _ACCENT_FILE).write_text(text)
    return _ACCENT_FILE


def _shifted_formants_text(text: str, name: str, formants: tuple[int, int, int]) -> str:
    """A variant file's text with F1-F3 frequencies scaled by ``formants`` percent, and a new name."""
    lines = _renamed(text, name)
    for number, percent in enumerate(formants, start=1):
        for index, line in enumerate(lines):
            fields = line.split()
            if fields[:2] == ["formant", str(number)]:
                fields[2] = str(round(int(fields[2]) * percent / 100))
                lines[index] = " ".join(fields)
                break
        else:
            lines.append(f"formant {number} {percent} 100 100")
    return "\n".join(lines) + "\n"


def _shifted_variant(executable: str, variant: str | None, formants: tuple[int, int, int]) -> str:
    """Write ``variant`` with F1-F3 scaled by ``formants`` percent into the shadow data; its name."""
    base = "language variant\n"
    if variant:
        base = (_espeak_data(executable) / "voices" / "!v" / variant).read_text(errors="replace")
    (_shadow_voices(executable) / "!v" / _SHIFT_FILE).write_text(_shifted_formants_text(base, _SHIFT_FILE, formants))
    return _SHIFT_FILE


def _check_variant(executable: str, voice: Voice) -> None:
    """Fail loudly for an unknown variant, which espeak-ng would silently ignore."""
    _, _, installed = _espeak_info(executable)
    if voice.variant is not None and installed and voice.variant not in installed:
        raise ValueError(
            f"unknown espeak-ng variant {voice.variant!r}; installed variants include "
            f"{', '.join(sorted(installed)[:40])}, ... (see `espeak-ng --voices=variant`)"
        )


def _parse_wav(data: bytes) -> tuple[np.ndarray, int]:
    """Samples (int16) and sample rate of a 16-bit mono PCM WAV as espeak-ng writes it.

    espeak-ng streams to stdout, so its RIFF and data sizes are placeholders (0x7ffff000);
    the data runs to the end of the output.
    """
    if len(data) < 12 or data[:4] != b"RIFF" or data[8:12] != b"WAVE":
        raise RuntimeError(f"{ESPEAK} did not write a WAV file (got {len(data)} bytes starting {data[:12]!r})")
    position, rate = 12, None
    while position + 8 <= len(data):
        chunk_id, size = struct.unpack_from("<4sI", data, position)
        body = position + 8
        if chunk_id == b"fmt ":
            audio_format, channels, rate, _, _, bits = struct.unpack_from("<HHIIHH", data, body)
            if (audio_format, channels, bits) != (1, 1, 16):
                found = f"format {audio_format}, {channels} channels, {bits} bits"
                raise RuntimeError(f"{ESPEAK} wrote {found}; expected 16-bit mono PCM (format 1)")
        elif chunk_id == b"data":
            if rate is None:
                raise RuntimeError(f"{ESPEAK} wrote WAV data before its format chunk")
            end = min(body + size, len(data))
            end -= (end - body) % 2  # whole samples only
            return np.frombuffer(data[body:end], dtype="<i2").astype(np.int16), rate
        position = body + size + (size % 2)
    raise RuntimeError(f"{ESPEAK} wrote a WAV file without audio data")


def synthesize(text: str, voice: Voice) -> np.ndarray:
    """Speak ``text`` with espeak-ng.

    The audio keeps espeak-ng's own silence at the ends (about 10 ms before, 300 ms after).

    Args:
        text: what to say; case does not matter (it is lower-cased so words are not spelled out).
        voice: the voice, speed and pitch.

    Returns:
        float32 mono audio at SAMPLE_RATE, in [-1, 1], shape ``[samples]``.

    Raises:
        RuntimeError: espeak-ng is missing or fails.
        ValueError: empty text or an unknown variant.
    """
    import soxr  # imported here so the rest of the module works without it

    if not text.strip():
        raise ValueError("synthesize needs some text to speak, got an empty string")
    executable = _espeak_path()
    _check_variant(executable, voice)
    command = [executable, "--stdout", *voice.espeak_args(), "--", text.lower()]
    try:
        result = subprocess.run(command, capture_output=True, timeout=SUBPROCESS_TIMEOUT)
    except FileNotFoundError as error:  # removed between the PATH lookup and the call
        raise RuntimeError(f"{ESPEAK} disappeared; install it with `apt-get install -y espeak-ng`") from error
    if result.returncode != 0 or not result.stdout:
        message = result.stderr.decode(errors="replace").strip()
        raise RuntimeError(f"{ESPEAK} failed for voice {voice.label!r} (exit {result.returncode}): {message}")
    samples, rate = _parse_wav(result.stdout)
    audio = samples.astype(np.float32) / INT16_SCALE
    if rate != SAMPLE_RATE:
        audio = soxr.resample(audio, rate, SAMPLE_RATE, quality="HQ").astype(np.float32)
    return np.clip(audio, -1.0, 1.0)


def espeak_version() -> str:
    """The ``espeak-ng --version`` line, e.g. "eSpeak NG text-to-speech: 1.51  Data at: ..."."""
    return _espeak_info(_espeak_path())[0]


# ----------------------------------------------------------------------------------------------
# Cached datasets
# ----------------------------------------------------------------------------------------------

MANIFEST = "manifest.json"


def _to_int16(audio: np.ndarray) -> np.ndarray:
    return np.clip(np.round(audio * INT16_SCALE), -INT16_SCALE, INT16_SCALE - 1).astype(np.int16)


def _synthesize_int16(item: tuple[str, Voice]) -> np.ndarray:
    """Pool worker: one utterance as int16."""
    text, voice = item
    return _to_int16(synthesize(text, voice))


def _key_fields(voice: Voice) -> dict:
    """A voice's fields for the cache key, without those added later while they are unset."""
    fields = asdict(voice)
    return {key: value for key, value in fields.items() if key not in ("phonemes", "formants") or value is not None}


def _dataset_key(sentences: Sequence[str], voices: Sequence[Voice], seed: int, formant_spread: int = 0) -> str:
    """A hash of everything that decides the cached audio.

    Settings left at their defaults are not in it, so caches made before they existed stay valid.
    """
    description = {
        "format": CACHE_FORMAT,
        "sample_rate": SAMPLE_RATE,
        "espeak": espeak_version().split("Data at")[0].strip(),
        "speed_range": SPEED_RANGE,
        "pitch_range": PITCH_RANGE,
        "seed": seed,
        "voices": [_key_fields(voice) for voice in voices],
        "sentences": list(sentences),
    }
    if formant_spread:
        description["formant_spread"] = formant_spread
    return hashlib.sha256(json.dumps(description, sort_keys=True).encode()).hexdigest()[:16]


def _write_shard(path: Path, items: Sequence[tuple[str, Voice]], audios: Sequence[np.ndarray]) -> None:
    lengths = np.array([len(audio) for audio in audios], dtype=np.int64)
    temporary = path.with_suffix(".partial.npz")
    np.savez(
        temporary,
        audio=np.concatenate(audios) if audios else np.zeros(0, np.int16),  # [total samples] int16
        offsets=np.concatenate([[0], np.cumsum(lengths)]),  # utterance i is audio[offsets[i]:offsets[i + 1]]
        texts=np.array([text for text, _ in items], dtype=str),
        voices=np.array([voice.label for _, voice in items], dtype=str),
        speeds=np.array([voice.speed for _, voice in items], dtype=np.int16),
        pitches=np.array([voice.pitch for _, voice in items], dtype=np.int16),
    )
    os.replace(temporary, path)  # a shard is either whole or absent, so builds can resume


class _Progress:
    """Progress lines on stderr, at most every PROGRESS_INTERVAL seconds."""

    def __init__(self, total: int, enabled: bool) -> None:
        self.total, self.enabled = total, enabled
        self.done, self.samples = 0, 0
        self.start = self.last = time.monotonic()

    def update(self, audio: np.ndarray, force: bool = False) -> None:
        self.done += 1
        self.samples += len(audio)
        now = time.monotonic()
        if self.enabled and (force or now - self.last >= PROGRESS_INTERVAL or self.done == self.total):
            self.last = now
            elapsed = now - self.start
            audio_seconds = self.samples / SAMPLE_RATE
            left = elapsed / self.done * (self.total - self.done)
            print(
                f"synth: {self.done}/{self.total} utterances ({self.done / self.total:.0%}), "
                f"{audio_seconds / 3600:.2f} h audio in {elapsed:.0f} s "
                f"({audio_seconds / max(elapsed, 1e-9):.0f}x real time), ~{left:.0f} s left",
                file=sys.stderr,
                flush=True,
            )


def build_dataset(
    sentences: Sequence[str],
    voices: Sequence[Voice],
    folder: str | Path,
    seed: int = 0,
    workers: int = 2,
    progress: bool = True,
    formant_spread: int = 0,
) -> Path:
    """Synthesize every sentence once, with a random voice, speed and pitch, into a cache.

    The dataset goes to ``folder/<hash of the arguments>/`` as shards of int16 audio, texts and
    voice labels, plus a ``manifest.json`` written last. Calling again with the same sentences,
    voices and seed returns the existing dataset at once; an interrupted build resumes from its
    finished shards. The audio does not depend on ``workers``.

    Args:
        sentences: the texts to speak, e.g. ``training_sentences(6000)``; stored as given.
        voices: voices to draw from, e.g. TRAIN_VOICES; speed and pitch are drawn afresh.
        folder: the cache folder; created if needed. Several datasets can share it.
        seed: seed for the voice, speed and pitch of each sentence.
        workers: synthesis processes (1 runs in this process).
        progress: print progress lines to stderr.
        formant_spread: scale each utterance's F1-F3 by random 100 +- this many percent
            (see :func:`random_voice`); 0 keeps the variants as they are.

    Returns:
        The dataset folder, for :func:`load_dataset`.
    """
    if not sentences:
        raise ValueError("build_dataset needs at least one sentence")
    if workers < 1:
        raise ValueError(f"workers must be 1 or more, got {workers}")
    for voice in voices:
        _check_variant(_espeak_path(), voice)
    rng = random.Random(seed)
    plan = [(text, random_voice(rng, voices, formant_spread)) for text in sentences]
    target = Path(folder) / f"dataset-{_dataset_key(sentences, voices, seed, formant_spread)}"
    if (target / MANIFEST).is_file():
        if progress:
            print(f"synth: reusing {target}", file=sys.stderr)
        return target
    target.mkdir(parents=True, exist_ok=True)

    shards = [plan[start:start + SHARD_SIZE] for start in range(0, len(plan), SHARD_SIZE)]
    paths = [target / f"shard-{index:04d}.npz" for index in range(len(shards))]
    missing = [index for index, path in enumerate(paths) if not path.is_file()]
    tracker = _Progress(sum(len(shards[index]) for index in missing), progress)
    if progress:
        to_make = f"{len(missing)} of {len(shards)} shards to make"
        print(f"synth: {len(plan)} utterances into {target} ({to_make}, {workers} workers)", file=sys.stderr)

    todo = [item for index in missing for item in shards[index]]  # in order, so results fill shards in turn
    with contextlib.ExitStack() as stack:
        if workers == 1:
            results: Iterator[np.ndarray] = map(_synthesize_int16, todo)
        else:
            # fork: workers only run espeak-ng and soxr, and callers need no __main__ guard.
            methods = multiprocessing.get_all_start_methods()
            context = multiprocessing.get_context("fork" if "fork" in methods else None)
            results = stack.enter_context(context.Pool(workers)).imap(_synthesize_int16, todo, chunksize=4)
        for index in missing:
            audios = []
            for _ in shards[index]:
                audios.append(next(results))
                tracker.update(audios[-1])
            _write_shard(paths[index], shards[index], audios)

    total_samples = 0
    for path in paths:
        with np.load(path) as shard:
            total_samples += int(shard["offsets"][-1])
    manifest = {
        "format": CACHE_FORMAT,
        "sample_rate": SAMPLE_RATE,
        "utterances": len(plan),
        "hours": round(total_samples / SAMPLE_RATE / 3600, 4),
        "seed": seed,
        "voices": sorted({voice.label for voice in voices}),
        "espeak": espeak_version(),
        "shards": [path.name for path in paths],
    }
    (target / MANIFEST).write_text(json.dumps(manifest, indent=2) + "\n")
    return target


def _dataset_folders(folder: Path) -> list[Path]:
    if (folder / MANIFEST).is_file():
        return [folder]
    return sorted(path.parent for path in folder.glob(f"*/{MANIFEST}"))


def load_dataset(folder: str | Path) -> list[tuple[np.ndarray, str]]:
    """Load a dataset made by :func:`build_dataset`.

    Args:
        folder: the folder build_dataset returned, or the cache folder it was given if that
            holds exactly one dataset.

    Returns:
        ``(audio, text)`` pairs in sentence order: float32 audio at SAMPLE_RATE in [-1, 1].
    """
    folder = Path(folder)
    found = _dataset_folders(folder) if folder.is_dir() else []
    if not found:
        raise ValueError(f"no dataset in {folder}: expected {MANIFEST} written by build_dataset")
    if len(found) > 1:
        choices = ", ".join(str(path) for path in found)
        raise ValueError(f"{folder} holds {len(found)} datasets; pass one of: {choices}")
    manifest = json.loads((found[0] / MANIFEST).read_text())
    if manifest.get("format") != CACHE_FORMAT:
        raise ValueError(
            f"{found[0]} has cache format {manifest.get('format')}, this code reads {CACHE_FORMAT}; "
            "delete it and call build_dataset again"
        )
    pairs: list[tuple[np.ndarray, str]] = []
    for name in manifest["shards"]:
        with np.load(found[0] / name) as shard:
            audio = shard["audio"].astype(np.float32) / INT16_SCALE
            offsets = shard["offsets"]
            for index, text in enumerate(shard["texts"].tolist()):
                pairs.append((audio[offsets[index]:offsets[index + 1]], text))
    return pairs
