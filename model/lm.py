"""Word n-gram language models (KenLM) for beam search, and where a checkpoint keeps one.

A language model is a KenLM file (ARPA text or KenLM binary) with its word list, read by the
KenLM that ``flashlight-text`` carries. ``load_language_model`` takes a file or a folder in the
``Wav2Vec2ProcessorWithLM`` layout (``language_model/`` holding ``attrs.json``, ``unigrams.txt``
and the KenLM file), which is how hub checkpoints ship an LM; ``find_language_model`` looks for
that folder beside a model. Every way a file can be wrong is a ``ValueError`` or
``FileNotFoundError`` naming the file.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

__all__ = [
    "DEFAULT_LM_WEIGHT",
    "DEFAULT_WORD_SCORE",
    "DEMO_LM_DIR",
    "LM_FOLDER",
    "LanguageModel",
    "find_language_model",
    "load_language_model",
]

LM_FOLDER = "language_model"  # the Wav2Vec2ProcessorWithLM folder beside a checkpoint's files
DEMO_LM_DIR = Path(__file__).parent / "demo_lm"  # bundled; `--lm demo`
LM_ALIASES = {"demo": DEMO_LM_DIR}
UNK = "<unk>"
SPECIAL_WORDS = frozenset({"<s>", "</s>", UNK})
KENLM_SUFFIXES = (".arpa", ".bin", ".binary", ".klm", ".kenlm")  # the KenLM file in an LM folder
ARPA_HEADER = "\\data\\"
KENLM_BINARY_MAGIC = b"mmap lm http://kheafield.com/code"  # how every KenLM binary file begins
# Weights in KenLM's log10 units, as flashlight and torchaudio's ctc_decoder take them (lm_weight,
# word_score); a Wav2Vec2ProcessorWithLM attrs.json holds pyctcdecode's alpha (natural log) and beta.
DEFAULT_LM_WEIGHT = 2.0
DEFAULT_WORD_SCORE = 0.0
DEFAULT_UNK_SCORE = -10.0  # natural-log penalty of a word the LM does not know, on top of its <unk> score


@dataclass(frozen=True, eq=False)
class LanguageModel:
    """A loaded KenLM word model, shared by every decoder that uses it.

    ``kenlm`` and ``dictionary`` are flashlight's: the word indices the model is scored with.
    """

    path: Path
    words: frozenset[str]
    prefixes: dict[str, float]  # every prefix of a word: the best log10 unigram probability of its words
    kenlm: Any
    dictionary: Any
    lm_weight: float = DEFAULT_LM_WEIGHT
    word_score: float = DEFAULT_WORD_SCORE
    unk_score: float = DEFAULT_UNK_SCORE

    def index(self, word: str) -> int:
        """The word's index for ``kenlm.score`` (``<unk>``'s for a word the model does not know)."""
        return self.dictionary.get_index(word)

    def describe(self) -> str:
        return f"{self.path} ({len(self.words)} words, lm_weight {self.lm_weight:g}, word_score {self.word_score:g})"


def find_language_model(model_folder: str | os.PathLike) -> Path | None:
    """The ``language_model/`` folder beside a checkpoint, or None when it has none."""
    folder = Path(model_folder) / LM_FOLDER
    return folder if folder.is_dir() else None


def load_language_model(
    path: str | os.PathLike, lm_weight: float | None = None, word_score: float | None = None
) -> LanguageModel:
    """Load a KenLM word model for beam search.

    Args:
        path: ``demo`` (the bundled demo LM), a folder in the ``Wav2Vec2ProcessorWithLM`` layout
            (``attrs.json``, ``unigrams.txt`` and one KenLM file), an ARPA file, or a KenLM binary
            file with ``unigrams.txt`` beside it.
        lm_weight: weight of the LM's log10 probabilities (default: the folder's ``attrs.json``,
            else ``DEFAULT_LM_WEIGHT``).
        word_score: added for each word (default: ``attrs.json``'s ``beta``, else 0).

    Raises:
        FileNotFoundError: the path or a file the folder needs is missing.
        ValueError: a file is not what it should be; the message names it.
    """
    given = Path(LM_ALIASES.get(str(path), path)).expanduser()
    if not given.exists():
        raise FileNotFoundError(f"language model {str(path)!r}: no such file or folder")
    attrs: dict[str, Any] = {}
    if given.is_dir():
        file = _kenlm_file(given)
        words_file = given / "unigrams.txt"
        attrs_file = given / "attrs.json"
        if attrs_file.is_file():
            attrs = _read_attrs(attrs_file)
    else:
        file, words_file = given, given.parent / "unigrams.txt"
    binary = _kind(file) == "binary"
    if binary:
        if not words_file.is_file():
            raise FileNotFoundError(
                f"{file} is a KenLM binary file and {words_file} is missing: a binary LM needs its word list "
                "(one word a line) beside it, or give the ARPA file"
            )
        unigrams = {word: 0.0 for word in _read_unigrams(words_file)}  # probabilities unknown: no look-ahead
    else:
        unigrams = _arpa_unigrams(file)
    words = set(unigrams)
    prefixes: dict[str, float] = {}
    for word, log10 in unigrams.items():
        for end in range(1, len(word) + 1):
            prefix = word[:end]
            prefixes[prefix] = max(prefixes.get(prefix, -math.inf), log10)
    for name, value in (("lm_weight", lm_weight), ("word_score", word_score)):
        if value is not None and not math.isfinite(value):
            raise ValueError(f"{name} must be a finite number, got {value}")
    if lm_weight is None:
        lm_weight = round(attrs["alpha"] * math.log(10), 6) if "alpha" in attrs else DEFAULT_LM_WEIGHT
    if word_score is None:
        word_score = attrs.get("beta", DEFAULT_WORD_SCORE)
    unk_score = attrs.get("unk_score_offset", DEFAULT_UNK_SCORE)
    from flashlight.lib.text.decoder.kenlm import KenLM
    from flashlight.lib.text.dictionary import Dictionary

    dictionary = Dictionary(sorted(words) + [UNK])
    dictionary.set_default_index(dictionary.get_index(UNK))
    try:
        with _quiet_stderr():  # KenLM prints a progress bar and a hint to build a binary file
            kenlm = KenLM(str(file), dictionary)
    except RuntimeError as e:
        reason = str(e).strip().splitlines()[-1] if str(e).strip() else type(e).__name__
        raise ValueError(f"{file} is not a valid KenLM language model: {reason}") from e
    return LanguageModel(given, frozenset(words), prefixes, kenlm, dictionary, float(lm_weight), float(word_score), unk_score)


def _kenlm_file(folder: Path) -> Path:
    found = sorted(f for f in folder.iterdir() if f.suffix in KENLM_SUFFIXES and f.is_file())
    if len(found) != 1:
        what = "no" if not found else f"{len(found)} ({', '.join(f.name for f in found)})"
        raise ValueError(
            f"{folder} has {what} KenLM files; a language model folder holds one ({'/'.join(KENLM_SUFFIXES)})"
        )
    return found[0]


def _kind(file: Path) -> str:
    """``arpa`` or ``binary`` by the file's first bytes; anything else is a ValueError naming it."""
    with open(file, "rb") as f:
        head = f.read(4096)
    if head.startswith(KENLM_BINARY_MAGIC):
        return "binary"
    if head.lstrip().startswith(ARPA_HEADER.encode()):
        return "arpa"
    raise ValueError(f"{file} is not a KenLM language model: expected an ARPA file (starting {ARPA_HEADER}) or a KenLM binary file")


def _arpa_unigrams(file: Path) -> dict[str, float]:
    """The unigrams of an ARPA file and their log10 probabilities (special tokens left out)."""
    words, in_unigrams = {}, False
    with open(file, encoding="utf-8", errors="replace") as f:
        for number, line in enumerate(f, 1):
            line = line.strip()
            if line == "\\1-grams:":
                in_unigrams = True
            elif in_unigrams:
                if not line:
                    continue
                if line.startswith("\\"):
                    break
                fields = line.split()
                if len(fields) < 2:
                    raise ValueError(f"{file}:{number}: a unigram line needs a probability and a word, got {line!r}")
                try:
                    log10 = float(fields[0])
                except ValueError:
                    raise ValueError(f"{file}:{number}: {fields[0]!r} is not a log10 probability") from None
                if fields[1] not in SPECIAL_WORDS:
                    words[fields[1]] = log10
    if not words:
        raise ValueError(f"{file} has no \\1-grams: section with words: it is not a usable ARPA file")
    return words


def _read_unigrams(file: Path) -> list[str]:
    words = [w for w in file.read_text(encoding="utf-8").split() if w not in SPECIAL_WORDS]
    if not words:
        raise ValueError(f"{file} lists no words")
    return words


def _read_attrs(file: Path) -> dict[str, float]:
    try:
        attrs = json.loads(file.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise ValueError(f"{file} is not valid JSON: {e}") from e
    if not isinstance(attrs, dict):
        raise ValueError(f"{file} must hold a JSON object with alpha, beta and unk_score_offset")
    for key in ("alpha", "beta", "unk_score_offset"):
        value = attrs.get(key)
        if key in attrs and (isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value)):
            raise ValueError(f"{file}: {key!r} must be a finite number, got {value!r}")
    return {k: float(attrs[k]) for k in ("alpha", "beta", "unk_score_offset") if k in attrs}


@contextlib.contextmanager
def _quiet_stderr() -> Iterator[None]:
    """Send what C++ code writes to file descriptor 2 to /dev/null for a moment."""
    saved = os.dup(2)
    try:
        with open(os.devnull, "wb") as devnull:
            os.dup2(devnull.fileno(), 2)
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)
