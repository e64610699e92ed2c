"""norm_preservation: a rotation keeps the norm of every rotated pair."""

from __future__ import annotations

import torch

from ropecheck import oracle, tolerance
from ropecheck.properties._base import PropertyFailed, Subject, register
from ropecheck.properties._calls import call, keep
from ropecheck.properties._cases import cases
from ropecheck.strategies import RopeCase, batched


@register("every rotated pair keeps its norm", cases)
def norm_preservation(subject: Subject, case: RopeCase) -> float:
    """| ||y[p]|| - af ||x[p]|| | within ``tolerance.norm_allowance`` for every pair p of
    every token and head (af: the attention factor, 1 unless YaRN or LongRoPE scale the
    output). x, y: ``(batch, seq, heads, head_dim)`` (packed: ``(total_tokens, ...)``)."""
    inputs = case.inputs(subject.device)
    kept = keep(inputs)
    outs = call(subject, case, inputs)
    first, second = oracle.pair_indices(case.config)
    af = case.config.attention_factor  # YaRN / LongRoPE scale every pair by it
    worst = 0.0
    for name, y, x in zip(case.operand_names, outs, kept):
        out, x64 = y.detach().to("cpu", torch.float64), x.to("cpu", torch.float64)
        gap = (torch.hypot(out[..., first], out[..., second]) - af * torch.hypot(x64[..., first], x64[..., second])).abs()
        allowed = tolerance.norm_allowance(x, y.dtype, case.config)
        result = tolerance.worst(batched(gap, case.packed), batched(allowed, case.packed), first)
        if not result.ok:
            raise PropertyFailed("changes the norm of a rotated pair (a rotation preserves it"
                                 + (f"; the attention factor {af:.6g} scales it)" if af != 1 else ")")
                                 + (f" ({name}_out)" if case.qk else ""), case, result.describe(), result.worst_ratio)
        worst = max(worst, result.worst_ratio)
    return worst
