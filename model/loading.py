"""Find, download, check and load HuBERT CTC checkpoints in the Hugging Face layout."""

from __future__ import annotations

import json
import logging
import os
import re
import tempfile
from collections.abc import Sequence
from pathlib import Path

import torch

from model.audio import AudioFront
from model.device import compile_model, compile_requested, resolve_device, resolve_dtype
from model.hubert import HubertConfig, HubertForCTC
from model.decoding import Hotword, build_decoder
from model.lm import LM_FOLDER, LanguageModel, find_language_model, load_language_model
from model.vocab import Vocabulary

__all__ = ["ALIASES", "DEMO_MODEL_DIR", "convert_state_dict", "load_model", "resolve_model_folder", "save_pretrained"]

log = logging.getLogger(__name__)

DEMO_MODEL_DIR = Path(__file__).parent / "demo"  # bundled as package data
DEFAULT_MODEL = "facebook/hubert-large-ls960-ft"
ALIASES: dict[str, str | Path] = {
    "demo": DEMO_MODEL_DIR,
    "large": DEFAULT_MODEL,
    "xlarge": "facebook/hubert-xlarge-ls960-ft",
}
REQUIRED_FILES = ("config.json", "vocab.json", "preprocessor_config.json")
OPTIONAL_FILES = ("tokenizer_config.json",)
WEIGHT_FILES = ("model.safetensors", "pytorch_model.bin")  # in order of preference
HUB_PROBE_SECONDS = 5.0  # how long the hub may take to answer before only the local cache is tried
HUB_ID = re.compile(r"^[A-Za-z0-9][\w.-]*/[\w.-]+$")

IGNORED_KEYS = frozenset({"hubert.masked_spec_embed"})  # pre-training mask vector, unused by CTC
POS_CONV = "hubert.encoder.pos_conv_embed.conv"
# Both spellings of the positional conv's weight norm: torch.nn.utils.weight_norm (old
# checkpoints, e.g. the official pytorch_model.bin) and nn.utils.parametrizations.weight_norm.
WEIGHT_NORM_KEYS = {
    f"{POS_CONV}.weight_g": "g",
    f"{POS_CONV}.weight_v": "v",
    f"{POS_CONV}.parametrizations.weight.original0": "g",
    f"{POS_CONV}.parametrizations.weight.original1": "v",
}
MAX_KEYS_IN_MESSAGE = 8


def convert_state_dict(
    raw: dict[str, torch.Tensor], expected: dict[str, torch.Size]
) -> dict[str, torch.Tensor]:
    """Map checkpoint keys to this implementation's and check them.

    Folds the positional conv's weight norm into one ``weight``, drops known-unused
    keys, and raises ``ValueError`` naming every missing or unexpected key and every
    shape mismatch.
    """
    state = {k: v for k, v in raw.items() if k not in IGNORED_KEYS and k not in WEIGHT_NORM_KEYS}
    parts = {WEIGHT_NORM_KEYS[k]: v for k, v in raw.items() if k in WEIGHT_NORM_KEYS}
    if parts:
        if set(parts) != {"g", "v"}:
            raise ValueError(f"checkpoint has half of the positional conv's weight norm: {sorted(parts)}")
        g, v = parts["g"].float(), parts["v"].float()
        # weight_norm(dim=2): one norm per kernel tap, over output and input channels.
        state[f"{POS_CONV}.weight"] = v * (g / v.norm(dim=(0, 1), keepdim=True))
    problems = []
    missing = sorted(set(expected) - set(state))
    unexpected = sorted(set(state) - set(expected))
    wrong = [
        f"{k} {tuple(state[k].shape)} (expected {tuple(expected[k])})"
        for k in sorted(set(state) & set(expected))
        if state[k].shape != expected[k]
    ]
    for label, keys in (("missing keys", missing), ("unexpected keys", unexpected), ("shape mismatches", wrong)):
        if keys:
            more = f" and {len(keys) - MAX_KEYS_IN_MESSAGE} more" if len(keys) > MAX_KEYS_IN_MESSAGE else ""
            problems.append(f"{label}: {', '.join(keys[:MAX_KEYS_IN_MESSAGE])}{more}")
    if problems:
        raise ValueError("checkpoint does not match its config.json: " + "; ".join(problems))
    return state


def resolve_model_folder(name_or_path: str | os.PathLike, revision: str | None = None) -> Path:
    """Turn an alias, a local folder or a hub id into a local folder, downloading if needed."""
    name = str(name_or_path)
    target = ALIASES.get(name, name)
    if isinstance(target, Path):
        if not (target / "config.json").is_file():
            raise FileNotFoundError(
                f"the {name!r} model is not bundled in this install ({target} is missing); "
                "reinstall hubert-stream or give a folder or hub id"
            )
        return target
    path = Path(target).expanduser()
    if path.is_dir():
        return path
    if path.exists():
        raise ValueError(f"{path} is a file; give the folder that holds config.json and the weights")
    if not HUB_ID.match(target):
        raise FileNotFoundError(
            f"no model folder {name!r}, and it is not a hub id (org/name) or an alias ({', '.join(ALIASES)})"
        )
    return _download(target, revision)


def _download(repo_id: str, revision: str | None) -> Path:
    """Fetch only the files a CTC checkpoint needs; the hub cache is reused."""
    from huggingface_hub import constants, hf_hub_download, snapshot_download
    from huggingface_hub.errors import (
        EntryNotFoundError,
        HfHubHTTPError,
        LocalEntryNotFoundError,
        OfflineModeIsEnabled,
        RepositoryNotFoundError,
        RevisionNotFoundError,
    )

    offline = constants.HF_HUB_OFFLINE or os.environ.get("HF_HUB_OFFLINE", "").upper() in ("1", "ON", "YES", "TRUE")
    # huggingface_hub retries an unreachable hub for about 30 s (printing each retry) before giving up
    # on a file that is not cached. One quick request first: unreachable, the cache is all there is.
    silent = None if offline else _hub_silence(constants.ENDPOINT)
    cache_only = offline or silent is not None

    def fetch(filename: str) -> Path:
        return Path(hf_hub_download(repo_id, filename, revision=revision, local_files_only=cache_only))

    if offline:
        why = "HF_HUB_OFFLINE is set"
    elif silent is not None:
        why = f"the hub at {constants.ENDPOINT} did not answer: {silent}"
    else:
        why = "no connection"
    unreachable = (
        f"cannot download {repo_id!r} from the Hugging Face Hub ({why}) and it is not in the local cache "
        f"({constants.HF_HUB_CACHE}). Run `hf download {repo_id}` on a connected machine and copy the cache here "
        "(HF_HUB_OFFLINE=1 then loads it without trying the network), "
        "pass a local folder with config.json, vocab.json, preprocessor_config.json and the weights, "
        "or use --model demo for the bundled demo model"
    )
    try:
        folder = fetch("config.json").parent
        for filename in REQUIRED_FILES[1:]:
            fetch(filename)
        for filename in OPTIONAL_FILES:
            try:
                fetch(filename)
            except EntryNotFoundError:
                pass
        weights_errors = []
        for filename in WEIGHT_FILES:
            try:
                fetch(filename)
                break
            except EntryNotFoundError as e:
                weights_errors.append(e)
        else:
            if any(isinstance(e, LocalEntryNotFoundError) for e in weights_errors):
                raise RuntimeError(unreachable) from weights_errors[-1]
            raise RuntimeError(f"{repo_id!r} on the hub has neither {' nor '.join(WEIGHT_FILES)}")
        # A Wav2Vec2ProcessorWithLM repository keeps its KenLM model in language_model/ beside the
        # checkpoint; fetched with it (nothing when the repository has none), it is found as a local one is.
        snapshot_download(repo_id, revision=revision, allow_patterns=[f"{LM_FOLDER}/*"], local_files_only=cache_only)
    except RepositoryNotFoundError as e:
        raise RuntimeError(
            f"{repo_id!r} is not a model on the Hugging Face Hub (or it is private: log in with `hf auth login`)"
        ) from e
    except RevisionNotFoundError as e:
        raise RuntimeError(f"{repo_id!r} has no revision {revision!r}") from e
    except (LocalEntryNotFoundError, OfflineModeIsEnabled) as e:
        raise RuntimeError(unreachable) from e
    except EntryNotFoundError as e:
        raise RuntimeError(f"{repo_id!r} is not a HuBERT CTC checkpoint: {e}") from e
    except HfHubHTTPError as e:
        raise RuntimeError(f"downloading {repo_id!r} failed: {e}") from e
    return folder


def _hub_silence(endpoint: str) -> str | None:
    """Why ``endpoint`` gave no answer to one request without retries, or None when it answered at all."""
    from huggingface_hub.utils import get_session

    try:
        get_session().head(endpoint, timeout=HUB_PROBE_SECONDS)  # any HTTP status means it is there
    except Exception as e:  # noqa: BLE001 - requests' or httpx's transport errors, by huggingface_hub version
        return " ".join(str(e).split()) or type(e).__name__
    return None


def _read_weights(folder: Path) -> dict[str, torch.Tensor]:
    for filename in WEIGHT_FILES:
        path = folder / filename
        if not path.is_file():
            continue
        if filename.endswith(".safetensors"):
            from safetensors.torch import load_file

            return load_file(path)
        return torch.load(path, map_location="cpu", weights_only=True)
    raise FileNotFoundError(f"{folder} has no weights: expected {' or '.join(WEIGHT_FILES)}")


def load_model(
    name_or_path: str | os.PathLike = DEFAULT_MODEL,
    device: str | torch.device | None = None,
    dtype: str | torch.dtype | None = None,
    revision: str | None = None,
    lm: str | os.PathLike | LanguageModel | None = "auto",
    lm_weight: float | None = None,
    word_score: float | None = None,
    hotwords: Sequence[Hotword] = (),
) -> HubertForCTC:
    """Load a HuBERT CTC checkpoint, ready for inference.

    Args:
        name_or_path: an alias (``demo``, ``large``, ``xlarge``), a local folder in the
            hub layout, or a hub id such as ``facebook/hubert-large-ls960-ft``.
        device: ``"cpu"``, ``"cuda"``, ``"auto"``/None (CUDA when available).
        dtype: ``"float32"``, ``"bfloat16"``, ``"float16"`` or None for the device's default.
        revision: a hub branch, tag or commit.
        lm: a KenLM word model for beam search (a ``LanguageModel``, or what
            ``model.lm.load_language_model`` takes: ``demo``, a file or a ``language_model/`` folder); ``"auto"`` takes the checkpoint's own
            ``language_model/`` folder when it has one (logged); None decodes without an LM.
        lm_weight, word_score: the LM's weights (default: the LM folder's ``attrs.json``).
        hotwords: phrases every decode looks for (``model.hotwords.Hotword``), put where the acoustics allow them.

    Returns:
        The model in eval mode with ``.vocab``, ``.front``, ``.decoder`` (greedy CTC, or a beam search
        when there is an LM or hotwords; replace it to decode with another ``model.decoding.Decoder``),
        ``.lm`` (the ``LanguageModel`` or None) and ``.name`` attached.
    """
    device = resolve_device(device)
    dtype = resolve_dtype(dtype, device)
    folder = resolve_model_folder(name_or_path, revision)
    missing = [f for f in REQUIRED_FILES if not (folder / f).is_file()]
    if missing:
        raise FileNotFoundError(f"{folder} is not a HuBERT CTC checkpoint: missing {', '.join(missing)}")
    config = HubertConfig.from_dict(json.loads((folder / "config.json").read_text(encoding="utf-8")))
    vocab = Vocabulary.from_files(folder / "vocab.json", folder / "tokenizer_config.json")
    if len(vocab) > config.vocab_size:
        raise ValueError(f"{folder}: vocab.json has {len(vocab)} tokens but the model outputs {config.vocab_size}")
    if vocab.blank_id != config.pad_token_id:
        raise ValueError(
            f"{folder}: the pad token is id {vocab.blank_id} in vocab.json but {config.pad_token_id} in config.json"
        )
    front = AudioFront.from_file(folder / "preprocessor_config.json")
    if lm == "auto":
        lm = find_language_model(folder)
        if lm is not None:
            log.info("found the language model %s beside the checkpoint (--no-lm decodes without it)", lm)
    language_model = lm if isinstance(lm, LanguageModel) or lm is None else load_language_model(lm, lm_weight, word_score)
    decoder = build_decoder(vocab, language_model, hotwords)

    with torch.device("meta"):  # no time spent on random weights that are overwritten next
        model = HubertForCTC(config)
    expected = {k: v.shape for k, v in model.state_dict().items()}
    state = convert_state_dict(_read_weights(folder), expected)
    model.load_state_dict(state, strict=True, assign=True)
    model = model.to(device=device, dtype=dtype).eval().requires_grad_(False)
    model.vocab, model.front, model.name = vocab, front, str(name_or_path)
    model.decoder, model.lm = decoder, language_model
    if language_model is not None:
        log.info("decoding with the language model %s", language_model.describe())
    log.info("loaded %s from %s on %s as %s", name_or_path, folder, device, dtype)
    if compile_requested():
        compile_model(model)
    return model


def save_pretrained(model: HubertForCTC, folder: str | os.PathLike, dtype: torch.dtype = torch.float32) -> Path:
    """Write ``model`` in the hub layout that ``load_model`` and transformers both read.

    ``dtype`` is the storage precision of ``model.safetensors`` (fp16 halves a demo model's size).
    """
    from safetensors.torch import save_file

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".saving-", dir=folder))  # readers never see half a checkpoint
    (staging / "config.json").write_text(json.dumps(model.config.to_dict(), indent=2) + "\n", encoding="utf-8")
    (model.vocab or Vocabulary.librispeech()).save(staging)
    (model.front or AudioFront()).save(staging)
    state = {k: v.detach().float().contiguous().cpu() for k, v in model.state_dict().items()}
    weight = state.pop(f"{POS_CONV}.weight")
    norm = weight.norm(dim=(0, 1), keepdim=True)  # weight = g * v / |v| with v = weight
    state[f"{POS_CONV}.weight_g"] = norm
    state[f"{POS_CONV}.weight_v"] = weight
    state = {k: v.to(dtype) for k, v in state.items()}
    save_file(state, staging / "model.safetensors", metadata={"format": "pt"})
    for file in staging.iterdir():
        os.chmod(file, 0o644)
        os.replace(file, folder / file.name)
    staging.rmdir()
    return folder
