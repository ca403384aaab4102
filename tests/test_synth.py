"""Tests for the synthetic-speech data side: the sentence corpus and espeak-ng synthesis."""

from __future__ import annotations

import os
import random
import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from training import synth
from training.corpus import MAX_WORDS, MIN_WORDS, heldout_sentences, normalize_text, training_sentences
from training.synth import (
    HELDOUT_LANGUAGE_VOICES,
    HELDOUT_VARIANTS,
    HELDOUT_VOICES,
    MIXED_ACCENT_VOICES,
    PITCH_RANGE,
    SAMPLE_RATE,
    SPEED_RANGE,
    TRAIN_PHONEME_TABLES,
    TRAIN_VOICES,
    Voice,
    build_dataset,
    load_dataset,
    random_voice,
    synthesize,
)

needs_espeak = pytest.mark.skipif(shutil.which("espeak-ng") is None, reason="espeak-ng is not installed")

CTC_TEXT = re.compile(r"^[A-Z']+( [A-Z']+)*$")  # what the 32-symbol vocabulary can spell


# ---------------------------------------------------------------------------------- corpus


def test_normalize_text_uppercases_and_drops_punctuation() -> None:
    """Punctuation and extra spaces go, letters are upper-cased, apostrophes inside words stay."""
    assert normalize_text("  Hello,   world!  It's  o'clock. ") == "HELLO WORLD IT'S O'CLOCK"


def test_normalize_text_spells_numbers_and_removes_accents() -> None:
    """Digits become words, accents are dropped, and & and % are spoken."""
    assert normalize_text("Café: 42 & 7% of 1,305") == "CAFE FORTY TWO AND SEVEN PERCENT OF ONE THREE HUNDRED FIVE"


def test_normalize_text_handles_quotes_and_possessives() -> None:
    """Quoting apostrophes go; curly ones become straight; plural possessives keep theirs."""
    assert normalize_text("'Quoted' the dogs' toys, don\u2019t") == "QUOTED THE DOGS' TOYS DON'T"
    assert normalize_text("!!! ... ''") == ""


def test_sentences_are_normalized_and_within_length() -> None:
    """Every sentence is already in the CTC alphabet and has MIN_WORDS to MAX_WORDS words."""
    for sentence in training_sentences(500) + heldout_sentences(200):
        assert CTC_TEXT.match(sentence), sentence
        assert normalize_text(sentence) == sentence
        assert MIN_WORDS <= len(sentence.split()) <= MAX_WORDS, sentence


def test_training_and_heldout_are_disjoint() -> None:
    """No held-out sentence appears among 20,000 training sentences, whatever the seeds."""
    training = set(training_sentences(20_000))
    assert len(training) == 20_000  # no duplicates
    for seed in (1, 2):
        heldout = heldout_sentences(300, seed=seed)
        assert len(set(heldout)) == 300
        assert not training & set(heldout)
    assert not set(training_sentences(2_000, seed=5)) & set(heldout_sentences(300, seed=0))


def test_sentences_are_deterministic() -> None:
    """The same seed gives the same list, a bigger count extends it, another seed differs."""
    assert training_sentences(300, seed=3) == training_sentences(300, seed=3)
    assert training_sentences(600, seed=3)[:300] == training_sentences(300, seed=3)
    assert heldout_sentences(50) == heldout_sentences(50)
    assert training_sentences(300, seed=3) != training_sentences(300, seed=4)


def test_sentences_are_varied() -> None:
    """A few thousand sentences use a broad vocabulary and many different openings."""
    sentences = training_sentences(3_000)
    words = {word for sentence in sentences for word in sentence.split()}
    openings = {" ".join(sentence.split()[:2]) for sentence in sentences}
    assert len(words) > 1_500
    assert len(openings) > 800


# ---------------------------------------------------------------------------------- voices


def test_voice_splits_hold_out_a_language_and_variants() -> None:
    """Held-out voices all have a language voice or variant that training never uses."""
    train_names = {voice.name for voice in TRAIN_VOICES}
    train_variants = {voice.variant for voice in TRAIN_VOICES}
    heldout_names = {voice.name for voice in HELDOUT_VOICES} - train_names
    heldout_variants = {voice.variant for voice in HELDOUT_VOICES} - train_variants
    assert len(heldout_names) >= 1 and len(heldout_variants) >= 2
    for voice in HELDOUT_VOICES:
        assert voice.name in heldout_names or voice.variant in heldout_variants, voice
    assert not any(voice.name.startswith("mb-") for voice in TRAIN_VOICES + HELDOUT_VOICES)


def test_random_voice_draws_speed_and_pitch_in_range() -> None:
    """random_voice keeps the language and variant of a listed voice and draws speed and pitch."""
    rng = random.Random(0)
    for _ in range(200):
        voice = random_voice(rng, TRAIN_VOICES)
        assert Voice(voice.name, voice.variant) in TRAIN_VOICES
        assert SPEED_RANGE[0] <= voice.speed <= SPEED_RANGE[1]
        assert PITCH_RANGE[0] <= voice.pitch <= PITCH_RANGE[1]


def test_mixed_accents_only_recombine_training_voices() -> None:
    """Mixed accents use training language voices, training phoneme tables and training variants only."""
    train_names = {voice.name for voice in TRAIN_VOICES}
    assert set(TRAIN_PHONEME_TABLES) == train_names
    assert len({(voice.name, voice.phonemes) for voice in MIXED_ACCENT_VOICES}) == 7 * 6
    for voice in MIXED_ACCENT_VOICES:
        assert voice.name in train_names and voice.name not in HELDOUT_LANGUAGE_VOICES
        assert voice.phonemes in TRAIN_PHONEME_TABLES.values() and voice.phonemes != TRAIN_PHONEME_TABLES[voice.name]
        assert voice.variant not in HELDOUT_VARIANTS
    assert "en-us-nyc" not in TRAIN_PHONEME_TABLES.values()
    assert Voice("en-us", "f2", phonemes="en-rp", formants=(110, 95, 100)).label == "en-us~en-rp+f2 (F1-F3 110/95/100%)"


@needs_espeak
def test_train_phoneme_tables_match_the_voice_files() -> None:
    """TRAIN_PHONEME_TABLES says what each voice file's ``phonemes`` line says (en-gb has none: "en")."""
    data = synth._espeak_data(synth._espeak_path())
    for name, table in TRAIN_PHONEME_TABLES.items():
        found = re.search(r"^phonemes\s+(\S+)", synth._language_voice_file(data, name).read_text(), re.MULTILINE)
        assert (found.group(1) if found else "en") == table, name


def test_random_voice_shifts_formants_within_the_spread() -> None:
    """With a formant spread each of F1-F3 moves by at most that many percent; without, none do."""
    rng = random.Random(0)
    shifts = [random_voice(rng, TRAIN_VOICES, formant_spread=15).formants for _ in range(300)]
    assert all(len(shift) == 3 and all(85 <= percent <= 115 for percent in shift) for shift in shifts)
    assert len(set(shifts)) > 250
    assert random_voice(rng, TRAIN_VOICES).formants is None


def test_shifted_formants_scale_the_variant_and_fill_in_missing_formants() -> None:
    """A variant's own F1-F3 are scaled; formants it does not set start from 100%."""
    variant = "language variant\nname female\nformant 1 120 75 150 -50\nformant 4 125 80 150\n"
    text = synth._shifted_formants_text(variant, "hs-shift", (90, 110, 105))
    lines = text.splitlines()
    assert lines[:2] == ["language variant", "name hs-shift"]
    assert "formant 1 108 75 150 -50" in lines and "formant 4 125 80 150" in lines
    assert "formant 2 110 100 100" in lines and "formant 3 105 100 100" in lines


def test_voice_rejects_out_of_range_settings() -> None:
    """Speeds and pitches espeak-ng cannot use are refused with the valid range."""
    with pytest.raises(ValueError, match="80-450"):
        Voice("en-us", speed=20)
    with pytest.raises(ValueError, match="0-99"):
        Voice("en-us", pitch=120)


def test_espeak_args_use_a_name_that_accepts_variants() -> None:
    """en-gb is passed as "en", because espeak-ng ignores "+variant" after the "en-gb" alias."""
    assert Voice("en-gb", "f4", 160, 40).espeak_args() == ["-v", "en+f4", "-s", "160", "-p", "40"]
    assert Voice("en-us").espeak_args()[:2] == ["-v", "en-us"]


# ---------------------------------------------------------------------------------- synthesis


@needs_espeak
def test_synthesize_returns_16khz_float_audio() -> None:
    """A short sentence comes back as float32 16 kHz mono audio of a plausible length."""
    audio = synthesize("HELLO WORLD THIS IS A TEST", Voice("en-us"))
    assert audio.dtype == np.float32 and audio.ndim == 1
    seconds = len(audio) / SAMPLE_RATE
    assert 1.0 < seconds < 4.0
    assert np.abs(audio).max() <= 1.0
    assert np.sqrt(np.mean(audio**2)) > 0.01  # not silence


@needs_espeak
def test_speed_and_variant_change_the_audio() -> None:
    """Slower speech is longer, and a variant really changes the voice, also for en-gb."""
    text = "the weather will be sunny tomorrow"
    slow = synthesize(text, Voice("en-us", speed=130))
    fast = synthesize(text, Voice("en-us", speed=200))
    assert len(slow) > 1.3 * len(fast)
    plain, variant = synthesize(text, Voice("en-gb")), synthesize(text, Voice("en-gb", "f4"))
    assert len(plain) != len(variant) or not np.array_equal(plain, variant)


@needs_espeak
def test_mixed_accent_and_formant_shift_change_the_voice_not_the_words() -> None:
    """A mixed accent and shifted formants sound different, and leave espeak-ng's own data alone."""
    text = "the laundry seems a bit more famous than my mountain"
    plain = synthesize(text, Voice("en-us", "f2"))
    mixed = synthesize(text, Voice("en-us", "f2", phonemes="en-rp"))
    shifted = synthesize(text, Voice("en-us", "f2", formants=(110, 90, 105)))
    assert len(plain) != len(mixed) or not np.array_equal(plain, mixed)
    assert len(shifted) == len(plain) and not np.array_equal(plain, shifted)  # same timing, other vowels
    assert 0.8 < len(mixed) / len(plain) < 1.25
    data = synth._espeak_data(synth._espeak_path())
    assert not list(data.rglob("hs-*"))  # written to this process's shadow folder only


@needs_espeak
def test_shadow_folders_of_ended_processes_are_removed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A shadow data folder left by a process that has ended is cleaned up by the next one."""
    monkeypatch.setattr(synth.tempfile, "gettempdir", lambda: str(tmp_path))
    ended = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True, check=True
    )
    stale = tmp_path / f"hubert-stream-espeak-{int(ended.stdout)}"
    (stale / "espeak-ng-data").mkdir(parents=True)
    synth._shadow_data.cache_clear()
    try:
        synthesize("hello", Voice("en-us", formants=(100, 110, 100)))
        assert not stale.exists()
        assert (tmp_path / f"hubert-stream-espeak-{os.getpid()}").is_dir()
    finally:
        synth._shadow_data.cache_clear()


@needs_espeak
def test_unknown_variant_is_an_error() -> None:
    """A misspelled variant fails instead of silently using the plain voice."""
    with pytest.raises(ValueError, match="unknown espeak-ng variant"):
        synthesize("hello", Voice("en-us", "no-such-variant"))


def test_missing_espeak_says_how_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    """Without espeak-ng on PATH, synthesize says to apt-get install it."""
    monkeypatch.setattr(synth.shutil, "which", lambda name: None)
    with pytest.raises(RuntimeError, match="apt-get install -y espeak-ng"):
        synthesize("hello", Voice("en-us"))


@needs_espeak
def test_build_dataset_round_trips(tmp_path: Path) -> None:
    """Four sentences survive build_dataset and load_dataset; the cache is reused and worker-independent."""
    sentences = training_sentences(4)
    folder = build_dataset(sentences, TRAIN_VOICES, tmp_path / "cache", seed=3, workers=2, progress=False)
    pairs = load_dataset(folder)
    assert [text for _, text in pairs] == sentences
    for audio, _ in pairs:
        assert audio.dtype == np.float32 and 0.5 < len(audio) / SAMPLE_RATE < 10.0
    assert load_dataset(tmp_path / "cache")[0][1] == sentences[0]  # the parent folder works too
    assert build_dataset(sentences, TRAIN_VOICES, tmp_path / "cache", seed=3, progress=False) == folder
    single = load_dataset(build_dataset(sentences, TRAIN_VOICES, tmp_path / "other", seed=3, workers=1, progress=False))
    assert all(np.array_equal(a, b) for (a, _), (b, _) in zip(pairs, single, strict=True))


@needs_espeak
def test_build_dataset_with_formant_spread_is_a_dataset_of_its_own(tmp_path: Path) -> None:
    """A formant spread makes a separate cached dataset whose voice labels carry the shift."""
    sentences = training_sentences(3, seed=5)
    plain = build_dataset(sentences, MIXED_ACCENT_VOICES, tmp_path, seed=2, workers=1, progress=False)
    shifted = build_dataset(
        sentences, MIXED_ACCENT_VOICES, tmp_path, seed=2, workers=2, progress=False, formant_spread=15
    )
    assert shifted != plain
    with np.load(shifted / "shard-0000.npz") as shard:
        labels = list(shard["voices"])
    assert all("~" in label and "(F1-F3 " in label for label in labels), labels
    assert [text for _, text in load_dataset(shifted)] == sentences


def test_caches_made_before_mixed_accents_keep_their_key() -> None:
    """A plain voice's cache-key fields are what they were before ``phonemes`` and ``formants`` existed."""
    assert synth._key_fields(Voice("en-us")) == {"name": "en-us", "variant": None, "speed": 175, "pitch": 50}
    assert synth._key_fields(Voice("en-us", phonemes="en-rp"))["phonemes"] == "en-rp"


@needs_espeak
def test_interrupted_build_resumes_from_finished_shards(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A build stopped before its manifest keeps finished shards and completes to the same data."""
    monkeypatch.setattr(synth, "SHARD_SIZE", 2)
    sentences = training_sentences(4, seed=8)
    folder = build_dataset(sentences, TRAIN_VOICES, tmp_path, seed=1, workers=1, progress=False)
    first = load_dataset(folder)
    (folder / "manifest.json").unlink()
    (folder / "shard-0001.npz").unlink()
    kept = (folder / "shard-0000.npz").stat().st_mtime_ns
    assert build_dataset(sentences, TRAIN_VOICES, tmp_path, seed=1, workers=1, progress=False) == folder
    assert (folder / "shard-0000.npz").stat().st_mtime_ns == kept  # not made again
    again = load_dataset(folder)
    assert [text for _, text in again] == sentences
    assert all(np.array_equal(a, b) for (a, _), (b, _) in zip(first, again, strict=True))


def test_load_dataset_explains_a_wrong_folder(tmp_path: Path) -> None:
    """Loading a folder without a dataset names the file it expected."""
    with pytest.raises(ValueError, match=r"manifest\.json"):
        load_dataset(tmp_path)
