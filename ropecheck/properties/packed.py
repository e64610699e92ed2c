"""packed_boundaries: each packed sequence is rotated by its own positions only."""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field, replace

from hypothesis import strategies as st

from ropecheck.properties._base import Subject, register
from ropecheck.properties._calls import call, judge, keep
from ropecheck.properties._cases import cases
from ropecheck.spec import Spec
from ropecheck.strategies import CaseSetup, RopeCase


def _needs_packed(spec: Spec) -> str | None:
    return None if spec.packed else "the spec does not claim packed = true"


@dataclass(frozen=True)
class EmptyInserted(CaseSetup):
    """How many empty sequences go before each sequence of the case, and after the last
    (``len(lengths) + 1`` counts)."""

    gaps: tuple[int, ...] = field(metadata={"label": "empty inserted"})


@st.composite
def _boundary_cases(draw, spec: Spec):
    case = draw(cases(spec, min_batch=2), label="case")
    gaps = tuple(draw(st.integers(0, 2), label=f"empty sequences before sequence {i}")
                 for i in range(len(case.lengths) + 1))
    return replace(case, setup=EmptyInserted(gaps))


def _with_empties(case: RopeCase, gaps: tuple[int, ...]) -> RopeCase:
    lengths, positions = [], []
    for i in range(len(case.lengths) + 1):
        lengths += [0] * gaps[i]
        positions += [()] * gaps[i]
        if i < len(case.lengths):
            lengths.append(case.lengths[i])
            positions.append(case.positions[i])
    return replace(case, lengths=tuple(lengths), positions=tuple(positions), batch=len(lengths))


@register("each packed sequence is rotated by its own positions, whatever its neighbours",
          _boundary_cases, _needs_packed, weight=2)
def packed_boundaries(subject: Subject, case: RopeCase) -> float:
    """Each packed sequence is rotated by its own positions only, whatever its neighbours:
    the batch as drawn, and the same tokens with empty sequences inserted between them
    (cu_seqlens repeats an entry), each agree with the oracle sequence by sequence.
    Operands ``(total_tokens, heads, head_dim)``."""
    worst = 0.0
    gaps = case.setup.gaps
    for variant, what in ((case, "as drawn"), (_with_empties(case, gaps), f"with empty sequences inserted {gaps}")):
        inputs = variant.inputs(subject.device)
        kept = keep(inputs)
        outs = call(subject, variant, inputs)
        starts = [0, *itertools.accumulate(variant.lengths)]
        for s, (lo, hi) in enumerate(zip(starts, starts[1:])):
            if hi == lo:
                continue
            one = replace(variant, lengths=(hi - lo,), positions=(variant.positions[s],), batch=1, seq=hi - lo)
            cause = (f"sequence {s} of {len(variant.lengths)} (tokens {lo}..{hi - 1}, lengths {variant.lengths}, "
                     f"{what}) is not rotated by its own positions")
            worst = max(worst, judge(subject, one, tuple(y[lo:hi] for y in outs), tuple(x[lo:hi] for x in kept),
                                     inputs.positions[lo:hi], cause))
    return worst
