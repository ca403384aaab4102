"""Decoders: a span's CTC logits in, text with word times and confidences out.

``Decoder`` is the seam where a decoder plugs in. ``GreedyDecoder`` takes the best token of each
frame; ``BeamSearchDecoder`` keeps the best few hypotheses frame by frame (flashlight-text's CTC
beam search, in C++) and scores them with a word language model; ``HotwordDecoder`` puts per-session
hotwords into either's result where the acoustics allow them (``model.hotwords``). Every
final, the whole-file path and offline ``transcribe`` decode through a ``Decoder``.
``greedy_frames`` is the one place that takes the best token of each frame: ``GreedyDecoder``
builds on it, and the streaming core uses it for the frame ids its partials and endpoints are read
from (cheap and incremental; a partial must not cost a decode of its segment).

Both decoders end in ``Vocabulary.decode_frames`` on one frame-level path, so word times and
confidences (the mean probability of each word's frames on that path) mean the same whichever
decoder chose the path.
"""

from __future__ import annotations

import functools
from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from model.hotwords import (
    DEFAULT_BOOST,
    MAX_BOOST,
    MAX_HOTWORD_CHARS,
    MAX_HOTWORDS,
    Hotword,
    HotwordSpotter,
    check_hotwords,
    searched_frames,
)
from model.lm import LanguageModel
from model.vocab import Decoded, Vocabulary

__all__ = [
    "DEFAULT_BEAM_SIZE",
    "DEFAULT_BOOST",
    "MAX_BOOST",
    "MAX_HOTWORDS",
    "MAX_HOTWORD_CHARS",
    "Alternative",
    "BeamSearchDecoder",
    "Decoder",
    "GreedyDecoder",
    "Hotword",
    "HotwordDecoder",
    "build_decoder",
    "check_hotwords",
    "frame_logprobs",
    "greedy_frames",
]

DEFAULT_BEAM_SIZE = 16  # hypotheses kept per frame
BEAM_SIZE_TOKEN = 6  # most likely tokens of a frame that may extend a hypothesis (8: 1.3x the time, 0.09 WER points fewer errors)
BEAM_THRESHOLD = 25.0  # hypotheses this far (natural log) below the best are dropped


def greedy_frames(logits: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """The best token of each frame: its probability and its id, from logits ``[..., frames, vocab]``.

    Returns ``(probs, ids)``, each ``[..., frames]``.
    """
    return torch.softmax(logits.float(), dim=-1).max(dim=-1)


@dataclass(frozen=True)
class Alternative:
    """One hypothesis of an n-best list: its decoding and its log score (higher is better)."""

    decoded: Decoded
    score: float


def frame_logprobs(ids: Sequence[int], probs: Sequence[float], size: int) -> torch.Tensor:
    """A stand-in for frames' distributions when only each frame's best token and its probability
    were kept: that token at its probability, the other ``size - 1`` sharing the rest.

    Returns log-probabilities ``[frames, size]``; their greedy decoding is the ``ids`` again.
    """
    p = torch.tensor(probs, dtype=torch.float64).clamp(1e-9, 1 - 1e-9)
    logp = ((1 - p) / (size - 1)).log()[:, None].repeat(1, size)
    logp[torch.arange(len(p)), torch.tensor(ids, dtype=torch.long)] = p.log()
    return logp.float()


class Decoder(ABC):
    """Turns the CTC logits of one span of frames into text, word spans and word confidences."""

    @abstractmethod
    def decode(self, logits: torch.Tensor, offset: int = 0) -> Decoded:
        """Decode logits ``[frames, vocab]``; spans in ``Decoded`` count from frame ``offset``."""

    def alternatives(self, logits: torch.Tensor, n: int, offset: int = 0) -> list[Alternative]:
        """Up to ``n`` hypotheses with distinct texts, best first. A decoder that keeps one
        hypothesis gives that one, scored by the log-probability of its frames' tokens."""
        decoded = self.decode(logits, offset)
        logp = torch.log_softmax(logits.float(), dim=-1)
        ids = torch.tensor(decoded.frame_ids, dtype=torch.long)
        score = float(logp[torch.arange(len(ids)), ids].sum()) if len(ids) == len(logp) else 0.0
        return [Alternative(decoded, score)][:n]

    def partial_search(self) -> Any:
        """What constrains a stream's partials, or None: partials show the frames' best tokens.

        A decoder that restricts its words (a grammar) returns an object with ``reset()``,
        ``frames``, ``commit(ids, probs)`` and ``text(ids, probs) -> str`` that the streaming
        core feeds the segment's frames to (``model.grammar.PartialSearch``)."""
        return None

    def with_hotwords(self, hotwords: Sequence[Hotword]) -> Decoder:
        """This decoder followed by a spotter of ``hotwords`` (``HotwordDecoder``; a server calls it
        once per session). ``ValueError`` names a bad hotword."""
        return HotwordDecoder(self, hotwords) if hotwords else self

    def with_beam_search(self, lm: LanguageModel | None) -> Decoder:
        """This decoder where it gives n-best lists, else the same with a beam search (with ``lm``,
        or none) in place of its single hypothesis; its hotwords stay."""
        return self


class GreedyDecoder(Decoder):
    """Greedy CTC: the best token per frame, repeats collapsed, blanks dropped.

    Args:
        vocab: the checkpoint's vocabulary.
    """

    def __init__(self, vocab: Vocabulary) -> None:
        self.vocab = vocab

    def decode(self, logits: torch.Tensor, offset: int = 0) -> Decoded:
        probs, ids = greedy_frames(logits)
        return self.vocab.decode_frames(ids.tolist(), probs.tolist(), offset)

    def with_beam_search(self, lm: LanguageModel | None) -> Decoder:
        return BeamSearchDecoder(self.vocab, lm)


class HotwordDecoder(Decoder):
    """Another decoder's result with hotwords put where the acoustics allow them
    (``model.hotwords.HotwordSpotter``): greedy or beam search alike, finals and n-best lists.

    Args:
        base: the decoder whose result the hotwords go into.
        hotwords: the phrases to expect (checked with ``check_hotwords``).
    """

    def __init__(self, base: Decoder, hotwords: Sequence[Hotword]) -> None:
        self.base, self.vocab = base, base.vocab
        self.hotwords = check_hotwords(hotwords, self.vocab)
        self.spotter = HotwordSpotter(self.hotwords, self.vocab)

    def with_hotwords(self, hotwords: Sequence[Hotword]) -> Decoder:
        """This decoder's hotwords and ``hotwords`` together (a phrase in both takes the boost given here).

        ``ValueError`` names a bad hotword, or the total when both lists together exceed ``MAX_HOTWORDS``.
        """
        if not hotwords:
            return self
        merged = {h.phrase: h for h in (*self.hotwords, *check_hotwords(hotwords, self.vocab))}
        if len(merged) > MAX_HOTWORDS:
            raise ValueError(f"at most {MAX_HOTWORDS} hotwords in all, and every decode here already has {len(self.hotwords)}")
        return HotwordDecoder(self.base, tuple(merged.values()))

    def decode(self, logits: torch.Tensor, offset: int = 0) -> Decoded:
        return self.spotter.apply(self.base.decode(logits, offset), _log_probs(logits), offset)

    def alternatives(self, logits: torch.Tensor, n: int, offset: int = 0) -> list[Alternative]:
        """The base decoder's hypotheses, each with the hotwords put in (distinct texts, best first)."""
        log_probs = _log_probs(logits)
        spots = self.spotter.spots(log_probs)  # the same frames for every hypothesis: searched once
        out: dict[str, Alternative] = {}
        for alternative in self.base.alternatives(logits, n, offset):
            decoded = self.spotter.place(alternative.decoded, spots, log_probs, offset)
            out.setdefault(decoded.text, Alternative(decoded, alternative.score))
        return list(out.values())

    def partial_search(self) -> Any:
        return self.base.partial_search()

    def with_beam_search(self, lm: LanguageModel | None) -> Decoder:
        base = self.base.with_beam_search(lm)
        return self if base is self.base else HotwordDecoder(base, self.hotwords)


def _log_probs(logits: torch.Tensor) -> np.ndarray:
    return torch.log_softmax(logits.float(), dim=-1).cpu().numpy()


# ----- beam search -------------------------------------------------------------------------------

@functools.cache
def _scorer_class() -> type:
    """The scorer class, made once flashlight is imported (its base class comes from there)."""
    from flashlight.lib.text.decoder import LM, LMState

    class WordScorer(LM):
        """What flashlight's lexicon-free beam search asks of a language model, token by token.

        A hypothesis's state is a flashlight ``LMState`` (``child`` gives one per token, so equal
        histories share one); beside it this keeps the KenLM state, the word being spelled and what
        the look-ahead has charged for it so far. The LM scores a word when it ends (the delimiter,
        or the end); while a word is spelled, the best score a word with that beginning can get is
        charged as it changes, so that the beam compares hypotheses fairly mid-word.
        """

        def __init__(self, lm: LanguageModel | None, vocab: Vocabulary) -> None:
            LM.__init__(self)
            self.lm, self.vocab = lm, vocab
            self.delimiter = vocab.delimiter_id
            self.silent = vocab.silent_ids
            self.info: dict = {}  # per LMState of the current decode: what is kept beside it (see above)
            if lm is not None:
                self.unk_log10 = lm.kenlm.score(lm.kenlm.start(False), lm.index("<unk>"))[1]

        def start(self, start_with_nothing: bool):
            state = LMState()
            kenlm_state = self.lm.kenlm.start(False) if self.lm is not None else None
            self.info = {state: (kenlm_state, "", 0.0, 0.0)}
            return state

        def score(self, state, token: int):
            child = state.child(token)
            known = self.info.get(child)
            if known is not None:
                return child, known[-1]
            kenlm_state, word, charged, _ = self.info[state]
            score = 0.0
            if self.lm is not None:
                if token == self.delimiter:
                    if word:
                        kenlm_state, score = self._end_word(kenlm_state, word)
                        score -= charged
                        word, charged = "", 0.0
                elif token not in self.silent:
                    word += self.vocab.tokens[token]
                    target = self._prefix_score(word)  # the best the word can still score
                    score = target - charged
                    charged = target
            self.info[child] = (kenlm_state, word, charged, score)
            return child, score

        def finish(self, state):
            kenlm_state, word, charged, _ = self.info[state]
            if self.lm is None:
                return state, 0.0
            score = 0.0
            if word:
                kenlm_state, score = self._end_word(kenlm_state, word)
                score -= charged
            return state, score + self.lm.lm_weight * self.lm.kenlm.finish(kenlm_state)[1]

        def _prefix_score(self, prefix: str) -> float:
            lm = self.lm
            best = lm.prefixes.get(prefix)
            if best is not None:
                return lm.lm_weight * best
            return lm.lm_weight * self.unk_log10 + lm.unk_score

        def _end_word(self, kenlm_state, word: str):
            lm = self.lm
            kenlm_state, log10 = lm.kenlm.score(kenlm_state, lm.index(word))
            penalty = 0.0 if word in lm.words else lm.unk_score
            return kenlm_state, lm.lm_weight * log10 + lm.word_score + penalty

    return WordScorer


class BeamSearchDecoder(Decoder):
    """CTC beam search (flashlight-text, lexicon-free) with an optional word LM.

    Open vocabulary: any spelling can come out; the LM scores each word as it ends (a word it does
    not know gets its ``<unk>`` score plus ``lm.unk_score``). Hotwords come after the search
    (``with_hotwords``: a ``HotwordDecoder`` over this one).

    Args:
        vocab: the checkpoint's vocabulary.
        lm: a ``LanguageModel`` (``model.lm.load_language_model``), shared by every decoder given it.
        beam_size: hypotheses kept per frame.
    """

    def __init__(self, vocab: Vocabulary, lm: LanguageModel | None = None, beam_size: int = DEFAULT_BEAM_SIZE) -> None:
        from flashlight.lib.text.decoder import CriterionType, LexiconFreeDecoder, LexiconFreeDecoderOptions

        if beam_size < 1:
            raise ValueError(f"beam_size must be at least 1, got {beam_size}")
        self.vocab, self.lm, self.beam_size = vocab, lm, beam_size
        self._scorer = _scorer_class()(lm, vocab)
        options = LexiconFreeDecoderOptions(
            beam_size=beam_size,
            beam_size_token=min(BEAM_SIZE_TOKEN, len(vocab)),
            beam_threshold=BEAM_THRESHOLD,
            lm_weight=1.0,  # the scorer applies the LM's own weight
            sil_score=0.0,
            log_add=False,
            criterion_type=CriterionType.CTC,
        )
        self._decoder = LexiconFreeDecoder(options, self._scorer, vocab.delimiter_id, vocab.blank_id, [])

    def decode(self, logits: torch.Tensor, offset: int = 0) -> Decoded:
        return self._search(logits, 1, offset)[0].decoded

    def alternatives(self, logits: torch.Tensor, n: int, offset: int = 0) -> list[Alternative]:
        """The final beam's hypotheses with distinct texts, best first (score: acoustic plus LM,
        natural log); at most ``n``."""
        return self._search(logits, n, offset)

    def _search(self, logits: torch.Tensor, n: int, offset: int) -> list[Alternative]:
        frames = logits.shape[0]
        if frames == 0:
            return [Alternative(self.vocab.decode_frames([], [], offset), 0.0)]
        log_probs = _log_probs(logits)
        kept = searched_frames(log_probs, self.vocab.blank_id)
        searched = np.ascontiguousarray(log_probs[kept])
        results = self._decoder.decode(searched.ctypes.data, len(kept), searched.shape[1])
        self._scorer.info = {}  # the states of this decode are not needed again
        out: dict[str, Alternative] = {}
        for result in sorted(results, key=lambda r: -r.score):  # distinct texts: the beam holds paths
            path = np.full(frames, self.vocab.blank_id, dtype=np.int64)
            path[kept] = result.tokens[1 : len(kept) + 1]  # tokens[0] and [-1] are the start and end states
            probs = np.exp(log_probs[np.arange(frames), path])
            decoded = self.vocab.decode_frames(path.tolist(), probs.tolist(), offset)
            out.setdefault(decoded.text, Alternative(decoded, float(result.score)))
            if len(out) == n:
                break
        return list(out.values())


def build_decoder(
    vocab: Vocabulary,
    lm: LanguageModel | None = None,
    hotwords: Sequence[Hotword] = (),
    beam_size: int = DEFAULT_BEAM_SIZE,
) -> Decoder:
    """Greedy CTC without an LM, a beam search with one; hotwords spotted in either's result."""
    base = GreedyDecoder(vocab) if lm is None else BeamSearchDecoder(vocab, lm, beam_size)
    return base.with_hotwords(hotwords)
