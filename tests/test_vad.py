"""Voice activity detection (``--vad``): silence and noise skip the model, speech keeps its words,
any chunking gives the same finals, and the server runs it for every session."""

from __future__ import annotations

import asyncio
import json
import random
import urllib.request

import numpy as np
import pytest
from conftest import finals_of
from test_server import running_server
from websockets.asyncio.client import connect

from streamer import BatchEngine, Recognizer, StreamingConfig
from streamer.core.files import transcribe_file, transcribe_stream
from training.metrics import cer, edit_distance
from training.nonspeech import NONSPEECH
from training.speech import paused_recording, short_utterances

SILERO = StreamingConfig(vad="silero")


@pytest.fixture(scope="module")
def paused():
    """Six held-out sentences after 1-5 s pauses over room noise: (sentences, audio, spans)."""
    return paused_recording(count=6, seed=3)


def timed_finals(events) -> list:
    return [(f.text, [(w.word, w.start, w.end) for w in f.words]) for f in finals_of(events)]


def chunked(recognizer, audio: np.ndarray, sizes: list[int]) -> list:
    events, start = [], 0
    for size in sizes:
        events += recognizer.accept(audio[start : start + size])
        start += size
    return events + recognizer.accept(audio[start:]) + recognizer.close()


@pytest.mark.parametrize("sound", sorted(NONSPEECH))
def test_a_minute_of_noise_music_or_typing_gives_no_words(demo, sound):
    """60 s of white or pink noise, tones and chords, or keyboard clicks, streamed live or as a file
    with the silero VAD: no final with text (the demo model alone writes letters for some)."""
    audio = NONSPEECH[sound](60.0)
    assert finals_of(transcribe_stream(demo, audio, 16_000, SILERO)) == []
    assert finals_of(transcribe_file(demo, audio, 16_000, SILERO)) == []


@pytest.mark.parametrize("endpoint", ["vad", "both", "blank"])
def test_any_chunking_gives_the_same_finals_with_the_vad(demo, paused, endpoint):
    """The VAD cuts its frames from the stream, not from the blocks, and a segment ends on its
    speech end at a hop: one block, 0.1 s blocks and random blocks of 1 to 9,000 samples give the
    same finals, word times included, whatever ends the segments."""
    _, audio, _ = paused
    config = StreamingConfig(vad="silero", endpoint=endpoint)
    whole = timed_finals(chunked(Recognizer(demo, config), audio, [len(audio)]))
    rng = random.Random(0)
    sizes = [rng.randint(1, 9_000) for _ in range(len(audio) // 4_500)]
    assert len(whole) == 6
    assert timed_finals(chunked(Recognizer(demo, config), audio, [1_600] * (len(audio) // 1_600))) == whole
    assert timed_finals(chunked(Recognizer(demo, config), audio, sizes)) == whole


def test_a_final_comes_soon_after_the_speech_ends_and_holds_the_whole_sentence(demo, paused):
    """With the silero VAD a segment ends on its speech end: streamed live in 0.1 s blocks, each
    sentence's final comes within 0.9 s of audio after it ends (0.5 s of silence, then the next hop),
    never later and on average sooner than on the blank run alone, and holds that sentence, all of it
    and nothing of another."""
    sentences, audio, spans = paused
    waits = {}
    for endpoint in ("vad", "blank"):
        recognizer, timed = Recognizer(demo, StreamingConfig(vad="silero", endpoint=endpoint)), []
        for start in range(0, len(audio), 1_600):
            events = finals_of(recognizer.accept(audio[start : start + 1_600]))
            timed += [(recognizer.samples_recognized / 16_000, final) for final in events]
        assert len(timed) == len(sentences)
        for (at, final), (onset, end) in zip(timed, spans):
            assert onset - 0.3 < final.start and final.end < end + 0.3  # this sentence's words only
        waits[endpoint] = [at - end for (at, _), (_, end) in zip(timed, spans)]
        if endpoint == "vad":
            assert cer(sentences, [f.text for _, f in timed]) < 0.2
    assert all(0 < wait < 0.9 for wait in waits["vad"]), waits["vad"]
    assert all(vad <= blank for vad, blank in zip(waits["vad"], waits["blank"]))
    assert sum(waits["blank"]) - sum(waits["vad"]) > 0.1 * len(spans)  # what the VAD's speech end saves


def test_streams_batched_together_hear_what_each_hears_alone(demo, paused):
    """The VAD runs batched across the streams of an engine, each with its own state: the finals are
    each stream's alone."""
    _, audio, _ = paused
    clips = [audio, audio[16_000 * 3 :], audio[: 16_000 * 12]]
    engine = BatchEngine(demo)
    recognizers = [Recognizer(demo, SILERO) for _ in clips]
    events = {r: [] for r in recognizers}
    for start in range(0, len(audio), 4_800):
        for r, clip in zip(recognizers, clips):
            r.push(clip[start : start + 4_800])
        for r, new in engine.step(recognizers).items():
            events[r] += new
    assert engine.vad_frames > 0 and engine.silent_windows > 0
    for r, clip in zip(recognizers, clips):
        alone = timed_finals(chunked(Recognizer(demo, SILERO), clip, [len(clip)]))
        assert timed_finals(events[r] + r.close()) == alone


def test_pauses_skip_the_model_and_the_words_stay(demo, paused):
    """Over the pauses the model does not run: far fewer windows than without the VAD, the same
    words as without it."""
    _, audio, spans = paused
    runs = {}
    for vad in ("off", "silero"):
        engine, recognizer = BatchEngine(demo), Recognizer(demo, StreamingConfig(vad=vad))
        events = []
        for start in range(0, len(audio), 4_800):
            recognizer.push(audio[start : start + 4_800])
            events += engine.step([recognizer]).get(recognizer, [])
        runs[vad] = (engine.windows - engine.silent_windows, [f.text for f in finals_of(events + recognizer.close())])
    speech = sum(end - start for start, end in spans) / (len(audio) / 16_000)
    assert len(runs["silero"][1]) == len(runs["off"][1]) == 6
    # The final pass decodes the speech with 0.3 s around it instead of all the audio heard: the
    # normalization differs a little, so a letter may too.
    assert cer(runs["off"][1], runs["silero"][1]) < 0.02
    assert runs["silero"][0] < (speech + 0.2) * runs["off"][0]  # speech, and little around it


def test_first_and_last_words_are_kept(demo):
    """Short held-out sentences, each a fresh stream starting as the speech does: with the VAD each
    final begins and ends with the words it has without it, and differs by a letter at most."""
    _, clips = short_utterances()
    for clip in clips[:8]:
        plain = " ".join(f.text for f in finals_of(transcribe_stream(demo, clip, 16_000))).split()
        heard = " ".join(f.text for f in finals_of(transcribe_stream(demo, clip, 16_000, SILERO))).split()
        assert (heard[0], heard[-1]) == (plain[0], plain[-1])
        assert edit_distance(" ".join(plain), " ".join(heard)) <= 1


@pytest.mark.parametrize("beside", [False, True], ids=["model-waits-for-vad", "model-runs-beside-vad"])
def test_the_server_runs_the_vad_for_its_sessions_and_counts_it(demo, paused, beside):
    """A server started with the silero VAD judges its sessions' audio on its VAD thread, whether the
    model waits for its decisions (a CPU model) or runs other hops meanwhile (a GPU model's way): three
    sessions at once each get the finals their stream gets alone, and /metrics shows the VAD's work:
    frames judged, time spent, windows that skipped the model."""
    _, audio, _ = paused
    clips = [audio[: 16_000 * 8], audio[16_000 * 2 : 16_000 * 12], audio[16_000 * 5 : 16_000 * 11]]
    expected = [[f.text for f in finals_of(transcribe_stream(demo, clip, 16_000, SILERO))] for clip in clips]
    with running_server(demo, SILERO) as server:
        port = server.port
        server.worker.vad_beside = beside  # set once the model loaded, before any session

        async def stream(clip: np.ndarray) -> list[str]:
            pcm = (np.clip(clip, -1, 1) * 32767).astype(np.int16)
            async with connect(f"ws://127.0.0.1:{port}/v1/stream") as ws:
                for start in range(0, len(pcm), 1_600):
                    await ws.send(pcm[start : start + 1_600].tobytes())
                await ws.send('{"type":"eof"}')
                return [m["text"] async for raw in ws if (m := json.loads(raw))["type"] == "final"]

        async def all_at_once() -> list[list[str]]:
            return list(await asyncio.gather(*(stream(clip) for clip in clips)))

        assert asyncio.run(all_at_once()) == expected
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as response:
            metrics = dict(line.rsplit(" ", 1) for line in response.read().decode().splitlines() if line[0] != "#")
    heard = sum(len(clip) for clip in clips) / 512
    assert 0.99 * heard <= int(metrics["hubert_stream_vad_frames_total"]) <= heard + len(clips)
    assert float(metrics["hubert_stream_vad_seconds_total"]) > 0
    assert int(metrics["hubert_stream_silent_windows_total"]) > 0


def test_the_command_line_takes_vad(capsys, tmp_path):
    """`transcribe --vad silero` prints no words for a file of music and typing (live and as a file);
    an unknown detector is a usage error (exit 2) naming the choices."""
    import soundfile as sf

    from streamer.cli import main

    noise = tmp_path / "desk.wav"
    sf.write(noise, np.concatenate([NONSPEECH["tones and chords"](10.0), NONSPEECH["keyboard clicks"](10.0)]), 16_000)
    for extra in ([], ["--live"]):
        assert main(["transcribe", str(noise), "--model", "demo", "--vad", "silero", *extra]) == 0
        assert capsys.readouterr().out == ""
    with pytest.raises(SystemExit) as exit_:
        main(["transcribe", str(noise), "--model", "demo", "--vad", "loud"])
    assert exit_.value.code == 2
    assert "silero" in capsys.readouterr().err
    # the VAD's endpoint: its silence and what ends a sentence; a silence under a frame names the option
    options = ["--vad", "silero", "--live", "--vad-endpoint", "both", "--vad-silence", "0.3"]
    assert main(["transcribe", str(noise), "--model", "demo", *options]) == 0
    assert main(["transcribe", str(noise), "--model", "demo", "--vad", "silero", "--vad-silence", "0"]) == 2
    assert "--vad-silence must be at least 1 frame" in capsys.readouterr().err
