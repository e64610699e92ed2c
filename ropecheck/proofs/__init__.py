"""Symbolic proofs of the algebraic facts RoPE relies on.

Every entry of :data:`PROOFS` is a statement about rotation matrices (or the
elementwise / complex forms implementations use instead of them, or the
long-context scaling of their frequencies) together with a *check* that asks
SymPy to reduce ``lhs - rhs`` to exactly zero.  A check can fail: it returns a
:class:`Verdict` that holds only when every entry is provably zero, and
otherwise carries the residual SymPy could not reduce; :func:`run_proof`
reports that residual.

The package, one job per module (none imports anything above it, nor any
other ropecheck module; pure SymPy, plus mpmath for a numerical spot check):

* :mod:`~ropecheck.proofs.decide` -- deciding that an expression or matrix is
  zero (normal form modulo cos² + sin² = 1, equivalence rewrites); no RoPE.
* :mod:`~ropecheck.proofs.symbols` -- the symbolic objects: rotations, block
  and multi-axis rotations, the half-split permutation, elementwise forms.
* :mod:`~ropecheck.proofs.catalogue` -- :class:`Proof`, :class:`ProofResult`,
  registration where a check is defined, :func:`run_proof`.
* :mod:`~ropecheck.proofs.rotation_laws` -- the rotation laws.
* :mod:`~ropecheck.proofs.scaling_laws` -- the long-context scaling laws.
* :mod:`~ropecheck.proofs.kit` -- what a rope_type record's own laws
  (``RopeType.laws``) are handed; :func:`proofs_of` turns those laws into proofs
  (the records are passed in: this package does not import them).

This module assembles :data:`PROOFS` in report order and re-exports the names
the rest of ropecheck and its tests use.
"""

from __future__ import annotations

import functools
from typing import Iterable

from ropecheck.proofs.catalogue import Proof, ProofResult, assemble, run_proof
from ropecheck.proofs.decide import Verdict, equal, is_zero_matrix, simplifies_to_zero
from ropecheck.proofs.rotation_laws import LAWS as _ROTATION_LAWS
from ropecheck.proofs.rotation_laws import (
    abel_bound_holds_numerically,
    abel_identity_holds,
    half_split_identity_holds,
    sparse_identity_holds,
)
from ropecheck.proofs.scaling_laws import LAWS as _SCALING_LAWS
from ropecheck.proofs.scaling_laws import (
    MROPE_CASES,
    SCALING_DIMS,
    dynamic_ntk_factor,
    dynamic_ntk_holds,
    linear_scaling_holds,
    llama3_bands_hold,
    llama3_smooth_factor,
    llama3_smoothed_inv_freq,
    longrope_holds,
    mrope_relative_holds,
    mrope_text_reduces_holds,
    ntk_ends_hold,
    pair_inv_freq,
    yarn_blend,
    yarn_correction_dim,
    yarn_correction_dim_holds,
    yarn_mscale,
    yarn_ramp_holds,
    yarn_scaled_embed,
    yarn_scaled_embedding_holds,
    yarn_scaled_scores_hold,
)
from ropecheck.proofs.symbols import (
    CONCRETE_DIMS,
    block_rotation,
    half_split_form,
    half_split_permutation,
    mrope_rotation,
    pairwise_quarter_turn,
    rotate_half,
    rotation,
    sparse_form,
    three_axis_rotation,
    two_axis_rotation,
)

__all__ = [
    "Proof",
    "Verdict",
    "ProofResult",
    "PROOFS",
    "run_proof",
    "prove_all",
    "proofs_of",
    "is_zero_matrix",
    "equal",
    "rotation",
    "block_rotation",
    "half_split_permutation",
    "pairwise_quarter_turn",
    "rotate_half",
    "sparse_form",
    "half_split_form",
    "two_axis_rotation",
    "sparse_identity_holds",
    "half_split_identity_holds",
    "abel_identity_holds",
    "abel_bound_holds_numerically",
    "CONCRETE_DIMS",
    "SCALING_DIMS",
    "MROPE_CASES",
    "simplifies_to_zero",
    "pair_inv_freq",
    "linear_scaling_holds",
    "ntk_ends_hold",
    "dynamic_ntk_factor",
    "dynamic_ntk_holds",
    "yarn_blend",
    "yarn_ramp_holds",
    "yarn_correction_dim",
    "yarn_correction_dim_holds",
    "yarn_scaled_embed",
    "yarn_scaled_embedding_holds",
    "yarn_scaled_scores_hold",
    "yarn_mscale",
    "llama3_smooth_factor",
    "llama3_smoothed_inv_freq",
    "llama3_bands_hold",
    "longrope_holds",
    "mrope_rotation",
    "mrope_relative_holds",
    "mrope_text_reduces_holds",
    "three_axis_rotation",
]

#: The order in which ``ropecheck prove`` reports the proofs.
REPORT_ORDER: tuple[str, ...] = (
    "identity_at_zero",
    "orthogonality",
    "determinant",
    "inverse_is_transpose",
    "composition",
    "commutation",
    "periodicity",
    "norm_preservation",
    "relative_position_2x2",
    "relative_position_block",
    "attention_relative",
    "attention_complex_form",
    "complex_equals_matrix",
    "sparse_equals_matrix",
    "half_split_is_permuted_interleaved",
    "half_split_relative",
    "two_axis_relative",
    "abel_summation_decay",
    "linear_scaling_is_position_interpolation",
    "ntk_keeps_highest_divides_lowest",
    "dynamic_ntk_reduces_to_unscaled_and_ntk",
    "yarn_ramp_continuous_and_ends",
    "yarn_attention_factor_scales_scores_by_square",
    "llama3_bands_continuous_and_ends",
    "longrope_is_per_pair_linear",
    "mrope_relative_per_axis",
    "three_axis_relative",
)

#: Every catalogued proof, in :data:`REPORT_ORDER`.
PROOFS: tuple[Proof, ...] = assemble(REPORT_ORDER, _ROTATION_LAWS, _SCALING_LAWS)


def proofs_of(records: Iterable) -> tuple[Proof, ...]:
    """The laws that rope_type records prove themselves (each record's ``laws``: objects with
    ``name, statement, method, check(kit)``), as proofs whose check is handed
    :mod:`~ropecheck.proofs.kit`; in the records' order. A name already in :data:`PROOFS` or
    given twice is a ``ValueError``."""
    from ropecheck.proofs import kit

    taken = {p.name for p in PROOFS}
    found = []
    for record in records:
        for law in getattr(record, "laws", ()):
            if law.name in taken:
                raise ValueError(f"rope_type {record.name!r}: law {law.name!r} is already a proof")
            taken.add(law.name)
            found.append(Proof(law.name, law.statement, law.method, functools.partial(law.check, kit)))
    return tuple(found)


def prove_all(proofs: Iterable[Proof] = PROOFS) -> list[ProofResult]:
    """Run every proof (all of :data:`PROOFS` by default); one result each, in order."""
    return [run_proof(p) for p in proofs]
