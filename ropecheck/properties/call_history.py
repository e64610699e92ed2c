"""call_history: a call after other calls still equals the oracle (no stale state)."""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from hypothesis import strategies as st

from ropecheck.properties._base import PropertyFailed, Subject, register
from ropecheck.properties._calls import call, judge, keep
from ropecheck.properties._cases import cases
from ropecheck.spec import Spec
from ropecheck.strategies import CaseSetup, RopeCase, bases

HISTORY_KINDS = ("another dtype, larger positions", "one small position", "larger positions", "another base",
                 "another rotary_dim", "another dtype, larger positions")
"""What an earlier call of ``call_history`` changes, each aimed at a cache kept between calls:
its dtype (built by another dtype's call), its length (built short, or grown), its key
(built for another base or rotary width)."""


@dataclass(frozen=True)
class History(CaseSetup):
    """The calls made, in order, before the case's own one (each a whole RopeCase)."""

    calls: tuple[RopeCase, ...] = field(metadata={"label": "history"})

    def summary(self) -> str:
        return "".join(f"; after call {i + 1}: {earlier.brief()}" for i, earlier in enumerate(self.calls))

    def __repr__(self) -> str:
        calls = ", ".join(c.repro() for c in self.calls) + ("," if len(self.calls) == 1 else "")
        return f"History(calls=({calls}))"


@st.composite
def _earlier_call(draw, spec: Spec, final: RopeCase, kind: str) -> RopeCase:
    """One call made before ``final``: the same form and shape unless ``kind`` says otherwise."""
    flat = [p for row in final.positions for p in row]
    if final.config.axes > 1 or not flat:  # multi-axis or empty: only the dtype changes
        return replace(final, dtype=draw(st.sampled_from(spec.dtypes), label="dtype"))
    top = spec.max_position - 1
    if kind == "another base" and spec.base == "any":
        return replace(final, config=final.config.replace(base=draw(bases(), label="base")))
    if kind == "another rotary_dim" and spec.partial_rotary and final.head_dim > 2 and not final.config.scaling:
        width = draw(st.integers(1, final.head_dim // 2).map(lambda h: 2 * h), label="rotary_dim")
        return replace(final, config=final.config.replace(rotary_dim=width))
    if kind == "one small position":
        first = min(flat)
        return replace(final, batch=1, seq=1, positions=((first,),), lengths=(1,) if final.packed else None)
    dtype = final.dtype
    if kind == "another dtype, larger positions":
        others = [d for d in spec.dtypes if d != final.dtype] or [final.dtype]
        dtype = draw(st.sampled_from(others), label="dtype")
    room = top - max(flat)
    shift = draw(st.integers(0, room), label="positions shifted up by") if room > 0 else 0
    rows = tuple(tuple(p + shift for p in row) for row in final.positions)
    return replace(final, dtype=dtype, positions=rows)


@st.composite
def _history_cases(draw, spec: Spec):
    final = draw(cases(spec), label="last call")
    history: list[RopeCase] = []
    for i in range(draw(st.integers(1, 3), label="earlier steps")):
        kind = draw(st.sampled_from(HISTORY_KINDS), label=f"step {i + 1} changes")
        if kind.startswith("another dtype") and (spec.base == "any" or spec.partial_rotary):
            # first another config, so that a cache keyed on it is rebuilt by the other dtype's call
            history.append(draw(_earlier_call(spec, final, "another base" if spec.base == "any" else "another rotary_dim"),
                                label=f"step {i + 1}: another config first"))
        history.append(draw(_earlier_call(spec, final, kind), label=f"step {i + 1}"))
    return replace(final, setup=History(tuple(history)))


@register("a call after other calls (another dtype, length, base or width) still equals the oracle",
          _history_cases, weight=2)
def call_history(subject: Subject, case: RopeCase) -> float:
    """Calls ``case.setup.calls`` in order, then ``case`` itself, in one process: each
    must agree with the oracle. The last one failing after earlier calls points at state kept
    between calls (a cos/sin cache in the wrong dtype, too short, or built for another config)."""
    history = case.setup.calls
    for i, earlier in enumerate(history):
        inputs = earlier.inputs(subject.device)
        kept = keep(inputs)
        try:
            judge(subject, earlier, call(subject, earlier, inputs), kept, inputs.positions,
                  f"disagrees with the oracle on call {i + 1} of the sequence")
        except PropertyFailed as failure:
            failure.case = case
            raise
    last = replace(case, setup=None)
    inputs = last.inputs(subject.device)
    kept = keep(inputs)
    try:
        return judge(subject, last, call(subject, last, inputs), kept, inputs.positions,
                     f"disagrees with the oracle on the last call, after {len(history)} earlier "
                     f"call{'s' if len(history) > 1 else ''} ({'; '.join(e.brief() for e in history)}): "
                     "state kept between calls (a cos/sin cache in another dtype, too short, or built for "
                     "another config) if the same call alone is right")
    except PropertyFailed as failure:
        failure.case = case
        raise
