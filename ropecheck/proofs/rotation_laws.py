"""Rotation laws of RoPE, each proved by SymPy and catalogued where it is defined.

The laws: identity at zero, orthogonality, determinant 1, inverse = transpose,
composition, commutation, periodicity, norm preservation, relative position
(2x2, block-diagonal, in the attention score, in complex form), the complex
and elementwise (interleaved and half-split) forms equal to the matrix form,
two- and three-axis relative position, and the Abel-summation identity behind
RoPE's long-term decay.  Each check returns a
:class:`~ropecheck.proofs.decide.Verdict`.

The ``*_holds`` functions take the part an implementation could get wrong
(``rotate``, ``perm``, ``sign``) so that tests can show a wrong one fails.
"""

from __future__ import annotations

import random

import mpmath
import sympy as sp

from ropecheck.proofs.catalogue import Catalogue
from ropecheck.proofs.decide import (
    NORMAL_FORM_METHOD,
    Verdict,
    all_hold,
    equal,
    is_permutation_matrix,
)
from ropecheck.proofs.symbols import (
    CONCRETE_DIMS,
    CONCRETE_DIMS_METHOD,
    angles,
    axis_positions,
    block_rotation,
    half_split_form,
    half_split_permutation,
    half_split_rotation,
    pair_thetas,
    pairwise_quarter_turn,
    positions,
    real_vector,
    rotation,
    sparse_form,
    three_axis_rotation,
    two_axis_rotation,
)

__all__ = [
    "LAWS",
    "abel_bound_holds_numerically",
    "abel_identity_holds",
    "half_split_identity_holds",
    "sparse_identity_holds",
]

LAWS = Catalogue()



# ---------------------------------------------------------------------------
# The rotation group
# ---------------------------------------------------------------------------


@LAWS.proof(
    name="identity_at_zero",
    statement="R(0) = I",
    method=f"{NORMAL_FORM_METHOD}; 2x2 and block R_0 for {CONCRETE_DIMS_METHOD}",
)
def _identity_at_zero() -> Verdict:
    """R(0) = I (2x2) and block_rotation(0, θ) = I."""
    return equal(rotation(0), sp.eye(2)) and all_hold(
        equal(block_rotation(0, pair_thetas(d // 2)), sp.eye(d)) for d in CONCRETE_DIMS
    )


@LAWS.proof(
    name="orthogonality",
    statement="RᵀR = RRᵀ = I",
    method=f"{NORMAL_FORM_METHOD}; 2x2 with symbolic a, and block R_m for {CONCRETE_DIMS_METHOD}",
)
def _orthogonality() -> Verdict:
    """R(a)ᵀR(a) = I, and R_mᵀR_m = R_mR_mᵀ = I for the block rotation."""
    a, _ = angles()
    m, _ = positions()

    def one(d):
        R = block_rotation(m, pair_thetas(d // 2))
        return equal(R.T * R, sp.eye(d)) and equal(R * R.T, sp.eye(d))

    return equal(rotation(a).T * rotation(a), sp.eye(2)) and all_hold(
        one(d) for d in CONCRETE_DIMS
    )


@LAWS.proof(
    name="determinant",
    statement="det R = 1",
    method=f"{NORMAL_FORM_METHOD} on det (Berkowitz); 2x2 and block R_m for {CONCRETE_DIMS_METHOD}",
)
def _determinant() -> Verdict:
    """det R(a) = 1 and det R_m = 1 (Berkowitz determinant)."""
    a, _ = angles()
    m, _ = positions()

    def one(d):
        return equal(block_rotation(m, pair_thetas(d // 2)).det(method="berkowitz"), 1)

    return equal(rotation(a).det(), 1) and all_hold(one(d) for d in CONCRETE_DIMS)


@LAWS.proof(
    name="inverse_is_transpose",
    statement="R(−a) = R(a)ᵀ = R(a)⁻¹",
    method=f"{NORMAL_FORM_METHOD}; 2x2, and block R_(-m) = R_mᵀ, R_m R_(-m) = I for {CONCRETE_DIMS_METHOD}",
)
def _inverse_is_transpose() -> Verdict:
    """R(−a) = R(a)ᵀ; R_(−m) = R_mᵀ and R_m R_(−m) = I."""
    a, _ = angles()
    m, _ = positions()

    def one(d):
        th = pair_thetas(d // 2)
        R = block_rotation(m, th)
        return equal(block_rotation(-m, th), R.T) and equal(R * block_rotation(-m, th), sp.eye(d))

    return equal(rotation(-a), rotation(a).T) and all_hold(one(d) for d in CONCRETE_DIMS)


@LAWS.proof(
    name="composition",
    statement="R(a)R(b) = R(a+b)",
    method=f"{NORMAL_FORM_METHOD}; 2x2, and block R_m R_n = R_(m+n) for {CONCRETE_DIMS_METHOD}",
)
def _composition() -> Verdict:
    """R(a)R(b) = R(a+b) and R_m R_n = R_(m+n)."""
    a, b = angles()
    m, n = positions()

    def one(d):
        th = pair_thetas(d // 2)
        return equal(block_rotation(m, th) * block_rotation(n, th), block_rotation(m + n, th))

    return equal(rotation(a) * rotation(b), rotation(a + b)) and all_hold(
        one(d) for d in CONCRETE_DIMS
    )


@LAWS.proof(
    name="commutation",
    statement="R(a)R(b) = R(b)R(a)",
    method=f"{NORMAL_FORM_METHOD}; 2x2 with symbolic a, b",
)
def _commutation() -> Verdict:
    """R(a)R(b) = R(b)R(a)."""
    a, b = angles()
    return equal(rotation(a) * rotation(b), rotation(b) * rotation(a))


@LAWS.proof(
    name="periodicity",
    statement="R(a+2π) = R(a)",
    method=f"{NORMAL_FORM_METHOD}; 2x2 with symbolic a",
)
def _periodicity() -> Verdict:
    """R(a + 2π) = R(a)."""
    a, _ = angles()
    return equal(rotation(a + 2 * sp.pi), rotation(a))


@LAWS.proof(
    name="norm_preservation",
    statement="|Rx|² = |x|²",
    method=f"{NORMAL_FORM_METHOD}; symbolic real x, 2x2 and block R_m for {CONCRETE_DIMS_METHOD}",
)
def _norm_preservation() -> Verdict:
    """|R_m x|² = |x|² for real x (block rotations, then R(a) on a pair)."""
    a, _ = angles()
    m, _ = positions()

    def one(d):
        x = real_vector("x", d)
        y = block_rotation(m, pair_thetas(d // 2)) * x
        return equal((y.T * y)[0, 0], (x.T * x)[0, 0])

    x2 = real_vector("x", 2)
    return one(2) and all_hold(one(d) for d in CONCRETE_DIMS) and equal(
        ((rotation(a) * x2).T * (rotation(a) * x2))[0, 0], (x2.T * x2)[0, 0]
    )


# ---------------------------------------------------------------------------
# Relative position
# ---------------------------------------------------------------------------


@LAWS.proof(
    name="relative_position_2x2",
    statement="R(a)ᵀR(b) = R(b−a)",
    method=f"{NORMAL_FORM_METHOD}; 2x2 with symbolic real a, b",
)
def _relative_2x2() -> Verdict:
    """R(a)ᵀR(b) = R(b − a)."""
    a, b = angles()
    return equal(rotation(a).T * rotation(b), rotation(b - a))


@LAWS.proof(
    name="relative_position_block",
    statement="R_mᵀR_n = R_(n−m) (block-diagonal)",
    method=f"{NORMAL_FORM_METHOD}; generic 2x2 block, then {CONCRETE_DIMS_METHOD}",
)
def _relative_block() -> Verdict:
    """R_mᵀR_n = R_(n−m) for the block-diagonal rotation."""
    m, n = positions()

    def one(d):
        th = pair_thetas(d // 2)
        return equal(
            block_rotation(m, th).T * block_rotation(n, th), block_rotation(n - m, th)
        )

    return _relative_2x2() and all_hold(one(d) for d in CONCRETE_DIMS)


@LAWS.proof(
    name="attention_relative",
    statement="(R_m q)ᵀ(R_n k) = qᵀR_(n−m) k",
    method=f"{NORMAL_FORM_METHOD}; symbolic real q, k for {CONCRETE_DIMS_METHOD}",
)
def _attention_relative() -> Verdict:
    """The attention score (R_m q)ᵀ(R_n k) depends on n − m only: = qᵀR_(n−m) k."""
    m, n = positions()

    def one(d):
        th = pair_thetas(d // 2)
        q, k = real_vector("q", d), real_vector("k", d)
        lhs = ((block_rotation(m, th) * q).T * (block_rotation(n, th) * k))[0, 0]
        rhs = (q.T * block_rotation(n - m, th) * k)[0, 0]
        return equal(lhs, rhs)

    return all_hold(one(d) for d in CONCRETE_DIMS)


def _complex_score(q: sp.Matrix, k: sp.Matrix, m, n, thetas) -> sp.Expr:
    """Re Σ_i q_[i] conj(k_[i]) e^{i(m−n)θ_i}, Re z written as (z + z̄)/2 with z̄ built explicitly."""
    total = sp.Integer(0)
    total_conj = sp.Integer(0)
    for i, t in enumerate(thetas):
        qc = q[2 * i] + sp.I * q[2 * i + 1]
        kc = k[2 * i] + sp.I * k[2 * i + 1]
        qc_bar = q[2 * i] - sp.I * q[2 * i + 1]
        kc_bar = k[2 * i] - sp.I * k[2 * i + 1]
        total += qc * kc_bar * sp.exp(sp.I * (m - n) * t)
        total_conj += qc_bar * kc * sp.exp(-sp.I * (m - n) * t)
    return (total + total_conj) / 2


@LAWS.proof(
    name="attention_complex_form",
    statement="(R_m q)ᵀ(R_n k) = Re Σ_i q_[2i:2i+2] k*_[2i:2i+2] e^{i(m−n)θ_i}",
    method=f"{NORMAL_FORM_METHOD}; Re z written as (z + z̄)/2 with z̄ built explicitly; {CONCRETE_DIMS_METHOD}",
)
def _attention_complex_form() -> Verdict:
    """(R_m q)ᵀ(R_n k) = Re Σ_i q_[i] conj(k_[i]) e^{i(m-n)θ_i}  (RoFormer eq. 16)."""
    m, n = positions()

    def one(d):
        th = pair_thetas(d // 2)
        q, k = real_vector("q", d), real_vector("k", d)
        lhs = ((block_rotation(m, th) * q).T * (block_rotation(n, th) * k))[0, 0]
        return equal(lhs, _complex_score(q, k, m, n, th))

    return all_hold(one(d) for d in CONCRETE_DIMS)


# ---------------------------------------------------------------------------
# The forms implementations compute
# ---------------------------------------------------------------------------


@LAWS.proof(
    name="complex_equals_matrix",
    statement="(x0 + i x1)e^{ia} = [R(a)x]_0 + i [R(a)x]_1",
    method=f"expand(complex=True).as_real_imag(), then {NORMAL_FORM_METHOD}",
)
def _complex_equals_matrix() -> Verdict:
    """Multiplying x0 + i x1 by e^{ia} is rotating (x0, x1) by R(a)."""
    a, _ = angles()
    x0, x1 = sp.symbols("x0 x1", real=True)
    z = sp.expand((x0 + sp.I * x1) * sp.exp(sp.I * a), complex=True)
    re_part, im_part = z.as_real_imag()
    y = rotation(a) * sp.Matrix([x0, x1])
    return equal(sp.Matrix([re_part, im_part]), y)


def sparse_identity_holds(d: int, rotate=pairwise_quarter_turn) -> Verdict:
    """sparse_form(x, m, θ, rotate) == block_rotation(m, θ) x for dimension d."""
    m, _ = positions()
    th = pair_thetas(d // 2)
    x = real_vector("x", d)
    return equal(sparse_form(x, m, th, rotate), block_rotation(m, th) * x)


@LAWS.proof(
    name="sparse_equals_matrix",
    statement="x⊙cos(mθ) + rotate(x)⊙sin(mθ) = R_m x, rotate(x) = (−x1, x0, −x3, x2, …)",
    method=f"{NORMAL_FORM_METHOD}; cos/sin vectors (cos mθ0, cos mθ0, cos mθ1, …), {CONCRETE_DIMS_METHOD}",
)
def _sparse_equals_matrix() -> Verdict:
    """The interleaved elementwise form equals R_m x."""
    return all_hold(sparse_identity_holds(d) for d in CONCRETE_DIMS)


def half_split_identity_holds(d: int, perm: sp.Matrix | None = None) -> Verdict:
    """half_split_form(x) == P R_interleaved(m) P^T x, P permutation (default: the real one)."""
    m, _ = positions()
    P = half_split_permutation(d) if perm is None else perm
    th = pair_thetas(d // 2)
    x = real_vector("x", d)
    return is_permutation_matrix(P) and equal(
        half_split_form(x, m, th), P * block_rotation(m, th) * P.T * x
    )


@LAWS.proof(
    name="half_split_is_permuted_interleaved",
    statement="x⊙cos + rotate_half(x)⊙sin = P R_m Pᵀ x, P: 2i→i, 2i+1→i+d/2",
    method=f"P checked 0/1 with one 1 per row/column and PPᵀ = PᵀP = I, P x_interleaved = "
    f"x_half; identity by {NORMAL_FORM_METHOD}; {CONCRETE_DIMS_METHOD}",
)
def _half_split_is_permuted_interleaved() -> Verdict:
    """P maps interleaved to half-split layout, and the half-split form is P R_m Pᵀ x."""

    def layout(d):
        x = real_vector("x", d)
        h = d // 2
        want = sp.Matrix([x[2 * i] for i in range(h)] + [x[2 * i + 1] for i in range(h)])
        return equal(half_split_permutation(d) * x, want)

    return all_hold(layout(d) and half_split_identity_holds(d) for d in CONCRETE_DIMS)


@LAWS.proof(
    name="half_split_relative",
    statement="(P R_m Pᵀ)ᵀ(P R_n Pᵀ) = P R_(n−m) Pᵀ",
    method=f"{NORMAL_FORM_METHOD}; {CONCRETE_DIMS_METHOD}",
)
def _half_split_relative() -> Verdict:
    """Relative position holds in half-split layout too."""
    m, n = positions()

    def one(d):
        th = pair_thetas(d // 2)
        R = lambda p: half_split_rotation(p, th)  # noqa: E731
        return equal(R(m).T * R(n), R(n - m))

    return all_hold(one(d) for d in CONCRETE_DIMS)


# ---------------------------------------------------------------------------
# Multi-axis RoPE
# ---------------------------------------------------------------------------


@LAWS.proof(
    name="two_axis_relative",
    statement="R_(m1,m2)ᵀR_(n1,n2) = R_(n1−m1, n2−m2) (2-axis, dims in fours)",
    method=f"{NORMAL_FORM_METHOD}; d in (4,8,12), group j: pair by m1·θj, pair by m2·θj, symbolic θj",
)
def _two_axis_relative() -> Verdict:
    """Relative position per axis for 2-axis RoPE."""
    m1, m2, n1, n2 = sp.symbols("m1 m2 n1 n2", real=True)

    def one(d):
        th = pair_thetas(d // 4)
        return equal(
            two_axis_rotation(m1, m2, th).T * two_axis_rotation(n1, n2, th),
            two_axis_rotation(n1 - m1, n2 - m2, th),
        )

    return all_hold(one(d) for d in (4, 8, 12))


@LAWS.proof(
    name="three_axis_relative",
    statement="R_(m1,m2,m3)ᵀR_(n1,n2,n3) = R_(n1−m1, n2−m2, n3−m3) (3-axis, dims in sixes)",
    method=f"{NORMAL_FORM_METHOD}; d in (6,12), group j: pairs by m1·θj, m2·θj, m3·θj, symbolic θj",
)
def _three_axis_relative() -> Verdict:
    """Relative position per axis for 3-axis RoPE (axes t, h, w)."""
    (mt, mh, mw), (nt, nh, nw) = axis_positions()

    def one(d):
        th = pair_thetas(d // 6)
        return equal(
            three_axis_rotation(mt, mh, mw, th).T * three_axis_rotation(nt, nh, nw, th),
            three_axis_rotation(nt - mt, nh - mh, nw - mw, th),
        )

    return all_hold(one(d) for d in (6, 12))


# ---------------------------------------------------------------------------
# Long-term decay (RoFormer §3.4.3)
# ---------------------------------------------------------------------------


def abel_identity_holds(pairs: int, sign: int = -1, exponential: bool = False) -> Verdict:
    """Σ_{i<N} h_i z_i = sign * Σ_{i<N} S_{i+1}(h_{i+1} - h_i), h_N = 0, S_j = Σ_{k<j} z_k.

    The true identity (RoFormer §3.4.3, eq. 36) has sign = -1.  With
    ``exponential`` the z_k are e^{i(m-n)θ_k}; otherwise independent symbols.
    """
    N = pairs
    h = list(sp.symbols(f"h0:{N}")) + [sp.Integer(0)]  # complex, h_N = 0
    if exponential:
        m, n = positions()
        z = [sp.exp(sp.I * (m - n) * t) for t in pair_thetas(N)]
    else:
        z = list(sp.symbols(f"z0:{N}"))
    S = [sp.Add(*z[:j]) for j in range(N + 1)]  # S_0 = 0
    lhs = sp.Add(*[h[i] * z[i] for i in range(N)])
    rhs = sign * sp.Add(*[S[i + 1] * (h[i + 1] - h[i]) for i in range(N)])
    return equal(lhs, rhs)


@LAWS.proof(
    name="abel_summation_decay",
    statement="Σ_i h_i e^{i(m−n)θ_i} = −Σ_i S_(i+1)(h_(i+1) − h_i), h_(d/2) = 0, "
    "S_j = Σ_(k<j) e^{i(m−n)θ_k}; hence |Σ_i h_i e^{i(m−n)θ_i}| ≤ "
    "(max_i |h_(i+1) − h_i|) Σ_i |S_(i+1)| by the triangle inequality",
    method=f"polynomial identity with complex symbols h_i, z_k for d/2 = 1..6, and with "
    f"z_k = e^{{i(m−n)θ_k}} for d/2 = 1..3, by {NORMAL_FORM_METHOD}; the bound follows by the "
    f"triangle inequality (numerical mpmath spot check: abel_bound_holds_numerically)",
)
def _abel_summation_decay() -> Verdict:
    """Abel summation of the complex attention score, for independent z_k and for z_k = e^{i(m−n)θ_k}."""
    return all_hold(abel_identity_holds(N) for N in range(1, 7)) and all_hold(
        abel_identity_holds(N, exponential=True) for N in range(1, 4)
    )


def abel_bound_holds_numerically(
    pairs: int = 8, samples: int = 20, seed: int = 0, base: float = 10000.0
) -> bool:
    """Numerical sanity check (mpmath) of the bound that follows from the identity:

    |Σ h_i e^{i(m-n)θ_i}| <= (max_i |h_{i+1} - h_i|) Σ_i |S_{i+1}|,  θ_i = base^{-2i/d}.

    This is a triangle-inequality consequence of the symbolic identity; it is
    *not* what gives ``abel_summation_decay`` its status.
    """
    rng = random.Random(seed)
    mpmath.mp.dps = 30
    d = 2 * pairs
    for _ in range(samples):
        rel = mpmath.mpf(rng.uniform(-200, 200))
        q = [mpmath.mpf(rng.gauss(0, 1)) for _ in range(d)]
        k = [mpmath.mpf(rng.gauss(0, 1)) for _ in range(d)]
        h = [
            mpmath.mpc(q[2 * i], q[2 * i + 1]) * mpmath.conj(mpmath.mpc(k[2 * i], k[2 * i + 1]))
            for i in range(pairs)
        ] + [mpmath.mpc(0)]
        th = [mpmath.power(base, -mpmath.mpf(2 * i) / d) for i in range(pairs)]
        z = [mpmath.expj(rel * t) for t in th]
        S = [mpmath.fsum(z[:j]) for j in range(pairs + 1)]
        lhs = abs(mpmath.fsum(h[i] * z[i] for i in range(pairs)))
        bound = max(abs(h[i + 1] - h[i]) for i in range(pairs)) * mpmath.fsum(
            abs(S[i + 1]) for i in range(pairs)
        )
        if lhs > bound * (1 + mpmath.mpf(10) ** -20):
            return False
    return True
