"""liger-kernel's fused Triton RoPE (``liger_rotary_pos_emb``) bent to CONTRACT §1::

    rope(x: (batch, seq, heads, head_dim), positions: (batch, seq) int64, config) -> like x

cos/sin are formed as HF Llama forms them (float32 angles, ``cat(freqs, freqs)``, cast to
x's dtype), one row per batch row so that per-row positions hold, and passed to Liger
with ``rotary_dim`` (pairs ``(i, i + rotary_dim/2)``). Liger rotates q and k together: a
one-head k rides along and is dropped. Liger works on (batch, heads, seq, head_dim) views
and makes them contiguous in their physical (batch, seq, heads, head_dim) layout, so for a
contiguous x it rotates x's own storage in place: the spec says ``inplace = true``.

``liger_kernel`` (and triton) are imported only when ``rope`` is called; CUDA only.
"""

from __future__ import annotations

import functools

import torch

from ropecheck.adapters import bundled
from ropecheck.config import RopeConfig


@functools.lru_cache(maxsize=None)
def _liger():
    from liger_kernel.transformers.rope import liger_rotary_pos_emb

    return liger_rotary_pos_emb


def cos_sin(positions: torch.Tensor, config: RopeConfig, dtype: torch.dtype) -> tuple[torch.Tensor, torch.Tensor]:
    """HF-style tables: (batch, seq, rotary_dim) cos and sin in ``dtype``."""
    exponents = torch.arange(0, config.rotary_dim, 2, device=positions.device, dtype=torch.float32)
    inv_freq = 1.0 / (config.base ** (exponents / config.rotary_dim))
    freqs = positions.float()[..., None] * inv_freq
    emb = torch.cat((freqs, freqs), dim=-1)
    return emb.cos().to(dtype), emb.sin().to(dtype)


@bundled("liger-kernel")
def rope(x: torch.Tensor, positions: torch.Tensor, config: RopeConfig) -> torch.Tensor:
    """Liger's kernel on x (batch, seq, heads, head_dim); rotates the first rotary_dim dims."""
    cos, sin = cos_sin(positions, config, x.dtype)
    q = x.transpose(1, 2)  # (batch, heads, seq, head_dim) view, as HF attention holds q
    k = torch.zeros(x.shape[0], 1, x.shape[1], x.shape[3], dtype=x.dtype, device=x.device)
    q_out, _ = _liger()(q, k, cos, sin, rotary_dim=config.rotary_dim)
    return q_out.transpose(1, 2)
