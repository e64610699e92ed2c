"""Tests for ropecheck.proofs.symbols: the symbolic objects have the layout they claim."""

from __future__ import annotations

import pytest
import sympy as sp

from ropecheck import proofs
from ropecheck.proofs import (
    half_split_permutation,
)

m = sp.Symbol("m", real=True)


def test_half_split_permutation_layout():
    P = half_split_permutation(4)
    expected = sp.Matrix(
        [[1, 0, 0, 0], [0, 0, 1, 0], [0, 1, 0, 0], [0, 0, 0, 1]]
    )
    assert P == expected, f"P for d=4 should send (x0,x1,x2,x3) to (x0,x2,x1,x3), got {P.tolist()}"
    with pytest.raises(ValueError):
        half_split_permutation(3)


def test_mrope_sections_must_cover_pairs():
    th = sp.symbols("theta0:3", positive=True)
    with pytest.raises(ValueError):
        proofs.mrope_rotation((m, m, m), th, (1, 1))


def test_quarter_turns_turn_each_pair_and_each_half():
    x = sp.Matrix(sp.symbols("x0:4", real=True))
    x0, x1, x2, x3 = x
    assert proofs.pairwise_quarter_turn(x) == sp.Matrix([-x1, x0, -x3, x2])
    assert proofs.rotate_half(x) == sp.Matrix([-x2, -x3, x0, x1])


def test_package_attribute_rotation_is_the_matrix_and_no_submodule_shadows_it():
    # the laws live in rotation_laws / scaling_laws, so no submodule shares a re-exported name
    import ropecheck.proofs.rotation_laws  # noqa: F401 - importing the submodule must not rebind proofs.rotation
    assert callable(proofs.rotation) and proofs.rotation(0) == sp.eye(2)
