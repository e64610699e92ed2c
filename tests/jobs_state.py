"""A correct half-split RoPE whose module state a host process may change (tests/unit/engine/test_jobs.py):
with ``ANGLE_SIGN = -1.0`` it rotates the wrong way. Freshly imported, it is correct."""

import torch

ANGLE_SIGN = 1.0


def rope(x: torch.Tensor, positions: torch.Tensor, config) -> torch.Tensor:
    """(batch, seq, heads, head_dim) x, (batch, seq) positions -> rotated x (same shape and dtype)."""
    rot = config.rotary_dim
    inv_freq = config.base ** (-torch.arange(0, rot, 2, dtype=torch.float64) / rot)
    angles = ANGLE_SIGN * positions.to(torch.float64)[..., None] * inv_freq  # (batch, seq, rot/2)
    cos, sin = angles.cos()[:, :, None, :], angles.sin()[:, :, None, :]
    xf = x.to(torch.float64)
    first, second, rest = xf[..., : rot // 2], xf[..., rot // 2: rot], xf[..., rot:]
    out = torch.cat([first * cos - second * sin, second * cos + first * sin, rest], dim=-1)
    return out.to(x.dtype)
