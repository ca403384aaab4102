"""Choose the demo LM and its weights on a development set, never on the test sentences.

    python bench/tune_lm.py LM_FOLDER [LM_FOLDER ...] [--weights 1.5 2 2.5] [--word-scores 0 1 1.5]

Development set: held-out sentences of another seed (``training.corpus.heldout_sentences(seed=7)``,
less any that bench/eval_lm.py tests on), spoken by the held-out voices with another seed. Every LM
is scored at every (lm_weight, word_score) by offline beam search over the same logits. Writes
bench/results/lm_tuning.json.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from common import write_results  # noqa: E402
from eval_demo_model import load_with_voices  # noqa: E402
from eval_hotwords import all_logits  # noqa: E402

from model import load_model  # noqa: E402
from model.decoding import BeamSearchDecoder, GreedyDecoder  # noqa: E402
from model.lm import load_language_model  # noqa: E402
from training.corpus import heldout_sentences  # noqa: E402
from training.metrics import cer, wer  # noqa: E402
from training.synth import HELDOUT_VOICES, build_dataset  # noqa: E402

TEST_SENTENCES = 300  # bench/eval_lm.py's test set: kept out of the development set
DEV_SENTENCES = 150


def development_set(cache: Path) -> list[tuple]:
    """(audio, text, voice) of the development sentences (also bench/tune_hotwords.py's)."""
    test = set(heldout_sentences(TEST_SENTENCES))
    dev = [s for s in heldout_sentences(2 * DEV_SENTENCES, seed=7) if s not in test][:DEV_SENTENCES]
    return load_with_voices(build_dataset(dev, HELDOUT_VOICES, cache / "dev-heldout", seed=3))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("lms", nargs="+", type=Path)
    parser.add_argument("--weights", type=float, nargs="+", default=[1.5, 2.0, 2.5])
    parser.add_argument("--word-scores", type=float, nargs="+", default=[0.0, 1.0, 1.5])
    parser.add_argument("--cache", type=Path, default=Path.home() / ".cache" / "hubert-stream")
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "lm_tuning.json")
    args = parser.parse_args()
    torch.set_num_threads(1)
    model = load_model("demo", device="cpu", dtype="float32", lm=None)
    items = development_set(args.cache)
    logits, refs = all_logits(model, [a for a, _, _ in items]), [t for _, t, _ in items]
    greedy = [GreedyDecoder(model.vocab).decode(x).text for x in logits]
    results = {"dev_sentences": len(refs), "greedy": {"cer": round(cer(refs, greedy), 4), "wer": round(wer(refs, greedy), 4)}}
    rows = []
    for folder in args.lms:
        size = sum(f.stat().st_size for f in folder.iterdir())
        for weight in args.weights:
            for word_score in args.word_scores:
                decoder = BeamSearchDecoder(model.vocab, load_language_model(folder, weight, word_score))
                hyps = [decoder.decode(x).text for x in logits]
                row = {
                    "lm": folder.name,
                    "megabytes": round(size / 1e6, 1),
                    "lm_weight": weight,
                    "word_score": word_score,
                    "cer": round(cer(refs, hyps), 4),
                    "wer": round(wer(refs, hyps), 4),
                }
                print(json.dumps(row), flush=True)
                rows.append(row)
    results["rows"] = rows
    write_results(args.out, results)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
