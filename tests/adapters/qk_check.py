"""Fixed-case checks for adapters in docs/contract.md §4's forms: q and k together, packed batches.

- ``make_qk``: q (batch, seq, q_heads, d) and k (batch, seq, kv_heads, d) as separate
  tensors, as views into one fused (batch, seq, q_heads + 2 kv_heads, d) buffer (q, k, v), or
  as transposed views stored (batch, heads, seq, d), HF's layout.
- ``check_qk``: each output against the oracle applied to its own input
  (``tolerance.compare``), shapes and dtypes, v untouched in a fused buffer; returns what
  it saw (whether q and k were written) for the test to assert.
- ``packed_batch``: ``cu_seqlens`` and consecutive positions from lengths and offsets;
  packed tensors are judged as ``y[None]`` against ``positions[None]``.
"""

from dataclasses import dataclass

import torch

from ropecheck import RopeConfig, tolerance


@dataclass
class QK:
    q: torch.Tensor
    k: torch.Tensor
    fused: torch.Tensor | None  # the (batch, seq, q_heads + 2 kv_heads, d) buffer, if any


def make_qk(shape, q_heads, kv_heads, head_dim, dtype=torch.float32, layout="separate", seed=0) -> QK:
    """q and k with leading ``shape`` ((batch, seq), or (total_tokens,) packed)."""
    gen = torch.Generator().manual_seed(seed)
    heads = q_heads + 2 * kv_heads
    if layout == "fused":
        buf = torch.randn(*shape, heads, head_dim, generator=gen).to(dtype)
        return QK(buf[..., :q_heads, :], buf[..., q_heads:q_heads + kv_heads, :], buf)
    q = torch.randn(*shape, q_heads, head_dim, generator=gen).to(dtype)
    k = torch.randn(*shape, kv_heads, head_dim, generator=gen).to(dtype)
    if layout == "transposed":  # same values, stored (batch, heads, seq, d)
        q, k = (t.transpose(1, 2).contiguous().transpose(1, 2) for t in (q, k))
    else:
        assert layout == "separate", layout
    return QK(q, k, None)


@dataclass
class Seen:
    q_written: bool
    k_written: bool
    q_ratio: float
    k_ratio: float


def check_qk(fn, config: RopeConfig, positions, qk: QK, packed_cu=None) -> Seen:
    """Run ``fn(q, k, positions, config[, cu_seqlens=...])`` and assert it against the oracle."""
    q0, k0 = qk.q.clone(), qk.k.clone()
    fused0 = qk.fused.clone() if qk.fused is not None else None
    kwargs = {} if packed_cu is None else {"cu_seqlens": packed_cu}
    q_out, k_out = fn(qk.q, qk.k, positions, config, **kwargs)
    for out, inp in ((q_out, q0), (k_out, k0)):
        assert (out.shape, out.dtype, out.device) == (inp.shape, inp.dtype, inp.device)
    lead = (lambda t: t[None]) if packed_cu is not None else (lambda t: t)
    ratios = []
    for name, out, inp in (("q", q_out, q0), ("k", k_out, k0)):
        result = tolerance.compare(lead(out), lead(inp), lead(positions), config)
        assert result.ok, f"{name}_out disagrees with the oracle: {result.describe()}"
        ratios.append(result.worst_ratio)
    if fused0 is not None:
        q_heads, kv_heads = q0.shape[-2], k0.shape[-2]
        v = slice(q_heads + kv_heads, None)
        assert torch.equal(qk.fused[..., v, :], fused0[..., v, :]), "v in the fused buffer changed"
    return Seen(not torch.equal(qk.q, q0), not torch.equal(qk.k, k0), *ratios)


def packed_batch(lengths, offsets):
    """``(cu_seqlens int32 (n+1,), positions int64 (total,))``: sequence i is
    ``offsets[i], offsets[i] + 1, ...`` of ``lengths[i]`` tokens."""
    cu = torch.tensor([0, *torch.tensor(lengths, dtype=torch.int64).cumsum(0).tolist()], dtype=torch.int32)
    parts = [torch.arange(n, dtype=torch.int64) + o for n, o in zip(lengths, offsets)]
    return cu, torch.cat(parts) if parts else torch.zeros(0, dtype=torch.int64)
