"""Decoders: a span's CTC logits in, text with word times and confidences out.

``Decoder`` is the seam where a decoder plugs in. ``GreedyDecoder`` takes the best token of each
frame; ``BeamSearchDecoder`` keeps the best few hypotheses frame by frame (flashlight-text's CTC
beam search, in C++) and scores them with a word language model and per-session hotwords. Every
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
import math
from abc import ABC, abstractmethod
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from model.lm import LanguageModel
from model.vocab import Decoded, Vocabulary

__all__ = [
    "Alternative",
    "DEFAULT_BEAM_SIZE",
    "DEFAULT_BOOST",
    "MAX_BOOST",
    "MAX_HOTWORDS",
    "MAX_HOTWORD_CHARS",
    "BeamSearchDecoder",
    "Decoder",
    "GreedyDecoder",
    "Hotword",
    "build_decoder",
    "check_hotwords",
    "frame_logprobs",
    "greedy_frames",
    "parse_hotword",
]

DEFAULT_BEAM_SIZE = 16  # hypotheses kept per frame
BEAM_SIZE_TOKEN = 8  # most likely tokens of a frame that may extend a hypothesis
BEAM_THRESHOLD = 25.0  # hypotheses this far (natural log) below the best are dropped
SURE_BLANK_LOG_PROB = math.log(0.999)  # a frame this sure of blank is searched only as part of its run
DEFAULT_BOOST = 1.5  # natural-log bonus per character of a hotword (see Hotword)
BOOST_AFTER_CHARS = 3  # a hotword's bonus is given once a hypothesis has spelled this much of it
MAX_BOOST = 10.0
MAX_HOTWORDS = 500  # per decoder (per session on a server)
MAX_HOTWORD_CHARS = 100  # characters in one hotword phrase


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
        """This decoder with ``hotwords`` boosted (a server calls it once per session).

        Raises ``ValueError`` when the decoder takes no hotwords and some are given.
        """
        if hotwords:
            raise ValueError(f"{type(self).__name__} takes no hotwords")
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

    def with_hotwords(self, hotwords: Sequence[Hotword]) -> Decoder:
        """Greedy decoding has no scores to boost: hotwords make it a beam search without an LM."""
        return BeamSearchDecoder(self.vocab, hotwords=hotwords) if hotwords else self


# ----- hotwords ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Hotword:
    """A word or phrase to favour: ``boost`` (natural log) is added per character while a hypothesis spells
    it from a word's start (from ``BOOST_AFTER_CHARS`` characters on) and kept once it is whole."""

    phrase: str
    boost: float = DEFAULT_BOOST


def parse_hotword(text: str) -> Hotword:
    """``PHRASE`` or ``PHRASE:BOOST``, as the command line takes a hotword."""
    phrase, sep, boost = text.rpartition(":")
    if not sep:
        return Hotword(text)
    try:
        return Hotword(phrase, float(boost))
    except ValueError:
        raise ValueError(f"hotword {text!r}: the boost after ':' must be a number, got {boost!r}") from None


def check_hotwords(hotwords: Iterable[Hotword], vocab: Vocabulary) -> tuple[Hotword, ...]:
    """Hotwords in the vocabulary's spelling (one space between words), each checked.

    ``ValueError`` names the first that is wrong: too many, empty, too long, a boost out of
    (0, ``MAX_BOOST``], or a character the model cannot spell.
    """
    checked = []
    for number, hotword in enumerate(hotwords, 1):
        if number > MAX_HOTWORDS:
            raise ValueError(f"at most {MAX_HOTWORDS} hotwords")
        if not isinstance(hotword.phrase, str) or not hotword.phrase.strip():
            raise ValueError(f"hotword {number}: the phrase must be non-empty text")
        phrase = " ".join(hotword.phrase.split())
        if len(phrase) > MAX_HOTWORD_CHARS:
            raise ValueError(f"hotword {phrase[:20]!r}...: at most {MAX_HOTWORD_CHARS} characters, got {len(phrase)}")
        boost = hotword.boost
        if isinstance(boost, bool) or not isinstance(boost, (int, float)) or not 0 < boost <= MAX_BOOST:
            raise ValueError(f"hotword {phrase!r}: boost must be a number above 0 and at most {MAX_BOOST:g}, got {boost!r}")
        spelled = _spelling(phrase, vocab)
        if spelled is None:
            bad = sorted({c for c in phrase.upper() if c != " " and c not in vocab.ids and c.lower() not in vocab.ids})
            raise ValueError(f"hotword {phrase!r}: the model cannot spell {''.join(bad)!r}")
        checked.append(Hotword(spelled, float(boost)))
    return tuple(checked)


def _spelling(phrase: str, vocab: Vocabulary) -> str | None:
    """``phrase`` as the vocabulary spells it (as given, upper or lower case), or None."""
    for candidate in (phrase, phrase.upper(), phrase.lower()):
        if all(c == " " or c in vocab.ids for c in candidate):
            return candidate
    return None


class _HotwordTrie:
    """The hotwords' token sequences as a trie; a hypothesis walks it from each word's start.

    ``bonus[node]`` is what a hypothesis at the node holds: the boosts of the characters on its path,
    once it is ``BOOST_AFTER_CHARS`` deep (or a whole phrase). Held back before that, the bonus does
    not favour every word that merely starts like some hotword, which would crowd the beam.
    """

    def __init__(self, hotwords: Sequence[Hotword], vocab: Vocabulary) -> None:
        self.children: list[dict[int, int]] = [{}]  # node -> token -> node; node 0 is the root
        self.complete: list[bool] = [False]  # a whole phrase ends at the node
        parent, depth, boost = [0], [0], [0.0]  # boost: the largest of the hotwords through the node
        for hotword in hotwords:
            node = 0
            for token in vocab.encode(hotword.phrase):
                if token not in self.children[node]:
                    self.children[node][token] = len(self.children)
                    self.children.append({})
                    self.complete.append(False)
                    parent.append(node)
                    depth.append(depth[node] + 1)
                    boost.append(0.0)
                node = self.children[node][token]
                boost[node] = max(boost[node], hotword.boost)
            self.complete[node] = True
        path = [0.0] * len(self.children)  # the boosts along each node's path (a parent comes before its children)
        for node in range(1, len(self.children)):
            path[node] = path[parent[node]] + boost[node]
        self.bonus = [p if d >= BOOST_AFTER_CHARS or c else 0.0 for p, d, c in zip(path, depth, self.complete)]


# ----- beam search -------------------------------------------------------------------------------

DEAD = -1  # hotword trie position of a hypothesis that left every hotword in the current word


@functools.cache
def _scorer_class() -> type:
    """The scorer class, made once flashlight is imported (its base class comes from there)."""
    from flashlight.lib.text.decoder import LM, LMState

    class WordScorer(LM):
        """What flashlight's lexicon-free beam search asks of a language model, token by token.

        A hypothesis's state is a flashlight ``LMState`` (``child`` gives one per token, so equal
        histories share one); beside it this keeps the KenLM state, the word being spelled, where the
        hypothesis is in the hotword trie and the hotword bonus given so far in that word. The LM
        scores a word when it ends (the delimiter, or the end); hotword characters earn their bonus
        as they come and give it back when the hypothesis leaves the hotword.
        """

        def __init__(self, lm: LanguageModel | None, hotwords: Sequence[Hotword], vocab: Vocabulary) -> None:
            LM.__init__(self)
            self.lm, self.trie, self.vocab = lm, _HotwordTrie(hotwords, vocab), vocab
            self.delimiter = vocab.delimiter_id
            self.silent = vocab.silent_ids
            self.info: dict = {}  # per LMState of the current decode: what is kept beside it (see above)
            self.hot_words = frozenset(word for hotword in hotwords for word in hotword.phrase.split())
            if lm is not None:
                self.unk_log10 = lm.kenlm.score(lm.kenlm.start(False), lm.index("<unk>"))[1]

        def start(self, start_with_nothing: bool):
            state = LMState()
            kenlm_state = self.lm.kenlm.start(False) if self.lm is not None else None
            self.info = {state: (kenlm_state, "", 0, 0.0, 0.0, 0.0)}
            return state

        def score(self, state, token: int):
            child = state.child(token)
            known = self.info.get(child)
            if known is not None:
                return child, known[-1]
            kenlm_state, word, node, gained, charged, _ = self.info[state]
            score = 0.0
            if token == self.delimiter:
                if word:
                    kenlm_state, score = self._end_word(kenlm_state, word)
                    score -= charged
                    word, charged = "", 0.0
                    step = None if node == DEAD else self.trie.children[node].get(token)
                    if node != DEAD and self.trie.complete[node]:
                        node, gained = 0, 0.0  # a phrase spoken in full keeps its bonus
                    elif step is not None:
                        node = step  # a phrase of several words goes on
                    else:
                        score -= gained
                        node, gained = 0, 0.0
            elif token not in self.silent:
                word += self.vocab.tokens[token]
                step = None if node == DEAD else self.trie.children[node].get(token)
                if step is not None:
                    score += self.trie.bonus[step] - gained
                    node, gained = step, self.trie.bonus[step]
                elif node != DEAD:
                    score -= gained  # the hypothesis left the hotword: the bonus goes back
                    node, gained = DEAD, 0.0
                if self.lm is not None:  # look ahead: the best the word can still score, charged as it grows
                    target = self._prefix_score(word, node != DEAD)
                    score += target - charged
                    charged = target
            self.info[child] = (kenlm_state, word, node, gained, charged, score)
            return child, score

        def finish(self, state):
            kenlm_state, word, node, gained, charged, _ = self.info[state]
            score = 0.0
            if word:
                kenlm_state, score = self._end_word(kenlm_state, word)
                score -= charged
            if node not in (DEAD, 0) and not self.trie.complete[node]:
                score -= gained
            if self.lm is not None:
                score += self.lm.lm_weight * self.lm.kenlm.finish(kenlm_state)[1]
            return state, score

        def _prefix_score(self, prefix: str, hot: bool) -> float:
            lm = self.lm
            best = lm.prefixes.get(prefix)
            if best is not None:
                return lm.lm_weight * best
            if hot:  # spelling a hotword the LM lacks: it will score as the LM's rarest word
                return lm.lm_weight * lm.rare_log10
            return lm.lm_weight * self.unk_log10 + lm.unk_score

        def _end_word(self, kenlm_state, word: str):
            if self.lm is None:
                return kenlm_state, 0.0
            lm = self.lm
            kenlm_state, log10 = lm.kenlm.score(kenlm_state, lm.index(word))
            penalty = 0.0
            if word not in lm.words:
                if word in self.hot_words:
                    log10 = lm.rare_log10  # a hotword is expected: as likely as the rarest word the LM knows
                else:
                    penalty = lm.unk_score
            return kenlm_state, lm.lm_weight * log10 + lm.word_score + penalty

    return WordScorer




class BeamSearchDecoder(Decoder):
    """CTC beam search (flashlight-text, lexicon-free) with an optional word LM and hotwords.

    Open vocabulary: any spelling can come out; the LM scores each word as it ends (a word it does
    not know gets its ``<unk>`` score plus ``lm.unk_score``, except words of a hotword), and hotwords
    add their boost per character while a hypothesis spells one from a word's start.

    Args:
        vocab: the checkpoint's vocabulary.
        lm: a ``LanguageModel`` (``model.lm.load_language_model``), shared by every decoder given it.
        hotwords: phrases to favour (checked with ``check_hotwords``).
        beam_size: hypotheses kept per frame.
    """

    def __init__(
        self,
        vocab: Vocabulary,
        lm: LanguageModel | None = None,
        hotwords: Sequence[Hotword] = (),
        beam_size: int = DEFAULT_BEAM_SIZE,
    ) -> None:
        from flashlight.lib.text.decoder import CriterionType, LexiconFreeDecoder, LexiconFreeDecoderOptions

        if beam_size < 1:
            raise ValueError(f"beam_size must be at least 1, got {beam_size}")
        self.vocab, self.lm, self.beam_size = vocab, lm, beam_size
        self.hotwords = check_hotwords(hotwords, vocab)
        self._scorer = _scorer_class()(lm, self.hotwords, vocab)
        options = LexiconFreeDecoderOptions(
            beam_size=beam_size,
            beam_size_token=min(BEAM_SIZE_TOKEN, len(vocab)),
            beam_threshold=BEAM_THRESHOLD,
            lm_weight=1.0,  # the scorer applies the LM's own weight; hotword boosts are not scaled
            sil_score=0.0,
            log_add=False,
            criterion_type=CriterionType.CTC,
        )
        self._decoder = LexiconFreeDecoder(options, self._scorer, vocab.delimiter_id, vocab.blank_id, [])

    def with_hotwords(self, hotwords: Sequence[Hotword]) -> Decoder:
        """A decoder with this one's hotwords and ``hotwords`` (a phrase in both takes the boost given here).

        ``ValueError`` names a bad hotword, or the total when both lists together exceed ``MAX_HOTWORDS``.
        """
        if not hotwords:
            return self
        merged = {h.phrase: h for h in (*self.hotwords, *check_hotwords(hotwords, self.vocab))}
        if len(merged) > MAX_HOTWORDS:
            raise ValueError(f"at most {MAX_HOTWORDS} hotwords in all, and every decode here already has {len(self.hotwords)}")
        return BeamSearchDecoder(self.vocab, self.lm, tuple(merged.values()), self.beam_size)

    def decode(self, logits: torch.Tensor, offset: int = 0) -> Decoded:
        return self._search(logits, 1, offset)[0].decoded

    def alternatives(self, logits: torch.Tensor, n: int, offset: int = 0) -> list[Alternative]:
        """The final beam's hypotheses with distinct texts, best first (score: acoustic plus LM and
        hotword scores, natural log); at most ``n``."""
        return self._search(logits, n, offset)

    def _search(self, logits: torch.Tensor, n: int, offset: int) -> list[Alternative]:
        frames = logits.shape[0]
        if frames == 0:
            return [Alternative(self.vocab.decode_frames([], [], offset), 0.0)]
        log_probs = torch.log_softmax(logits.float(), dim=-1).cpu().numpy()
        # Runs of frames that are surely blank are searched as one frame: every hypothesis would take
        # blank there, so they only cost time (most CTC frames are such blanks). One frame of each run
        # stays, so that the blank still separates a repeated character.
        sure = log_probs[:, self.vocab.blank_id] > SURE_BLANK_LOG_PROB
        kept = np.flatnonzero(~(sure & np.concatenate(([False], sure[:-1]))))
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
    """Greedy CTC when there is neither an LM nor hotwords; a beam search otherwise."""
    if lm is None and not hotwords:
        return GreedyDecoder(vocab)
    return BeamSearchDecoder(vocab, lm, hotwords, beam_size)
