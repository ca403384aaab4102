"""``hubert-stream transcribe``: decode audio files block by block, stream them through the recognizer,
show a progress bar for long ones, and write each file's events where --output says."""

from __future__ import annotations

import argparse
import io
import math
import os
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

import numpy as np

from streamer.cli.captions import EventWriter, make_writer
from streamer.cli.common import (
    EXIT_FAILED,
    EXIT_OK,
    PROG,
    CliError,
    config_of,
    error,
    is_terminal,
    load_model,
    make_recognizer,
    one_line,
    open_output,
)
from streamer.wire.audio import AudioInput
from streamer.wire.events import Event

__all__ = ["PROGRESS_MIN_SECONDS", "STDIN", "STEM", "AudioFile", "AudioFileError", "run_transcribe"]

FILE_BLOCK_SECONDS = 1.0  # source audio read at a time when running as fast as possible
REALTIME_BLOCK_SECONDS = 0.1  # ... and when paced like a live source (--realtime)
PROGRESS_MIN_SECONDS = 60.0  # files at least this long get a progress bar (when stderr is a terminal)
PROGRESS_REDRAW_SECONDS = 0.2
PROGRESS_BAR_WIDTH = 30
STEM = "{stem}"  # in --output: one output file per input, named after it
STDIN = "-"  # as FILE: read the audio from standard input
STDIN_NAME = "standard input"  # how messages and headers call it
STDIN_STEM = "stdin"  # what {stem} becomes for it


class AudioFileError(Exception):
    """A file that cannot be read as audio; the message names the file and says why."""


@dataclass(frozen=True)
class AudioFile:
    """An input as given on the command line (a path, or ``-``), checked to be audio the recognizer takes."""

    path: str
    sample_rate: int
    channels: int
    frames: int
    data: bytes | None = field(default=None, repr=False)  # standard input's bytes; None for a file

    @property
    def seconds(self) -> float:
        return self.frames / self.sample_rate

    @property
    def name(self) -> str:
        """How messages and ``==> NAME <==`` headers call it."""
        return STDIN_NAME if self.path == STDIN else self.path

    @classmethod
    def inspect(cls, path: str) -> AudioFile:
        """Check that ``path`` is audio the recognizer can take, without decoding it; ``-`` reads stdin whole."""
        import soundfile as sf

        if path == STDIN:
            return cls._inspect_stdin()
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
        return cls._checked(path, info)

    @classmethod
    def _inspect_stdin(cls) -> AudioFile:
        # libsndfile decodes only WAV-like formats from a pipe (it seeks in the others, FLAC included),
        # so standard input is read whole and decoded from memory, like a file.
        import soundfile as sf

        try:
            data = sys.stdin.buffer.read()
        except (OSError, ValueError, AttributeError) as e:
            raise AudioFileError(f"cannot read {STDIN_NAME}: {one_line(e)}") from e
        if not data:
            raise AudioFileError(f"cannot read {STDIN_NAME}: it is empty")
        try:
            info = sf.info(io.BytesIO(data))
        except sf.SoundFileError as e:
            reason = (getattr(e, "error_string", None) or str(e)).rstrip(".")
            raise AudioFileError(f"cannot read {STDIN_NAME}: {reason} (not audio libsndfile can read?)") from e
        return cls._checked(STDIN, info, data)

    @classmethod
    def _checked(cls, path: str, info: Any, data: bytes | None = None) -> AudioFile:
        audio = cls(path, info.samplerate, info.channels, info.frames, data)
        try:
            AudioInput(info.samplerate, info.channels)
        except ValueError as e:
            raise AudioFileError(f"cannot transcribe {audio.name}: {e}") from e
        return audio

    def blocks(self, block_seconds: float) -> Iterator[tuple[np.ndarray, int]]:
        """16 kHz mono blocks and the source frames read so far; AudioFileError if decoding fails."""
        import soundfile as sf

        source = AudioInput(self.sample_rate, self.channels)
        done = 0
        try:
            with sf.SoundFile(self.path if self.data is None else io.BytesIO(self.data)) as f:
                for data in f.blocks(
                    blocksize=max(1, round(block_seconds * self.sample_rate)), dtype="float32", always_2d=True
                ):
                    done += len(data)
                    yield source(data), done
            yield source.flush(), done
        except (sf.SoundFileError, OSError, ValueError) as e:
            where = f" at {done / self.sample_rate:.1f} s" if done else ""
            raise AudioFileError(f"cannot read {self.name}{where}: {one_line(e)}") from e


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
    outputs = {name: template.replace(STEM, STDIN_STEM if name == STDIN else Path(name).stem) for name in files}
    seen: dict[str, str] = {}
    for name, target in outputs.items():
        key = os.path.realpath(target)
        if key in seen:
            raise CliError(f"--output {template!r} names the same file {target} for {seen[key]} and {name}")
        if any(os.path.realpath(f) == key for f in files if f != STDIN):
            raise CliError(f"--output {template!r} would overwrite the input {target}")
        seen[key] = name
    return outputs


def run_transcribe(args: argparse.Namespace) -> int:
    """Transcribe each file in turn; a bad file is reported and skipped."""
    config = config_of(args)
    several = len(args.files) > 1
    per_file = args.output is not None and STEM in args.output
    if several and args.output and not per_file and args.format in ("srt", "vtt"):
        raise CliError(
            f"{args.format} captions of several files cannot share one file; "
            f"write one per input with --output '{STEM}.{args.format}'"
        )
    if args.files.count(STDIN) > 1:
        raise CliError(f"{STDIN_NAME} ({STDIN}) can be read only once")
    if STDIN in args.files and is_terminal(sys.stdin):
        raise CliError(f"{STDIN_NAME} is a terminal; pipe audio into it, e.g. cat talk.wav | {PROG} transcribe -")
    targets = _per_file_outputs(args.files, args.output) if per_file else {}

    status = EXIT_OK
    readable: list[AudioFile] = []
    for name in args.files:  # before the model loads: a typo is reported at once
        try:
            readable.append(AudioFile.inspect(name))
        except AudioFileError as e:
            error(str(e))
            status = EXIT_FAILED
    if not readable:
        return status

    with ExitStack() as stack:
        shared: TextIO | None = None
        if not per_file:
            shared = stack.enter_context(open_output(args.output)) if args.output else sys.stdout
        model = load_model(args)
        from streamer.core.files import FileRecognizer

        # A file is not live: decoded offline in long chunks it costs about one offline pass and is as
        # accurate as offline (streamer.core.files). --live/--realtime: the live recognizer's windows.
        if args.live or args.realtime:
            recognizer = make_recognizer(model, config)
        else:
            recognizer = FileRecognizer(model, config)
        for number, audio in enumerate(readable):
            if per_file:
                try:
                    out = open_output(targets[audio.path])
                except CliError as e:
                    error(str(e))
                    status = EXIT_FAILED
                    continue
            else:
                out = shared
                if several and args.format != "jsonl":
                    out.write(("\n" if number else "") + f"==> {audio.name} <==\n")
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
    if audio.seconds >= PROGRESS_MIN_SECONDS and is_terminal(sys.stderr):
        progress = Progress(sys.stderr, Path(audio.name).name, audio.frames, audio.sample_rate)
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
        error(str(e))
        ok = False
    write(recognizer.close())  # finalize what was read, even when the rest of the file was not readable
    if progress:
        progress.clear()
    writer.end()
    return ok


def _writer_with_progress(writer: EventWriter, progress: Progress | None) -> Callable[[list[Event]], None]:
    def write(events: list[Event]) -> None:
        if events and progress and is_terminal(writer.out):
            progress.clear()  # stdout shares the terminal with the bar: no text on top of it
        for event in events:
            writer.write(event)

    return write
