"""The microphone's subcommands: ``hubert-stream devices`` lists the inputs, ``hubert-stream mic``
bridges the capture thread to the recognizer and the recognizer to the writers until Ctrl-C.

sounddevice (PortAudio) is imported only when one of them runs (``streamer.cli.mic``).
"""

from __future__ import annotations

import argparse
import sys
import threading
from collections.abc import Sequence
from contextlib import ExitStack
from typing import Any

from streamer.cli.captions import EventWriter, LiveDisplay, make_writer
from streamer.cli.common import (
    EXIT_FAILED,
    EXIT_INTERRUPTED,
    EXIT_OK,
    CliError,
    config_of,
    error,
    is_terminal,
    load_model,
    make_recognizer,
    note,
    one_line,
    open_output,
)
from streamer.cli.mic import Capture, MicError, capture_settings, find_input_device, import_sounddevice, input_devices
from streamer.wire.audio import AudioInput
from streamer.wire.events import Event

__all__ = ["Fanout", "run_devices", "run_mic"]

CONSUMER_POLL_SECONDS = 0.1  # how often the mic loop checks the stream while waiting for Ctrl-C


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


def run_devices(args: argparse.Namespace) -> int:
    """List input devices on stdout."""
    try:
        devices = input_devices()
    except MicError as e:
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


def run_mic(args: argparse.Namespace) -> int:
    """Live captions until Ctrl-C (or until the stream stops on its own)."""
    config = config_of(args)
    try:
        # Every check a person can act on happens before the (slow) model load.
        sd = import_sounddevice()
        settings = capture_settings(find_input_device(args.input, sd), sd)
    except MicError as e:
        raise CliError(str(e)) from e
    with ExitStack() as stack:
        writers: list[EventWriter] = []
        if args.output:
            out = stack.enter_context(open_output(args.output))
            writers.append(make_writer(args.format, out))
        if is_terminal(sys.stdout) and (args.output or args.format == "text"):
            writers.insert(0, LiveDisplay(sys.stdout))
        elif not args.output:
            writers.append(make_writer(args.format, sys.stdout))
        model = load_model(args)
        recognizer = make_recognizer(model, config)
        try:
            capture = Capture(settings, sd)
            return _listen(capture, recognizer, Fanout(writers))
        except MicError as e:
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
        note(f"listening on {capture.settings.describe()}; press Ctrl-C to stop")
        while not finished.wait(CONSUMER_POLL_SECONDS):
            if not capture.active and not capture.stopped.is_set():
                error("the input stream stopped (was the device unplugged?); finishing what was heard")
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
        note(report)
    if failures:
        failure = failures[0]
        if isinstance(failure, BrokenPipeError):
            raise failure
        raise CliError(f"recognition stopped: {one_line(failure)}", EXIT_FAILED) from failure
    return status
