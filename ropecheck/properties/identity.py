"""identity_at_zero: position 0 rotates by angle 0, leaving x unchanged."""

from __future__ import annotations

from dataclasses import replace

from ropecheck.properties._base import Subject, register
from ropecheck.properties._calls import agrees_with_oracle
from ropecheck.properties._cases import cases
from ropecheck.spec import Spec
from ropecheck.strategies import RopeCase


def _zeros(nested):
    return tuple(_zeros(v) for v in nested) if isinstance(nested, tuple) else 0


def _from_zero(nested):
    """Every row restarting at position 0 (on every axis): 0, 1, 2, ..."""
    return tuple(tuple(((i,) * len(p)) if isinstance(p, tuple) else i for i, p in enumerate(row)) for row in nested)


def _zero_cases(spec: Spec):
    """Every position 0; for a spec whose rows are consecutive (one offset per row), every
    offset 0 (position 0 is then each row's first token)."""
    to_zero = _from_zero if spec.positions == "consecutive" else _zeros
    return cases(spec).map(lambda c: replace(c, positions=to_zero(c.positions)))


@register("position 0 leaves x unchanged", _zero_cases)
def identity_at_zero(subject: Subject, case: RopeCase) -> float:
    """At position 0 (or rows from 0) the output agrees with the oracle, which there is
    x itself (or x rotated by 0, 1, 2, ...). x: ``(batch, seq, heads, head_dim)``."""
    return agrees_with_oracle(subject, case, "position 0 is not the identity")
