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
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from pathlib import Path

__all__ = ["estimate", "write_arpa", "write_language_model"]

BOS, EOS, UNK = "<s>", "</s>", "<unk>"
ARPA_NAME = "lm.arpa"
NO_PROB = -99.0  # log10 probability ARPA files give <s>, which is never predicted
DEFAULT_ATTRS = {"alpha": 0.5, "beta": 1.0, "unk_score_offset": -10.0, "score_boundary": True}

Gram = tuple[str, ...]


def _discounts(counts: Iterable[int]) -> tuple[float, float, float]:
    """Modified Kneser-Ney discounts D1, D2, D3+ from the count-of-counts of one order."""
    n = Counter(min(c, 4) for c in counts)
    n1, n2, n3, n4 = (n.get(i, 0) for i in (1, 2, 3, 4))
    if not (n1 and n2 and n3 and n4):  # too little text for the estimate: a plain absolute discount
        return 0.5, 0.75, 0.9
    y = n1 / (n1 + 2 * n2)
    return tuple(max(0.0, min(i, i - (i + 1) * y * nn / n)) for i, n, nn in ((1, n1, n2), (2, n2, n3), (3, n3, n4)))


def estimate(sentences: Iterable[Sequence[str]], order: int) -> list[dict[Gram, tuple[float, float]]]:
    """Per order, every n-gram seen: (log10 probability, log10 backoff weight).

    ``sentences``: each a sequence of words (``<s>`` and ``</s>`` are added).
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
    for n in range(1, order + 1):
        for gram, p in probs[n].items():
            log_p = NO_PROB if gram == (BOS,) else math.log10(p)
            bo = backoffs[n].get(gram)
            models[n][gram] = (log_p, math.log10(bo) if bo else 0.0)
    return models[1:]


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


def write_language_model(sentences: Sequence[str], folder: Path, order: int = 3) -> Path:
    """Estimate an n-gram model of ``sentences`` and write the ``Wav2Vec2ProcessorWithLM`` layout."""
    models = estimate((s.split() for s in sentences), order)
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
    parser.add_argument("--out", type=Path, default=Path("model/demo/language_model"))
    args = parser.parse_args()
    folder = write_language_model(training_sentences(args.sentences), args.out, args.order)
    size = sum(f.stat().st_size for f in folder.iterdir())
    print(f"wrote {folder} ({size / 1e6:.1f} MB)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
