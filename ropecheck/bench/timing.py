"""Timers. CPU times come from pytest-benchmark (see ``pytest_suite``); GPU times from
CUDA events, as ``triton.testing.do_bench`` takes them: warm-up, the L2 cache flushed
before every timed call, one event pair per call; decode-sized calls, where launch
overhead would dominate, are captured in a CUDA graph and timed as graph replays."""

from __future__ import annotations

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
