"""The ``hubert-stream`` command (a shell): one parser, one ``main(argv) -> int``.

parser.py      the parser of every subcommand, and main(argv)
common.py      exit codes, CliError, one-line messages, loading the model
transcribe.py  `transcribe`: file decoding, progress bar, one output per file
listen.py      `mic` and `devices`: the bridge from the capture thread to the recognizer
mic.py         microphone capture through sounddevice (PortAudio)
captions.py    the writers: text, jsonl, srt, vtt and the live terminal view
serve.py       `serve`: the server's options, in this one place, and running it
options.py     the streaming options as a StreamingConfig
"""

from __future__ import annotations

from streamer.cli.parser import main

__all__ = ["main"]
