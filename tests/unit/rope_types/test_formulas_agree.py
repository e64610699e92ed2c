"""One formula per concept: each SymPy formula ``ropecheck.proofs`` proves things about
equals the rope_type record's formula (what the oracle evaluates in mpmath), at random
points drawn with Hypothesis: the proofs' symbols substituted by the drawn numbers and
evaluated to 70 digits, the record's formula in mpmath at 60 digits, relative difference
below 1e-40. The record's formula in SymPy must agree too (it is written against ``Ops``)."""

from __future__ import annotations

import mpmath
import pytest
import sympy as sp
from hypothesis import given, settings
from hypothesis import strategies as st

from ropecheck import proofs, scaling
from ropecheck.proofs import kit
from ropecheck.rope_types import MPMATH
from ropecheck.rope_types import default, dynamic, llama3, longrope, ntk, yarn

SYMPY = kit.SYMPY  # what a record's own laws are handed, too

DIGITS = 60
TOLERANCE = mpmath.mpf(10) ** -40


def test_the_sympy_world_has_every_function_of_ops():
    assert set(vars(SYMPY)) == set(vars(MPMATH)), set(vars(SYMPY)) ^ set(vars(MPMATH))


def sympy_at(expr, **values) -> mpmath.mpf:
    """``expr`` with its free symbols named in ``values`` replaced by the exact numbers, to 70 digits."""
    expr = sp.sympify(expr)
    by_name = {symbol.name: symbol for symbol in expr.free_symbols}
    missing = set(by_name) - set(values)
    assert not missing, f"no value drawn for the proof's symbols {missing}"
    exact = expr.subs({by_name[name]: sp.Rational(v) for name, v in values.items() if name in by_name})
    with mpmath.workdps(DIGITS + 10):
        return mpmath.mpf(str(sp.N(exact, DIGITS + 10)))


def agree(proof_value: mpmath.mpf, record_value) -> None:
    with mpmath.workdps(DIGITS):
        record_value = mpmath.mpf(record_value)
        scale = max(abs(proof_value), abs(record_value), mpmath.mpf(1))
        assert abs(proof_value - record_value) <= TOLERANCE * scale, (proof_value, record_value)


def mp(value) -> mpmath.mpf:
    return mpmath.mpf(value)  # exact: the drawn numbers are floats or ints


BASES = st.floats(1.5, 1e7)
FACTORS = st.floats(1.0, 64.0)
ORIGINALS = st.integers(1, 2**17)
DIMS = st.integers(2, 128).map(lambda h: 2 * h)  # d >= 4


@given(BASES, DIMS, st.data())
def test_pair_inv_freq(base, d, data):
    i = data.draw(st.integers(0, d // 2 - 1))
    with mpmath.workdps(DIGITS):
        mine = default.pair_inv_freq(mp(base), mp(i), mp(d))
    agree(sympy_at(proofs.pair_inv_freq(sp.Rational(base), i, d)), mine)


@given(FACTORS, ORIGINALS, st.integers(1, 2**20))
def test_dynamic_ntk_factor(s, l0, length):
    """g(L) of the proofs at L = max(L, L0), the length the oracle keys on."""
    length = max(length, l0)
    with mpmath.workdps(DIGITS):
        mine = dynamic.dynamic_ntk_factor(mp(s), length, l0)
    agree(sympy_at(proofs.dynamic_ntk_factor(sp.Integer(length)), s=s, L0=l0), mine)
    agree(sympy_at(dynamic.dynamic_ntk_factor(sp.Rational(s), sp.Integer(length), sp.Integer(l0))), mine)


@given(BASES, FACTORS, DIMS)
def test_ntk_base_same_in_sympy_and_mpmath(base, s, d):
    """The proofs state b' = b s**(d/(d-2)) inline (no named function): the record's formula
    in SymPy against it, and in mpmath."""
    with mpmath.workdps(DIGITS):
        mine = ntk.ntk_base(mp(base), mp(s), mp(d))
    b, f = sp.Rational(base), sp.Rational(s)
    agree(sympy_at(b * f ** (sp.Integer(d) / (d - 2))), mine)
    agree(sympy_at(ntk.ntk_base(b, f, sp.Integer(d))), mine)


@given(st.floats(0.25, 128.0), DIMS, BASES, ORIGINALS)
def test_yarn_correction_dim(n_rot, d, base, l0):
    with mpmath.workdps(DIGITS):
        mine = yarn.correction_dim(mp(n_rot), d, mp(base), l0, MPMATH)
    agree(sympy_at(proofs.yarn_correction_dim(sp.Rational(n_rot), sp.Integer(d), sp.Rational(base), sp.Integer(l0))),
          mine)


@given(st.floats(1e-9, 1.0), FACTORS, st.floats(0.0, 1.0), st.booleans())
def test_yarn_blend(theta, s, r, swapped):
    with mpmath.workdps(DIGITS):
        mine = yarn.blend(mp(theta), mp(s), mp(r), swapped=swapped)
    agree(sympy_at(proofs.yarn_blend(sp.Rational(theta), sp.Rational(r), swapped=swapped), s=s), mine)


@given(st.floats(1.0, 64.0, exclude_min=True), st.floats(0.0, 2.0))
def test_yarn_mscale(s, m):
    with mpmath.workdps(DIGITS):
        mine = yarn.mscale(mp(s), mp(m), MPMATH)
    agree(sympy_at(proofs.yarn_mscale(sp.Rational(s), sp.Rational(m))), mine)
    agree(sympy_at(yarn.mscale(sp.Rational(s), sp.Rational(m), SYMPY)), mine)


@given(st.floats(0.25, 4.0), st.sampled_from((2.0, 4.0, 8.0, 1.5)), ORIGINALS, st.floats(1.0, 1e6), st.booleans())
def test_llama3_smooth_factor(lf, ratio, l0, wavelen, swapped):
    hf = lf * ratio
    with mpmath.workdps(DIGITS):
        low, high = (mp(hf), mp(lf)) if swapped else (mp(lf), mp(hf))
        mine = llama3.smooth_factor(mp(wavelen), l0, low, high)
    agree(sympy_at(proofs.llama3_smooth_factor(sp.Rational(wavelen), swapped=swapped), L0=l0, lf=lf, hf=hf), mine)


@given(st.floats(0.25, 4.0), st.sampled_from((2.0, 4.0, 8.0, 1.5)), ORIGINALS, st.floats(1.0, 1e6), FACTORS)
def test_llama3_smoothed_inv_freq(lf, ratio, l0, wavelen, s):
    """The proofs take theta = 2 pi / lambda; the oracle passes theta_i and its wavelength."""
    hf = lf * ratio
    with mpmath.workdps(DIGITS):
        theta = 2 * mpmath.pi / mp(wavelen)
        mine = llama3.smoothed_inv_freq(theta, mp(s), llama3.smooth_factor(mp(wavelen), l0, mp(lf), mp(hf)))
    agree(sympy_at(proofs.llama3_smoothed_inv_freq(sp.Rational(wavelen)), L0=l0, lf=lf, hf=hf, s=s), mine)


@given(st.floats(1.0, 64.0, exclude_min=True), st.integers(2, 2**17))
def test_longrope_attention_scale(s, l0):
    """The proofs check sqrt(1 + ln s / ln L0) inline (``longrope_is_per_pair_linear``)."""
    with mpmath.workdps(DIGITS):
        mine = longrope.attention_scale(mp(s), l0, MPMATH)
    agree(sympy_at(sp.sqrt(1 + sp.log(sp.Rational(s)) / sp.log(sp.Integer(l0)))), mine)
    agree(sympy_at(longrope.attention_scale(sp.Rational(s), sp.Integer(l0), SYMPY)), mine)


@pytest.mark.parametrize("name", ["pair_inv_freq", "dynamic_ntk_factor", "yarn_blend", "yarn_correction_dim",
                                  "yarn_mscale", "llama3_smooth_factor", "llama3_smoothed_inv_freq"])
def test_the_proofs_still_export_the_formulas_compared_here(name):
    assert callable(getattr(proofs, name, None)), f"ropecheck.proofs.{name} is gone: compare its successor here"


# ---------------------------------------------------------------- the oracle evaluates the proofs' formulas

ORACLE_EXAMPLES = settings(max_examples=20)


def oracle_frequencies(base, d, sc, length) -> list[mpmath.mpf]:
    """The oracle's theta'_i (radians per position) from its double-double turns."""
    hi, lo = scaling.turns(base, d, sc, length)
    with mpmath.workdps(DIGITS):
        return [(mp(h) + mp(l)) * 2 * mpmath.pi for h, l in zip(hi, lo)]


def agree_to_double_double(proof_value: mpmath.mpf, oracle_value: mpmath.mpf) -> None:
    assert abs(proof_value - oracle_value) <= mpmath.mpf(2) ** -100 * abs(proof_value), (proof_value, oracle_value)


@ORACLE_EXAMPLES
@given(BASES, st.integers(2, 16).map(lambda h: 2 * h), FACTORS, st.sampled_from((16, 256, 4096)), st.integers(1, 2**16))
def test_oracle_dynamic_frequencies_are_the_proofs(base, d, s, l0, length):
    sc = {"rope_type": "dynamic", "factor": s, "original_max_position_embeddings": l0}
    g = proofs.dynamic_ntk_factor(sp.Integer(max(length, l0)))
    new_base = sp.Rational(base) * g ** sp.Rational(d, d - 2)
    for i, mine in enumerate(oracle_frequencies(base, d, sc, length)):
        agree_to_double_double(sympy_at(proofs.pair_inv_freq(new_base, i, d), s=s, L0=l0), mine)


@ORACLE_EXAMPLES
@given(BASES, st.integers(2, 16).map(lambda h: 2 * h), FACTORS, st.sampled_from((16, 256, 8192)),
       st.sampled_from((1.0, 0.5, 2.0)), st.sampled_from((2.0, 4.0, 8.0)))
def test_oracle_llama3_frequencies_are_the_proofs(base, d, s, l0, lf, ratio):
    hf = lf * ratio
    sc = {"rope_type": "llama3", "factor": s, "original_max_position_embeddings": l0, "low_freq_factor": lf,
          "high_freq_factor": hf}
    for i, mine in enumerate(oracle_frequencies(base, d, sc, 1)):
        theta = sp.Rational(base) ** sp.Rational(-2 * i, d)
        wavelen = 2 * sp.pi / theta
        if sympy_at(wavelen) > sympy_at(sp.Integer(l0) / sp.Rational(lf)):
            expected = theta / sp.Rational(s)
        elif sympy_at(wavelen) >= sympy_at(sp.Integer(l0) / sp.Rational(hf)):
            expected = proofs.llama3_smoothed_inv_freq(wavelen)
        else:
            expected = theta
        agree_to_double_double(sympy_at(expected, s=s, L0=l0, lf=lf, hf=hf), mine)


@ORACLE_EXAMPLES
@given(BASES, st.integers(2, 16).map(lambda h: 2 * h), FACTORS, st.sampled_from((16, 256, 8192)),
       st.sampled_from((32.0, 16.0)), st.sampled_from((1.0, 2.0)), st.booleans())
def test_oracle_yarn_frequencies_are_the_proofs(base, d, s, l0, fast, slow, truncate):
    """The ramp's ends from the proofs' correction dim (then HF's floor/ceil and clamp), the
    blend from the proofs' ``yarn_blend``."""
    sc = {"rope_type": "yarn", "factor": s, "original_max_position_embeddings": l0, "beta_fast": fast,
          "beta_slow": slow, "truncate": truncate}
    dim = lambda n_rot: sympy_at(proofs.yarn_correction_dim(sp.Rational(n_rot), sp.Integer(d),  # noqa: E731
                                                            sp.Rational(base), sp.Integer(l0)))
    with mpmath.workdps(DIGITS):
        low, high = dim(fast), dim(slow)
        if truncate:
            low, high = mpmath.floor(low), mpmath.ceil(high)
        low, high = max(low, mp(0)), min(high, mp(d - 1))
        if low == high:
            high += mpmath.mpf("0.001")
    for i, mine in enumerate(oracle_frequencies(base, d, sc, 1)):
        with mpmath.workdps(DIGITS):
            r = min(max((i - low) / (high - low), mp(0)), mp(1))
        theta = sp.Rational(base) ** sp.Rational(-2 * i, d)
        expected = proofs.yarn_blend(theta, sp.Float(r, DIGITS + 10))
        agree_to_double_double(sympy_at(expected, s=s), mine)
