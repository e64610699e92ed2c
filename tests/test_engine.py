"""Isolation: an implementation that raises, hangs or kills its interpreter is reported as
failing with the reason; every other result is kept; the run ends in bounded time."""

import time

import pytest

from ropecheck import engine
from test_mutants import make_spec

pytestmark = pytest.mark.slow


def statuses(result):
    return {p.name: (p.status, p.message) for p in result.properties}


def test_a_crash_in_one_property_keeps_all_other_results():
    result = engine.verify(make_spec("crashes_on_nan"), "crashes_on_nan", profile="ci",
                           names=["oracle_agreement", "nan_locality", "determinism"])
    got = statuses(result)
    assert got["oracle_agreement"][0] == "passed", got
    assert got["determinism"][0] == "passed", f"the property after the crash was lost: {got}"
    status, message = got["nan_locality"]
    assert status == "failed" and "crashed the interpreter (SIGSEGV)" in message, got
    assert not result.conforms


def test_segfault_and_exit_are_reported_as_failures():
    for fn, words in (("segfaults", "SIGSEGV"), ("exits_interpreter", "exited with code 3")):
        result = engine.verify(make_spec(fn), fn, profile="ci", names=["oracle_agreement", "determinism"])
        got = statuses(result)
        assert all(s == "failed" and words in m for s, m in got.values()), f"{fn}: {got}"


def test_a_hang_is_killed_within_the_limit_and_the_run_goes_on():
    start = time.monotonic()
    # the limit is generous: the honest properties must finish under it on a loaded machine
    result = engine.verify(make_spec("hangs_on_gradients"), "hangs_on_gradients", profile="ci", timeout=30,
                           names=["identity_at_zero", "gradients", "determinism"])
    elapsed = time.monotonic() - start
    got = statuses(result)
    assert got["gradients"][0] == "failed" and "hung: no result within the 30 s" in got["gradients"][1], got
    assert got["identity_at_zero"][0] == "passed" and got["determinism"][0] == "passed", got
    assert elapsed < 200, f"a 30 s limit took {elapsed:.0f} s to enforce"


def test_an_implementation_that_always_hangs_ends_in_bounded_time():
    start = time.monotonic()
    result = engine.verify(make_spec("hangs"), "hangs", profile="ci", timeout=3,
                           names=["oracle_agreement", "norm_preservation", "determinism"])
    got = statuses(result)
    assert all(s == "failed" and "hung" in m for s, m in got.values()), got
    assert time.monotonic() - start < 120


def test_an_exception_is_a_failure_with_its_message():
    result = engine.verify(make_spec("raises_always"), "raises_always", profile="ci", names=["oracle_agreement"])
    (row,) = result.properties
    assert row.status == "failed" and "raised NotImplementedError: this RoPE is not written yet" in row.message
    assert "mutants.py" in row.message, "the message should say where it raised"


def test_an_import_error_in_the_child_is_reported_not_lost(tmp_path):
    spec = make_spec("correct_hf", callable="no_such_module_xyz:rope")
    result = engine.verify(spec, "x", profile="ci", names=["oracle_agreement", "determinism"])
    assert [p.status for p in result.properties] == ["failed", "failed"]
    assert "no_such_module_xyz" in result.properties[0].message


def test_missing_requirements_skip_instead_of_failing():
    result = engine.verify(make_spec("correct_hf", requires=["no_such_library_abc"]), "x")
    assert result.conforms and result.skipped
    assert all(p.status == "skipped" and "no_such_library_abc" in p.message for p in result.properties)


def test_unavailable_or_unclaimed_devices_are_skipped():
    result = engine.verify(make_spec("correct_hf"), "x", device="cuda", isolate=False)
    assert all(p.status == "skipped" for p in result.properties)
    assert "does not claim device 'cuda'" in result.properties[0].message
