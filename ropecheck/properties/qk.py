"""q and k together (docs/contract.md §4): qk_independence (neither output depends on the other
operand) and fused_buffer (q and k as views into one qkv buffer)."""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from hypothesis import strategies as st

from ropecheck.properties._base import PropertyFailed, Subject, register
from ropecheck.properties._calls import call, judge_or_blame, keep, same_bits
from ropecheck.properties._cases import cases, serving_prefill
from ropecheck.properties.memory import LAYOUTS, strided_view
from ropecheck.spec import Spec
from ropecheck.strategies import CaseSetup, RopeCase, standard_normal


def _needs_qk(spec: Spec) -> str | None:
    return None if spec.signature == "qk" else 'the spec has signature = "x" (one tensor, no q and k)'


# ---------------------------------------------------------------- qk_independence


@register("q_out does not depend on k's values, nor k_out on q's (bit for bit)",
          lambda spec: cases(spec, fused=False), _needs_qk)
def qk_independence(subject: Subject, case: RopeCase) -> None:
    """q_out does not change (bit for bit) when only k's values change, nor k_out when only
    q's. q ``(…, heads, head_dim)``, k ``(…, kv_heads, head_dim)``, separate tensors."""
    inputs = case.inputs(subject.device, fused=False)
    q, k = keep(inputs)
    base = [y.detach().cpu() for y in call(subject, case, inputs.replace(operands=(q.clone(), k.clone())))]
    drawn = standard_normal(case.seed + 7, (tuple(q.shape), tuple(k.shape)))
    other = tuple(t.to(x.dtype, copy=True).to(x.device) for t, x in zip(drawn, (q, k)))
    for changed, kept, (a, b) in ((1, 0, (q.clone(), other[1])), (0, 1, (other[0], k.clone()))):
        outs = [y.detach().cpu() for y in call(subject, case, inputs.replace(operands=(a, b)))]
        if not same_bits(outs[kept], base[kept]):
            differ = int((outs[kept] != base[kept]).sum())
            names = ("q", "k")
            raise PropertyFailed(f"{names[kept]}_out changes when only {names[changed]}'s values change "
                                 f"({differ} elements): q and k are cross-wired", case)
    return None


# ---------------------------------------------------------------- fused_buffer


@dataclass(frozen=True)
class BufferLayout(CaseSetup):
    """How the fused qkv buffer is laid out: ``"contiguous"``, or one of
    ``memory.LAYOUTS`` but the last."""

    layout: str = field(metadata={"label": "buffer layout"})


@st.composite
def _fused_cases(draw, spec: Spec):
    case = draw(cases(spec, fused=True), label="case")
    layout = draw(st.sampled_from(("contiguous",) + LAYOUTS[:-1]), label="buffer layout")
    return replace(case, setup=BufferLayout(layout))


def _serving_fused(spec: Spec) -> list[RopeCase]:
    """The prefill with q and k as views into one qkv buffer (q/k specs)."""
    case = serving_prefill(spec) if spec.signature == "qk" else None
    return [] if case is None else [replace(case, fused=True, setup=BufferLayout("contiguous"))]


@register("q and k as views into one fused qkv buffer give the oracle's result; v is not written",
          _fused_cases, _needs_qk, weight=2, serving=_serving_fused)
def fused_buffer(subject: Subject, case: RopeCase) -> float:
    """q and k as views into one (…, q_heads + 2 kv_heads, head_dim) buffer, in a memory
    layout of section 1: each output equals the oracle on its own input, and nothing
    outside q and k (v included) is written (nor q and k unless inplace)."""
    inputs = case.inputs(subject.device, fused=True)
    layout = case.setup.layout
    buffer = inputs.buffer if layout == "contiguous" else strided_view(inputs.buffer.clone(), layout)
    q_end, k_end = case.heads, case.heads + case.kv_heads
    views = (buffer[..., :q_end, :], buffer[..., q_end:k_end, :])
    kept = tuple(v.detach().clone() for v in views)
    v_before = buffer[..., k_end:, :].clone()
    before = buffer.clone()
    outs = call(subject, case, inputs.replace(operands=views, buffer=buffer, v=buffer[..., k_end:, :]))
    if not same_bits(buffer[..., k_end:, :], v_before):
        raise PropertyFailed(f"writes into v, the part of the fused qkv buffer after q and k ({layout} buffer, "
                             f"strides {buffer.stride()})", case)
    if not subject.spec.inplace and not same_bits(buffer, before):
        raise PropertyFailed(f"writes into the fused qkv buffer ({layout}) but the spec does not say inplace = true",
                             case)
    return judge_or_blame(
        subject, case, outs, kept, inputs.positions, fused=False,
        blame=(f"gives a wrong result when q and k are views into one fused qkv buffer ({layout}, strides "
               f"q {views[0].stride()}, k {views[1].stride()}) but the right one for separate tensors: k is addressed "
               "with q's strides, or assumed contiguous"),
        not_it="disagrees with the oracle for separate q and k too (not a fused-buffer problem)")
