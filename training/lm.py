"""A word n-gram language model for the demo: interpolated modified Kneser-Ney, written as ARPA.

    python -m training.lm [--sentences 40000] [--order 3] [--out model/demo/language_model]

KenLM's estimator (``lmplz``) is not installable everywhere, so the demo's model is estimated here:
interpolated modified Kneser-Ney (Chen and Goodman 1998, three discounts per order from the
count-of-counts), lower orders on continuation counts (n-grams that start with ``<s>`` keep their
own counts, as in KenLM), unigrams interpolated with the uniform distribution, so ``<unk>`` gets
the leftover mass. The output is a plain ARPA file, which KenLM and every decoder built on it read.

The text is ``training.corpus.training_sentences``, the sentences the demo acoustic model was
trained on; held-out sentences never reach it (the corpus keeps the two splits disjoint by a hash
of each sentence). The folder written is the ``Wav2Vec2ProcessorWithLM`` layout: ``attrs.json``
(the weights the decoder starts from), ``unigrams.txt`` and the ARPA file.
"""

from __future__ import annotations

import argparse
import json
import math
import re
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from pathlib import Path

__all__ = ["estimate", "wordnet_examples", "write_arpa", "write_language_model"]

BOS, EOS, UNK = "<s>", "</s>", "<unk>"
ARPA_NAME = "lm.arpa"
FALLBACK_DISCOUNTS = (0.5, 1.0, 1.5)  # KenLM's --discount_fallback
NO_PROB = -99.0  # log10 probability ARPA files give <s>, which is never predicted
DEFAULT_ATTRS = {"alpha": 0.5, "beta": 1.0, "unk_score_offset": -10.0, "score_boundary": True}

WORDNET_FILES = ("data.noun", "data.verb", "data.adj", "data.adv")
MIN_EXAMPLE_WORDS = 3  # shorter WordNet examples are phrases ("bid farewell"), not sentences

Gram = tuple[str, ...]


def _discounts(counts: Iterable[int]) -> tuple[float, float, float]:
    """Modified Kneser-Ney discounts D1, D2, D3+ from the count-of-counts of one order.

    Where the count-of-counts give a discount outside (0, its count) (too little or too regular
    text), KenLM's ``--discount_fallback`` values are used instead.
    """
    n = Counter(c for c in counts if c <= 4)
    n1, n2, n3, n4 = (n.get(i, 0) for i in (1, 2, 3, 4))
    if n1 and n2 and n3 and n4:
        y = n1 / (n1 + 2 * n2)
        found = tuple(i - (i + 1) * y * nn / n for i, n, nn in ((1, n1, n2), (2, n2, n3), (3, n3, n4)))
        if all(0 < d < i for i, d in enumerate(found, 1)):
            return found
    return FALLBACK_DISCOUNTS


def estimate(
    sentences: Iterable[Sequence[str]], order: int, prune: int = 1
) -> list[dict[Gram, tuple[float, float]]]:
    """Per order, every n-gram kept: (log10 probability, log10 backoff weight).

    ``sentences``: each a sequence of words (``<s>`` and ``</s>`` are added). ``prune``: n-grams of
    order 2 and up seen fewer times are dropped (as KenLM's ``--prune``), and the backoff weights of
    their contexts recomputed so that every context's probabilities still sum to one.
    """
    if order < 1:
        raise ValueError(f"order must be at least 1, got {order}")
    raw: list[Counter[Gram]] = [Counter() for _ in range(order + 1)]
    for words in sentences:
        padded = (BOS, *words, EOS)
        for n in range(1, order + 1):
            raw[n].update(padded[i : i + n] for i in range(len(padded) - n + 1))
    del raw[1][(BOS,)]
    # The top order keeps its counts; a lower order counts the distinct words seen before each
    # n-gram (how many contexts it continues), except n-grams at the sentence start, which have none.
    counts: list[Counter[Gram]] = [Counter() for _ in range(order + 1)]
    counts[order] = raw[order]
    for n in range(order - 1, 0, -1):
        for gram in raw[n + 1]:
            if gram[1] != BOS:
                counts[n][gram[1:]] += 1
        for gram, c in raw[n].items():
            if gram[0] == BOS:
                counts[n][gram] = c
    vocab = {g[0] for g in counts[1]} | {UNK}
    models: list[dict[Gram, tuple[float, float]]] = [{} for _ in range(order + 1)]
    probs: list[dict[Gram, float]] = [{} for _ in range(order + 1)]
    backoffs: list[dict[Gram, float]] = [{} for _ in range(order + 1)]
    for n in range(1, order + 1):
        d = _discounts(counts[n].values())
        by_context: dict[Gram, list[tuple[Gram, int]]] = defaultdict(list)
        for gram, c in counts[n].items():
            by_context[gram[:-1]].append((gram, c))
        for context, grams in by_context.items():
            total = sum(c for _, c in grams)
            kept = sum(d[min(c, 3) - 1] for _, c in grams)
            gamma = kept / total
            for gram, c in grams:
                lower = 1.0 / len(vocab) if n == 1 else _prob(probs, backoffs, gram[1:])
                probs[n][gram] = (c - d[min(c, 3) - 1]) / total + gamma * lower
            if n > 1:
                backoffs[n - 1][context] = gamma
            else:
                probs[1][(UNK,)] = probs[1].get((UNK,), 0.0) + gamma / len(vocab)
    probs[1][(BOS,)] = 0.0
    if prune > 1:
        _prune(probs, backoffs, raw, prune)
    for n in range(1, order + 1):
        for gram, p in probs[n].items():
            log_p = NO_PROB if gram == (BOS,) else math.log10(p)
            bo = backoffs[n].get(gram)
            models[n][gram] = (log_p, math.log10(bo) if bo else 0.0)
    return models[1:]


def _prune(probs: list[dict[Gram, float]], backoffs: list[dict[Gram, float]], raw: list[Counter[Gram]], least: int) -> None:
    """Drop n-grams (order 2 and up) seen fewer than ``least`` times, keeping the prefixes and suffixes
    of those kept (an ARPA file needs them), and renormalize the backoff weights."""
    order = len(probs) - 1
    for n in range(order, 1, -1):  # top down: a kept n-gram keeps its prefix and suffix below it
        needed = {part for gram in probs[n + 1] for part in (gram[:-1], gram[1:])} if n < order else set()
        for gram in list(probs[n]):
            if raw[n][gram] < least and gram not in needed:
                del probs[n][gram]
        for context in list(backoffs[n]):
            if context not in probs[n]:
                del backoffs[n][context]
    for n in range(2, order + 1):  # lower orders first: a context's weight needs the pruned order below
        kept: dict[Gram, list[Gram]] = defaultdict(list)
        for gram in probs[n]:
            kept[gram[:-1]].append(gram)
        for context in backoffs[n - 1]:
            grams = kept.get(context, [])
            numerator = 1.0 - sum(probs[n][g] for g in grams)
            denominator = 1.0 - sum(_prob(probs, backoffs, g[1:]) for g in grams)
            backoffs[n - 1][context] = max(numerator, 1e-12) / max(denominator, 1e-12)


def _prob(probs: list[dict[Gram, float]], backoffs: list[dict[Gram, float]], gram: Gram) -> float:
    """P(last word | the words before), backing off through shorter contexts."""
    weight = 1.0
    while gram:
        p = probs[len(gram)].get(gram)
        if p is not None:
            return weight * p
        weight *= backoffs[len(gram) - 1].get(gram[:-1], 1.0)
        gram = gram[1:]
    return weight * probs[1][(UNK,)]


def write_arpa(models: list[dict[Gram, tuple[float, float]]], path: Path) -> None:
    """Write ``estimate``'s n-grams as an ARPA file."""
    with open(path, "w", encoding="utf-8") as out:
        out.write("\\data\\\n")
        for n, grams in enumerate(models, 1):
            out.write(f"ngram {n}={len(grams)}\n")
        for n, grams in enumerate(models, 1):
            out.write(f"\n\\{n}-grams:\n")
            for gram in sorted(grams):
                log_p, log_bo = grams[gram]
                backoff = f"\t{log_bo:.6f}" if n < len(models) else ""
                out.write(f"{log_p:.6f}\t{' '.join(gram)}{backoff}\n")
        out.write("\n\\end\\\n")


def wordnet_examples(folder: Path) -> list[str]:
    """The example sentences of WordNet 3.0's glosses (the quoted parts), normalized, in file order.

    ``folder`` holds WordNet's ``data.noun``, ``data.verb``, ``data.adj`` and ``data.adv`` (Debian's
    ``wordnet-base`` package puts them in /usr/share/wordnet).
    """
    from training.corpus import normalize_text

    sentences = []
    for part in WORDNET_FILES:
        path = folder / part
        if not path.is_file():
            raise FileNotFoundError(f"{path} is missing: install Debian's wordnet-base or give its folder")
        for line in path.read_text(encoding="latin-1").splitlines():
            if line.startswith(" ") or "|" not in line:  # the licence header, or not a synset
                continue
            for example in re.findall(r'"([^"]+)"', line.split("|", 1)[1]):
                sentence = normalize_text(example)
                if sentence.count(" ") + 1 >= MIN_EXAMPLE_WORDS:
                    sentences.append(sentence)
    return sentences


def write_language_model(sentences: Sequence[str], folder: Path, order: int = 3, prune: int = 1) -> Path:
    """Estimate an n-gram model of ``sentences`` and write the ``Wav2Vec2ProcessorWithLM`` layout."""
    models = estimate((s.split() for s in sentences), order, prune)
    folder.mkdir(parents=True, exist_ok=True)
    write_arpa(models, folder / ARPA_NAME)
    words = sorted(g[0] for g in models[0] if g[0] not in (BOS, EOS, UNK))
    (folder / "unigrams.txt").write_text("\n".join(words) + "\n", encoding="utf-8")
    (folder / "attrs.json").write_text(json.dumps(DEFAULT_ATTRS, indent=2) + "\n", encoding="utf-8")
    return folder


def main() -> int:
    from training.corpus import training_sentences

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sentences", type=int, default=40_000, help="training sentences (default: %(default)s)")
    parser.add_argument("--order", type=int, default=3, help="n-gram order (default: %(default)s)")
    parser.add_argument(
        "--prune", type=int, default=1, metavar="N",
        help="drop n-grams of order 2 and up seen fewer than N times (default: %(default)s, none)",
    )  # fmt: skip
    parser.add_argument(
        "--wordnet", type=Path, metavar="DIR",
        help="also learn from WordNet 3.0's example sentences in DIR (e.g. /usr/share/wordnet from Debian's wordnet-base)",
    )  # fmt: skip
    parser.add_argument("--out", type=Path, default=Path("model/demo/language_model"))
    args = parser.parse_args()
    sentences = training_sentences(args.sentences)
    if args.wordnet is not None:
        sentences += wordnet_examples(args.wordnet)
    folder = write_language_model(sentences, args.out, args.order, args.prune)
    size = sum(f.stat().st_size for f in folder.iterdir())
    print(f"wrote {folder} ({size / 1e6:.1f} MB)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
