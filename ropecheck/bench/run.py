"""A sweep of workloads timed into rows: CPU through pytest-benchmark (in a child pytest),
CUDA through events. Every implementation is timed beside a copy of the same bytes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

from ropecheck.bench import timing
from ropecheck.bench.workload import load_workloads

SUITE = Path(__file__).with_name("pytest_suite.py")


def collect(targets: list[str], device: str, quick: bool, passes: list[str], rounds: int | None = None,
            dtypes: list[str] | None = None) -> list[dict]:
    """Rows of ``info() + samples_s`` for every workload of the sweep."""
    job = {"targets": targets, "quick": quick, "passes": passes, "dtypes": dtypes,
           "rounds": rounds or (10 if quick else 30)}
    return _cpu(job) if device == "cpu" else _cuda(job)


def _cpu(job: dict) -> list[dict]:
    with tempfile.TemporaryDirectory(prefix="ropecheck-bench-") as tmp:
        job_path, report = Path(tmp) / "job.json", Path(tmp) / "report.json"
        job_path.write_text(json.dumps(job))
        env = dict(os.environ, ROPECHECK_BENCH_JOB=str(job_path))
        package_root = str(Path(__file__).resolve().parents[2])
        env["PYTHONPATH"] = os.pathsep.join(p for p in (package_root, env.get("PYTHONPATH", "")) if p)
        proc = subprocess.run([sys.executable, "-m", "pytest", str(SUITE), "-q", "-p", "no:cacheprovider",
                               "-p", "no:randomly", "--benchmark-only", f"--benchmark-json={report}",
                               "--benchmark-disable-gc", "--rootdir", tmp],
                              env=env, capture_output=True, text=True, stdin=subprocess.DEVNULL)
        if proc.returncode != 0 or not report.exists():
            raise RuntimeError(f"CPU benchmark run failed (pytest exit {proc.returncode}):\n{proc.stdout[-3000:]}\n{proc.stderr[-2000:]}")
        data = json.loads(report.read_text())
    rows = []
    for bench in data["benchmarks"]:
        info = dict(bench["extra_info"])
        info["samples_s"] = bench["stats"]["data"]
        rows.append(info)
    return rows


def _cuda(job: dict) -> list[dict]:
    import torch

    rows = []
    for work in load_workloads(job, device="cuda"):
        call = work.prepare()
        replays = 1
        if work.shape.kind == "decode":
            graph = timing.as_graph(call, replays=20)
            if graph is not None:
                call, replays = graph, 20
        samples = [t / replays for t in timing.cuda_samples(call)]
        info = work.info()
        info["samples_s"] = samples
        info["timer"] = "cuda-graph" if replays > 1 else "cuda-events"
        rows.append(info)
        del call
        torch.cuda.empty_cache()
    return rows
