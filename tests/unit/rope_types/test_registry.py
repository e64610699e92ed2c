"""Every registered rope_type and layout carries its evidence: a proof that exists in
``ropecheck.proofs.PROOFS``, a mutant in the tests that the suite must reject, and a
strategy; and the modules that used to branch on rope_type read the registry."""

from __future__ import annotations

import ast
import functools
import importlib.util

import pytest
from hypothesis import find

from ropecheck import proofs, rope_types, scaling, strategies
from ropecheck.adapters import hf
from ropecheck.config import RopeConfig

from harness import TESTS

NAMES = list(rope_types.TYPES)


@functools.cache
def _module(name: str):
    spec = importlib.util.spec_from_file_location(f"_registry_check_{name}", TESTS / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _scaling_mutant_cases() -> list[tuple]:
    """``MUTANTS`` of tests/acceptance/test_scaling_mutants.py: (mutant, rope_types, property, words)."""
    tree = ast.parse((TESTS / "acceptance" / "test_scaling_mutants.py").read_text())
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(getattr(t, "id", None) == "MUTANTS" for t in node.targets):
            return ast.literal_eval(node.value)
    raise AssertionError("tests/acceptance/test_scaling_mutants.py has no MUTANTS list")


def test_registry_order_and_derived_tuples():
    assert scaling.ROPE_TYPES == ("default", "linear", "ntk", "dynamic", "yarn", "llama3", "longrope")
    assert [layout.name for layout in rope_types.layouts()] == ["mrope", "axial"]
    assert scaling.CALL_DEPENDENT == ("dynamic", "longrope")
    assert hf.HF_SCALED_TYPES == ("linear", "dynamic", "yarn", "llama3", "longrope")


def test_unknown_name_is_a_clear_error():
    with pytest.raises(KeyError, match="unknown rope_type or layout 'rope9'.*'yarn'"):
        rope_types.get("rope9")


@pytest.mark.parametrize("name", NAMES)
def test_every_type_names_existing_proofs_or_proves_its_own_laws(name):
    record = rope_types.get(name)
    known = {proof.name for proof in proofs.PROOFS}
    assert record.proofs or record.laws, f"{name}: no proof named and no law of its own"
    assert set(record.proofs) <= known, f"{name}: no such proofs {set(record.proofs) - known}"
    assert [p.name for p in proofs.proofs_of([record])] == [law.name for law in record.laws]


@pytest.mark.parametrize("name", NAMES)
def test_every_type_has_a_mutant(name):
    record = rope_types.get(name)
    assert record.mutants, f"{name}: no mutant named"
    for entry in record.mutants:
        module, function = entry.split(":")
        assert callable(getattr(_module(module), function, None)), f"{name}: tests/{module}.py has no {function}"
    if record.kind == "scaling" and not record.unscaled:  # rejected in tests/acceptance/test_scaling_mutants.py
        cases = {(mutant, rope_type) for mutant, types, _, _ in _scaling_mutant_cases() for rope_type in types}
        named = {entry.split(":")[1] for entry in record.mutants if entry.startswith("scaling_mutants:")}
        assert {(m, name) for m in named} & cases, f"{name}: no mutant of it in test_scaling_mutants.MUTANTS"


@pytest.mark.parametrize("name", NAMES)
def test_every_type_has_a_strategy(name):
    record = rope_types.get(name)
    assert callable(record.parameters), f"{name}: no parameter strategy"
    if record.kind == "layout":
        layout = find(strategies.axis_layouts(name, 12), lambda sc: True)
        assert RopeConfig(base=10000.0, rotary_dim=12, scaling={"rope_type": "default", **layout}).axes > 1
    elif record.unscaled:
        assert find(strategies.scalings(name, 12), lambda sc: True) is None
    else:
        drawn = find(strategies.scalings(name, 12), lambda sc: True)
        assert RopeConfig(base=10000.0, rotary_dim=12, scaling=drawn).rope_type == name


def test_no_module_branches_on_rope_type_names():
    """The oracle, strategies, diagnosis, tolerance and HF adapter read the records."""
    package = TESTS.parent / "ropecheck"
    hits = [f"{path.relative_to(package)}:{n}" for path in package.rglob("*.py") if "rope_types" not in path.parts
            for n, line in enumerate(path.read_text().splitlines(), 1)
            if any(s in line for s in ("rope_type ==", "rope_type in (", "rope_type !="))]
    assert not hits, hits
