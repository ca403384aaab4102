"""The server's Prometheus metrics: counters, gauges and histograms behind ``/metrics``.

Updated from the event loop and the inference thread, so every change holds one lock.
"""

from __future__ import annotations

import threading

__all__ = ["Histogram", "Metrics"]


class Histogram:
    """A Prometheus histogram with fixed buckets (callers hold the metrics lock)."""

    def __init__(self, buckets: tuple[float, ...]) -> None:
        self.buckets = buckets
        self.counts = [0] * len(buckets)
        self.sum = 0.0
        self.count = 0

    def observe(self, value: float) -> None:
        for i, bound in enumerate(self.buckets):
            if value <= bound:
                self.counts[i] += 1
        self.sum += value
        self.count += 1

    def render(self, name: str, help_: str) -> list[str]:
        lines = [f"# HELP {name} {help_}", f"# TYPE {name} histogram"]
        lines += [f'{name}_bucket{{le="{bound:g}"}} {n}' for bound, n in zip(self.buckets, self.counts, strict=True)]
        lines += [
            f'{name}_bucket{{le="+Inf"}} {self.count}',
            f"{name}_sum {self.sum:.6f}",
            f"{name}_count {self.count}",
        ]
        return lines


class Metrics:
    """Counters for ``/metrics``, updated from the loop and the worker thread."""

    PREFIX = "hubert_stream"

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.sessions_active = 0
        self.sessions_total = 0
        self.rejected: dict[str, int] = {}  # reason -> handshakes refused
        self.errors: dict[str, int] = {}  # error code -> error events sent
        self.audio_seconds = 0.0
        self.vad_seconds = 0.0  # time in the voice activity detector (its thread; the inference thread at closes)
        self.vad_frames = 0  # 32 ms frames it judged
        self.silent_windows = 0  # hops it let skip the model
        self.batch_size = Histogram((1, 2, 4, 8, 16, 32, 64, 128))
        self.inference_seconds = Histogram((0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5))
        self.final_pass_batch_size = Histogram((1, 2, 4, 8, 16, 32, 64, 128))
        self.final_pass_seconds = Histogram((0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5))
        self.queue_lag_seconds = Histogram((0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0))
        self.model_loaded = False

    def add(self, name: str, amount: float = 1) -> None:
        with self._lock:
            setattr(self, name, getattr(self, name) + amount)

    def count(self, table: str, key: str) -> None:
        with self._lock:
            counts = getattr(self, table)
            counts[key] = counts.get(key, 0) + 1

    def observe(self, name: str, value: float) -> None:
        with self._lock:
            getattr(self, name).observe(value)

    def render(self) -> str:
        """The Prometheus text exposition format (version 0.0.4)."""
        p = self.PREFIX
        with self._lock:
            lines = [
                f"# HELP {p}_model_loaded 1 once the model is loaded and sessions are accepted.",
                f"# TYPE {p}_model_loaded gauge",
                f"{p}_model_loaded {int(self.model_loaded)}",
                f"# HELP {p}_sessions_active Open websocket sessions.",
                f"# TYPE {p}_sessions_active gauge",
                f"{p}_sessions_active {self.sessions_active}",
                f"# HELP {p}_sessions_total Sessions opened since the server started.",
                f"# TYPE {p}_sessions_total counter",
                f"{p}_sessions_total {self.sessions_total}",
                f"# HELP {p}_rejected_total Websocket handshakes refused, by reason.",
                f"# TYPE {p}_rejected_total counter",
                *(f'{p}_rejected_total{{reason="{k}"}} {v}' for k, v in sorted(self.rejected.items())),
                f"# HELP {p}_errors_total Error events sent to clients, by code.",
                f"# TYPE {p}_errors_total counter",
                *(f'{p}_errors_total{{code="{k}"}} {v}' for k, v in sorted(self.errors.items())),
                f"# HELP {p}_audio_seconds_total Seconds of audio received.",
                f"# TYPE {p}_audio_seconds_total counter",
                f"{p}_audio_seconds_total {self.audio_seconds:.3f}",
                f"# HELP {p}_vad_seconds_total CPU time the voice activity detector took (its thread, and the inference thread at stream closes).",
                f"# TYPE {p}_vad_seconds_total counter",
                f"{p}_vad_seconds_total {self.vad_seconds:.6f}",
                f"# HELP {p}_vad_frames_total 32 ms frames of audio the voice activity detector judged.",
                f"# TYPE {p}_vad_frames_total counter",
                f"{p}_vad_frames_total {self.vad_frames}",
                f"# HELP {p}_silent_windows_total Windows that skipped the model: no speech near them.",
                f"# TYPE {p}_silent_windows_total counter",
                f"{p}_silent_windows_total {self.silent_windows}",
                *self.batch_size.render(f"{p}_batch_size", "Windows per forward pass."),
                *self.inference_seconds.render(f"{p}_inference_seconds", "Time per batched forward pass."),
                *self.final_pass_batch_size.render(
                    f"{p}_final_pass_batch_size", "Final passes (segments that ended) decoded per round."
                ),
                *self.final_pass_seconds.render(f"{p}_final_pass_seconds", "Time per round's batched final passes."),
                *self.queue_lag_seconds.render(
                    f"{p}_queue_lag_seconds", "Time from audio arriving to its hops being recognized."
                ),
            ]
        return "\n".join(lines) + "\n"
