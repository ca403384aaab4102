"""The ``hubert-stream`` command line: the one parser of every subcommand, and ``main(argv)``.

    hubert-stream mic --model demo                       # live captions in the terminal
    hubert-stream transcribe talk.flac --format srt -o talk.srt
    hubert-stream devices                                # input devices, rates and channels

``main(argv)`` returns the exit status instead of exiting, so tests drive the whole
command; ``python -m streamer`` and the ``hubert-stream`` script call the same function.
Each subcommand runs from its own module (``transcribe``, ``listen`` for mic and devices,
``serve``), which imports torch, the model and sounddevice only when it runs, so ``--help``
and ``devices`` answer at once and nothing here needs PortAudio except ``mic``.
"""

from __future__ import annotations

import argparse
import math
from collections.abc import Sequence
from typing import Any

from streamer.cli import serve
from streamer.cli.captions import FORMATS
from streamer.cli.common import (
    EXIT_FAILED,
    EXIT_INTERRUPTED,
    EXIT_OK,
    EXIT_USAGE,
    PROG,
    CliError,
    error,
    silence_stdout,
)
from streamer.cli.listen import run_devices, run_mic
from streamer.cli.mic import QUEUE_SECONDS
from streamer.cli.transcribe import PROGRESS_MIN_SECONDS, STDIN, run_transcribe
from streamer.core.config import ENDPOINT_CHOICES, FRAME_SECONDS, VAD_CHOICES, StreamingConfig
from streamer.wire.units import MAX_CAPTURE_CHANNELS

__all__ = ["build_parser", "main"]

# The same as model.loading.DEFAULT_MODEL and ALIASES (a test keeps them equal): written out here
# so that `--help` does not have to import torch.
DEFAULT_MODEL = "facebook/hubert-large-ls960-ft"
MODEL_ALIASES = ("demo", "large", "xlarge")
DTYPES = ("float32", "bfloat16", "float16")
# The same as model.lm.DEFAULT_LM_WEIGHT and model.hotwords' DEFAULT_BOOST, MAX_BOOST and
# SOUNDS_LIKE_BOOST_SHARE (a test keeps them equal), for the same reason.
DEFAULT_LM_WEIGHT = 2.0
DEFAULT_BOOST = 2.0
MAX_BOOST = 10.0
SOUNDS_LIKE_BOOST_SHARE = 0.75

DISTRIBUTION = "hubert-stream"  # pyproject.toml's [project] name, whose version --version prints
DEFAULTS = StreamingConfig()
# Measured figures (accuracy, compute) live in one place, docs/performance.md, and nowhere in the help or docs/cli.md.
FIGURES = "docs/performance.md"

EPILOG = f"""\
exit status: {EXIT_OK} success; {EXIT_FAILED} some file could not be read (the others are still
transcribed) or the microphone stream stopped; {EXIT_USAGE} bad options, a model that cannot be
loaded, or no PortAudio / no input device / an unsupported rate."""


class ParagraphFormatter(argparse.HelpFormatter):
    """Wraps each paragraph of a description to the terminal, keeping the blank lines between them."""

    def _fill_text(self, text: str, width: int, indent: str) -> str:
        return "\n\n".join(super(ParagraphFormatter, self)._fill_text(p, width, indent) for p in text.split("\n\n"))


def build_parser() -> argparse.ArgumentParser:
    """The whole command line: subcommands ``mic``, ``transcribe``, ``devices`` and ``serve``."""
    parser = argparse.ArgumentParser(
        prog=PROG,
        description="Streaming speech recognition with HuBERT CTC: live captions from a microphone, "
        "transcripts and captions of audio files.",
        epilog=EPILOG,
        formatter_class=ParagraphFormatter,
    )
    parser.add_argument("--version", action="version", version=f"{PROG} {_version()}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    mic = commands.add_parser(
        "mic",
        help="live captions from a microphone",
        description=(
            f"Live captions from a microphone, recorded at the device's own rate (up to {MAX_CAPTURE_CHANNELS} channels, "
            "mixed to mono and resampled to 16 kHz).\n\n"
            "In a terminal (with the default text format) the sentence being heard is redrawn in place, "
            "its still-changing end dimmed, and each finished sentence gets a line of its own. When stdout "
            "is not a terminal only finished sentences are printed, one per line. --format jsonl, srt or vtt "
            "prints every event, or captions, instead (in a terminal too). With --output the --format goes "
            "to that file, and a terminal still shows the live view.\n\n"
            "Ctrl-C finishes the last sentence and exits with status 0. Audio lost on the way (input "
            "overflows, blocks dropped because recognition fell behind by more than "
            f"{QUEUE_SECONDS:g} s) is reported on stderr."
        ),
        epilog=EPILOG,
        formatter_class=ParagraphFormatter,
    )
    mic.add_argument(
        "--input", "-i", metavar="NAME|INDEX",
        help="input device: its index or (part of) its name, as `hubert-stream devices` lists them "
        "(default: the system's default input)",
    )  # fmt: skip
    _add_model_options(mic)
    _add_streaming_options(mic)
    _add_output_options(mic, files=False)
    mic.set_defaults(run=run_mic)

    transcribe = commands.add_parser(
        "transcribe",
        help="transcribe or caption audio files",
        description=(
            "Transcribe audio files in any format libsndfile reads (WAV, FLAC, Ogg, MP3, ...), at any "
            "rate from 8 to 192 kHz and with any number of channels. A file is not live: it is decoded "
            "offline in long chunks cut at pauses, which costs about one offline pass and is as accurate as "
            "offline decoding, with the events (partials, finals, word times) a live stream gives. --live "
            "streams it through the same windows as the microphone and the server instead, and --realtime "
            "does that at the pace of a live source. A progress bar is shown on stderr for files of "
            f"{PROGRESS_MIN_SECONDS:g} s or more when stderr is a terminal.\n\n"
            "Several files: each file's output is headed by a line `==> FILE <==` (text, srt, vtt), or, "
            "for jsonl, the events simply follow each other (each file's segments count from 0). srt and "
            "vtt captions of several files cannot share one --output file: use --output '{stem}.srt' for "
            "one file per input. A file that cannot be read is reported by name, the others are still "
            "transcribed, and the exit status is 1."
        ),
        epilog=EPILOG,
        formatter_class=ParagraphFormatter,
    )
    transcribe.add_argument(
        "files", nargs="+", metavar="FILE",
        help=f"audio files to transcribe; {STDIN} reads standard input (whole, then transcribes it), "
        f"e.g. cat talk.flac | {PROG} transcribe -",
    )  # fmt: skip
    transcribe.add_argument(
        "--live", action="store_true",
        help="decode with the live recognizer's windows (what mic and serve print) instead of offline in long chunks",
    )  # fmt: skip
    transcribe.add_argument(
        "--realtime", action="store_true",
        help="feed each file to the live recognizer at the pace of a live source (1 s of audio per second); "
        "implies --live",
    )  # fmt: skip
    _add_model_options(transcribe)
    _add_streaming_options(transcribe)
    _add_output_options(transcribe, files=True)
    transcribe.set_defaults(run=run_transcribe)

    devices = commands.add_parser(
        "devices",
        help="list the audio input devices",
        description="List the audio input devices PortAudio sees: index, name, host API, input channels "
        "and default sample rate. The default input is marked with *. Use the index or the name with "
        "`hubert-stream mic --input`.",
        epilog=EPILOG,
        formatter_class=ParagraphFormatter,
    )
    devices.set_defaults(run=run_devices)

    _add_serve(commands)
    return parser


def _version() -> str:
    """The installed distribution's version: pyproject.toml's, as pip recorded it."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(DISTRIBUTION)
    except PackageNotFoundError:
        return "(version unknown: not installed; pip install -e . from the checkout)"


def _add_serve(commands: Any) -> None:
    parser = commands.add_parser(
        "serve",
        help="websocket server: live partials and finals for many remote streams",
        description="Serve live partials and finals over websockets to many streams at once, with one "
        "shared model that runs the due hops of all streams together.",
        epilog=EPILOG,
        formatter_class=ParagraphFormatter,
    )
    _add_model_options(parser)
    _add_streaming_options(parser)
    serve.add_arguments(parser)
    parser.set_defaults(run=serve.run)


def _finite(text: str) -> float:
    """argparse type: a finite number."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r}: give a number") from None
    if not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"{text!r}: give a finite number")
    return value


def _seconds(text: str) -> float:
    """argparse type: a finite number of seconds >= 0."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of seconds") from None
    if not math.isfinite(value) or value < 0:
        raise argparse.ArgumentTypeError(f"{text!r}: give a number of seconds >= 0")
    return value


def _add_model_options(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("model")
    group.add_argument(
        "--model", "-m", default=DEFAULT_MODEL,
        help=f"an alias ({', '.join(MODEL_ALIASES)}), a local folder in the Hugging Face layout, or a hub id "
        "(default: %(default)s, downloaded once; `demo` is the small bundled model and works offline)",
    )  # fmt: skip
    group.add_argument(
        "--device-type", choices=("cpu", "cuda", "auto"), default="auto",
        help="where the model runs; auto takes CUDA when available (default: %(default)s)",
    )  # fmt: skip
    group.add_argument(
        "--dtype", choices=DTYPES, default=None,
        help="model precision, float16 on CUDA only (default: bfloat16 on a CPU with native bf16 (AVX512-bf16 "
        "or AMX), float32 on other CPUs, where bf16 is emulated and slower; bfloat16 on CUDA, float16 on a GPU "
        "without bf16; the choice is logged)",
    )  # fmt: skip
    group = parser.add_argument_group(
        "decoding",
        "Finals are decoded greedily unless there is a language model or hotwords; then by CTC beam search "
        "(partials stay greedy).",
    )
    lm = group.add_mutually_exclusive_group()
    lm.add_argument(
        "--lm", metavar="PATH",
        help="a KenLM word language model: an ARPA or KenLM binary file (a binary with unigrams.txt beside it), "
        "a folder in the Wav2Vec2ProcessorWithLM layout (attrs.json, unigrams.txt, the KenLM file), or `demo` "
        "for the bundled demo LM (default: the model's own language_model/ folder when it has one)",
    )  # fmt: skip
    lm.add_argument(
        "--no-lm", action="store_true",
        help="decode without a language model, even when the model has a language_model/ folder",
    )  # fmt: skip
    group.add_argument(
        "--lm-weight", type=_finite, metavar="W",
        help="weight of the LM's log10 probabilities (default: from the LM folder's attrs.json, else "
        f"{DEFAULT_LM_WEIGHT:g})",
    )  # fmt: skip
    group.add_argument(
        "--word-score", type=_finite, metavar="S",
        help="added to a hypothesis's score for each word (default: attrs.json's beta, else 0)",
    )  # fmt: skip
    group.add_argument(
        "--hotword", action="append", default=[], metavar="PHRASE[=SOUNDS_LIKE,...][:BOOST]",
        help="a word or phrase to expect (repeatable); it replaces what was heard where its spelling is at most "
        f"BOOST per character less likely (natural log; above 0, at most {MAX_BOOST:g}; default {DEFAULT_BOOST:g}); "
        f"SOUNDS_LIKE: spellings of how it sounds, searched at {SOUNDS_LIKE_BOOST_SHARE:g} times the boost (Siobhan=she vawn)",
    )  # fmt: skip
    group.add_argument(
        "--hotwords-file", metavar="FILE",
        help="hotwords, one PHRASE[=SOUNDS_LIKE,...][:BOOST] a line (blank lines and lines starting with # are skipped)",
    )  # fmt: skip


def _add_streaming_options(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("streaming (seconds, rounded to 20 ms frames)")
    defaults = {
        "hop": DEFAULTS.hop_frames, "lookahead": DEFAULTS.lookahead_frames,
        "left_context": DEFAULTS.left_context_frames, "endpoint_silence": DEFAULTS.endpoint_blank_frames,
        "vad_silence": DEFAULTS.endpoint_vad_frames,
    }  # fmt: skip
    shown = {name: round(frames * FRAME_SECONDS, 2) for name, frames in defaults.items()}
    history = round(DEFAULTS.final_context_frames * FRAME_SECONDS, 2)
    group.add_argument(
        "--hop", type=_seconds, metavar="S",
        help=f"new audio per model run: shorter updates partials sooner, costs more compute (default: {shown['hop']})",
    )  # fmt: skip
    group.add_argument(
        "--lookahead", type=_seconds, metavar="S",
        help=f"future audio each committed frame has seen: more accurate, and later (default: {shown['lookahead']})",
    )  # fmt: skip
    group.add_argument(
        "--left-context", type=_seconds, metavar="S",
        help=f"past audio in front of each window (default: {shown['left_context']})",
    )  # fmt: skip
    group.add_argument(
        "--endpoint-silence", type=_seconds, metavar="S",
        help=f"silence after speech that ends a sentence and emits a final (default: {shown['endpoint_silence']})",
    )  # fmt: skip
    group.add_argument(
        "--kv-cache", action=argparse.BooleanOptionalAction, default=None,
        help="reuse the left context's keys/values from earlier hops, so only hop + lookahead frames run "
        f"through the model (default: {'on' if DEFAULTS.kv_cache else 'off'}; --no-kv-cache recomputes "
        "whole windows)",
    )  # fmt: skip
    group.add_argument(
        "--final-pass", action=argparse.BooleanOptionalAction, default=None,
        help="decode each finished sentence once more, with the audio after it and, when a finalize cut it out of "
        f"an utterance, the utterance's audio before it (up to {history:g} s of history), for its final, as "
        "offline decoding would; partials come from the windows either way (default: "
        f"{'on' if DEFAULTS.final_pass else 'off'}; --no-final-pass gives the windows' own finals, for less "
        f"compute; measured: {FIGURES})",
    )  # fmt: skip
    group.add_argument(
        "--vad", choices=VAD_CHOICES, default=None,
        help="voice activity detection: windows with no speech near them skip the model and count as silence, "
        "and a sentence's final pass decodes only its speech. silero: the silero-vad network (tells speech from "
        f"noise and music); energy: a level threshold ({DEFAULTS.energy_threshold_db:g} dBFS); off: every window "
        f"runs the model (default: {DEFAULTS.vad}; measured: {FIGURES})",
    )  # fmt: skip
    group.add_argument(
        "--vad-endpoint", choices=ENDPOINT_CHOICES, default=None,
        help="with a VAD, what else ends a sentence besides --endpoint-silence of blank frames: vad, the VAD "
        "hearing --vad-silence of silence after its speech; both, that and as many blank frames after the last "
        f"letter; blank, nothing else (default: {DEFAULTS.endpoint})",
    )  # fmt: skip
    group.add_argument(
        "--vad-silence", type=_seconds, metavar="S",
        help="with a VAD, the silence after speech that ends a sentence (--vad-endpoint vad or both; default: "
        f"{shown['vad_silence']})",
    )  # fmt: skip


def _add_output_options(parser: argparse.ArgumentParser, files: bool) -> None:
    group = parser.add_argument_group("output")
    group.add_argument(
        "--format", "-f", choices=FORMATS, default="text",
        help="text: one final per line; jsonl: every event (partials and finals) as JSON, one per line, "
        "as sent on the wire; srt/vtt: captions from the finals, at most 2 lines of 42 characters and "
        "6 s each, long sentences split at word boundaries (default: %(default)s)",
    )  # fmt: skip
    if files:
        help_ = (
            "write to FILE instead of stdout (missing folders are made); with {stem} in it, one file per input "
            "named after it, e.g. --output 'subs/{stem}.srt' (required for srt/vtt of several files)"
        )
    else:
        help_ = (
            "write the events of --format to FILE (missing folders are made); stdout then shows the live view "
            "only when it is a terminal"
        )
    group.add_argument("--output", "-o", metavar="FILE", help=help_)


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``hubert-stream`` with ``argv`` (``sys.argv[1:]`` when None); returns the exit status.

    argparse itself exits (``SystemExit``) for ``--help`` and for malformed options.
    """
    parser = build_parser()
    args = parser.parse_args(argv)
    if getattr(args, "output", None) == "-":
        args.output = None  # the usual spelling of stdout
    try:
        return args.run(args)
    except CliError as e:
        error(str(e))
        return e.code
    except KeyboardInterrupt:
        return EXIT_INTERRUPTED
    except BrokenPipeError:  # `hubert-stream ... | head`: the reader left; stop quietly
        silence_stdout()
        return EXIT_FAILED
