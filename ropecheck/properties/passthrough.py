"""passthrough_untouched: dims at and above rotary_dim come back bit for bit."""

from __future__ import annotations

from ropecheck.properties._base import PropertyFailed, Subject, register
from ropecheck.properties._calls import call, keep
from ropecheck.properties._cases import cases
from ropecheck.spec import Spec
from ropecheck.strategies import RopeCase


def _needs_partial(spec: Spec) -> str | None:
    return None if spec.partial_rotary else "the spec does not claim partial_rotary"


def _partial_cases(spec: Spec):
    """Cases with rotary_dim below head_dim (by construction: no draw is thrown away)."""
    return cases(spec, partial=True, partial_only=True)


@register("dims at and above rotary_dim are returned bit for bit", _partial_cases, _needs_partial)
def passthrough_untouched(subject: Subject, case: RopeCase) -> None:
    """y[..., rotary_dim:] == x[..., rotary_dim:] exactly, x and y
    ``(batch, seq, heads, head_dim)`` (packed: ``(total_tokens, heads, head_dim)``)."""
    inputs = case.inputs(subject.device)
    kept = keep(inputs)
    outs = call(subject, case, inputs)
    rd = case.config.rotary_dim
    for name, y, x in zip(case.operand_names, outs, kept):
        same = y[..., rd:].detach().cpu() == x[..., rd:].cpu()
        if not bool(same.all()):
            where = tuple(int(i) for i in (~same).nonzero()[0])
            token, d = where[:-1], where[-1]
            label = f"{name}_out " if case.qk else ""
            raise PropertyFailed(
                f"changes {label}dims at and above rotary_dim={rd}, which must pass through untouched", case,
                f"dim {rd + d} at token {token[:-1]}, head {token[-1]}: {x[token + (rd + d,)].item()!r} -> "
                f"{y[token + (rd + d,)].item()!r}")
    return None
