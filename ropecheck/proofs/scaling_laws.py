"""Long-context scaling laws of RoPE, each proved by SymPy and catalogued where it is defined.

Semantics of HF transformers' ``modeling_rope_utils.py``: linear (position
interpolation), static and dynamic NTK, YaRN (ramp, correction dim, attention
factor / mscale), Llama 3 frequency bands, LongRoPE, and M-RoPE (Qwen2-VL).

Scalar laws about inverse frequencies are decided by
:func:`~ropecheck.proofs.decide.simplifies_to_zero` (SymPy rewrites that are
equivalences under the symbols' assumptions); rotation-matrix laws by
:func:`~ropecheck.proofs.decide.equal`.  Each formula takes the part an
implementation could get wrong (``divide``, ``exponent``, ``shift``,
``swapped``, ``scale_cos``, ``position_axis`` ...) so that tests can show the
wrong version fails.
"""

from __future__ import annotations

from typing import Callable, Sequence

import sympy as sp

from ropecheck.proofs.catalogue import Catalogue
from ropecheck.proofs.decide import (
    NORMAL_FORM_METHOD,
    Verdict,
    all_hold,
    equal,
    simplifies_to_zero,
)
from ropecheck.proofs.symbols import (
    CONCRETE_DIMS,
    CONCRETE_DIMS_METHOD,
    axis_positions,
    block_rotation,
    half_split_cos_sin,
    half_split_rotation,
    interleaved_cos_sin,
    mrope_rotation,
    pair_thetas,
    pairwise_quarter_turn,
    positions,
    real_vector,
    rotate_half,
    rotation,
)

__all__ = [
    "LAWS",
    "MROPE_CASES",
    "SCALING_DIMS",
    "dynamic_ntk_factor",
    "dynamic_ntk_holds",
    "linear_scaling_holds",
    "llama3_bands_hold",
    "llama3_smooth_factor",
    "llama3_smoothed_inv_freq",
    "longrope_holds",
    "mrope_relative_holds",
    "mrope_text_reduces_holds",
    "ntk_ends_hold",
    "pair_inv_freq",
    "yarn_blend",
    "yarn_correction_dim",
    "yarn_correction_dim_holds",
    "yarn_mscale",
    "yarn_ramp_holds",
    "yarn_scaled_embed",
    "yarn_scaled_embedding_holds",
    "yarn_scaled_scores_hold",
]

LAWS = Catalogue()


#: Concrete rotary dims at which laws quantified over the pair index are re-checked.
SCALING_DIMS: tuple[int, ...] = (4, 8, 16, 64, 128)
_SCALING_DIMS_TEXT = f"({','.join(map(str, SCALING_DIMS))})"

#: (d, sections) for the M-RoPE checks: 3 axes (t, h, w).
MROPE_CASES: tuple[tuple[int, tuple[int, ...]], ...] = (
    (6, (1, 1, 1)),
    (12, (1, 2, 3)),
    (12, (2, 2, 2)),
)

# The HF parameters as private symbols: positive base b, factor s, original
# context L0, llama3 low/high frequency factors lf/hf, YaRN rotation count
# n_rot, attention factor att and mscales; real pair index i and ramp ends
# low/high; delta = d - 2 for a symbolic rotary dim.
_base, _s, _L0 = sp.symbols("b s L0", positive=True)
_delta = sp.Symbol("delta", positive=True)  # symbolic rotary dim d = delta + 2 > 2
_lf, _hf, _nrot = sp.symbols("lf hf n_rot", positive=True)
_att = sp.Symbol("att", positive=True)  # attention factor a
_i, _low, _high = sp.symbols("i low high", real=True)
_mu, _mu_all = sp.symbols("mscale mscale_all_dim", positive=True)


def pair_inv_freq(base, i, d):
    """Unscaled inverse frequency θ_i = base^(−2i/d) of pair i."""
    return sp.sympify(base) ** (-2 * sp.sympify(i) / sp.sympify(d))


# ---------------------------------------------------------------------------
# Linear (position interpolation)
# ---------------------------------------------------------------------------


def linear_scaling_holds(d: int, divide: bool = True) -> Verdict:
    """HF "linear": inv_freq θ_i/s is position interpolation m -> m/s.

    block_rotation(m, θ/s) = block_rotation(m/s, θ) and, under the scaled
    frequencies, R'_mᵀR'_n = block_rotation((n−m)/s, θ).  ``divide=False``
    is the bug θ_i·s.
    """
    m, n = positions()
    th = pair_thetas(d // 2)
    scaled = [t / _s if divide else t * _s for t in th]
    R = lambda p: block_rotation(p, scaled)  # noqa: E731
    return equal(R(m), block_rotation(m / _s, th)) and equal(
        R(m).T * R(n), block_rotation((n - m) / _s, th)
    )


@LAWS.proof(
    name="linear_scaling_is_position_interpolation",
    statement="block_rotation(m, θ/s) = block_rotation(m/s, θ) and R'_mᵀR'_n = R_((n−m)/s) "
    "(HF linear: inv_freq /= s)",
    method=f"{NORMAL_FORM_METHOD}; {CONCRETE_DIMS_METHOD}, positive symbolic s",
)
def _linear_scaling() -> Verdict:
    """Linear scaling is position interpolation, at every concrete dim."""
    return all_hold(linear_scaling_holds(d) for d in CONCRETE_DIMS)


# ---------------------------------------------------------------------------
# Static NTK-aware
# ---------------------------------------------------------------------------


def _ntk_default_exponent(d):
    return d / (d - 2)


def ntk_ends_hold(exponent: Callable | None = None) -> Verdict:
    """Static NTK base b' = b·s^(e(d)), e(d) = d/(d−2) by default.

    Checks θ'_0 = θ_0 = 1 and θ'_(d/2−1) = θ_(d/2−1)/s for symbolic d > 2
    (d = δ + 2, δ > 0) and for every d in :data:`SCALING_DIMS`.
    """
    exponent = exponent or _ntk_default_exponent

    def ends(d):
        new_base = _base * _s ** exponent(d)
        last = d / 2 - 1
        return simplifies_to_zero(pair_inv_freq(new_base, 0, d) - 1) and simplifies_to_zero(
            pair_inv_freq(new_base, last, d) - pair_inv_freq(_base, last, d) / _s
        )

    return ends(_delta + 2) and all_hold(ends(sp.Integer(d)) for d in SCALING_DIMS)


def _ntk_per_pair() -> Verdict:
    """θ'_i = θ_i · s^(−2i/(d−2)) for symbolic i, symbolic d > 2 and concrete d."""

    def one(d):
        new_base = _base * _s ** _ntk_default_exponent(d)
        return simplifies_to_zero(
            pair_inv_freq(new_base, _i, d) - pair_inv_freq(_base, _i, d) * _s ** (-2 * _i / (d - 2))
        )

    return one(_delta + 2) and all_hold(one(sp.Integer(d)) for d in SCALING_DIMS)


@LAWS.proof(
    name="ntk_keeps_highest_divides_lowest",
    statement="b' = b·s^(d/(d−2)) ⇒ θ'_i = θ_i·s^(−2i/(d−2)); θ'_0 = θ_0 = 1, "
    "θ'_(d/2−1) = θ_(d/2−1)/s",
    method="θ_i = b^(−2i/d) with positive b, s; symbolic d = δ + 2 (δ > 0) and d in "
    f"{_SCALING_DIMS_TEXT}, symbolic real i for the per-pair law; lhs − rhs reduced to 0 by "
    "expand / powsimp(expand_power_base) / simplify / simplify(expand_log) "
    "(no force=True)",
)
def _ntk_keeps_highest() -> Verdict:
    """Static NTK keeps θ_0, divides θ_(d/2−1) by s, and scales θ_i by s^(−2i/(d−2))."""
    return ntk_ends_hold() and _ntk_per_pair()


# ---------------------------------------------------------------------------
# Dynamic NTK
# ---------------------------------------------------------------------------


def dynamic_ntk_factor(L, shift: bool = True):
    """HF "dynamic": g(L) = s·L/L0 − (s−1); ``shift=False`` drops the −(s−1)."""
    g = _s * L / _L0
    return g - (_s - 1) if shift else g


@LAWS.proof(
    name="dynamic_ntk_reduces_to_unscaled_and_ntk",
    statement="g(L) = s·L/L0 − (s−1), b'(L) = b·g(L)^(d/(d−2)): b'(L0) = b; "
    "g((2s−1)L0/s) = s, so b'((2s−1)L0/s) = b·s^(d/(d−2)) (static NTK base)",
    method="positive symbolic b, s, L0; symbolic d = δ + 2 (δ > 0); lhs − rhs reduced to 0 by "
    "simplifies_to_zero (SymPy equivalence rewrites, no force=True)",
)
def dynamic_ntk_holds(shift: bool = True) -> Verdict:
    """b'(L) = b·g(L)^(d/(d−2)): b'(L0) = b; g((2s−1)L0/s) = s, so b' there = b·s^(d/(d−2))."""
    d = _delta + 2
    base_at = lambda L: _base * dynamic_ntk_factor(L, shift) ** (d / (d - 2))  # noqa: E731
    L_star = (2 * _s - 1) * _L0 / _s
    return (
        simplifies_to_zero(base_at(_L0) - _base)
        and simplifies_to_zero(dynamic_ntk_factor(L_star, shift) - _s)
        and simplifies_to_zero(base_at(L_star) - _base * _s ** (d / (d - 2)))
    )


# ---------------------------------------------------------------------------
# YaRN: ramp and correction dim
# ---------------------------------------------------------------------------


def yarn_blend(theta, r, swapped: bool = False):
    """HF yarn: θ/s·r + θ·(1−r) (r = ramp); ``swapped`` is θ·r + θ/s·(1−r)."""
    if swapped:
        return theta * r + theta / _s * (1 - r)
    return theta / _s * r + theta * (1 - r)


def yarn_ramp_holds(swapped: bool = False) -> Verdict:
    """Ends and continuity of the YaRN blend with r_i = clamp((i−low)/(high−low), 0, 1).

    r = 0 gives θ, r = 1 gives θ/s; the linear piece at i = low (i = high)
    equals the constant piece r = 0 (r = 1), both as ramp value and as blended
    inv_freq.  θ is symbolic θ_i = b^(−2i/d) (symbolic i, d = δ + 2).
    """
    d = _delta + 2
    theta = pair_inv_freq(_base, _i, d)
    linear = (_i - _low) / (_high - _low)
    at = lambda i0: linear.subs(_i, i0)  # noqa: E731
    th_at = lambda i0: theta.subs(_i, i0)  # noqa: E731
    blend = lambda th, r: yarn_blend(th, r, swapped)  # noqa: E731
    return (
        simplifies_to_zero(blend(theta, 0) - theta)
        and simplifies_to_zero(blend(theta, 1) - theta / _s)
        and simplifies_to_zero(at(_low) - 0)
        and simplifies_to_zero(at(_high) - 1)
        and simplifies_to_zero(blend(th_at(_low), at(_low)) - blend(th_at(_low), 0))
        and simplifies_to_zero(blend(th_at(_high), at(_high)) - blend(th_at(_high), 1))
        and simplifies_to_zero(blend(th_at(_low), at(_low)) - th_at(_low))
        and simplifies_to_zero(blend(th_at(_high), at(_high)) - th_at(_high) / _s)
    )


def yarn_correction_dim(n_rot, d, base, L0):
    """HF find_correction_dim (untruncated): d·ln(L0/(n_rot·2π)) / (2 ln b)."""
    return d * sp.log(L0 / (n_rot * 2 * sp.pi)) / (2 * sp.log(base))


def yarn_correction_dim_holds(correction_dim: Callable | None = None) -> Verdict:
    """θ_i·L0/(2π) = n_rot at i = correction_dim(n_rot, d, b, L0), symbolic d > 2 and concrete d."""
    correction_dim = correction_dim or yarn_correction_dim

    def one(d):
        i0 = correction_dim(_nrot, d, _base, _L0)
        return simplifies_to_zero(pair_inv_freq(_base, i0, d) * _L0 / (2 * sp.pi) - _nrot)

    return one(_delta + 2) and all_hold(one(sp.Integer(d)) for d in SCALING_DIMS)


@LAWS.proof(
    name="yarn_ramp_continuous_and_ends",
    statement="θ'_i = θ_i/s·r_i + θ_i·(1−r_i), r_i = clamp((i−low)/(high−low), 0, 1): r = 0 ⇒ θ, "
    "r = 1 ⇒ θ/s; linear piece = constant piece at i = low (θ_low) and i = high "
    "(θ_high/s); θ_i·L0/(2π) = n_rot at i = d·ln(L0/(2π n_rot))/(2 ln b)",
    method="θ_i = b^(−2i/d), symbolic real i, low, high, positive b, s, L0, n_rot, symbolic "
    f"d = δ + 2 (δ > 0) and d in {_SCALING_DIMS_TEXT} for the correction dim (untruncated, "
    "i.e. before HF's floor/ceil and clamp); lhs − rhs reduced to 0 by simplifies_to_zero",
)
def _yarn_ramp() -> Verdict:
    """The YaRN ramp blends continuously between θ and θ/s, and the correction dim is right."""
    return yarn_ramp_holds() and yarn_correction_dim_holds()


# ---------------------------------------------------------------------------
# YaRN / LongRoPE: attention factor
# ---------------------------------------------------------------------------


def yarn_scaled_embed(
    x: sp.Matrix,
    p,
    thetas: Sequence,
    scale_cos: bool = True,
    scale_sin: bool = True,
    layout: str = "interleaved",
) -> sp.Matrix:
    """x⊙(a·cos pθ) + rotate(x)⊙(a·sin pθ), a = attention factor (HF yarn/longrope).

    ``layout`` "interleaved" uses pairwise_quarter_turn and (cos pθ0, cos pθ0, ...);
    "half_split" uses rotate_half and (cos pθ0..cos pθ_(h−1), same again).
    ``scale_cos``/``scale_sin`` False leave that factor unscaled (the bug).

    Args:
        x (sp.Matrix): shape ``[d, 1]`` in the given layout.
        p: position.
        thetas: per-pair frequencies, length ``d/2``.
    Returns:
        sp.Matrix: shape ``[d, 1]``.
    """
    if layout == "interleaved":
        cos_v, sin_v = interleaved_cos_sin(p, thetas)
        r = pairwise_quarter_turn(x)
    elif layout == "half_split":
        cos_v, sin_v = half_split_cos_sin(p, thetas)
        r = rotate_half(x)
    else:
        raise ValueError(f"unknown layout {layout!r}")
    ac = _att if scale_cos else 1
    as_ = _att if scale_sin else 1
    return sp.Matrix([x[j] * ac * cos_v[j] + r[j] * as_ * sin_v[j] for j in range(len(x))])


def _layout_rotation(thetas: Sequence, layout: str) -> Callable:
    """p -> R_p in ``layout``: block_rotation (interleaved) or P R_p Pᵀ (half-split)."""
    if layout == "interleaved":
        return lambda p: block_rotation(p, thetas)
    return lambda p: half_split_rotation(p, thetas)


def yarn_scaled_embedding_holds(
    d: int, scale_cos: bool = True, scale_sin: bool = True, layout: str = "interleaved"
) -> Verdict:
    """yarn_scaled_embed(x, m) = a·R_m x (R = block_rotation, or P R Pᵀ for half-split)."""
    m, _ = positions()
    th = pair_thetas(d // 2)
    x = real_vector("x", d)
    R = _layout_rotation(th, layout)
    return equal(yarn_scaled_embed(x, m, th, scale_cos, scale_sin, layout), _att * R(m) * x)


def yarn_scaled_scores_hold(
    d: int, scale_cos: bool = True, scale_sin: bool = True, layout: str = "interleaved"
) -> Verdict:
    """embed(q, m)ᵀ embed(k, n) = a²·qᵀR_(n−m)k for the scaled cos/sin embedding."""
    m, n = positions()
    th = pair_thetas(d // 2)
    q, k = real_vector("q", d), real_vector("k", d)
    R = _layout_rotation(th, layout)
    emb = lambda x, p: yarn_scaled_embed(x, p, th, scale_cos, scale_sin, layout)  # noqa: E731
    return equal((emb(q, m).T * emb(k, n))[0, 0], _att**2 * (q.T * R(n - m) * k)[0, 0])


def yarn_mscale(s, mscale=1):
    """HF get_mscale for s > 1: 0.1·mscale·ln s + 1 (exact 1/10)."""
    return sp.Rational(1, 10) * mscale * sp.log(s) + 1


@LAWS.proof(
    name="yarn_attention_factor_scales_scores_by_square",
    statement="x⊙(a·cos mθ) + rotate(x)⊙(a·sin mθ) = a·R_m x, so its scores are a²·qᵀR_(n−m)k; "
    "0.1·ln s + 1 = 1 at s = 1; (0.1·μ·ln s + 1)/(0.1·μ_all·ln s + 1) = 1 at μ = μ_all",
    method=f"{NORMAL_FORM_METHOD}; interleaved layout for {CONCRETE_DIMS_METHOD}, half-split "
    f"(HF rotate_half, P R Pᵀ) for d in (4,8), positive symbolic a; attention factors by "
    f"simplifies_to_zero with exact 1/10",
)
def _yarn_attention_factor() -> Verdict:
    """cos and sin scaled by a scale the embedding by a and the scores by a²; mscale is 1 at s = 1."""
    both_layouts = all_hold(
        yarn_scaled_embedding_holds(d) and yarn_scaled_scores_hold(d) for d in CONCRETE_DIMS
    ) and all_hold(
        yarn_scaled_embedding_holds(d, layout="half_split")
        and yarn_scaled_scores_hold(d, layout="half_split")
        for d in (4, 8)
    )
    return (
        both_layouts
        and simplifies_to_zero(yarn_mscale(_s).subs(_s, 1) - 1)
        and simplifies_to_zero((yarn_mscale(_s, _mu) / yarn_mscale(_s, _mu_all)).subs(_mu_all, _mu) - 1)
    )


# ---------------------------------------------------------------------------
# Llama 3
# ---------------------------------------------------------------------------


def llama3_smooth_factor(wavelen, swapped: bool = False):
    """HF llama3: (L0/λ − lf)/(hf − lf); ``swapped``: (L0/λ − hf)/(lf − hf)."""
    if swapped:
        return (_L0 / wavelen - _hf) / (_lf - _hf)
    return (_L0 / wavelen - _lf) / (_hf - _lf)


def llama3_smoothed_inv_freq(wavelen, swapped: bool = False):
    """(1 − sm)·θ/s + sm·θ with θ = 2π/λ."""
    theta = 2 * sp.pi / wavelen
    sm = llama3_smooth_factor(wavelen, swapped)
    return (1 - sm) * theta / _s + sm * theta


@LAWS.proof(
    name="llama3_bands_continuous_and_ends",
    statement="sm = (L0/λ − lf)/(hf − lf), θ' = (1−sm)·θ/s + sm·θ, θ = 2π/λ: θ' = θ at "
    "λ = L0/hf (high-frequency band), θ' = θ/s at λ = L0/lf (low-frequency band)",
    method="positive symbolic λ, L0, lf, hf, s; lhs − rhs reduced to 0 by simplifies_to_zero",
)
def llama3_bands_hold(swapped: bool = False) -> Verdict:
    """Smooth band meets θ at λ = L0/hf and θ/s at λ = L0/lf (θ = 2π/λ)."""
    theta = lambda lam: 2 * sp.pi / lam  # noqa: E731
    at_high = _L0 / _hf  # high_freq_wavelen
    at_low = _L0 / _lf  # low_freq_wavelen
    return simplifies_to_zero(
        llama3_smoothed_inv_freq(at_high, swapped) - theta(at_high)
    ) and simplifies_to_zero(llama3_smoothed_inv_freq(at_low, swapped) - theta(at_low) / _s)


# ---------------------------------------------------------------------------
# LongRoPE
# ---------------------------------------------------------------------------


def longrope_holds(d: int, divide: bool = True) -> Verdict:
    """θ'_i = θ_i/f_i: pair i is linear interpolation m -> m/f_i, and R'_mᵀR'_n = R'_(n−m).

    ``divide=False`` is the bug θ_i·f_i.
    """
    m, n = positions()
    th = pair_thetas(d // 2)
    f = list(sp.symbols(f"f0:{d // 2}", positive=True))
    scaled = [t / fi if divide else t * fi for t, fi in zip(th, f)]
    R = lambda p: block_rotation(p, scaled)  # noqa: E731
    per_pair = sp.diag(*[rotation((m / fi) * t) for t, fi in zip(th, f)])
    return equal(R(m), per_pair) and equal(R(m).T * R(n), R(n - m))


@LAWS.proof(
    name="longrope_is_per_pair_linear",
    statement="block_rotation(m, θ_i/f_i) = diag_i R((m/f_i)·θ_i), R'_mᵀR'_n = R'_(n−m); "
    "√(1 + ln s/ln L0) = 1 at s = 1",
    method=f"{NORMAL_FORM_METHOD}; {CONCRETE_DIMS_METHOD}, positive symbolic f_i; attention factor by "
    "simplifies_to_zero",
)
def _longrope() -> Verdict:
    """LongRoPE is per-pair linear interpolation, and its attention factor is 1 at s = 1."""
    return all_hold(longrope_holds(d) for d in CONCRETE_DIMS) and simplifies_to_zero(
        sp.sqrt(1 + sp.log(_s) / sp.log(_L0)).subs(_s, 1) - 1
    )


# ---------------------------------------------------------------------------
# M-RoPE (Qwen2-VL)
# ---------------------------------------------------------------------------


def mrope_relative_holds(
    sections: Sequence[int], position_axis: Callable[[int], int] | None = None
) -> Verdict:
    """R(m_t,m_h,m_w)ᵀR(n_t,n_h,n_w) = R_spec(n_t−m_t, n_h−m_h, n_w−m_w).

    The left side uses ``position_axis`` (the implementation under test), the
    right side always the specification (section k uses axis k).
    """
    (mt, mh, mw), (nt, nh, nw) = axis_positions()
    th = pair_thetas(sum(sections))
    impl = lambda p: mrope_rotation(p, th, sections, position_axis)  # noqa: E731
    return equal(
        impl((mt, mh, mw)).T * impl((nt, nh, nw)),
        mrope_rotation((nt - mt, nh - mh, nw - mw), th, sections),
    )


def mrope_text_reduces_holds(sections: Sequence[int], restart_per_section: bool = False) -> Verdict:
    """R(m, m, m) = block_rotation(m, θ) (text tokens get ordinary 1-D RoPE)."""
    m, _ = positions()
    th = pair_thetas(sum(sections))
    return equal(
        mrope_rotation((m, m, m), th, sections, restart_per_section=restart_per_section),
        block_rotation(m, th),
    )


@LAWS.proof(
    name="mrope_relative_per_axis",
    statement="M-RoPE (3 axes t,h,w; section k rotated by m_k·θ_j): "
    "R(m_t,m_h,m_w)ᵀR(n_t,n_h,n_w) = R(n_t−m_t, n_h−m_h, n_w−m_w); R(m,m,m) = R_m (1-D)",
    method=f"{NORMAL_FORM_METHOD}; (d, sections) in (6,(1,1,1)), (12,(1,2,3)), (12,(2,2,2)), θ_j indexed over "
    f"all d/2 pairs, symbolic θ_j and real positions",
)
def _mrope() -> Verdict:
    """M-RoPE is relative per axis and reduces to 1-D RoPE for text tokens."""
    return all_hold(
        mrope_relative_holds(sec) and mrope_text_reduces_holds(sec) for _d, sec in MROPE_CASES
    )
