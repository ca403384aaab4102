"""The demo model with the demo LM on held-out voices and sentences: offline and streamed finals.

    python bench/eval_lm.py [--sentences 300] [--lm demo]

The test set of bench/eval_demo_model.py (``training.corpus.heldout_sentences(300)`` spoken by
``training.synth.HELDOUT_VOICES``) decoded:

- offline (``model.transcribe``), greedy and by beam search without and with the LM: CER and WER;
- streamed through the live ``Recognizer`` (default config, 0.1 s blocks), finals greedy and with
  the LM: CER and WER, to compare with offline decoding with the LM;
- what beam-searched partials would cost: the live stream's segment so far decoded with the LM at
  every hop (0.3 s), CPU per audio second, beside greedy partials' cost (the stitcher's, measured
  as the whole live stream's CPU less the final passes' decodes would be misleading, so the same
  prefixes are decoded greedily instead).

One torch thread; CPU time is this thread's. Writes bench/results/demo_lm.json.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from common import cpu_name, write_results  # noqa: E402
from eval_demo_model import load_with_voices  # noqa: E402
from eval_hotwords import all_logits  # noqa: E402

from model import load_model, transcribe  # noqa: E402
from model.decoding import BeamSearchDecoder, GreedyDecoder  # noqa: E402
from model.lm import load_language_model  # noqa: E402
from streamer import Recognizer, StreamingConfig  # noqa: E402
from streamer.wire.events import Final  # noqa: E402
from training.corpus import heldout_sentences  # noqa: E402
from training.metrics import cer, wer  # noqa: E402
from training.synth import HELDOUT_VOICES, build_dataset  # noqa: E402

BLOCK = 1_600  # 0.1 s


def scores(refs: list[str], hyps: list[str]) -> dict:
    return {"cer": round(cer(refs, hyps), 4), "wer": round(wer(refs, hyps), 4)}


def streamed(model, clips, decoder) -> list[str]:
    """Each clip streamed alone through the live recognizer: its finals' texts joined."""
    texts = []
    for clip in clips:
        recognizer = Recognizer(model, StreamingConfig(), decoder=decoder)
        events = []
        for start in range(0, len(clip), BLOCK):
            events += recognizer.accept(clip[start : start + BLOCK])
        events += recognizer.close()
        texts.append(" ".join(e.text for e in events if isinstance(e, Final)))
    return texts


def partial_cost(logits: list[torch.Tensor], decoder, hop_frames: int) -> float:
    """CPU seconds to decode every clip's growing prefix once per hop, per audio second."""
    start = time.thread_time()
    for x in logits:
        for end in range(hop_frames, x.shape[0] + hop_frames, hop_frames):
            decoder.decode(x[:end])
    return (time.thread_time() - start) / (sum(x.shape[0] for x in logits) * 0.02)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sentences", type=int, default=300)
    parser.add_argument("--lm", default="demo")
    parser.add_argument("--cache", type=Path, default=Path.home() / ".cache" / "hubert-stream")
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "demo_lm.json")
    args = parser.parse_args()
    torch.set_num_threads(1)
    model = load_model("demo", device="cpu", lm=None)
    lm = load_language_model(args.lm)
    items = load_with_voices(
        build_dataset(heldout_sentences(args.sentences), HELDOUT_VOICES, args.cache / "eval-heldout_voices", seed=1)
    )
    clips, refs = [a for a, _, _ in items], [t for _, t, _ in items]
    greedy, plain_beam, with_lm = GreedyDecoder(model.vocab), BeamSearchDecoder(model.vocab), BeamSearchDecoder(model.vocab, lm)
    results: dict = {
        "model": "demo",
        "lm": args.lm,
        "lm_weight": lm.lm_weight,
        "word_score": lm.word_score,
        "cpu": cpu_name(),
        "torch_threads": 1,
        "sentences": len(items),
        "audio_seconds": round(sum(len(c) for c in clips) / 16_000, 1),
    }
    for name, decoder in (("greedy", greedy), ("beam, no LM", plain_beam), ("beam, LM", with_lm)):
        hyps = [t.text for t in transcribe(model, clips, batch_size=16, decoder=decoder)]
        results[f"offline, {name}"] = scores(refs, hyps)
        print(name, results[f"offline, {name}"], flush=True)
    for name, decoder in (("greedy", greedy), ("beam, LM", with_lm)):
        results[f"streamed, {name}"] = scores(refs, streamed(model, clips, decoder))
        print("streamed", name, results[f"streamed, {name}"], flush=True)
    offline_greedy, offline_lm = results["offline, greedy"], results["offline, beam, LM"]
    results["wer_relative_reduction"] = round(1 - offline_lm["wer"] / offline_greedy["wer"], 4)
    results["streamed_minus_offline_cer_points_with_lm"] = round(100 * (results["streamed, beam, LM"]["cer"] - offline_lm["cer"]), 2)
    logits = all_logits(model, clips[:100])
    hop = StreamingConfig().hop_frames
    results["partials_cpu_s_per_audio_s"] = {
        "greedy prefix per hop": round(partial_cost(logits, greedy, hop), 4),
        "beam with LM prefix per hop": round(partial_cost(logits, with_lm, hop), 4),
        "utterances": len(logits),
    }
    print(json.dumps(results["partials_cpu_s_per_audio_s"]), flush=True)
    write_results(args.out, results)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
