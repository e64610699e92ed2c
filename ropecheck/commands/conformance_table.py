"""``ropecheck conformance-table``: the verdicts of many implementations merged into
``results/conformance.csv`` (the same command as ``python -m ropecheck.conformance_table``;
the table's rows and merge live in ``ropecheck.conformance_table``)."""

from __future__ import annotations

import argparse
import os
import time

from ropecheck.commands._options import (
    EXIT_OK, UsageError, add_device, add_profile, add_targets, add_timeout, check_outputs, check_profile,
    check_timeout, resolve_targets)

NAME = "conformance-table"
HELP = "verify each target once per claimed dtype and merge the verdicts into a CSV table"
DESCRIPTION = """``results/conformance.csv``: the verdicts of many implementations, one row per
(implementation, version, device, dtype, property), written by a command::

    python -m ropecheck.conformance_table specs/ [TARGET ...] --device cpu \
        --out results/conformance.csv [--profile ci] [--jobs 2]

Each spec is verified once per claimed dtype (the spec narrowed to that dtype), each in
its own isolated process. Rows for the same (implementation, device, dtype, property)
already in the file are replaced, others kept; the file is written whole or not at all.
"""
FORMATTER = argparse.RawDescriptionHelpFormatter


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_targets(parser, metavar=None)
    add_device(parser)
    parser.add_argument("--out", default="results/conformance.csv")
    add_profile(parser)
    add_timeout(parser, metavar=None)
    parser.add_argument("--dtypes", nargs="+", help="only these of each spec's dtypes")
    parser.add_argument("--jobs", type=int, default=1, help="(implementation, dtype) verifications run at once")


def run(args: argparse.Namespace) -> int:
    from concurrent.futures import ThreadPoolExecutor, as_completed

    import pandas as pd

    from ropecheck.conformance_table import COLUMNS, rows_for, write_merged

    check_profile(args.profile)
    check_timeout(args.timeout)
    check_outputs(out=args.out)
    targets = resolve_targets(args.targets, unique=False, note_shadowed=False)
    tasks = [(spec, ref, dtype) for spec, ref in targets for dtype in spec.dtypes
             if not args.dtypes or dtype in args.dtypes]
    if not tasks:  # nothing would be verified (and there would be no table to show)
        raise UsageError(f"--dtypes: none of {', '.join(args.dtypes or [])} is a dtype the targets claim")
    if args.jobs > 1 and "OMP_NUM_THREADS" not in os.environ:  # workers inherit it: no oversubscription
        os.environ["OMP_NUM_THREADS"] = str(max(1, (os.cpu_count() or 1) // args.jobs))
    rows: list[dict] = []
    start = time.monotonic()
    with ThreadPoolExecutor(max_workers=max(1, args.jobs)) as pool:
        futures = {pool.submit(rows_for, spec, ref, dtype, args.device, args.profile, args.timeout): (spec.name, dtype)
                   for spec, ref, dtype in tasks}
        for future in as_completed(futures):
            rows += future.result()
            new = pd.DataFrame(rows, columns=COLUMNS)
            table = write_merged(args.out, new)  # after every task: a time limit loses only what is in flight
            name, dtype = futures[future]
            print(f"[{time.monotonic() - start:6.0f} s] {name} {dtype}: done", flush=True)
    summary = new.groupby(["implementation", "dtype"])["status"].agg(lambda s: "conforms" if set(s) <= {"passed", "skipped"} else "FAILS")
    print(summary.unstack().to_string())
    print(f"\nwrote {len(new)} rows ({len(table)} in all) to {args.out}")
    return EXIT_OK
