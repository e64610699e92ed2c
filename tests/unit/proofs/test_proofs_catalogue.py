"""Tests for ropecheck.proofs.catalogue and the assembled PROOFS: every catalogued
proof goes through, run_proof reports failures and errors, and the package keeps its layers."""

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
    equal,
    prove_all,
    rotation,
    run_proof,
)

a, b = sp.symbols("a b", real=True)

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
# run_proof: failures and errors are reported, never raised
# --------------------------------------------------------------------------


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


def test_a_name_catalogued_twice_is_refused():
    from ropecheck.proofs.catalogue import Catalogue, assemble

    laws = Catalogue()
    laws.proof(name="x", statement="s", method="m")(lambda: True)
    with pytest.raises(ValueError):
        laws.proof(name="x", statement="s", method="m")(lambda: True)
    with pytest.raises(ValueError):
        assemble(("x", "y"), laws)
    assert [p.name for p in assemble(("x",), laws)] == ["x"]


def test_residual_does_not_leak_between_runs():
    bad = Proof("bad", "R(a) = I", "false", lambda: equal(rotation(a), sp.eye(2)))
    assert run_proof(bad).status == "failed"
    good = run_proof(PROOFS_BY_NAME["orthogonality"])
    assert good.status == "proved" and good.detail == "", f"residual leaked: {good.detail!r}"


# --------------------------------------------------------------------------
# The package: pure SymPy, no imports upward
# --------------------------------------------------------------------------


def _imports(path: pathlib.Path) -> set[str]:
    """Modules imported by the file at ``path`` (relative imports as ".")."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            names.add("." * node.level + (node.module or ""))
    return names


def _is_ropecheck(name: str) -> bool:
    return name == "ropecheck" or name.startswith("ropecheck.")


def _in_package(name: str) -> bool:
    return name == "ropecheck.proofs" or name.startswith("ropecheck.proofs.")


def test_module_does_not_import_torch_or_ropecheck_siblings():
    package = pathlib.Path(proofs.__file__).parent
    for path in sorted(package.glob("*.py")):
        source = path.read_text(encoding="utf-8")
        assert "import torch" not in source, f"proofs/{path.name} must stay pure SymPy"
        imported = _imports(path)
        siblings = {n for n in imported if n.startswith(".") or _is_ropecheck(n) and not _in_package(n)}
        assert not siblings, f"proofs/{path.name} must not import other ropecheck modules: {siblings}"


def test_package_modules_import_nothing_above_them():
    allowed = {
        "decide": set(),
        "symbols": set(),
        "catalogue": {"decide"},
        "rotation_laws": {"catalogue", "decide", "symbols"},
        "scaling_laws": {"catalogue", "decide", "symbols"},
        "kit": {"decide", "symbols"},
    }
    package = pathlib.Path(proofs.__file__).parent
    modules = {p.stem for p in package.glob("*.py")}
    assert modules == set(allowed) | {"__init__"}, f"a module without a layer: {sorted(modules)}"
    for module, may_import in allowed.items():
        imported = _imports(package / f"{module}.py")
        inside = {n.removeprefix("ropecheck.proofs.") for n in imported if _in_package(n)}
        assert inside <= may_import, f"proofs/{module}.py imports {sorted(inside - may_import)}"


# --------------------------------------------------------------------------
# Long-context scaling laws and multi-axis RoPE: the catalogue has them
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
