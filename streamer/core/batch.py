"""The model-facing half of the streaming core: one padded, batched forward per kind of work.

Two kinds of work run the model for streams, each batched across streams here:

- **hops** (``HopRequest``): one window per stream, every window of one ``StreamingConfig`` the same
  shape, so they stack without padding (``forward_hops``);
- **final passes** (``FinalPassRequest``): a segment that ended, decoded once more with all the
  audio around it as offline decoding would, stretches of any length batched with padding that
  is masked out (``forward_final_passes``).

These functions only run the model: they read a stream's window through its public methods and
hand back per-frame results. Which recognizer consumes what, and when final passes run, is the
batch driver's choice (``streamer.core.engine.BatchEngine``).
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from model.decoding import greedy_frames
from streamer.core.vad import listen

__all__ = [
    "FinalPassRequest",
    "HopRequest",
    "WindowBest",
    "forward_final_passes",
    "forward_hops",
    "hear",
    "similar_lengths",
]

PADDING_RATIO = 1.25  # final passes share a forward when the longest is at most this times the shortest
_SCRATCH = threading.local()  # per thread: reusable CPU buffers that batches are stacked into


@dataclass
class HopRequest:
    """One due hop of one stream: audio for its new conv frames, then its window."""

    recognizer: Any  # the streamer.core.recognizer.Recognizer the hop belongs to
    audio: torch.Tensor  # [hop * 320 + 80] normalized samples -> exactly hop new frames
    gated: bool | None  # no speech near: the window skips the transformer; None until ``hear`` decides


@dataclass(frozen=True)
class WindowBest:
    """The best token of each computed frame of one window, and where those frames begin in it."""

    ids: list[int]
    probs: list[float]
    skipped: int  # frames at the window's start that were not computed (their keys/values were cached)


@dataclass(frozen=True)
class FinalPassRequest:
    """One final pass: normalized samples, and which of their conv frames ``[lo, hi)`` are wanted,
    after ``before`` and followed by ``after`` blank frames (where its voice activity heard no speech)."""

    audio: np.ndarray  # [samples] float32, normalized as a whole; empty when every wanted frame is blank
    lo: int
    hi: int
    before: int = 0
    after: int = 0


SILENT_LOGIT = 30.0  # a blank frame's logit for the blank token (every other 0): probability 1 - 1e-11


def _stack(tensors: list[torch.Tensor]) -> torch.Tensor:
    """``tensors`` stacked on a new first axis: a view for one, else a copy into a reused buffer.

    A batch of windows is tens of MB; a fresh CPU tensor of that size is fresh memory from the
    OS every time, and its page faults cost 5-20x the copy itself. The buffer is per thread and
    per shape, and only valid until the next ``_stack`` of that shape in the thread, which is
    all a forward needs: the model reads the batch and keeps nothing of it.
    """
    if len(tensors) == 1:
        return tensors[0][None]
    first = tensors[0]
    if first.device.type != "cpu":  # the CUDA caching allocator already reuses memory
        return torch.stack(tensors)
    buffers = _SCRATCH.__dict__.setdefault("buffers", {})
    key = (tuple(first.shape), first.dtype)
    buffer = buffers.get(key)
    if buffer is None or buffer.shape[0] < len(tensors):
        buffer = buffers[key] = torch.empty(len(tensors), *first.shape, dtype=first.dtype)
    return torch.stack(tensors, out=buffer[: len(tensors)])


def hear(requests: list[HopRequest]) -> int:
    """Run the voice activity detectors of the requests not yet decided whose audio they have not
    judged (a server's VAD thread may have), batched across streams, and decide which hops skip the
    transformer. Returns how many 32 ms frames the detectors judged here."""
    undecided = [r for r in requests if r.gated is None]
    activities = [r.recognizer.activity for r in undecided if r.recognizer.unheard]
    before = sum(a.judged_frames for a in activities)
    if activities:
        listen(activities)
    for r in undecided:
        r.gated = r.recognizer.listened()
    return sum(a.judged_frames for a in activities) - before


@torch.inference_mode()
def forward_hops(model, requests: list[HopRequest]) -> list[WindowBest | None]:
    """Run one hop for each request (one per recognizer): conv features of the new audio, each
    stream's window, and the layers, batched. Returns each window's best frames, None where gated
    (the voice activity of undecided hops is heard first, ``hear``).
    """
    if len({id(r.recognizer) for r in requests}) != len(requests):
        raise ValueError("a batch takes at most one hop per stream: hops of one stream depend on each other")
    hear(requests)
    live = [i for i, r in enumerate(requests) if not r.gated]
    features = _conv([requests[i].audio for i in live], model)  # each [hop, conv_dim]
    redo = [i for i in live if requests[i].recognizer.redo is not None]  # the silent hop before
    earlier = dict(zip(redo, _conv([requests[i].recognizer.redo for i in redo], model)))
    new = dict(zip(live, features))  # a silent hop's frames skip the conv stack too
    windows = [r.recognizer.window(new.get(i), earlier.get(i)) for i, r in enumerate(requests)]  # [window, conv_dim]
    best: list[WindowBest | None] = [None] * len(requests)
    for r in requests:
        if r.gated:
            r.recognizer.drop_kv()  # its frames skip the layers, so they leave no keys/values
    caching = {i for i in live if requests[i].recognizer.config.kv_cache}
    plain = [i for i in live if i not in caching]
    cached = [i for i in live if i in caching and requests[i].recognizer.kv is not None]
    filling = [i for i in live if i in caching and requests[i].recognizer.kv is None]  # first hops: whole windows
    for group, mode in ((plain, "plain"), (cached, "cached"), (filling, "fill")):
        if group:
            _forward(model, requests, windows, group, best, mode)
    return best


def _conv(audio: list[torch.Tensor], model) -> list[torch.Tensor]:
    """Conv features ``[hop, conv_dim]`` of each hop's audio ``[hop * 320 + 80]``, batched."""
    if not audio:
        return []
    return list(model.extract_features(_stack(audio).to(model.device)))  # [batch, hop, conv_dim]


def _frame_mask(padding: list[int], windows: torch.Tensor) -> torch.Tensor | None:
    """``[batch, window]`` True on real frames, or None when no window starts before its stream.

    A stream's first windows reach back before its start; those frames are masked out (zeroed
    before the positional conv and left out of attention), so the first windows decode as
    offline decoding of the audio so far, while every window keeps one shape for batching.
    """
    if not any(padding):
        return None
    frames = torch.arange(windows.shape[1], device=windows.device)
    return frames[None, :] >= torch.tensor(padding, device=windows.device)[:, None]


def _forward(
    model,
    requests: list[HopRequest],
    windows: list[torch.Tensor],
    group: list[int],
    best: list[WindowBest | None],
    mode: str,
) -> None:
    """One forward over the windows of ``group`` (indices into ``requests``); sets their ``best``.

    ``mode``: ``"plain"``, whole windows; ``"cached"``, the left context's keys/values come from
    the recognizers' caches and only the hop + lookahead frames run; ``"fill"``, whole windows that
    also leave the keys/values the next hop's left context needs (kv_cache on).
    """
    batch = _stack([windows[i] for i in group])  # [group, window, conv_dim]
    mask = _frame_mask([requests[i].recognizer.padding for i in group], batch)  # the frames before a stream's start
    cached = mode == "cached"
    if mode == "plain":
        logits = model.forward_window(batch, mask)  # [group, window, vocab]
        skipped = 0
    else:
        c = requests[group[0]].recognizer.config
        frames, hop, left = c.window_frames, c.hop_frames, c.left_context_frames
        new = hop + c.lookahead_frames if cached else frames
        if cached:  # [group, layers, 2, heads, left, head_dim]
            past = _stack([requests[i].recognizer.kv for i in group])
        else:
            past = model.new_kv_cache(len(group), 0)
        logits, fresh = model.forward_step(batch, new, past, mask)  # [group, new, vocab], [group, ..., new, head_dim]
        skipped = frames - new  # frames before `new` are never committed by a hop: they need no ids
        # The next hop's left context: this window's frames [hop, hop + left), from the past frames
        # [0, frames - new) and the fresh ones after them. A copy (the model's outputs may be buffers
        # a CUDA graph reuses), whose rows the streams keep as views until each has moved on.
        after_past = fresh[:, :, :, :, max(0, hop - skipped) : hop + left - skipped]
        kept = torch.cat([past[:, :, :, :, hop:], after_past], 4)  # [group, layers, 2, heads, left, head_dim]
        for row, i in enumerate(group):
            requests[i].recognizer.keep_kv(kept[row])
    probs, ids = greedy_frames(logits)  # each [group, frames computed], once for the batch
    for i, ids_i, probs_i in zip(group, ids.tolist(), probs.tolist()):
        best[i] = WindowBest(ids_i, probs_i, skipped)


def similar_lengths(lengths: list[int], max_batch: int) -> list[list[int]]:
    """Indices into ``lengths`` in batches of at most ``max_batch`` whose longest is at most
    ``PADDING_RATIO`` times their shortest: padding costs as much compute as audio, so stretches of
    very different lengths go in separate forwards."""
    batches: list[list[int]] = []
    for i in sorted(range(len(lengths)), key=lengths.__getitem__):
        if batches and len(batches[-1]) < max_batch and lengths[i] <= lengths[batches[-1][0]] * PADDING_RATIO:
            batches[-1].append(i)
        else:
            batches.append([i])
    return batches


@torch.inference_mode()
def forward_final_passes(model, requests: list[FinalPassRequest], max_batch: int = 32) -> list[torch.Tensor]:
    """Logits ``[hi - lo, vocab]`` (float32, on the CPU) of each request's wanted frames.

    Stretches of similar length share a forward (``similar_lengths``): each is padded with zeros to
    the longest of its batch, and the padding frames are masked out (zeroed before the positional conv, left out of
    attention), so each decodes as it would alone. With a layer-norm feature encoder every conv
    frame depends only on its own samples, so the padding does not reach the real frames there.
    """
    results: list[torch.Tensor | None] = [None] * len(requests)
    heard = [i for i, r in enumerate(requests) if len(r.audio)]
    for rows in similar_lengths([len(requests[i].audio) for i in heard], max_batch):
        rows = [heard[row] for row in rows]
        longest = max(len(requests[i].audio) for i in rows)
        batch = np.zeros((len(rows), longest), dtype=np.float32)
        for row, i in enumerate(rows):
            batch[row, : len(requests[i].audio)] = requests[i].audio
        features = model.extract_features(torch.from_numpy(batch).to(model.device))  # [rows, frames, conv_dim]
        frames = [model.config.num_frames(len(requests[i].audio)) for i in rows]
        mask = None
        if len(set(frames)) > 1:
            mask = torch.arange(features.shape[1], device=features.device)[None, :] < torch.tensor(
                frames, device=features.device
            )[:, None]  # [rows, frames], True on real frames
        logits = model.forward_features(features, mask).float().cpu()  # [rows, frames, vocab]
        for row, i in enumerate(rows):
            results[i] = logits[row, requests[i].lo : requests[i].hi]
    blank = torch.zeros(model.config.vocab_size)
    blank[model.vocab.blank_id] = SILENT_LOGIT
    for i, r in enumerate(requests):
        if r.before or r.after or results[i] is None:
            wanted = results[i] if results[i] is not None else blank[None, :0]
            results[i] = torch.cat([blank.expand(r.before, -1), wanted, blank.expand(r.after, -1)])
    return results  # type: ignore[return-value]
