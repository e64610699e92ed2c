"""Timers. ``ropecheck bench`` times the copy roofline and an implementation
interleaved, round by round (``interleaved``): on the CPU with ``time.perf_counter`` over
batches of calls lasting at least ``MIN_SAMPLE_S``, on CUDA with CUDA events as
``triton.testing.do_bench`` takes them: warm-up, the L2 cache flushed before every timed
call, one event pair per call; decode-sized calls, where launch overhead would dominate,
are captured in a CUDA graph and timed as graph replays. ``cuda_samples`` times one call
alone (``ropecheck timer-check``)."""

from __future__ import annotations

import math
import time
from typing import Callable

import torch

L2_FLUSH_BYTES = 256 * 1024 * 1024


def cuda_samples(fn: Callable[[], object], warmup_ms: float = 25.0, rep_ms: float = 100.0,
                 min_reps: int = 10, max_reps: int = 1000) -> list[float]:
    """Seconds per call of ``fn`` on the current CUDA device, one sample per call."""
    flush = torch.empty(L2_FLUSH_BYTES // 4, dtype=torch.int32, device="cuda")
    fn()
    torch.cuda.synchronize()
    estimate = _estimate_ms(fn, flush)
    for _ in range(max(1, int(warmup_ms / max(estimate, 1e-3)))):
        fn()
    reps = int(min(max_reps, max(min_reps, rep_ms / max(estimate, 1e-3))))
    starts = [torch.cuda.Event(enable_timing=True) for _ in range(reps)]
    ends = [torch.cuda.Event(enable_timing=True) for _ in range(reps)]
    for start, end in zip(starts, ends):
        flush.zero_()
        start.record()
        fn()
        end.record()
    torch.cuda.synchronize()
    return [s.elapsed_time(e) / 1e3 for s, e in zip(starts, ends)]


def _estimate_ms(fn: Callable[[], object], flush: torch.Tensor) -> float:
    start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
    start.record()
    for _ in range(5):
        flush.zero_()
        fn()
    end.record()
    torch.cuda.synchronize()
    return start.elapsed_time(end) / 5


def as_graph(fn: Callable[[], object], replays: int = 20) -> Callable[[], object] | None:
    """``fn`` captured ``replays`` times in one CUDA graph (a call replays it), or None when
    ``fn`` cannot be captured (host syncs, CPU work). Divide the measured time by ``replays``."""
    stream = torch.cuda.Stream()
    stream.wait_stream(torch.cuda.current_stream())
    try:
        with torch.cuda.stream(stream):
            for _ in range(3):
                fn()
        torch.cuda.current_stream().wait_stream(stream)
        graph = torch.cuda.CUDAGraph()
        with torch.cuda.graph(graph):
            for _ in range(replays):
                fn()
    except Exception:  # noqa: BLE001 - not capturable: time it eagerly instead
        torch.cuda.synchronize()
        return None
    return graph.replay


MIN_SAMPLE_S = 1e-3
"""A CPU sample times at least this long a batch of calls (``calls_per_sample`` of them),
so that a call of a few microseconds is not measured at the timer's and the interpreter's
grain."""


def interleaved(calls: list[tuple[str, Callable[[], object]]], rounds: int, clock: Callable[[Callable[[], object]], object],
                warmup: int = 2, log: list | None = None) -> dict[str, list]:
    """One sample of every call per round, in the given order, round after round::

        round 0: copy, impl; round 1: copy, impl; ...

    so the yardstick (the copy, first) and what is measured against it share the
    machine's conditions, as pyperf and asv interleave. ``clock(fn)`` times one sample of
    ``fn`` (seconds, or a handle the caller resolves later, e.g. CUDA events); ``log``
    gets ``(round, label)`` for every sample in the order they were taken."""
    for _ in range(warmup):
        for _, fn in calls:
            fn()
    samples: dict[str, list] = {label: [] for label, _ in calls}
    for r in range(rounds):
        for label, fn in calls:
            samples[label].append(clock(fn))
            if log is not None:
                log.append((r, label))
    return samples


def calls_per_sample(fn: Callable[[], object], min_sample_s: float = MIN_SAMPLE_S, cap: int = 10_000) -> int:
    """How many calls of ``fn`` one CPU sample takes: enough to last ``min_sample_s``,
    from the fastest of three calls."""
    fastest = min(_once(fn) for _ in range(3))
    return max(1, min(cap, math.ceil(min_sample_s / max(fastest, 1e-9))))


def _once(fn: Callable[[], object]) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


class Batch:
    """``calls`` calls of ``fn`` as one sample (see ``calls_per_sample``)."""

    def __init__(self, fn: Callable[[], object], calls: int) -> None:
        self.fn, self.calls = fn, calls

    def __call__(self) -> None:
        for _ in range(self.calls):
            self.fn()


def cpu_clock(fn: Callable[[], object]) -> float:
    """A clock for ``interleaved`` on the CPU: seconds per call, by ``time.perf_counter``
    around one call of ``fn``, divided by ``fn.calls`` for a ``Batch``."""
    start = time.perf_counter()
    fn()
    return (time.perf_counter() - start) / getattr(fn, "calls", 1)


def cuda_interleaved(calls: list[tuple[str, Callable[[], object]]], rep_ms: float = 100.0, min_reps: int = 10,
                     max_reps: int = 1000, log: list | None = None) -> dict[str, list[float]]:
    """``interleaved`` with CUDA events: warm-up, the L2 flushed before every timed call,
    one event pair per call; as many rounds as fit ``rep_ms`` (between ``min_reps`` and
    ``max_reps``). Seconds per call."""
    flush = torch.empty(L2_FLUSH_BYTES // 4, dtype=torch.int32, device="cuda")
    for _, fn in calls:
        fn()
    torch.cuda.synchronize()
    estimate = sum(_estimate_ms(fn, flush) for _, fn in calls)
    reps = int(min(max_reps, max(min_reps, rep_ms / max(estimate, 1e-3))))

    def clock(fn):
        start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        flush.zero_()
        start.record()
        fn()
        end.record()
        return start, end

    warmup = max(1, int(25.0 / max(estimate, 1e-3)))
    events = interleaved(calls, reps, clock, warmup=warmup, log=log)
    torch.cuda.synchronize()
    return {label: [s.elapsed_time(e) / 1e3 for s, e in pairs] for label, pairs in events.items()}
