"""MLX's fused ``mx.fast.rope`` bent to docs/contract.md §1::

    rope(x: (batch, seq, heads, head_dim), positions: (batch, seq) int64, config) -> like x

``mx.fast.rope(a, dims, traditional=..., base=..., scale=1.0, offset=...)`` rotates
``a`` of shape (B, *, T, D) along its second-to-last axis: token t of example b sits at
position ``offset[b] + t`` (``offset`` a scalar or one per example). ``traditional=True``
pairs dims ``(2i, 2i+1)``, ``False`` pairs ``(i, i + dims/2)``; dims at and above
``dims`` pass through. Arbitrary per-row positions are therefore covered honestly:

- every row consecutive (``p0, p0+1, ...``): one call on (batch, heads, seq, head_dim)
  with one offset per row;
- otherwise: one call per run of consecutive positions of a row, offset = its first.

Tensors go torch -> numpy -> mx and back on the CPU (bfloat16 through float32, which is
exact both ways); MLX runs on its CPU device here. The result is not connected to torch's
autograd. ``mlx`` is imported only inside the functions.
"""

from __future__ import annotations

import torch

from ropecheck.adapters import bundled
from ropecheck.config import RopeConfig


def _to_mx(x: torch.Tensor):
    """torch tensor (any layout, device) -> mx.array of the same dtype, on the host."""
    import mlx.core as mx

    host = x.detach().cpu()
    if x.dtype == torch.bfloat16:  # numpy has no bfloat16
        host = host.float()
    # mx.array would turn float64 into float32 unless told the dtype
    return mx.array(host.numpy(), dtype=getattr(mx, str(x.dtype).removeprefix("torch.")))


def _to_torch(a, like: torch.Tensor) -> torch.Tensor:
    """mx.array -> torch tensor with ``like``'s dtype and device."""
    import mlx.core as mx
    import numpy as np

    if a.dtype == mx.bfloat16:
        a = a.astype(mx.float32)
    return torch.from_numpy(np.array(a)).to(device=like.device, dtype=like.dtype)


def _runs(row: list[int]) -> list[tuple[int, int]]:
    """[start, stop) index ranges of ``row`` over which positions go up by one."""
    cuts = [i for i in range(1, len(row)) if row[i] != row[i - 1] + 1]
    bounds = [0, *cuts, len(row)]
    return list(zip(bounds[:-1], bounds[1:]))


def _fast_rope(x: torch.Tensor, positions: torch.Tensor, config: RopeConfig, traditional: bool) -> torch.Tensor:
    """``mx.fast.rope`` on x viewed as (batch, heads, seq, head_dim), returned as x's layout."""
    import mlx.core as mx

    a = _to_mx(x.transpose(1, 2))  # (batch, heads, seq, head_dim): MLX rotates axis -2
    kwargs = dict(traditional=traditional, base=float(config.base), scale=1.0)
    rows = positions.tolist()
    if all(_runs(row) == [(0, len(row))] for row in rows):
        offsets = mx.array([row[0] for row in rows], dtype=mx.int32)
        out = mx.fast.rope(a, config.rotary_dim, offset=offsets, **kwargs)
    else:
        out = mx.concatenate([
            mx.concatenate([mx.fast.rope(a[b : b + 1, :, i:j], config.rotary_dim, offset=row[i], **kwargs)
                            for i, j in _runs(row)], axis=2)
            for b, row in enumerate(rows)], axis=0)
    return _to_torch(out, x).transpose(1, 2)


@bundled("mlx")
def traditional(x: torch.Tensor, positions: torch.Tensor, config: RopeConfig) -> torch.Tensor:
    """``mx.fast.rope(..., traditional=True)``: pairs (2i, 2i+1)."""
    return _fast_rope(x, positions, config, traditional=True)


@bundled("mlx")
def half_split(x: torch.Tensor, positions: torch.Tensor, config: RopeConfig) -> torch.Tensor:
    """``mx.fast.rope(..., traditional=False)``: pairs (i, i + rotary_dim/2)."""
    return _fast_rope(x, positions, config, traditional=False)
