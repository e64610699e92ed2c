"""The property catalogue: what a conforming RoPE implementation must satisfy.

Each property draws inputs from ``ropecheck.strategies`` restricted to what the spec
claims (dtypes, pairing, base, partial rotary, position range), calls the implementation
and judges the output under ``ropecheck.tolerance``. A violation raises ``PropertyFailed``
with a cause in words, the worst error against the allowed one, and the case.

Each property lives in a module of its own (or of its small family), where its check is
defined under the property's name and registered with ``@register(...)``
(``_base.py``). The shared machinery: ``_base`` (the records, the catalogue),
``_calls`` (calling the implementation, judging against the oracle, ``same_bits``),
``_cases`` (cases in a spec's form). What a property draws besides the tensors rides on
the case as a typed ``strategies.CaseSetup`` defined next to its check.

The modules are imported here in catalogue order: ``PROPERTIES`` is that order.
"""

from __future__ import annotations

from ropecheck.properties._base import NotJudged, Property, PropertyFailed, Subject, catalogue, register
from ropecheck.properties._calls import agrees_with_oracle, call, judge, keep, same_bits
from ropecheck.properties._cases import boundary_examples, cases, flat_positions, serving_examples
# the property modules, in catalogue order: each registers its properties when imported
from ropecheck.properties import (  # noqa: F401, I001
    oracle_agreement, relative_position, norm, identity, passthrough, positions, memory, gradients, nan_locality,
    determinism, qk, call_history, packed)
from ropecheck.properties.call_history import HISTORY_KINDS, History
from ropecheck.properties.gradients import GRAD_DTYPES
from ropecheck.properties.memory import LAYOUTS, LOUD_REFUSAL_OK, Layout, strided_positions, strided_view
from ropecheck.properties.nan_locality import Poison
from ropecheck.properties.packed import EmptyInserted
from ropecheck.properties.positions import Split, _distinct_rows
from ropecheck.properties.qk import BufferLayout
from ropecheck.properties.relative_position import Shift

PROPERTIES: tuple[Property, ...] = catalogue()
BY_NAME = {p.name: p for p in PROPERTIES}

# the name nan_locality's check had before it moved to a module of its own (tests import
# it; ``nan_locality`` here is the module)
_nan_locality = nan_locality.nan_locality

__all__ = [
    "PROPERTIES", "BY_NAME", "Property", "PropertyFailed", "NotJudged", "Subject", "register", "call", "judge", "keep",
    "same_bits", "agrees_with_oracle", "cases", "boundary_examples", "serving_examples", "flat_positions",
    "GRAD_DTYPES", "HISTORY_KINDS", "LAYOUTS", "LOUD_REFUSAL_OK", "strided_view", "strided_positions",
    "Shift", "Split", "Layout", "BufferLayout", "Poison", "History", "EmptyInserted",
]
