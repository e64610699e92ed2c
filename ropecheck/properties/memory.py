"""The memory contract: memory_layout (non-contiguous inputs), output_contract (the
output's dtype and device) and input_not_modified (no writes into the arguments)."""

from __future__ import annotations

from dataclasses import dataclass, replace

import torch
from hypothesis import strategies as st

from ropecheck.properties._base import PropertyFailed, Subject, register
from ropecheck.properties._calls import call, judge_or_blame, keep, same_bits
from ropecheck.properties._cases import cases
from ropecheck.spec import Spec
from ropecheck.strategies import CaseSetup, RopeCase

# ---------------------------------------------------------------- memory_layout

LAYOUTS = ("transposed", "sliced_heads", "padded_head_dim", "sliced_batch_seq", "strided_last_dim")
LOUD_REFUSAL_OK = ("strided_last_dim",)
"""Layouts an implementation may refuse with an exception (a stride-2 last dim defeats
``view_as_complex``, as in Meta's code); a silently wrong result is still a failure."""


@dataclass(frozen=True)
class Layout(CaseSetup):
    """The non-contiguous layout the operands are passed in: one of ``LAYOUTS``."""

    layout: str


@st.composite
def _layout_cases(draw, spec: Spec):
    case = draw(cases(spec, fused=False), label="case")
    layout = draw(st.sampled_from(LAYOUTS), label="layout")
    return replace(case, setup=Layout(layout))


def strided_view(x: torch.Tensor, layout: str) -> torch.Tensor:
    """The same values as ``x`` (…tokens, heads, head_dim) in a non-contiguous layout.

    transposed: heads stored before the last token dim, as (batch, heads, seq, head_dim);
    sliced_heads: every other head of a tensor with twice the heads (fused qkv);
    padded_head_dim: the first head_dim of a wider last dim; sliced_batch_seq: every other
    entry of every token dim of a larger tensor; strided_last_dim: every other element of
    a last dim twice as wide (stride 2).
    """
    *tokens, h, d = x.shape
    if layout == "transposed":
        return x.transpose(-3, -2).contiguous().transpose(-3, -2)
    every = (slice(None),) * len(tokens)
    shape, index = {
        "sliced_heads": ((*tokens, 2 * h, d), every + (slice(1, None, 2),)),
        "padded_head_dim": ((*tokens, h, d + 8), (Ellipsis, slice(0, d))),
        "sliced_batch_seq": ((*(2 * t for t in tokens), h, d), (slice(None, None, 2),) * len(tokens)),
        "strided_last_dim": ((*tokens, h, 2 * d), (Ellipsis, slice(None, None, 2))),
    }[layout]
    big = torch.full(shape, float("nan"), dtype=x.dtype, device=x.device)
    big[index] = x
    return big[index]


def strided_positions(positions: torch.Tensor, packed: bool = False) -> torch.Tensor:
    """The same positions as every other token of a wider int64 tensor ((batch, seq[, axes]),
    or (total_tokens[, axes]) when packed)."""
    dim = 0 if packed else 1
    shape = list(positions.shape)
    shape[dim] *= 2
    big = torch.full(shape, -1, dtype=positions.dtype, device=positions.device)
    index = (slice(None),) * dim + (slice(None, None, 2),)
    big[index] = positions
    return big[index]


@register("transposed and sliced views give the same result as contiguous inputs", _layout_cases, weight=2)
def memory_layout(subject: Subject, case: RopeCase) -> float | None:
    """Non-contiguous x, or q and k (and positions) give the oracle's result, and the views
    are not written. Operands ``(batch, seq, heads, head_dim)`` (packed: ``(total_tokens,
    heads, head_dim)``) as views of ``strided_view``, positions of ``strided_positions``."""
    inputs = case.inputs(subject.device)
    kept = keep(inputs)
    layout = case.setup.layout
    views = tuple(strided_view(x.clone(), layout) for x in inputs.operands)
    view_inputs = inputs.replace(operands=views, positions=strided_positions(inputs.positions, case.packed))
    before = tuple(v.clone() for v in views)
    try:
        outs = call(subject, case, view_inputs)
    except PropertyFailed:
        if layout in LOUD_REFUSAL_OK:
            return None
        raise
    if not subject.spec.inplace and not all(same_bits(v, b) for v, b in zip(views, before)):
        raise PropertyFailed(f"writes into a non-contiguous input ({layout}, strides {views[0].stride()}) "
                             "but the spec does not say inplace = true", case)
    return judge_or_blame(
        subject, case, outs, kept, inputs.positions,
        blame=(f"gives a wrong result for a non-contiguous input ({layout}, strides {views[0].stride()}; "
               f"positions strides {view_inputs.positions.stride()}) but the right one for the same values contiguous"),
        not_it="disagrees with the oracle for contiguous input too (not a layout problem)")


# ---------------------------------------------------------------- output_contract


@register("returns a tensor of the input's shape, dtype and device", cases)
def output_contract(subject: Subject, case: RopeCase) -> None:
    """Each output has its input's dtype and device (its shape is checked by ``call``)."""
    inputs = case.inputs(subject.device)
    outs = call(subject, case, inputs)
    for name, y, x in zip(case.operand_names, outs, inputs.operands):
        label = f"{name}_out " if case.qk else ""
        if y.dtype != x.dtype:
            raise PropertyFailed(f"returns {label}dtype {y.dtype} for input dtype {x.dtype}", case)
        if y.device != x.device:
            raise PropertyFailed(f"returns {label}a tensor on {y.device} for input on {x.device}", case)
    return None


# ---------------------------------------------------------------- input_not_modified


def _not_inplace(spec: Spec) -> str | None:
    return "the spec says inplace = true" if spec.inplace else None


@register("does not write into x or positions", cases, _not_inplace)
def input_not_modified(subject: Subject, case: RopeCase) -> None:
    """After the call every operand, the positions and cu_seqlens hold the same bits."""
    inputs = case.inputs(subject.device)
    before = [t.clone() for t in (*inputs.operands, inputs.positions)]
    cu_before = None if inputs.cu_seqlens is None else inputs.cu_seqlens.clone()
    call(subject, case, inputs)
    for name, x, x_before in zip(case.operand_names, inputs.operands, before):
        if not same_bits(x, x_before):
            changed = int((x != x_before).sum())
            raise PropertyFailed(f"writes into its input {name} ({changed} elements changed) but the spec does not "
                                 "say inplace = true", case)
    if not torch.equal(inputs.positions, before[-1]):
        raise PropertyFailed("writes into its positions argument", case)
    if cu_before is not None and not torch.equal(inputs.cu_seqlens, cu_before):
        raise PropertyFailed("writes into its cu_seqlens argument", case)
    return None
