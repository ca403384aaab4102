"""Hotwords on the demo model: rare names and terms recalled, and what a list of them costs elsewhere.

    python bench/eval_hotwords.py [--boosts 1.5 2 2.5 3] [--lm demo]

Speaks each rare term of bench/data/hotwords.json (surnames, places, products, technical terms the
demo model never heard) in two everyday carrier sentences, in voices kept out of training
(``training.synth.HELDOUT_VOICES``), and decodes them offline greedily and by beam search with the
language model, each without hotwords and with all 100 terms and distractors loaded as hotwords:
term recall (the term's words, in order, in the transcript). Then decodes held-out sentences that contain none of
them (``training.corpus.heldout_sentences``, as bench/eval_demo_model.py) with and without the same
100 hotwords: false insertions (a hotword in the transcript that the reference lacks) per 1,000
reference words, and WER. The same again with sounds-like spellings for every hotword, learned the
way a user could learn them: each hotword spoken alone by espeak-ng in three training voices
(``SOUNDS_LIKE_VOICES``, none of the held-out ones) and transcribed greedily by the model; what it
writes, where that differs from the spelling and has at least ``SOUNDS_LIKE_MIN_LETTERS`` letters,
is a sounds-like spelling. The same synthesizer speaks
the test sentences, so these rows are the most such spellings can do, not what a user's recordings
would. Writes bench/results/hotwords.json.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from common import cpu_name, write_results  # noqa: E402
from eval_demo_model import load_with_voices  # noqa: E402

from model import load_model, transcribe  # noqa: E402
from model.decoding import BeamSearchDecoder, GreedyDecoder, Hotword  # noqa: E402
from model.hotwords import HotwordSpotter, check_hotwords  # noqa: E402
from streamer.wire.units import FRAME_SECONDS  # noqa: E402
from model.lm import load_language_model  # noqa: E402
from training.corpus import heldout_sentences, normalize_text  # noqa: E402
from training.metrics import cer, wer  # noqa: E402
from training.speech import trim  # noqa: E402
from training.synth import (  # noqa: E402
    HELDOUT_LANGUAGE_VOICES,
    HELDOUT_VARIANTS,
    HELDOUT_VOICES,
    Voice,
    build_dataset,
    synthesize,
)

DATA = ROOT / "bench" / "data" / "hotwords.json"
CARRIERS_PER_TERM = 2
SOUNDS_LIKE_MIN_LETTERS = 6  # chosen on the development set (bench/tune_hotwords.py)
SOUNDS_LIKE_VOICES = (Voice("en-us", None, 160, 50), Voice("en-gb", "f2", 150, 40), Voice("en-gb-scotland", "m3", 170, 60))
assert not {v.name for v in SOUNDS_LIKE_VOICES} & set(HELDOUT_LANGUAGE_VOICES), "a held-out accent"
assert not {v.variant for v in SOUNDS_LIKE_VOICES} & set(HELDOUT_VARIANTS), "a held-out variant"


def term_sentences(data: dict) -> list[tuple[str, str]]:
    """(sentence, term) pairs: each term in ``CARRIERS_PER_TERM`` carriers, taken in rotation."""
    carriers = data["carriers"]
    pairs = []
    for i, term in enumerate(data["terms"]):
        for k in range(CARRIERS_PER_TERM):
            carrier = carriers[(CARRIERS_PER_TERM * i + k) % len(carriers)]
            pairs.append((normalize_text(carrier.format(term)), normalize_text(term)))
    return pairs


@torch.inference_mode()
def all_logits(model, clips: list[np.ndarray]) -> list[torch.Tensor]:
    """Each clip's logits, one offline forward per clip (as ``model.transcribe`` decodes them)."""
    return [model(torch.from_numpy(model.front(clip))[None].to(model.device))[0].float() for clip in clips]


def contains(text: str, phrase: str) -> int:
    """How many times ``phrase``'s words occur, in order, among ``text``'s words."""
    words, target = text.split(), phrase.split()
    return sum(words[i : i + len(target)] == target for i in range(len(words) - len(target) + 1))


def decode_all(decoder, logits: list[torch.Tensor]) -> tuple[list[str], float]:
    start = time.process_time()
    texts = [decoder.decode(x).text for x in logits]
    return texts, time.process_time() - start


def learned_sounds_like(model, phrases: list[str], min_letters: int = SOUNDS_LIKE_MIN_LETTERS) -> dict[str, tuple[str, ...]]:
    """What the model writes for each phrase spoken alone (half a second of silence either side) by
    each of ``SOUNDS_LIKE_VOICES``, where that differs from the phrase and has at least
    ``min_letters`` letters (shorter ones, such as NO AN for Nguyen, fit ordinary words): its
    sounds-like spellings."""
    silence = np.zeros(8_000, np.float32)
    learned = {}
    for phrase in phrases:
        heard = []
        for voice in SOUNDS_LIKE_VOICES:
            audio = np.concatenate([silence, trim(synthesize(phrase.lower(), voice)), silence])
            heard.append(transcribe(model, audio).text)
        letters = [h.replace(" ", "") for h in heard]
        kept = [h for h, x in zip(heard, letters) if len(x) >= min_letters and x != phrase.replace(" ", "")]
        learned[phrase] = tuple(dict.fromkeys(kept))
    return learned


def measure(decoder, term_logits, pairs, plain_logits, plain_refs, phrases) -> dict:
    """Term recall and WER on the term sentences; false insertions and WER on the plain ones."""
    term_hyps, term_cpu = decode_all(decoder, term_logits)
    plain_hyps, plain_cpu = decode_all(decoder, plain_logits)
    recalled = sum(contains(h, t) > 0 for h, (_, t) in zip(term_hyps, pairs))
    inserted = sum(max(0, contains(h, p) - contains(r, p)) for h, r in zip(plain_hyps, plain_refs) for p in phrases)
    frames = sum(len(x) for x in term_logits + plain_logits)
    return {
        "term_recall": round(recalled / len(pairs), 4),
        "term_sentences_wer": round(wer([s for s, _ in pairs], term_hyps), 4),
        "plain_wer": round(wer(plain_refs, plain_hyps), 4),
        "plain_cer": round(cer(plain_refs, plain_hyps), 4),
        "false_insertions_per_1000_words": round(1000 * inserted / sum(len(r.split()) for r in plain_refs), 3),
        "cpu_seconds_per_audio_second": round((term_cpu + plain_cpu) / (frames * FRAME_SECONDS), 4),
    }


def spotting_cost(vocab, logits: list[torch.Tensor], counts=(10, 100, 500), repeats: int = 3) -> dict:
    """CPU seconds per audio second of ``HotwordSpotter.spots`` alone over ``logits``, for lists of
    ``counts`` made-up hotwords of 5-12 letters (median of ``repeats``)."""
    letters = np.array(list("ABCDEFGHIJKLMNOPRSTUVWYZ"))
    generator = np.random.default_rng(3)
    log_probs = [torch.log_softmax(x, dim=-1).numpy() for x in logits]
    seconds = sum(len(x) for x in log_probs) * FRAME_SECONDS
    cost = {}
    for count in counts:
        names = ["".join(generator.choice(letters, generator.integers(5, 13))) for _ in range(count)]
        spotter = HotwordSpotter(check_hotwords([Hotword(n) for n in names], vocab), vocab)
        times = []
        for _ in range(repeats):
            start = time.process_time()
            for x in log_probs:
                spotter.spots(x)
            times.append(time.process_time() - start)
        cost[str(count)] = round(float(np.median(times)) / seconds, 4)
    return cost


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", default="demo")
    parser.add_argument("--lm", default="demo", help="the LM of the with-LM rows (default: %(default)s)")
    parser.add_argument("--boosts", type=float, nargs="+", default=[1.5, 2.0, 2.5, 3.0])
    parser.add_argument("--sentences", type=int, default=300, help="held-out sentences without any term")
    parser.add_argument("--cache", type=Path, default=Path.home() / ".cache" / "hubert-stream")
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "hotwords.json")
    args = parser.parse_args()
    torch.set_num_threads(1)
    data = json.loads(DATA.read_text())
    model = load_model(args.model, device="cpu", dtype="float32", lm=None)
    lm = load_language_model(args.lm)
    phrases = [normalize_text(t) for t in data["terms"] + data["distractors"]]

    pairs = term_sentences(data)
    spoken = load_with_voices(build_dataset([s for s, _ in pairs], HELDOUT_VOICES, args.cache / "eval-hotwords", seed=5))
    assert [t for _, t, _ in spoken] == [s for s, _ in pairs]
    plain = load_with_voices(
        build_dataset(heldout_sentences(args.sentences), HELDOUT_VOICES, args.cache / "eval-heldout_voices", seed=1)
    )
    assert not any(contains(text, p) for _, text, _ in plain for p in phrases), "a held-out sentence holds a term"
    term_logits, plain_logits = all_logits(model, [a for a, _, _ in spoken]), all_logits(model, [a for a, _, _ in plain])
    term_refs, plain_refs = [s for s, _ in pairs], [t for _, t, _ in plain]

    def row(name: str, decoder, boost: float | None = None) -> dict:
        result = {"decoder": name, "boost": boost, **measure(decoder, term_logits, pairs, plain_logits, plain_refs, phrases)}
        print(json.dumps(result), flush=True)
        return result

    vocab = model.vocab
    greedy, beam = GreedyDecoder(vocab), BeamSearchDecoder(vocab, lm)
    rows = [row("greedy", greedy), row("beam, LM", beam)]
    for boost in args.boosts:
        hotwords = [Hotword(p, boost) for p in phrases]
        rows.append(row("greedy, hotwords", greedy.with_hotwords(hotwords), boost))
        rows.append(row("beam, LM, hotwords", beam.with_hotwords(hotwords), boost))
    sounds_like = learned_sounds_like(model, phrases)
    for boost in args.boosts:
        hotwords = [Hotword(p, boost, sounds_like[p]) for p in phrases]
        rows.append(row("greedy, hotwords + learned sounds-like", greedy.with_hotwords(hotwords), boost))
        rows.append(row("beam, LM, hotwords + learned sounds-like", beam.with_hotwords(hotwords), boost))
    examples = []
    decoder = beam.with_hotwords([Hotword(p) for p in phrases])
    for i in range(0, len(pairs), len(pairs) // 8):
        examples.append(
            {"ref": term_refs[i], "greedy": greedy.decode(term_logits[i]).text, "lm_hotwords": decoder.decode(term_logits[i]).text}
        )
    spotting = spotting_cost(vocab, plain_logits[:100])
    print(json.dumps({"spotting_cpu_seconds_per_audio_second": spotting}), flush=True)
    write_results(
        args.out,
        {
            "model": args.model,
            "lm": str(lm.path.relative_to(ROOT) if lm.path.is_relative_to(ROOT) else lm.path),
            "cpu": cpu_name(),
            "torch_threads": 1,
            "terms": len(data["terms"]),
            "hotwords_loaded": len(phrases),
            "term_sentences": len(pairs),
            "plain_sentences": len(plain),
            "plain_reference_words": sum(len(r.split()) for r in plain_refs),
            "rows": rows,
            "spotting_cpu_seconds_per_audio_second_by_hotwords": spotting,
            "sounds_like_voices": [v.label for v in SOUNDS_LIKE_VOICES],
            "sounds_like": {p: list(v) for p, v in sounds_like.items()},
            "examples": examples,
        },
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
