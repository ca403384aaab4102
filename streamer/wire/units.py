"""Every unit of the stream, defined once. Torch-free: the clients, the server and the model import it.

The model's own frame arithmetic (conv strides and kernels) is read from each checkpoint's
``config.json`` (``HubertConfig.frame_samples``/``receptive_field``); the streamer supports the
checkpoints whose frames are ``FRAME_SAMPLES`` long and checks that when a recognizer is made.
"""

from __future__ import annotations

__all__ = [
    "FRAME_SAMPLES",
    "FRAME_SECONDS",
    "INT16_SCALE",
    "MAX_CAPTURE_CHANNELS",
    "MAX_FLOAT_SAMPLE",
    "MAX_INPUT_CHANNELS",
    "MAX_RATE",
    "MAX_WIRE_CHANNELS",
    "MIN_RATE",
    "SAMPLE_RATE",
]

SAMPLE_RATE = 16_000  # Hz, the only rate HuBERT was trained on; every source is resampled to it
FRAME_SAMPLES = 320  # samples per CTC frame: 20 ms at SAMPLE_RATE (the product of the conv strides)
FRAME_SECONDS = FRAME_SAMPLES / SAMPLE_RATE  # 0.02 s; streaming knobs and word times count in these

MIN_RATE = 8_000  # Hz, telephone audio: the lowest input rate accepted anywhere
MAX_RATE = 192_000  # Hz, studio interfaces: the highest

INT16_SCALE = 32_768.0  # int16 full scale: pcm_s16le samples / INT16_SCALE are in [-1, 1)
# Float samples are full scale at +-1. Overs up to this (+6 dB) are clipped to +-1, as a loud
# source's are; beyond it a block is refused: it is not full-scale float audio (often int16-scaled
# values sent as pcm_f32le), and one such sample would swamp the stream's running statistics.
MAX_FLOAT_SAMPLE = 2.0

MAX_WIRE_CHANNELS = 8  # interleaved channels a websocket client may send (averaged to mono)
MAX_INPUT_CHANNELS = 64  # channels of any source AudioInput converts (files, devices)
MAX_CAPTURE_CHANNELS = 2  # channels `hubert-stream mic` records: "default" devices offer 32+ copies
