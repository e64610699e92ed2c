"""The CPU benchmark suite, run by pytest-benchmark, outside ``ropecheck bench``.

``ropecheck bench`` no longer runs this module: it times the copy and each implementation
interleaved, round by round (``ropecheck.bench.child``), which pytest-benchmark's one
benchmark at a time cannot do. This suite reads a job file named by the
``ROPECHECK_BENCH_JOB`` environment variable; without one it times the built-in variants
over the quick sweep as plain pytest::

    pytest --benchmark-autosave --pyargs ropecheck.bench.pytest_suite

Each implementation is timed beside ``copy``, a plain copy of the same bytes on the same
device in the same run (each benchmark's rounds in a row, not interleaved).
"""

from __future__ import annotations

import json
import os

import pytest
import torch

from ropecheck.bench.workload import Workload, load_workloads


def _job() -> dict:
    path = os.environ.get("ROPECHECK_BENCH_JOB")
    if path:
        with open(path, encoding="utf-8") as f:
            return json.load(f)
    return {"targets": ["dense-matrix", "sparse-elementwise", "complex-polar", "interleaved", "half-split"],
            "quick": True, "rounds": 10, "passes": ["fwd"]}


JOB = _job()
WORKLOADS = load_workloads(JOB, device="cpu")


@pytest.mark.parametrize("work", WORKLOADS, ids=[w.id for w in WORKLOADS])
def test_rope(benchmark, work: Workload):
    torch.set_num_threads(JOB.get("threads", torch.get_num_threads()))
    benchmark.extra_info.update(work.info())
    call = work.prepare()
    benchmark.pedantic(call, rounds=JOB.get("rounds", 10), iterations=1, warmup_rounds=2)
