"""The command line against hostile code and signals, as a user's CI runs it: an import
that exits, raises or hangs is a usage error naming the spec and ``callable``; SIGINT,
SIGTERM and SIGKILL leave what finished written and nothing running. Every wait is for a
condition (with a generous bound), never on a fixed clock."""

import json
import os
import signal
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

from ropecheck.properties import PROPERTIES
from harness import gone, good_spec, wait_for
from harness import run_ropecheck as ropecheck

pytestmark = pytest.mark.slow

IMPORT_ATTACKS = {
    "system_exit": ("raise SystemExit(0)", "rope", "cannot import module 'system_exit_mod': SystemExit(0) (it tried "
                    "to exit the process)"),
    "os_exit": ("import os\nos._exit(0)", "rope", "stopped the checking process"),
    "keyboard_interrupt": ("raise KeyboardInterrupt", "rope", "cannot import module 'keyboard_interrupt_mod': "
                           "KeyboardInterrupt"),
    "module_getattr": ("def __getattr__(name):\n    raise RuntimeError('no ' + name)", "rope",
                       "raised RuntimeError: no rope"),
    "property_raises": ("class Holder:\n    @property\n    def rope(self):\n        raise ValueError('gone')\n"
                        "holder = Holder()", "holder.rope", "raised ValueError: gone"),
    "sleeps": ("import time\ntime.sleep(10**6)", "rope", "did not finish: hung: no progress"),
}


def attack(tmp_path: Path, kind: str) -> tuple[Path, str]:
    """A spec whose module attacks at import; returns (spec path, the words to expect)."""
    body, attr, words = IMPORT_ATTACKS[kind]
    (tmp_path / f"{kind}_mod.py").write_text(body + "\n")
    spec = tmp_path / f"{kind}.toml"
    spec.write_text(f'name = "{kind}"\ncallable = "{kind}_mod:{attr}"\npairing = "half_split"\nbase = "any"\n'
                    'dtypes = ["float32"]\ndevices = ["cpu"]\n')
    return spec, words


@pytest.mark.parametrize("kind", sorted(IMPORT_ATTACKS))
def test_an_import_that_attacks_is_a_usage_error_naming_spec_and_callable(tmp_path, kind):
    spec, words = attack(tmp_path, kind)
    good = good_spec(tmp_path)
    proc = ropecheck("verify", good, spec, "--timeout", "5", "--json", tmp_path / "out.json", cwd=tmp_path)
    assert proc.returncode == 2, proc.stdout + proc.stderr
    error = [line for line in proc.stderr.splitlines() if line.startswith("ropecheck: error:")]
    assert len(error) == 1, proc.stderr
    assert f"{spec}: key 'callable'" in error[0] and words in error[0], error[0]
    assert not (tmp_path / "out.json").exists(), "nothing ran, so no verdict may be written"


@pytest.mark.parametrize("kind", ["system_exit", "sleeps"])
def test_identify_and_bench_contain_import_attacks_too(tmp_path, kind):
    spec, words = attack(tmp_path, kind)
    _, attr, _ = IMPORT_ATTACKS[kind]
    proc = ropecheck("identify", f"{kind}_mod:{attr}", "--timeout", "5", cwd=tmp_path)
    assert proc.returncode == 2 and f"'{kind}_mod:{attr}'" in proc.stderr, proc.stdout + proc.stderr
    proc = ropecheck("bench", spec, "--quick", "--timeout", "5", "--out", tmp_path / "b.csv", cwd=tmp_path)
    assert proc.returncode == 2 and f"{spec}: key 'callable'" in proc.stderr, proc.stdout + proc.stderr


def test_the_pytest_plugin_turns_an_import_attack_into_a_usage_error(tmp_path):
    spec, _ = attack(tmp_path, "system_exit")
    proc = subprocess.run([sys.executable, "-m", "pytest", "--ropecheck-spec", str(spec), "-p", "no:cacheprovider",
                           "--rootdir", str(tmp_path)], cwd=tmp_path, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 4, proc.stdout + proc.stderr  # pytest's usage error, not INTERNALERROR (3)
    assert "key 'callable'" in proc.stderr and "SystemExit(0)" in proc.stderr


@pytest.mark.parametrize("signum, code", [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_a_signal_writes_what_finished_and_leaves_nothing_running(tmp_path, signum, code):
    marker = uuid.uuid4().hex
    env = dict(os.environ, ROPECHECK_TEST_MARKER=marker)
    good, hung = good_spec(tmp_path, "correct_hf"), good_spec(tmp_path, "hangs")
    out = tmp_path / "out.json"
    proc = subprocess.Popen([sys.executable, "-m", "ropecheck", "verify", str(good), str(hung), "-j", "1", "--json",
                             str(out), "--markdown", str(tmp_path / "out.md")], cwd=tmp_path, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)

    def hanging_started():  # every property of the good one is in, the hanging one is in flight
        try:
            data = json.loads(out.read_text())
        except (OSError, ValueError):
            return False
        return len(data["implementations"][0]["properties"]) == len(PROPERTIES)

    wait_for(hanging_started, within=600, while_running=proc)
    proc.send_signal(signum)
    stdout, stderr = proc.communicate(timeout=120)
    assert proc.returncode == code, stderr
    data = json.loads(out.read_text())
    assert data["complete"] is False and data["interrupted"] == signal.Signals(signum).name
    first, second = data["implementations"]
    assert first["conforms"] is True and all(p["status"] in ("passed", "skipped") for p in first["properties"])
    assert second["conforms"] is False and second["interrupted"] == signal.Signals(signum).name
    assert all(p["status"] == "skipped" for p in second["properties"])
    assert all("interrupted" in p["message"] for p in second["properties"] if "not applicable" not in p["message"])
    assert "INTERRUPTED" in stdout and (tmp_path / "out.md").exists()
    assert gone(marker) == []


def test_sigkill_leaves_nothing_running_and_the_finished_results_on_disk(tmp_path):
    marker = uuid.uuid4().hex
    env = dict(os.environ, ROPECHECK_TEST_MARKER=marker)
    good, hung = good_spec(tmp_path, "correct_hf"), good_spec(tmp_path, "hangs")
    out = tmp_path / "out.json"
    proc = subprocess.Popen([sys.executable, "-m", "ropecheck", "verify", str(good), str(hung), "--json", str(out)],
                            cwd=tmp_path, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    def passed(data):
        return [p["name"] for p in data["implementations"][0]["properties"] if p["status"] == "passed"]

    wait_for(lambda: out.exists() and len(passed(json.loads(out.read_text()))) >= 2, within=600, while_running=proc)
    proc.kill()
    proc.wait()
    assert gone(marker) == []
    data = json.loads(out.read_text())
    assert data["complete"] is False and len(passed(data)) >= 2


def test_sigterm_to_bench_kills_its_children(tmp_path):
    marker = uuid.uuid4().hex
    env = dict(os.environ, ROPECHECK_TEST_MARKER=marker)
    spec = good_spec(tmp_path, "hangs")
    proc = subprocess.Popen([sys.executable, "-m", "ropecheck", "bench", str(spec), "--quick", "--out",
                             str(tmp_path / "b.csv")], cwd=tmp_path, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    # a benchmark child of the hanging implementation is running when its label is printed
    line = ""
    while "timing hangs" not in line:
        line = proc.stderr.readline()
        assert line, "bench ended before timing the implementation"
    proc.send_signal(signal.SIGTERM)
    proc.communicate(timeout=120)
    assert proc.returncode == 143
    assert gone(marker) == []
    assert not (tmp_path / "b.csv").exists()


def test_an_implementation_that_signals_its_parent_does_not_stop_the_run(tmp_path):
    parent_killer = good_spec(tmp_path, "kills_parent", module="hostile")
    good = good_spec(tmp_path, "correct_hf")
    proc = ropecheck("verify", parent_killer, good, "--json", tmp_path / "out.json", cwd=tmp_path)
    assert proc.returncode == 1, proc.stderr
    first, second = json.loads((tmp_path / "out.json").read_text())["implementations"]
    applicable = [p for p in first["properties"] if not p["message"].startswith("not applicable")]
    assert len(applicable) >= 10 and all(p["status"] == "failed" and "sent SIGTERM to its parent process" in p["message"]
                                         for p in applicable)
    assert all(p["status"] == "skipped" for p in first["properties"] if p not in applicable)
    assert second["conforms"] is True


def test_bench_reports_a_failing_implementation_and_keeps_the_other_rows(tmp_path):
    import pandas as pd

    specs = [good_spec(tmp_path, fn) for fn in ("correct_hf", "exits_interpreter", "raises_always")]
    proc = ropecheck("bench", *specs, "--quick", "--out", tmp_path / "b.csv", cwd=tmp_path)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "bench: exits_interpreter failed: the checking process exited with code 3" in proc.stderr
    assert "bench: raises_always failed" in proc.stderr and "NotImplementedError" in proc.stderr
    table = pd.read_csv(tmp_path / "b.csv")
    assert set(table["implementation"]) == {"copy", "correct_hf"}
    assert not (tmp_path / ".benchmarks").exists() and not (tmp_path / ".hypothesis").exists()


def test_verify_leaves_no_state_in_the_working_directory(tmp_path):
    good = good_spec(tmp_path, "correct_hf")
    before = set(os.listdir(tmp_path))
    proc = ropecheck("verify", good, "--json", tmp_path / "v.json", cwd=tmp_path)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert set(os.listdir(tmp_path)) - before == {"v.json"}, "verify wrote state into the working directory"


def test_report_interrupted_leaves_no_half_built_folder(tmp_path):
    pytest.importorskip("matplotlib")
    marker = uuid.uuid4().hex
    env = dict(os.environ, ROPECHECK_TEST_MARKER=marker)
    proc = subprocess.Popen([sys.executable, "-m", "ropecheck", "report", "--out", str(tmp_path / "rep"),
                             "--results", str(tmp_path / "none")], cwd=tmp_path, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    wait_for(lambda: any(p.name.startswith(".rep.") for p in tmp_path.iterdir()) or proc.poll() is not None,
             within=300)
    proc.send_signal(signal.SIGTERM)
    proc.communicate(timeout=120)
    if proc.returncode == 0:
        pytest.skip("the report was finished before the signal arrived")
    assert proc.returncode == 143
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".rep")] == []
    assert not (tmp_path / "rep").exists()
