"""Loading checkpoints: local folders, the hub cache offline, and every error a user can meet."""

from __future__ import annotations

import hashlib
import http.server
import json
import os
import shutil
import socket
import subprocess
import sys
import threading
import time
import urllib.parse
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file, save_file

from model import load_model
from model.device import cpu_has_native_bf16
from model.loading import resolve_model_folder

ROOT = Path(__file__).resolve().parents[1]
COMMIT = "0123456789abcdef0123456789abcdef01234567"


def _copy(folder: Path, tmp_path: Path) -> Path:
    target = tmp_path / "ckpt"
    shutil.copytree(folder, target)
    return target


def _edit_weights(folder: Path, edit) -> None:
    state = load_file(folder / "model.safetensors")
    edit(state)
    save_file(state, folder / "model.safetensors")


def _edit_config(folder: Path, **changes) -> None:
    config = json.loads((folder / "config.json").read_text())
    config.update(changes)
    (folder / "config.json").write_text(json.dumps(config))


def _hub_cache(tmp_path: Path, source: Path, repo_id: str = "someone/hubert-tiny-ctc", drop=()) -> Path:
    """Lay out a Hugging Face hub cache holding ``source`` as ``repo_id`` at revision main."""
    cache = tmp_path / "hub"
    repo = cache / f"models--{repo_id.replace('/', '--')}"
    snapshot = repo / "snapshots" / COMMIT
    snapshot.mkdir(parents=True)
    (repo / "refs").mkdir()
    (repo / "refs" / "main").write_text(COMMIT)
    for file in source.iterdir():
        if file.name not in drop:
            (shutil.copytree if file.is_dir() else shutil.copy)(file, snapshot / file.name)
    return cache


def _load_in_subprocess(name: str, cache: Path) -> subprocess.CompletedProcess:
    """huggingface_hub reads HF_HUB_CACHE and HF_HUB_OFFLINE at import: run in a fresh interpreter."""
    env = dict(os.environ, HF_HUB_CACHE=str(cache), HF_HUB_OFFLINE="1", PYTHONPATH=str(ROOT))
    code = (
        "import sys, torch; from model import load_model\n"
        f"m = load_model({name!r}, device='cpu')\n"
        "print(m.name, m(torch.zeros(1, 16000)).shape[1], type(m.vocab).__name__)"
    )
    return subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120)


def test_local_folder_loads_in_eval_mode_with_vocab_and_front(checkpoint_factory):
    """A local folder loads, in eval mode, without gradients, carrying vocabulary and audio front."""
    folder, _ = checkpoint_factory("large")
    model = load_model(str(folder), device="cpu")
    assert not model.training
    assert not any(p.requires_grad for p in model.parameters())
    assert model.vocab.tokens[model.vocab.blank_id] == "<pad>"
    assert model.front.do_normalize is True
    assert model.device.type == "cpu"
    assert model.dtype == (torch.bfloat16 if cpu_has_native_bf16() else torch.float32)


@pytest.mark.parametrize(
    ("flags", "native"),
    [("fpu avx2 avx512f", False), ("fpu avx512f avx512_bf16", True), ("fpu amx_tile amx_bf16", True), (None, False)],
)
def test_cpu_default_dtype_is_bf16_only_with_native_bf16(tmp_path, flags, native):
    """The CPU default is bf16 only where /proc/cpuinfo shows AVX512-bf16 or AMX (else bf16 is emulated)."""
    cpuinfo = tmp_path / "cpuinfo"
    if flags is not None:
        cpuinfo.write_text(f"processor\t: 0\nmodel name\t: Some CPU\nflags\t\t: {flags}\n")
    assert cpu_has_native_bf16(cpuinfo) is native


def test_masked_spec_embed_is_ignored(checkpoint_factory):
    """The pre-training mask vector in official checkpoints is not an 'unexpected key'."""
    folder, _ = checkpoint_factory("base")
    assert "hubert.masked_spec_embed" in load_file(folder / "model.safetensors")
    load_model(folder, device="cpu")


@pytest.mark.parametrize("weights", ["safetensors", "bin"])
def test_hub_cache_offline(checkpoint_factory, tmp_path, weights):
    """A hub id resolves from a populated cache with HF_HUB_OFFLINE=1, from either weights file."""
    folder, _ = checkpoint_factory("large", weights)
    cache = _hub_cache(tmp_path, folder)
    result = _load_in_subprocess("someone/hubert-tiny-ctc", cache)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["someone/hubert-tiny-ctc", "49", "Vocabulary"]


class _Hub(http.server.ThreadingHTTPServer):
    """A Hugging Face hub on 127.0.0.1 serving one repository from a folder: the file and
    repository-info routes that ``huggingface_hub`` downloads through, nothing else."""

    def __init__(self, repo_id: str, folder: Path) -> None:
        self.repo_id, self.folder = repo_id, folder
        self.files = sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file())
        super().__init__(("127.0.0.1", 0), _HubHandler)

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"


class _HubHandler(http.server.BaseHTTPRequestHandler):
    def log_message(self, *args) -> None:
        pass

    def do_HEAD(self) -> None:
        self._answer(body=False)

    def do_GET(self) -> None:
        self._answer(body=True)

    def _answer(self, body: bool) -> None:
        hub: _Hub = self.server
        path = urllib.parse.unquote(self.path.split("?")[0])
        info, tree = f"/api/models/{hub.repo_id}/revision/", f"/api/models/{hub.repo_id}/tree/"
        resolve = f"/{hub.repo_id}/resolve/"
        if path.startswith(info):
            data = json.dumps({"id": hub.repo_id, "sha": COMMIT, "siblings": [{"rfilename": f} for f in hub.files]}).encode()
            headers = {"Content-Type": "application/json"}
        elif path.startswith(tree):
            entries = [
                {"type": "file", "path": f, "size": (hub.folder / f).stat().st_size, "oid": hashlib.sha1(f.encode()).hexdigest()}
                for f in hub.files
            ]
            data, headers = json.dumps(entries).encode(), {"Content-Type": "application/json"}
        elif path.startswith(resolve) and path[len(resolve) :].partition("/")[2] in hub.files:
            data = (hub.folder / path[len(resolve) :].partition("/")[2]).read_bytes()
            headers = {"X-Repo-Commit": COMMIT, "ETag": f'"{hashlib.sha256(data).hexdigest()}"'}
        elif path == "/":
            data, headers = b"", {}
        else:
            self.send_response(404)
            self.send_header("X-Error-Code", "EntryNotFound")
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        self.send_response(200)
        for key, value in {**headers, "Content-Length": str(len(data))}.items():
            self.send_header(key, value)
        self.end_headers()
        if body:
            self.wfile.write(data)


def test_a_hub_checkpoints_language_model_comes_with_it(checkpoint_factory, tmp_path):
    """A hub repository in the Wav2Vec2ProcessorWithLM layout, downloaded from a hub: its language_model/
    folder comes with the checkpoint and decodes the finals (logged), as it does beside a local folder."""
    from model.lm import DEMO_LM_DIR

    folder, _ = checkpoint_factory("large")
    shutil.copytree(DEMO_LM_DIR, folder / "language_model")
    hub = _Hub("someone/hubert-tiny-ctc", folder)
    threading.Thread(target=hub.serve_forever, daemon=True).start()
    env = {k: v for k, v in os.environ.items() if k != "HF_HUB_OFFLINE"}
    env.update(HF_ENDPOINT=hub.endpoint, HF_HUB_CACHE=str(tmp_path / "cache"), PYTHONPATH=str(ROOT))
    code = (
        "import logging; logging.basicConfig(level=logging.INFO)\n"
        "from model import load_model\n"
        "m = load_model('someone/hubert-tiny-ctc', device='cpu')\n"
        "print(type(m.decoder).__name__, m.lm.path.name)"
    )
    try:
        result = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120)
    finally:
        hub.shutdown()
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["BeamSearchDecoder", "language_model"]
    assert "found the language model" in result.stderr


def test_hub_id_not_cached_offline_says_what_to_do(checkpoint_factory, tmp_path):
    """An uncached hub id offline names the problem and the ways out (cache, folder, demo)."""
    folder, _ = checkpoint_factory("large")
    result = _load_in_subprocess("facebook/hubert-large-ls960-ft", _hub_cache(tmp_path, folder))
    assert result.returncode != 0
    message = result.stderr.strip().splitlines()[-1]
    assert "RuntimeError" in message and "facebook/hubert-large-ls960-ft" in message
    assert "not in the local cache" in message and "local folder" in message and "--model demo" in message


@pytest.fixture
def silent_hub(monkeypatch, tmp_path):
    """An endpoint that accepts connections and never answers; HF_HUB_OFFLINE unset; returns its cache folder."""
    from huggingface_hub import constants

    import model.loading

    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(8)
    monkeypatch.setattr(constants, "ENDPOINT", f"http://127.0.0.1:{server.getsockname()[1]}")
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", False)
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.setattr(model.loading, "HUB_PROBE_SECONDS", 0.5)
    cache = tmp_path / "hub"
    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(cache))
    yield cache
    server.close()


def test_silent_hub_gives_up_after_one_probe(silent_hub):
    """A hub that never answers: one probe of HUB_PROBE_SECONDS, then the cache, then one error saying what to do."""
    began = time.monotonic()
    with pytest.raises(RuntimeError) as failed:
        load_model("nobody/nothing", device="cpu")
    assert time.monotonic() - began < 5  # huggingface_hub alone retries for 25-30 s
    message = str(failed.value)
    assert "did not answer: timed out" in message and "not in the local cache" in message
    assert "HF_HUB_OFFLINE=1" in message and "local folder" in message and "--model demo" in message


def test_silent_hub_still_loads_what_is_cached(checkpoint_factory, tmp_path, silent_hub):
    """A cached hub id loads when the hub does not answer, without waiting for it more than one probe."""
    folder, _ = checkpoint_factory("large")
    _hub_cache(tmp_path, folder)  # lays out tmp_path / "hub", the cache silent_hub points at
    began = time.monotonic()
    assert load_model("someone/hubert-tiny-ctc", device="cpu").name == "someone/hubert-tiny-ctc"
    assert time.monotonic() - began < 5


def test_hub_cache_without_weights_is_an_offline_error(checkpoint_factory, tmp_path):
    """A cached config without cached weights is reported as not downloadable offline."""
    folder, _ = checkpoint_factory("large")
    cache = _hub_cache(tmp_path, folder, drop=("model.safetensors",))
    result = _load_in_subprocess("someone/hubert-tiny-ctc", cache)
    assert result.returncode != 0 and "not in the local cache" in result.stderr


@pytest.mark.parametrize(
    ("edit", "expected"),
    [
        (lambda s: s.pop("lm_head.bias"), "missing keys: lm_head.bias"),
        (lambda s: s.update(extra_head=torch.zeros(3)), "unexpected keys: extra_head"),
        (
            lambda s: s.update({"lm_head.weight": torch.zeros(31, 64)}),
            "shape mismatches: lm_head.weight (31, 64) (expected (32, 64))",
        ),
        (
            lambda s: s.pop("hubert.encoder.pos_conv_embed.conv.parametrizations.weight.original0"),
            "half of the positional conv's weight norm",
        ),
    ],
)
def test_bad_weights_name_the_keys(checkpoint_factory, tmp_path, edit, expected):
    """Missing, unexpected and misshapen keys are errors that name them."""
    folder = _copy(checkpoint_factory("large")[0], tmp_path)
    _edit_weights(folder, edit)
    with pytest.raises(ValueError, match="checkpoint") as info:
        load_model(folder, device="cpu")
    assert expected in str(info.value)


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        ({"architectures": ["HubertForSequenceClassification"]}, "not a CTC model"),
        ({"conv_pos_batch_norm": True}, "conv_pos_batch_norm"),
        ({"hidden_act": "relu"}, "hidden_act 'relu'"),
        ({"feat_extract_activation": "swish"}, "feat_extract_activation 'swish'"),
        ({"model_type": "wav2vec2"}, "model_type 'wav2vec2'"),
        ({"feat_extract_norm": "batch"}, "feat_extract_norm must be 'group' or 'layer'"),
    ],
)
def test_unsupported_configs_are_named(checkpoint_factory, tmp_path, changes, expected):
    """What this implementation does not run is refused with the setting's name."""
    folder = _copy(checkpoint_factory("large")[0], tmp_path)
    _edit_config(folder, **changes)
    with pytest.raises(ValueError, match=expected):
        load_model(folder, device="cpu")


def test_missing_files_are_named(checkpoint_factory, tmp_path):
    """A folder without vocab.json or without weights says which file is missing."""
    folder = _copy(checkpoint_factory("large")[0], tmp_path)
    (folder / "vocab.json").unlink()
    with pytest.raises(FileNotFoundError, match="missing vocab.json"):
        load_model(folder, device="cpu")
    folder = _copy(checkpoint_factory("base")[0], tmp_path / "again")
    (folder / "model.safetensors").unlink()
    with pytest.raises(FileNotFoundError, match="model.safetensors or pytorch_model.bin"):
        load_model(folder, device="cpu")


def test_not_a_folder_or_hub_id(tmp_path):
    """A path that does not exist and is not a hub id lists the aliases."""
    with pytest.raises(FileNotFoundError, match="no model folder.*alias \\(demo, large, xlarge\\)"):
        resolve_model_folder(str(tmp_path / "nope" / "deeper"))
    file = tmp_path / "config.json"
    file.write_text("{}")
    with pytest.raises(ValueError, match="is a file"):
        resolve_model_folder(file)


def test_device_and_dtype_errors(checkpoint_factory):
    """Unavailable CUDA, fp16 on the CPU and unknown dtypes are clear errors."""
    folder, _ = checkpoint_factory("large")
    if not torch.cuda.is_available():
        with pytest.raises(RuntimeError, match="CUDA was requested"):
            load_model(folder, device="cuda")
    with pytest.raises(ValueError, match="float16 is for CUDA"):
        load_model(folder, device="cpu", dtype="float16")
    with pytest.raises(ValueError, match="dtype 'int8' is not supported"):
        load_model(folder, device="cpu", dtype="int8")


def test_save_pretrained_round_trips_and_transformers_reads_it(checkpoint_factory, tmp_path):
    """A model saved by save_pretrained reloads identically, and transformers loads it too."""
    transformers = pytest.importorskip("transformers")
    from model import save_pretrained

    folder, _ = checkpoint_factory("large")
    model = load_model(folder, device="cpu", dtype="float32")
    save_pretrained(model, tmp_path / "saved")
    again = load_model(tmp_path / "saved", device="cpu", dtype="float32")
    audio = torch.randn(1, 12_000)
    with torch.inference_mode():
        expected = model(audio)
        assert torch.allclose(again(audio), expected, atol=1e-5)
        ref = transformers.HubertForCTC.from_pretrained(tmp_path / "saved").eval()
        assert (ref(audio).logits - expected).abs().max().item() <= 1e-4


# ----- what the checkpoint decides: input normalization and frame sizes ---------------------------


@pytest.mark.parametrize("do_normalize", [False, True])
def test_do_normalize_is_honoured_offline_and_streaming(tmp_path, do_normalize):
    """preprocessor_config.json's do_normalize decides whether offline transcription and the
    streaming recognizer normalize the audio: offline ids equal transformers' on the audio its
    feature extractor would give it, and the recognizer's hop audio is raw samples when it is False."""
    transformers = pytest.importorskip("transformers")
    from model import transcribe
    from streamer.core.recognizer import Recognizer
    from training.checkpoints import STYLES, write_checkpoint

    ref = write_checkpoint(tmp_path / "ckpt", STYLES["large"], do_normalize=do_normalize)
    model = load_model(tmp_path / "ckpt", device="cpu", dtype="float32")  # compared at fp32 tolerances
    assert model.front.do_normalize is do_normalize
    audio = (0.4 + 0.05 * torch.randn(24_000, generator=torch.Generator().manual_seed(0))).numpy()  # DC offset
    logits = {}
    for flag in (False, True):
        extractor = transformers.Wav2Vec2FeatureExtractor(do_normalize=flag)
        inputs = extractor(audio, sampling_rate=16_000, return_tensors="pt").input_values
        with torch.inference_mode():
            logits[flag] = ref(inputs).logits[0]
    assert (logits[True] - logits[False]).abs().max() > 1e-2  # the choice is visible in the output
    with torch.inference_mode():
        ours = model(torch.from_numpy(model.front(audio))[None])[0]  # what transcribe() runs
    assert (ours - logits[do_normalize]).abs().max() <= 1e-4
    from model.decoding import GreedyDecoder

    assert transcribe(model, audio).text == GreedyDecoder(model.vocab).decode(logits[do_normalize]).text

    recognizer = Recognizer(model)
    recognizer.push(audio)
    hop = recognizer.next_hop().audio.numpy()
    raw = audio[: len(hop)]
    if do_normalize:
        assert abs(float(hop.mean())) < 0.1 < abs(float(raw.mean()))  # the 0.4 offset is gone
    else:
        assert (hop == raw).all()


def test_a_conv_stack_the_streamer_cannot_stream_is_refused(checkpoint_factory, tmp_path):
    """Conv strides that make 30 ms frames load and transcribe offline (word times in 30 ms
    steps), but a streaming recognizer refuses them by name instead of streaming wrong frame sizes."""
    from model import transcribe
    from streamer.core.recognizer import Recognizer

    folder = _copy(checkpoint_factory("large")[0], tmp_path)
    _edit_config(folder, conv_stride=[5, 2, 2, 2, 2, 2, 3])  # 480 samples per frame
    model = load_model(folder, device="cpu")
    assert model.config.frame_samples == 480
    transcribe(model, torch.randn(16_000).numpy() * 0.1)
    with pytest.raises(ValueError, match=r"480 samples \(30 ms\).*320-sample \(20 ms\) frames only"):
        Recognizer(model)
