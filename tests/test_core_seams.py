"""The core's seams: one decoder interface that every final goes through, final passes batched by
the one batch driver the server runs, and greedy decoding written once."""

from __future__ import annotations

import asyncio
import re
from pathlib import Path

import pytest
import soundfile as sf
import torch

from model.decoding import Decoder, GreedyDecoder
from model.vocab import Decoded, WordSpan

ROOT = Path(__file__).resolve().parents[1]
FAKE_TEXT = "QUOKKA ZEBRA"


class FakeDecoder(Decoder):
    """Says the same two words for every span, each over half of its frames."""

    def __init__(self) -> None:
        self.calls = 0

    def decode(self, logits: torch.Tensor, offset: int = 0) -> Decoded:
        self.calls += 1
        frames = logits.shape[0]
        half = offset + frames // 2
        words = (WordSpan("QUOKKA", offset, half, 0.25), WordSpan("ZEBRA", half, offset + frames, 0.75))
        return Decoded(FAKE_TEXT, (), (), words)


@pytest.fixture
def fake_decoder(demo_model, monkeypatch):
    """The demo model with the fake decoder attached, as ``load_model`` attaches the greedy one."""
    decoder = FakeDecoder()
    monkeypatch.setattr(demo_model, "decoder", decoder)
    return decoder


def test_what_a_decoder_returns_is_what_the_cli_prints(capsys, cached_model, fake_decoder):
    """`transcribe` prints, as its finals, exactly the text and word times the model's decoder returned."""
    from streamer.cli import main
    from streamer.wire.events import Final, from_json

    status = main(["transcribe", str(ROOT / "examples" / "weather.wav"), "--model", "demo", "--format", "jsonl"])
    out = capsys.readouterr().out
    assert status == 0
    finals = [e for e in map(from_json, out.splitlines()) if isinstance(e, Final)]
    assert finals and fake_decoder.calls == len(finals)
    assert {f.text for f in finals} == {FAKE_TEXT}
    assert all([w.confidence for w in f.words] == [0.25, 0.75] for f in finals)


def test_what_a_decoder_returns_is_the_servers_final(demo_model, fake_decoder):
    """A live session's finals over the websocket carry the decoder's text and words, unchanged."""
    from test_server import running_server, stream_clip, url

    audio = sf.read(ROOT / "examples" / "weather.wav", dtype="int16")[0]
    with running_server(demo_model) as server:
        events, code = asyncio.run(stream_clip(url(server), audio))
    finals = [e for e in events if e.type == "final"]
    assert code == 1000 and len(finals) >= 2
    assert {f.text for f in finals} == {FAKE_TEXT}
    assert [f.segment for f in finals] == list(range(len(finals)))
    assert all([w.word for w in f.words] == ["QUOKKA", "ZEBRA"] for f in finals)


def test_offline_transcribe_decodes_through_the_decoder(demo_model):
    """``model.transcribe`` takes a decoder; the fake one's text comes back."""
    from model import transcribe

    audio = sf.read(ROOT / "examples" / "hello.wav", dtype="float32")[0]
    assert transcribe(demo_model, audio, decoder=FakeDecoder()).text == FAKE_TEXT
    assert transcribe(demo_model, audio).text == transcribe(demo_model, audio, decoder=GreedyDecoder(demo_model.vocab)).text


def test_greedy_decoding_is_written_once():
    """One place takes the best token over the vocabulary: ``model.decoding.greedy_frames``.

    The phrase grammar's search (``model/grammar.py``) and the hotword spotter (``model/hotwords.py``)
    are left out: their maxima choose among paths through their graphs, and the grammar's filler's
    best letter leaves out the blank, neither a greedy decoding."""
    pattern = re.compile(r"argmax\(|\.max\(dim=-1\)|\.max\(-1\)")
    places = [
        f"{path.relative_to(ROOT)}:{n}"
        for folder in ("model", "streamer", "clients")
        for path in sorted((ROOT / folder).rglob("*.py"))
        if path.relative_to(ROOT).as_posix() not in ("model/grammar.py", "model/hotwords.py")
        for n, line in enumerate(path.read_text().splitlines(), 1)
        if pattern.search(line)
    ]
    assert [p.split(":")[0] for p in places] == ["model/decoding.py"], places


def _final_pass_requests(model) -> list:
    """Final passes of real segments of different lengths, as the recognizers ask for them."""
    from streamer import Recognizer
    from streamer.core.recognizer import PendingFinal

    requests = []
    for name in ("examples/hello.wav", "examples/weather.wav", "bench/data/speech.wav"):
        audio = sf.read(ROOT / name, dtype="float32")[0]
        recognizer = Recognizer(model)
        for start in range(0, len(audio), 4_800):
            recognizer.push(audio[start : start + 4_800])
            while (request := recognizer.next_hop()) is not None:
                from streamer.core.batch import forward_hops

                items = recognizer.consume(forward_hops(model, [request])[0])
                requests += [p.request for p in items if isinstance(p, PendingFinal)]
                recognizer.settle([p for p in items if not isinstance(p, PendingFinal)])
    return requests


def test_batched_final_passes_equal_one_by_one():
    """Final passes of different lengths batched in one padded, masked forward give the logits each
    gives alone (fp32, within 1e-4) and the same text."""
    from model import load_model
    from streamer.core.batch import forward_final_passes, similar_lengths

    model = load_model("demo", device="cpu", dtype="float32")
    requests = _final_pass_requests(model)
    assert len(requests) >= 6
    batches = similar_lengths([len(r.audio) for r in requests], 32)
    assert any(len({len(requests[i].audio) for i in rows}) > 1 for rows in batches), "no batch was padded"
    together = forward_final_passes(model, requests)
    alone = [forward_final_passes(model, [r])[0] for r in requests]
    greedy = GreedyDecoder(model.vocab)
    for a, b in zip(together, alone):
        assert a.shape == b.shape
        assert (a - b).abs().max().item() <= 1e-4
        assert greedy.decode(a).text == greedy.decode(b).text


def test_streams_that_end_sentences_together_share_one_final_pass_forward(demo_model):
    """Streams started together end their sentences in the same rounds: their final passes run as
    one batch, and every stream's finals equal those of the stream alone."""
    from conftest import stream_batched
    from streamer import BatchEngine
    from streamer.core.files import transcribe_stream

    audio = sf.read(ROOT / "bench" / "data" / "speech.wav", dtype="float32")[0]
    clips = [audio, audio[160:], audio[320:]]
    engines = []
    real = BatchEngine.__init__

    def remember(self, *args, **kwargs):
        real(self, *args, **kwargs)
        engines.append(self)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(BatchEngine, "__init__", remember)
        together = stream_batched(demo_model, clips)
    [engine] = engines
    assert engine.final_batches < engine.final_passes, "final passes of several streams should share forwards"
    for clip, events in zip(clips, together):
        alone = [e.text for e in transcribe_stream(demo_model, clip, 16_000) if e.type == "final"]
        assert [e.text for e in events if e.type == "final"] == alone


def test_the_server_drives_streams_through_the_batch_engine(demo_model):
    """The server's inference worker runs its hops and final passes through ``BatchEngine``, the class
    the benches and the GPU check measure."""
    from streamer import BatchEngine
    from test_server import running_server, stream_clip, url

    audio = sf.read(ROOT / "examples" / "weather.wav", dtype="int16")[0]
    with running_server(demo_model) as server:
        asyncio.run(stream_clip(url(server), audio))
        engine = server.worker.engine
    assert type(engine) is BatchEngine
    assert engine.windows > 0 and engine.final_passes >= 2
    for bench in ("bench_engine.py", "bench_large.py", "gpu_check.py"):
        assert "BatchEngine(" in (ROOT / "bench" / bench).read_text()
