"""Isolation: an implementation that raises, hangs, dies, attacks its process or garbles
its result channel is reported as failing with the reason; every other result is kept; the
run ends in bounded time; nothing it started is left running; and a correct
implementation conforms however busy the machine is (limits are CPU time, not wall time).
No test here asserts a wall-clock duration."""

import os
import subprocess
import sys
import time
import uuid

import pytest

from ropecheck import engine
from harness import MUTANTS_CLAIMS, gone, implementation_spec

pytestmark = pytest.mark.slow


def statuses(result):
    return {p.name: (p.status, p.message) for p in result.properties}


def make_spec(fn: str, **overrides):
    """The spec of ``mutants:fn`` as tests/acceptance/test_mutants.py checks it."""
    return implementation_spec("mutants", fn, MUTANTS_CLAIMS, **overrides)


def hostile_spec(fn: str, **overrides):
    return implementation_spec("hostile", fn, {"pairing": "half_split", "base": "any", "dtypes": ["float32"],
                                               "devices": ["cpu"]}, **overrides)


@pytest.fixture
def marker(monkeypatch):
    """Every process the test starts carries this in its environment; none may remain."""
    value = uuid.uuid4().hex
    monkeypatch.setenv("ROPECHECK_TEST_MARKER", value)
    yield value
    assert gone(value) == [], "a process started by the run outlived it"


def test_a_crash_in_one_property_keeps_all_other_results(marker):
    result = engine.verify(make_spec("crashes_on_nan"), "crashes_on_nan", profile="ci",
                           names=["oracle_agreement", "nan_locality", "determinism"])
    got = statuses(result)
    assert got["oracle_agreement"][0] == "passed", got
    assert got["determinism"][0] == "passed", f"the property after the crash was lost: {got}"
    status, message = got["nan_locality"]
    assert status == "failed" and "crashed the interpreter (SIGSEGV)" in message, got
    assert not result.conforms


def test_segfault_and_exit_are_reported_as_failures(marker):
    for fn, words in (("segfaults", "SIGSEGV"), ("exits_interpreter", "exited with code 3")):
        result = engine.verify(make_spec(fn), fn, profile="ci", names=["oracle_agreement", "determinism"])
        got = statuses(result)
        assert all(s == "failed" and words in m for s, m in got.values()), f"{fn}: {got}"


def test_a_blocked_call_is_stopped_and_the_run_goes_on(marker):
    """hangs_on_gradients sleeps for ever in one property: no CPU is used, so it is
    stopped as blocked; the properties before and after it pass."""
    result = engine.verify(make_spec("hangs_on_gradients"), "hangs_on_gradients", profile="ci", timeout=10,
                           names=["identity_at_zero", "gradients", "determinism"])
    got = statuses(result)
    assert got["gradients"][0] == "failed" and "hung: no progress for 10 s" in got["gradients"][1], got
    assert got["identity_at_zero"][0] == "passed" and got["determinism"][0] == "passed", got


def test_a_spinning_call_is_stopped_by_its_cpu_budget(marker):
    result = engine.verify(hostile_spec("spins"), "spins", profile="ci", timeout=5, names=["oracle_agreement"])
    (row,) = result.properties
    assert row.status == "failed" and row.message.startswith("hung: used") and "CPU seconds without returning" \
        in row.message, row.message


def test_an_implementation_that_always_hangs_ends_with_every_property_failed(marker):
    """Bounded by construction: the first hang is stopped at the stall limit, the later
    ones at the shorter limit given after a hang."""
    result = engine.verify(make_spec("hangs"), "hangs", profile="ci", timeout=3,
                           names=["oracle_agreement", "norm_preservation", "determinism"])
    got = statuses(result)
    assert all(s == "failed" and m.startswith("hung:") for s, m in got.values()), got


def test_slow_in_wall_time_is_not_hung(marker):
    """The mechanism behind "conforms on a busy machine": 100 calls that each wait 150 ms
    take at least 15 s of wall time against a 10-CPU-second limit, and still conform."""
    started = time.monotonic()
    result = engine.verify(hostile_spec("sleepy_correct"), "sleepy_correct", profile="ci", timeout=10,
                           names=["oracle_agreement"])
    assert result.conforms, statuses(result)
    assert time.monotonic() - started > 10, "the property ran in less wall time than the limit: nothing was shown"


def test_a_correct_implementation_conforms_while_every_core_is_busy(marker):
    """Busy loops on every core (3 per core, each ending by itself after 10 minutes at
    most, killed when the test ends), and a CPU limit that the wall time of a property
    easily passes under that load: every property of the built-in half-split holds."""
    spec = [s for s in __import__("ropecheck.registry", fromlist=["x"]).builtin_specs() if s.name == "half-split"][0]
    loops = [subprocess.Popen([sys.executable, "-c", "import time\nend = time.time() + 600\nwhile time.time() < end: pass"])
             for _ in range(3 * (os.cpu_count() or 2))]
    try:
        result = engine.verify(spec, "half-split", profile="ci", device="cpu", timeout=20)
    finally:
        for loop in loops:
            loop.kill()
            loop.wait()
    assert result.conforms, [(p.name, p.message) for p in result.properties if p.status != "passed"]


def test_an_exception_is_a_failure_with_its_message(marker):
    result = engine.verify(make_spec("raises_always"), "raises_always", profile="ci", names=["oracle_agreement"])
    (row,) = result.properties
    assert row.status == "failed" and "raised NotImplementedError: this RoPE is not written yet" in row.message
    assert "mutants.py" in row.message, "the message should say where it raised"


@pytest.mark.parametrize("fn, words", [
    ("kills_parent", "sent SIGTERM to its parent process"),
    ("garbles_channel", "wrote into ropecheck's result channel"),
    ("closes_fds", "closed ropecheck's result channel"),
    ("exits_mid_call", "raised SystemExit(0) (it tried to exit the process)"),
    ("returns_meta", "returned a meta tensor"),
    ("returns_unreadable", "returned a tensor whose values cannot be read: RuntimeError: this tensor's storage is gone"),
])
def test_attacks_on_the_process_fail_with_their_reason_and_the_run_goes_on(marker, fn, words):
    result = engine.verify(hostile_spec(fn), fn, profile="ci", timeout=30, names=["oracle_agreement", "determinism"])
    got = statuses(result)
    assert [s for s, _ in got.values()] == ["failed", "failed"], got
    assert all(words in m for _, m in got.values()), got


@pytest.mark.parametrize("fn", ["leaves_thread", "forks_sleeper"])
def test_what_an_implementation_leaves_running_does_not_outlive_the_run(marker, fn):
    result = engine.verify(hostile_spec(fn), fn, profile="ci", names=["identity_at_zero", "determinism"])
    assert result.conforms, statuses(result)  # the marker fixture asserts nothing is left


def test_an_import_error_in_the_child_is_reported_not_lost(marker):
    spec = make_spec("correct_hf", callable="no_such_module_xyz:rope")
    result = engine.verify(spec, "x", profile="ci", names=["oracle_agreement", "determinism"])
    assert [p.status for p in result.properties] == ["failed", "failed"]
    assert "no_such_module_xyz" in result.properties[0].message
    with pytest.raises(engine.LoadError, match="key 'callable': cannot import module 'no_such_module_xyz'"):
        engine.verify_all([(spec, "x")], names=["determinism"])


def test_missing_requirements_skip_instead_of_failing():
    result = engine.verify(make_spec("correct_hf", requires=["no_such_library_abc"]), "x")
    assert result.conforms and result.skipped
    assert all(p.status == "skipped" and "no_such_library_abc" in p.message for p in result.properties)


def test_unavailable_or_unclaimed_devices_are_skipped():
    result = engine.verify(make_spec("correct_hf"), "x", device="cuda", isolate=False)
    assert all(p.status == "skipped" for p in result.properties)
    assert "does not claim device 'cuda'" in result.properties[0].message


def test_every_row_counts_the_examples_hypothesis_ran(marker):
    """``examples`` (JSON too): every example of the search, the profile's max_examples times
    the property's weight, in a checking process and in this one alike; 0 when skipped."""
    names = ["identity_at_zero", "per_row_positions", "qk_independence"]
    for isolate in (True, False):
        result = engine.verify(make_spec("correct_hf"), "x", profile="ci", device="cpu", names=names, isolate=isolate)
        assert {p.name: p.examples for p in result.properties} == \
            {"identity_at_zero": 25, "per_row_positions": 50, "qk_independence": 0}, isolate
        assert result.to_json()["properties"][1]["examples"] == 50


def test_a_stop_request_returns_what_finished_and_marks_the_rest(marker):
    """The engine side of Ctrl-C / SIGTERM: the stop arrives after the first result."""
    from ropecheck.isolation import Stop

    stop = Stop()
    seen = []

    def on_result(result, row):
        seen.append(row.name)
        stop.request(15)

    (result,) = engine.verify_all([(make_spec("correct_hf"), "x")], names=["identity_at_zero", "determinism"],
                                  on_result=on_result, stop=stop)
    stop.close()
    assert seen == ["identity_at_zero"]
    assert statuses(result)["identity_at_zero"][0] == "passed"
    assert statuses(result)["determinism"] == ("skipped", "not run: the run was interrupted (SIGTERM)")
    assert result.interrupted == "SIGTERM" and not result.conforms


def test_an_adapter_that_no_longer_fits_its_library_is_not_judged(marker):
    from ropecheck import report

    result = engine.verify(hostile_spec("stale_adapter"), "stale_adapter", profile="ci",
                           names=["oracle_agreement", "determinism", "gradients"])
    assert [p.status for p in result.properties] == ["error", "error", "error"]
    line = ("adapter ropecheck.adapters.fake:rope does not fit fakelib 9.9: fakelib.rotary has no attribute "
            "'apply'; the library was not judged")
    assert all(p.message == line for p in result.properties)
    assert result.not_judged == line and not result.conforms
    assert report.verdict(result) == "NOT JUDGED"
    assert report.json_report([result])["implementations"][0]["not_judged"] == line
    assert "## Not judged" in report.markdown_report([result])
