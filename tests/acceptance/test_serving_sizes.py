"""Issue 13 part 3: the dev and thorough profiles check fixed cases at serving sizes (past a
CUDA grid's 65535 (token, head) rows, 32 heads, head_dim 128); ci does not. Only the case
lists and the plumbing are checked here: a dev verify is minutes."""

from __future__ import annotations

import dataclasses

import pytest
from hypothesis import settings

from ropecheck import engine, profiles, worker
from ropecheck.properties import BY_NAME, BufferLayout, Split, Subject
from ropecheck.registry import builtin_specs
from ropecheck.runner import run_property
from ropecheck.spec import spec_from_mapping
from ropecheck.strategies import GRID_LIMIT, RopeCase, boundary_cases

HALF_SPLIT = [s for s in builtin_specs() if s.name == "half-split"][0]
SERVING = ("oracle_agreement", "per_row_positions", "chunked_equals_whole", "fused_buffer")


def spec(**overrides):
    mapping = {"name": "s", "callable": "ropecheck.variants:half_split", "pairing": "half_split", "base": "any",
               "dtypes": ["bfloat16", "float32"], "devices": ["cpu"], **overrides}
    return spec_from_mapping(mapping, origin="tests/acceptance/test_serving_sizes.py")


def rows(case: RopeCase, heads: int) -> int:
    """(token, head) rows of one operand."""
    return (sum(case.lengths) if case.packed else case.batch * case.seq) * heads


def big(case: RopeCase) -> bool:
    return rows(case, case.heads) > GRID_LIMIT


@pytest.mark.parametrize("name", [p for p in BY_NAME])
def test_ci_has_no_serving_size_case_and_dev_adds_them(name):
    prop, qk = BY_NAME[name], spec(signature="qk")
    for s in (HALF_SPLIT, qk):
        ci = prop.fixed(s, "ci")
        assert ci == prop.examples(s) and not any(big(c) for c in ci)
        dev = prop.fixed(s, "dev")
        assert dev[:len(ci)] == ci and dev == prop.fixed(s, "thorough")
        added = dev[len(ci):]
        assert bool(added) == (name in SERVING and (name != "fused_buffer" or s is qk)), (name, s.name)
        assert all(big(c) and c.head_dim == 128 and c.heads >= 32 for c in added)
    assert prop.fixed(HALF_SPLIT, None) == prop.examples(HALF_SPLIT)


def test_oracle_agreement_serving_cases_cover_prefill_decode_and_partial_in_every_dtype():
    found = BY_NAME["oracle_agreement"].serving(HALF_SPLIT)
    prefill = [c for c in found if c.seq > 1 and c.config.rotary_dim == 128]
    assert sorted(c.dtype for c in prefill) == sorted(HALF_SPLIT.dtypes)
    assert all(c.seq == 2048 and c.batch * c.seq >= 4096 and c.positions[0][0] == 0 for c in prefill)
    assert prefill[0].positions[-1][-1] == HALF_SPLIT.max_position - 1
    decode = [c for c in found if c.seq == 1]
    assert len(decode) == 1 and decode[0].batch == 2049 and len(set(decode[0].positions)) == 2049
    assert [(c.head_dim, c.config.rotary_dim) for c in found if c.config.rotary_dim < c.head_dim] == [(128, 64)]


def test_qk_serving_cases_are_gqa_32_8_with_k_past_the_grid_limit_too():
    prefill = BY_NAME["oracle_agreement"].serving(spec(signature="qk"))[0]
    assert (prefill.heads, prefill.kv_heads) == (32, 8) and rows(prefill, prefill.kv_heads) > GRID_LIMIT
    (fused,) = BY_NAME["fused_buffer"].serving(spec(signature="qk"))
    assert fused.fused and fused.setup == BufferLayout("contiguous")
    (chunked,) = BY_NAME["chunked_equals_whole"].serving(spec(signature="qk", packed=True))
    assert chunked.setup == Split(tuple(n - 1 for n in chunked.lengths))


@pytest.mark.parametrize("overrides", [dict(max_position=1000, packed=True), dict(max_position=1),
                                       dict(max_position=5000, positions="consecutive", signature="qk"),
                                       dict(multi_axis=["mrope"]), dict(dtypes=["float16"], partial_rotary=True)])
def test_serving_cases_keep_the_specs_claims(overrides):
    s = spec(**overrides)
    for name in SERVING:
        for case in BY_NAME[name].serving(s):
            flat = [p for row in case.positions for token in row for p in (token if isinstance(token, tuple) else (token,))]
            assert 0 <= min(flat) and max(flat) < s.max_position, name
            assert case.dtype in s.dtypes and big(case) and case.packed == s.packed
            assert (case.config.axes > 1) == bool(s.multi_axis)
            if s.positions == "consecutive":
                assert all(list(r) == list(range(r[0], r[0] + len(r))) for r in case.positions if r)


def test_the_runner_checks_serving_cases_only_with_a_serving_profile():
    """run_property with a recording check (nothing computed): the profile's name decides."""
    seen = []
    prop = dataclasses.replace(BY_NAME["oracle_agreement"], check=lambda subject, case: seen.append(case))
    few = settings(profiles.get("ci"), max_examples=2)
    for profile in ("ci", "dev", None):
        seen.clear()
        row = run_property(prop, Subject(None, HALF_SPLIT, "cpu"), few, "x", profile=profile)
        assert row.status == "passed" and row.examples == 8
        fixed = seen[row.examples:]
        assert fixed == prop.fixed(HALF_SPLIT, profile), profile
        assert any(big(c) for c in fixed) == (profile == "dev")
    assert len(boundary_cases(dtypes=HALF_SPLIT.dtypes)) <= len(prop.fixed(HALF_SPLIT, "ci"))


def test_the_engine_and_the_checking_process_pass_the_profile_on(monkeypatch):
    calls = []

    def recording(prop, subject, settings, spec_ref, not_judged="", profile=None):
        calls.append((prop.name, profile, settings.max_examples))
        from ropecheck.runner import PropertyResult
        return PropertyResult(prop.name, "passed")

    monkeypatch.setattr(engine, "run_property", recording)
    engine.verify(HALF_SPLIT, "half-split", profile="dev", device="cpu", isolate=False, names=["determinism"])
    monkeypatch.setattr("ropecheck.runner.run_property", recording)
    monkeypatch.setattr("ropecheck.runner.preflight", lambda subject: "")

    class Channel:
        def emit(self, event):
            pass

    job = {"profile": "thorough", "device": "cpu", "spec_ref": "half-split", "properties": ["determinism"],
           **engine.spec_job(HALF_SPLIT)}
    worker._run(job, lambda *a: None, Channel())
    assert calls == [("determinism", "dev", 100), ("determinism", "thorough", 1000)]
