"""Voice activity detection: the model compute it saves, the words it keeps, what it costs.

    python bench/bench_vad.py                      # everything (a few minutes on 2 cores)
    python bench/bench_vad.py --parts cost --runs 1   # one part, quickly

Parts, each with ``--vad off`` (every hop runs the model), ``silero`` and ``energy`` side by side:

- ``pauses``: a recording of held-out sentences in held-out voices with 1-5 s pauses over -60 dBFS
  room noise (``training.speech.paused_recording``, over half of it silence), streamed live in 0.1 s
  blocks. Model compute (CPU time inside the model's forwards, and frames through the transformer:
  hops and final passes), VAD time, CER of the finals against the sentences, and latency in
  stream time (no compute waits in it): the first partial with text after each sentence's onset,
  and its final after its end, p50/p95. Runs alternate, one thread; the median of ``--runs``.
- ``short``: short held-out sentences in held-out voices, each its own fresh stream (espeak-ng's
  own 10 ms of silence before the speech): first and last words right, CER.
- ``nonspeech``: 60 s each of white noise, pink noise, tones and chords, keyboard clicks
  (``training.nonspeech``), streamed live and through the file path: words in finals.
- ``endpoint``: what ends a segment with the silero VAD (``StreamingConfig.endpoint``): the blank
  run alone, the VAD's speech end (after 0.2, 0.3 or 0.5 s of silence), or both together; on the
  recording with pauses, final latency after each sentence's end (p50/p95, stream time), CER of the
  finals, sentences split over two finals and finals holding two sentences (by their word times);
  on the short sentences, each its own stream, those with more than one final and the CER; and on
  a recording of sentences that each hesitate mid-way (their two halves spoken apart, 0.15-0.65 s
  between, 1-5 s between sentences), the sentences split at the hesitation, by its length.
- ``cost``: the VAD's compute per stream per audio second (onnxruntime, what ``--vad silero`` runs,
  and the wheel's TorchScript file; one stream, 32 streams per call, and a changing number of
  streams per call; the energy detector), beside the demo model's and the large architecture's
  (random weights) offline forward per audio second, on the same CPU, one thread.

Writes bench/results/vad.json.
"""

from __future__ import annotations

import argparse
import datetime
import itertools
import statistics
import sys
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench_model import LARGE  # noqa: E402
from common import cpu_name, write_results  # noqa: E402

from model import load_model  # noqa: E402
from streamer import Recognizer, StreamingConfig, transcribe_file  # noqa: E402
from streamer.core import vad as vad_module  # noqa: E402
from streamer.wire.events import Final, Partial  # noqa: E402
from training.metrics import cer, first_words_right  # noqa: E402
from training.nonspeech import NONSPEECH  # noqa: E402
from training.speech import paused_recording, short_utterances  # noqa: E402

SAMPLE_RATE = 16_000
BLOCK = 1_600  # 0.1 s per accept: event times in stream time are known to 0.1 s
VADS = ("off", "silero", "energy")
PARTS = ("pauses", "short", "nonspeech", "endpoint", "cost")
# Endpoint variants: (name, StreamingConfig fields), each with the silero VAD.
ENDPOINTS = (
    ("blank run (0.7 s)", {"endpoint": "blank"}),
    ("vad 0.2 s", {"endpoint": "vad", "endpoint_vad_frames": 10}),
    ("vad 0.3 s", {"endpoint": "vad", "endpoint_vad_frames": 15}),
    ("vad 0.5 s", {"endpoint": "vad", "endpoint_vad_frames": 25}),
    ("both 0.3 s", {"endpoint": "both", "endpoint_vad_frames": 15}),
)


class Meter:
    """CPU time (this thread) inside the model's forwards and the VAD, and frames through the transformer."""

    def __init__(self, model) -> None:
        self.reset()
        self._wrap(model, "extract_features", lambda *a: 0)  # forward_window goes through forward_features
        self._wrap(model, "forward_step", lambda features, new, *a: features.shape[0] * new)
        self._wrap(model, "forward_features", lambda features, *a: features.shape[0] * features.shape[1])
        for detector in (vad_module.SileroDetector, vad_module.EnergyDetector):
            self._wrap_vad(detector)

    def reset(self) -> None:
        self.model_seconds = self.vad_seconds = 0.0
        self.transformer_frames = 0

    def _wrap(self, model, name: str, frames) -> None:
        real = getattr(model, name)

        def timed(*args, **kwargs):
            start = time.thread_time()
            try:
                return real(*args, **kwargs)
            finally:
                self.model_seconds += time.thread_time() - start
                self.transformer_frames += frames(*args)

        setattr(model, name, timed)

    def _wrap_vad(self, cls) -> None:
        real = cls.probabilities
        meter = self

        def timed(self, *args):
            start = time.thread_time()
            try:
                return real(self, *args)
            finally:
                meter.vad_seconds += time.thread_time() - start

        cls.probabilities = timed


def stream(model, audio: np.ndarray, vad: str, **config) -> list[tuple[float, object]]:
    """Stream ``audio`` live in ``BLOCK``s; each event with the stream time (s) at which it came."""
    recognizer = Recognizer(model, StreamingConfig(vad=vad, **config))
    timed = []
    for start in range(0, len(audio), BLOCK):
        for event in recognizer.accept(audio[start : start + BLOCK]):
            timed.append((recognizer.samples_recognized / SAMPLE_RATE, event))
    timed += [(len(audio) / SAMPLE_RATE, event) for event in recognizer.close()]
    return timed


def latencies(timed, spans) -> dict:
    """Per sentence: the first partial with text at or after its onset, and the first final after its end."""
    first_partial, final = [], []
    for i, (onset, end) in enumerate(spans):
        until = spans[i + 1][0] if i + 1 < len(spans) else float("inf")
        partial = [t for t, e in timed if isinstance(e, Partial) and e.text and onset <= t < until]
        finals = [t for t, e in timed if isinstance(e, Final) and t >= end]
        if partial:
            first_partial.append(partial[0] - onset)
        if finals:
            final.append(finals[0] - end)
    return {"first_partial": percentiles(first_partial), "final": percentiles(final)}


def percentiles(values: list[float]) -> dict:
    return {
        "p50": round(float(np.percentile(values, 50)), 3),
        "p95": round(float(np.percentile(values, 95)), 3),
        "count": len(values),
    }


def part_pauses(model, meter: Meter, runs: int) -> dict:
    sentences, audio, spans = paused_recording()
    speech = sum(end - start for start, end in spans)
    out: dict = {
        "recording": {
            "seconds": round(len(audio) / SAMPLE_RATE, 1), "sentences": len(sentences),
            "silence_fraction": round(1 - speech / (len(audio) / SAMPLE_RATE), 3),
        },
    }  # fmt: skip
    timings: dict[str, list[tuple[float, float, float]]] = {vad: [] for vad in VADS}
    for _ in range(runs):
        for vad in VADS:  # alternating, so load drifts touch each alike
            meter.reset()
            start = time.thread_time()
            stream(model, audio, vad)
            timings[vad].append((meter.model_seconds, meter.vad_seconds, time.thread_time() - start))
    for vad in VADS:
        meter.reset()
        timed = stream(model, audio, vad)  # the events are the same every run
        finals = " ".join(e.text for _, e in timed if isinstance(e, Final))
        model_seconds, vad_seconds, total = (statistics.median(t[i] for t in timings[vad]) for i in range(3))
        out[vad] = {
            "model_cpu_seconds": round(model_seconds, 3),
            "vad_cpu_seconds": round(vad_seconds, 3),
            "total_cpu_seconds": round(total, 3),
            "transformer_frames": meter.transformer_frames,
            "cer": round(cer([" ".join(sentences)], [finals]), 4),
            "latency_seconds": latencies(timed, spans),
        }
    for vad in VADS[1:]:
        out[vad]["model_compute_vs_off"] = round(out[vad]["model_cpu_seconds"] / out["off"]["model_cpu_seconds"], 3)
        out[vad]["frames_vs_off"] = round(out[vad]["transformer_frames"] / out["off"]["transformer_frames"], 3)
        out[vad]["cer_points_vs_off"] = round(100 * (out[vad]["cer"] - out["off"]["cer"]), 2)
    return out


def part_short(model) -> dict:
    texts, clips = short_utterances()
    out = {"sentences": len(texts)}
    for vad in VADS:
        hyps = [" ".join(e.text for _, e in stream(model, clip, vad) if isinstance(e, Final)) for clip in clips]
        out[vad] = {
            "first_words_right": first_words_right(texts, hyps),
            "last_words_right": sum(h.split()[-1:] == r.split()[-1:] for r, h in zip(texts, hyps)),
            "cer": round(cer(texts, hyps), 4),
        }
    return out


def part_nonspeech(model) -> dict:
    out = {}
    for name, make in NONSPEECH.items():
        audio = make(60.0)
        out[name] = {}
        for vad in VADS:
            live = sum(len(e.words) for _, e in stream(model, audio, vad) if isinstance(e, Final))
            files = sum(
                len(e.words) for e in transcribe_file(model, audio, SAMPLE_RATE, StreamingConfig(vad=vad))
                if isinstance(e, Final)
            )  # fmt: skip
            out[name][vad] = {"live_final_words": live, "file_final_words": files}
    return out


def split_and_merged(finals: list, spans) -> tuple[int, int]:
    """Sentences whose words went to more than one final, and finals with words of more than one
    sentence, by the finals' word times against the sentences' spans (0.3 s either side)."""
    def sentences_of(final) -> set[int]:
        return {i for i, (onset, end) in enumerate(spans) if final.start < end + 0.3 and final.end > onset - 0.3}

    owners = [sentences_of(f) for f in finals]
    split = sum(sum(i in o for o in owners) > 1 for i in range(len(spans)))
    return split, sum(len(o) > 1 for o in owners)


HESITATIONS = (0.15, 0.65)  # seconds between a sentence's two halves in the hesitant recording
HESITATION_BINS = (0.15, 0.25, 0.35, 0.45, 0.55, 0.65)


def hesitant_recording(count: int = 40, seed: int = 8):
    """Held-out sentences in held-out voices, each spoken as two halves (split at its middle word) with
    a hesitation of ``HESITATIONS`` between, after a 1-5 s pause, over room noise: (sentences, audio,
    spans, hesitations in seconds)."""
    import random

    from training.corpus import heldout_sentences
    from training.speech import ROOM_NOISE_DB, trim
    from training.synth import HELDOUT_VOICES, random_voice, synthesize

    rng = random.Random(seed)
    sentences = [s for s in heldout_sentences(3 * count, seed=seed) if len(s.split()) >= 4][:count]
    parts, spans, hesitations, position = [], [], [], 0
    for sentence in sentences:
        words, voice = sentence.split(), random_voice(rng, HELDOUT_VOICES)
        halves = [trim(synthesize(" ".join(half), voice)) for half in (words[: len(words) // 2], words[len(words) // 2 :])]
        hesitation = rng.uniform(*HESITATIONS)
        pieces = [np.zeros(int(rng.uniform(1.0, 5.0) * SAMPLE_RATE), np.float32), halves[0],
                  np.zeros(int(hesitation * SAMPLE_RATE), np.float32), halves[1]]  # fmt: skip
        start = position + len(pieces[0])
        position += sum(len(p) for p in pieces)
        spans.append((start / SAMPLE_RATE, position / SAMPLE_RATE))
        hesitations.append(hesitation)
        parts += pieces
    parts.append(np.zeros(SAMPLE_RATE, np.float32))
    audio = np.concatenate(parts)
    noise = np.random.default_rng(seed).standard_normal(len(audio)) * 10 ** (ROOM_NOISE_DB / 20)
    return sentences, (audio + noise).astype(np.float32), spans, hesitations


def part_endpoint(model) -> dict:
    sentences, audio, spans = paused_recording()
    texts, clips = short_utterances()
    hesitant, hesitant_audio, hesitant_spans, hesitations = hesitant_recording()
    bins = list(itertools.pairwise(HESITATION_BINS))
    out: dict = {
        "recording_sentences": len(sentences), "short_sentences": len(texts), "hesitant_sentences": len(hesitant),
        "hesitations_by_seconds": {f"{lo:.2f}-{hi:.2f}": sum(lo <= h < hi for h in hesitations) for lo, hi in bins},
    }  # fmt: skip
    for name, config in ENDPOINTS:
        timed = stream(model, audio, "silero", **config)
        finals = [e for _, e in timed if isinstance(e, Final)]
        split, merged = split_and_merged(finals, spans)
        short = [[e for _, e in stream(model, clip, "silero", **config) if isinstance(e, Final)] for clip in clips]
        said = [e for _, e in stream(model, hesitant_audio, "silero", **config) if isinstance(e, Final)]
        split_at = [
            i for i, (onset, end) in enumerate(hesitant_spans)
            if sum(f.start < end + 0.3 and f.end > onset - 0.3 for f in said) > 1
        ]  # fmt: skip
        out[name] = {
            "config": config,
            "final_after_speech_end_seconds": latencies(timed, spans)["final"],
            "finals": len(finals),
            "cer": round(cer([" ".join(sentences)], [" ".join(f.text for f in finals)]), 4),
            "sentences_split": split,
            "finals_merging_sentences": merged,
            "short_with_more_than_one_final": sum(len(f) > 1 for f in short),
            "short_cer": round(cer(texts, [" ".join(e.text for e in f) for f in short]), 4),
            "hesitant_split": len(split_at),
            "hesitant_split_by_seconds": {
                f"{lo:.2f}-{hi:.2f}": sum(lo <= hesitations[i] < hi for i in split_at) for lo, hi in bins
            },
            "hesitant_cer": round(cer([" ".join(hesitant)], [" ".join(f.text for f in said)]), 4),
        }
        print(name, out[name], flush=True)
    return out


def seconds_per_audio_second(step, audio_seconds: float, runs: int) -> float:
    step()  # warm-up
    times = []
    for _ in range(runs):
        start = time.thread_time()
        step()
        times.append(time.thread_time() - start)
    return round(statistics.median(times) / audio_seconds, 5)


def part_cost(model, runs: int) -> dict:
    seconds = 10.0
    frames = int(seconds * SAMPLE_RATE) // vad_module.VAD_FRAME_SAMPLES
    rng = np.random.default_rng(0)
    out: dict = {"audio_seconds": seconds}
    onnx = vad_module.SileroDetector()  # what --vad silero runs
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        jit = torch.jit.load(str(vad_module._silero_file("silero_vad.jit")), map_location="cpu")._model.eval()

    def run_jit(x: np.ndarray, state: torch.Tensor) -> None:
        with torch.inference_mode():
            jit(torch.from_numpy(x), state)

    def run_onnx(x: np.ndarray, state: torch.Tensor) -> None:
        onnx.probabilities(x, list(state.numpy().transpose(1, 0, 2)))

    # One stream, 32 streams in every call, and calls whose stream count changes (as a server's do:
    # 1-13 streams, mean 4): per stream per audio second.
    shapes = {"1_stream": [1], "32_streams": [32], "varying_streams": [1, 2, 3, 5, 8, 13, 1, 4, 7, 2, 1, 1]}
    for name, sizes in shapes.items():
        inputs = [
            ((0.1 * rng.standard_normal((b, 576))).astype(np.float32), torch.zeros(2, b, 128)) for b in sizes
        ]
        mean = sum(sizes) / len(sizes)
        for runtime, call in (("silero_onnxruntime", run_onnx), ("silero_torchscript", run_jit)):

            def step() -> None:
                for i in range(frames):
                    call(*inputs[i % len(inputs)])

            out.setdefault(runtime, {})[name] = round(seconds_per_audio_second(step, seconds, runs) / mean, 6)
    energy = vad_module.EnergyDetector(-50.0)
    x = (0.1 * rng.standard_normal((32, 512))).astype(np.float32)
    out["energy"] = {
        "32_streams": round(
            seconds_per_audio_second(lambda: [energy.probabilities(x, [None] * 32) for _ in range(frames)], seconds, runs)
            / 32, 6,
        )
    }  # fmt: skip
    audio = (0.1 * rng.standard_normal(int(seconds * SAMPLE_RATE))).astype(np.float32)
    out["demo_model_offline_forward"] = seconds_per_audio_second(lambda: model.transcribe(audio), seconds, runs)
    from training.checkpoints import write_checkpoint

    with tempfile.TemporaryDirectory() as folder:
        write_checkpoint(Path(folder), LARGE)
        large = load_model(folder, device="cpu", dtype=torch.float32)
        out["large_architecture_offline_forward_fp32"] = seconds_per_audio_second(
            lambda: large.transcribe(audio), seconds, max(1, runs - 1)
        )
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--parts", default=",".join(PARTS), help=f"any of {', '.join(PARTS)}")
    parser.add_argument("--runs", type=int, default=3, help="timed runs per configuration (median)")
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "vad.json")
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    model = load_model("demo", device="cpu", dtype=torch.float32)
    meter = Meter(model)
    report: dict = {
        "setup": {
            "cpu": cpu_name(), "threads": 1, "model": "demo (float32)", "date": datetime.date.today().isoformat(),
            "command": " ".join(["python", "bench/bench_vad.py", *(argv if argv is not None else sys.argv[1:])]),
            "block_seconds": BLOCK / SAMPLE_RATE, "config": "StreamingConfig() defaults but vad",
        },
    }  # fmt: skip
    parts = args.parts.split(",")
    if "pauses" in parts:
        report["pauses"] = part_pauses(model, meter, args.runs)
        print("pauses", report["pauses"], flush=True)
    if "short" in parts:
        report["short"] = part_short(model)
        print("short", report["short"], flush=True)
    if "nonspeech" in parts:
        report["nonspeech"] = part_nonspeech(model)
        print("nonspeech", report["nonspeech"], flush=True)
    if "endpoint" in parts:
        report["endpoint"] = part_endpoint(model)
    if "cost" in parts:
        report["cost_cpu_seconds_per_audio_second"] = part_cost(model, args.runs)
        print("cost", report["cost_cpu_seconds_per_audio_second"], flush=True)
    write_results(args.out, report)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
