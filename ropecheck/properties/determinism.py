"""determinism: the same call twice gives the same bits."""

from __future__ import annotations

from ropecheck.properties._base import PropertyFailed, Subject, register
from ropecheck.properties._calls import call, keep, same_bits
from ropecheck.properties._cases import cases
from ropecheck.strategies import RopeCase


@register("the same call twice gives the same bits", cases)
def determinism(subject: Subject, case: RopeCase) -> None:
    """Two calls on equal copies of the operands return bitwise equal outputs (NaNs
    included), each ``(batch, seq, heads, head_dim)`` (packed: ``(total_tokens, ...)``)."""
    inputs = case.inputs(subject.device)
    first = [y.detach().cpu() for y in call(subject, case, inputs.replace(operands=keep(inputs)))]
    second = [y.detach().cpu() for y in call(subject, case, inputs.replace(operands=keep(inputs)))]
    for name, y1, y2 in zip(case.operand_names, first, second):
        if not same_bits(y1, y2):
            differ = int((y1 != y2).sum() - (y1.isnan() & y2.isnan()).sum())
            label = f" of {name}_out" if case.qk else ""
            raise PropertyFailed(f"two identical calls give different bits ({differ} elements{label} differ)", case)
    return None
