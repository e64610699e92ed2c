"""A sweep of workloads timed into rows, each implementation in a child of its own.

Every implementation is timed in its own child (``ropecheck.bench.child`` inside an
``ropecheck.isolation`` sandbox, under CPU-time limits), and that child times the copy
roofline of each workload interleaved with it, round by round: the yardstick shares the
implementation's conditions, and one that raises, exits or hangs is reported by name with
the reason while the rows of every other are kept. Interleaving inside the child rather
than across children (the parent driving round r of every implementation in turn) keeps
each child a plain run-to-completion process under ``isolation.run_command``'s limits,
with no protocol a hostile implementation could stall or forge mid-run. Timing is
``time.perf_counter`` on the CPU, CUDA events on a GPU (``ropecheck.bench.timing``).
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from ropecheck.isolation import Limits, Stop, log_tail, run_command

CHILD = ["-P", "-m", "ropecheck.bench.child"]
DEFAULT_TIMEOUT = {True: 600.0, False: 3600.0}
"""CPU seconds one implementation's child may use: --quick, full sweep."""


@dataclass
class Collected:
    """Rows of every workload that ran, and (implementation, reason) for what did not."""

    rows: list[dict] = field(default_factory=list)
    failures: list[tuple[str, str]] = field(default_factory=list)


def _env(state: Path) -> dict[str, str]:
    env = dict(os.environ)
    package_root = str(Path(__file__).resolve().parents[2])
    env["PYTHONPATH"] = os.pathsep.join(p for p in (package_root, env.get("PYTHONPATH", "")) if p)
    env.update(PYTHONSAFEPATH="1", HYPOTHESIS_STORAGE_DIRECTORY=str(state / "hypothesis"))
    return env


def collect(targets: list[tuple[str, str]], device: str, quick: bool, passes: list[str], rounds: int | None = None,
            dtypes: list[str] | None = None, timeout: float | None = None, stop: Stop | None = None) -> Collected:
    """Time ``targets``, (implementation name, spec path or registered name) pairs, each
    interleaved with the copy roofline; ``info() + samples_s`` rows (a copy row per
    workload and child, pooled by ``table.build``)."""
    job = {"device": device, "quick": quick, "passes": passes, "dtypes": dtypes,
           "rounds": rounds or (10 if quick else 30)}
    limits = Limits.for_timeout(timeout or DEFAULT_TIMEOUT[quick])
    out = Collected()
    with tempfile.TemporaryDirectory(prefix="ropecheck-bench-") as tmp:
        env = _env(Path(tmp))
        jobs = [(name, {**job, "targets": [ref]}) for name, ref in targets]
        for index, (label, child_job) in enumerate(jobs):
            job_path, rows_path = Path(tmp) / f"job-{index}.json", Path(tmp) / f"rows-{index}.json"
            job_path.write_text(json.dumps(child_job))
            print(f"bench: timing {label} ...", file=sys.stderr, flush=True)
            why = run_command([sys.executable, *CHILD, str(job_path), str(rows_path)], env,
                              Path(tmp) / f"child-{index}.log", limits, stop)
            data = json.loads(rows_path.read_text()) if rows_path.exists() else {"rows": [], "failures": []}
            out.rows += data["rows"]
            out.failures += [(test_id.split("|")[0], reason) for test_id, reason in data["failures"]]
            if not why and not data["rows"] and not data["failures"]:
                why = f"no workload was timed: {log_tail(Path(tmp) / f'child-{index}.log') or 'the child printed nothing'}"
            if why:
                out.failures.append((label, why))
    return out
