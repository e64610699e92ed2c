"""liger-kernel's fused Triton RoPE bent to docs/contract.md §4, ``signature = "qk"``::

    rope(q: (batch, seq, q_heads, head_dim), k: (batch, seq, kv_heads, head_dim),
         positions: (batch, seq) int64, config) -> (q_out, k_out)

One call of ``LigerRopeFunction`` (what ``liger_rotary_pos_emb`` dispatches to unless the
CuTe DSL backend is installed) rotates q and k together, kv_heads < q_heads included (GQA,
MQA), pairs ``(i, i + rotary_dim/2)`` of the first ``rotary_dim`` dims. Liger takes q and k
as HF holds them, (batch, heads, seq, head_dim) views, so the adapter passes transposes.

The table is not Liger's: Liger takes cos/sin from the caller (HF's ``cos, sin``), so the
adapter passes ropecheck's exact ``tables.duplicated`` (``cat(c, c)``, one row per batch row
so that per-row positions hold) rounded once to q's dtype, and ``rotary_dim``. What is
judged is the kernel (and its backward): Liger computes in the table's dtype.

Liger makes q and k contiguous in their physical (batch, seq, heads, head_dim) layout and
rotates that storage in place: separate contiguous q and k are overwritten (the spec says
``inplace = true``); views into a fused qkv buffer are copied first. Its backward rotates
the incoming gradient in place as well (docs/findings.md).

On CPU tensors the kernel runs under Triton's interpreter (``_kernels.import_for``).
``liger_kernel`` and triton are imported only when ``rope`` is called.
"""

from __future__ import annotations

import torch

from ropecheck import tables
from ropecheck.adapters import bundled
from ropecheck.adapters._kernels import import_for
from ropecheck.config import RopeConfig


@bundled("liger-kernel")
def rope(q: torch.Tensor, k: torch.Tensor, positions: torch.Tensor,
         config: RopeConfig) -> tuple[torch.Tensor, torch.Tensor]:
    """Liger's kernel on q and k; rotates the first ``config.rotary_dim`` dims.

    Args:
        q: (batch, seq, q_heads, head_dim); k: (batch, seq, kv_heads, head_dim), same dtype/device.
        positions: (batch, seq) int64.
    Returns:
        ``(q_out, k_out)`` in q's and k's shapes, as (batch, seq, heads, head_dim) views of
        Liger's outputs (q's and k's own storage when they were contiguous).
    """
    cos, sin = tables.duplicated(positions, config, q.dtype, q.device)  # (batch, seq, rotary_dim)
    function = import_for("liger_kernel.ops.rope", q.device).LigerRopeFunction
    q_out, k_out = function.apply(q.transpose(1, 2), k.transpose(1, 2), cos, sin, None, 1, config.rotary_dim)
    return q_out.transpose(1, 2), k_out.transpose(1, 2)
