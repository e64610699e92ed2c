"""The five RoPE variants of the seeds, each with the adapter signature of docs/contract.md §1::

    rope(x: (batch, seq, heads, head_dim), positions: (batch, seq) int64, config) -> like x

They compute as real code does: frequencies and angles in float32, arithmetic in float32
(float64 for float64 inputs), the result cast back to ``x.dtype`` on ``x.device``. Each
implements one pairing and ignores ``config.pairing`` (its spec file says which), honours
``config.base`` and ``config.rotary_dim``, and never writes into ``x``.

All five are equal to the oracle; the half-split one up to the fixed permutation ``P``
of ``ropecheck.proofs`` (interleaved dim 2i -> i, 2i+1 -> i + rotary_dim/2).
"""

from __future__ import annotations

import torch

from ropecheck.config import RopeConfig


def _compute_dtype(x: torch.Tensor) -> torch.dtype:
    return torch.float64 if x.dtype == torch.float64 else torch.float32


def float32_angles(positions: torch.Tensor, config: RopeConfig) -> torch.Tensor:
    """``m * inv_freq`` formed in float32, the way nearly every implementation does.

    Args:
        positions: (batch, seq) int64.
    Returns:
        float32 tensor (batch, seq, rotary_dim // 2) on ``positions.device``.
    """
    exponents = torch.arange(0, config.rotary_dim, 2, device=positions.device, dtype=torch.float32)
    inv_freq = 1.0 / (config.base ** (exponents / config.rotary_dim))
    return positions.to(torch.float32)[..., None] * inv_freq


def _split(x: torch.Tensor, config: RopeConfig) -> tuple[torch.Tensor, torch.Tensor]:
    """(rotated part (..., rotary_dim), pass-through part (..., head_dim - rotary_dim))."""
    return x[..., : config.rotary_dim], x[..., config.rotary_dim :]


def _finish(rotated: torch.Tensor, passthrough: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
    return torch.cat([rotated.to(like.dtype), passthrough], dim=-1)


DENSE_CHUNK_BYTES = 1 << 21
"""The most bytes of rotation matrices ``dense_matrix`` holds at once (2 MiB): the matrices of
a block of positions are built, applied and freed before the next block's. Built whole,
(batch, seq, rotary_dim, rotary_dim) matrices outgrow the input by ``rotary_dim / heads``
(256 MiB for one 4096-token sequence at rotary_dim 128), and zeroing freshly mapped pages
was most of the call; a block this size stays in the allocator's reused memory."""


def dense_matrix(x: torch.Tensor, positions: torch.Tensor, config: RopeConfig) -> torch.Tensor:
    """Block-diagonal R_m built per position and applied by matmul (interleaved pairs).

    R_m has shape (rotary_dim, rotary_dim) with 2x2 blocks [[cos, -sin], [sin, cos]] on its
    diagonal; R is built as (batch, block, rotary_dim, rotary_dim) for blocks of positions
    of at most ``DENSE_CHUNK_BYTES``, and y[b, s, h] = R[b, s] @ x[b, s, h].
    """
    rot, rest = _split(x, config)
    dtype = _compute_dtype(x)
    theta = float32_angles(positions, config).to(dtype)  # (b, s, half)
    cos, sin = torch.cos(theta), torch.sin(theta)
    batch, seq, half = theta.shape
    d = config.rotary_dim
    rot = rot.to(dtype)
    block = max(1, DENSE_CHUNK_BYTES // max(1, batch * d * d * rot.element_size()))
    outs = []
    for start in range(0, max(seq, 1), block):  # seq 0: one empty block
        c, s = cos[:, start : start + block], sin[:, start : start + block]
        R = torch.zeros(batch, c.shape[1], d, d, dtype=dtype, device=x.device)
        # R[b, s, 2i + u, 2i + v]: the 2x2 block of pair i, as a strided view (b, s, 2, 2, half)
        pair_blocks = R.view(batch, c.shape[1], half, 2, half, 2).diagonal(dim1=2, dim2=4)
        pair_blocks[..., 0, 0, :] = c
        pair_blocks[..., 0, 1, :] = -s
        pair_blocks[..., 1, 0, :] = s
        pair_blocks[..., 1, 1, :] = c
        outs.append(torch.einsum("bsij,bshj->bshi", R, rot[:, start : start + block]))
    out = outs[0] if len(outs) == 1 else torch.cat(outs, dim=1)
    return _finish(out, rest, x)


def rotate_every_two(x: torch.Tensor) -> torch.Tensor:
    """(x0, x1, x2, x3, ...) -> (-x1, x0, -x3, x2, ...): a quarter turn of every pair (2i, 2i+1)."""
    return torch.stack((-x[..., 1::2], x[..., 0::2]), dim=-1).flatten(-2)


def sparse_elementwise(x: torch.Tensor, positions: torch.Tensor, config: RopeConfig) -> torch.Tensor:
    """The efficient elementwise form ``x * cos + rotate_every_two(x) * sin`` (interleaved pairs).

    cos/sin are (cos m t0, cos m t0, cos m t1, cos m t1, ...) of shape (b, s, 1, rotary_dim).
    """
    rot, rest = _split(x, config)
    dtype = _compute_dtype(x)
    theta = float32_angles(positions, config).repeat_interleave(2, dim=-1)[:, :, None, :]
    cos, sin = torch.cos(theta).to(dtype), torch.sin(theta).to(dtype)
    rot = rot.to(dtype)
    return _finish(rot * cos + rotate_every_two(rot) * sin, rest, x)


def complex_polar(x: torch.Tensor, positions: torch.Tensor, config: RopeConfig) -> torch.Tensor:
    """Meta llama's form: pairs (2i, 2i+1) as complex numbers times ``polar(1, m t_i)``."""
    rot, rest = _split(x, config)
    dtype = _compute_dtype(x)
    theta = float32_angles(positions, config).to(dtype)[:, :, None, :]  # (b, s, 1, half)
    freqs_cis = torch.polar(torch.ones_like(theta), theta)
    pairs = torch.view_as_complex(rot.to(dtype).reshape(*rot.shape[:-1], -1, 2).contiguous())
    out = torch.view_as_real(pairs * freqs_cis).flatten(-2)
    return _finish(out, rest, x)


def interleaved(x: torch.Tensor, positions: torch.Tensor, config: RopeConfig) -> torch.Tensor:
    """Pairwise rotation of (x[2i], x[2i+1]) written out per pair (GPT-J, RoFormer)."""
    rot, rest = _split(x, config)
    dtype = _compute_dtype(x)
    theta = float32_angles(positions, config)[:, :, None, :]
    cos, sin = torch.cos(theta).to(dtype), torch.sin(theta).to(dtype)
    a, b = rot[..., 0::2].to(dtype), rot[..., 1::2].to(dtype)
    out = torch.stack((a * cos - b * sin, a * sin + b * cos), dim=-1).flatten(-2)
    return _finish(out, rest, x)


def rotate_half(x: torch.Tensor) -> torch.Tensor:
    """(x1, x2) -> (-x2, x1) for the two halves: a quarter turn of every pair (i, i + d/2)."""
    first, second = x.chunk(2, dim=-1)
    return torch.cat((-second, first), dim=-1)


def half_split(x: torch.Tensor, positions: torch.Tensor, config: RopeConfig) -> torch.Tensor:
    """GPT-NeoX / HF form ``x * cos + rotate_half(x) * sin``, pairs (i, i + rotary_dim/2)."""
    rot, rest = _split(x, config)
    dtype = _compute_dtype(x)
    theta = float32_angles(positions, config)
    emb = torch.cat((theta, theta), dim=-1)[:, :, None, :]
    cos, sin = torch.cos(emb).to(dtype), torch.sin(emb).to(dtype)
    rot = rot.to(dtype)
    return _finish(rot * cos + rotate_half(rot) * sin, rest, x)


VARIANTS = {
    "dense-matrix": (dense_matrix, "interleaved"),
    "sparse-elementwise": (sparse_elementwise, "interleaved"),
    "complex-polar": (complex_polar, "interleaved"),
    "interleaved": (interleaved, "interleaved"),
    "half-split": (half_split, "half_split"),
}
"""name -> (function, the pairing it implements)."""
