"""Options shared by the subcommands and ``serve``, turned into the objects they configure."""

from __future__ import annotations

import argparse

from streamer.core.config import StreamingConfig

__all__ = ["streaming_config"]

OPTION_OF_FIELD = {  # StreamingConfig's errors name its fields; the user typed these options
    "hop_frames": "--hop", "lookahead_frames": "--lookahead",
    "left_context_frames": "--left-context", "endpoint_blank_frames": "--endpoint-silence",
    "endpoint_vad_frames": "--vad-silence", "endpoint": "--vad-endpoint",
}  # fmt: skip
VALUE_FIELDS = {"final_pass": "final_pass", "kv_cache": "kv_cache", "vad": "vad", "vad_endpoint": "endpoint"}  # options taken as given (not seconds): argparse dest -> StreamingConfig field


def streaming_config(args: argparse.Namespace) -> StreamingConfig:
    """The StreamingConfig of the streaming options (defaults for any not parsed).

    Raises:
        ValueError: naming the option, as the user typed it, that is out of range.
    """
    try:
        return StreamingConfig.from_seconds(
            hop=getattr(args, "hop", None), lookahead=getattr(args, "lookahead", None),
            left_context=getattr(args, "left_context", None), endpoint_silence=getattr(args, "endpoint_silence", None),
            vad_silence=getattr(args, "vad_silence", None),
            **{field: value for option, field in VALUE_FIELDS.items() if (value := getattr(args, option, None)) is not None},
        )  # fmt: skip
    except ValueError as e:
        message = str(e)
        for field, option in OPTION_OF_FIELD.items():
            message = message.replace(field, option)
        raise ValueError(message) from e
