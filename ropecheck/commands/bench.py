"""``ropecheck bench``: each target timed over a sweep of shapes and dtypes."""

from __future__ import annotations

import argparse
import signal
import sys
from pathlib import Path

from ropecheck.commands._options import (
    EXIT_FAIL, EXIT_OK, UsageError, add_device, add_targets, add_timeout, check_cuda, check_matplotlib,
    check_outputs, check_timeout, preload, resolve_targets)

NAME = "bench"
HELP = "time each target over a sweep of shapes and dtypes"
QUICK_TIME = "about 9 s for one target on 2 quiet cores, measured 2026-12-03"
"""What ``--quick`` took when last measured on an idle machine (docs/benchmarks.md): a
measurement, not a promise; a busy machine takes longer."""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_targets(parser)
    add_device(parser)
    parser.add_argument("--quick", action="store_true", help="a small sweep (5 shapes, float32 and bfloat16, forward, 10 rounds): "
                        f"{QUICK_TIME}; longer on a busy machine")
    parser.add_argument("--out", required=True, metavar="F.csv")
    parser.add_argument("--plot", metavar="DIR", help="also write throughput plots (PNG) to DIR")
    add_timeout(parser, help="CPU seconds one implementation's timing may use (default: 600 with --quick, else 3600)")


def run(args: argparse.Namespace) -> int:
    from ropecheck.bench import plot, run as bench_run, table
    from ropecheck.render.machine import library_version
    from ropecheck.isolation import Interrupted, Stop
    from ropecheck.render.text import printable
    from ropecheck.storage import atomic_write_csv

    if not args.out.endswith(".csv"):
        raise UsageError(f"--out: expected a .csv path, got {args.out!r}")
    check_outputs(out=args.out)
    check_timeout(args.timeout)
    if args.plot:
        check_matplotlib("--plot needs matplotlib")
        check_outputs(plot=str(Path(args.plot) / "x.png"))
    check_cuda(args.device)
    targets = resolve_targets(args.targets)
    if not any(not s.missing_requirements() and args.device in s.devices for s, _ in targets):
        raise UsageError("no target can run on this device here (missing requirements or device not claimed)")
    preload(targets, args.timeout)  # the import gets the same limits as the timing
    passes = ["fwd"] if args.quick else ["fwd", "fwd+bwd"]
    stop = Stop()
    try:
        with stop.on_signals():
            collected = bench_run.collect([(spec.name, ref) for spec, ref in targets], args.device, args.quick,
                                          passes, timeout=args.timeout, stop=stop)
    except Interrupted as stopped:
        print(f"ropecheck: bench interrupted by {signal.Signals(stopped.signum).name}; nothing written",
              file=sys.stderr)
        return 128 + stopped.signum
    finally:
        stop.close()
    failures: dict[str, list[str]] = {}
    for name, why in collected.failures:
        failures.setdefault(name, []).append(why)
    for name, whys in failures.items():
        times = f" ({len(whys)} workloads)" if len(whys) > 1 else ""
        print(printable(f"bench: {name} failed{times}: {whys[0]}"), file=sys.stderr)
    if not collected.rows:
        print("ropecheck: bench: nothing could be timed", file=sys.stderr)
        return EXIT_FAIL
    versions = {spec.name: library_version(spec) for spec, _ in targets}
    frame = table.build(collected.rows, args.device, versions)
    atomic_write_csv(args.out, frame)
    shown = frame[["implementation", "dtype", "kind", "batch", "seq", "heads", "kv_heads", "head_dim", "pass",
                   "median_s", "gbps", "roofline_fraction", "unstable"]]
    print(shown.to_string(index=False, float_format=lambda v: f"{v:.4g}"))
    print(f"\nwrote {len(frame)} rows to {args.out}")
    _warn_unstable(frame, printable)
    if args.plot:
        for path in plot.throughput_plots(frame, args.plot):
            print(f"plot: {path}")
    if failures:
        print(printable(f"ropecheck: bench: {', '.join(failures)} could not be timed (reasons above); "
                        "the other rows were written"), file=sys.stderr)
        return EXIT_FAIL
    return EXIT_OK


def _warn_unstable(frame, printable) -> None:
    """One stderr line per unstable row (the first 10; then a count), and a summary."""
    bad = frame[frame["unstable"]]
    for _, row in bad.head(10).iterrows():
        print(printable(f"bench: unstable: {row['implementation']} {row['dtype']} {row['kind']} b{row['batch']}"
                        f"s{row['seq']}h{row['heads']}kv{row['kv_heads']}d{row['head_dim']} {row['pass']}: "
                        f"{row['why_unstable']}"), file=sys.stderr)
    if len(bad) > 10:
        print(f"bench: ... and {len(bad) - 10} more unstable rows (column why_unstable)", file=sys.stderr)
    if len(bad):
        print(f"bench: {len(bad)} of {len(frame)} rows unstable (timed under changing load?); compare will not "
              "judge them", file=sys.stderr)
