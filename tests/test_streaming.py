"""The streaming recognizer on real (synthetic) speech with the demo model."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from conftest import finals_of, stream_batched
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from model import load_model
from streamer import Partial, Recognizer, StreamingConfig, transcribe_stream
from streamer.core.recognizer import Newest
from training.fidelity import finalize_cuts, short_streams
from training.metrics import cer, first_words_right
from training.speech import SENTENCES, heldout_recording, short_utterances, speech_with_pauses

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


def stream(model, audio, chunks, config=None) -> list:
    recognizer = Recognizer(model, config)
    events, position = [], 0
    for size in chunks:
        events += recognizer.accept(audio[position : position + size])
        position += size
    events += recognizer.accept(audio[position:])
    return events + recognizer.close()


@settings(max_examples=6, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(sizes=st.lists(st.one_of(st.integers(1, 400), st.integers(1, 32_000)), min_size=1, max_size=40))
def test_chunking_never_changes_the_finals(demo, long_speech, sizes):
    """Random pieces from 1 sample to 2 s give exactly the finals of one-second pieces."""
    audio, _ = long_speech
    audio = audio[: 16_000 * 12]
    reference = finals_of(stream(demo, audio, [16_000] * 12))
    chunks, total = [], 0
    while total < len(audio):  # cycle through the drawn sizes until the audio is used up
        chunks.append(sizes[len(chunks) % len(sizes)])
        total += chunks[-1]
    assert finals_of(stream(demo, audio, chunks)) == reference
    assert reference, "the speech should give at least one final"


def test_single_samples_give_the_same_finals(demo, long_speech):
    """Feeding 3 s one sample at a time gives the finals of one block."""
    audio = long_speech[0][: 16_000 * 3]
    assert finals_of(stream(demo, audio, [1] * len(audio))) == finals_of(stream(demo, audio, [len(audio)]))


# The bounds: streamed finals as accurate as offline decoding of the same audio (CER
# against the spoken text within 0.5 points), and as many first words right (less 2 of 70).
CER_MARGIN = 0.005
FIRST_WORD_MARGIN = 2


@pytest.mark.parametrize("mode", ["default", "final pass"])
def test_streaming_is_as_accurate_as_offline(demo, mode):
    """A minute of held-out sentences with pauses: the concatenated finals are as close to the spoken text
    as offline decoding (within 0.5 points; a minute has ~900 characters, so one is 0.1 point)."""
    sentences, audio = heldout_recording(60.0)
    text = " ".join(sentences)
    offline = demo.transcribe(audio).text
    config = StreamingConfig(final_pass=mode == "final pass")
    streamed = " ".join(f.text for f in finals_of(transcribe_stream(demo, audio, 16_000, config)))
    print(f"\nCER against the text ({mode}): streamed {cer([text], [streamed]):.2%}, offline {cer([text], [offline]):.2%}")
    print(f"streaming vs offline character difference: {cer([offline], [streamed]):.2%} over {len(offline)} characters")
    print(f"offline : {offline}\nstreamed: {streamed}")
    assert cer([text], [streamed]) <= cer([text], [offline]) + CER_MARGIN


@pytest.fixture(scope="module")
def short_offline(demo):
    """The short sentences: (texts, clips, offline transcripts)."""
    texts, clips = short_utterances()
    return texts, clips, [t.text for t in demo.transcribe(clips)]


@pytest.fixture(scope="module")
def short_streamed(demo, short_offline):
    """The short sentences streamed in the default configuration, each a fresh stream."""
    return short_streams(demo, short_offline[1])


def test_every_stream_gets_its_first_word_as_offline_does(short_offline, short_streamed):
    """On 70 short held-out sentences, each a fresh stream, the first word is right as often as offline (less 2)."""
    texts, _, offline = short_offline
    streamed = short_streamed
    right, offline_right = first_words_right(texts, streamed), first_words_right(texts, offline)
    print(f"\nfirst word right: streamed {right}/{len(texts)}, offline {offline_right}/{len(texts)}")
    assert len(texts) >= 60
    assert right >= offline_right - FIRST_WORD_MARGIN


@pytest.mark.parametrize("mode", ["default", "final pass"])
def test_short_streams_are_as_accurate_as_offline(demo, short_offline, short_streamed, mode):
    """On 70 short held-out sentences, each a fresh stream, the CER is within 0.5 points of offline."""
    texts, clips, offline = short_offline
    streamed = short_streams(demo, clips, StreamingConfig(final_pass=True)) if mode == "final pass" else short_streamed
    print(f"\nCER ({mode}): streamed {cer(texts, streamed):.2%}, offline {cer(texts, offline):.2%}")
    assert cer(texts, streamed) <= cer(texts, offline) + CER_MARGIN


def test_finalize_anywhere_in_speech_loses_nothing(demo, short_offline):
    """finalize() at 40 random points inside speech: the joined finals are the uncut stream's (<= 1%), no word lost."""
    report = finalize_cuts(demo, short_offline[1][:20])
    print(f"\n{report.cuts} cuts: joined finals differ from the uncut streams' in {report.difference:.2%} of characters")
    assert not report.lost, "\n".join(report.lost)
    assert report.cuts >= 40 and report.difference <= 0.01


def test_each_spoken_segment_ends_in_exactly_one_final(demo, long_speech):
    """One final per sentence (the pauses are longer than the endpoint), segments numbered in order."""
    audio, spans = long_speech
    finals = finals_of(transcribe_stream(demo, audio, 16_000))
    assert len(finals) == len(spans)
    assert [f.segment for f in finals] == list(range(len(spans)))
    for final, (start, end) in zip(finals, spans):
        assert start - 0.2 <= final.start < final.end <= end + 0.2


def test_no_audio_is_dropped_at_the_end(demo):
    """Speech that runs to the very last sample is in the last final, which ends at the speech end."""
    audio, spans = speech_with_pauses(SENTENCES[:1], lead=0.3, tail=0.0)
    audio = audio[: int((spans[0][1] - 0.02) * 16_000)]  # cut inside the last phoneme
    final = finals_of(transcribe_stream(demo, audio, 16_000))[-1]
    assert final.end >= len(audio) / 16_000 - 0.15
    assert final.words[-1].end == final.end


def test_partials_only_on_change_and_stable_prefix(demo, long_speech):
    """Every partial differs from the one before it in its segment; stable + unstable == text."""
    events = list(transcribe_stream(demo, long_speech[0], 16_000))
    previous = {}
    partials = [e for e in events if isinstance(e, Partial)]
    assert partials
    for event in events:
        if isinstance(event, Partial):
            assert event.text != previous.get(event.segment)
            assert event.stable + event.unstable == event.text
            previous[event.segment] = event.text


def test_words_appear_in_partials_before_the_final(demo, long_speech):
    """Text shows up in partials while a sentence is still being spoken."""
    audio, spans = long_speech
    recognizer = Recognizer(demo)
    first_partial_at = None
    for start in range(0, len(audio), 1600):
        events = recognizer.accept(audio[start : start + 1600])
        if any(isinstance(e, Partial) and e.text for e in events):
            first_partial_at = (start + 1600) / 16_000
            break
    assert first_partial_at is not None and first_partial_at < spans[0][1]


@pytest.mark.parametrize("seconds", [0.0, 0.01])
def test_closing_an_empty_or_tiny_stream_gives_nothing(demo, seconds):
    """close() on an empty or a 10 ms stream: no crash, no phantom text."""
    recognizer = Recognizer(demo)
    events = recognizer.accept(np.zeros(int(16_000 * seconds), np.float32)) + recognizer.close()
    assert [e for e in events if e.text] == []


@pytest.mark.parametrize("level", [0.0, 1e-3, 3e-3, 1e-2])
def test_silence_gives_no_finals(demo, level):
    """Ten seconds of digital silence, faint noise (-60, -50 dBFS) or hiss (-40 dBFS) yield no final with text."""
    noise = np.random.default_rng(0).normal(0, level, 16_000 * 10).astype(np.float32)
    assert [f for f in finals_of(transcribe_stream(demo, noise, 16_000)) if f.text] == []


def test_finalize_ends_the_segment_and_the_stream_goes_on(demo, long_speech):
    """finalize() mid-stream gives the final of what was heard; later speech gets the next segment."""
    audio, spans = long_speech
    recognizer = Recognizer(demo)
    middle = int(spans[0][1] * 16_000)
    before = recognizer.accept(audio[:middle]) + recognizer.finalize()
    after = recognizer.accept(audio[middle:]) + recognizer.close()
    first = finals_of(before)
    assert len(first) == 1 and first[0].text
    assert [f.segment for f in finals_of(after)] == list(range(1, 1 + len(finals_of(after))))
    assert finals_of(after)[0].start >= first[0].end


def test_reset_starts_a_new_stream(demo, long_speech):
    """After reset() the same audio gives the same finals, times again from zero."""
    audio = long_speech[0][: 16_000 * 6]
    recognizer = Recognizer(demo)
    first = finals_of(recognizer.accept(audio) + recognizer.close())
    recognizer.reset()
    assert finals_of(recognizer.accept(audio) + recognizer.close()) == first


def test_batched_streams_get_the_same_text_as_single_streams(demo, long_speech):
    """Four streams run through the batching engine get what each gets alone."""
    audio, _ = long_speech
    clips = [audio[: 16_000 * s] for s in (5, 7, 9, 11)]
    for events, clip in zip(stream_batched(demo, clips), clips):  # windows really run together
        batched = [f.text for f in finals_of(events)]
        assert batched == [f.text for f in finals_of(stream(demo, clip, [len(clip)]))]


def test_energy_vad_skips_silence_but_keeps_speech(demo, long_speech):
    """With the energy detector, long silence costs no model time and the text stays the same."""
    audio, _ = long_speech
    padded = np.concatenate([np.zeros(16_000 * 5, np.float32), audio[: 16_000 * 6]])
    gated = StreamingConfig(vad="energy", energy_threshold_db=-60.0)
    plain = [f.text for f in finals_of(transcribe_stream(demo, padded, 16_000))]
    assert [f.text for f in finals_of(transcribe_stream(demo, padded, 16_000, gated))] == plain


def test_recognized_samples_advance_hop_by_hop(demo):
    """samples_recognized counts what hops have taken, so a server can settle audio before a backlog clears."""
    recognizer = Recognizer(demo)
    recognizer.push(np.zeros(16_000, np.float32))
    assert (recognizer.samples_received, recognizer.samples_recognized) == (16_000, 0)
    first = recognizer.next_hop()
    hop = StreamingConfig().hop_frames * 320
    assert first is not None and recognizer.samples_recognized == hop + 80  # the first hop also takes the overlap
    recognizer.next_hop()
    assert recognizer.samples_recognized == 2 * hop + 80


def test_newest_rows_survive_buffer_wraps():
    """The buffer of the newest frames or samples gives back exactly the newest rows, however blocks arrive."""
    rng = np.random.default_rng(0)
    keep = 1000
    history, received = Newest(torch.zeros(2 * keep), keep), [np.zeros(keep, np.float32)]  # zeros: before the stream
    for size in rng.integers(0, keep + 1, 200).tolist():
        block = rng.normal(size=size).astype(np.float32)
        history.append(torch.from_numpy(block))
        received.append(block)
        everything = np.concatenate(received)
        for count in (1, 80, keep):
            assert np.array_equal(history.newest(count).numpy(), everything[-count:])


PRECISION_BOUND = 0.005  # 0.5 CER points against the text


def test_bf16_streams_as_accurately_as_fp32(long_speech):
    """The bf16 CPU default streams within 0.5 CER points of fp32 against the spoken text."""
    audio, _ = long_speech
    text = " ".join(SENTENCES)
    errors = {}
    for dtype in ("float32", "bfloat16"):
        model = load_model("demo", device="cpu", dtype=dtype)
        streamed = " ".join(f.text for f in finals_of(transcribe_stream(model, audio, 16_000)))
        errors[dtype] = cer([text], [streamed])
    assert errors["bfloat16"] <= errors["float32"] + PRECISION_BOUND, errors
