"""Issue 13, less work per example: the strategies draw what they drew before (every position
mode, boundary, tile length, slipping pair, head layout), with fewer choices and none thrown
away: no filter, no ``assume`` in a property's strategy."""

from __future__ import annotations

import collections

import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from hypothesis.internal.conjecture.data import Status

from ropecheck import strategies
from ropecheck.properties import PROPERTIES, _distinct_rows, cases
from ropecheck.registry import builtin_specs
from ropecheck.spec import load_spec, spec_from_mapping
from ropecheck.strategies import POSITION_BOUNDARIES, ROUNDING_PAIRS, TILE_LENGTHS, TRUNCATING_PAIRS, distinct_rows

from harness import ROOT
HALF_SPLIT = [s for s in builtin_specs() if s.name == "half-split"][0]


def qk_packed(**overrides):
    mapping = {"name": "qk-packed", "callable": "ropecheck.variants:half_split", "pairing": "half_split",
               "base": "any", "dtypes": ["float32", "bfloat16"], "devices": ["cpu"], "partial_rotary": True,
               "signature": "qk", "packed": True, **overrides}
    return spec_from_mapping(mapping, origin="tests/unit/strategies/test_strategies.py")


SPECS = {"half-split": HALF_SPLIT, "qk packed": qk_packed(), "consecutive": qk_packed(packed=False, positions="consecutive"),
         "small max_position": qk_packed(packed=False, max_position=3),
         "mrope": load_spec(str(ROOT / "specs" / "hf-qwen2-vl-mrope.toml")),
         "multi-axis partial": qk_packed(signature="x", packed=False, multi_axis=["mrope", "axial"])}


def drawn(strategy, n: int) -> list:
    """``n`` cases as the ci profile draws them (generation only)."""
    found = []

    @settings(max_examples=n, derandomize=True, database=None, phases=(Phase.generate,), deadline=None,
              suppress_health_check=list(HealthCheck))
    @given(strategy)
    def collect(case):
        found.append(case)

    collect()
    return found


@pytest.mark.parametrize("spec", SPECS.values(), ids=list(SPECS))
def test_no_property_throws_a_draw_away(spec):
    """No example is rejected and no draw retried: the constraints (rotary_dim below
    head_dim, rows that differ, a width that holds a multi-axis layout) are met by
    construction, not by a filter or ``assume``. (Hypothesis's own overruns, a mutation
    that runs out of choices, are not rejections.)"""
    for prop in PROPERTIES:
        if prop.applies(spec):
            continue
        rejected, retried, finished = [0], [0], [0]
        strategy = prop.strategy(spec)

        @settings(max_examples=30, derandomize=True, database=None, phases=(Phase.generate,), deadline=None,
                  suppress_health_check=list(HealthCheck))
        @given(st.data())
        def run(data):
            try:
                data.draw(strategy)
                finished[0] += 1
            finally:
                rejected[0] += data.conjecture_data.status == Status.INVALID
                retried[0] += any("Retried draw" in event for event in data.conjecture_data.events)

        run()
        assert (finished[0], rejected[0], retried[0]) == (30, 0, 0), prop.name


@pytest.mark.parametrize("spec", SPECS.values(), ids=list(SPECS))
def test_per_row_cases_have_distinct_rows_and_partial_cases_a_partial_width(spec):
    rows = next(p for p in PROPERTIES if p.name == "per_row_positions").strategy(spec)
    cases_ = drawn(rows, 60)
    if spec.max_position > 3:  # three rows of one position among 0, 1, 2: not always distinct
        assert all(_distinct_rows(c) for c in cases_)
    assert all(p < spec.max_position for c in cases_ for row in c.positions for token in row
               for p in (token if isinstance(token, tuple) else (token,)))
    if spec.partial_rotary:
        partial = next(p for p in PROPERTIES if p.name == "passthrough_untouched").strategy(spec)
        assert all(c.config.rotary_dim < c.head_dim for c in drawn(partial, 60))


def _kinds(case) -> set[str]:
    rows = [r for r in case.positions if r]
    runs = all(list(r) == list(range(r[0], r[0] + len(r))) for r in rows)
    kinds = {f"seq {case.seq}" for _ in [0] if case.seq in TILE_LENGTHS}
    kinds |= {f"dtype {case.dtype}"}
    if rows and runs:
        kinds |= {"from zero"} if all(r[0] == 0 for r in rows) else set()
        kinds |= {f"run across {b}" for b in POSITION_BOUNDARIES for r in rows if r[0] <= b + 1 and r[-1] >= b - 1}
        kinds |= {"near max"} if any(r[-1] >= case_max - 65 for r in rows for case_max in [2**17]) else set()
        kinds |= {"row offsets"} if len({r[0] for r in rows}) > 1 and not any(
            r[0] <= b + 1 and r[-1] >= b - 1 for r in rows for b in POSITION_BOUNDARIES) else set()
    if rows and not runs:
        kinds |= {"arbitrary short" if max(map(len, rows)) <= strategies.SHORT_ROW else "arbitrary long"}
        near = {b + d for b in POSITION_BOUNDARIES for d in (-1, 0, 1)}
        kinds |= {"arbitrary near a boundary"} if any(p in near for r in rows for p in r) else set()
    width = (case.head_dim, case.config.rotary_dim)
    kinds |= {"truncating pair"} if width in TRUNCATING_PAIRS else {"rounding pair"} if width in ROUNDING_PAIRS else set()
    kinds |= {"partial width"} if case.config.rotary_dim < case.head_dim else {"whole head"}
    return kinds


def test_every_kind_of_case_is_still_drawn():
    """500 cases of half-split as the ci profile draws them meet every position mode, every
    boundary below 2**17 (a run within one position of it), every tile length, both kinds of
    slipping width and every dtype."""
    seen = collections.Counter(k for case in drawn(cases(HALF_SPLIT), 500) for k in _kinds(case))
    expected = ({"from zero", "near max", "row offsets", "arbitrary short", "arbitrary long", "arbitrary near a boundary",
                 "truncating pair", "rounding pair", "partial width", "whole head"}
                | {f"run across {b}" for b in POSITION_BOUNDARIES if b < 2**17 - 1}
                | {f"seq {n}" for n in TILE_LENGTHS} | {f"dtype {d}" for d in HALF_SPLIT.dtypes})
    assert expected <= set(seen), sorted(expected - set(seen))


def test_qk_packed_cases_draw_every_head_layout_and_empty_sequences():
    found = drawn(cases(SPECS["qk packed"]), 200)
    layouts = {"MQA" if c.kv_heads == 1 and c.heads > 1 else "MHA" if c.kv_heads == c.heads else "GQA" for c in found}
    assert layouts == {"MQA", "MHA", "GQA"}
    assert any(0 in c.lengths for c in found) and any(c.fused for c in found) and any(not c.fused for c in found)
    assert any(sum(c.lengths) > 128 for c in found)


def test_rows_drawn_equal_are_moved_and_runs_stay_runs():
    assert distinct_rows(((5, 6, 7), (5, 6, 7), (5, 6, 7)), 100) == ((5, 6, 7), (6, 7, 8), (4, 5, 6))
    assert distinct_rows(((97, 98, 99), (97, 98, 99)), 100) == ((97, 98, 99), (96, 97, 98))
    assert distinct_rows(((1,), (), (1,)), 100) == ((1,), (), (2,))
    assert distinct_rows((((3, 3), (4, 4)), ((3, 3), (4, 4))), 100) == (((3, 3), (4, 4)), ((4, 4), (5, 5)))
    assert distinct_rows(((0, 1), (0, 1)), 2) == ((0, 1), (1, 1))  # no room for a run: its first position changes


def test_strategies_are_built_once_per_argument_set():
    assert cases(HALF_SPLIT) is cases(HALF_SPLIT)
    assert strategies.rope_cases(dtypes=["float32"]) is strategies.rope_cases(dtypes=("float32",))
    assert strategies.bases() is strategies.bases() and strategies.head_dims(128) is strategies.head_dims(128)


def test_values_are_drawn_as_before_and_kept_values_are_never_handed_out():
    """``RopeCase.inputs`` gives the tensors it always gave (``torch.randn`` in float64 from
    the case's seed, q then k then v), so an old reproduce line rebuilds the same case; the
    kept values are never handed out, so writing into an input changes no later case."""
    import torch

    from ropecheck.config import RopeConfig
    from ropecheck.strategies import RopeCase

    case = RopeCase(2, 3, 4, 8, "float64", RopeConfig(base=10000.0, rotary_dim=8, pairing="half_split", head_dim=8),
                    ((0, 1, 2), (5, 6, 7)), seed=123, scale=100.0, kv_heads=2, fused=True)
    gen = torch.Generator().manual_seed(123)
    q, k, v = (torch.randn((2, 3, h, 8), generator=gen, dtype=torch.float64) * 100.0 for h in (4, 2, 2))
    first = case.inputs()
    assert torch.equal(first.operands[0], q) and torch.equal(first.operands[1], k) and torch.equal(first.v, v)
    first.buffer.fill_(7.0)
    again = case.inputs(fused=False)
    assert torch.equal(again.operands[0], q) and torch.equal(again.operands[1], k)
    for shape in ((1024, 1024),) * 6:  # more than NORMALS_KEPT: the oldest are let go
        strategies.standard_normal(len(strategies._normals) + 10**6, (shape,))
    assert strategies._kept[0] <= strategies.NORMALS_KEPT
    assert sum(n for _, n in strategies._normals.values()) == strategies._kept[0]
