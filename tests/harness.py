"""What several test files share, wherever they sit under ``tests/``: the tests folder (the
mutant and hostile modules live there) and the repository root; waiting for processes to be
gone and for conditions; the cause phrase diagnosis must give for each boundary mutant; the
``ropecheck`` command in a subprocess; a folder built once per test run for every xdist
worker (``built_once``); and the acceptance harness, one for every suite that
judges ropecheck on code it did not write (tests/acceptance/, tests/adapters/, and the unit
tests that need a mutant's spec):

- ``implementation_spec``: the spec of ``module:fn`` (a module at tests/ root) from its
  claims; ``claims_of``: the claims a red-team table (``CORRECT``/``MUTANTS``) records;
- ``judge``: an in-process verify (isolate=False), run afresh; ``verified``: the same,
  cached per (module, fn, claims, names, profile), for the suites that ask twice;
- ``false_alarms``/``assert_conforms``: a correct implementation must conform, and what
  failed is listed when it does not; ``assert_rejected``: a mutant is rejected by the named
  property, with its cause in the message (and, where asked, a counterexample and a
  reproduce line)."""

import functools
import json
import os
import shutil
import subprocess
import sys
import time
from importlib import import_module
from pathlib import Path

import psutil

from ropecheck import engine
from ropecheck.spec import Spec, spec_from_mapping

TESTS = Path(__file__).resolve().parent
ROOT = TESTS.parent


def leftovers(marker: str) -> list[int]:
    """Processes whose environment carries ``marker`` (everything a test started inherits it)."""
    found = []
    for proc in psutil.process_iter(["pid"]):
        try:
            if proc.environ().get("ROPECHECK_TEST_MARKER") == marker and proc.pid != os.getpid():
                found.append(proc.pid)
        except psutil.Error:
            continue
    return found


def gone(marker: str, within: float = 30.0) -> list[int]:
    """Wait until no process carries ``marker`` (at most ``within`` s); what is left."""
    deadline = time.monotonic() + within
    while leftovers(marker) and time.monotonic() < deadline:
        time.sleep(0.1)
    return leftovers(marker)


def wait_for(predicate, within: float = 60.0, while_running=None):
    """Poll ``predicate`` until it is truthy; fail at once if the ``while_running`` process has
    ended (a wrong predicate must not cost the whole ``within``)."""
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        if while_running is not None and while_running.poll() is not None:
            raise AssertionError(f"the process ended (exit {while_running.returncode}) before the condition was met")
        time.sleep(0.05)
    raise AssertionError("condition not met in time")


# mutant -> a phrase its explanation must contain
EXPECTED_CAUSE = {
    "rotary_width_int_truncation": "int(head_dim * (rotary_dim / head_dim)) = 63",
    "rotary_width_even_floor": "int(head_dim * (rotary_dim / head_dim)) // 2 * 2 = 62",
    "rotary_width_round_two_decimals": "rotary fraction rounded to two decimals",
    "positions_int16": "positions stored as int16 wrap at 2**15",
    "positions_float16": "positions rounded to float16",
    "table_2048_clamped": "positions past 2047 are clamped to 2047",
    "table_4096_modulo": "positions are taken modulo 4096",
    "table_32768_clamped": "positions past 32767 are clamped to 32767",
    "tile_positions_lost_64": "positions restart at every tile of 64 tokens",
    "tile_positions_lost_128": "positions restart at every tile of 128 tokens",
    "sin_sign_flipped_past_2048": "the wrong way for positions >= 2048 only",
    "half_split_table_interleaved_rotation": "half_split cos/sin layout (cat(freqs, freqs)) applied with the interleaved rotation",
    "output_pairs_deinterleaved": "output permuted",
    "all_ones_frequency_ladder": "every pair's frequency is 1",
    "first_head_only": "only the first head is rotated",
    "decode_rows_take_row0_positions": "row 0's positions",
    "last_pair_sign_flipped": "sin sign flipped on pair",
    "float64_computed_in_float32": "computed in float32",
    "cos_table_float16": "cos/sin tables stored in float16",
    "angles_float16": "angles formed in float16",
}


# ---------------------------------------------------------------- the command line


def run_ropecheck(*args, cwd, env=None, timeout=600) -> subprocess.CompletedProcess:
    """``python -m ropecheck ARGS`` in ``cwd``, as a user's CI runs it (output captured)."""
    return subprocess.run([sys.executable, "-m", "ropecheck", *map(str, args)], cwd=cwd, capture_output=True,
                          text=True, timeout=timeout, env=env)


def good_spec(tmp_path: Path, fn: str = "correct_hf", name: str | None = None, module: str = "mutants") -> Path:
    """A spec file in ``tmp_path`` for ``module:fn`` (the module copied beside it, and
    mutants.py too): half_split, any base, float32 on the CPU."""
    source = TESTS / f"{module}.py"
    (tmp_path / source.name).write_text(source.read_text())
    if module != "mutants":
        (tmp_path / "mutants.py").write_text((TESTS / "mutants.py").read_text())
    path = tmp_path / f"{name or fn}.toml"
    path.write_text(f'name = "{name or fn}"\ncallable = "{module}:{fn}"\npairing = "half_split"\nbase = "any"\n'
                    'dtypes = ["float32"]\ndevices = ["cpu"]\n')
    return path


def built_once(tmp_path_factory, name: str, build) -> Path:
    """A folder that ``build(folder)`` fills, built once per test run however many
    pytest-xdist workers ask for it (the pattern of xdist's documentation: the first worker
    builds it under a file lock in the run's shared temporary folder; the others wait, then
    read it). Callers must only read what is in it. Without xdist (not installed, or
    ``-p no:xdist``), a fresh folder."""
    if not os.environ.get("PYTEST_XDIST_WORKER"):  # set by xdist in each of its workers
        folder = tmp_path_factory.mktemp(name)
        build(folder)
        return folder
    from filelock import FileLock  # a dependency of torch

    shared = tmp_path_factory.getbasetemp().parent  # one per run, shared by its workers
    folder, built = shared / name, shared / f"{name}.built"
    with FileLock(str(shared / f"{name}.lock")):
        if not built.exists():
            if folder.exists():  # a worker that failed while building it
                shutil.rmtree(folder)
            folder.mkdir()
            build(folder)
            built.touch()
    return folder


# ---------------------------------------------------------------- the acceptance harness

MUTANTS_CLAIMS = {"pairing": "half_split", "base": "any", "dtypes": ["float64", "float32", "bfloat16", "float16"],
                  "devices": ["cpu"], "partial_rotary": True}
"""What the implementations of tests/mutants.py and tests/redteam.py claim unless a row of the
suite says otherwise."""

SPEC_KEYS = ("pairing", "base", "dtypes", "devices", "partial_rotary", "inplace", "differentiable", "max_position",
             "signature", "packed", "positions")
"""The keys of a red-team table's ``spec`` entry that are spec keys (the rest describe the code)."""


def claims_of(module, fn: str) -> dict:
    """The claims the table of ``module`` (a module at tests/ root, or its name) records for
    ``fn`` (its ``CORRECT`` entry, else its ``MUTANTS`` entry: the two are disjoint), spec
    keys only."""
    module = import_module(module) if isinstance(module, str) else module
    table = module.CORRECT if fn in module.CORRECT else module.MUTANTS
    return {k: v for k, v in table[fn]["spec"].items() if k in SPEC_KEYS}


def implementation_spec(module: str, fn: str, claims: dict | None = None, **overrides) -> Spec:
    """The spec of ``module:fn``: ``claims`` (a table's, filtered to SPEC_KEYS), then
    ``overrides`` (spec keys, taken as they are)."""
    claims = {k: v for k, v in (claims or {}).items() if k in SPEC_KEYS}
    return spec_from_mapping({"name": fn, "callable": f"{module}:{fn}", **claims, **overrides},
                             origin=f"tests/{module}.py:{fn}", folder=str(TESTS))


def judge(module: str, fn: str, names=None, profile: str = "ci", **claims) -> engine.ImplementationResult:
    """``engine.verify`` of ``module:fn`` in this process (isolate=False), every property or
    only ``names``; run afresh (see ``verified``)."""
    return engine.verify(implementation_spec(module, fn, **claims), fn, profile=profile, isolate=False,
                         names=None if names is None else list(names))


@functools.lru_cache(maxsize=None)
def _verified(module: str, fn: str, claims_json: str, names: tuple[str, ...] | None, profile: str):
    return judge(module, fn, names, profile, **json.loads(claims_json))


def verified(module: str, fn: str, names=None, profile: str = "ci", **claims) -> engine.ImplementationResult:
    """``judge``, cached per (module, fn, claims, names, profile): a suite that asks for the
    same verdict twice (several rows on one property) runs it once per process."""
    return _verified(module, fn, json.dumps(claims, sort_keys=True), None if names is None else tuple(names), profile)


def false_alarms(result) -> list[str]:
    """``name [status]: message | counterexample`` for every property neither passed nor skipped."""
    return [f"{p.name} [{p.status}]: {p.message} | {p.counterexample}"
            for p in result.properties if p.status not in ("passed", "skipped")]


def assert_conforms(result, fn: str) -> None:
    """Correct code must conform: a rejection is a false alarm, listed."""
    assert result.conforms, f"false alarm on correct code {fn}:\n" + "\n".join(false_alarms(result))


def assert_rejected(result, fn: str, prop: str | None, words: str = "", *, alone: bool = False,
                    reproducible: bool = True):
    """A mutant must be rejected (an acceptance is a miss); by ``prop`` (None: by any
    property), whose row is then returned, failed, with ``words`` in its message. ``alone``:
    that row is the only one. ``reproducible``: the row carries a counterexample (a case,
    ``shape=...``) and a ``python -m ropecheck.repro`` line."""
    failing = {p.name: p.message for p in result.properties if p.status not in ("passed", "skipped")}
    assert not result.conforms, f"miss: mutant {fn} was accepted (no property failed)"
    if prop is None:
        return None
    if alone:
        assert [p.name for p in result.properties] == [prop], (fn, [p.name for p in result.properties])
    rows = [p for p in result.properties if p.name == prop]
    assert rows and rows[0].status == "failed", (
        f"{fn}: expected {prop} to fail, got {rows[0].status if rows else 'no row'}: "
        f"{rows[0].message if rows else ''}; failing: {failing}")
    row = rows[0]
    assert words in row.message, f"{fn}: {prop} message does not name the cause ({words!r}): {row.message}"
    if reproducible:
        assert row.counterexample and "shape=" in row.counterexample, f"{fn}: no counterexample: {row}"
        assert row.reproduce.startswith("python -m ropecheck.repro"), f"{fn}: no reproduce line: {row}"
    return row
