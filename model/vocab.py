"""CTC vocabulary: token ids to text, with frame spans.

The pad token is the CTC blank and ``|`` separates words, as in the LibriSpeech
fine-tunes of HuBERT and wav2vec 2.0. ``decode_frames`` collapses repeats of a
frame-level id sequence and drops blanks; it also keeps where each character and
word sits in frames, which the streaming layer turns into timestamps. The decoders
that choose those ids are in ``model.decoding``.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

__all__ = ["LIBRISPEECH_TOKENS", "CharSpan", "Decoded", "Vocabulary", "WordSpan", "collapse"]

# The 32-symbol character vocabulary of facebook/hubert-large-ls960-ft, in id order.
LIBRISPEECH_TOKENS = (
    "<pad>", "<s>", "</s>", "<unk>", "|",
    "E", "T", "A", "O", "N", "I", "H", "S", "R", "D", "L", "U", "M", "W", "C", "F",
    "G", "Y", "P", "B", "V", "K", "'", "X", "J", "Q", "Z",
)  # fmt: skip
DEFAULT_BLANK = "<pad>"
DEFAULT_DELIMITER = "|"
WORD_BREAK = "\x00"  # stands for the delimiter while run_text joins characters; in no token


def collapse(frame_ids: Sequence[int], previous: int | None = None) -> list[int]:
    """One id per run of equal frame ids (blanks kept), as greedy CTC collapses them.

    ``previous`` is the id of the frame just before ``frame_ids``: a run that continues it
    is not repeated, so ``collapse(a + b) == collapse(a) + collapse(b, a[-1])``.
    """
    runs = []
    for i in frame_ids:
        if i != previous:
            runs.append(i)
            previous = i
    return runs


@dataclass(frozen=True)
class CharSpan:
    """One emitted character and the frames ``[start, end)`` of its run."""

    char: str
    start: int
    end: int


@dataclass(frozen=True)
class WordSpan:
    """One word, its frames ``[start, end)`` and the mean max-probability of its characters' frames."""

    text: str
    start: int
    end: int
    confidence: float


@dataclass(frozen=True)
class Decoded:
    """Greedy CTC result for one sequence of frames."""

    text: str
    frame_ids: tuple[int, ...]
    chars: tuple[CharSpan, ...]
    words: tuple[WordSpan, ...]


class Vocabulary:
    """Token ids <-> characters, with the blank and the word delimiter."""

    def __init__(self, tokens: Sequence[str], blank: str = DEFAULT_BLANK, delimiter: str = DEFAULT_DELIMITER) -> None:
        self.tokens = tuple(tokens)
        if len(set(self.tokens)) != len(self.tokens):
            raise ValueError("vocabulary has duplicate tokens")
        for role, token in (("blank (pad)", blank), ("word delimiter", delimiter)):
            if token not in self.tokens:
                raise ValueError(f"the {role} token {token!r} is not in the vocabulary")
        self.ids = {token: i for i, token in enumerate(self.tokens)}
        self.blank_id = self.ids[blank]
        self.delimiter_id = self.ids[delimiter]
        # Special tokens (<s>, </s>, <unk>) never belong in a transcript: they decode like blanks.
        self.silent_ids = frozenset(i for i, t in enumerate(self.tokens) if t.startswith("<") and t.endswith(">"))
        self.silent_ids |= {self.blank_id}
        # What each id adds to the text, for run_text: nothing (silent), a word break, or its token.
        self._pieces = tuple(
            "" if i in self.silent_ids else WORD_BREAK if i == self.delimiter_id else token
            for i, token in enumerate(self.tokens)
        )

    def __len__(self) -> int:
        return len(self.tokens)

    def __eq__(self, other: object) -> bool:
        return (
            isinstance(other, Vocabulary)
            and self.tokens == other.tokens
            and (self.blank_id, self.delimiter_id) == (other.blank_id, other.delimiter_id)
        )

    @classmethod
    def librispeech(cls) -> Vocabulary:
        """The standard 32-symbol LibriSpeech character vocabulary."""
        return cls(LIBRISPEECH_TOKENS)

    @classmethod
    def from_files(cls, vocab_json: Path, tokenizer_config_json: Path | None = None) -> Vocabulary:
        """Read a hub ``vocab.json`` (token -> id) and, if present, ``tokenizer_config.json``."""
        mapping = json.loads(Path(vocab_json).read_text(encoding="utf-8"))
        if not isinstance(mapping, dict) or not mapping:
            raise ValueError(f"{vocab_json}: expected a JSON object of token -> id")
        ids = sorted(mapping.values())
        if ids != list(range(len(ids))):
            raise ValueError(f"{vocab_json}: token ids must be 0..{len(ids) - 1} without gaps")
        tokens = [token for token, _ in sorted(mapping.items(), key=lambda item: item[1])]
        settings = {}
        if tokenizer_config_json is not None and Path(tokenizer_config_json).is_file():
            settings = json.loads(Path(tokenizer_config_json).read_text(encoding="utf-8"))
        return cls(
            tokens,
            blank=_token_text(settings.get("pad_token", DEFAULT_BLANK)),
            delimiter=_token_text(settings.get("word_delimiter_token", DEFAULT_DELIMITER)),
        )

    def save(self, folder: Path) -> None:
        """Write ``vocab.json`` and ``tokenizer_config.json`` into ``folder``."""
        folder = Path(folder)
        mapping = {token: i for i, token in enumerate(self.tokens)}
        (folder / "vocab.json").write_text(json.dumps(mapping, indent=2) + "\n", encoding="utf-8")
        settings = {
            "tokenizer_class": "Wav2Vec2CTCTokenizer",
            "pad_token": self.tokens[self.blank_id],
            "word_delimiter_token": self.tokens[self.delimiter_id],
            "unk_token": "<unk>",
            "bos_token": "<s>",
            "eos_token": "</s>",
            "do_lower_case": False,
        }
        (folder / "tokenizer_config.json").write_text(json.dumps(settings, indent=2) + "\n", encoding="utf-8")

    def encode(self, text: str) -> list[int]:
        """Ids of ``text`` (spaces become the delimiter). Unknown characters are a ValueError."""
        out = []
        for char in " ".join(text.split()):
            token = self.tokens[self.delimiter_id] if char == " " else char
            if token not in self.ids:
                raise ValueError(f"character {char!r} is not in the vocabulary")
            out.append(self.ids[token])
        return out

    def decode_frames(
        self, frame_ids: Sequence[int], frame_probs: Sequence[float] | None = None, offset: int = 0
    ) -> Decoded:
        """Collapse a frame-level id sequence into text, characters and words.

        Args:
            frame_ids: the chosen token id of each frame.
            frame_probs: the probability of each frame's chosen token, for word confidences
                (1.0 when not given).
            offset: frame number of ``frame_ids[0]``; spans are reported in these numbers.
        """
        frame_ids = tuple(int(i) for i in frame_ids)
        probs = np.ones(len(frame_ids)) if frame_probs is None else np.asarray(frame_probs, dtype=np.float64)
        chars: list[CharSpan] = []
        words: list[WordSpan] = []
        word: list[CharSpan] = []
        word_probs: list[float] = []

        def close_word() -> None:
            if word:
                text = "".join(c.char for c in word)
                words.append(WordSpan(text, word[0].start, word[-1].end, float(np.mean(word_probs))))
                word.clear()
                word_probs.clear()

        start = 0
        for i in range(1, len(frame_ids) + 1):
            if i < len(frame_ids) and frame_ids[i] == frame_ids[start]:
                continue
            token_id = frame_ids[start]  # a run [start, i) of one id
            if token_id == self.delimiter_id:
                close_word()
            elif token_id not in self.silent_ids and token_id < len(self.tokens):
                char = self.tokens[token_id]
                span = CharSpan(char, start + offset, i + offset)
                chars.append(span)
                word.append(span)
                word_probs.extend(probs[start:i])
            start = i
        close_word()
        text = " ".join(w.text for w in words)
        return Decoded(text, frame_ids, tuple(chars), tuple(words))

    def extend_text(self, state: tuple[str, str], run_ids: Sequence[int]) -> tuple[str, str]:
        """Text built up run by run: ``state`` is (closed words joined by spaces, the open word)
        before ``run_ids`` (collapsed ids, see ``collapse``); returns it after them. The cost is
        that of ``run_ids`` alone, so a stream's partials stay cheap however long its segment."""
        closed, word = state
        pieces, known = self._pieces, len(self._pieces)
        for i in run_ids:
            piece = pieces[i] if 0 <= i < known else ""
            if piece != WORD_BREAK:
                word += piece
            elif word:
                closed, word = (f"{closed} {word}" if closed else word), ""
        return closed, word

    @staticmethod
    def state_text(state: tuple[str, str]) -> str:
        """The text of an ``extend_text`` state."""
        closed, word = state
        return f"{closed} {word}" if closed and word else closed or word

    def run_text(self, run_ids: Sequence[int]) -> str:
        """The text of collapsed ids: ``decode_frames(frames).text`` for ``run_ids == collapse(frames)``,
        without the spans."""
        return self.state_text(self.extend_text(("", ""), run_ids))


def _token_text(token: str | dict) -> str:
    """tokenizer_config.json may hold a token as a string or as an AddedToken dict."""
    return token["content"] if isinstance(token, dict) else token
