"""Held-out accuracy of the bundled demo model.

    python bench/eval_demo_model.py [--model demo] [--sentences 300]

Scores greedy offline transcription on sentences never seen in training
(``training.corpus.heldout_sentences``), spoken by voices kept out of training
(``training.synth.HELDOUT_VOICES``: an unseen accent, or an unseen variant, or
both), and, for comparison, the same held-out sentences in training voices. A third
row adds white noise at 20 dB SNR to the held-out voices, to show the model is not brittle.
Writes bench/results/demo_model.json.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import defaultdict
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from common import write_results  # noqa: E402

from model import load_model  # noqa: E402
from training.corpus import heldout_sentences  # noqa: E402
from training.metrics import cer, wer  # noqa: E402
from training.synth import HELDOUT_LANGUAGE_VOICES, HELDOUT_VOICES, TRAIN_VOICES, build_dataset  # noqa: E402
from training.train import add_white_noise  # noqa: E402

NOISE_SNR_DB = 20.0


def load_with_voices(folder: Path) -> list[tuple[np.ndarray, str, str]]:
    """(audio, text, voice label) for every utterance of a synth dataset."""
    manifest = json.loads((folder / "manifest.json").read_text())
    items = []
    for name in manifest["shards"]:
        with np.load(folder / name) as shard:
            offsets = shard["offsets"]
            for i, (text, voice) in enumerate(zip(shard["texts"], shard["voices"])):
                audio = shard["audio"][offsets[i] : offsets[i + 1]].astype(np.float32) / 32768.0
                items.append((audio, str(text), str(voice)))
    return items


def with_noise(items, snr_db: float, seed: int = 0):
    """The same utterances with white noise at ``snr_db`` (a fixed seed, so runs compare)."""
    generator = np.random.default_rng(seed)
    return [(add_white_noise(audio, snr_db, generator), text, voice) for audio, text, voice in items]


def score(model, items) -> dict:
    hyps = [t.text for t in model.transcribe([a for a, _, _ in items], batch_size=16)]
    refs = [text for _, text, _ in items]
    return {"utterances": len(items), "cer": round(cer(refs, hyps), 4), "wer": round(wer(refs, hyps), 4)}, hyps


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", default="demo")
    parser.add_argument("--sentences", type=int, default=300)
    parser.add_argument("--cache", type=Path, default=Path.home() / ".cache" / "hubert-stream")
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "demo_model.json")
    args = parser.parse_args()
    torch.set_num_threads(2)
    model = load_model(args.model, device="cpu")
    sentences = heldout_sentences(args.sentences)
    results = {"model": args.model, "sentences": len(sentences)}
    examples = []
    for name, voices, seed in (("heldout_voices", HELDOUT_VOICES, 1), ("training_voices", TRAIN_VOICES, 2)):
        items = load_with_voices(build_dataset(sentences, voices, args.cache / f"eval-{name}", seed=seed))
        summary, hyps = score(model, items)
        groups = defaultdict(list)
        for (audio, text, voice), hyp in zip(items, hyps):
            unseen_accent = voice.split("+")[0] in HELDOUT_LANGUAGE_VOICES
            groups["unseen accent" if unseen_accent else "unseen variant, seen accent"].append((text, hyp))
        if name == "heldout_voices":
            summary["by_voice"] = {
                k: {"utterances": len(v), "cer": round(cer(*zip(*v)), 4), "wer": round(wer(*zip(*v)), 4)}
                for k, v in sorted(groups.items())
            }
            examples = [{"voice": v, "ref": t, "hyp": h} for (_, t, v), h in list(zip(items, hyps))[:8]]
        results[name] = summary
        print(f"{name}: {json.dumps(summary)}", flush=True)
        if name == "heldout_voices":
            noisy, _ = score(model, with_noise(items, NOISE_SNR_DB))
            results[f"heldout_voices_noise_{NOISE_SNR_DB:g}db"] = noisy
            print(f"heldout_voices with white noise at {NOISE_SNR_DB:g} dB SNR: {json.dumps(noisy)}", flush=True)
    results["examples"] = examples
    write_results(args.out, results)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
