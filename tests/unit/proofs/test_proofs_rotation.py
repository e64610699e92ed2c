"""Tests for ropecheck.proofs.rotation_laws: layout identities and the Abel identity
hold, and wrong variants of them fail."""

from __future__ import annotations

import pytest
import sympy as sp

from ropecheck.proofs import (
    Proof,
    abel_bound_holds_numerically,
    abel_identity_holds,
    half_split_identity_holds,
    pairwise_quarter_turn,
    run_proof,
    sparse_identity_holds,
)

# --------------------------------------------------------------------------
# Layout identities: wrong variants must fail
# --------------------------------------------------------------------------


@pytest.mark.parametrize("d", [2, 4, 6, 8])
def test_half_split_identity_holds_with_real_permutation(d):
    assert half_split_identity_holds(d), f"half-split identity not proved for d={d}"


def test_identity_permutation_fails_half_split():
    assert not half_split_identity_holds(4, sp.eye(4)), (
        "identity permutation accepted for the half-split identity at d=4"
    )
    result = run_proof(
        Proof("wrong_perm", "half split = R_m", "P = I", lambda: half_split_identity_holds(4, sp.eye(4)))
    )
    assert result.status == "failed" and result.detail, f"expected failed with residual, got {result}"


def test_non_permutation_is_rejected():
    not_perm = sp.eye(4) * 2
    assert not half_split_identity_holds(4, not_perm), "a non-0/1 matrix was accepted as P"


@pytest.mark.parametrize("d", [2, 4, 6, 8])
def test_sparse_wrong_rotate_sign_fails(d):
    def rotate_wrong_sign(x):
        return -pairwise_quarter_turn(x)  # (x1, -x0, ...) instead of (-x1, x0, ...)

    assert sparse_identity_holds(d), f"correct sparse form not proved for d={d}"
    assert not sparse_identity_holds(d, rotate_wrong_sign), (
        f"sparse form with the wrong rotate sign accepted for d={d}"
    )


def test_sparse_rotate_half_in_interleaved_layout_fails():
    from ropecheck.proofs import rotate_half

    assert not sparse_identity_holds(4, rotate_half), (
        "rotate_half used with interleaved cos/sin vectors was accepted at d=4"
    )


# --------------------------------------------------------------------------
# Abel summation
# --------------------------------------------------------------------------


@pytest.mark.parametrize("pairs", range(1, 7))
def test_abel_identity_sign(pairs):
    assert abel_identity_holds(pairs, sign=-1), f"Abel identity not proved for d/2={pairs}"
    # Without the minus sign of RoFormer eq. (36) the identity is false.
    assert not abel_identity_holds(pairs, sign=+1), f"sign-flipped Abel identity accepted for d/2={pairs}"


def test_abel_bound_numerically():
    assert abel_bound_holds_numerically(pairs=8, samples=20, seed=0), (
        "|sum h_i e^{i(m-n)theta_i}| exceeded (max |h_{i+1}-h_i|) sum |S_{i+1}|"
    )
