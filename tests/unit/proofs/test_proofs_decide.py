"""Tests for ropecheck.proofs.decide: the decision procedures refuse false
statements and prove true ones."""

from __future__ import annotations

import pytest
import sympy as sp

from ropecheck import proofs
from ropecheck.proofs import (
    Verdict,
    block_rotation,
    equal,
    is_zero_matrix,
    rotation,
)

a, b = sp.symbols("a b", real=True)
m = sp.Symbol("m", real=True)


# --------------------------------------------------------------------------
# The prover refuses false statements
# --------------------------------------------------------------------------


def test_wrong_relative_direction_is_refused():
    assert not equal(rotation(a).T * rotation(b), rotation(a - b)), (
        "R(a)^T R(b) = R(a - b) is false but was accepted"
    )


def test_wrong_composition_is_refused():
    assert not equal(rotation(a) * rotation(b), rotation(a - b)), (
        "R(a) R(b) = R(a - b) is false but was accepted"
    )


def test_wrong_block_relative_is_refused():
    th = sp.symbols("theta0:2", positive=True)
    n = sp.Symbol("n", real=True)
    assert not equal(
        block_rotation(m, th).T * block_rotation(n, th), block_rotation(m - n, th)
    ), "block R_m^T R_n = R_(m-n) is false but was accepted"


@pytest.mark.parametrize(
    "expr",
    [
        sp.cos(a) - 1,
        sp.sin(a),
        sp.cos(a) ** 2 - sp.sin(a) ** 2 - 1,
        sp.Abs(a) - a,
        sp.exp(sp.I * a) - 1,
        sp.Matrix([[0, 0], [0, sp.sin(a - b) - sp.sin(b - a)]]),
    ],
    ids=["cos_eq_1", "sin_eq_0", "cos2_minus_sin2", "abs", "exp_i", "matrix_entry"],
)
def test_nonzero_expressions_are_not_zero(expr):
    assert not is_zero_matrix(expr), f"{expr} is not identically 0 but was accepted"


@pytest.mark.parametrize(
    "expr",
    [
        sp.cos(a) ** 2 + sp.sin(a) ** 2 - 1,
        sp.cos(2 * a) - 2 * sp.cos(a) ** 2 + 1,
        sp.sin(a + b) - sp.sin(a) * sp.cos(b) - sp.cos(a) * sp.sin(b),
        sp.exp(sp.I * a) * sp.exp(-sp.I * a) - 1,
        sp.zeros(3, 3),
    ],
    ids=["pythagoras", "double_angle", "sin_sum", "exp_i_inverse", "zero_matrix"],
)
def test_true_identities_are_zero(expr):
    assert is_zero_matrix(expr), f"{expr} is identically 0 but was not proved"


def test_shape_mismatch_is_not_equal():
    assert not equal(rotation(a), sp.eye(3)), "matrices of different shapes compared equal"


def test_simplifies_to_zero_decides_both_ways():
    s, bb = sp.symbols("s b", positive=True)
    i = sp.Symbol("i", real=True)
    assert proofs.simplifies_to_zero((bb * s) ** i - bb**i * s**i)
    assert proofs.simplifies_to_zero(sp.log(bb * s) - sp.log(bb) - sp.log(s))
    assert not proofs.simplifies_to_zero(bb**i - bb)
    # (x*y)**i = x**i * y**i is false for real x, y of unknown sign: not accepted.
    x, y = sp.symbols("x y", real=True)
    assert not proofs.simplifies_to_zero((x * y) ** i - x**i * y**i)


def test_a_failed_verdict_is_falsy_and_carries_its_reason():
    verdict = equal(rotation(a), sp.eye(2))
    assert isinstance(verdict, Verdict) and not verdict
    assert verdict.reason.startswith("entry[0,0]: "), verdict.reason
    assert "cos(a)" in verdict.reason, verdict.reason
    assert equal(rotation(a), rotation(a)) == Verdict(True, "")
    assert equal(rotation(a), sp.eye(3)).reason == "shape mismatch: (2, 2) vs (3, 3)"
