"""What every subcommand shares: exit codes, the error a person can fix, one-line messages, the model.

torch is imported only by ``load_model`` and ``make_recognizer``, so a module that imports this one
stays light enough for ``--help``.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import Any, TextIO

from streamer.cli.options import streaming_config
from streamer.core.config import StreamingConfig

__all__ = [
    "EXIT_FAILED",
    "EXIT_INTERRUPTED",
    "EXIT_OK",
    "EXIT_USAGE",
    "PROG",
    "CliError",
    "config_of",
    "hotwords_of",
    "error",
    "is_terminal",
    "load_model",
    "make_recognizer",
    "note",
    "one_line",
    "open_output",
    "silence_stdout",
]

PROG = "hubert-stream"

EXIT_OK = 0
EXIT_FAILED = 1  # some input could not be transcribed, or the stream broke off
EXIT_USAGE = 2  # bad options, no model, no PortAudio/device/rate (argparse also exits 2)
EXIT_INTERRUPTED = 130  # a second Ctrl-C while the last words were being finalized


class CliError(Exception):
    """A problem the user can fix: printed as one line, then ``main`` returns ``code``."""

    def __init__(self, message: str, code: int = EXIT_USAGE) -> None:
        super().__init__(message)
        self.code = code


def error(message: str) -> None:
    print(f"{PROG}: error: {one_line(message)}", file=sys.stderr, flush=True)


def note(message: str) -> None:
    print(f"{PROG}: {message}", file=sys.stderr, flush=True)


def one_line(text: object) -> str:
    return " ".join(str(text).split())


def silence_stdout() -> None:
    """Point stdout at /dev/null, so that the interpreter's last flush into a closed pipe stays quiet."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError, AttributeError):
        pass


def config_of(args: argparse.Namespace) -> StreamingConfig:
    """The streaming options as a StreamingConfig, or a CliError naming the option that is out of range."""
    try:
        return streaming_config(args)
    except ValueError as e:
        raise CliError(f"bad streaming option: {e}") from e


def load_model(args: argparse.Namespace) -> Any:
    """The model with the LM the options ask for (``--lm``, ``--no-lm``, the model's own
    ``language_model/`` folder otherwise) and the ``--hotword``/``--hotwords-file`` phrases in its decoder
    (every recognizer and server session decodes with ``model.decoder``), or a CliError whose one line
    says what was wrong.

    The hotwords are read first, so that a bad one stops the command before the model loads."""
    from model import loading
    from model.lm import load_language_model

    hotwords = hotwords_of(args)
    lm: Any = None if getattr(args, "no_lm", False) else "auto"
    weights = {"lm_weight": getattr(args, "lm_weight", None), "word_score": getattr(args, "word_score", None)}
    if getattr(args, "lm", None):
        try:
            lm = load_language_model(args.lm, **weights)
        except (OSError, ValueError) as e:
            raise CliError(f"cannot load --lm {args.lm}: {e}") from e
    try:
        model = loading.load_model(args.model, device=args.device_type, dtype=args.dtype, lm=lm, **weights)
    except (OSError, ValueError, RuntimeError) as e:  # FileNotFoundError is an OSError
        raise CliError(f"cannot load model {args.model!r}: {e}") from e
    try:
        model.decoder = model.decoder.with_hotwords(hotwords)
    except ValueError as e:
        raise CliError(str(e)) from e
    return model


def hotwords_of(args: argparse.Namespace) -> list[Any]:
    """``--hotword`` and ``--hotwords-file`` as ``model.decoding.Hotword``s; a CliError names a bad one."""
    from model.decoding import DEFAULT_BOOST, Hotword

    from streamer.wire.events import Hotword as Written

    lines = [("", text) for text in getattr(args, "hotword", None) or ()]
    path = getattr(args, "hotwords_file", None)
    if path:
        try:
            text = Path(path).read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as e:
            raise CliError(f"cannot read --hotwords-file {path}: {getattr(e, 'strerror', None) or e}") from e
        lines += [
            (f"{path}:{number}: ", line.strip())
            for number, line in enumerate(text.splitlines(), 1)
            if line.strip() and not line.lstrip().startswith("#")
        ]
    hotwords = []
    for where, line in lines:
        try:
            written = Written.from_text(line)
            boost = DEFAULT_BOOST if written.boost is None else written.boost
            hotwords.append(Hotword(written.phrase, boost, written.sounds_like))
        except ValueError as e:
            raise CliError(f"{where}{e}") from e
    return hotwords


def make_recognizer(model: Any, config: StreamingConfig) -> Any:
    from streamer.core.recognizer import Recognizer

    try:
        return Recognizer(model, config)
    except ValueError as e:  # a model that cannot stream
        raise CliError(str(e)) from e


def open_output(path: str) -> TextIO:
    """``path`` opened for writing text; its missing folders are made (``--output 'subs/{stem}.srt'``)."""
    try:
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        return open(path, "w", encoding="utf-8", newline="\n")  # closed by the caller's ExitStack
    except OSError as e:
        raise CliError(f"cannot write {path}: {e.strerror or e}") from e


def is_terminal(stream: TextIO) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False
