"""The recognizer's bookkeeping with a fake model whose frame ids are scripted (tests/fakes.py):
when hops run, which frames they commit, when segments end, what finalize and close flush, what
the voice activity detector skips. Every expected event follows from the script, with no model behind it."""

from __future__ import annotations

import numpy as np
import pytest
from fakes import FakeCTC, audio, blanks, letters

from model.hubert import HubertConfig
from model.vocab import Vocabulary
from streamer.core.config import FRAME_SECONDS, StreamingConfig
from streamer.core.engine import BatchEngine
from streamer.core.recognizer import SPEECH_PAD_FRAMES, Recognizer
from streamer.wire.events import Final, Partial, WordTiming
from streamer.wire.units import FRAME_SAMPLES

HOP, LOOKAHEAD, LEFT, ENDPOINT = 5, 5, 10, 10  # frames: small, so every case is a few hops long
HOP_SAMPLES = HOP * FRAME_SAMPLES
RECEPTIVE_FIELD = HubertConfig().receptive_field  # 400 samples: the standard conv stack
OVERLAP = RECEPTIVE_FIELD - FRAME_SAMPLES  # the last frame of a hop needs 80 samples past the hop
VOCAB = Vocabulary.librispeech()


def config(**changes) -> StreamingConfig:
    knobs = {
        "hop_frames": HOP, "lookahead_frames": LOOKAHEAD, "left_context_frames": LEFT,
        "endpoint_blank_frames": ENDPOINT, "normalize": "none",  # the fake reads ids from sample levels
        "kv_cache": False, "final_pass": False,  # the windows' own bookkeeping; the fake has no layers
    }  # fmt: skip
    return StreamingConfig(**{**knobs, **changes})


def recognizer(**changes) -> tuple[Recognizer, FakeCTC]:
    model = FakeCTC()
    return Recognizer(model, config(**changes)), model


def hop_by_hop(rec: Recognizer, model: FakeCTC, samples: np.ndarray) -> list[tuple[int, bool, list]]:
    """Feed ``samples`` one hop's worth at a time; for each hop that ran: the stream frame it ends
    at, whether the model ran for it, and its events."""
    hops, first = [], HOP_SAMPLES + OVERLAP
    for start, stop in [(0, first)] + [(s, s + HOP_SAMPLES) for s in range(first, len(samples), HOP_SAMPLES)]:
        calls = model.forward_calls
        events = rec.accept(samples[start:stop])
        if stop <= len(samples):
            end = (len(hops) + 1) * HOP
            assert rec.samples_recognized == end * FRAME_SAMPLES + OVERLAP  # exactly one more hop ran
            hops.append((end, model.forward_calls > calls, events))
    return hops


def final(segment: int, *words: tuple[str, int, int]) -> Final:
    """The final of ``words`` given as (text, first frame, frame after the last letter)."""
    timings = tuple(
        WordTiming(text, round(a * FRAME_SECONDS, 2), round(b * FRAME_SECONDS, 2), 1.0) for text, a, b in words
    )
    return Final(segment, " ".join(w.word for w in timings), timings[0].start, timings[-1].end, timings)


def final_events(events) -> list[Final]:
    return [e for e in events if isinstance(e, Final)]


# ----- hops ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "samples",
    [0, OVERLAP, HOP_SAMPLES, HOP_SAMPLES + OVERLAP - 1, HOP_SAMPLES + OVERLAP, 2 * HOP_SAMPLES + OVERLAP - 1,
     2 * HOP_SAMPLES + OVERLAP, 7 * HOP_SAMPLES + OVERLAP + 100],
)  # fmt: skip
def test_one_model_pass_per_whole_hop_received(samples):
    """Hop n runs once the samples of its last frame's receptive field are in: n * hop * 320 + 80."""
    rec, model = recognizer()
    rec.accept(np.zeros(samples, np.float32))
    hops = max(0, (samples - OVERLAP) // HOP_SAMPLES)
    assert model.forward_calls == hops
    assert model.forward_windows == hops  # one window per pass for a single stream
    assert rec.samples_recognized == (hops * HOP_SAMPLES + OVERLAP if hops else 0)
    assert rec.samples_received == samples


def test_any_chunking_runs_the_same_hops_and_gives_the_same_events():
    """One block, 1-sample blocks or odd blocks: the same passes and the same events."""
    stream = audio(blanks(4) + letters("so far so good") + blanks(40))
    results = []
    for blocks in ([stream], np.array_split(stream, len(stream) // 37), np.split(stream, [1, 2, 3, 999, 5000])):
        rec, model = recognizer()
        events = [e for block in blocks for e in rec.accept(block)]
        results.append((events + rec.close(), model.forward_calls))
    assert results[0] == results[1] == results[2]
    assert final_events(results[0][0])[0].text == "SO FAR SO GOOD"


def test_the_conv_stack_sees_each_frame_once():
    """Hops pass only their new frames through the conv stack: frames in = frames of the stream."""
    rec, model = recognizer()
    before = model.conv_frames  # the recognizer may probe the features of silence once
    frames = 12 * HOP
    rec.accept(audio(blanks(frames)))
    assert model.conv_frames - before == 11 * HOP  # the 12th hop waits for its last frame's 80 samples
    rec.close()
    assert model.conv_frames - before == frames


# ----- commits -------------------------------------------------------------------------------------


@pytest.mark.parametrize("lookahead", [0, LOOKAHEAD, 2 * LOOKAHEAD])
def test_a_frame_is_committed_once_lookahead_frames_follow_it(lookahead):
    """After the hop ending at frame E, partials show every letter before E, and the letters before
    E - lookahead as stable; a partial comes only when the text changed."""
    script = blanks(8 * HOP)
    places = {4: "A", 5: "B", 9: "C", 10: "D", 14: "E", 15: "F"}  # on both sides of hop boundaries
    for frame, letter in places.items():
        script[frame] = VOCAB.ids[letter]
    rec, model = recognizer(lookahead_frames=lookahead)
    shown = ""
    for end, _, events in hop_by_hop(rec, model, audio(script)):
        text = "".join(letter for frame, letter in places.items() if frame < end)
        stable = "".join(letter for frame, letter in places.items() if frame < end - lookahead)
        expected = [Partial(0, text, stable, text[len(stable) :])] if text != shown else []
        shown = text
        assert [e for e in events if isinstance(e, Partial)] == expected, f"hop ending at frame {end}"


# Every remainder modulo the hop, so one case lands the endpoint on the last frame a hop commits;
# at least 4, as the words' own gaps are 3 silent frames.
@pytest.mark.parametrize("endpoint", [*range(4, 4 + HOP), 3 * ENDPOINT])
def test_a_segment_ends_in_the_hop_that_commits_the_endpoint_silence(endpoint):
    """The final comes with the first hop that commits ``endpoint`` blank frames after the last letter,
    with every word's time from its frames."""
    speech = letters("hi yo")  # H H _ I I _ | | Y Y _ O O _
    start = 7
    script = blanks(start) + speech + blanks(endpoint + 4 * HOP)
    rec, model = recognizer(endpoint_blank_frames=endpoint)
    silence_from = start + len(speech) - 1  # the blank after O is the first frame of silence
    due = next(end for end in range(HOP, 10**6, HOP) if end - LOOKAHEAD - silence_from >= endpoint)
    hops = hop_by_hop(rec, model, audio(script))
    with_finals = [(end, final_events(events)) for end, _, events in hops if final_events(events)]
    assert with_finals == [(due, [final(0, ("HI", start, start + 5), ("YO", start + 8, start + 13))])]
    assert rec.close() == []  # nothing left to say


def test_segments_count_up_and_keep_the_stream_clock():
    """Two sentences with a pause: segments 0 and 1, timed from the start of the stream."""
    pause = ENDPOINT + HOP  # long enough wherever the hops fall (see the next test)
    script = blanks(3) + letters("one") + blanks(pause) + letters("two") + blanks(2)
    rec, _ = recognizer()
    events = rec.accept(audio(script)) + rec.close()
    second = 3 + len(letters("one")) + pause
    assert final_events(events) == [final(0, ("ONE", 3, 3 + 8)), final(1, ("TWO", second, second + 8))]


def test_a_pause_of_the_endpoint_length_ends_the_segment_wherever_the_hops_fall():
    """A pause of exactly endpoint_blank_frames between two words gives two finals at every offset
    of the words against the hops."""
    texts = {}
    for offset in range(HOP):
        script = blanks(offset) + letters("one") + blanks(ENDPOINT - 1) + letters("two") + blanks(2)
        rec, _ = recognizer()  # the blank after E and the blanks after it make the pause
        texts[offset] = [f.text for f in final_events(rec.accept(audio(script)) + rec.close())]
    assert texts == {offset: ["ONE", "TWO"] for offset in range(HOP)}


# ----- finalize and close --------------------------------------------------------------------------


def test_finalize_ends_the_segment_now_and_the_stream_goes_on():
    """finalize() turns every settled word into a final without waiting for the endpoint silence (a
    word followed by 0.3 s of silence is settled); the next words are the next segment, same clock."""
    rec, _ = recognizer()
    first = blanks(2) + letters("hi") + blanks(16)  # 0.32 s of silence: far less than the endpoint
    events = rec.accept(audio(first))
    assert final_events(events) == []
    assert final_events(rec.finalize()) == [final(0, ("HI", 2, 7))]
    assert final_events(rec.finalize()) == []  # nothing new: no empty final
    events = rec.accept(audio(blanks(3) + letters("yo"))) + rec.close()
    after = len(first) + 3
    assert final_events(events) == [final(1, ("YO", after, after + 5))]


def test_finalize_moves_a_word_still_being_spoken_whole_to_the_next_segment():
    """A finalize just after a word (less than 0.3 s of silence) cuts at the word boundary before it:
    the word is not cut in two or dropped, it starts the next segment whole."""
    rec, _ = recognizer()
    script = blanks(2) + letters("hi there") + blanks(2)
    rec.accept(audio(script))
    assert final_events(rec.finalize()) == [final(0, ("HI", 2, 7))]
    events = rec.accept(audio(blanks(40))) + rec.close()
    assert [f.text for f in final_events(events)] == ["THERE"]
    assert final_events(events)[0].segment == 1


@pytest.mark.parametrize("last_frame_samples", [OVERLAP + 1, FRAME_SAMPLES // 2, FRAME_SAMPLES - 1, FRAME_SAMPLES])
def test_close_flushes_the_last_hop_and_a_last_partial_frame(last_frame_samples):
    """Words after the last whole hop reach the final, and so does a last frame cut short, zero-padded
    (with up to 80 samples it falls inside the previous frame's receptive field, so it needs no frame)."""
    script = blanks(2 * HOP + 1) + letters("ok")[:-1] + [VOCAB.ids["Y"]]  # ends inside a hop, on a letter
    stream = audio(script, last_frame_samples=last_frame_samples)
    rec, _ = recognizer()
    events = rec.accept(stream)
    assert final_events(events) == []
    first = 2 * HOP + 1
    assert rec.close() == [final(0, ("OKY", first, len(script)))]


def test_close_ends_the_stream_and_reset_starts_a_new_one():
    """After close(): close() again says nothing, accept() and finalize() refuse with a clear error;
    reset() starts over at time 0 with the same events a new recognizer gives."""
    stream = audio(blanks(4) + letters("again") + blanks(3))
    rec, _ = recognizer()
    first = rec.accept(stream) + rec.close()
    assert rec.close() == []
    with pytest.raises(RuntimeError, match="closed"):
        rec.accept(stream)
    with pytest.raises(RuntimeError, match="closed"):
        rec.finalize()
    rec.reset()
    assert rec.accept(stream) + rec.close() == first
    assert final_events(first) == [final(0, ("AGAIN", 4, 4 + 14))]


# ----- voice activity ------------------------------------------------------------------------------


def test_voice_activity_skips_the_model_away_from_speech_and_keeps_the_words():
    """With a VAD (the energy detector: the fake's blanks are digital silence) a hop runs the model
    only with speech in or just before the frames it commits or shows: the same finals, and the
    10 s of silence after them cost no model passes."""
    lead, speech = 6 * HOP, letters("hi yo")
    script = blanks(lead) + speech + blanks(500)  # then 10 s of digital silence

    plain_recognizer, plain = recognizer()
    listening, model = recognizer(vad="energy")
    plain_events = plain_recognizer.accept(audio(script)) + plain_recognizer.close()
    hops = hop_by_hop(listening, model, audio(script))
    vad_events = [e for _, _, events in hops for e in events] + listening.close()
    assert (
        final_events(vad_events)
        == final_events(plain_events)
        == [final(0, ("HI", lead, lead + 5), ("YO", lead + 8, lead + 13))]
    )

    ran = {end for end, model_ran, _ in hops if model_ran}
    first_letter, last_letter = lead, lead + len(speech) - 2

    def near(end: int, before: int, after: int) -> bool:  # the hop's committed or shown frames, widened
        return end - LOOKAHEAD - HOP - after <= last_letter and end + before > first_letter

    assert {end for end, _, _ in hops if near(end, 0, 0)} <= ran  # every hop with a letter to commit or show
    vad_frame = 2  # a 32 ms VAD frame spans parts of two or three 20 ms frames
    assert ran <= {end for end, _, _ in hops if near(end, vad_frame, SPEECH_PAD_FRAMES + vad_frame)}
    assert plain.forward_calls == len(hops) + 1  # every hop, and close()'s last window
    assert model.forward_calls == len(ran) < plain.forward_calls / 5  # close() heard silence


# ----- batching ------------------------------------------------------------------------------------


def test_streams_batched_together_get_the_events_they_get_alone():
    """BatchEngine runs the due hops of two streams in one pass each, and each stream's events are
    what it gets alone."""
    scripts = [blanks(3) + letters("left"), blanks(9) + letters("right one")]
    frames = max(map(len, scripts)) + 30
    streams = [audio(script + blanks(frames - len(script))) for script in scripts]  # one length
    alone = []
    for stream in streams:
        rec, _ = recognizer()
        alone.append(rec.accept(stream))
    model = FakeCTC()
    recs = [Recognizer(model, config()) for _ in streams]
    engine = BatchEngine(model)
    together = {rec: [] for rec in recs}
    for start in range(0, len(streams[0]), 1000):
        for rec, stream in zip(recs, streams, strict=True):
            rec.push(stream[start : start + 1000])
        for rec, events in engine.step(recs).items():
            together[rec] += events
    assert [together[rec] for rec in recs] == alone
    assert [f.text for f in final_events(alone[0] + alone[1])] == ["LEFT", "RIGHT ONE"]
    hops = (len(streams[0]) - OVERLAP) // HOP_SAMPLES
    assert (model.forward_calls, model.forward_windows) == (hops, 2 * hops)


def test_a_batch_hands_out_partials_before_it_runs_final_passes():
    """In a hop that ends one stream's segment, the other streams of the batch get their events
    first, and the final pass runs after the hops, as its own batch."""
    from streamer import BatchEngine

    model = FakeCTC()
    engine = BatchEngine(model)
    ending = Recognizer(model, config(final_pass=True))  # a short word, then a pause: a final
    going = Recognizer(model, config(final_pass=True))  # speaks on
    scripts = {ending: letters("hi") + blanks(60), going: letters("one long sentence goes on and on")}
    for rec, script in scripts.items():
        rec.push(audio(script))
    order = []

    def hand_out(rec, events):
        order.append((rec, events))

    while (requests := [r for rec in scripts if (r := rec.next_hop()) is not None]) and len(requests) == 2:
        waiting = engine.run_hops(requests, hand_out)
        order.append(("hops done", []))
        engine.run_final_passes(waiting, hand_out)
    handed = [(rec is ending, any(isinstance(e, Final) for e in events)) for rec, events in order]
    at = handed.index((True, True))  # the ending stream's final
    assert order[at - 1][0] == "hops done" and order[at - 2][0] is going, "the other stream's events should come first"
    assert engine.final_passes >= 1