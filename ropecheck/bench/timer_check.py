"""Does ropecheck's CUDA timer agree with ``triton.testing.do_bench``?

    python -m ropecheck.bench.timer_check --out results/cuda/timer_agreement.csv

Times the same calls (large prefill shapes, bf16) with ``timing.cuda_samples`` and with
``do_bench(return_mode="median")`` and writes both medians and their ratio. The command
is ``ropecheck timer-check`` (``ropecheck.commands.timer_check``); this module keeps the
measurement and its old entry point.
"""

from __future__ import annotations

import sys

import pandas as pd

from ropecheck.bench import sweep, timing
from ropecheck.bench.workload import COPY, Workload
from ropecheck.render.machine import metadata

SHAPES = [sweep.Shape("prefill", 1, 4096, 32, 32, 128), sweep.Shape("prefill", 1, 32768, 32, 8, 128),
          sweep.Shape("prefill", 4, 8192, 32, 8, 128)]


def agreement(specs: list) -> pd.DataFrame:
    """Copy and each of ``specs`` (runnable here) timed both ways on ``SHAPES``; one row
    per call, a line per call printed as it is measured."""
    import torch
    from triton.testing import do_bench

    works = [Workload(COPY, None, s, "bfloat16", "cuda") for s in SHAPES]
    for spec in specs:
        works += [Workload(spec.name, spec, s, "bfloat16", "cuda") for s in SHAPES]
    rows = []
    for work in works:
        call = work.prepare()
        ours = float(pd.Series(timing.cuda_samples(call)).median())
        theirs = do_bench(call, warmup=25, rep=100, return_mode="median") / 1e3
        rows.append({**work.info(), "ropecheck_median_s": ours, "do_bench_median_s": theirs, "ratio": ours / theirs})
        print(f"{work.id:70s} ropecheck {ours * 1e6:9.1f} us  do_bench {theirs * 1e6:9.1f} us  ratio {ours / theirs:.3f}")
        del call
        torch.cuda.empty_cache()
    frame = pd.DataFrame(rows)
    for key, value in metadata("cuda").items():
        frame[key] = value
    return frame


def main(argv: list[str] | None = None) -> int:
    """The old entry point, kept with its arguments and output: ``ropecheck timer-check``."""
    from ropecheck.commands import _options, timer_check as command

    return _options.standalone(command, argv, prog="python -m ropecheck.bench.timer_check", prefix="ropecheck",
                               description=None)


if __name__ == "__main__":
    sys.exit(main())
