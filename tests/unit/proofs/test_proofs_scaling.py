"""Tests for ropecheck.proofs.scaling_laws: the scaling laws hold, and plausible wrong
versions of each law are refused."""

from __future__ import annotations

import pytest
import sympy as sp

from ropecheck import proofs
from ropecheck.proofs import (
    Proof,
    ProofResult,
    equal,
    run_proof,
)

m = sp.Symbol("m", real=True)


# --------------------------------------------------------------------------
# Plausible wrong versions of each scaling law are refused
# --------------------------------------------------------------------------


def _refused(check) -> ProofResult:
    """Run a wrong law through run_proof: it must fail with a residual."""
    result = run_proof(Proof("wrong", "wrong law", "test", check))
    assert result.status == "failed", f"wrong law got status {result.status}: {result.detail}"
    assert result.detail, "a refused law must report the residual"
    return result


@pytest.mark.parametrize("d", [2, 4, 6, 8])
def test_linear_scaling_multiplying_is_refused(d):
    assert proofs.linear_scaling_holds(d), f"linear scaling not proved for d={d}"
    assert not proofs.linear_scaling_holds(d, divide=False), (
        f"inv_freq·s accepted as position interpolation m/s for d={d}"
    )


def test_ntk_wrong_exponent_is_refused():
    assert proofs.ntk_ends_hold(), "NTK end conditions not proved with d/(d-2)"
    result = _refused(lambda: proofs.ntk_ends_hold(lambda d: d / (d - 1)))
    assert "s" in result.detail


def test_ntk_wrong_exponent_keeps_highest_but_not_lowest():
    # With d/(d-1) the highest frequency is still 1 -- only the lowest is off.
    s, bb = sp.symbols("s b", positive=True)
    for d in (4, 8, 16, 64, 128):
        wrong_base = bb * s ** sp.Rational(d, d - 1)
        last = d // 2 - 1
        assert proofs.simplifies_to_zero(proofs.pair_inv_freq(wrong_base, 0, d) - 1)
        assert not proofs.simplifies_to_zero(
            proofs.pair_inv_freq(wrong_base, last, d) - proofs.pair_inv_freq(bb, last, d) / s
        ), f"d/(d-1) exponent divided the lowest frequency by exactly s at d={d}"


def test_dynamic_ntk_without_shift_is_refused():
    assert proofs.dynamic_ntk_holds()
    _refused(lambda: proofs.dynamic_ntk_holds(shift=False))


def test_yarn_swapped_blend_is_refused():
    assert proofs.yarn_ramp_holds()
    result = _refused(lambda: proofs.yarn_ramp_holds(swapped=True))
    assert "s" in result.detail


@pytest.mark.parametrize(
    "wrong",
    [
        lambda n, d, b_, L0: d * sp.log(L0 / (n * 2 * sp.pi)) / sp.log(b_),  # lost the 1/2
        lambda n, d, b_, L0: d * sp.log(L0 / n) / (2 * sp.log(b_)),  # lost the 2π
        lambda n, d, b_, L0: d * sp.log(n * 2 * sp.pi / L0) / (2 * sp.log(b_)),  # inverted
    ],
    ids=["no_half", "no_2pi", "inverted"],
)
def test_yarn_wrong_correction_dim_is_refused(wrong):
    assert proofs.yarn_correction_dim_holds()
    _refused(lambda: proofs.yarn_correction_dim_holds(wrong))


@pytest.mark.parametrize("layout,d", [("interleaved", 2), ("interleaved", 4), ("half_split", 4)])
@pytest.mark.parametrize("which", ["cos_only", "sin_only"])
def test_attention_factor_on_one_of_cos_sin_is_refused(layout, d, which):
    kw = {"scale_sin": False} if which == "cos_only" else {"scale_cos": False}
    assert proofs.yarn_scaled_scores_hold(d, layout=layout)
    assert not proofs.yarn_scaled_scores_hold(d, layout=layout, **kw), (
        f"{which} attention factor accepted as scaling scores by a² ({layout}, d={d})"
    )
    assert not proofs.yarn_scaled_embedding_holds(d, layout=layout, **kw), (
        f"{which} attention factor accepted as a·R_m ({layout}, d={d})"
    )


def test_attention_factor_on_cos_only_is_not_a_scaled_rotation():
    x = sp.Matrix(sp.symbols("x0 x1", real=True))
    th = [sp.Symbol("theta0", positive=True)]
    att = sp.Symbol("att", positive=True)
    M = proofs.yarn_scaled_embed(x, m, th, scale_sin=False).jacobian(x)
    assert not equal(M.T * M, att**2 * sp.eye(2)), "cos-only scaling gave MᵀM = a²I"
    assert not equal(M.T * M, sp.eye(2)), "cos-only scaling gave MᵀM = I"
    good = proofs.yarn_scaled_embed(x, m, th).jacobian(x)
    assert equal(good.T * good, att**2 * sp.eye(2)), "scaled cos and sin must give MᵀM = a²I"


def test_yarn_mscale_pair_differs_when_mscales_differ():
    s = sp.Symbol("s", positive=True)
    mu, mu_all = sp.symbols("mscale mscale_all_dim", positive=True)
    assert not proofs.simplifies_to_zero(
        proofs.yarn_mscale(s, mu) / proofs.yarn_mscale(s, mu_all) - 1
    ), "mscale/mscale_all_dim ratio accepted as 1 for distinct mscales"


def test_llama3_swapped_bands_are_refused():
    assert proofs.llama3_bands_hold()
    _refused(lambda: proofs.llama3_bands_hold(swapped=True))


@pytest.mark.parametrize("d", [2, 4])
def test_longrope_multiplying_is_refused(d):
    assert proofs.longrope_holds(d)
    assert not proofs.longrope_holds(d, divide=False), f"θ_i·f_i accepted as per-pair m/f_i for d={d}"


@pytest.mark.parametrize("sections", [(1, 1, 1), (1, 2, 3), (2, 2, 2)])
def test_mrope_all_axes_temporal_is_refused(sections):
    assert proofs.mrope_relative_holds(sections)
    assert not proofs.mrope_relative_holds(sections, position_axis=lambda k: 0), (
        f"M-RoPE using m_t for every section accepted as relative per axis, sections={sections}"
    )


def test_mrope_permuted_axes_is_refused():
    assert not proofs.mrope_relative_holds((1, 2, 3), position_axis=lambda k: (k + 1) % 3)


@pytest.mark.parametrize("sections", [(1, 1, 1), (1, 2, 3)])
def test_mrope_theta_restarted_per_section_is_refused(sections):
    assert proofs.mrope_text_reduces_holds(sections)
    assert not proofs.mrope_text_reduces_holds(sections, restart_per_section=True), (
        f"θ restarted per section accepted as ordinary 1-D RoPE for text, sections={sections}"
    )
