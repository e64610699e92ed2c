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
    dtype, shape, pass), with median/IQR, tokens/s, GB/s, the fraction of the copy roofline
    timed interleaved with it (``copy_samples_s``: its own child's copy samples, round by
    round), and ``unstable``/``why_unstable`` (``stats.instability``). The ``copy`` row of a
    key pools the copy samples of every child that timed that key."""
    records: dict[tuple, dict] = {}
    for row in rows:
        record = {k: v for k, v in row.items() if k not in ("samples_s", "pass_", "copy_samples_s")}
        record["pass"] = row["pass_"]
        record["_samples"] = list(row["samples_s"])
        record["_copy"] = list(row.get("copy_samples_s") or [])
        key = tuple(record[k] for k in KEY)
        if key in records and record["implementation"] == "copy":
            records[key]["_samples"] += record["_samples"]
        else:
            records[key] = record
    out = []
    for record in records.values():
        samples, copy = record.pop("_samples"), record.pop("_copy")
        record.update(stats.summary(samples))
        record["samples_s"] = _text(samples)
        record["copy_samples_s"] = _text(copy)
        if copy:
            record["copy_median_s"] = stats.summary(copy)["median_s"]
        out.append(record)
    df = pd.DataFrame.from_records(out)
    df["tokens_per_s"] = df["tokens"] / df["median_s"]
    df["gbps"] = df["bytes"] / df["median_s"] / 1e9
    copies = df[df["implementation"] == "copy"].set_index(KEY[1:])["median_s"]
    by_key = df[KEY[1:]].apply(tuple, axis=1).map(copies)
    own = df["copy_median_s"] if "copy_median_s" in df else pd.Series(float("nan"), index=df.index)
    df["copy_median_s"] = own.fillna(by_key)
    df["copy_gbps"] = df["bytes"] / df["copy_median_s"] / 1e9
    df["roofline_fraction"] = df["gbps"] / df["copy_gbps"]
    df = pd.concat([df, stats.instability(df)], axis=1)
    for key, value in metadata(device).items():
        df[key] = value
    df["library"] = df["implementation"].map(versions or {}).astype(object).fillna(f"ropecheck=={__version__}")
    first = ["implementation", "device", "dtype", "batch", "seq", "heads", "head_dim", "median_s", "gbps"]
    return df[first + [c for c in df.columns if c not in first]]


def _text(samples: list[float]) -> str:
    return " ".join(f"{t:.6e}" for t in samples)
