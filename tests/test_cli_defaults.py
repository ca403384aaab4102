"""Every default that `hubert-stream ... --help` states is the one the code uses.

The options are read from the parser itself, so a new option that states a default is checked
without being listed here. Most defaults are argparse's own; the streaming options leave theirs to
``StreamingConfig`` and serve's limits take theirs from ``ServerOptions``, so those are read back
from the objects the command builds. The few defaults that depend on the machine or the
environment (precision, token, input device) have a check of their own below.
"""

from __future__ import annotations

import argparse
import dataclasses
import re
import types
from pathlib import Path

import pytest
import torch

import model.device
import model.lm
import model.loading
from streamer.cli import parser as cli
from streamer.cli.common import CliError
from streamer.cli.common import load_model as load_cli_model
from streamer.cli.mic import find_input_device
from streamer.cli.options import OPTION_OF_FIELD, streaming_config
from streamer.cli.serve import options_from_args
from streamer.core.config import FRAME_SECONDS, StreamingConfig
from streamer.server.options import ServerOptions

ROOT = Path(__file__).resolve().parent.parent
DEFAULT = "(default: "
STREAMING_FIELDS = {option: field for field, option in OPTION_OF_FIELD.items()} | {
    "--" + field.name.replace("_", "-"): field.name for field in dataclasses.fields(StreamingConfig)
}


def subcommands() -> dict[str, argparse.ArgumentParser]:
    commands = next(a for a in cli.build_parser()._actions if isinstance(a, argparse._SubParsersAction))
    return dict(commands.choices)


def long_name(action: argparse.Action) -> str:
    return next(o for o in action.option_strings if o.startswith("--"))


def stated_default(parser: argparse.ArgumentParser, action: argparse.Action) -> str | None:
    """The text of "(default: ...)" in the option's help as --help prints it, nested parentheses and all."""
    text = parser._get_formatter()._expand_help(action) if action.help else ""
    start = text.find(DEFAULT)
    if start < 0:
        return None
    depth, end = 1, start + len(DEFAULT)
    while depth:
        depth += {"(": 1, ")": -1}.get(text[end], 0)
        end += 1
    return text[start + len(DEFAULT) : end - 1]


def options() -> list[tuple[str, argparse.Action]]:
    """(subcommand, action) for every optional argument of every subcommand."""
    return [
        (name, action)
        for name, sub in subcommands().items()
        for action in sub._actions
        if action.option_strings and not isinstance(action, argparse._HelpAction)
    ]


def parse_defaults(command: str) -> argparse.Namespace:
    """The subcommand parsed with nothing but its positional arguments."""
    sub = subcommands()[command]
    positionals = ["x.wav" for action in sub._actions if not action.option_strings]
    return cli.build_parser().parse_args([command, *positionals])


def used_default(command: str, action: argparse.Action) -> object:
    """The value the code runs with when the option is not given."""
    args = parse_defaults(command)
    field = STREAMING_FIELDS.get(long_name(action))
    if field is not None:
        value = getattr(streaming_config(args), field)
        return value * FRAME_SECONDS if field.endswith("_frames") else value
    if command == "serve":
        server = options_from_args(args)
        if hasattr(server, action.dest):
            return getattr(server, action.dest)
        if action.dest.endswith("_ms") and hasattr(server, action.dest[: -len("_ms")] + "_seconds"):
            return 1000 * getattr(server, action.dest[: -len("_ms")] + "_seconds")
    if action.default is None:
        pytest.fail(
            f"{command} {long_name(action)} states a default but argparse holds None: read back here where the "
            "code decides it, or give it a check of its own"
        )
    return getattr(args, action.dest)


def same(stated: str, used: object) -> bool:
    """Whether the stated default's first clause (before any ';' or ',') says ``used``."""
    value = re.split(r"[;,]", stated, maxsplit=1)[0].strip()
    if isinstance(used, bool):
        return value == ("on" if used else "off")
    if isinstance(used, (int, float)):
        try:
            return float(value) == pytest.approx(used)
        except ValueError:
            return False
    return value == str(used)


# ----- the defaults decided by the machine or the environment -------------------------------------


def check_dtype(command: str, stated: str, monkeypatch) -> None:
    """Each case the help names starts with the dtype the loader picks in that case."""
    cases = {  # the help's words -> (device, native bf16 on the CPU / bf16 on the GPU)
        "bfloat16 on a CPU with native bf16": ("cpu", True),
        "float32 on other CPUs": ("cpu", False),
        "bfloat16 on CUDA": ("cuda", True),
        "float16 on a GPU without bf16": ("cuda", False),
    }
    requested = parse_defaults(command).dtype
    for words, (device, bf16) in cases.items():
        assert words in stated, f"{command} --dtype: the help does not name the case {words!r}: {stated!r}"
        monkeypatch.setattr(model.device, "cpu_has_native_bf16", lambda bf16=bf16: bf16)
        monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda *_, bf16=bf16, **__: bf16)
        picked = model.loading.resolve_dtype(requested, torch.device(device))
        assert str(picked).removeprefix("torch.") == words.split()[0], (words, picked)


def check_token(command: str, stated: str, monkeypatch) -> None:
    """The token comes from the variable the help names, and there is none without it."""
    variable = re.fullmatch(r"\$(\w+); none if unset", stated)
    assert variable, stated
    monkeypatch.setenv(variable.group(1), "s3cret")
    assert options_from_args(parse_defaults(command)).token == "s3cret"
    monkeypatch.delenv(variable.group(1))
    assert options_from_args(parse_defaults(command)).token is None


def check_input(command: str, stated: str, monkeypatch) -> None:
    """No --input records from the device PortAudio calls the default input."""
    assert stated == "the system's default input"
    devices = [
        {"name": "Line In", "index": 0, "hostapi": 0, "max_input_channels": 2, "default_samplerate": 44100.0},
        {"name": "USB Microphone", "index": 1, "hostapi": 0, "max_input_channels": 1, "default_samplerate": 48000.0},
    ]
    sd = types.SimpleNamespace(
        PortAudioError=RuntimeError,
        query_devices=lambda device=None, kind=None: devices[1] if kind == "input" else devices,
        query_hostapis=lambda: ({"name": "ALSA"},),
    )
    assert find_input_device(parse_defaults(command).input, sd).name == "USB Microphone"


def check_lm(command: str, stated: str, monkeypatch) -> None:
    """No --lm asks the loader for the model's own language_model/ folder ("auto"), which it takes when there."""
    assert stated == "the model's own language_model/ folder when it has one"
    asked = {}

    def load(name, **kwargs):
        asked.update(kwargs)
        raise RuntimeError("stop here")

    monkeypatch.setattr(model.loading, "load_model", load)
    with pytest.raises(CliError):
        load_cli_model(parse_defaults(command))
    assert asked["lm"] == "auto"


def check_lm_weights(command: str, stated: str, monkeypatch) -> None:
    """--lm-weight and --word-score: attrs.json's when the LM folder has one (the parser leaves None for
    the loader to read it), else the loader's own default."""
    dest = "word_score" if "beta" in stated else "lm_weight"
    default = {"lm_weight": model.lm.DEFAULT_LM_WEIGHT, "word_score": model.lm.DEFAULT_WORD_SCORE}[dest]
    assert "attrs.json" in stated and float(stated.rsplit("else ", 1)[1]) == default, stated
    assert getattr(parse_defaults(command), dest) is None


CHECKS = {
    "dtype": check_dtype,
    "token": check_token,
    "input": check_input,
    "lm": check_lm,
    "lm_weight": check_lm_weights,
    "word_score": check_lm_weights,
}


# ----- the tests ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "command, action", [(c, a) for c, a in options() if stated_default(subcommands()[c], a) is not None],
    ids=lambda value: value if isinstance(value, str) else long_name(value),
)  # fmt: skip
def test_help_states_the_default_the_code_uses(command, action, monkeypatch):
    """The default an option's --help states is what the command runs with when the option is not given."""
    monkeypatch.delenv("HUBERT_STREAM_TOKEN", raising=False)
    stated = stated_default(subcommands()[command], action)
    if action.dest in CHECKS:
        CHECKS[action.dest](command, stated, monkeypatch)
        return
    used = used_default(command, action)
    assert same(stated, used), f"{command} {long_name(action)}: --help says {stated!r}, the code uses {used!r}"


@pytest.mark.parametrize("command, action", options(), ids=lambda v: v if isinstance(v, str) else long_name(v))
def test_every_default_is_stated(command, action):
    """An option that has a default says it in its help (flags off by default and empty lists need not)."""
    if action.default in (None, False, [], ""):
        return
    assert stated_default(subcommands()[command], action) is not None, f"{command} {long_name(action)}"


@pytest.mark.parametrize("command", ["mic", "transcribe", "serve"])
def test_no_options_give_the_library_defaults(command, monkeypatch):
    """Without options the CLI builds StreamingConfig's and ServerOptions' own defaults: no second set of them."""
    monkeypatch.delenv("HUBERT_STREAM_TOKEN", raising=False)
    args = parse_defaults(command)
    assert streaming_config(args) == StreamingConfig()
    assert args.model == model.loading.DEFAULT_MODEL
    if command == "serve":
        assert options_from_args(args) == ServerOptions()


def test_every_stated_default_is_checked():
    """Options with stated defaults of every kind this file reads back are found (no silent skip)."""
    stated = {long_name(a) for c, a in options() if stated_default(subcommands()[c], a) is not None}
    assert {"--hop", "--kv-cache", "--final-pass", "--dtype", "--model", "--max-batch", "--gather-ms"} <= stated


def test_docs_cli_quotes_the_help_defaults():
    """docs/cli.md's table of options gives each the default --help states (in seconds, or words, alike)."""
    sub = subcommands()["transcribe"]
    by_name = {long_name(a): a for a in sub._actions if a.option_strings and a.help}
    rows = [line.split("|") for line in (ROOT / "docs" / "cli.md").read_text().splitlines() if line.startswith("| `--")]
    assert len(rows) >= 10
    for row in rows:
        option, documented = re.match(r" `(--[\w-]+)`", row[1]).group(1), row[2].strip().replace("`", "")
        stated = stated_default(sub, by_name[option])
        if stated is None or by_name[option].dest in CHECKS:  # no default in the help, or one in words of its own
            continue
        first = re.split(r"[;,]", stated, maxsplit=1)[0].strip()
        assert documented in (first, f"{first} s"), f"docs/cli.md {option}: {documented!r}, --help: {stated!r}"
