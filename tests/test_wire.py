"""The wire layer alone (torch-free, fast): every message round-trips, every malformed one is refused
by name with its documented code, float audio never reaches the recognizer out of range, and each
unit has one definition."""

from __future__ import annotations

import ast
import dataclasses
import json
from pathlib import Path

import numpy as np
import pytest

from streamer.wire.audio import AudioInput, decode_pcm
from streamer.wire.events import (
    Ack,
    Auth,
    Config,
    Done,
    Eof,
    ErrorEvent,
    Final,
    Finalize,
    Hypothesis,
    Lag,
    Partial,
    Ready,
    Resume,
    VoskAlternatives,
    VoskConfig,
    VoskEof,
    VoskError,
    VoskPartial,
    VoskReset,
    VoskResult,
    WordTiming,
    from_json,
    parse_event,
    parse_native,
    parse_vosk,
)
from streamer.wire.protocol import ERROR_CLOSE, ERROR_CODES, MAX_TEXT_BYTES, ProtocolError, token_of

ROOT = Path(__file__).resolve().parents[1]
WORDS = (WordTiming("HELLO", 0.3, 0.62, 0.97), WordTiming("WORLD", 0.7, 1.24, 0.9))

NATIVE_MESSAGES = [
    Ready("3f2a9c01b7de", 16_000),
    Ready("3f2a9c01b7de", 48_000, Resume(480_000, 4)),
    Ack(480_000, 4),
    Partial(0, "HELLO WOR", "HELLO", " WOR"),
    Final(0, "HELLO WORLD", 0.3, 1.24, WORDS),
    Final(1, "", 2.0, 2.0),
    Final(2, "OPEN THE DOOR", 0.3, 1.24, WORDS, (Hypothesis("OPEN THE DOOR", -2.5, WORDS), Hypothesis("OPEN", -9.0))),
    Lag(1.42),
    ErrorEvent("bad_audio", "partial sample"),
    Done(),
    Config(48_000, "pcm_f32le", 2),
    Config(8_000, token="t0k"),
    Config(44_100, resume=Resume(0, 0)),
    Config(resume=Resume(2**53 - 1, 7)),
    Auth("t0k"),
    Finalize(),
    Eof(),
]
VOSK_MESSAGES = [
    VoskConfig(16_000, True),
    VoskConfig(token="t0k"),
    VoskEof(),
    VoskReset(),
    VoskPartial("hello wor"),
    VoskPartial("hello wor", lag=1.5),
    VoskResult("hello world", WORDS),
    VoskResult("hello world", None, lag=2.0),
    VoskConfig(16_000, phrase_list=("open the door", "[unk]"), max_alternatives=3),
    VoskAlternatives((Hypothesis("open the door", -3.5, tuple(dataclasses.replace(w, confidence=1.0) for w in WORDS)),)),
    VoskAlternatives((Hypothesis("open the door", -3.5), Hypothesis("open the drawer", -9.0)), words=False, lag=1.5),
    VoskError("partial sample", "bad_audio"),
]


@pytest.mark.parametrize("message", NATIVE_MESSAGES, ids=lambda m: type(m).__name__)
def test_every_native_message_round_trips(message):
    """Each message of the native protocol reads back equal from its JSON, with its "type" on the wire."""
    text = message.to_json()
    assert json.loads(text)["type"] == message.type
    assert from_json(text) == message
    assert type(message).from_json(text) == message


@pytest.mark.parametrize("message", VOSK_MESSAGES, ids=lambda m: type(m).__name__)
def test_every_vosk_message_round_trips(message):
    """Each message of the Vosk dialect reads back equal from its JSON."""
    assert from_json(message.to_json(), "vosk") == message


def test_vosk_wire_shapes_are_vosks():
    """The Vosk replies keep Vosk's key names; optional keys are absent, not null."""
    assert json.loads(VoskResult("hi", WORDS[:1]).to_json()) == {
        "result": [{"conf": 0.97, "end": 0.62, "start": 0.3, "word": "HELLO"}],
        "text": "hi",
    }
    assert json.loads(VoskPartial("he").to_json()) == {"partial": "he"}
    assert json.loads(VoskError("m", "bad_audio").to_json()) == {"error": "m", "code": "bad_audio"}
    assert parse_vosk('{ "config" : { "sample_rate" : 16000.0, "model": "a" } }') == VoskConfig(16_000)
    assert json.loads(VoskAlternatives((Hypothesis("hi", -1.5, WORDS[:1]), Hypothesis("", 1.0))).to_json()) == {
        "alternatives": [
            {"confidence": -1.5, "result": [{"end": 0.62, "start": 0.3, "word": "HELLO"}], "text": "hi"},
            {"confidence": 1.0, "text": ""},
        ]
    }
    assert parse_vosk('{"eof" : 1}') == VoskEof()


def test_parsers_take_only_their_own_sides_messages():
    """A server event sent by a client (or the reverse) is a bad_message, not a crash."""
    with pytest.raises(ProtocolError) as refused:
        parse_native(Ready("x", 16_000).to_json())
    assert refused.value.code == "bad_message"
    with pytest.raises(ProtocolError):
        parse_event(Eof().to_json())
    with pytest.raises(ProtocolError):
        parse_vosk(VoskPartial("x").to_json())
    assert parse_native('{"type":"config","sample_rate":16000.0}') == Config(16_000)


DEEP_ARRAY = "[" * 1_000 + "]" * 1_000
DEEP_OBJECT = '{"a":' * 1_000 + "1" + "}" * 1_000
# (text, dialect, expected code, words the message must name)
MALFORMED = [
    ("this is not json", "native", "bad_message", "JSON"),
    ("[1, 2]", "native", "bad_message", "array"),
    (DEEP_ARRAY, "native", "bad_message", "deeper"),
    (DEEP_OBJECT, "native", "bad_message", "deeper"),
    (DEEP_OBJECT, "vosk", "bad_message", "deeper"),
    ('{"type":"config","x":"' + "a" * MAX_TEXT_BYTES + '"}', "native", "bad_message", "at most"),
    ('{"type":"sing"}', "native", "bad_message", "sing"),
    ('{"type":[]}', "native", "bad_message", "array"),
    ('{"type":{}}', "native", "bad_message", "object"),
    ('{"type":"config","sample_rate":NaN}', "native", "bad_config", "sample_rate"),
    ('{"type":"config","sample_rate":Infinity}', "native", "bad_config", "finite"),
    ('{"type":"config","sample_rate":-Infinity}', "native", "bad_config", "finite"),
    ('{"type":"config","sample_rate":1e400}', "native", "bad_config", "finite"),
    ('{"type":"config","sample_rate":16000.5}', "native", "bad_config", "whole"),
    ('{"type":"config","sample_rate":true}', "native", "bad_config", "number"),
    ('{"type":"config","sample_rate":4000}', "native", "bad_config", "8000-192000"),
    ('{"type":"config","encoding":[]}', "native", "bad_config", "encoding"),
    ('{"type":"config","encoding":{}}', "native", "bad_config", "encoding"),
    ('{"type":"config","encoding":"mp3"}', "native", "bad_config", "mp3"),
    ('{"type":"config","channels":"2"}', "native", "bad_config", "channels"),
    ('{"type":"config","channels":9}', "native", "bad_config", "channels"),
    ('{"type":"config","token":5}', "native", "bad_config", "token"),
    ('{"type":"config","resume":{"offset":-1,"segment":0}}', "native", "bad_config", "offset"),
    ('{"type":"config","resume":{"offset":0,"segment":-3}}', "native", "bad_config", "segment"),
    ('{"type":"config","resume":{"offset":9007199254740992,"segment":0}}', "native", "bad_config", "2**53"),
    ('{"type":"config","resume":{"offset":1' + "0" * 400 + ',"segment":0}}', "native", "bad_config", "401-digit"),
    ('{"type":"config","resume":{"offset":1e400,"segment":0}}', "native", "bad_config", "finite"),
    ('{"type":"config","resume":{"offset":NaN,"segment":0}}', "native", "bad_config", "offset"),
    ('{"type":"config","resume":{"offset":0.5,"segment":0}}', "native", "bad_config", "whole"),
    ('{"type":"config","resume":{"offset":true,"segment":0}}', "native", "bad_config", "offset"),
    ('{"type":"config","resume":{"offset":"0","segment":0}}', "native", "bad_config", "offset"),
    ('{"type":"config","resume":{"offset":0}}', "native", "bad_config", "segment"),
    ('{"type":"config","resume":[0, 0]}', "native", "bad_config", "resume"),
    ('{"type":"config","resume":5}', "native", "bad_config", "resume"),
    ('{"type":"auth"}', "native", "bad_message", "token"),
    ('{"type":"auth","token":"\\ud800"}', "native", "bad_message", "surrogate"),
    ('{"type":"auth","token":["x"]}', "native", "bad_message", "token"),
    (
        '{"type":"final","segment":0,"text":"A","start":0,"end":1,"words":[{"word":"A"}]}',
        "native",
        "bad_message",
        "start",
    ),
    ('{"config": {"sample_rate": NaN}}', "vosk", "bad_config", "sample_rate"),
    ('{"config": {"sample_rate": 1e400}}', "vosk", "bad_config", "finite"),
    ('{"config": {"sample_rate": Infinity}}', "vosk", "bad_config", "finite"),
    ('{"config": {"sample_rate": [16000]}}', "vosk", "bad_config", "sample_rate"),
    ('{"config": {"words": "yes"}}', "vosk", "bad_config", "words"),
    ('{"config": {"token": "\\udc00"}}', "vosk", "bad_message", "surrogate"),
    ('{"config": []}', "vosk", "bad_message", "config"),
    ('{"eof": NaN}', "vosk", "bad_message", "eof"),
    ('{"hello": 1}', "vosk", "bad_message", "expected"),
]


@pytest.mark.parametrize(("text", "dialect", "code", "named"), MALFORMED, ids=lambda v: str(v)[:40])
def test_malformed_messages_are_refused_by_name(text, dialect, code, named):
    """Deep nesting, non-finite numbers, wrong types and lone surrogates: a ProtocolError with the
    documented code and a message naming the problem, never RecursionError, TypeError or OverflowError."""
    with pytest.raises(ProtocolError) as refused:
        from_json(text, dialect)
    assert refused.value.code == code
    assert named in str(refused.value)
    assert refused.value.close == ERROR_CLOSE[code]


def test_every_error_code_has_its_close_and_is_documented():
    """docs/protocol.md lists every error code and every close code the server uses."""
    docs = (ROOT / "docs" / "protocol.md").read_text()
    assert set(ERROR_CLOSE) == set(ERROR_CODES)
    for code, close in ERROR_CLOSE.items():
        assert f"`{code}`" in docs
        if close is not None:
            assert f"| {int(close)} |" in docs


def test_token_of_is_none_for_hostile_text():
    """The pre-auth token peek never raises: deep nesting or a surrogate just means no token."""
    assert token_of('{"type":"auth","token":"t"}') == "t"
    assert token_of(DEEP_ARRAY) is None
    assert token_of('{"type":"auth","token":"\\ud800"}') is None
    assert token_of(b"\xff") is None


def test_messages_made_in_python_are_checked_too():
    """A client builds its config with the same checks the server applies."""
    with pytest.raises(ProtocolError, match="channels"):
        Config(channels=0)
    with pytest.raises(ProtocolError, match="encoding"):
        Config(encoding=[])  # type: ignore[arg-type]
    with pytest.raises(ProtocolError, match="finite"):
        Lag(float("nan"))
    assert Config(16_000.0).sample_rate == 16_000 and isinstance(Config(16_000.0).sample_rate, int)
    with pytest.raises(ProtocolError, match="offset"):
        Config(resume=Resume(-1, 0))
    assert Config(resume={"offset": 16_000.0, "segment": 2}).resume == Resume(16_000, 2)  # type: ignore[arg-type]


def test_resume_is_optional_and_absent_from_the_wire_when_unset():
    """Sessions that never resume see the messages they always did: no "resume" key, no acks asked for."""
    assert "resume" not in json.loads(Config().to_json())
    assert "resume" not in json.loads(Ready("s", 16_000).to_json())
    assert json.loads(Config(resume=Resume(3, 1)).to_json())["resume"] == {"offset": 3, "segment": 1}


# ----- audio values ----------------------------------------------------------------------------


@pytest.mark.parametrize("value", [3e38, 1e30, 1e5, -7.0, np.nan, np.inf])
@pytest.mark.parametrize(("rate", "channels"), [(16_000, 1), (16_000, 2), (22_050, 1), (48_000, 2)])
def test_float_audio_beyond_twice_full_scale_is_refused(value, rate, channels):
    """A float block with a sample beyond +-2 (or NaN/inf) is a ValueError before the down-mix or
    resampler (no OverflowError), and the stream's next blocks convert as if it never came."""
    source, twin = AudioInput(rate, channels), AudioInput(rate, channels)
    tone = (0.3 * np.sin(np.arange(rate // 10 * channels) * 0.05)).astype(np.float32)
    bad = tone.copy()
    bad[7] = value
    with pytest.raises(ValueError, match="float|NaN"):
        source(decode_pcm(bad.astype("<f4").tobytes(), "pcm_f32le"))
    out = source(tone)
    assert np.isfinite(out).all() and np.abs(out).max() <= 1.0
    np.testing.assert_array_equal(out, twin(tone))


def test_float_overs_up_to_twice_full_scale_are_clipped():
    """Overs from a loud float source (up to +6 dB) are clipped to +-1; in-range blocks are untouched."""
    source = AudioInput(16_000)
    block = np.array([0.5, 1.5, -2.0, -0.25], dtype=np.float32)
    np.testing.assert_array_equal(source(block), [0.5, 1.0, -1.0, -0.25])
    quiet = np.array([0.5, -1.0], dtype=np.float32)
    np.testing.assert_array_equal(AudioInput(16_000)(quiet), quiet)


# ----- units -------------------------------------------------------------------------------------

UNITS = ("SAMPLE_RATE", "FRAME_SAMPLES", "FRAME_SECONDS", "MIN_RATE", "MAX_RATE", "RECEPTIVE_FIELD", "MAX_CHANNELS")


def test_each_unit_is_defined_once():
    """SAMPLE_RATE, FRAME_SECONDS, the rate limits... are assigned in streamer/wire/units.py only; the
    one other home is the model's input rate in model/audio.py (``model/`` stands alone, so it cannot
    read the wire layer's), and the two agree."""
    from model.audio import SAMPLE_RATE as MODEL_RATE
    from streamer.wire.units import SAMPLE_RATE

    homes: dict[str, list[str]] = {}
    for package in ("model", "streamer", "clients", "training"):
        for path in (ROOT / package).rglob("*.py"):
            for node in ast.walk(ast.parse(path.read_text())):
                if isinstance(node, ast.Assign):
                    for target in node.targets:
                        if isinstance(target, ast.Name) and target.id in UNITS:
                            homes.setdefault(target.id, []).append(str(path.relative_to(ROOT)))
    assert sorted(homes.pop("SAMPLE_RATE")) == ["model/audio.py", "streamer/wire/units.py"]
    assert MODEL_RATE == SAMPLE_RATE
    assert homes == {name: ["streamer/wire/units.py"] for name in UNITS if name in homes}
    assert set(homes) >= {"FRAME_SAMPLES", "FRAME_SECONDS", "MIN_RATE", "MAX_RATE"}
