"""One benchmark child process: times one job's workloads and writes their rows as JSON.

Started by ``ropecheck.bench.run`` inside an ``ropecheck.isolation`` sandbox, one per
implementation (and one for the copy roofline), so that an implementation that raises,
exits or hangs loses only its own rows::

    python -P -m ropecheck.bench.child JOB.json ROWS.json

``ROWS.json`` holds ``{"rows": [...], "failures": [[test id, reason], ...]}``. CPU rows are
timed by pytest-benchmark (``pytest_suite``, run in this process), CUDA rows by CUDA events.
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
from pathlib import Path

SUITE = Path(__file__).with_name("pytest_suite.py")


class _Failures:
    """A pytest plugin that keeps (test id, last line of the error) of every failed test."""

    def __init__(self) -> None:
        self.failed: list[list[str]] = []

    def pytest_runtest_logreport(self, report) -> None:
        if report.failed:
            text = str(report.longrepr).strip().splitlines()
            self.failed.append([report.nodeid.split("[", 1)[-1].rstrip("]"), text[-1] if text else "failed"])


def _cpu(job_path: str) -> tuple[list[dict], list[list[str]]]:
    import pytest

    os.environ["ROPECHECK_BENCH_JOB"] = job_path
    for name in [n for n in os.environ if n.startswith("PYTEST_")]:  # a host test run's settings are not ours
        del os.environ[name]
    with tempfile.TemporaryDirectory(prefix="ropecheck-bench-") as tmp:
        report, ini = Path(tmp) / "report.json", Path(tmp) / "pytest.ini"
        ini.write_text("[pytest]\n")
        failures = _Failures()
        pytest.main([str(SUITE), "-q", "-c", str(ini), "--rootdir", tmp, "-p", "no:cacheprovider",
                     "-p", "no:randomly", "-p", "no:xdist", "--benchmark-only", f"--benchmark-json={report}",
                     f"--benchmark-storage=file://{tmp}/storage", "--benchmark-disable-gc"], plugins=[failures])
        data = json.loads(report.read_text()) if report.exists() else {"benchmarks": []}
    rows = []
    for bench in data["benchmarks"]:
        info = dict(bench["extra_info"])
        info["samples_s"] = bench["stats"]["data"]
        rows.append(info)
    return rows, failures.failed


def _cuda(job: dict) -> tuple[list[dict], list[list[str]]]:
    import torch

    from ropecheck.bench import timing
    from ropecheck.bench.workload import load_workloads

    rows, failed = [], []
    for work in load_workloads(job, device="cuda"):
        try:
            call = work.prepare()
            replays = 1
            if work.shape.kind == "decode":
                graph = timing.as_graph(call, replays=20)
                if graph is not None:
                    call, replays = graph, 20
            samples = [t / replays for t in timing.cuda_samples(call)]
        except Exception as exc:  # noqa: BLE001 - the implementation's failure is reported by name
            failed.append([work.id, f"{type(exc).__name__}: {' '.join(str(exc).split())[:300]}"])
            continue
        info = work.info()
        info["samples_s"] = samples
        info["timer"] = "cuda-graph" if replays > 1 else "cuda-events"
        rows.append(info)
        del call
        torch.cuda.empty_cache()
    return rows, failed


def main(job_path: str, rows_path: str) -> int:
    from ropecheck.storage import atomic_write_json

    with open(job_path, encoding="utf-8") as f:
        job = json.load(f)
    rows, failures = _cpu(job_path) if job["device"] == "cpu" else _cuda(job)
    atomic_write_json(rows_path, {"rows": rows, "failures": failures})
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], sys.argv[2]))
