"""``results/conformance.csv``: the verdicts of many implementations, one row per
(implementation, version, device, dtype, property), written by two commands:

- ``ropecheck conformance-table`` (also run as ``python -m ropecheck.conformance_table``)::

    python -m ropecheck.conformance_table specs/ [TARGET ...] --device cpu \
        --out results/conformance.csv [--profile ci] [--jobs 2]

  verifies each spec once per claimed dtype (the spec narrowed to that dtype), each in
  its own isolated process: one row per dtype.
- ``ropecheck verify TARGET... --conformance results/conformance.csv`` merges the run it
  just made (``rows_from_result``). verify checks every claimed dtype in one run, so a row
  cannot say which dtype passed: its dtype is ``all`` (``ALL_DTYPES``), or the one dtype
  when the spec claims only one.

Rows for the same (implementation, device, dtype, property) already in the file are
replaced, others kept; the file is written whole or not at all.
"""

from __future__ import annotations

import datetime
import sys
from dataclasses import replace

import pandas as pd

from ropecheck import engine
from ropecheck.render import machine
from ropecheck.spec import Spec
from ropecheck.storage import atomic_write_csv

KEY = ["implementation", "device", "dtype", "property"]
COLUMNS = KEY[:1] + ["version"] + KEY[1:] + ["status", "worst_ratio", "message", "counterexample",
                                              "torch", "device_name", "date", "profile"]


def device_name(device: str) -> str:
    """The GPU's name on cuda, otherwise the short CPU name (``render.machine``)."""
    return machine.device_name(device, cpu=machine.short_cpu_name)


def rows_for(spec: Spec, ref: str, dtype: str, device: str, profile: str, timeout: float | None) -> list[dict]:
    """Verify ``spec`` narrowed to ``dtype`` on ``device``; one row per property."""
    version, name, today = machine.library_version(spec), device_name(device), datetime.date.today().isoformat()
    result = engine.verify(replace(spec, dtypes=(dtype,)), ref, profile=profile, device=device, timeout=timeout)
    return [dict(implementation=spec.name, version=version, device=device, dtype=dtype, property=p.name,
                 status=p.status, worst_ratio=p.worst_ratio, message=p.message, counterexample=p.counterexample,
                 torch=machine.torch_version(), device_name=name, date=today, profile=profile)
            for p in result.properties]


ALL_DTYPES = "all"
"""The dtype of a row from ``verify --conformance``: every claimed dtype checked in one run."""


def rows_from_result(spec: Spec, result, version: str, profile: str) -> list[dict]:
    """The rows of one ``engine.ImplementationResult`` of ``ropecheck verify`` (every claimed
    dtype at once): dtype ``all``, or the spec's only dtype."""
    dtype = spec.dtypes[0] if len(spec.dtypes) == 1 else ALL_DTYPES
    today, torch = datetime.date.today().isoformat(), machine.torch_version()
    return [dict(implementation=spec.name, version=version, device=p.device, dtype=dtype, property=p.name,
                 status=p.status, worst_ratio=p.worst_ratio, message=p.message, counterexample=p.counterexample,
                 torch=torch, device_name=device_name(p.device), date=today, profile=profile)
            for p in result.properties]


def merge(old: pd.DataFrame | None, new: pd.DataFrame) -> pd.DataFrame:
    """New rows replace old ones with the same key; the rest of the old table is kept."""
    if old is None or old.empty:
        return new[COLUMNS]
    keep = old.merge(new[KEY], on=KEY, how="left", indicator=True)
    keep = keep[keep["_merge"] == "left_only"].drop(columns="_merge")
    return pd.concat([keep, new], ignore_index=True)[COLUMNS].sort_values(KEY, kind="stable")


def write_merged(path: str, new: pd.DataFrame) -> pd.DataFrame:
    """``new`` merged into the table at ``path`` (``merge``), written whole; the merged table."""
    try:
        old = pd.read_csv(path)
    except (FileNotFoundError, pd.errors.EmptyDataError):
        old = None
    table = merge(old, new)
    atomic_write_csv(path, table)
    return table


def main(argv: list[str] | None = None) -> int:
    """The old entry point, kept with its arguments and output: ``ropecheck conformance-table``."""
    from ropecheck.commands import _options, conformance_table as command

    return _options.standalone(command, argv, prog="python -m ropecheck.conformance_table", prefix="ropecheck",
                               description=command.DESCRIPTION, formatter_class=command.FORMATTER)


if __name__ == "__main__":
    sys.exit(main())
