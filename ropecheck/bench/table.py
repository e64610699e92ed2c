"""Benchmark rows into a pandas table: docs/contract.md §3.5's columns, the metrics, the raw samples
(``samples_s``, space-separated seconds, what ``compare`` tests), and machine metadata (computed
by ``ropecheck.render.machine``)."""

from __future__ import annotations

import pandas as pd

from ropecheck import __version__
from ropecheck.bench import stats
from ropecheck.render.machine import commit as _commit, cpu_name as _cpu_name, metadata  # noqa: F401

KEY = stats.KEY


def build(rows: list[dict], device: str, versions: dict[str, str] | None = None) -> pd.DataFrame:
    """The table ``ropecheck bench --out`` writes: one row per (implementation, device,
    dtype, shape, pass), with median/IQR, tokens/s, GB/s and the fraction of the copy
    roofline measured in the same run."""
    records = []
    for row in rows:
        record = {k: v for k, v in row.items() if k not in ("samples_s", "pass_")}
        record["pass"] = row["pass_"]
        record.update(stats.summary(row["samples_s"]))
        record["samples_s"] = " ".join(f"{t:.6e}" for t in row["samples_s"])
        records.append(record)
    df = pd.DataFrame.from_records(records)
    df["tokens_per_s"] = df["tokens"] / df["median_s"]
    df["gbps"] = df["bytes"] / df["median_s"] / 1e9
    copies = df[df["implementation"] == "copy"][KEY[1:] + ["median_s"]].rename(columns={"median_s": "copy_median_s"})
    df = df.merge(copies, on=KEY[1:], how="left")
    df["copy_gbps"] = df["bytes"] / df["copy_median_s"] / 1e9
    df["roofline_fraction"] = df["gbps"] / df["copy_gbps"]
    for key, value in metadata(device).items():
        df[key] = value
    df["library"] = df["implementation"].map(versions or {}).fillna(f"ropecheck=={__version__}")
    first = ["implementation", "device", "dtype", "batch", "seq", "heads", "head_dim", "median_s", "gbps"]
    return df[first + [c for c in df.columns if c not in first]]
