"""``results/conformance.csv``: the verdicts of many implementations, one row per
(implementation, version, device, dtype, property), written by a command::

    python -m ropecheck.conformance_table specs/ [TARGET ...] --device cpu \
        --out results/conformance.csv [--profile ci] [--jobs 2]

Each spec is verified once per claimed dtype (the spec narrowed to that dtype), each in
its own isolated process. Rows for the same (implementation, device, dtype, property)
already in the file are replaced, others kept; the file is written whole or not at all.
"""

from __future__ import annotations

import argparse
import datetime
import os
import platform
import sys
import time
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import replace
from importlib import metadata

import pandas as pd

from ropecheck import __version__, engine, registry
from ropecheck.spec import Spec, SpecError
from ropecheck.storage import atomic_write_csv

KEY = ["implementation", "device", "dtype", "property"]
COLUMNS = KEY[:1] + ["version"] + KEY[1:] + ["status", "worst_ratio", "message", "counterexample",
                                              "torch", "device_name", "date", "profile"]


def library_version(spec: Spec) -> str:
    """``dist==version`` of the spec's first requirement, or ropecheck's own version."""
    if not spec.requires:
        return f"ropecheck=={__version__}"
    module = spec.requires[0].split(".")[0]
    dists = metadata.packages_distributions().get(module, [module])
    for dist in dists:
        try:
            return f"{dist}=={metadata.version(dist)}"
        except metadata.PackageNotFoundError:
            continue
    return f"{module} (not installed)"


def device_name(device: str) -> str:
    import torch

    if device == "cuda" and torch.cuda.is_available():
        return torch.cuda.get_device_name(0)
    return platform.processor() or platform.machine()


def rows_for(spec: Spec, ref: str, dtype: str, device: str, profile: str, timeout: float | None) -> list[dict]:
    """Verify ``spec`` narrowed to ``dtype`` on ``device``; one row per property."""
    import torch

    version, name, today = library_version(spec), device_name(device), datetime.date.today().isoformat()
    result = engine.verify(replace(spec, dtypes=(dtype,)), ref, profile=profile, device=device, timeout=timeout)
    return [dict(implementation=spec.name, version=version, device=device, dtype=dtype, property=p.name,
                 status=p.status, worst_ratio=p.worst_ratio, message=p.message, counterexample=p.counterexample,
                 torch=torch.__version__, device_name=name, date=today, profile=profile)
            for p in result.properties]


def merge(old: pd.DataFrame | None, new: pd.DataFrame) -> pd.DataFrame:
    """New rows replace old ones with the same key; the rest of the old table is kept."""
    if old is None or old.empty:
        return new[COLUMNS]
    keep = old.merge(new[KEY], on=KEY, how="left", indicator=True)
    keep = keep[keep["_merge"] == "left_only"].drop(columns="_merge")
    return pd.concat([keep, new], ignore_index=True)[COLUMNS].sort_values(KEY, kind="stable")


def _write(path: str, new: pd.DataFrame) -> pd.DataFrame:
    try:
        old = pd.read_csv(path)
    except (FileNotFoundError, pd.errors.EmptyDataError):
        old = None
    table = merge(old, new)
    atomic_write_csv(path, table)
    return table


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m ropecheck.conformance_table", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("targets", nargs="+")
    parser.add_argument("--device", default="cpu", choices=("cpu", "cuda"))
    parser.add_argument("--out", default="results/conformance.csv")
    parser.add_argument("--profile", default="ci")
    parser.add_argument("--timeout", type=float)
    parser.add_argument("--dtypes", nargs="+", help="only these of each spec's dtypes")
    parser.add_argument("--jobs", type=int, default=1, help="(implementation, dtype) verifications run at once")
    args = parser.parse_args(argv)
    try:
        targets = [t for target in args.targets for t in registry.resolve(target)]
    except SpecError as exc:
        print(f"ropecheck: error: {exc}", file=sys.stderr)
        return 2
    if args.jobs > 1 and "OMP_NUM_THREADS" not in os.environ:  # workers inherit it: no oversubscription
        os.environ["OMP_NUM_THREADS"] = str(max(1, (os.cpu_count() or 1) // args.jobs))
    tasks = [(spec, ref, dtype) for spec, ref in targets for dtype in spec.dtypes
             if not args.dtypes or dtype in args.dtypes]
    rows: list[dict] = []
    start = time.monotonic()
    with ThreadPoolExecutor(max_workers=max(1, args.jobs)) as pool:
        futures = {pool.submit(rows_for, spec, ref, dtype, args.device, args.profile, args.timeout): (spec.name, dtype)
                   for spec, ref, dtype in tasks}
        for future in as_completed(futures):
            rows += future.result()
            new = pd.DataFrame(rows, columns=COLUMNS)
            table = _write(args.out, new)  # after every task: a time limit loses only what is in flight
            name, dtype = futures[future]
            print(f"[{time.monotonic() - start:6.0f} s] {name} {dtype}: done", flush=True)
    summary = new.groupby(["implementation", "dtype"])["status"].agg(lambda s: "conforms" if set(s) <= {"passed", "skipped"} else "FAILS")
    print(summary.unstack().to_string())
    print(f"\nwrote {len(new)} rows ({len(table)} in all) to {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
