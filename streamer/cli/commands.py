"""The ``hubert-stream`` command: live captions from a microphone, transcripts and captions of files.

    hubert-stream mic --model demo                       # live captions in the terminal
    hubert-stream transcribe talk.flac --format srt -o talk.srt
    hubert-stream devices                                # input devices, rates and channels

``main(argv)`` returns the exit status instead of exiting, so tests drive the whole
command; ``python -m streamer`` calls the same function. torch, the model and
sounddevice are imported only by the subcommands that need them, so ``--help`` and
``devices`` answer at once and nothing here needs PortAudio except ``mic``.
"""

from __future__ import annotations

import argparse
import math
import os
import sys
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

import numpy as np

from streamer.cli.captions import FORMATS, EventWriter, LiveDisplay, make_writer
from streamer.cli.mic import QUEUE_SECONDS
from streamer.cli.options import streaming_config
from streamer.cli.serve import add_arguments, run
from streamer.core.config import FRAME_SECONDS, StreamingConfig
from streamer.wire.audio import AudioInput
from streamer.wire.events import Event
from streamer.wire.units import MAX_CAPTURE_CHANNELS

__all__ = ["CliError", "build_parser", "main"]

PROG = "hubert-stream"
# The same as model.loading.DEFAULT_MODEL and ALIASES (a test keeps them equal): written out here
# so that `--help` does not have to import torch.
DEFAULT_MODEL = "facebook/hubert-large-ls960-ft"
MODEL_ALIASES = ("demo", "large", "xlarge")
DTYPES = ("float32", "bfloat16", "float16")

EXIT_OK = 0
EXIT_FAILED = 1  # some input could not be transcribed, or the stream broke off
EXIT_USAGE = 2  # bad options, no model, no PortAudio/device/rate (argparse also exits 2)
EXIT_INTERRUPTED = 130  # a second Ctrl-C while the last words were being finalized

FILE_BLOCK_SECONDS = 1.0  # source audio read at a time when running as fast as possible
REALTIME_BLOCK_SECONDS = 0.1  # ... and when paced like a live source (--realtime)
PROGRESS_MIN_SECONDS = 60.0  # files at least this long get a progress bar (when stderr is a terminal)
PROGRESS_REDRAW_SECONDS = 0.2
PROGRESS_BAR_WIDTH = 30
STEM = "{stem}"  # in --output: one output file per input, named after it
CONSUMER_POLL_SECONDS = 0.1  # how often the mic loop checks the stream while waiting for Ctrl-C

DEFAULTS = StreamingConfig()
 # fmt: skip

EPILOG = f"""\
exit status: {EXIT_OK} success; {EXIT_FAILED} some file could not be read (the others are still
transcribed) or the microphone stream stopped; {EXIT_USAGE} bad options, a model that cannot be
loaded, or no PortAudio / no input device / an unsupported rate."""


class ParagraphFormatter(argparse.HelpFormatter):
    """Wraps each paragraph of a description to the terminal, keeping the blank lines between them."""

    def _fill_text(self, text: str, width: int, indent: str) -> str:
        return "\n\n".join(super(ParagraphFormatter, self)._fill_text(p, width, indent) for p in text.split("\n\n"))


class CliError(Exception):
    """A problem the user can fix: printed as one line, then ``main`` returns ``code``."""

    def __init__(self, message: str, code: int = EXIT_USAGE) -> None:
        super().__init__(message)
        self.code = code


# ----- the parser ------------------------------------------------------------------------------


def build_parser() -> argparse.ArgumentParser:
    """The whole command line: subcommands ``mic``, ``transcribe``, ``devices`` (and ``serve`` when present)."""
    parser = argparse.ArgumentParser(
        prog=PROG,
        description="Streaming speech recognition with HuBERT CTC: live captions from a microphone, "
        "transcripts and captions of audio files.",
        epilog=EPILOG,
        formatter_class=ParagraphFormatter,
    )
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
            "rate from 8 to 192 kHz and with any number of channels. Each file streams through the same "
            "recognizer as the microphone, as fast as possible (or at the pace of a live source with "
            "--realtime). A progress bar is shown on stderr for files of "
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
    transcribe.add_argument("files", nargs="+", metavar="FILE", help="audio files to transcribe")
    transcribe.add_argument(
        "--realtime", action="store_true",
        help="feed each file at the pace of a live source (1 s of audio per second) instead of as fast as possible",
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


def _add_serve(commands: Any) -> None:
    serve = commands.add_parser(
        "serve",
        help="websocket server: live partials and finals for many remote streams",
        description="Serve live partials and finals over websockets to many streams at once, with one "
        "shared model that runs the due hops of all streams together.",
        epilog=EPILOG,
        formatter_class=ParagraphFormatter,
    )
    _add_model_options(serve)
    _add_streaming_options(serve)
    add_arguments(serve)
    serve.set_defaults(run=run)


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
        help="model precision (default: float32 on the CPU, bfloat16 or float16 on CUDA; bfloat16 is "
        "faster on CPUs that support it)",
    )  # fmt: skip


def _add_streaming_options(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("streaming (seconds, rounded to 20 ms frames)")
    defaults = {
        "hop": DEFAULTS.hop_frames, "lookahead": DEFAULTS.lookahead_frames,
        "left_context": DEFAULTS.left_context_frames, "endpoint_silence": DEFAULTS.endpoint_blank_frames,
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
        "--final-pass", action="store_true",
        help=f"decode each finished sentence once more, with up to {history:g} s of history, before its final, "
        "instead of stitching the streamed windows: finals within 1%% of offline decoding, for 50-80%% more compute",
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
            "write to FILE instead of stdout; with {stem} in it, one file per input named after it, "
            "e.g. --output 'captions/{stem}.srt' (required for srt/vtt of several files)"
        )
    else:
        help_ = "write the events of --format to FILE; stdout then shows the live view only when it is a terminal"
    group.add_argument("--output", "-o", metavar="FILE", help=help_)


# ----- shared pieces -------------------------------------------------------------------------


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
        _error(str(e))
        return e.code
    except KeyboardInterrupt:
        return EXIT_INTERRUPTED
    except BrokenPipeError:  # `hubert-stream ... | head`: the reader left; stop quietly
        _silence_stdout()
        return EXIT_FAILED


def _error(message: str) -> None:
    print(f"{PROG}: error: {_one_line(message)}", file=sys.stderr, flush=True)


def _note(message: str) -> None:
    print(f"{PROG}: {message}", file=sys.stderr, flush=True)


def _one_line(text: object) -> str:
    return " ".join(str(text).split())


def _silence_stdout() -> None:
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError, AttributeError):
        pass


def _streaming_config(args: argparse.Namespace) -> StreamingConfig:
    try:
        return streaming_config(args)
    except ValueError as e:
        raise CliError(f"bad streaming option: {e}") from e


def _load_model(args: argparse.Namespace) -> Any:
    """The model, or a CliError whose one line says what was tried and what to do."""
    from model import loading

    try:
        return loading.load_model(args.model, device=args.device_type, dtype=args.dtype)
    except (OSError, ValueError, RuntimeError) as e:  # FileNotFoundError is an OSError
        raise CliError(f"cannot load model {args.model!r}: {e}") from e


def _recognizer(model: Any, config: StreamingConfig) -> Any:
    from streamer.core.recognizer import Recognizer

    try:
        return Recognizer(model, config)
    except ValueError as e:  # a model that cannot stream
        raise CliError(str(e)) from e


def _open_output(path: str) -> TextIO:
    try:
        return open(path, "w", encoding="utf-8", newline="\n")  # closed by the caller's ExitStack
    except OSError as e:
        raise CliError(f"cannot write {path}: {e.strerror or e}") from e


def _is_terminal(stream: TextIO) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False


class Fanout:
    """Hands every event to several writers (the live view and a file, say)."""

    def __init__(self, writers: Sequence[EventWriter]) -> None:
        self.writers = list(writers)

    def begin(self) -> None:
        for w in self.writers:
            w.begin()

    def write(self, events: Sequence[Event]) -> None:
        for event in events:
            for w in self.writers:
                w.write(event)

    def end(self) -> None:
        for w in self.writers:
            w.end()


# ----- devices -------------------------------------------------------------------------------


def run_devices(args: argparse.Namespace) -> int:
    """List input devices on stdout."""
    from streamer.cli import mic

    try:
        devices = mic.input_devices()
    except mic.MicError as e:
        raise CliError(str(e)) from e
    if not devices:
        raise CliError("no audio input device found; connect a microphone and check that PortAudio can see it")
    rows = [("", "index", "name", "host API", "channels", "default rate")]
    for d in devices:
        rows.append(
            ("*" if d.is_default else "", str(d.index), d.name, d.hostapi, str(d.channels), f"{d.default_rate} Hz")
        )
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    right = {1, 4, 5}  # numbers line up on the right
    for row in rows:
        cells = [cell.rjust(w) if i in right else cell.ljust(w) for i, (cell, w) in enumerate(zip(row, widths))]
        print("  ".join(cells).rstrip())
    return EXIT_OK


# ----- mic -----------------------------------------------------------------------------------


def run_mic(args: argparse.Namespace) -> int:
    """Live captions until Ctrl-C (or until the stream stops on its own)."""
    from streamer.cli import mic

    config = _streaming_config(args)
    try:
        # Every check a person can act on happens before the (slow) model load.
        sd = mic.import_sounddevice()
        settings = mic.capture_settings(mic.find_input_device(args.input, sd), sd)
    except mic.MicError as e:
        raise CliError(str(e)) from e
    with ExitStack() as stack:
        writers: list[EventWriter] = []
        if args.output:
            out = stack.enter_context(_open_output(args.output))
            writers.append(make_writer(args.format, out))
        if _is_terminal(sys.stdout) and (args.output or args.format == "text"):
            writers.insert(0, LiveDisplay(sys.stdout))
        elif not args.output:
            writers.append(make_writer(args.format, sys.stdout))
        model = _load_model(args)
        recognizer = _recognizer(model, config)
        try:
            capture = mic.Capture(settings, sd)
            return _listen(capture, recognizer, Fanout(writers))
        except mic.MicError as e:
            raise CliError(str(e)) from e


def _listen(capture: Any, recognizer: Any, output: Fanout) -> int:
    """Recognize on a worker thread while this (main) thread waits for Ctrl-C."""
    source = AudioInput(capture.settings.sample_rate, capture.settings.channels)
    failures: list[BaseException] = []
    # The main thread waits on this event, not on Thread.join: a join interrupted by Ctrl-C can mark a
    # still-running thread as finished (CPython < 3.13, gh-90882), and the last words would be lost.
    finished = threading.Event()

    def consume() -> None:
        try:
            for block in capture.blocks():
                output.write(recognizer.accept(source(block)))
            output.write(recognizer.accept(source.flush()) + recognizer.close())  # what was heard, finalized
        except Exception as e:  # reported by the main thread, which owns the exit status
            failures.append(e)
            capture.stopped.set()
        finally:
            finished.set()

    worker = threading.Thread(target=consume, name="hubert-stream-recognizer", daemon=True)
    output.begin()
    worker.start()  # it waits on the queue until the stream delivers
    status = EXIT_OK
    try:
        capture.start()
        _note(f"listening on {capture.settings.describe()}; press Ctrl-C to stop")
        while not finished.wait(CONSUMER_POLL_SECONDS):
            if not capture.active and not capture.stopped.is_set():
                _error("the input stream stopped (was the device unplugged?); finishing what was heard")
                status = EXIT_FAILED
                break
    except KeyboardInterrupt:
        pass  # Ctrl-C: stop recording, finalize what was heard, exit 0
    finally:
        capture.stop()  # no more callbacks; the worker drains the queue, finalizes and ends
        try:
            finished.wait()
            worker.join()  # it is past its last line; let it release the recognizer before we return
        except KeyboardInterrupt:
            status = EXIT_INTERRUPTED  # a second Ctrl-C: do not wait for the last words
    if status == EXIT_INTERRUPTED:
        return status
    output.end()
    report = capture.report()
    if report:
        _note(report)
    if failures:
        error = failures[0]
        if isinstance(error, BrokenPipeError):
            raise error
        raise CliError(f"recognition stopped: {_one_line(error)}", EXIT_FAILED) from error
    return status


# ----- transcribe ----------------------------------------------------------------------------


class AudioFileError(Exception):
    """A file that cannot be read as audio; the message names the file and says why."""


@dataclass(frozen=True)
class AudioFile:
    path: str
    sample_rate: int
    channels: int
    frames: int

    @property
    def seconds(self) -> float:
        return self.frames / self.sample_rate

    @classmethod
    def inspect(cls, path: str) -> AudioFile:
        """Check that ``path`` is audio the recognizer can take, without decoding it."""
        import soundfile as sf

        if not os.path.exists(path):
            raise AudioFileError(f"cannot read {path}: no such file")
        if os.path.isdir(path):
            raise AudioFileError(f"cannot read {path}: it is a directory")
        try:
            info = sf.info(path)
        except sf.SoundFileError as e:
            reason = getattr(e, "error_string", None) or str(e)
            try:  # libsndfile says only "System error." when the OS refused: ask the OS
                open(path, "rb").close()
            except OSError as os_error:
                reason = os_error.strerror or str(os_error)
            raise AudioFileError(f"cannot read {path}: {reason.rstrip('.')} (not audio libsndfile can read?)") from e
        try:
            AudioInput(info.samplerate, info.channels)
        except ValueError as e:
            raise AudioFileError(f"cannot transcribe {path}: {e}") from e
        return cls(path, info.samplerate, info.channels, info.frames)

    def blocks(self, block_seconds: float) -> Iterator[tuple[np.ndarray, int]]:
        """16 kHz mono blocks and the source frames read so far; AudioFileError if decoding fails."""
        import soundfile as sf

        source = AudioInput(self.sample_rate, self.channels)
        done = 0
        try:
            with sf.SoundFile(self.path) as f:
                for data in f.blocks(
                    blocksize=max(1, round(block_seconds * self.sample_rate)), dtype="float32", always_2d=True
                ):
                    done += len(data)
                    yield source(data), done
            yield source.flush(), done
        except (sf.SoundFileError, OSError, ValueError) as e:
            where = f" at {done / self.sample_rate:.1f} s" if done else ""
            raise AudioFileError(f"cannot read {self.path}{where}: {_one_line(e)}") from e


class Progress:
    """A one-line progress bar on stderr, redrawn in place."""

    def __init__(self, stream: TextIO, label: str, total_frames: int, sample_rate: int) -> None:
        self.stream = stream
        self.label = label
        self.total = max(1, total_frames)
        self.rate = sample_rate
        self.began = time.monotonic()
        self.drawn_at = -math.inf
        self.visible = False

    def update(self, frames: int) -> None:
        now = time.monotonic()
        if now - self.drawn_at < PROGRESS_REDRAW_SECONDS and self.visible:
            return
        fraction = min(1.0, frames / self.total)
        filled = round(fraction * PROGRESS_BAR_WIDTH)
        bar = "#" * filled + "-" * (PROGRESS_BAR_WIDTH - filled)
        elapsed = now - self.began
        speed = f"  {frames / self.rate / elapsed:.1f}x real time" if elapsed > 0 else ""
        where = f"{_clock(frames / self.rate)}/{_clock(self.total / self.rate)}"
        self.stream.write(f"\r\033[K{self.label} [{bar}] {fraction:4.0%} {where}{speed}")
        self.stream.flush()
        self.drawn_at, self.visible = now, True

    def clear(self) -> None:
        if self.visible:
            self.stream.write("\r\033[K")
            self.stream.flush()
            self.visible = False


def _clock(seconds: float) -> str:
    minutes, secs = divmod(int(seconds), 60)
    return f"{minutes}:{secs:02d}"


def _per_file_outputs(files: Sequence[str], template: str) -> dict[str, str]:
    """``{stem}`` in --output -> one distinct output path per input; refuse collisions."""
    outputs = {name: template.replace(STEM, Path(name).stem) for name in files}
    seen: dict[str, str] = {}
    for name, target in outputs.items():
        key = os.path.realpath(target)
        if key in seen:
            raise CliError(f"--output {template!r} names the same file {target} for {seen[key]} and {name}")
        if any(os.path.realpath(f) == key for f in files):
            raise CliError(f"--output {template!r} would overwrite the input {target}")
        seen[key] = name
    return outputs


def run_transcribe(args: argparse.Namespace) -> int:
    """Transcribe each file in turn; a bad file is reported and skipped."""
    config = _streaming_config(args)
    several = len(args.files) > 1
    per_file = args.output is not None and STEM in args.output
    if several and args.output and not per_file and args.format in ("srt", "vtt"):
        raise CliError(
            f"{args.format} captions of several files cannot share one file; "
            f"write one per input with --output '{STEM}.{args.format}'"
        )
    targets = _per_file_outputs(args.files, args.output) if per_file else {}

    status = EXIT_OK
    readable: list[AudioFile] = []
    for name in args.files:  # before the model loads: a typo is reported at once
        try:
            readable.append(AudioFile.inspect(name))
        except AudioFileError as e:
            _error(str(e))
            status = EXIT_FAILED
    if not readable:
        return status

    with ExitStack() as stack:
        shared: TextIO | None = None
        if not per_file:
            shared = stack.enter_context(_open_output(args.output)) if args.output else sys.stdout
        model = _load_model(args)
        # A file is not live: decoded offline in long chunks it costs about one offline pass and is as
        # accurate as offline (streamer.core.files). --realtime imitates a live source: the live recognizer.
        from streamer.core.files import FileRecognizer

        recognizer = _recognizer(model, config) if args.realtime else FileRecognizer(model, config)
        for number, audio in enumerate(readable):
            if per_file:
                try:
                    out = _open_output(targets[audio.path])
                except CliError as e:
                    _error(str(e))
                    status = EXIT_FAILED
                    continue
            else:
                out = shared
                if several and args.format != "jsonl":
                    out.write(("\n" if number else "") + f"==> {audio.path} <==\n")
                    out.flush()
            try:
                if not _transcribe_file(audio, recognizer, make_writer(args.format, out), args.realtime):
                    status = EXIT_FAILED
            finally:
                if per_file:
                    out.close()
    return status


def _transcribe_file(audio: AudioFile, recognizer: Any, writer: EventWriter, realtime: bool) -> bool:
    """Stream one file through ``recognizer`` into ``writer``; False (and a message) if reading failed."""
    recognizer.reset()
    progress = None
    if audio.seconds >= PROGRESS_MIN_SECONDS and _is_terminal(sys.stderr):
        progress = Progress(sys.stderr, Path(audio.path).name, audio.frames, audio.sample_rate)
    write: Callable[[list[Event]], None] = _writer_with_progress(writer, progress)
    writer.begin()
    began = time.monotonic()
    ok = True
    try:
        for samples, done in audio.blocks(REALTIME_BLOCK_SECONDS if realtime else FILE_BLOCK_SECONDS):
            if realtime:  # hand the block over when a live source would have finished recording it
                time.sleep(max(0.0, began + done / audio.sample_rate - time.monotonic()))
            write(recognizer.accept(samples))
            if progress:
                progress.update(done)
    except AudioFileError as e:
        if progress:
            progress.clear()
        _error(str(e))
        ok = False
    write(recognizer.close())  # finalize what was read, even when the rest of the file was not readable
    if progress:
        progress.clear()
    writer.end()
    return ok


def _writer_with_progress(writer: EventWriter, progress: Progress | None) -> Callable[[list[Event]], None]:
    def write(events: list[Event]) -> None:
        if events and progress and _is_terminal(writer.out):
            progress.clear()  # stdout shares the terminal with the bar: no text on top of it
        for event in events:
            writer.write(event)

    return write
