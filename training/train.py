"""Train the bundled demo model: a small HuBERT CTC on espeak-ng speech, on a CPU, in under an hour.

    python -m training.train --out model/demo              # synthesize, train, save (hub layout)

Reproducible: the sentences (``training.corpus``), voices (``training.synth``) and every
random draw come from fixed seeds. The network is this project's own
``HubertForCTC`` (layer-norm feature encoder and pre-LN encoder, so streaming can
cache conv frames; the pre-LN variant also leaves the CTC blank plateau early),
trained with ``torch.nn.functional.ctc_loss`` on the 32-symbol LibriSpeech vocabulary.
Matmuls run in bf16 autocast (2x faster on this CPU), the loss and weights in fp32.
"""

from __future__ import annotations

import argparse
import json
import math
import random
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soxr
import torch
import torch.nn.functional as F

from model.audio import AudioFront
from model.hubert import HubertConfig, HubertForCTC
from model.loading import save_pretrained
from model.vocab import Vocabulary
from streamer.wire.units import SAMPLE_RATE
from training.metrics import cer, wer

DEMO_CONFIG = HubertConfig(
    conv_dim=(64, 96, 128, 128, 128, 128, 128),  # narrow early layers: they run at the highest rate
    conv_bias=True,
    feat_extract_norm="layer",  # frames depend only on their own samples: streaming caches them
    hidden_size=256,
    num_hidden_layers=4,
    num_attention_heads=4,
    intermediate_size=1024,
    do_stable_layer_norm=True,
    num_conv_pos_embeddings=32,  # 0.64 s: short, so streaming windows see little edge effect
    num_conv_pos_embedding_groups=16,
    vocab_size=32,
)


PAD_MULTIPLE = SAMPLE_RATE // 2  # batch lengths come in steps of 0.5 s (25 frames)


@dataclass(frozen=True)
class TrainConfig:
    steps: int = 30000  # more than fit: the time budget ends the run, the schedule follows it
    batch_seconds: float = 30.0  # audio per optimizer step
    max_item_seconds: float = 10.0  # longest (concatenated) training item
    lr: float = 1e-3
    warmup_steps: int = 500
    clean_steps: int = 2000  # augmentation starts here, once the model has left the blank plateau
    weight_decay: float = 0.01
    grad_clip: float = 1.0
    eval_every: int = 500
    time_budget_minutes: float = 50.0  # stop early rather than run past the hour
    train_sentences: int = 30000
    mixed_accents: bool = True  # also train on training.synth.MIXED_ACCENT_VOICES
    formant_spread: int = 15  # each utterance's F1-F3 scaled by 100 +- this many percent (0: off)
    tilt_share: float = 0.0  # share of items given a random spectral tilt, once augmenting
    noise_only_share: float = 0.03  # share of items of noise alone with no text, once augmenting
    heldout_sentences: int = 300
    seed: int = 0


def add_white_noise(audio: np.ndarray, snr_db: float, generator: np.random.Generator) -> np.ndarray:
    """``audio`` plus white noise ``snr_db`` below its mean power (float32)."""
    sigma = math.sqrt((float(np.mean(audio**2)) + 1e-12) / 10 ** (snr_db / 10))
    return audio + generator.normal(0.0, sigma, len(audio)).astype(np.float32)


class Augmenter:
    """Light augmentation so the model is not brittle: speed, noise and level, once ``active``.

    Two more, off unless asked for: a spectral tilt, and items of noise alone with no text.

    Utterances are always joined with pauses, as a live stream carries them. Speed, noise and
    level changes start only when ``active`` is set: trials on this machine showed that any of
    them, from the first step, holds the model on the CTC blank plateau for thousands of steps
    (bench/results/demo_training_trials.json), so training starts on clean speech.
    """

    speed_share, speed_range = 0.3, (0.92, 1.08)
    noise_share, snr_db_range = 0.3, (20.0, 40.0)
    # A first-order tilt y[n] = x[n] + a x[n-1]: up to about +-15 dB between low and high
    # frequencies, as another glottal source, microphone or room would give.
    tilt_range = (-0.7, 0.7)
    noise_only_seconds = (0.5, 4.0)
    # Log-uniform level after normalization: streaming normalizes with running statistics and live
    # input has any mix of speech and silence, so the model must not depend on the exact variance
    # that whole-clip normalization gives.
    level_range = (math.log(0.4), math.log(2.5))

    def __init__(self, rng: random.Random, tilt_share: float = 0.0, noise_only_share: float = 0.0) -> None:
        self.rng = rng
        self.active = False
        self.tilt_share = tilt_share  # share of items given a spectral tilt (off in the bundled recipe)
        self.noise_only_share = noise_only_share  # share of items of noise alone, with no text

    def speed(self, audio: np.ndarray) -> np.ndarray:
        """Play ``audio`` a little faster or slower (pitch moves too, like Kaldi's speed perturbation)."""
        factor = self.rng.uniform(*self.speed_range)
        return soxr.resample(audio, SAMPLE_RATE * factor, SAMPLE_RATE).astype(np.float32)

    def noise(self, audio: np.ndarray) -> np.ndarray:
        snr_db = self.rng.uniform(*self.snr_db_range)
        return add_white_noise(audio, snr_db, np.random.default_rng(self.rng.getrandbits(32)))

    def tilt(self, audio: np.ndarray) -> np.ndarray:
        """Tilt the spectrum of ``audio``: a > 0 brightens it, a < 0 darkens it."""
        a = self.rng.uniform(*self.tilt_range)
        return (audio + a * np.concatenate([[0.0], audio[:-1]])).astype(np.float32)

    def level(self) -> float:
        return math.exp(self.rng.uniform(*self.level_range)) if self.active else 1.0

    def silence(self, seconds: float) -> np.ndarray:
        return np.zeros(int(seconds * SAMPLE_RATE), dtype=np.float32)

    def noise_only(self) -> np.ndarray:
        """White noise with no speech; its level does not matter, normalization scales it."""
        samples = int(self.rng.uniform(*self.noise_only_seconds) * SAMPLE_RATE)
        return np.random.default_rng(self.rng.getrandbits(32)).normal(0.0, 0.1, samples).astype(np.float32)

    def __call__(self, items: list[tuple[np.ndarray, str]]) -> tuple[np.ndarray, str]:
        """Join one or more utterances with pauses, as a live stream would carry them."""
        rng = self.rng
        if self.active and rng.random() < self.noise_only_share:
            return self.noise_only(), ""
        parts = [self.silence(rng.uniform(0.0, 0.6))]
        for audio, _ in items:
            if self.active and rng.random() < self.speed_share:
                audio = self.speed(audio)
            parts += [audio, self.silence(rng.uniform(0.1, 1.2))]
        audio = np.concatenate(parts)
        if self.active and rng.random() < self.tilt_share:
            audio = self.tilt(audio)
        if self.active and rng.random() < self.noise_share:
            audio = self.noise(audio)
        return audio.astype(np.float32), " ".join(text for _, text in items)


def make_batches(data, config: TrainConfig, rng: random.Random, vocab: Vocabulary, augment: Augmenter):
    """Endless stream of (audio [batch, samples], mask, targets, target lengths) batches.

    Items are made in pools of many batches, sorted by length and cut into batches whose
    padded size is ``batch_seconds``, so little compute goes to padding. Batches are padded
    to a multiple of ``PAD_MULTIPLE`` samples: with a few dozen batch shapes instead of one
    per step, the CPU kernels prepared for a shape are reused, and a step runs 1.45x faster.
    """
    front = AudioFront()
    max_item = int(config.max_item_seconds * SAMPLE_RATE)
    budget = config.batch_seconds * SAMPLE_RATE
    pool_size = 64 * budget
    order: list[int] = []
    while True:
        pool, total = [], 0
        while total < pool_size:
            if len(order) < 4:
                order = list(range(len(data)))
                rng.shuffle(order)
            joined = [data[order.pop()]]
            while rng.random() < 0.35 and sum(len(a) for a, _ in joined) < max_item // 2:
                joined.append(data[order.pop()])
            audio, text = augment(joined)
            if len(audio) > max_item:  # too long to keep whole: use the first utterance alone
                audio, text = augment(joined[:1])
            pool.append((audio[:max_item], text))
            total += len(audio)
        pool.sort(key=lambda item: len(item[0]))
        batches, current = [], []
        for item in pool:
            if current and (len(current) + 1) * padded_length(len(item[0])) > budget:
                batches.append(current)
                current = []
            current.append(item)
        batches.append(current)
        rng.shuffle(batches)
        for batch in batches:
            yield collate(batch, vocab, front, augment.level)


def padded_length(samples: int) -> int:
    return -(-samples // PAD_MULTIPLE) * PAD_MULTIPLE


def collate(items, vocab: Vocabulary, front: AudioFront, level=lambda: 1.0):
    """Pad normalized clips into one batch; ``level()`` scales each clip after normalization."""
    longest = padded_length(max(len(a) for a, _ in items))
    audio = torch.zeros(len(items), longest)
    mask = torch.zeros(len(items), longest, dtype=torch.long)
    targets = [torch.tensor(vocab.encode(text), dtype=torch.long) for _, text in items]
    for row, (clip, _) in enumerate(items):
        audio[row, : len(clip)] = torch.from_numpy(front(clip)) * level()
        mask[row, : len(clip)] = 1
    lengths = torch.tensor([len(t) for t in targets])
    return audio, mask, torch.cat(targets), lengths


@torch.no_grad()
def evaluate(model: HubertForCTC, data, batch_size: int = 16) -> dict[str, float]:
    model.eval()
    hyps = [t.text for t in model.transcribe([a for a, _ in data], batch_size=batch_size)]
    model.train()
    refs = [text for _, text in data]
    return {"cer": cer(refs, hyps), "wer": wer(refs, hyps)}


def train(config: TrainConfig, out: Path, cache: Path, log_path: Path | None) -> dict:
    from training.corpus import heldout_sentences, training_sentences
    from training.synth import HELDOUT_VOICES, MIXED_ACCENT_VOICES, TRAIN_VOICES, build_dataset, load_dataset

    torch.set_num_threads(max(1, torch.get_num_threads()))
    torch.manual_seed(config.seed)
    rng = random.Random(config.seed)
    vocab = Vocabulary.librispeech()

    sentences = training_sentences(config.train_sentences, seed=config.seed)
    voices = TRAIN_VOICES + (MIXED_ACCENT_VOICES if config.mixed_accents else ())
    train_dir = build_dataset(
        sentences, voices, cache / "demo-train", seed=config.seed, formant_spread=config.formant_spread
    )
    heldout = heldout_sentences(config.heldout_sentences)
    dev_dir = build_dataset(heldout, HELDOUT_VOICES, cache / "demo-heldout", seed=config.seed + 1)
    data = load_dataset(train_dir)
    dev = load_dataset(dev_dir)[:96]  # a slice for the curve; bench/ scores the whole held-out set
    hours = sum(len(a) for a, _ in data) / SAMPLE_RATE / 3600
    print(f"training on {len(data)} utterances ({hours:.2f} h), curve on {len(dev)} held-out", file=sys.stderr)

    model = HubertForCTC(DEMO_CONFIG)
    model.vocab, model.front = vocab, AudioFront()
    model.train()
    decay = [p for n, p in model.named_parameters() if p.dim() > 1]
    no_decay = [p for n, p in model.named_parameters() if p.dim() <= 1]
    optimizer = torch.optim.AdamW(
        [{"params": decay, "weight_decay": config.weight_decay}, {"params": no_decay, "weight_decay": 0.0}],
        lr=config.lr,
        betas=(0.9, 0.98),
    )

    def lr_at(step: int, elapsed: float) -> float:
        """Warm-up, then cosine decay to zero by the last step or the end of the time budget."""
        if step < config.warmup_steps:
            return config.lr * (step + 1) / config.warmup_steps
        progress = max(
            (step - config.warmup_steps) / max(1, config.steps - config.warmup_steps),
            elapsed / (config.time_budget_minutes * 60),
        )
        return config.lr * 0.5 * (1 + math.cos(math.pi * min(1.0, progress)))

    augment = Augmenter(rng, config.tilt_share, config.noise_only_share)
    batches = make_batches(data, config, rng, vocab, augment)
    curve = []
    started = time.monotonic()
    losses: list[float] = []
    step = 0
    for step in range(config.steps):
        for group in optimizer.param_groups:
            group["lr"] = lr_at(step, time.monotonic() - started)
        augment.active = step >= config.clean_steps  # takes effect from the next pool of batches
        audio, mask, targets, target_lengths = next(batches)
        with torch.autocast("cpu", dtype=torch.bfloat16):
            logits = model(audio, mask)  # [batch, frames, vocab]
        log_probs = logits.float().log_softmax(-1).transpose(0, 1)  # [frames, batch, vocab] for ctc_loss
        frames = DEMO_CONFIG.num_frames(mask.sum(-1))
        loss = F.ctc_loss(log_probs, targets, frames, target_lengths, blank=vocab.blank_id, zero_infinity=True)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), config.grad_clip)
        optimizer.step()
        losses.append(loss.item())
        elapsed = time.monotonic() - started
        out_of_time = elapsed > config.time_budget_minutes * 60
        if (step + 1) % config.eval_every == 0 or step + 1 == config.steps or out_of_time:
            point = {"step": step + 1, "minutes": round(elapsed / 60, 2), "loss": round(float(np.mean(losses)), 4)}
            point.update({k: round(v, 4) for k, v in evaluate(model, dev).items()})
            losses.clear()
            curve.append(point)
            print(json.dumps(point), file=sys.stderr, flush=True)
            if log_path:
                log_path.write_text("\n".join(json.dumps(p) for p in curve) + "\n")
            save_pretrained(model.eval(), out, dtype=torch.float16)
            model.train()
        if out_of_time:
            print(f"time budget reached at step {step + 1}", file=sys.stderr)
            break
    model.eval()
    save_pretrained(model, out, dtype=torch.float16)
    minutes = round((time.monotonic() - started) / 60, 2)
    return {"steps": step + 1, "minutes": minutes, "hours_of_audio": round(hours, 2), "curve": curve}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=Path(__file__).resolve().parents[1] / "model" / "demo", help="output folder (hub layout)")
    parser.add_argument(
        "--cache", type=Path, default=Path.home() / ".cache" / "hubert-stream", help="synthesized audio cache"
    )
    parser.add_argument("--log", type=Path, default=None, help="write the training curve (JSON lines) here")
    parser.add_argument("--steps", type=int, default=TrainConfig.steps)
    parser.add_argument("--minutes", type=float, default=TrainConfig.time_budget_minutes, help="time budget")
    parser.add_argument("--sentences", type=int, default=TrainConfig.train_sentences, help="training sentences")
    parser.add_argument("--eval-every", type=int, default=TrainConfig.eval_every)
    parser.add_argument("--lr", type=float, default=TrainConfig.lr, help="peak learning rate")
    parser.add_argument(
        "--clean-steps", type=int, default=TrainConfig.clean_steps, help="steps on clean speech before augmenting"
    )
    parser.add_argument("--batch-seconds", type=float, default=TrainConfig.batch_seconds, help="padded audio per step")
    parser.add_argument(
        "--formant-spread", type=int, default=TrainConfig.formant_spread, help="F1-F3 shift, +- percent (0: off)"
    )
    parser.add_argument(
        "--mixed-accents",
        action=argparse.BooleanOptionalAction,
        default=TrainConfig.mixed_accents,
        help="add training.synth.MIXED_ACCENT_VOICES to the training voices",
    )
    parser.add_argument(
        "--tilt-share", type=float, default=TrainConfig.tilt_share, help="share of items given a spectral tilt"
    )
    parser.add_argument(
        "--noise-only-share",
        type=float,
        default=TrainConfig.noise_only_share,
        help="share of items of noise alone, with no text (0.03 stops the model writing letters for hiss)",
    )
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    config = TrainConfig(
        steps=args.steps,
        time_budget_minutes=args.minutes,
        train_sentences=args.sentences,
        eval_every=args.eval_every,
        lr=args.lr,
        clean_steps=args.clean_steps,
        batch_seconds=args.batch_seconds,
        formant_spread=args.formant_spread,
        mixed_accents=args.mixed_accents,
        tilt_share=args.tilt_share,
        noise_only_share=args.noise_only_share,
    )
    summary = train(config, args.out, args.cache, args.log)
    print(json.dumps({k: v for k, v in summary.items() if k != "curve"}), file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
