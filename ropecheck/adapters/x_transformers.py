"""x-transformers' rotary embedding bent to docs/contract.md §1::

    rope(x: (batch, seq, heads, head_dim), positions: (batch, seq) int64, config) -> like x

``x_transformers.x_transformers.RotaryEmbedding(dim=rotary_dim, base=base)`` (defaults
kept: ``interpolation_factor = 1``, ``base_rescale_factor = 1``, no xpos) maps
positions of shape (batch, seq) to angles (batch, seq, rotary_dim) in float32, each
angle twice (f0, f0, f1, f1, ...): its ``rotate_half`` is the interleaved one, so pairs
are ``(2i, 2i+1)``, not GPT-NeoX's halves. ``apply_rotary_pos_emb(t, freqs, scale)``
wants t as (batch, heads, seq, head_dim) and rotates only its first ``rotary_dim`` dims
(partial rotary, "Wang et al. GPT-J"). ``x_transformers`` is imported only inside the
function.
"""

from __future__ import annotations

import functools

import torch

from ropecheck.adapters import bundled
from ropecheck.config import RopeConfig


@functools.lru_cache(maxsize=32)
def _rotary(base: float, rotary_dim: int, device: str):
    """A ``RotaryEmbedding``; stateless after construction (only ``inv_freq``), so shared."""
    from x_transformers.x_transformers import RotaryEmbedding

    return RotaryEmbedding(rotary_dim, base=base).to(device)


@bundled("x-transformers")
def rope(x: torch.Tensor, positions: torch.Tensor, config: RopeConfig) -> torch.Tensor:
    """``apply_rotary_pos_emb(x as (b, h, s, d), *rotary(positions))``, back to (b, s, h, d)."""
    from x_transformers.x_transformers import apply_rotary_pos_emb

    rotary = _rotary(float(config.base), config.rotary_dim, str(x.device))
    freqs, scale = rotary(positions)  # (batch, seq, rotary_dim), 1.0 without xpos
    return apply_rotary_pos_emb(x.transpose(1, 2), freqs, scale).transpose(1, 2)
