"""``ropecheck compare``: statistically significant slowdowns between two bench tables."""

from __future__ import annotations

import argparse
import math
import sys

from ropecheck.commands._options import EXIT_FAIL, EXIT_OK, UsageError

NAME = "compare"
HELP = "find statistically significant slowdowns between two bench tables"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("base", metavar="BASE.csv")
    parser.add_argument("new", metavar="NEW.csv")
    parser.add_argument("--min-effect", type=float, default=0.05, help="smallest slowdown that counts (default 0.05)")
    parser.add_argument("--alpha", type=float, default=0.01, help="family-wise false-alarm rate (default 0.01)")


def run(args: argparse.Namespace) -> int:
    import pandas as pd

    from ropecheck.bench import stats
    from ropecheck.render.text import printable

    if not (math.isfinite(args.alpha) and 0 < args.alpha < 1):
        raise UsageError(f"--alpha: expected a probability strictly between 0 and 1, got {args.alpha!r}")
    if not (math.isfinite(args.min_effect) and args.min_effect >= 0):
        raise UsageError(f"--min-effect: expected a finite fraction >= 0 (0.05 is 5%), got {args.min_effect!r}")
    frames = []
    for path in (args.base, args.new):
        try:
            frame = pd.read_csv(path)
        except (OSError, ValueError) as exc:
            raise UsageError(f"{path}: cannot read a benchmark table: {exc}") from None
        missing = sorted(set(stats.KEY + ["samples_s", "copy_median_s", "median_s"]) - set(frame.columns))
        if missing:
            raise UsageError(f"{path}: not a ropecheck bench table; missing columns: {', '.join(missing)}")
        problem = stats.table_problem(frame)
        if problem:
            raise UsageError(f"{path}: {problem}")
        frames.append(frame)
    deltas = stats.compare(*frames, min_effect=args.min_effect, alpha=args.alpha)
    if deltas.empty:
        raise UsageError(f"{args.base} and {args.new} share no (implementation, device, dtype, shape, pass) rows")
    shown = deltas[["implementation", "dtype", "kind", "batch", "seq", "heads", "kv_heads", "head_dim", "pass",
                    "base_median_s", "new_median_s", "normalised_ratio", "p_holm", "regression", "verdict"]]
    print(shown.to_string(index=False, float_format=lambda v: f"{v:.4g}"))
    slower = int(deltas["regression"].sum())
    unstable = int(deltas["unstable"].sum())
    print(f"\n{slower} significant slowdown(s) of more than {args.min_effect:.0%} "
          f"(Mann-Whitney U on the raw samples, copy-normalised effect, Holm alpha {args.alpha}) in "
          f"{len(deltas) - unstable} judged rows; {unstable} unstable row(s) not judged (of {len(deltas)})")
    if unstable:
        worst = deltas[deltas["unstable"]].iloc[0]
        print(printable(f"compare: {unstable} row(s) unstable, not judged; first: {worst['implementation']} "
                        f"{worst['dtype']} {worst['kind']} b{worst['batch']}s{worst['seq']} {worst['pass']}: "
                        f"{worst['why_unstable']}"), file=sys.stderr)
    return EXIT_FAIL if slower else EXIT_OK
