"""Fuzzing both protocols at once: >= 10,000 hostile messages (oversize ones among them), no traceback,
only documented closes, honest neighbours exact."""

from __future__ import annotations

import asyncio
import gc
import logging

import pytest
import test_server as shared
from fuzz_server import DOCUMENTED_CLOSES, OVERSIZE_KINDS, fuzz, summary
from test_server import final_texts, running_server, stream_clip, url

demo_folder, demo, clips, reference = shared.demo_folder, shared.demo, shared.clips, shared.reference  # fixtures
pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")

SEED = 16
MESSAGES = 10_000


def test_ten_thousand_fuzzed_messages_leave_no_traceback_and_no_1011(demo, clips, reference, caplog):
    """Seeded fuzz over native and Vosk: 0 tracebacks at INFO and above, every close documented (never 1011,
    1009 for oversize messages), honest sessions exact."""
    caplog.set_level(logging.INFO)
    small = {"max_message_bytes": 64_000, "max_sessions": 16, "idle_timeout": 5.0}
    with running_server(demo, **small) as native, running_server(demo, protocol="vosk", **small) as vosk:

        async def scenario():
            honest = asyncio.ensure_future(stream_clip(url(native), clips["weather"], pace=4.0))
            stats = await fuzz(url(native), url(vosk, "/"), SEED, MESSAGES, small["max_message_bytes"])
            return stats, await honest

        stats, (events, code) = asyncio.run(scenario())
    gc.collect()  # a task whose exception nobody read is logged when it is collected
    tracebacks = [r for r in caplog.records if r.exc_info or "Traceback" in r.getMessage()]
    report = summary(stats)
    assert stats.messages >= MESSAGES, report
    sent = {f"{dialect} {kind}" for dialect in ("native", "vosk") for kind in OVERSIZE_KINDS}
    assert sent <= set(stats.oversize_sent), report  # one frame and fragments, on both dialects
    assert 1009 in stats.oversize_closes, report
    assert code == 1000 and final_texts(events) == reference["weather"], "the honest session was affected"
    assert not tracebacks, [r.getMessage() for r in tracebacks][:5]
    assert set(stats.closes) <= DOCUMENTED_CLOSES, report
