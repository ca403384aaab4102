"""`hubert-stream transcribe`, the output formats, every error path and the help, driven through main([...])."""

from __future__ import annotations

import io
import os
import re
import socket
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import soxr
from test_captions import parse_captions

import streamer.cli.mic
import streamer.cli.parser
import streamer.cli.transcribe
from streamer.cli import main
from streamer.core.config import FRAME_SECONDS, StreamingConfig
from streamer.wire.events import Final, Partial, from_json
from training.metrics import cer

ROOT = Path(__file__).resolve().parent.parent
HELLO = ROOT / "examples" / "hello.wav"
WEATHER = ROOT / "examples" / "weather.wav"
MODEL = "demo"
HELLO_MAX_CER = 0.5  # the demo model is small and trained on synthetic speech


class Terminal(io.StringIO):
    """A text stream that says it is a terminal."""

    def isatty(self) -> bool:
        return True


def run(capsys, *argv: str) -> tuple[int, str, str]:
    """main(argv) -> (status, stdout, stderr)."""
    status = main(list(argv))
    captured = capsys.readouterr()
    return status, captured.out, captured.err


def assert_no_traceback(err: str) -> None:
    """Errors are for people: no Python traceback on stderr."""
    assert "Traceback" not in err and 'File "' not in err


# ----- transcribe and the formats ----------------------------------------------------------------


def test_transcribe_two_files_as_jsonl(capsys, cached_model):
    """`transcribe hello.wav weather.wav --format jsonl` prints partials and finals that parse back, file by file."""
    status, out, err = run(capsys, "transcribe", str(HELLO), str(WEATHER), "--model", MODEL, "--format", "jsonl")
    assert status == 0 and err == ""
    events = [from_json(line) for line in out.splitlines()]
    assert [e.to_json() for e in events] == out.splitlines()  # exactly the wire form
    assert any(isinstance(e, Partial) for e in events) and any(isinstance(e, Final) for e in events)
    finals = [e for e in events if isinstance(e, Final)]
    assert finals[0].segment == 0 and all(f.text and f.end > f.start for f in finals)
    restarts = [i for i, f in enumerate(finals) if f.segment == 0]
    assert len(restarts) == 2, "each file's segments count from 0"
    weather = finals[restarts[1] :]
    assert weather[-1].end <= 10.92 + 0.1  # weather.wav is 10.9 s: times are the file's own


def test_demo_model_understands_hello(capsys, cached_model):
    """The bundled demo model gets examples/hello.wav mostly right (it is small: CER <= 0.5)."""
    status, out, _ = run(capsys, "transcribe", str(HELLO), "--model", MODEL)
    assert status == 0
    assert cer([HELLO.with_suffix(".txt").read_text().strip()], [" ".join(out.split())]) <= HELLO_MAX_CER


def test_final_pass_transcribes(capsys, cached_model):
    """`--final-pass` decodes each finished sentence again: the text is still right."""
    status, out, _ = run(capsys, "transcribe", str(HELLO), "--model", MODEL, "--final-pass")
    assert status == 0
    assert cer([HELLO.with_suffix(".txt").read_text().strip()], [" ".join(out.split())]) <= HELLO_MAX_CER


@pytest.mark.parametrize("fmt", ["srt", "vtt"])
def test_captions_one_file_per_input(fmt, tmp_path, capsys, cached_model, monkeypatch):
    """The README's `--output 'subs/{stem}.srt'` (vtt too) makes subs/ and writes a valid caption file per input
    whose text is the finals'."""
    status, out, _ = run(capsys, "transcribe", str(HELLO), str(WEATHER), "--model", MODEL, "--format", "jsonl")
    finals = [e for e in map(from_json, out.splitlines()) if isinstance(e, Final)]
    second = [i for i, f in enumerate(finals) if f.segment == 0][1]
    expected = {"hello": finals[:second], "weather": finals[second:]}

    monkeypatch.chdir(tmp_path)  # subs/ does not exist yet
    template = f"subs/{{stem}}.{fmt}"
    status, out, err = run(capsys, "transcribe", str(HELLO), str(WEATHER), "--model", MODEL, "-f", fmt, "-o", template)
    assert status == 0 and out == "" and err == ""
    assert sorted(p.name for p in (tmp_path / "subs").iterdir()) == [f"hello.{fmt}", f"weather.{fmt}"]
    for stem, its_finals in expected.items():
        cues = parse_captions((tmp_path / "subs" / f"{stem}.{fmt}").read_text(), vtt=fmt == "vtt")
        assert " ".join(" ".join(lines) for _, _, lines in cues) == " ".join(f.text for f in its_finals)
        times = [t for start, end, _ in cues for t in (start, end)]
        assert times == sorted(times) and all(end > start for start, end, _ in cues)
        assert all(len(lines) <= 2 for _, _, lines in cues)
        assert all(len(line) <= 42 or " " not in line for _, _, lines in cues for line in lines)  # words stay whole
        assert all(end - start <= 6.0 or len(" ".join(lines).split()) == 1 for start, end, lines in cues)
        assert abs(cues[0][0] - its_finals[0].start) < 0.0011 and abs(cues[-1][1] - its_finals[-1].end) < 0.0011


def test_srt_of_one_file_on_stdout(capsys, cached_model):
    """One file's SRT goes to stdout as a valid SRT document."""
    status, out, _ = run(capsys, "transcribe", str(WEATHER), "--model", MODEL, "--format", "srt")
    assert status == 0
    cues = parse_captions(out, vtt=False)
    assert cues and out.startswith("1\n00:00:")


def test_text_of_several_files_has_a_header_per_file(capsys, cached_model):
    """text prints one final per line, under a `==> FILE <==` line for each file when there are several."""
    status, out, _ = run(capsys, "transcribe", str(HELLO), str(WEATHER), "--model", MODEL)
    assert status == 0
    blocks = out.split("\n\n")
    assert [b.splitlines()[0] for b in blocks] == [f"==> {HELLO} <==", f"==> {WEATHER} <=="]
    assert all(len(b.strip().splitlines()) >= 2 for b in blocks)
    status, single, _ = run(capsys, "transcribe", str(HELLO), "--model", MODEL)
    assert "==>" not in single and single == blocks[0].split("\n", 1)[1].rstrip("\n") + "\n"


def test_captions_of_several_files_cannot_share_a_file(tmp_path, capsys):
    """srt/vtt of several files into one --output is refused, pointing at {stem}, before any model loads."""
    status, _, err = run(capsys, "transcribe", str(HELLO), str(WEATHER), "-f", "srt", "-o", str(tmp_path / "all.srt"))
    assert status == 2 and not (tmp_path / "all.srt").exists()
    assert "--output '{stem}.srt'" in err and len(err.strip().splitlines()) == 1


def test_output_to_a_file(tmp_path, capsys, cached_model):
    """--output FILE receives what stdout would have shown; the folders on its way are made."""
    target = tmp_path / "notes" / "today" / "hello.txt"
    status, out, _ = run(capsys, "transcribe", str(HELLO), "--model", MODEL, "-o", str(target))
    assert status == 0 and out == ""
    status, shown, _ = run(capsys, "transcribe", str(HELLO), "--model", MODEL)
    assert target.read_text() == shown and shown.strip()


class Stdin:
    """sys.stdin with these bytes piped in."""

    def __init__(self, data: bytes, terminal: bool = False) -> None:
        self.buffer, self.terminal = io.BytesIO(data), terminal

    def isatty(self) -> bool:
        return self.terminal


def test_audio_from_standard_input(tmp_path, capsys, monkeypatch, cached_model):
    """`cat hello.wav | hubert-stream transcribe -` prints what the file gives; any format (FLAC here) works too."""
    _, from_file, _ = run(capsys, "transcribe", str(HELLO), "--model", MODEL, "-f", "jsonl")
    audio, rate = sf.read(HELLO, dtype="int16")
    flac = io.BytesIO()
    sf.write(flac, audio, rate, format="FLAC")
    monkeypatch.setattr(sys, "stdin", Stdin(flac.getvalue()))
    assert run(capsys, "transcribe", "-", "--model", MODEL, "-f", "jsonl") == (0, from_file, "")

    monkeypatch.setattr(sys, "stdin", Stdin(HELLO.read_bytes()))
    status, out, err = run(capsys, "transcribe", "-", str(HELLO), "--model", MODEL, "-o", str(tmp_path / "{stem}.txt"))
    assert (status, out, err) == (0, "", "")
    assert (tmp_path / "stdin.txt").read_text() == (tmp_path / "hello.txt").read_text() != ""


def test_standard_input_piped_for_real():
    """The same through a real pipe into `python -m streamer transcribe -`, with a header naming standard input."""
    done = subprocess.run(
        [sys.executable, "-m", "streamer", "transcribe", "-", str(HELLO), "--model", MODEL],
        cwd=ROOT, stdin=HELLO.open("rb"), capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert done.returncode == 0 and done.stderr == ""
    piped, named = done.stdout.split("\n\n")
    assert piped.startswith("==> standard input <==\n") and named.startswith(f"==> {HELLO} <==\n")
    assert piped.split("\n", 1)[1].strip() == named.split("\n", 1)[1].strip() != ""


@pytest.mark.parametrize(
    "stdin, argv, status, message",
    [
        (b"", ["-"], 1, "cannot read standard input: it is empty"),
        (b"these are notes", ["-"], 1, "cannot read standard input: Format not recognised"),
        (None, ["-"], 2, "standard input is a terminal; pipe audio into it, e.g. cat talk.wav | hubert-stream"),
        (b"", ["-", "-"], 2, "standard input (-) can be read only once"),
    ],
)
def test_standard_input_errors(stdin, argv, status, message, capsys, monkeypatch):
    """Empty, non-audio, a terminal, or `-` twice: one line saying so, before any model loads."""
    monkeypatch.setattr(sys, "stdin", Stdin(stdin or b"", terminal=stdin is None))
    got, out, err = run(capsys, "transcribe", *argv, "--model", "nobody/loaded")
    assert (got, out) == (status, "") and err.startswith(f"hubert-stream: error: {message}"), err
    assert len(err.strip().splitlines()) == 1


def test_any_format_rate_and_channel_count(tmp_path, capsys, cached_model):
    """FLAC 44.1 kHz stereo, Ogg 48 kHz, MP3 22.05 kHz, WAV 8 kHz: the text of the same audio as 16 kHz mono."""
    audio, rate = sf.read(HELLO, dtype="float32")
    variants = {
        "stereo.flac": (44_100, 2, "PCM_24"),
        "vorbis.ogg": (48_000, 1, "VORBIS"),
        "lame.mp3": (22_050, 1, "MPEG_LAYER_III"),
        "phone.wav": (8_000, 1, "PCM_16"),
    }
    argv = []
    for name, (target_rate, channels, subtype) in variants.items():
        resampled = soxr.resample(audio, rate, target_rate)
        data = np.stack([resampled, 0.5 * resampled], axis=1) if channels == 2 else resampled
        sf.write(tmp_path / name, data, target_rate, subtype=subtype)
        # The reference: what the file decodes to, mixed down and resampled in one go, as a 16 kHz mono WAV.
        decoded, _ = sf.read(tmp_path / name, dtype="float32", always_2d=True)
        reference = soxr.resample(decoded.mean(axis=1), target_rate, rate)
        sf.write(tmp_path / f"{name}.16k.wav", reference, rate, subtype="FLOAT")
        argv += [str(tmp_path / name), str(tmp_path / f"{name}.16k.wav")]
    status, out, err = run(capsys, "transcribe", *argv, "--model", MODEL)
    assert status == 0, err
    blocks = out.split("\n\n")
    assert [b.splitlines()[0] for b in blocks] == [f"==> {path} <==" for path in argv]
    texts = [" ".join(b.splitlines()[1:]) for b in blocks]
    assert all(texts), "every file was heard"
    for name, text, reference in zip(variants, texts[::2], texts[1::2]):
        assert cer([reference], [text]) <= 0.05, (name, text, reference)


def test_realtime_is_paced_like_a_live_source(tmp_path, capsys, cached_model):
    """--realtime takes as long as the audio lasts and gives exactly the events of --live run as fast as possible.

    (Without either, the file is decoded offline in long chunks, streamer.core.files.)"""
    audio, rate = sf.read(HELLO, dtype="int16")
    clip = tmp_path / "clip.wav"
    sf.write(clip, audio[: int(1.5 * rate)], rate)
    fast = run(capsys, "transcribe", str(clip), "--model", MODEL, "-f", "jsonl", "--live")
    began = time.monotonic()
    paced = run(capsys, "transcribe", str(clip), "--model", MODEL, "-f", "jsonl", "--realtime")
    assert time.monotonic() - began >= 1.4
    assert paced == fast and '"final"' in fast[1]


def test_progress_bar_only_when_stderr_is_a_terminal(monkeypatch, capsys, cached_model):
    """A long file shows a progress bar on a terminal's stderr and none when stderr is redirected."""
    monkeypatch.setattr(streamer.cli.transcribe, "PROGRESS_MIN_SECONDS", 5.0)
    status, _, err = run(capsys, "transcribe", str(WEATHER), "--model", MODEL)
    assert status == 0 and err == ""
    terminal = Terminal()
    monkeypatch.setattr(sys, "stderr", terminal)
    assert main(["transcribe", str(WEATHER), str(HELLO), "--model", MODEL]) == 0
    shown = terminal.getvalue()
    assert "weather.wav [" in shown and "/0:10" in shown and "x real time" in shown
    assert "hello.wav [" not in shown  # 3.2 s is too short to need one
    assert shown.endswith("\r\033[K")  # wiped when done


# ----- errors -----------------------------------------------------------------------------------


def test_bad_files_are_named_and_the_others_still_transcribed(tmp_path, capsys, cached_model):
    """Missing, non-audio, corrupt and directory inputs are each named on stderr; good ones still come out; status 1."""
    not_audio = tmp_path / "notes.wav"
    not_audio.write_text("these are my notes, not a recording\n")
    corrupt = tmp_path / "corrupt.flac"
    corrupt.write_bytes(b"fLaC" + bytes(np.random.default_rng(0).integers(0, 256, 4000, dtype=np.uint8)))
    missing = tmp_path / "missing.wav"
    argv = [str(HELLO), str(not_audio), str(missing), str(corrupt), str(tmp_path), str(WEATHER)]
    status, out, err = run(capsys, "transcribe", *argv, "--model", MODEL)
    assert status == 1
    assert_no_traceback(err)
    lines = err.strip().splitlines()
    assert len(lines) == 4
    for bad, line in zip([not_audio, missing, corrupt, tmp_path], lines):
        assert line.startswith(f"hubert-stream: error: cannot read {bad}: "), line
    assert "no such file" in lines[1] and "directory" in lines[3]
    assert [block.splitlines()[0] for block in out.split("\n\n")] == [f"==> {HELLO} <==", f"==> {WEATHER} <=="]
    assert all(len(block.splitlines()) >= 2 for block in out.split("\n\n"))  # both transcribed


def test_only_bad_files_fail_without_loading_a_model(tmp_path, capsys, monkeypatch):
    """When no input is readable the model is not loaded at all, and the status is 1."""
    import model.loading

    monkeypatch.setattr(model.loading, "load_model", lambda *a, **k: pytest.fail("the model was loaded"))
    status, _, err = run(capsys, "transcribe", str(tmp_path / "nothing.wav"), "--model", MODEL)
    assert status == 1 and "nothing.wav: no such file" in err


def test_file_corrupt_in_the_middle(tmp_path, capsys, cached_model):
    """A file whose samples turn to garbage mid-way: what came before is transcribed, the file is named, status 1."""
    audio, rate = sf.read(WEATHER, dtype="float32")
    broken = tmp_path / "broken.wav"
    sf.write(broken, audio, rate, subtype="FLOAT")
    data = bytearray(broken.read_bytes())
    half = 44 + (len(data) - 44) // 2
    data[half:] = np.full(len(data) - half, 0xFF, dtype=np.uint8).tobytes()  # NaN floats from the middle on
    broken.write_bytes(bytes(data))
    status, out, err = run(capsys, "transcribe", str(broken), "--model", MODEL)
    assert status == 1
    assert_no_traceback(err)
    assert f"cannot read {broken} at " in err and "non-finite" in err
    assert out.strip(), "the first half was still transcribed"


def test_file_at_a_rate_the_recognizer_cannot_take(tmp_path, capsys):
    """A 4 kHz recording is named with the supported range; status 1."""
    low = tmp_path / "low.wav"
    sf.write(low, np.zeros(4000, dtype=np.float32), 4000)
    status, _, err = run(capsys, "transcribe", str(low), "--model", MODEL)
    assert status == 1
    assert f"cannot transcribe {low}: unsupported sample rate 4000 Hz; supported: 8000-192000 Hz" in err


@pytest.mark.parametrize(
    "name, fragments",
    [
        ("nobody/nothing", ["cannot load model 'nobody/nothing'", "HF_HUB_OFFLINE is set", "--model demo"]),
        ("./no-such-folder", ["cannot load model './no-such-folder'", "no model folder", "demo, large, xlarge"]),
    ],
)
def test_model_that_cannot_be_found(name, fragments, monkeypatch, capsys):
    """An offline hub id or a missing folder: one line saying what was tried and what to do, status 2, fast."""
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    began = time.monotonic()
    status, out, err = run(capsys, "transcribe", str(HELLO), "--model", name)
    assert time.monotonic() - began < 20
    assert status == 2 and out == ""
    assert_no_traceback(err)
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("hubert-stream: error: ")
    for fragment in fragments:
        assert fragment in lines[0]


def test_unreachable_hub_is_one_line_at_once(tmp_path):
    """A hub that refuses connections: no 30 s of retry lines, one line naming the cache, HF_HUB_OFFLINE and a folder."""
    closed = socket.socket()  # bound and not listening: every connection to it is refused
    closed.bind(("127.0.0.1", 0))
    env = {k: v for k, v in os.environ.items() if k != "HF_HUB_OFFLINE"}
    endpoint = f"http://127.0.0.1:{closed.getsockname()[1]}"
    env.update(HF_ENDPOINT=endpoint, HF_HUB_CACHE=str(tmp_path), PYTHONPATH=str(ROOT))
    began = time.monotonic()
    with closed:
        done = subprocess.run(
            [sys.executable, "-m", "streamer", "transcribe", str(HELLO), "--model", "nobody/nothing"],
            cwd=ROOT, env=env, capture_output=True, text=True, timeout=60, check=False,
        )  # fmt: skip
    assert time.monotonic() - began < 20  # huggingface_hub's own retries took 25-30 s
    assert done.returncode == 2 and done.stdout == ""
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, lines
    assert lines[0].startswith("hubert-stream: error: cannot load model 'nobody/nothing': ")
    for fragment in ("did not answer", "Connection refused", "not in the local cache", "HF_HUB_OFFLINE=1",
                     "local folder", "--model demo"):  # fmt: skip
        assert fragment in lines[0]


def test_cuda_without_cuda(capsys):
    """Asking for CUDA on a machine without it is one line and status 2."""
    import torch

    if torch.cuda.is_available():
        pytest.skip("this machine has CUDA")
    status, _, err = run(capsys, "transcribe", str(HELLO), "--model", MODEL, "--device-type", "cuda")
    assert status == 2 and "CUDA was requested" in err and len(err.strip().splitlines()) == 1


def test_bad_streaming_options(capsys):
    """A hop shorter than a frame names the option; a negative one is rejected by the parser; both status 2."""
    status, _, err = run(capsys, "transcribe", str(HELLO), "--hop", "0.001")
    assert status == 2 and "--hop must be at least 1 frame" in err
    with pytest.raises(SystemExit) as exit_:
        main(["transcribe", str(HELLO), "--endpoint-silence", "-1"])
    assert exit_.value.code == 2 and "--endpoint-silence" in capsys.readouterr().err


def test_output_that_cannot_be_written(tmp_path, capsys):
    """An --output whose folder would have to be made inside a file is reported before the model loads; status 2."""
    (tmp_path / "notes.txt").write_text("a file, not a folder\n")
    target = tmp_path / "notes.txt" / "hello.txt"
    status, _, err = run(capsys, "transcribe", str(HELLO), "--model", "nobody/loaded", "-o", str(target))
    assert status == 2 and err.startswith(f"hubert-stream: error: cannot write {target}: ")
    assert len(err.strip().splitlines()) == 1


def test_per_file_outputs_must_differ(tmp_path, capsys):
    """{stem} outputs that would collide (same name in two folders) are refused; status 2."""
    (tmp_path / "a").mkdir(), (tmp_path / "b").mkdir()
    for folder in "ab":
        sf.write(tmp_path / folder / "take.wav", np.zeros(1600, np.float32), 16_000)
    status, _, err = run(
        capsys, "transcribe", str(tmp_path / "a" / "take.wav"), str(tmp_path / "b" / "take.wav"), "-o", "{stem}.srt"
    )
    assert status == 2 and "names the same file" in err


# ----- help and entry points --------------------------------------------------------------------


def help_of(capsys, *argv: str) -> str:
    """The --help text of a (sub)command."""
    with pytest.raises(SystemExit) as exit_:
        main([*argv, "--help"])
    assert exit_.value.code == 0
    return " ".join(capsys.readouterr().out.split())  # unwrapped


def test_help_lists_the_commands_and_exit_codes(capsys):
    """Top-level help names mic, transcribe and devices and explains the exit codes."""
    text = help_of(capsys)
    for command in ("mic", "transcribe", "devices"):
        assert command in text
    assert "exit status: 0 success; 1 some file could not be read" in text and "2 bad options" in text


@pytest.mark.parametrize("command", ["mic", "transcribe"])
def test_help_lists_the_choices(command, capsys):
    """The model aliases, devices, precisions and formats in --help are the ones the code takes (the defaults:
    tests/test_cli_defaults.py)."""
    import model.loading

    text = help_of(capsys, command)
    for option in ("--hop S", "--lookahead S", "--left-context S", "--endpoint-silence S"):
        assert option in text
    assert set(streamer.cli.parser.MODEL_ALIASES) == set(model.loading.ALIASES)
    assert "--device-type {cpu,cuda,auto}" in text and "--dtype {float32,bfloat16,float16}" in text
    assert "--format {text,jsonl,srt,vtt}" in text and "(default: text)" in text
    assert "2 lines of 42 characters and 6 s" in text


def test_help_of_each_subcommand_says_what_it_does(capsys):
    """mic explains the live view, Ctrl-C and lost audio; transcribe the formats and several files; devices the list."""
    mic = help_of(capsys, "mic")
    assert "--input NAME|INDEX" in mic and "Ctrl-C" in mic and "exits with status 0" in mic
    assert "dimmed" in mic and "When stdout is not a terminal only finished sentences are printed" in mic
    assert "more than 5 s" in mic and f"{streamer.cli.mic.QUEUE_SECONDS:g} s" in mic
    transcribe = help_of(capsys, "transcribe")
    assert "FILE [FILE ...]" in transcribe and "--realtime" in transcribe and "{stem}" in transcribe
    assert "==> FILE <==" in transcribe and "exit status is 1" in transcribe
    devices = help_of(capsys, "devices")
    assert "default sample rate" in devices and "--input" in devices


def test_version_is_the_projects(capsys):
    """`hubert-stream --version` prints the version pyproject.toml declares, and exits 0."""
    declared = re.search(r'^version = "([^"]+)"', (ROOT / "pyproject.toml").read_text(), re.MULTILINE).group(1)
    with pytest.raises(SystemExit) as exit_:
        main(["--version"])
    assert exit_.value.code == 0 and capsys.readouterr().out == f"hubert-stream {declared}\n"


def test_final_pass_figures_live_in_docs_performance_only(capsys):
    """--help, docs/cli.md and the README agree on the final pass: the same history, and the measured figures
    (percentages) only in docs/performance.md, which the help and docs/cli.md point to."""
    history = f"up to {StreamingConfig().final_context_frames * FRAME_SECONDS:g} s of history"
    option = " ".join(help_of(capsys, "transcribe").split("--no-final-pass", 1)[1].split("\n  --", 1)[0].split())
    row = next(
        line for line in (ROOT / "docs" / "cli.md").read_text().splitlines() if line.startswith("| `--final-pass`")
    )
    readme = (ROOT / "README.md").read_text()
    feature = next(line for line in readme.splitlines() if line.startswith("| Streaming |"))
    for text in (option, row, feature):
        assert history in text and not re.search(r"\d\s*%", text), text
    assert "docs/performance.md" in option and "[docs/performance.md](performance.md)" in row
    assert "**The final pass and its history.**" in (ROOT / "docs" / "performance.md").read_text()


def test_install_commands_install_from_the_checkout():
    """hubert-stream is on no package index: no doc tells pip to fetch it by name (`pip install 'hubert-stream[mic]'`)."""
    for doc in [ROOT / "README.md", *(ROOT / "docs").glob("*.md")]:
        for command in re.findall(r"pip install [^`\n&;|]*", doc.read_text()):
            assert "hubert-stream" not in command, f"{doc.name}: {command}"
    assert "pip install -e '.[mic]'" in (ROOT / "docs" / "cli.md").read_text()


def test_no_command_is_a_usage_error(capsys):
    """Running with no subcommand prints usage and exits 2."""
    with pytest.raises(SystemExit) as exit_:
        main([])
    assert exit_.value.code == 2 and "usage: hubert-stream" in capsys.readouterr().err


def test_python_dash_m_streamer():
    """`python -m streamer` is the same command."""
    done = subprocess.run(
        [sys.executable, "-m", "streamer", "transcribe", "--help"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0 and done.stdout.startswith("usage: hubert-stream transcribe")


def test_serve_log_level():
    """`serve --log-level error` prints only errors on stderr; the default (info) also says where it listens."""

    def serve(*options: str) -> list[str]:
        command = [sys.executable, "-m", "streamer", "serve", "--model", "./no-such-model-folder", "--port", "0"]
        done = subprocess.run([*command, *options], cwd=ROOT, capture_output=True, text=True, timeout=60, check=False)
        assert done.returncode == 2 and "no model folder './no-such-model-folder'" in done.stderr
        return done.stderr.splitlines()

    assert any(" INFO " in line and "listening on ws://127.0.0.1:" in line for line in serve())
    quiet = serve("--log-level", "error")
    assert quiet and all(" ERROR " in line for line in quiet), quiet
    parser = streamer.cli.parser.build_parser()
    args = parser.parse_args(["serve", "--log-level", "warning"])
    assert args.log_level == "warning"


def test_serve_takes_the_common_options_and_its_own():
    """`serve` parses the model and streaming options of the other subcommands, then its own."""
    parser = streamer.cli.parser.build_parser()
    args = parser.parse_args(["serve", "--port", "0", "--model", MODEL, "--hop", "0.5", "--final-pass"])
    assert (args.port, args.model, args.hop, args.device_type, args.final_pass) == (0, MODEL, 0.5, "auto", True)
    assert args.left_context is None and args.endpoint_silence is None  # offered; StreamingConfig's defaults
