"""One benchmark child process: times one implementation's workloads, each interleaved
with the copy roofline of the same bytes, and writes their rows as JSON.

Started by ``ropecheck.bench.run`` inside an ``ropecheck.isolation`` sandbox, one per
implementation, so that an implementation that raises, exits or hangs loses only its own
rows::

    python -P -m ropecheck.bench.child JOB.json ROWS.json

For every (shape, dtype, pass) the child times the copy and the implementation
alternately, round by round (``timing.interleaved``): round r samples the copy, then the
implementation, then round r + 1 begins. Load that comes and goes during the run falls on
both alike, so the roofline fraction compares like with like. ``ROWS.json`` holds
``{"rows": [...], "failures": [[test id, reason], ...]}``: per workload a ``copy`` row and
the implementation's row (with ``copy_samples_s``, the copy's samples of the same rounds),
samples in round order.
"""

from __future__ import annotations

import gc
import json
import sys


def _reason(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {' '.join(str(exc).split())[:300]}"


def time_pair(copy, work, job: dict) -> tuple[dict[str, list[float]], list, dict[str, str], dict[str, int]]:
    """Samples of ``copy`` and ``work`` (workloads on one device) timed interleaved, the
    ``(round, label)`` order they were timed in, and per label (``copy``, ``impl``) the
    timer's name and the calls one sample times."""
    from ropecheck.bench import timing

    calls = [("copy", copy.prepare()), ("impl", work.prepare())]
    order: list = []
    if work.device == "cpu":
        import torch

        torch.set_num_threads(job.get("threads", torch.get_num_threads()))
        calls = [(label, timing.Batch(fn, timing.calls_per_sample(fn))) for label, fn in calls]
        enabled = gc.isenabled()
        gc.disable()  # as pytest-benchmark's --benchmark-disable-gc
        try:
            samples = timing.interleaved(calls, job.get("rounds", 10), timing.cpu_clock, warmup=2, log=order)
        finally:
            if enabled:
                gc.enable()
        timers = {label: "perf_counter" for label, _ in calls}
        return samples, order, timers, {label: fn.calls for label, fn in calls}
    replays = {}
    if work.shape.kind == "decode":
        for index, (label, fn) in enumerate(calls):
            graph = timing.as_graph(fn, replays=20)
            if graph is not None:
                calls[index], replays[label] = (label, graph), 20
    samples = timing.cuda_interleaved(calls, log=order)
    samples = {label: [t / replays.get(label, 1) for t in ts] for label, ts in samples.items()}
    timers = {label: "cuda-graph" if label in replays else "cuda-events" for label, _ in calls}
    return samples, order, timers, {label: 1 for label, _ in calls}


def time_job(job: dict) -> tuple[list[dict], list[list[str]]]:
    from ropecheck.bench.workload import pairs

    rows, failed = [], []
    for copy, work in pairs(job, device=job["device"]):
        try:
            samples, _, timers, calls = time_pair(copy, work, job)
        except Exception as exc:  # noqa: BLE001 - the implementation's failure is reported by name
            failed.append([work.id, _reason(exc)])
            continue
        rows.append({**copy.info(), "samples_s": samples["copy"], "timer": timers["copy"],
                     "calls_per_sample": calls["copy"]})
        rows.append({**work.info(), "samples_s": samples["impl"], "timer": timers["impl"],
                     "calls_per_sample": calls["impl"], "copy_samples_s": samples["copy"], "copy_timer": timers["copy"]})
        if job["device"] == "cuda":
            import torch

            torch.cuda.empty_cache()
    return rows, failed


def main(job_path: str, rows_path: str) -> int:
    from ropecheck.storage import atomic_write_json

    with open(job_path, encoding="utf-8") as f:
        job = json.load(f)
    rows, failures = time_job(job)
    atomic_write_json(rows_path, {"rows": rows, "failures": failures})
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], sys.argv[2]))
