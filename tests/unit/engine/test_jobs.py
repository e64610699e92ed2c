"""``verify -j N``: checking processes side by side, each with one torch thread, started by
forking ropecheck's process; the verdict does not depend on N."""

import json
import os
import platform
import subprocess
import sys
from pathlib import Path

import pytest

import jobs_state
from ropecheck import engine
from ropecheck.properties import PROPERTIES
from ropecheck.spec import spec_from_mapping

from harness import TESTS
from harness import ROOT
NAMES = [p.name for p in PROPERTIES]


def run(*args, cwd=ROOT):
    return subprocess.run([sys.executable, "-m", "ropecheck", *args], cwd=cwd, capture_output=True, text=True,
                          timeout=600)


def test_split_names_covers_every_property_once_in_catalogue_order():
    for parts in range(1, len(NAMES) + 3):
        groups = engine.split_names(NAMES, parts)
        assert len(groups) == min(parts, len(NAMES))
        assert sorted(n for g in groups for n in g) == sorted(NAMES)
        assert all(g == sorted(g, key=NAMES.index) for g in groups)
        assert groups == engine.split_names(NAMES, parts)  # deterministic


def test_split_names_balances_the_drawn_examples():
    costs = [sum(engine._cost(n) for n in g) for g in engine.split_names(NAMES, 2)]
    heaviest = max(engine._cost(n) for n in NAMES)
    assert max(costs) - min(costs) <= heaviest, costs


def test_implementations_are_not_split_while_there_are_enough_of_them():
    units = [engine._Unit(None, None, f"ref{i}", "cpu", list(NAMES)) for i in range(3)]
    assert [(t[0].ref, t[1]) for t in engine._tasks(units, 2)] == [(f"ref{i}", NAMES) for i in range(3)]
    assert [len(t[1]) for t in engine._tasks(units[:1], 1)] == [len(NAMES)]
    assert len(engine._tasks(units[:1], 4)) == 4


@pytest.mark.parametrize("value", ["0", "-2", "1.5", "many"])
def test_a_bad_jobs_value_is_a_usage_error(value):
    proc = run("verify", "half-split", "-j", value)
    assert proc.returncode == 2, proc.stderr
    assert "-j/--jobs" in proc.stderr and repr(value) in proc.stderr


def _verdict(path: Path) -> list:
    data = json.loads(path.read_text())
    # every field but the duration, which is a measurement, not part of the verdict
    return [(i["name"], [{k: v for k, v in p.items() if k != "duration"} for p in i["properties"]])
            for i in data["implementations"]]


@pytest.mark.slow
def test_the_verdict_is_the_same_with_one_job_and_with_three(tmp_path):
    """A conforming and a broken implementation, one and three jobs: same rows, in the same
    order, with the same counterexamples and reproduce lines."""
    (tmp_path / "mutants.py").write_text((TESTS / "mutants.py").read_text())
    for fn in ("correct_hf", "wrong_direction"):
        (tmp_path / f"{fn}.toml").write_text(f'name = "{fn}"\ncallable = "mutants:{fn}"\npairing = "half_split"\n'
                                             'base = "any"\ndtypes = ["float32"]\ndevices = ["cpu"]\n')
    chosen = ["oracle_agreement", "relative_position", "norm_preservation", "per_row_positions", "memory_layout"]
    picks = [w for n in chosen for w in ("--property", n)]
    outs = {}
    for jobs in (1, 3):
        outs[jobs] = tmp_path / f"j{jobs}.json"
        proc = run("verify", "correct_hf.toml", "wrong_direction.toml", "-j", str(jobs), *picks,
                   "--json", str(outs[jobs]), cwd=tmp_path)
        assert proc.returncode == 1, proc.stdout + proc.stderr
    one, three = _verdict(outs[1]), _verdict(outs[3])
    assert one == three
    assert [p["name"] for p in one[0][1]] == chosen
    assert any(p["status"] == "failed" and p["reproduce"] for p in one[1][1])


def test_a_forked_checking_process_imports_the_implementation_afresh(tmp_path):
    """ropecheck's process (here: this test process) has the implementation's module loaded
    and changed; a forked checking process must not inherit that state."""
    jobs_state.ANGLE_SIGN = -1.0  # as loaded here, the implementation rotates the wrong way
    spec = spec_from_mapping({"name": "state", "callable": "jobs_state:rope", "pairing": "half_split", "base": "any",
                              "dtypes": ["float32"], "devices": ["cpu"]}, origin="tests/jobs_state.py",
                             folder=str(TESTS))
    try:
        result = engine.verify_all([(spec, "jobs_state")], names=["oracle_agreement"], fork=True)[0]
    finally:
        jobs_state.ANGLE_SIGN = 1.0
    assert [(p.name, p.status) for p in result.properties] == [("oracle_agreement", "passed")], result.properties


def test_forked_checking_processes_start_with_the_sys_path_of_a_new_interpreter(monkeypatch, tmp_path):
    from ropecheck import worker

    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(sys, "path", [str(tmp_path), "/somewhere/else", str(tmp_path), "/lib/python"])
    monkeypatch.setattr(sys, "flags", type("F", (), {"safe_path": False})())
    path = worker._sys_path({"PYTHONPATH": os.pathsep.join(["/pkg", "/somewhere/else"])})
    assert path == ["/pkg", "/somewhere/else", "/lib/python"]


_HEAP_SCRIPT = """
import ctypes, sys
from ropecheck import worker
if sys.argv[1] == "prepared":
    worker.prepare_checking_process()
libc = ctypes.CDLL(None)
libc.malloc.restype, libc.malloc.argtypes = ctypes.c_void_p, [ctypes.c_size_t]
libc.free.argtypes = [ctypes.c_void_p]
libc.sbrk.restype, libc.sbrk.argtypes = ctypes.c_void_p, [ctypes.c_ssize_t]
def heap():
    with open("/proc/self/maps") as maps:
        for line in maps:
            if line.rstrip().endswith("[heap]"):
                start, end = line.split()[0].split("-")
                return int(start, 16), int(end, 16)
block = libc.malloc(20 * 2**20)  # what a (1, 2048, 20, 64) float64 oracle result takes
start, end = heap()
in_heap = start <= block < end
top = libc.sbrk(0)
libc.free(block)
print(in_heap, libc.sbrk(0) == top)
"""


@pytest.mark.skipif(not sys.platform.startswith("linux") or platform.libc_ver()[0] != "glibc",
                    reason="the setting is glibc's mallopt (elsewhere nothing is changed)")
def test_a_checking_process_keeps_freed_memory_for_the_next_example():
    """In a prepared checking process a 20 MiB block comes from the heap (by default glibc
    maps it from the kernel, and unmaps it when freed) and freeing it leaves the heap as
    large as it was: the next example's tensors reuse those pages instead of faulting fresh
    zeroed ones in (``worker.keep_freed_memory``)."""
    seen = {}
    # glibc's defaults: no MALLOC_* variables or tunables from the environment this runs in
    env = {k: v for k, v in os.environ.items() if not k.startswith("MALLOC_") and k != "GLIBC_TUNABLES"}
    for mode in ("prepared", "plain"):
        done = subprocess.run([sys.executable, "-c", _HEAP_SCRIPT, mode], cwd=ROOT, capture_output=True, text=True,
                              env={**env, "PYTHONPATH": str(ROOT)}, timeout=600)
        assert done.returncode == 0, done.stderr[-2000:]
        seen[mode] = done.stdout.split()
    assert seen["prepared"] == ["True", "True"], f"(block in the heap, heap kept after free): {seen}"
    assert seen["plain"][0] == "False", f"glibc's default should map a 20 MiB block itself: {seen}"
