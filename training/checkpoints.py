"""Small random HuBERT CTC checkpoints in the exact hub layout, written by transformers."""

from __future__ import annotations

import json
from pathlib import Path

import torch

from model.vocab import LIBRISPEECH_TOKENS

SMALL = dict(
    hidden_size=64,
    num_hidden_layers=2,
    num_attention_heads=4,
    intermediate_size=128,
    vocab_size=len(LIBRISPEECH_TOKENS),
    pad_token_id=0,
)
# base: group-norm feature encoder, post-LN encoder, no conv bias, even pos-conv kernel.
BASE_STYLE = dict(
    SMALL,
    conv_dim=(32, 32, 32, 32, 32, 32, 48),
    feat_extract_norm="group",
    do_stable_layer_norm=False,
    conv_bias=False,
    num_conv_pos_embeddings=16,
    num_conv_pos_embedding_groups=4,
)
# large: layer-norm feature encoder, stable pre-LN encoder, conv bias, odd pos-conv kernel.
LARGE_STYLE = dict(
    SMALL,
    conv_dim=(32, 32, 32, 32, 32, 32, 48),
    feat_extract_norm="layer",
    do_stable_layer_norm=True,
    conv_bias=True,
    num_conv_pos_embeddings=15,
    num_conv_pos_embedding_groups=4,
)
STYLES = {"base": BASE_STYLE, "large": LARGE_STYLE}


def reference_model(style: dict, seed: int = 0):
    """A transformers HubertForCTC with every weight, norm and bias moved off its initial value."""
    import transformers

    torch.manual_seed(seed)
    config = transformers.HubertConfig(**style)
    ref = transformers.HubertForCTC(config).eval()
    with torch.no_grad():
        for name, param in ref.named_parameters():
            scale = 0.5 if param.dim() == 1 or "original0" in name or "weight_g" in name else 0.05
            param.add_(torch.randn_like(param) * scale)
    return ref


def write_checkpoint(folder: Path, style: dict, weights: str = "safetensors", seed: int = 0, do_normalize=True):
    """Write config, vocab, tokenizer and preprocessor files plus weights; return the reference."""
    ref = reference_model(style, seed)
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    config = ref.config.to_dict()
    config["architectures"] = ["HubertForCTC"]
    (folder / "config.json").write_text(json.dumps(config, indent=2))
    (folder / "vocab.json").write_text(json.dumps({t: i for i, t in enumerate(LIBRISPEECH_TOKENS)}))
    (folder / "tokenizer_config.json").write_text(
        json.dumps({"pad_token": "<pad>", "word_delimiter_token": "|", "unk_token": "<unk>"})
    )
    (folder / "preprocessor_config.json").write_text(
        json.dumps({"feature_size": 1, "sampling_rate": 16000, "padding_value": 0.0, "do_normalize": do_normalize})
    )
    state = {k: v.detach().clone().contiguous() for k, v in ref.state_dict().items()}
    if weights == "safetensors":
        from safetensors.torch import save_file

        save_file(state, folder / "model.safetensors", metadata={"format": "pt"})
    elif weights == "bin":
        # The official checkpoints' old spelling of the positional conv's weight norm.
        renamed = {
            k.replace("parametrizations.weight.original0", "weight_g").replace(
                "parametrizations.weight.original1", "weight_v"
            ): v
            for k, v in state.items()
        }
        assert any(k.endswith("weight_g") for k in renamed)
        torch.save(renamed, folder / "pytorch_model.bin")
    else:
        raise ValueError(weights)
    return ref
