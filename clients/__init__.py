"""Things that talk to a hubert-stream server. Torch-free: they install and run without the model."""

from __future__ import annotations

from clients.client import SessionResult, StreamClient, format_event, read_audio, stream_file, stream_microphone

__all__ = ["SessionResult", "StreamClient", "format_event", "read_audio", "stream_file", "stream_microphone"]
