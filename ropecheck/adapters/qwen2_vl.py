"""HF transformers' Qwen2-VL M-RoPE (multimodal rotary) bent to the multi-axis contract::

    rope(x: (batch, seq, heads, head_dim), positions: (batch, seq, 3) int64, config) -> like x

``config.scaling["mrope_section"]`` (pairs per axis t, h, w; summing to head_dim / 2)
becomes the model's ``rope_parameters["mrope_section"]``; ``Qwen2VLRotaryEmbedding``
forms cos/sin per axis and recomposes them by section, and ``apply_rotary_pos_emb``
rotates with ``rotate_half``. HF takes ``position_ids`` as (3, batch, seq); ropecheck
passes (batch, seq, 3), so the adapter moves the axis. Qwen2-VL rotates the whole head.
``transformers`` is imported only when the adapter is called.
"""

from __future__ import annotations

import functools
import importlib

import torch

from ropecheck.adapters import bundled
from ropecheck.config import RopeConfig


@functools.lru_cache(maxsize=16)
def _rotary(base: float, head_dim: int, section: tuple[int, ...], device: torch.device) -> torch.nn.Module:
    """A ``Qwen2VLRotaryEmbedding`` (rope_type default: no state changes in forward)."""
    config_module = importlib.import_module("transformers.models.qwen2_vl.configuration_qwen2_vl")
    hf_config = config_module.Qwen2VLTextConfig(
        hidden_size=head_dim, num_attention_heads=1, num_key_value_heads=1,
        rope_parameters={"rope_type": "default", "rope_theta": base, "mrope_section": list(section)})
    return _modeling().Qwen2VLRotaryEmbedding(hf_config).to(device)


def _modeling():
    return importlib.import_module("transformers.models.qwen2_vl.modeling_qwen2_vl")


@bundled("transformers")
def mrope(x: torch.Tensor, positions: torch.Tensor, config: RopeConfig) -> torch.Tensor:
    """HF Qwen2-VL text attention's rotary embedding.

    Args:
        x: (batch, seq, heads, head_dim); transposed to HF's (batch, heads, seq, head_dim).
        positions: (batch, seq, 3) int64: temporal, height and width positions.
        config: ``scaling["mrope_section"]`` with three sections; rotary_dim == head_dim.
    Returns:
        (batch, seq, heads, head_dim) in x's dtype, on x's device.
    """
    section = tuple((config.scaling or {}).get("mrope_section", ()))
    if len(section) != 3:
        raise ValueError(f"Qwen2-VL's M-RoPE has three axes (t, h, w); mrope_section {section!r}")
    if config.rotary_dim != x.shape[-1]:
        raise ValueError(f"Qwen2-VL rotates the whole head: rotary_dim {config.rotary_dim} != head_dim {x.shape[-1]}")
    rotary = _rotary(float(config.base), x.shape[-1], section, x.device)
    cos, sin = rotary(x, positions.permute(2, 0, 1))  # (batch, seq, head_dim) each, x.dtype
    q = x.transpose(1, 2)
    q_embed, _ = _modeling().apply_rotary_pos_emb(q, q, cos, sin)
    return q_embed.transpose(1, 2)
