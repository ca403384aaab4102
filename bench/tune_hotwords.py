"""Choose the hotword spotter's settings on a development set, never on the test set.

    python bench/tune_hotwords.py [--boosts 1.5 2 2.5 3] [--word-break-costs 0 0.5 1 2 inf] [--shares 0.4 0.5 0.6 0.75 1]
                                  [--min-letters 0 5 6 7]

Development set: the rare names and terms of bench/data/hotwords_dev.json (other names, other
carrier sentences than bench/data/hotwords.json, the test set of bench/eval_hotwords.py), spoken
by the held-out voices with another seed, and bench/tune_lm.py's development sentences, which hold
none of them. Every (boost, word-break cost) is scored greedily and with the demo LM as
bench/eval_hotwords.py scores it: term recall, false insertions per 1,000 words, WER. Then, with
sounds-like spellings learned as bench/eval_hotwords.py learns them, the share of the boost they are
searched at and the fewest letters a learned spelling must have, at the default boost. Writes bench/results/hotword_tuning.json.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from common import cpu_name, write_results  # noqa: E402
from eval_demo_model import load_with_voices  # noqa: E402
from eval_hotwords import all_logits, contains, learned_sounds_like, measure, term_sentences  # noqa: E402
from tune_lm import development_set  # noqa: E402

from model import load_model  # noqa: E402
from model.decoding import BeamSearchDecoder, GreedyDecoder, Hotword  # noqa: E402
from model.hotwords import DEFAULT_BOOST, HotwordSpotter  # noqa: E402
from model.lm import load_language_model  # noqa: E402
from training.corpus import normalize_text  # noqa: E402
from training.synth import HELDOUT_VOICES, build_dataset  # noqa: E402

DATA = ROOT / "bench" / "data" / "hotwords_dev.json"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--boosts", type=float, nargs="+", default=[1.5, 2.0, 2.5, 3.0])
    parser.add_argument("--word-break-costs", type=float, nargs="+", default=[0.0, 0.5, 1.0, 2.0, float("inf")])
    parser.add_argument("--shares", type=float, nargs="+", default=[0.4, 0.5, 0.6, 0.75, 1.0])
    parser.add_argument("--min-letters", type=int, nargs="+", default=[0, 5, 6, 7])
    parser.add_argument("--cache", type=Path, default=Path.home() / ".cache" / "hubert-stream")
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "hotword_tuning.json")
    args = parser.parse_args()
    torch.set_num_threads(1)
    data = json.loads(DATA.read_text())
    model = load_model("demo", device="cpu", dtype="float32", lm=None)
    phrases = [normalize_text(t) for t in data["terms"] + data["distractors"]]
    pairs = term_sentences(data)
    spoken = load_with_voices(build_dataset([s for s, _ in pairs], HELDOUT_VOICES, args.cache / "dev-hotwords", seed=11))
    plain = development_set(args.cache)
    assert not any(contains(text, p) for _, text, _ in plain for p in phrases), "a development sentence holds a term"
    term_logits, plain_logits = all_logits(model, [a for a, _, _ in spoken]), all_logits(model, [a for a, _, _ in plain])
    plain_refs = [t for _, t, _ in plain]
    bases = {"greedy": GreedyDecoder(model.vocab), "beam, LM": BeamSearchDecoder(model.vocab, load_language_model("demo"))}
    rows = []
    for name, base in bases.items():
        for cost in args.word_break_costs:
            for boost in args.boosts:
                decoder = base.with_hotwords([Hotword(p, boost) for p in phrases])
                decoder.spotter = HotwordSpotter(decoder.hotwords, model.vocab, word_break_cost=cost)
                row = {"decoder": name, "word_break_cost": cost if cost != float("inf") else None, "boost": boost}
                row.update(measure(decoder, term_logits, pairs, plain_logits, plain_refs, phrases))
                print(json.dumps(row), flush=True)
                rows.append(row)
    learned = {least: learned_sounds_like(model, phrases, least) for least in args.min_letters}
    for name, base in bases.items():
        for least, sounds_like in learned.items():
            for share in args.shares:
                decoder = base.with_hotwords([Hotword(p, DEFAULT_BOOST, sounds_like[p]) for p in phrases])
                decoder.spotter = HotwordSpotter(decoder.hotwords, model.vocab, sounds_like_share=share)
                row = {"decoder": name, "boost": DEFAULT_BOOST, "sounds_like_min_letters": least, "sounds_like_share": share}
                row.update(measure(decoder, term_logits, pairs, plain_logits, plain_refs, phrases))
                print(json.dumps(row), flush=True)
                rows.append(row)
    write_results(
        args.out,
        {
            "model": "demo",
            "cpu": cpu_name(),
            "terms": len(data["terms"]),
            "hotwords_loaded": len(phrases),
            "term_sentences": len(pairs),
            "plain_sentences": len(plain),
            "plain_reference_words": sum(len(r.split()) for r in plain_refs),
            "word_break_cost_none": "no word break inside a hotword (infinite cost)",
            "rows": rows,
        },
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
