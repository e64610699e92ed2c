"""The pytest plugin: a library runs ropecheck inside its own test suite."""

import shutil

import pytest

from harness import TESTS

pytestmark = pytest.mark.slow


def _spec(pytester, fn, name):
    shutil.copy(TESTS / "mutants.py", pytester.path / "mutants.py")
    path = pytester.path / f"{name}.toml"
    path.write_text(f'name = "{name}"\ncallable = "mutants:{fn}"\npairing = "half_split"\nbase = "any"\n'
                    'dtypes = ["float32"]\ndevices = ["cpu"]\npartial_rotary = true\n')
    return path


def test_failing_property_shows_cause_counterexample_and_reproduce(pytester):
    """off_by_one breaks oracle_agreement and identity_at_zero (tests/acceptance/test_mutants.py):
    both items run and fail, each with the engine's text."""
    path = _spec(pytester, "off_by_one", "broken")
    result = pytester.runpytest_inprocess("--ropecheck-spec", str(path), "-p", "no:cacheprovider",
                                          "-k", "oracle_agreement or identity_at_zero")
    outcomes = result.parseoutcomes()
    assert outcomes.get("failed", 0) == 2, outcomes
    result.stdout.fnmatch_lines(["*broken · oracle_agreement [[]cpu[]] failed*positions off by +1*",
                                 "*counterexample: shape=*", "*reproduce: *python -m ropecheck.repro*"])
    assert result.ret == 1


def test_bad_spec_is_a_usage_error(pytester):
    path = _spec(pytester, "correct_hf", "mine")
    path.write_text(path.read_text().replace('devices = ["cpu"]', 'devices = ["gpu"]'))
    result = pytester.runpytest_inprocess("--ropecheck-spec", str(path), "-p", "no:cacheprovider")
    assert result.ret == 4  # pytest's usage-error exit code
    result.stderr.fnmatch_lines([f"*{path}: key 'devices': unknown value 'gpu'*"])


def test_profiles_are_registered_for_the_users_suite(pytester):
    pytester.makepyfile("def test_x():\n    from hypothesis import settings\n    assert settings._current_profile == 'ci'\n")
    # a process of its own: this one has a profile loaded already
    result = pytester.runpytest_subprocess("--hypothesis-profile", "ci", "-p", "no:cacheprovider")
    result.assert_outcomes(passed=1)
