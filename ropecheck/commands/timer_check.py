"""``ropecheck timer-check``: does ropecheck's CUDA timer agree with triton's ``do_bench``?
(the same command as ``python -m ropecheck.bench.timer_check``; the measurement lives in
``ropecheck.bench.timer_check``). Needs CUDA and triton."""

from __future__ import annotations

import argparse

from ropecheck.commands._options import EXIT_OK, UsageError, add_targets, check_outputs, resolve_targets

NAME = "timer-check"
HELP = "CUDA only: compare ropecheck's CUDA timer with triton's do_bench and write both to --out"
DESCRIPTION = """Does ropecheck's CUDA timer agree with triton.testing.do_bench? Times the same calls
(large prefill shapes, bf16) with ropecheck's CUDA timer and with do_bench(return_mode="median")
and writes both medians and their ratio to --out (a CSV). Needs CUDA and triton."""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_targets(parser, nargs="*", metavar=None, default=["half-split", "complex-polar"])
    parser.add_argument("--out", required=True)


def run(args: argparse.Namespace) -> int:
    import importlib.util

    check_outputs(out=args.out)
    if importlib.util.find_spec("triton") is None:
        raise UsageError("timer-check needs triton (pip install triton)")
    import torch

    if not torch.cuda.is_available():
        raise UsageError("timer-check: CUDA is not available on this machine")
    from ropecheck.bench.timer_check import agreement
    from ropecheck.storage import atomic_write_csv

    targets = resolve_targets(args.targets, unique=False, note_shadowed=False)
    frame = agreement([spec for spec, _ in targets if not spec.missing_requirements()])
    atomic_write_csv(args.out, frame)
    return EXIT_OK
