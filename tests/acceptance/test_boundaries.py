"""Issue 12: boundaries drawn on purpose, call-history bugs, narrowed counterexamples, and
every failure with its own cause reported. The mutants (tests/boundary_mutants.py) were
written before the strategies changed."""

from __future__ import annotations

import dataclasses

import pytest
from hypothesis import settings

import boundary_mutants as bm
from harness import EXPECTED_CAUSE as UNIT_CAUSE
from harness import assert_conforms, claims_of, implementation_spec, judge
from ropecheck import engine, profiles
from ropecheck.properties import BY_NAME, History, Subject
from ropecheck.repro import parse_case
from ropecheck.runner import run_property
from ropecheck.strategies import POSITION_BOUNDARIES, TRUNCATING_PAIRS, boundary_cases

HISTORY = ("cache_dtype_sticky", "cache_length_frozen", "cache_ignores_base")
WITHIN_TOLERANCE = {"positions_float32": "the tolerance model admits angles formed in float32 (HF's own path), "
                                         "which past 2**24 err as much as a float32 position cast"}

EXPECTED_CAUSE = {**UNIT_CAUSE,  # the phrases of tests/unit/diagnose/test_diagnose_causes.py, less the numbers of its inputs
                  "rotary_width_int_truncation": "the rotary width is recomputed as int(head_dim * (rotary_dim / head_dim)) = ",
                  "rotary_width_even_floor": "the rotary width is recomputed as int(head_dim * (rotary_dim / head_dim)) // 2 * 2"}


def mutant_spec(fn: str, **overrides):
    """The spec of ``boundary_mutants:fn``: its table's claims, then ``overrides``."""
    return implementation_spec("boundary_mutants", fn, claims_of(bm, fn), **overrides)


def oracle_row(fn: str):
    """oracle_agreement's row for ``fn``, from fresh module caches (not cached: a run is
    judged on a clean call history)."""
    bm.reset_caches()
    return judge("boundary_mutants", fn, ["oracle_agreement"], **claims_of(bm, fn)).properties[0]


@pytest.mark.parametrize("fn", sorted(set(bm.MUTANTS) - set(HISTORY) - set(WITHIN_TOLERANCE)))
def test_oracle_agreement_itself_catches_each_boundary_mutant(fn):
    row = oracle_row(fn)
    assert row.status == "failed", (bm.MUTANTS[fn]["bug"], row.message)
    assert row.reproduce and "--case" in row.reproduce
    if fn in EXPECTED_CAUSE:
        causes = [row.message] + [o["message"] for o in row.other_failures]
        assert any(EXPECTED_CAUSE[fn] in c for c in causes), (fn, causes)


@pytest.mark.parametrize("fn", sorted(bm.CORRECT))
def test_correct_implementations_still_conform_on_the_oracle_and_call_history(fn):
    bm.reset_caches()
    assert_conforms(judge("boundary_mutants", fn, ["oracle_agreement", "call_history"], **claims_of(bm, fn)), fn)


def test_a_long_counterexample_is_narrowed_to_the_token_that_fails():
    """table_2048_clamped is right below 2048 and wrong from 2048 on: the boundary runs have
    many right tokens; the report keeps one wrong one."""
    row = oracle_row("table_2048_clamped")
    case = parse_case(engine.case_text(row.reproduce))
    assert case.batch * case.seq == 1 and case.positions[0][0] >= 2048, case.positions


def test_two_bugs_are_two_failures():
    """float64 computed in float32 and a truncated rotary width: both reported."""
    row = oracle_row("float32_and_int_truncation")
    assert row.status == "failed" and len(row.other_failures) >= 1, row.message
    cases = [parse_case(engine.case_text(r)) for r in [row.reproduce] + [o["reproduce"] for o in row.other_failures]]
    assert {c.dtype for c in cases} >= {"float64"}, [c.summary() for c in cases]


def test_one_bug_met_at_several_positions_is_one_failure():
    row = oracle_row("table_2048_clamped")
    assert row.other_failures == [], [o["message"] for o in row.other_failures]


@pytest.mark.parametrize("run", range(3))
def test_the_search_meets_a_truncating_pair_under_any_seed(run):
    """Not derandomised (each run draws its own seed), and without the fixed boundary
    examples: the draws alone of oracle_agreement's ci search (its weight, 100 examples) put
    a (head_dim, rotary_dim) pair whose width slips under int() in front of the property."""
    seen = []

    def recording(x, positions, config):
        seen.append((x.shape[-1], config.rotary_dim))
        return bm.x_lookup_table_per_call(x, positions, config)

    spec = mutant_spec("x_lookup_table_per_call")
    prop = dataclasses.replace(BY_NAME["oracle_agreement"], examples=lambda spec: [])
    ci = settings(profiles.get("ci"), derandomize=False)
    row = run_property(prop, Subject(recording, spec, "cpu"), ci, "x")
    assert row.status == "passed", row.message
    assert set(seen) & set(TRUNCATING_PAIRS), sorted(set(seen))[:20]


def test_boundary_examples_put_every_boundary_below_max_position_in_front_of_the_property():
    spec = mutant_spec("x_lookup_table_per_call", max_position=70000, positions="consecutive")
    found = BY_NAME["oracle_agreement"].examples(spec)
    positions = {p for case in found for row in case.positions for p in row}
    for b in POSITION_BOUNDARIES:
        assert ({b - 1, b, b + 1} <= positions) == (b + 1 <= 69999), b
    assert 69998 in positions and all(p < 70000 for p in positions)
    assert any(case.seq == 129 for case in found) and any(case.batch == 3 and case.seq == 1 for case in found)
    assert {(c.head_dim, c.config.rotary_dim) for c in found} >= {(98, 64), (106, 44)}
    for case in found:  # consecutive rows only
        assert all(list(r) == list(range(r[0], r[0] + len(r))) for r in case.positions if r)
    assert {c.dtype for c in found} == set(spec.dtypes)
    packed = boundary_cases(dtypes=("float32",), packed=True, qk=True, max_position=5000)
    assert all(c.lengths == tuple(len(r) for r in c.positions) and c.kv_heads == 2 for c in packed)
    assert boundary_cases(dtypes=("float32",), max_position=2) == []


@pytest.mark.slow
@pytest.mark.parametrize("fn", HISTORY)
def test_call_history_catches_a_cache_that_depends_on_earlier_calls(fn):
    """In a checking process of its own (the caches live there); the failing case passes
    alone in a fresh process, so the report says the failure depends on call history."""
    result = engine.verify(mutant_spec(fn), fn, profile="ci", names=["call_history"])
    row = result.properties[0]
    assert row.status == "failed", (bm.MUTANTS[fn]["history"], row.message)
    assert row.message.startswith(engine.HISTORY_LABEL), row.message
    case = parse_case(engine.case_text(row.reproduce))
    assert case.setup.calls, "the reproduce line replays the earlier calls"


def test_a_call_history_case_survives_the_reproduce_line():
    case = boundary_cases(dtypes=("float32", "float64"))[0]
    history = dataclasses.replace(case, setup=History((dataclasses.replace(case, dtype="float64"),)))
    assert parse_case(repr(history)) == history
    assert parse_case(history.repro()) == history
