from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))  # tests/ helpers (checkpoints.py) import by name

from checkpoints import STYLES, write_checkpoint  # noqa: E402


@pytest.fixture(scope="session")
def checkpoint_factory(tmp_path_factory):
    """Build (style, weights format) checkpoints once per session; returns (folder, reference model)."""
    made = {}

    def make(style: str, weights: str = "safetensors"):
        if (style, weights) not in made:
            folder = tmp_path_factory.mktemp(f"{style}-{weights}")
            made[style, weights] = (folder, write_checkpoint(folder, STYLES[style], weights))
        return made[style, weights]

    return make
