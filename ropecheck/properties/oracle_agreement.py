"""oracle_agreement: the output equals the float64 oracle within the tolerance model."""

from __future__ import annotations

from ropecheck.properties._base import Subject, register
from ropecheck.properties._calls import agrees_with_oracle
from ropecheck.properties._cases import boundary_examples, cases, serving_examples
from ropecheck.strategies import RopeCase


# explicit boundary examples on every run; a long counterexample narrowed to the token that
# fails; after a failure, the search goes on for failures with other causes
@register("equals the float64 oracle for the claimed pairing and base, within the tolerance model",
          cases, weight=4, examples=boundary_examples, serving=serving_examples, narrow=True, more_causes=True)
def oracle_agreement(subject: Subject, case: RopeCase) -> float:
    """Every output (x: ``(batch, seq, heads, head_dim)``; q and k; packed:
    ``(total_tokens, heads, head_dim)``) agrees with the oracle on its own input."""
    return agrees_with_oracle(subject, case, "disagrees with the oracle")
