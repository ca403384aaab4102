"""A phrase-list grammar for CTC: decoding restricted to listed phrases, as Vosk's ``phrase_list``.

A ``PhraseGrammar`` compiles phrases into one CTC search graph: any sequence of whole phrases,
with silence (blank or word delimiter) before, between and after them, and, when the list holds
``[unk]``, a filler word that matches any letters and stands for speech that fits no phrase.
``GrammarDecoder`` finds the best path through it with an exact Viterbi search over a segment's
log-probabilities, so every word it returns is a listed word or ``[unk]``; ``PartialSearch`` runs
the same search frame by frame for partials.

Why a search of our own rather than a beam-search library: the graph is small (two states per
letter of the list), the exact best path costs a few vectorised numpy steps per frame, and it
runs incrementally over the frames a stream commits, which a library's beam cannot be rewound to
do. A beam with a lexicon and an LM that forbids other words would prune where this search is
exact, and would still need a filler for ``[unk]`` that lexicon decoders do not have.

The graph, for each phrase a chain of states in CTC order: a letter, then the state between it and
the next letter (blank inside a word, "gap" -- blank or word delimiter -- between words), and so on;
a between-state may be skipped when the letters on either side differ (CTC needs a blank between
a letter and its repeat). A hub state (gap) joins the chains: the search starts in it or at a first
letter, enters a chain from it and returns to it from a chain's last letter. The ``[unk]`` filler is
a letter state that matches the best letter of each frame less ``UNK_PENALTY`` and a blank state
for the blanks inside its word.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch

from model.decoding import Alternative, Decoder, frame_logprobs
from model.vocab import CharSpan, Decoded, Vocabulary, WordSpan

__all__ = ["MAX_PHRASES", "MAX_PHRASE_CHARS", "UNK", "GrammarDecoder", "PartialSearch", "PhraseGrammar"]

UNK = "[unk]"  # Vosk's filler word: speech that fits none of the phrases
MAX_PHRASES = 1_000  # phrases in one list: the search graph grows with their letters
MAX_PHRASE_CHARS = 200  # characters in one phrase
# Log-probability the filler pays per frame it spends on a letter (nats). It matches the best letter of
# every frame, so without a price it would beat every phrase; with it a phrase that fits the audio
# scores higher, and speech no phrase fits still falls to the filler. Chosen on the demo model: spoken
# listed phrases keep their text, unlisted words become [unk] (tests/test_grammar.py).
UNK_PENALTY = 2.0
# What the filler pays for each word it starts (nats): inside a word, the hub and the filler's blank
# both match the blanks between letters, and without a price the best path would leave the filler
# there and start a fresh [unk] for every letter. A word delimiter the model writes pays for it.
UNK_ENTRY = 3.0
_NEG = -1e30  # log 0, kept finite so that sums of it stay comparable


@dataclass(frozen=True)
class _Item:
    """One phrase (or the filler) on a best path: which, and its frames."""

    phrase: int  # index in PhraseGrammar.phrases; -1 for [unk]
    start: int
    end: int


class PhraseGrammar:
    """Phrases compiled into a CTC search graph over a vocabulary.

    Args:
        phrases: the listed phrases, words separated by spaces, any case; ``"[unk]"`` allows the filler.
        vocab: the model's vocabulary: every character of a phrase must be one of its tokens.

    Raises:
        ValueError: an empty list, too many or too long phrases, an empty phrase, or a character the
            model cannot write (the message names the phrase and the character).
    """

    def __init__(self, phrases: Sequence[str], vocab: Vocabulary) -> None:
        if isinstance(phrases, str) or not all(isinstance(p, str) for p in phrases):
            raise ValueError("phrase_list must be a list of strings")
        if not phrases:
            raise ValueError("phrase_list is empty: list at least one phrase")
        if len(phrases) > MAX_PHRASES:
            raise ValueError(f"phrase_list has {len(phrases)} phrases; at most {MAX_PHRASES} are allowed")
        self.vocab = vocab
        self.unk = False
        self.phrases: list[tuple[str, ...]] = []  # each phrase's words, lower case, as results show them
        seen = set()
        for phrase in phrases:
            if len(phrase) > MAX_PHRASE_CHARS:
                raise ValueError(f"phrase {phrase[:40]!r}... is {len(phrase)} characters; at most {MAX_PHRASE_CHARS}")
            words = tuple(w.lower() for w in phrase.split())
            if not words:
                raise ValueError("phrase_list holds an empty phrase")
            if words == (UNK,):
                self.unk = True
                continue
            writable = {t for i, t in enumerate(vocab.tokens) if i not in vocab.silent_ids and i != vocab.delimiter_id}
            for char in "".join(words).upper():
                if char not in writable:
                    raise ValueError(f"phrase {phrase!r}: the model cannot write {char.lower()!r}")
            if words not in seen:
                seen.add(words)
                self.phrases.append(words)
        self._compile()

    @property
    def words(self) -> frozenset[str]:
        """Every word the grammar can put in a result."""
        return frozenset(w for p in self.phrases for w in p) | ({UNK} if self.unk else set())

    def _compile(self) -> None:
        """The chain states of every phrase: emission column, skip permission, and where chains start/end."""
        vocab = self.vocab
        self.blank_col = len(vocab)  # extra emission columns after the vocabulary's
        self.gap_col = len(vocab) + 1  # blank or word delimiter
        self.unk_col = len(vocab) + 2  # the best letter, less UNK_PENALTY
        cols, skip, owner, first, last = [], [], [], [], []
        letters: list[int] = []  # vocab id of each letter state, -1 for between-states
        for p, words in enumerate(self.phrases):
            first.append(len(cols))
            chars = " ".join(words).upper()
            for i, char in enumerate(chars):
                if char == " ":
                    continue
                if i > 0:  # the state between the previous letter and this one
                    between = self.gap_col if chars[i - 1] == " " else self.blank_col
                    cols.append(between)
                    skip.append(False)
                    letters.append(-1)
                    owner.append(p)
                letter = vocab.ids[char]
                previous = letters[-2] if len(cols) > first[-1] else -1
                cols.append(letter)
                skip.append(len(cols) - 1 > first[-1] and letter != previous)
                letters.append(letter)
                owner.append(p)
            last.append(len(cols) - 1)
        self.cols = np.asarray(cols, dtype=np.int64)
        self.skip = np.asarray(skip, dtype=bool)  # may enter from two states back
        self.owner = np.asarray(owner, dtype=np.int64)
        self.first = np.asarray(first, dtype=np.int64)
        self.last = np.asarray(last, dtype=np.int64)
        self.is_first = np.zeros(len(cols), dtype=bool)
        self.is_first[self.first] = True
        self.is_letter = np.asarray(letters, dtype=np.int64) >= 0
        self.has_prev = np.ones(len(cols), dtype=bool)
        self.has_prev[self.first] = False

    def emissions(self, logits: torch.Tensor) -> np.ndarray:
        """Per-frame log-probabilities of each emission column: the vocabulary's, then blank, gap and
        filler. ``logits`` ``[frames, vocab]``; returns ``[frames, vocab + 3]``."""
        logp = torch.log_softmax(logits.float(), dim=-1).cpu().numpy().astype(np.float64)
        return self.emissions_of(logp)

    def emissions_of(self, logp: np.ndarray) -> np.ndarray:
        vocab = self.vocab
        blank = logp[:, vocab.blank_id]
        gap = np.maximum(blank, logp[:, vocab.delimiter_id])
        letter_ids = [i for i in range(len(vocab)) if i not in vocab.silent_ids and i != vocab.delimiter_id]
        unk = logp[:, letter_ids].max(axis=1) - UNK_PENALTY if self.unk else np.full(len(logp), _NEG)
        return np.concatenate([logp, blank[:, None], gap[:, None], unk[:, None]], axis=1)


# Predecessor kinds a chain state's best path came from, kept per frame for the backtrace.
_SELF, _PREV, _SKIP, _HUB = 0, 1, 2, 3
# The three states beside the chains: hub (gap), filler letter, filler blank.
_HUB_STATE, _UNK_LETTER, _UNK_BLANK = 0, 1, 2


class _Search:
    """Viterbi over a grammar's graph, one frame at a time.

    With ``keep_trace`` it keeps each frame's backpointers (a byte per state per frame), for a
    backtrace with word times: a final's search, over one segment. Without, each state carries the
    phrases its best path finished (an id in a shared table of ``(parent id, phrase)``), so a
    stream's search under way keeps memory of the graph's size, not of the segment's length, and
    its copies are cheap: a partial's search.
    """

    def __init__(self, grammar: PhraseGrammar, keep_trace: bool = True) -> None:
        self.g = grammar
        self.keep_trace = keep_trace
        self.chain = np.full(len(grammar.cols), _NEG)
        self.special = np.array([_NEG, _NEG, _NEG])
        self.frames = 0
        self.trace_chain: list[np.ndarray] = []  # per frame: predecessor kind of each chain state
        self.trace_special: list[tuple[int, int, int]] = []  # per frame: hub, filler letter, filler blank sources
        self.chain_done = np.zeros(len(grammar.cols), dtype=np.int64)  # without trace: finished phrases' id
        self.special_done = [0, 0, 0]
        self.finished: list[tuple[int, int]] = [(-1, 0)]  # id -> (parent id, phrase or -1 for [unk]); 0: none

    def copy(self) -> _Search:
        other = _Search.__new__(_Search)
        other.__dict__.update(self.__dict__)
        other.chain, other.special = self.chain.copy(), self.special.copy()
        other.trace_chain, other.trace_special = list(self.trace_chain), list(self.trace_special)
        other.chain_done, other.special_done = self.chain_done.copy(), list(self.special_done)
        return other  # `finished` is shared: it only grows, and ids already given never change

    def step(self, emit: np.ndarray) -> None:
        """Advance by one frame of emission columns ``[vocab + 3]``."""
        g = self.g
        hub, unk_letter, unk_blank = self.special
        if self.frames == 0:  # the search may start in the hub or on a phrase's or the filler's first letter
            chain = np.where(g.is_first, 0.0, _NEG)
            kinds = np.full(len(chain), _HUB, dtype=np.int8)
            special = np.array([0.0, -UNK_ENTRY, _NEG])
            sources = (-1, -1, -1)
        else:
            chain = self.chain
            prev = np.concatenate([[_NEG], chain[:-1]])[: len(chain)]
            prev[~g.has_prev] = _NEG
            skip = np.concatenate([[_NEG, _NEG], chain[:-2]])[: len(chain)]
            skip[~g.skip] = _NEG
            enter = np.where(g.is_first, hub, _NEG)
            options = np.stack([chain, prev, skip, enter])  # [4, states], in the order of the kinds
            kinds = options.argmax(axis=0).astype(np.int8)
            chain = options[kinds, np.arange(len(chain))]
            # hub: stays, or a chain's last letter or the filler's letter ends there
            ends = self.chain[g.last] if len(g.last) else np.array([_NEG])
            best_end = int(ends.argmax())
            hub_options = (hub, ends[best_end], unk_letter)
            hub_from = int(np.argmax(hub_options))
            letter_options = (unk_letter, hub - UNK_ENTRY, unk_blank)
            letter_from = int(np.argmax(letter_options))
            blank_options = (unk_blank, unk_letter)
            blank_from = int(np.argmax(blank_options))
            special = np.array([hub_options[hub_from], letter_options[letter_from], blank_options[blank_from]])
            sources = (hub_from if hub_from != 1 else 10 + best_end, letter_from, blank_from)
        if self.keep_trace:
            self.trace_chain.append(kinds)
            self.trace_special.append(sources)
        elif self.frames:
            self._carry(kinds, sources)
        cols = emit[g.cols] if len(g.cols) else np.zeros(0)
        self.chain = chain + cols
        self.special = special + emit[[g.gap_col, g.unk_col, g.blank_col]]
        self.frames += 1

    def _carry(self, kinds: np.ndarray, sources: tuple[int, int, int]) -> None:
        """Move each state's finished phrases along the predecessors this frame chose."""
        g, done = self.g, self.chain_done
        hub, letter, blank = self.special_done
        if sources[0] >= 10:  # a phrase ended into the hub
            end = int(g.last[sources[0] - 10])
            new_hub = self._finish(int(done[end]), int(g.owner[end]))
        elif sources[0] == 2:  # the filler's word ended into the hub
            new_hub = self._finish(letter, -1)
        else:
            new_hub = hub
        options = np.stack([done, np.roll(done, 1), np.roll(done, 2), np.full(len(done), hub)])
        self.chain_done = options[kinds, np.arange(len(done))]
        self.special_done = [new_hub, (letter, hub, blank)[sources[1]], (blank, letter)[sources[2]]]

    def _finish(self, parent: int, phrase: int) -> int:
        self.finished.append((parent, phrase))
        return len(self.finished) - 1

    def carried_items(self) -> list[int]:
        """Without trace: the phrases (``-1`` for ``[unk]``) on the best path to any state, the one under way last."""
        _, kind, state = self.best_end(final=False)
        if kind == "chain":
            done, current = int(self.chain_done[state]), int(self.g.owner[state])
        elif state == _HUB_STATE:
            done, current = self.special_done[state], None
        else:
            done, current = self.special_done[state], -1
        items = [] if current is None else [current]
        while done:
            done, phrase = self.finished[done]
            items.append(phrase)
        return items[::-1]

    def run(self, emissions: np.ndarray) -> _Search:
        for row in emissions:
            self.step(row)
        return self

    def best_end(self, final: bool = True) -> tuple[float, str, int]:
        """The best state to end in: ``("hub", 0)``, ``("unk", 1|2)`` or ``("chain", index)``.

        ``final``: only where a path may end (hub, a last letter, the filler); else anywhere
        (a partial, whose last word may be under way)."""
        g = self.g
        candidates = [(float(self.special[_HUB_STATE]), "special", _HUB_STATE)]
        candidates.append((float(self.special[_UNK_LETTER]), "special", _UNK_LETTER))
        if not final:
            candidates.append((float(self.special[_UNK_BLANK]), "special", _UNK_BLANK))
        pool = g.last if final else np.arange(len(g.cols))
        if len(pool):
            best = int(pool[int(self.chain[pool].argmax())])
            candidates.append((float(self.chain[best]), "chain", best))
        return max(candidates, key=lambda c: c[0])

    def backtrace(self, final: bool = True) -> tuple[float, list[_Item], list[int]]:
        """The best path's score, its phrases and fillers with their frames, and each frame's state
        (chain index, or ``-1 - special``)."""
        score, kind, state = self.best_end(final)
        states = [0] * self.frames
        g = self.g
        for t in range(self.frames - 1, -1, -1):
            states[t] = state if kind == "chain" else -1 - state
            if t == 0:
                break
            if kind == "chain":
                k = int(self.trace_chain[t][state])
                if k == _PREV:
                    state -= 1
                elif k == _SKIP:
                    state -= 2
                elif k == _HUB:
                    kind, state = "special", _HUB_STATE
            else:
                source = self.trace_special[t][state]
                if state == _HUB_STATE:
                    if source >= 10:
                        kind, state = "chain", int(g.last[source - 10])
                    elif source == 2:
                        state = _UNK_LETTER
                elif state == _UNK_LETTER:
                    state = (_UNK_LETTER, _HUB_STATE, _UNK_BLANK)[source]
                else:
                    state = (_UNK_BLANK, _UNK_LETTER)[source]
        return score, _items(g, states), states


def _items(g: PhraseGrammar, states: list[int]) -> list[_Item]:
    """The phrases and fillers a frame-by-frame state path passes through, in order."""
    items: list[_Item] = []
    current: _Item | None = None
    for t, s in enumerate(states):
        if s >= 0:
            phrase = int(g.owner[s])
            entering = current is None or current.phrase != phrase or (g.is_first[s] and states[t - 1] != s)
            if entering:
                current = _Item(phrase, t, t + 1)
                items.append(current)
            else:
                items[-1] = current = _Item(phrase, current.start, t + 1)
        elif s == -1 - _UNK_LETTER:
            if current is None or current.phrase != -1:
                current = _Item(-1, t, t + 1)
                items.append(current)
            else:
                items[-1] = current = _Item(-1, current.start, t + 1)
        elif s == -1 - _HUB_STATE:
            current = None
        # the filler's blank stays inside the filler word
    return items


class PartialSearch:
    """The grammar's best text for a segment under way, from the windows' frames.

    A stream's windows keep each frame's best token and its probability, not the whole
    distribution, so a partial searches a stand-in for it: the best token at its probability, the
    rest sharing what is left (finals search the final pass's full distributions). The frames a
    stream commits are searched once (``commit``); each partial searches only the tentative frames
    after them, from a copy (``text``)."""

    def __init__(self, grammar: PhraseGrammar) -> None:
        self.grammar = grammar
        self.search = _Search(grammar, keep_trace=False)

    def reset(self) -> None:
        self.search = _Search(self.grammar, keep_trace=False)

    @property
    def frames(self) -> int:
        """Committed frames searched so far."""
        return self.search.frames

    def commit(self, ids: Sequence[int], probs: Sequence[float]) -> None:
        """Search committed frames: each frame's best token id and its probability."""
        if len(ids):
            self.search.run(self._emissions(ids, probs))

    def text(self, ids: Sequence[int], probs: Sequence[float]) -> str:
        """The best path's words over the committed frames and then the tentative ``ids``/``probs``,
        the last word shown as soon as its first letter is on the path (as Vosk's partials)."""
        search = self.search.copy() if len(ids) else self.search
        if len(ids):
            search.run(self._emissions(ids, probs))
        if search.frames == 0:
            return ""
        return " ".join(UNK if p < 0 else " ".join(self.grammar.phrases[p]) for p in search.carried_items())

    def _emissions(self, ids: Sequence[int], probs: Sequence[float]) -> np.ndarray:
        return self.grammar.emissions_of(frame_logprobs(ids, probs, len(self.grammar.vocab)).double().numpy())


def _text(g: PhraseGrammar, items: list[_Item]) -> str:
    return " ".join(UNK if item.phrase < 0 else " ".join(g.phrases[item.phrase]) for item in items)


class GrammarDecoder(Decoder):
    """Decodes a span's logits to the best sequence of listed phrases (and ``[unk]``).

    Word spans are the frames of each word's letters on the best path; a word's confidence is the
    mean probability, on those frames, of the letter the path puts there.

    Args:
        grammar: the compiled phrase list.
    """

    def __init__(self, grammar: PhraseGrammar) -> None:
        self.grammar = grammar

    def decode(self, logits: torch.Tensor, offset: int = 0) -> Decoded:
        return self._decode(self.grammar.emissions(logits), offset)[0]

    def partial_search(self) -> PartialSearch:
        return PartialSearch(self.grammar)

    def alternatives(self, logits: torch.Tensor, n: int, offset: int = 0) -> list[Alternative]:
        """The best path, then paths that differ from it in one phrase, by score; at most ``n``.

        Each phrase of the best path is re-scored in its stretch of frames (from the end of the
        phrase before it to the start of the next) against every other phrase and the filler; an
        alternative's score is the best path's with that stretch's score exchanged."""
        emit = self.grammar.emissions(logits)
        best, score, items = self._decode(emit, offset)
        out = [Alternative(best, score)]
        if n <= 1 or not items:
            return out[:n]
        candidates: dict[str, Alternative] = {}
        for j, item in enumerate(items):
            lo = items[j - 1].end if j else 0
            hi = items[j + 1].start if j + 1 < len(items) else len(emit)
            slot = self._slot_scores(emit[lo:hi])
            own = slot[item.phrase]
            for phrase, value in slot.items():
                if phrase == item.phrase or value <= _NEG / 2:
                    continue
                swapped = [*items[:j], _Item(phrase, item.start, item.end), *items[j + 1 :]]
                text = _text(self.grammar, swapped)
                total = score - own + value
                if text not in candidates or candidates[text].score < total:
                    words = self._swap_words(best, items, j, phrase, offset)
                    candidates[text] = Alternative(Decoded(text, best.frame_ids, (), words), total)
        ranked = sorted(candidates.values(), key=lambda a: -a.score)
        return (out + [a for a in ranked if a.decoded.text != best.text])[:n]

    def _decode(self, emit: np.ndarray, offset: int) -> tuple[Decoded, float, list[_Item]]:
        if len(emit) == 0:
            return Decoded("", (), (), ()), 0.0, []
        search = _Search(self.grammar).run(emit)
        score, items, states = search.backtrace(final=True)
        g = self.grammar
        frame_ids: list[int] = []
        chars: list[CharSpan] = []
        words: list[WordSpan] = []
        for t, s in enumerate(states):
            if s >= 0 and g.is_letter[s]:
                frame_ids.append(int(g.cols[s]))
            elif s == -1 - _UNK_LETTER:
                frame_ids.append(int(np.argmax(emit[t, : len(g.vocab)])))
            else:
                frame_ids.append(g.vocab.blank_id)
        for item in items:
            if item.phrase < 0:
                words.append(self._word(UNK, item.start, item.end, emit, states, offset))
                continue
            spans = _word_spans(g, states, item)
            for word, (start, end) in zip(g.phrases[item.phrase], spans):
                words.append(self._word(word, start, end, emit, states, offset))
        for t, s in enumerate(states):
            if s >= 0 and g.is_letter[s] and (t == 0 or states[t - 1] != s):
                end = t + 1
                while end < len(states) and states[end] == s:
                    end += 1
                chars.append(CharSpan(g.vocab.tokens[int(g.cols[s])], t + offset, end + offset))
        text = " ".join(w.text for w in words)
        return Decoded(text, tuple(frame_ids), tuple(chars), tuple(words)), float(score), items

    def _word(self, text: str, start: int, end: int, emit: np.ndarray, states: list[int], offset: int) -> WordSpan:
        g = self.grammar
        probs = []
        for t in range(start, end):
            s = states[t]
            if s >= 0 and g.is_letter[s]:
                probs.append(np.exp(emit[t, g.cols[s]]))
            elif s == -1 - _UNK_LETTER:
                probs.append(np.exp(emit[t, g.unk_col] + UNK_PENALTY))
        confidence = float(np.mean(probs)) if probs else 0.0
        return WordSpan(text, start + offset, end + offset, confidence)

    def _slot_scores(self, emit: np.ndarray) -> dict[int, float]:
        """The best score of each single phrase (and ``-1``, the filler) over ``emit``, silence around it."""
        g = self.grammar
        if len(emit) == 0:
            return {}
        out = dict(enumerate(_single_scores(g, emit).tolist()))
        if g.unk:
            out[-1] = _filler_score(g, emit)
        return out

    def _swap_words(self, best: Decoded, items: list[_Item], j: int, phrase: int, offset: int) -> tuple[WordSpan, ...]:
        """The best path's words with item ``j``'s replaced by ``phrase``'s, spread over its frames."""
        g = self.grammar
        item = items[j]
        before = [w for w in best.words if w.end - offset <= item.start]
        after = [w for w in best.words if w.start - offset >= item.end]
        new = (UNK,) if phrase < 0 else g.phrases[phrase]
        width = (item.end - item.start) / len(new)
        spread = [
            WordSpan(w, offset + item.start + round(i * width), offset + item.start + round((i + 1) * width), 0.0)
            for i, w in enumerate(new)
        ]
        return tuple(before + spread + after)


def _word_spans(g: PhraseGrammar, states: list[int], item: _Item) -> list[tuple[int, int]]:
    """The frames ``[start, end)`` of each word of ``item``'s phrase: from its first to its last letter."""
    words = g.phrases[item.phrase]
    chars = " ".join(words).upper()
    # the chain index where each word's letters begin and end
    base = int(g.first[item.phrase])
    bounds, index, start = [], base, base
    for i, char in enumerate(chars):
        if char == " ":
            continue
        if i > 0 and chars[i - 1] == " ":
            start = index
        if i + 1 == len(chars) or chars[i + 1] == " ":
            bounds.append((start, index))
        index += 2
    spans = []
    for lo, hi in bounds:
        frames = [t for t in range(item.start, item.end) if lo <= states[t] <= hi]
        spans.append((frames[0], frames[-1] + 1) if frames else (item.start, item.start))
    return spans


def _single_scores(g: PhraseGrammar, emit: np.ndarray) -> np.ndarray:
    """Viterbi score of ``gap* phrase gap*`` over ``emit`` for every phrase at once: each phrase alone
    with silence around it (the chains without the hub's loop)."""
    gap = emit[:, g.gap_col]
    before = gap[0]  # silence so far, before any phrase
    chain = np.where(g.is_first, emit[0, g.cols], _NEG)
    after = np.full(len(g.last), _NEG)  # silence after each phrase's last letter
    for t in range(1, len(emit)):
        prev = np.concatenate([[_NEG], chain[:-1]])[: len(chain)]
        prev[~g.has_prev] = _NEG
        prev[g.is_first] = before
        skip = np.concatenate([[_NEG, _NEG], chain[:-2]])[: len(chain)]
        skip[~g.skip] = _NEG
        after = np.maximum(after, chain[g.last]) + gap[t]
        chain = np.maximum(np.maximum(chain, prev), skip) + emit[t, g.cols]
        before = before + gap[t]
    return np.maximum(chain[g.last], after)


def _filler_score(g: PhraseGrammar, emit: np.ndarray) -> float:
    """Viterbi score of ``gap* [unk] gap*`` over ``emit``: one filler word with silence around it."""
    gap, letter, blank = emit[:, g.gap_col], emit[:, g.unk_col], emit[:, g.blank_col]
    before, inside, between, after = gap[0], letter[0] - UNK_ENTRY, _NEG, _NEG
    for t in range(1, len(emit)):
        before, inside, between, after = (
            before + gap[t],
            max(before - UNK_ENTRY, inside, between) + letter[t],
            max(between, inside) + blank[t],
            max(after, inside) + gap[t],
        )
    return float(max(inside, after))
