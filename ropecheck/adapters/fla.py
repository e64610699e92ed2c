"""fla-core's Triton rotary kernel (``fla.modules.rotary``) on packed batches, docs/contract.md §4::

    rope(x: (total_tokens, heads, head_dim), positions: (total_tokens,) int64, config,
         *, cu_seqlens: (num_seqs + 1,) int32) -> like x                      (packed = true)
    rope(q, k, positions, config, *, cu_seqlens) -> (q_out, k_out)           (and signature = "qk")

flash-linear-attention's ``rotary_embedding(x, cos, sin, interleaved, inplace, seqlen_offsets,
cu_seqlens)`` rotates a packed batch in one launch: x is ``(1, total_tokens, heads, head_dim)``,
sequence n spans ``cu_seqlens[n] .. cu_seqlens[n+1]`` and token t of it is at position
``seqlen_offsets[n] + t``, looked up in a position-indexed ``cos``/``sin`` cache
``(rows, rotary_dim/2)``. So the specs claim ``positions = "consecutive"`` and the adapter
reads the offsets as ``positions[cu_seqlens[:-1]]`` (``_kernels.sequence_offsets``).

- ``packed_half_split`` / ``packed_interleaved``: ``rotary_embedding`` with ropecheck's exact
  ``tables.per_position`` cache, rounded once to x's dtype (fla requires the cache in x's
  dtype): the kernel is judged, not a table. Pairs ``(i, i + rotary_dim/2)`` or ``(2i, 2i+1)``
  of the first ``rotary_dim`` dims; the rest is copied.
- ``qk_packed``: fla's ``RotaryEmbedding(dim=rotary_dim, base=config.base)`` module on q and
  k (kv_heads may be fewer), ``forward(q, k, seqlen_offset=offsets, cu_seqlens=...,
  max_seqlen=rows)``. Here the module builds its own table (float32 positions times its
  float32 ``inv_freq``, cos/sin cast to q's dtype) as part of the path that is judged.

fla computes in float32 (its kernel casts loads to float32), so no spec claims float64.
On CPU tensors the kernel runs under Triton's interpreter (``_kernels``), where its
autotuner keeps one config. ``fla`` (and triton) are imported only when an adapter is called.
"""

from __future__ import annotations

import torch

from ropecheck import tables
from ropecheck.adapters import bundled
from ropecheck.adapters._kernels import import_for, one_config_under_interpreter, sequence_offsets, table_rows
from ropecheck.config import RopeConfig


def _rotary(device: torch.device):
    """``fla.modules.rotary.ops`` imported for ``device``, its kernel runnable there."""
    ops = import_for("fla.modules.rotary.ops", device)
    one_config_under_interpreter(ops.rotary_embedding_kernel)
    return ops


def _packed(x: torch.Tensor, positions: torch.Tensor, config: RopeConfig, cu_seqlens: torch.Tensor,
            interleaved: bool) -> torch.Tensor:
    cos, sin = tables.per_position(config, table_rows(positions), x.dtype, x.device)  # (rows, rotary_dim/2)
    y = _rotary(x.device).rotary_embedding(x[None], cos, sin, interleaved=interleaved,
                                           seqlen_offsets=sequence_offsets(positions, cu_seqlens),
                                           cu_seqlens=cu_seqlens)
    return y[0]


@bundled("fla-core")
def packed_half_split(x: torch.Tensor, positions: torch.Tensor, config: RopeConfig, *,
                      cu_seqlens: torch.Tensor) -> torch.Tensor:
    """``rotary_embedding(..., interleaved=False)``: pairs ``(i, i + rotary_dim/2)``.

    Args:
        x: (total_tokens, heads, head_dim).
        positions: (total_tokens,) int64, consecutive within each sequence.
        cu_seqlens: int32 (num_seqs + 1,), cumulative sequence lengths from 0.
    Returns:
        (total_tokens, heads, head_dim) in x's dtype, a new tensor.
    """
    return _packed(x, positions, config, cu_seqlens, interleaved=False)


@bundled("fla-core")
def packed_interleaved(x: torch.Tensor, positions: torch.Tensor, config: RopeConfig, *,
                       cu_seqlens: torch.Tensor) -> torch.Tensor:
    """``rotary_embedding(..., interleaved=True)``: pairs ``(2i, 2i+1)``. Shapes as ``packed_half_split``."""
    return _packed(x, positions, config, cu_seqlens, interleaved=True)


@bundled("fla-core")
def qk_packed(q: torch.Tensor, k: torch.Tensor, positions: torch.Tensor, config: RopeConfig, *,
              cu_seqlens: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """fla's ``RotaryEmbedding`` module on packed q and k, its own cos/sin cache (half_split).

    A fresh module per call (its cache is state that only grows), as a model builds it:
    ``RotaryEmbedding(dim=rotary_dim, base=base)``.

    Args:
        q: (total_tokens, q_heads, head_dim); k: (total_tokens, kv_heads, head_dim).
        positions: (total_tokens,) int64, consecutive within each sequence.
        cu_seqlens: int32 (num_seqs + 1,).
    Returns:
        ``(q_out, k_out)`` in q's and k's shapes and dtype.
    """
    ops = _rotary(q.device)
    module = ops.RotaryEmbedding(dim=config.rotary_dim, base=config.base, device=q.device)
    q_out, k_out = module(q[None], k[None], seqlen_offset=sequence_offsets(positions, cu_seqlens),
                          cu_seqlens=cu_seqlens, max_seqlen=table_rows(positions))
    return q_out[0], k_out[0]
