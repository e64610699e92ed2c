"""Tests for ropecheck.proofs: every catalogued proof goes through, and the
decision procedure refuses false statements."""

from __future__ import annotations

import ast
import pathlib
import time

import pytest
import sympy as sp

from ropecheck import proofs
from ropecheck.proofs import (
    PROOFS,
    Proof,
    ProofResult,
    abel_bound_holds_numerically,
    abel_identity_holds,
    block_rotation,
    equal,
    half_split_identity_holds,
    half_split_permutation,
    is_zero_matrix,
    pairwise_quarter_turn,
    prove_all,
    rotation,
    run_proof,
    sparse_identity_holds,
)

a, b = sp.symbols("a b", real=True)
m = sp.Symbol("m", real=True)

PROOFS_BY_NAME = {p.name: p for p in PROOFS}


# --------------------------------------------------------------------------
# The catalogue
# --------------------------------------------------------------------------


@pytest.mark.parametrize("name", [p.name for p in PROOFS])
def test_proof_is_proved(name):
    result = run_proof(PROOFS_BY_NAME[name])
    assert isinstance(result, ProofResult)
    assert result.status == "proved", f"{result.name} not proved ({result.status}): {result.detail}"
    assert result.detail == "", f"{result.name} proved but has detail {result.detail!r}"


def test_catalogue_size_and_unique_names():
    names = [p.name for p in PROOFS]
    assert len(names) >= 10, f"only {len(names)} proofs in the catalogue"
    dupes = sorted({n for n in names if names.count(n) > 1})
    assert not dupes, f"duplicate proof names: {dupes}"


def test_catalogue_contains_required_proofs():
    required = {
        "relative_position_2x2",
        "relative_position_block",
        "orthogonality",
        "determinant",
        "norm_preservation",
        "composition",
        "identity_at_zero",
        "inverse_is_transpose",
        "complex_equals_matrix",
        "sparse_equals_matrix",
        "half_split_is_permuted_interleaved",
        "attention_relative",
        "two_axis_relative",
        "abel_summation_decay",
    }
    missing = required - set(PROOFS_BY_NAME)
    assert not missing, f"catalogue lacks proofs: {sorted(missing)}"


def test_catalogue_entries_are_described():
    for p in PROOFS:
        assert p.name.isidentifier() and p.name == p.name.lower(), f"bad name {p.name!r}"
        assert p.statement.strip(), f"{p.name} has an empty statement"
        assert p.method.strip(), f"{p.name} has an empty method"
        assert callable(p.check), f"{p.name}.check is not callable"


def test_prove_all_returns_one_result_per_proof_and_is_fast():
    start = time.perf_counter()
    results = prove_all()
    elapsed = time.perf_counter() - start
    assert [r.name for r in results] == [p.name for p in PROOFS], "prove_all order/names differ"
    not_proved = [f"{r.name}: {r.status} {r.detail}" for r in results if r.status != "proved"]
    assert not not_proved, f"not proved: {not_proved}"
    assert elapsed < 60, f"prove_all took {elapsed:.1f} s (budget ~20 s)"


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


def test_false_proof_gives_failed_with_residual():
    bogus = Proof(
        name="bogus_relative",
        statement="R(a)^T R(b) = R(a - b)",
        method="same decision procedure",
        check=lambda: equal(rotation(a).T * rotation(b), rotation(a - b)),
    )
    result = run_proof(bogus)
    assert result.status == "failed", f"false identity got status {result.status}: {result.detail}"
    assert result.detail, "a failed proof must report the residual"
    assert "sin" in result.detail, f"residual should mention the unreduced sin terms: {result.detail}"


def test_raising_check_gives_error_and_run_proof_does_not_raise():
    def boom() -> bool:
        raise RuntimeError("kaboom")

    result = run_proof(Proof("boom", "nothing", "raises", boom))
    assert result.status == "error", f"raising check got status {result.status}"
    assert "kaboom" in result.detail, f"error detail should carry the exception text: {result.detail}"


def test_non_bool_check_is_not_proved():
    result = run_proof(Proof("truthy", "nothing", "returns 1", lambda: 1))
    assert result.status != "proved", "a check returning a truthy non-bool must not count as proved"


def test_prove_all_reports_failures_without_raising():
    good = PROOFS_BY_NAME["relative_position_2x2"]
    bad = Proof("bad", "R(a) = I", "false", lambda: equal(rotation(a), sp.eye(2)))
    err = Proof("err", "x", "raises", lambda: 1 / 0)
    statuses = [r.status for r in prove_all((good, bad, err))]
    assert statuses == ["proved", "failed", "error"], f"unexpected statuses {statuses}"


def test_residual_does_not_leak_between_runs():
    bad = Proof("bad", "R(a) = I", "false", lambda: equal(rotation(a), sp.eye(2)))
    assert run_proof(bad).status == "failed"
    good = run_proof(PROOFS_BY_NAME["orthogonality"])
    assert good.status == "proved" and good.detail == "", f"residual leaked: {good.detail!r}"


# --------------------------------------------------------------------------
# Layout identities: wrong variants must fail
# --------------------------------------------------------------------------


def test_half_split_permutation_layout():
    P = half_split_permutation(4)
    expected = sp.Matrix(
        [[1, 0, 0, 0], [0, 0, 1, 0], [0, 1, 0, 0], [0, 0, 0, 1]]
    )
    assert P == expected, f"P for d=4 should send (x0,x1,x2,x3) to (x0,x2,x1,x3), got {P.tolist()}"
    with pytest.raises(ValueError):
        half_split_permutation(3)


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


def _imports(path: pathlib.Path) -> set[str]:
    """Modules imported by the file at ``path`` (relative imports as ".")."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            names.add("." * node.level + (node.module or ""))
    return names


def _in_package(name: str) -> bool:
    return name == "ropecheck.proofs" or name.startswith("ropecheck.proofs.")


def test_module_does_not_import_torch_or_ropecheck_siblings():
    package = pathlib.Path(proofs.__file__).parent
    for path in sorted(package.glob("*.py")):
        source = path.read_text(encoding="utf-8")
        assert "import torch" not in source, f"proofs/{path.name} must stay pure SymPy"
        imported = _imports(path)
        siblings = {
            n for n in imported
            if n.startswith(".") or ((n == "ropecheck" or n.startswith("ropecheck.")) and not _in_package(n))
        }
        assert not siblings, f"proofs/{path.name} must not import other ropecheck modules: {siblings}"


def test_package_modules_import_nothing_above_them():
    allowed = {
        "decide": set(),
        "symbols": set(),
        "catalogue": {"decide"},
        "rotation": {"catalogue", "decide", "symbols"},
        "scaling": {"catalogue", "decide", "symbols"},
    }
    package = pathlib.Path(proofs.__file__).parent
    assert {p.stem for p in package.glob("*.py")} == set(allowed) | {"__init__"}, "a module without a layer"
    for module, may_import in allowed.items():
        inside = {n.removeprefix("ropecheck.proofs.") for n in _imports(package / f"{module}.py") if _in_package(n)}
        assert inside <= may_import, f"proofs/{module}.py imports {sorted(inside - may_import)}"


# --------------------------------------------------------------------------
# Long-context scaling laws and multi-axis RoPE: the catalogue has them, and
# plausible wrong versions of each law are refused
# --------------------------------------------------------------------------

SCALING_PROOFS = (
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


def test_catalogue_contains_scaling_proofs():
    missing = set(SCALING_PROOFS) - set(PROOFS_BY_NAME)
    assert not missing, f"catalogue lacks scaling proofs: {sorted(missing)}"


def test_scaling_proofs_are_fast():
    start = time.perf_counter()
    results = prove_all([PROOFS_BY_NAME[n] for n in SCALING_PROOFS])
    elapsed = time.perf_counter() - start
    assert all(r.status == "proved" for r in results), [
        (r.name, r.status, r.detail) for r in results if r.status != "proved"
    ]
    assert elapsed < 15, f"scaling proofs took {elapsed:.1f} s (budget ~3 s)"


def _refused(check) -> ProofResult:
    """Run a wrong law through run_proof: it must fail with a residual."""
    result = run_proof(Proof("wrong", "wrong law", "test", check))
    assert result.status == "failed", f"wrong law got status {result.status}: {result.detail}"
    assert result.detail, "a refused law must report the residual"
    return result


def test_simplifies_to_zero_decides_both_ways():
    s, bb = sp.symbols("s b", positive=True)
    i = sp.Symbol("i", real=True)
    assert proofs.simplifies_to_zero((bb * s) ** i - bb**i * s**i)
    assert proofs.simplifies_to_zero(sp.log(bb * s) - sp.log(bb) - sp.log(s))
    assert not proofs.simplifies_to_zero(bb**i - bb)
    # (x*y)**i = x**i * y**i is false for real x, y of unknown sign: not accepted.
    x, y = sp.symbols("x y", real=True)
    assert not proofs.simplifies_to_zero((x * y) ** i - x**i * y**i)


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


def test_mrope_sections_must_cover_pairs():
    th = sp.symbols("theta0:3", positive=True)
    with pytest.raises(ValueError):
        proofs.mrope_rotation((m, m, m), th, (1, 1))
