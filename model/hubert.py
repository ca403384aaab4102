"""HuBERT with a CTC head, in plain PyTorch.

The whole network lives in this file. Module names follow the Hugging Face
checkpoint keys (``hubert.encoder.layers.3.attention.q_proj.weight``...), so the
official weights load with ``load_state_dict(strict=True)`` after one small
rename (see ``model/loading.py``). Built for inference: no dropout, no masking
modules, weight norm folded into a plain weight. Still differentiable, so the
bundled demo model is trained with this very code.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, fields
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

__all__ = ["HubertConfig", "HubertForCTC"]

# Hub configs we understand. Anything else is refused by name rather than half-loaded.
SUPPORTED_ARCHITECTURES = ("HubertForCTC",)
SUPPORTED_ACTIVATION = "gelu"  # exact (erf) GELU, as transformers' "gelu"
CONV_NORM_EPS = 1e-5  # the feature encoder's norms use torch's default, not layer_norm_eps


@dataclass(frozen=True)
class HubertConfig:
    """Shape of a HuBERT CTC network, read from a hub ``config.json``."""

    conv_dim: tuple[int, ...] = (512,) * 7  # channels of each feature-encoder conv
    conv_stride: tuple[int, ...] = (5, 2, 2, 2, 2, 2, 2)  # product 320: one frame per 20 ms
    conv_kernel: tuple[int, ...] = (10, 3, 3, 3, 3, 2, 2)  # receptive field 400 samples
    conv_bias: bool = False  # base: no bias; large/xlarge: bias
    # "group": GroupNorm on conv 0 only, over the whole clip, so a frame depends on all audio;
    # "layer": LayerNorm after every conv, so a frame depends only on its own 400 samples.
    feat_extract_norm: str = "group"
    feat_proj_layer_norm: bool = True  # LayerNorm before the feature projection
    hidden_size: int = 768
    num_hidden_layers: int = 12
    num_attention_heads: int = 12
    intermediate_size: int = 3072  # feed-forward width
    layer_norm_eps: float = 1e-5
    do_stable_layer_norm: bool = False  # True: pre-LN encoder (large, xlarge); False: post-LN (base)
    num_conv_pos_embeddings: int = 128  # kernel of the positional conv, in frames
    num_conv_pos_embedding_groups: int = 16
    vocab_size: int = 32
    pad_token_id: int = 0  # the CTC blank

    def __post_init__(self) -> None:
        for name in ("conv_dim", "conv_stride", "conv_kernel"):
            object.__setattr__(self, name, tuple(int(v) for v in getattr(self, name)))
        if not len(self.conv_dim) == len(self.conv_stride) == len(self.conv_kernel):
            raise ValueError(
                "conv_dim, conv_stride and conv_kernel must have one entry per conv layer; got "
                f"{len(self.conv_dim)}, {len(self.conv_stride)} and {len(self.conv_kernel)}"
            )
        if self.feat_extract_norm not in ("group", "layer"):
            raise ValueError(f"feat_extract_norm must be 'group' or 'layer', not {self.feat_extract_norm!r}")
        if self.hidden_size % self.num_attention_heads:
            raise ValueError(
                f"hidden_size {self.hidden_size} is not divisible by num_attention_heads {self.num_attention_heads}"
            )
        if not 0 <= self.pad_token_id < self.vocab_size:
            raise ValueError(f"pad_token_id {self.pad_token_id} is outside the vocabulary of {self.vocab_size}")

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> HubertConfig:
        """Read a hub ``config.json`` dict, refusing what this implementation does not run."""
        problems = []
        architectures = raw.get("architectures") or []
        if architectures and not set(architectures) & set(SUPPORTED_ARCHITECTURES):
            supported = list(SUPPORTED_ARCHITECTURES)
            problems.append(f"architectures {architectures} (not a CTC model; supported: {supported})")
        if raw.get("model_type", "hubert") != "hubert":
            problems.append(f"model_type {raw['model_type']!r} (only 'hubert')")
        for key in ("feat_extract_activation", "hidden_act"):
            if raw.get(key, SUPPORTED_ACTIVATION) != SUPPORTED_ACTIVATION:
                problems.append(f"{key} {raw[key]!r} (only {SUPPORTED_ACTIVATION!r})")
        if raw.get("conv_pos_batch_norm", False):
            problems.append("conv_pos_batch_norm true (only the weight-norm positional conv)")
        if raw.get("adapter_attn_dim") is not None:
            problems.append("adapter_attn_dim (attention adapters)")
        if problems:
            raise ValueError("unsupported HuBERT config: " + "; ".join(problems))
        if "vocab_size" not in raw:
            raise ValueError("config.json has no vocab_size: is this a CTC fine-tuned checkpoint?")
        known = {f.name for f in fields(cls)}
        values = {k: v for k, v in raw.items() if k in known}
        if values.get("pad_token_id") is None:
            values.pop("pad_token_id", None)
        return cls(**values)

    def to_dict(self) -> dict[str, Any]:
        """A ``config.json`` that transformers' ``HubertForCTC`` loads as well."""
        out: dict[str, Any] = {"architectures": ["HubertForCTC"], "model_type": "hubert"}
        out.update({k: list(v) if isinstance(v, tuple) else v for k, v in asdict(self).items()})
        out.update(
            feat_extract_activation=SUPPORTED_ACTIVATION,
            hidden_act=SUPPORTED_ACTIVATION,
            num_feat_extract_layers=len(self.conv_dim),
            conv_pos_batch_norm=False,
            bos_token_id=1,
            eos_token_id=2,
            ctc_loss_reduction="mean",
        )
        return out

    @property
    def frame_samples(self) -> int:
        """Input samples per output frame (320 = 20 ms at 16 kHz)."""
        return math.prod(self.conv_stride)

    @property
    def receptive_field(self) -> int:
        """Input samples that one output frame sees (400 for the standard encoder)."""
        field = 1
        for kernel, stride in reversed(list(zip(self.conv_kernel, self.conv_stride))):
            field = (field - 1) * stride + kernel
        return field

    def num_frames(self, samples: int | torch.Tensor) -> int | torch.Tensor:
        """Output frames for ``samples`` input samples (0 when shorter than one frame)."""
        for kernel, stride in zip(self.conv_kernel, self.conv_stride):
            if isinstance(samples, torch.Tensor):
                samples = torch.div(samples - kernel, stride, rounding_mode="floor") + 1
                samples = samples.clamp(min=0)
            else:
                samples = max((samples - kernel) // stride + 1, 0)
        return samples


def _norm_in_fp32(norm: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """Run a norm in float32 when the model is fp16: its variance overflows in half precision."""
    if x.dtype != torch.float16:
        return norm(x)
    return F.layer_norm(x.float(), norm.normalized_shape, norm.weight.float(), norm.bias.float(), norm.eps).half()


class ConvLayer(nn.Module):
    """One feature-encoder layer: strided conv, optional norm, GELU, on ``[batch, time, channels]``."""

    def __init__(self, config: HubertConfig, index: int) -> None:
        super().__init__()
        c_in = config.conv_dim[index - 1] if index > 0 else 1
        c_out = config.conv_dim[index]
        self.conv = nn.Conv1d(c_in, c_out, config.conv_kernel[index], config.conv_stride[index], bias=config.conv_bias)
        self.norm = "layer" if config.feat_extract_norm == "layer" else ("group" if index == 0 else None)
        if self.norm == "layer":
            self.layer_norm = nn.LayerNorm(c_out, eps=CONV_NORM_EPS)
        elif self.norm == "group":
            # GroupNorm with one group per channel = normalize each channel over time.
            self.layer_norm = nn.GroupNorm(c_out, c_out, eps=CONV_NORM_EPS)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``[batch, time_in, c_in]`` -> ``[batch, time_out, c_out]``."""
        # Run the conv as a 2-D conv over channels-last memory ([batch, c, 1, time] viewed over
        # [batch, time, c]): oneDNN and cuDNN take it without copies, and the norm and GELU then
        # work on contiguous channels. On this CPU the conv stack runs 1.6x faster than the
        # channels-first conv1d + transposed LayerNorm that transformers does.
        nchw = x.transpose(1, 2).unsqueeze(2).contiguous(memory_format=torch.channels_last)  # a view
        weight = self.conv.weight.unsqueeze(2)  # [c_out, c_in, 1, kernel]
        y = F.conv2d(nchw, weight, self.conv.bias, stride=(1, self.conv.stride[0]))  # [batch, c_out, 1, time_out]
        y = y.squeeze(2).transpose(1, 2)  # [batch, time_out, c_out], contiguous in channels-last
        if self.norm == "layer":
            y = _norm_in_fp32(self.layer_norm, y)
        elif self.norm == "group":
            y = self._group_norm(y)
        return F.gelu(y)

    def _group_norm(self, y: torch.Tensor) -> torch.Tensor:
        """Per-channel normalization over time, in float32. ``y``: ``[batch, time, channels]``."""
        norm = self.layer_norm
        y32 = y.float()
        var, mean = torch.var_mean(y32, dim=1, unbiased=False, keepdim=True)
        y32 = (y32 - mean) * torch.rsqrt(var + norm.eps) * norm.weight.float() + norm.bias.float()
        return y32.to(y.dtype)


class FeatureEncoder(nn.Module):
    """The conv stack: raw audio -> one feature vector per 20 ms frame."""

    def __init__(self, config: HubertConfig) -> None:
        super().__init__()
        self.conv_layers = nn.ModuleList(ConvLayer(config, i) for i in range(len(config.conv_dim)))

    def forward(self, input_values: torch.Tensor) -> torch.Tensor:
        """``[batch, samples]`` -> ``[batch, frames, conv_dim[-1]]``."""
        x = input_values[:, :, None]  # [batch, samples, 1]
        for layer in self.conv_layers:
            x = layer(x)
        return x


class FeatureProjection(nn.Module):
    def __init__(self, config: HubertConfig) -> None:
        super().__init__()
        if config.feat_proj_layer_norm:
            self.layer_norm = nn.LayerNorm(config.conv_dim[-1], eps=config.layer_norm_eps)
        self.projection = nn.Linear(config.conv_dim[-1], config.hidden_size)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``[batch, frames, conv_dim[-1]]`` -> ``[batch, frames, hidden]``."""
        if hasattr(self, "layer_norm"):
            x = self.layer_norm(x)
        return self.projection(x)


class PositionalConvEmbedding(nn.Module):
    """Grouped conv over time that gives the encoder relative positions."""

    def __init__(self, config: HubertConfig) -> None:
        super().__init__()
        kernel = config.num_conv_pos_embeddings
        self.conv = nn.Conv1d(
            config.hidden_size,
            config.hidden_size,
            kernel,
            padding=kernel // 2,
            groups=config.num_conv_pos_embedding_groups,
        )  # weight norm is folded into `weight` at load time
        self.drop_last = kernel % 2 == 0  # an even kernel with padding k//2 yields one extra frame

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``[batch, frames, hidden]`` -> ``[batch, frames, hidden]``."""
        y = self.conv(x.transpose(1, 2))  # [batch, hidden, frames (+1)]
        if self.drop_last:
            y = y[:, :, :-1]
        return F.gelu(y).transpose(1, 2)

    def tail(self, x: torch.Tensor, new: int) -> torch.Tensor:
        """What ``forward`` gives for the last ``new`` frames only: ``[batch, frames, hidden]`` -> ``[batch, new, hidden]``."""
        frames = x.shape[1]
        if new == frames:
            return self(x)
        kernel, pad = self.conv.kernel_size[0], self.conv.padding[0]
        padded = F.pad(x.transpose(1, 2), (pad, pad))  # [batch, hidden, pad + frames + pad]
        first = frames - new  # output frame p reads padded[p : p + kernel], for odd and even kernels alike
        y = F.conv1d(
            padded[:, :, first : first + new + kernel - 1], self.conv.weight, self.conv.bias, groups=self.conv.groups
        )  # [batch, hidden, new]
        return F.gelu(y).transpose(1, 2)


class Attention(nn.Module):
    def __init__(self, config: HubertConfig) -> None:
        super().__init__()
        hidden = config.hidden_size
        self.num_heads = config.num_attention_heads
        self.q_proj = nn.Linear(hidden, hidden)
        self.k_proj = nn.Linear(hidden, hidden)
        self.v_proj = nn.Linear(hidden, hidden)
        self.out_proj = nn.Linear(hidden, hidden)

    def forward(self, x: torch.Tensor, key_mask: torch.Tensor | None) -> torch.Tensor:
        """``x``: ``[batch, frames, hidden]``; ``key_mask``: ``[batch, 1, 1, frames]``, True = attend."""
        batch, frames, hidden = x.shape
        heads = (batch, frames, self.num_heads, hidden // self.num_heads)
        q = self.q_proj(x).view(heads).transpose(1, 2)  # [batch, heads, frames, head_dim]
        k = self.k_proj(x).view(heads).transpose(1, 2)
        v = self.v_proj(x).view(heads).transpose(1, 2)
        y = F.scaled_dot_product_attention(q, k, v, attn_mask=key_mask)
        return self.out_proj(y.transpose(1, 2).reshape(batch, frames, hidden))

    def step(
        self, x: torch.Tensor, past: torch.Tensor, key_mask: torch.Tensor | None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Queries of the new frames only; keys and values of the earlier frames and the new ones.

        ``x``: ``[batch, new, hidden]``, the newest frames of the window; ``past``: this layer's
        ``[batch, 2, heads, frames - new, head_dim]``, keys and values of the window's earlier frames
        from earlier hops. Returns the new frames' output ``[batch, new, hidden]`` and their keys and
        values ``[batch, 2, heads, new, head_dim]``. Nothing passed in is written to, so a compiled
        step can replay as a CUDA graph.
        """
        batch, new, hidden = x.shape
        heads = (batch, new, self.num_heads, hidden // self.num_heads)
        q = self.q_proj(x).view(heads).transpose(1, 2)  # [batch, heads, new, head_dim]
        fresh = torch.stack([self.k_proj(x).view(heads).transpose(1, 2), self.v_proj(x).view(heads).transpose(1, 2)], 1)
        kv = torch.cat([past, fresh], 3)  # [batch, 2, heads, frames, head_dim]
        y = F.scaled_dot_product_attention(q, kv[:, 0], kv[:, 1], attn_mask=key_mask)  # [batch, heads, new, head_dim]
        return self.out_proj(y.transpose(1, 2).reshape(batch, new, hidden)), fresh


class FeedForward(nn.Module):
    def __init__(self, config: HubertConfig) -> None:
        super().__init__()
        self.intermediate_dense = nn.Linear(config.hidden_size, config.intermediate_size)
        self.output_dense = nn.Linear(config.intermediate_size, config.hidden_size)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.output_dense(F.gelu(self.intermediate_dense(x)))


class EncoderLayer(nn.Module):
    """A transformer block; pre-LN when ``do_stable_layer_norm`` (large, xlarge), else post-LN (base)."""

    def __init__(self, config: HubertConfig) -> None:
        super().__init__()
        self.pre_ln = config.do_stable_layer_norm
        self.attention = Attention(config)
        self.layer_norm = nn.LayerNorm(config.hidden_size, eps=config.layer_norm_eps)
        self.feed_forward = FeedForward(config)
        self.final_layer_norm = nn.LayerNorm(config.hidden_size, eps=config.layer_norm_eps)

    def forward(self, x: torch.Tensor, key_mask: torch.Tensor | None) -> torch.Tensor:
        """``[batch, frames, hidden]`` -> ``[batch, frames, hidden]``."""
        if self.pre_ln:
            x = x + self.attention(self.layer_norm(x), key_mask)
            return x + self.feed_forward(self.final_layer_norm(x))
        x = self.layer_norm(x + self.attention(x, key_mask))
        return self.final_layer_norm(x + self.feed_forward(x))

    def step(
        self, x: torch.Tensor, past: torch.Tensor, key_mask: torch.Tensor | None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """``forward`` for the newest frames ``[batch, new, hidden]`` of a window, and their keys and
        values; see ``Attention.step``."""
        if self.pre_ln:
            attended, fresh = self.attention.step(self.layer_norm(x), past, key_mask)
            x = x + attended
            return x + self.feed_forward(self.final_layer_norm(x)), fresh
        attended, fresh = self.attention.step(x, past, key_mask)
        x = self.layer_norm(x + attended)
        return self.final_layer_norm(x + self.feed_forward(x)), fresh


class Encoder(nn.Module):
    def __init__(self, config: HubertConfig) -> None:
        super().__init__()
        self.pre_ln = config.do_stable_layer_norm
        self.pos_conv_embed = PositionalConvEmbedding(config)
        self.layer_norm = nn.LayerNorm(config.hidden_size, eps=config.layer_norm_eps)
        self.layers = nn.ModuleList(EncoderLayer(config) for _ in range(config.num_hidden_layers))

    def forward(self, x: torch.Tensor, frame_mask: torch.Tensor | None = None) -> torch.Tensor:
        """``x``: ``[batch, frames, hidden]``; ``frame_mask``: ``[batch, frames]``, True = real frame."""
        key_mask = None
        if frame_mask is not None:
            x = x * frame_mask[:, :, None].to(x.dtype)  # padding must read as zeros to the pos conv
            key_mask = frame_mask[:, None, None, :]  # [batch, 1, 1, frames]
        x = x + self.pos_conv_embed(x)
        if not self.pre_ln:
            x = self.layer_norm(x)
        for layer in self.layers:
            x = layer(x, key_mask)
        if self.pre_ln:
            x = self.layer_norm(x)
        return x

    def step(
        self, x: torch.Tensor, new: int, past: torch.Tensor, key_mask: torch.Tensor | None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """The last ``new`` frames of ``forward``, their attention reading the earlier frames' keys/values.

        ``x``: ``[batch, frames, hidden]``, the whole window (masked), which the positional conv
        reads; ``past``: ``[batch, layers, 2, heads, frames - new, head_dim]``. Returns
        ``[batch, new, hidden]`` and the new frames' keys/values ``[batch, layers, 2, heads, new, head_dim]``.
        """
        h = x[:, -new:] + self.pos_conv_embed.tail(x, new)
        if not self.pre_ln:
            h = self.layer_norm(h)
        fresh = []
        for index, layer in enumerate(self.layers):
            h, layer_fresh = layer.step(h, past[:, index], key_mask)
            fresh.append(layer_fresh)
        if self.pre_ln:
            h = self.layer_norm(h)
        return h, torch.stack(fresh, 1)


class HubertModel(nn.Module):
    def __init__(self, config: HubertConfig) -> None:
        super().__init__()
        self.feature_extractor = FeatureEncoder(config)
        self.feature_projection = FeatureProjection(config)
        self.encoder = Encoder(config)


class HubertForCTC(nn.Module):
    """HuBERT + linear CTC head. ``forward`` matches transformers' ``HubertForCTC`` logits.

    ``load_model`` attaches the checkpoint's vocabulary (``.vocab``), audio front (``.front``),
    decoder (``.decoder``) and the ``name`` it was loaded from.
    """

    def __init__(self, config: HubertConfig) -> None:
        super().__init__()
        self.config = config
        self.hubert = HubertModel(config)
        self.lm_head = nn.Linear(config.hidden_size, config.vocab_size)
        self.vocab = None
        self.front = None
        self.decoder = None  # a model.decoding.Decoder, set by load_model
        self.name = "unnamed"
        self.init_weights()

    @property
    def device(self) -> torch.device:
        return self.lm_head.weight.device

    @property
    def dtype(self) -> torch.dtype:
        return self.lm_head.weight.dtype

    @property
    def streamable(self) -> bool:
        """True when every frame's conv features depend only on its own samples (layer norm)."""
        return self.config.feat_extract_norm == "layer"

    def extract_features(self, input_values: torch.Tensor) -> torch.Tensor:
        """Conv features: ``[batch, samples]`` -> ``[batch, frames, conv_dim[-1]]``."""
        return self.hubert.feature_extractor(input_values.to(self.dtype))

    def forward_features(self, features: torch.Tensor, frame_mask: torch.Tensor | None = None) -> torch.Tensor:
        """Conv features ``[batch, frames, conv_dim[-1]]`` -> logits ``[batch, frames, vocab]``."""
        x = self.hubert.feature_projection(features)
        x = self.hubert.encoder(x, frame_mask)
        return self.lm_head(x)

    def forward_window(self, features: torch.Tensor, frame_mask: torch.Tensor | None = None) -> torch.Tensor:
        """One streaming window without a cache: ``forward_features`` under the name ``compile_model``
        compiles. Every window of one ``StreamingConfig`` has one shape, while the final pass and the
        flush decode stretches of any length through ``forward_features``, which stays eager."""
        return self.forward_features(features, frame_mask)

    def new_kv_cache(self, batch: int, frames: int) -> torch.Tensor:
        """Room for keys and values of ``frames`` frames: ``[batch, layers, 2, heads, frames, head_dim]``
        (``frames=0``: the empty past of a window computed whole)."""
        c = self.config
        shape = (batch, c.num_hidden_layers, 2, c.num_attention_heads, frames, c.hidden_size // c.num_attention_heads)
        return torch.empty(shape, device=self.device, dtype=self.dtype)

    def forward_step(
        self, features: torch.Tensor, new: int, past: torch.Tensor, frame_mask: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """One streaming window with left-context key/value caching: logits of its newest frames only.

        ``features``: the window's conv features ``[batch, frames, conv_dim[-1]]``; ``past``: per layer
        the keys and values of the window's first ``frames - new`` frames, kept from earlier hops
        (``[batch, layers, 2, heads, frames - new, head_dim]``; 0 frames when ``new == frames``).
        Only the new frames get queries and run through the layers, so the older frames' keys and
        values are what an earlier window computed for them (an approximation of the full-context
        model, like Emformer's memory). When they come from this very window (or ``new == frames``)
        the logits are ``forward_features``' last ``new`` frames. ``frame_mask``: ``[batch, frames]``,
        True = real frame. Returns the logits ``[batch, new, vocab]`` and the new frames' keys and
        values ``[batch, layers, 2, heads, new, head_dim]``, for the caller to keep for later hops.
        Nothing passed in is written to.
        """
        x = self.hubert.feature_projection(features)
        key_mask = None
        if frame_mask is not None:
            x = x * frame_mask[:, :, None].to(x.dtype)
            key_mask = frame_mask[:, None, None, :]  # [batch, 1, 1, frames]
        h, fresh = self.hubert.encoder.step(x, new, past, key_mask)
        return self.lm_head(h), fresh

    def forward(self, input_values: torch.Tensor, attention_mask: torch.Tensor | None = None) -> torch.Tensor:
        """Logits ``[batch, frames, vocab]`` for normalized audio ``[batch, samples]``.

        ``attention_mask`` (``[batch, samples]``, 1 = real sample) marks padding, as in
        transformers. Give it only to layer-norm models; see ``transcribe``.
        """
        features = self.extract_features(input_values)
        frame_mask = None
        if attention_mask is not None:
            lengths = self.config.num_frames(attention_mask.sum(-1))
            frame_mask = torch.arange(features.shape[1], device=features.device) < lengths[:, None]
        return self.forward_features(features, frame_mask)

    def transcribe(self, audio, batch_size: int = 8):
        """Offline greedy transcription of 16 kHz float audio; see ``model.transcribe``."""
        from model.transcribe import transcribe

        return transcribe(self, audio, batch_size=batch_size)

    @torch.no_grad()
    def init_weights(self) -> None:
        """Fresh weights for training from scratch (the scheme transformers uses)."""
        for module in self.modules():
            if isinstance(module, nn.Linear):
                nn.init.normal_(module.weight, std=0.02)
                nn.init.zeros_(module.bias)
            elif isinstance(module, nn.Conv1d):
                nn.init.kaiming_normal_(module.weight)
                if module.bias is not None:
                    nn.init.zeros_(module.bias)
            elif isinstance(module, (nn.LayerNorm, nn.GroupNorm)):
                nn.init.ones_(module.weight)
                nn.init.zeros_(module.bias)
        pos = self.hubert.encoder.pos_conv_embed.conv
        fan_in = pos.kernel_size[0] * pos.in_channels // pos.groups
        nn.init.normal_(pos.weight, std=math.sqrt(4.0 / fan_in))
