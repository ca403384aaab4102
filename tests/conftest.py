from __future__ import annotations

import copy

import signal

import pytest

from training.checkpoints import STYLES, write_checkpoint


@pytest.fixture(scope="session")
def checkpoint_factory(tmp_path_factory):
    """Build (style, weights format) checkpoints once per session; returns (folder, reference model)."""
    made = {}

    def make(style: str, weights: str = "safetensors"):
        if (style, weights) not in made:
            folder = tmp_path_factory.mktemp(f"{style}-{weights}")
            made[style, weights] = (folder, write_checkpoint(folder, STYLES[style], weights))
        return made[style, weights]

    return make


@pytest.fixture(scope="session", autouse=True)
def ctrl_c_reaches_python():
    """A suite started in the background (``nohup``, ``&`` in a script, some CI runners) inherits SIGINT
    ignored; the tests that press Ctrl-C with ``_thread.interrupt_main()`` only reach a Python
    handler, so without one they would wait for ever. Python's own handler is put back."""
    previous = signal.getsignal(signal.SIGINT)
    if previous in (signal.SIG_IGN, signal.SIG_DFL, None):
        signal.signal(signal.SIGINT, signal.default_int_handler)
    yield
    if previous in (signal.SIG_IGN, signal.SIG_DFL):
        signal.signal(signal.SIGINT, previous)


DEMO = "demo"


@pytest.fixture(scope="module")
def demo_model():
    """The demo model, loaded once per test module."""
    from model import load_model

    return load_model(DEMO, device="cpu")


@pytest.fixture(scope="module")
def demo(demo_model):
    """The demo model (the name the streaming tests use)."""
    return demo_model


@pytest.fixture(scope="module")
def long_speech():
    """Several sentences with pauses: (audio, [(start, end) of each sentence in seconds])."""
    from training.speech import SENTENCES, speech_with_pauses

    return speech_with_pauses(SENTENCES)


def finals_of(events) -> list:
    """The ``Final`` events among ``events``."""
    from streamer.wire.events import Final

    return [e for e in events if isinstance(e, Final)]


def stream_batched(model, clips, config=None, block: int = 4_800) -> list[list]:
    """Each clip its own stream, all pushed block by block through one ``BatchEngine``, then
    closed: every stream's events, in the order of ``clips``."""
    from streamer import BatchEngine, Recognizer

    engine = BatchEngine(model)
    recognizers = [Recognizer(model, config) for _ in clips]
    got = {r: [] for r in recognizers}
    for start in range(0, max(len(c) for c in clips), block):
        for r, clip in zip(recognizers, clips):
            if start < len(clip):
                r.push(clip[start : start + block])
        for r, events in engine.step(recognizers).items():
            got[r] += events
    assert engine.windows > engine.batches, "the streams' hops should have shared forward passes"
    return [got[r] + r.close() for r in recognizers]


@pytest.fixture
def cached_model(demo_model, monkeypatch):
    """`--model demo` in the CLI's main() reuses the module's model instead of reading it again."""
    import model.loading

    real = model.loading.load_model

    def load(name, device=None, dtype=None, revision=None, **decoding):
        greedy = decoding.get("lm", "auto") in ("auto", None) and not any(decoding.get(k) for k in ("hotwords", "lm_weight", "word_score"))
        if name == DEMO and device in (None, "auto", "cpu") and dtype is None and greedy:
            # The demo model has no language_model/ folder: greedy either way. A shallow copy (the same
            # weights), so that a command giving it hotwords (model.decoder) leaves other tests' model alone.
            return copy.copy(demo_model)
        return real(name, device=device, dtype=dtype, revision=revision, **decoding)

    monkeypatch.setattr(model.loading, "load_model", load)
    return demo_model
