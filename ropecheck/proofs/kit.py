"""What a rope_type record's own laws are handed (``RopeType.laws``, ``Law.check(kit)``).

A record imports no SymPy (records are read in every checking process, which must not pay
for SymPy), and this package imports nothing of ``ropecheck`` above it; so the prover hands
each law this module, and the law builds its statement from these names:

* ``sp`` -- SymPy itself;
* ``SYMPY`` -- the numeric world of a shared formula (``rope_types.Ops``) in exact SymPy:
  ``log, exp, sqrt, floor, ceil, min, max, pi, number``;
* ``equal``, ``simplifies_to_zero``, ``all_hold``, ``Verdict``, ``HOLDS`` -- the decision
  procedures (:mod:`~ropecheck.proofs.decide`);
* ``rotation``, ``block_rotation``, ``positions``, ``pair_thetas``, ``CONCRETE_DIMS`` --
  the symbolic objects (:mod:`~ropecheck.proofs.symbols`);
* ``NORMAL_FORM_METHOD``, ``CONCRETE_DIMS_METHOD`` -- method texts for ``Law.method``.
"""

from __future__ import annotations

from types import SimpleNamespace

import sympy as sp

from ropecheck.proofs.decide import HOLDS, NORMAL_FORM_METHOD, Verdict, all_hold, equal, simplifies_to_zero
from ropecheck.proofs.symbols import CONCRETE_DIMS, CONCRETE_DIMS_METHOD, block_rotation, pair_thetas, positions, rotation

__all__ = ["sp", "SYMPY", "equal", "simplifies_to_zero", "all_hold", "Verdict", "HOLDS", "rotation", "block_rotation",
           "positions", "pair_thetas", "CONCRETE_DIMS", "NORMAL_FORM_METHOD", "CONCRETE_DIMS_METHOD"]

SYMPY = SimpleNamespace(log=sp.log, exp=sp.exp, sqrt=sp.sqrt, floor=sp.floor, ceil=sp.ceiling, min=sp.Min, max=sp.Max,
                        pi=sp.pi, number=sp.Rational)
"""A shared formula's functions in SymPy (the fields of ``ropecheck.rope_types.Ops``);
``number`` makes a decimal literal an exact ``Rational``."""
