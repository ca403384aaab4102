"""Cost and accuracy of the phrase-list grammar (Vosk's ``phrase_list``) on the demo model.

    python bench/bench_grammar.py [--sizes 20,60,120] [--spoken 20] [--unlisted 10]

Phrase lists of held-out corpus sentences (up to 100 characters, so each is a long phrase: the
search's states grow with the list's letters), with ``[unk]``; the largest list is cut to the
Vosk dialect's bound on a list's characters. ``--spoken`` of the listed phrases
and ``--unlisted`` other held-out sentences are spoken by espeak-ng (the held-out voice of
``training.speech``); each is decoded offline once by the model, and its logits by:

- greedy CTC (the reference cost, and how often it spells a listed phrase exactly),
- ``GrammarDecoder.decode`` (a final), ``GrammarDecoder.alternatives(n=3)``,
- ``PartialSearch`` as a stream runs it: 15 committed frames searched per 0.3 s hop, then the
  15 tentative ones from a copy (one partial per hop).

Costs are CPU seconds (``time.thread_time``, one thread) per second of audio, medians over the
utterances; the model's own forward is given for scale. Accuracy: spoken listed phrases decoded
exactly; unlisted sentences decoded as ``[unk]`` only (no listed word in them). Writes
bench/results/grammar.json.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from common import RESULTS, cpu_name, write_results

from model import load_model
from model.decoding import GreedyDecoder, greedy_frames
from model.grammar import UNK, GrammarDecoder, PartialSearch, PhraseGrammar
from training.corpus import heldout_sentences
from training.speech import VOICE, trim
from streamer.wire.events import MAX_PHRASE_LIST_CHARS
from training.synth import synthesize

SAMPLE_RATE = 16_000
HOP = 15  # frames per hop and per lookahead: StreamingConfig's defaults
MAX_CHARS = 100  # the Vosk dialect's longest phrase


def cpu_seconds(work) -> tuple[float, object]:
    start = time.thread_time()
    result = work()
    return time.thread_time() - start, result


def partial_cost(grammar: PhraseGrammar, logits: torch.Tensor) -> float:
    """CPU seconds of the partials of one utterance, hop by hop as a stream searches them."""
    probs, ids = greedy_frames(logits)
    ids, probs = ids.tolist(), probs.tolist()
    search = PartialSearch(grammar)
    start = time.thread_time()
    for end in range(HOP, len(ids) + HOP, HOP):
        committed = max(0, end - HOP)
        search.commit(ids[search.frames : committed], probs[search.frames : committed])
        search.text(ids[committed:end], probs[committed:end])
    return time.thread_time() - start


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="20,60,120", help="phrase-list sizes (comma-separated)")
    parser.add_argument("--spoken", type=int, default=20, help="listed phrases to speak")
    parser.add_argument("--unlisted", type=int, default=10, help="unlisted sentences to speak")
    args = parser.parse_args(argv)
    sizes = [int(s) for s in args.sizes.split(",")]
    if min(sizes) < args.spoken:
        parser.error(f"every list holds the spoken phrases: --sizes must be at least --spoken ({args.spoken})")
    torch.set_num_threads(1)

    pool = [s.lower() for s in heldout_sentences(4 * max(sizes) + args.unlisted, seed=11) if len(s) <= MAX_CHARS]
    pool = list(dict.fromkeys(pool))
    spoken, unlisted = pool[: args.spoken], pool[max(sizes) : max(sizes) + args.unlisted]
    model = load_model(ROOT / "model" / "demo", device="cpu")
    greedy = GreedyDecoder(model.vocab)

    utterances = []  # (text, listed, seconds, logits, forward seconds)
    for text, listed in [*((t, True) for t in spoken), *((t, False) for t in unlisted)]:
        audio = np.concatenate([np.zeros(4_000, np.float32), trim(synthesize(text, VOICE)), np.zeros(8_000, np.float32)])
        with torch.inference_mode():
            forward, logits = cpu_seconds(lambda a=audio: model(torch.from_numpy(model.front(a))[None])[0])
        utterances.append((text, listed, len(audio) / SAMPLE_RATE, logits, forward))
    print(f"{len(utterances)} utterances, {sum(u[2] for u in utterances):.1f} s of audio", flush=True)

    def per_second(costs: list[tuple[float, float]]) -> float:
        return round(statistics.median(c / s for c, s in costs), 5)

    greedy_costs, greedy_exact = [], 0
    for text, listed, seconds, logits, _ in utterances:
        cost, decoded = cpu_seconds(lambda lg=logits: greedy.decode(lg))
        greedy_costs.append((cost, seconds))
        greedy_exact += listed and decoded.text.lower() == text
    results = {
        "date": datetime.now(timezone.utc).strftime("%Y-%m-%d"),
        "cpu": cpu_name(),
        "threads": 1,
        "command": "python bench/bench_grammar.py " + " ".join(argv if argv is not None else sys.argv[1:]),
        "spoken_listed": len(spoken),
        "spoken_unlisted": len(unlisted),
        "audio_seconds": round(sum(u[2] for u in utterances), 1),
        "model_forward_cpu_s_per_audio_s": per_second([(u[4], u[2]) for u in utterances]),
        "greedy_decode_cpu_s_per_audio_s": per_second(greedy_costs),
        "greedy_exact_listed": f"{greedy_exact}/{len(spoken)}",
        "lists": [],
    }
    for size in sizes:
        phrases = [*spoken, *pool[len(spoken) : size]][:size]
        while sum(len(p) for p in phrases) + len(UNK) > MAX_PHRASE_LIST_CHARS:
            phrases.pop()
        compile_s, grammar = cpu_seconds(lambda p=phrases: PhraseGrammar([*p, UNK], model.vocab))
        decoder = GrammarDecoder(grammar)
        finals, alternatives, partials = [], [], []
        exact, all_unk, alt_has_truth = 0, 0, 0
        for text, listed, seconds, logits, _ in utterances:
            cost, decoded = cpu_seconds(lambda lg=logits: decoder.decode(lg))
            finals.append((cost, seconds))
            cost, alts = cpu_seconds(lambda lg=logits: decoder.alternatives(lg, 3))
            alternatives.append((cost, seconds))
            partials.append((partial_cost(grammar, logits), seconds))
            if listed:
                exact += decoded.text == text
                alt_has_truth += any(a.decoded.text == text for a in alts)
            else:
                all_unk += bool(decoded.text) and set(decoded.text.split()) == {UNK}
        entry = {
            "phrases": len(phrases),
            "characters": sum(len(p) for p in phrases) + len(UNK),
            "letters": int(sum(len(p.replace(" ", "")) for p in phrases)),
            "states": len(grammar.cols) + 3,
            "compile_cpu_s": round(compile_s, 4),
            "final_cpu_s_per_audio_s": per_second(finals),
            "alternatives3_cpu_s_per_audio_s": per_second(alternatives),
            "partials_cpu_s_per_audio_s": per_second(partials),
            "exact_listed": f"{exact}/{len(spoken)}",
            "listed_in_top3": f"{alt_has_truth}/{len(spoken)}",
            "unlisted_all_unk": f"{all_unk}/{len(unlisted)}",
        }
        results["lists"].append(entry)
        print(entry, flush=True)
    write_results(RESULTS / "grammar.json", results)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
