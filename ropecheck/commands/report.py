"""``ropecheck report``: an HTML (and markdown) report with figures."""

from __future__ import annotations

import argparse
from pathlib import Path

from ropecheck.commands._options import EXIT_OK, UsageError, check_matplotlib, check_outputs

NAME = "report"
HELP = "write an HTML (and markdown) report with figures to --out"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--out", default="report", metavar="DIR",
                        help="folder for index.html, report.md, figures/ (default: ./report)")
    parser.add_argument("--results", default="results", metavar="DIR",
                        help="folder of result tables (default: ./results)")
    parser.add_argument("--specs", default="specs", metavar="DIR",
                        help="folder searched for the specs of the conformance table's implementations, whose "
                             "precision horizon is measured live (default: ./specs)")


def run(args: argparse.Namespace) -> int:
    import time

    out = Path(args.out)
    if out.exists() and not out.is_dir():
        raise UsageError(f"--out: {args.out!r} is an existing file; expected a folder (created if absent)")
    if Path(args.results).exists() and not Path(args.results).is_dir():
        raise UsageError(f"--results: {args.results!r} is not a folder")
    check_outputs(out=str(out / "index.html"))
    check_matplotlib("report needs matplotlib")
    from ropecheck.render.text import text_table
    from ropecheck.visual import build

    start = time.perf_counter()
    out, horizons = build.build(out, args.results, args.specs)
    print(text_table(("implementation", "dtype", "precision horizon", "max err/allowed"),
                     [(r.implementation, r.dtype, r.horizon_text, f"{r.max_ratio:.3g}") for r in horizons.itertuples()]))
    print(f"\nwrote {out / 'index.html'} and {out / 'report.md'} ({time.perf_counter() - start:.1f} s)")
    return EXIT_OK
