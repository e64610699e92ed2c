"""The pytest plugin's items, judged from real pytest runs: one collected item per
(implementation, property, device), node ids rooted at the spec file, ``-k`` and node ids
selecting what runs, each item running only its own property, JUnit names and times."""

import shutil
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from ropecheck import engine, registry
from ropecheck.properties import PROPERTIES

pytestmark = pytest.mark.slow
TESTS = Path(__file__).resolve().parents[2]
NAMES = [p.name for p in PROPERTIES]

LOGGED = '''
import os

import torch

from mutants import correct_hf


def logged(x, positions, config):
    """correct_hf, writing one line per call: does it need a gradient, does x hold a NaN."""
    if os.environ.get("ROPECHECK_TEST_CALLS"):
        with open(os.environ["ROPECHECK_TEST_CALLS"], "a") as log:
            log.write(f"grad={x.requires_grad} nan={bool(torch.isnan(x.detach()).any())}\\n")
    return correct_hf(x, positions, config)
'''


def _spec(pytester, fn="calls:logged", name="mine"):
    """A spec over ``fn`` (in tests/mutants.py, or calls.py: correct_hf that logs its calls)."""
    shutil.copy(TESTS / "mutants.py", pytester.path / "mutants.py")
    (pytester.path / "calls.py").write_text(LOGGED)
    path = pytester.path / f"{name}.toml"
    path.write_text(f'name = "{name}"\ncallable = "{fn}"\npairing = "half_split"\nbase = "any"\n'
                    'dtypes = ["float32"]\ndevices = ["cpu"]\npartial_rotary = true\n')
    return path


def _ids(name="mine", root="mine.toml"):
    return [f"{root}::{name}::{prop}[cpu]" for prop in NAMES]


def _calls(monkeypatch, pytester, tag):
    """The file the logging implementation of this run writes its calls to."""
    path = pytester.path / f"calls-{tag}.log"
    monkeypatch.setenv("ROPECHECK_TEST_CALLS", str(path))
    return path


def _lines(path):
    return path.read_text().splitlines() if path.exists() else []


def test_collect_only_lists_one_item_per_property_rooted_at_the_spec_file(pytester):
    _spec(pytester)
    pytester.makepyfile(test_own="def test_own():\n    pass\n")
    result = pytester.runpytest_inprocess("--ropecheck-spec", "mine.toml", "--collect-only", "-q",
                                          "-p", "no:cacheprovider")
    assert result.ret == 0, result.stdout.str()
    listed = [line for line in result.outlines if "::" in line]
    assert listed == ["test_own.py::test_own", *_ids()]
    result.stdout.fnmatch_lines([f"{len(NAMES) + 1} tests collected*"])


def test_registered_name_is_rooted_at_ropecheck_built_in(pytester):
    result = pytester.runpytest_inprocess("--ropecheck-spec", "half-split", "--ropecheck-device", "cpu",
                                          "--collect-only", "-q", "-p", "no:cacheprovider")
    assert result.ret == 0, result.stdout.str()
    assert [line for line in result.outlines if "::" in line] == _ids("half-split", "ropecheck:built-in")


def test_full_run_counts_every_item_and_junit_names_and_times_each(pytester, monkeypatch):
    """A conforming implementation (correct_hf, logging its calls): every property an item,
    14 pass and the three q/k and packed ones are skipped; JUnit names and times each."""
    calls = _calls(monkeypatch, pytester, "full")
    _spec(pytester)
    result = pytester.runpytest_inprocess("--ropecheck-spec", "mine.toml", "--junitxml", "junit.xml",
                                          "-p", "no:cacheprovider", "-v")
    result.stdout.fnmatch_lines([f"*collected {len(NAMES)} items", "mine.toml::mine::oracle_agreement[[]cpu[]] PASSED*"])
    result.assert_outcomes(passed=14, skipped=3)  # the q/k and packed properties do not apply
    assert len(NAMES) == 17, NAMES
    outcomes = result.parseoutcomes()

    cases = list(ET.parse(pytester.path / "junit.xml").iter("testcase"))
    assert [c.get("classname") for c in cases] == ["ropecheck.mine"] * len(NAMES)
    assert [c.get("name") for c in cases] == [f"{prop}[cpu]" for prop in NAMES]
    ran = [float(c.get("time")) for c in cases if c.find("skipped") is None]
    assert len(ran) == outcomes["passed"] and all(t > 0 for t in ran), ran
    assert max(ran) < 0.8 * sum(ran), ran  # each item its own time, not the run's on the first

    # the whole catalogue calls with gradients and with NaNs: the test below relies on it
    lines = _lines(calls)
    assert "grad=True nan=False" in lines and any("nan=True" in line for line in lines), set(lines)


def test_k_selects_one_item_and_runs_only_its_property(pytester, monkeypatch):
    calls = _calls(monkeypatch, pytester, "k")
    _spec(pytester)
    result = pytester.runpytest_inprocess("--ropecheck-spec", "mine.toml", "-k", "oracle_agreement", "-v",
                                          "-p", "no:cacheprovider")
    result.stdout.fnmatch_lines([f"*collected {len(NAMES)} items / {len(NAMES) - 1} deselected / 1 selected",
                                 "mine.toml::mine::oracle_agreement[[]cpu[]] PASSED*"])
    result.assert_outcomes(passed=1, deselected=len(NAMES) - 1)
    lines = _lines(calls)
    assert lines, "oracle_agreement made no call"
    # no call with a gradient (gradients) or a NaN (nan_locality): those properties did not run
    assert set(lines) == {"grad=False nan=False"}, set(lines)


def test_a_property_broken_elsewhere_passes_alone(pytester):
    """mutates_input fails input_not_modified only: selecting oracle_agreement passes, and
    selecting the broken property fails with the engine's text."""
    _spec(pytester, "mutants:mutates_input", "broken")
    result = pytester.runpytest_inprocess("--ropecheck-spec", "broken.toml",
                                          "-k", "oracle_agreement or input_not_modified")
    result.assert_outcomes(passed=1, failed=1, deselected=len(NAMES) - 2)
    result.stdout.fnmatch_lines(["*broken · input_not_modified [[]cpu[]] failed: writes into its input x*",
                                 "*reproduce: *python -m ropecheck.repro broken.toml input_not_modified*",
                                 "FAILED broken.toml::broken::input_not_modified[[]cpu[]]*"])

    # pytest's cache knows the failed item by its id: --lf selects it again
    again = pytester.runpytest_inprocess("--ropecheck-spec", "broken.toml", "--lf", "--collect-only", "-q")
    assert [line for line in again.outlines if "::" in line] == ["broken.toml::broken::input_not_modified[cpu]"]


def test_a_node_id_reruns_exactly_that_item(pytester):
    _spec(pytester)
    node = "mine.toml::mine::oracle_agreement[cpu]"
    result = pytester.runpytest_inprocess(node, "--ropecheck-spec", "mine.toml", "-v", "-p", "no:cacheprovider",
                                          "--ropecheck-timeout", "60")
    result.stdout.fnmatch_lines(["*collected 1 item", "mine.toml::mine::oracle_agreement[[]cpu[]] PASSED*"])
    result.assert_outcomes(passed=1)

    # a .toml path on pytest's command line is a spec by itself; a name without [device] means every device
    alone = pytester.runpytest_inprocess("mine.toml::mine::oracle_agreement", "--collect-only", "-q",
                                         "-p", "no:cacheprovider")
    assert [line for line in alone.outlines if "::" in line] == [node]


def test_kept_process_serves_the_next_property(tmp_path):
    """Pool(keep=True), as the plugin uses it: two items, one checking process."""
    ((spec, ref),) = registry.resolve("half-split")
    with engine.Pool(keep=True) as pool:
        rows = [engine.verify_all([(spec, ref)], device="cpu", names=[name], pool=pool)[0].properties
                for name in ("identity_at_zero", "norm_preservation")]
        started = len(list(pool.dir.glob("child-*.log")))
    assert [[(r.name, r.status) for r in row] for row in rows] == [[("identity_at_zero", "passed")],
                                                                   [("norm_preservation", "passed")]]
    assert started == 1
