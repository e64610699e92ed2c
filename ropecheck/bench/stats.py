"""Summaries of timing samples, and the regression test behind ``ropecheck compare``.

A slowdown is flagged only when it is large, significant, and not the machine's:

- large: the median time grew by more than ``min_effect`` (default 5%), both in seconds
  and relative to the copy of the same bytes timed in the same run (``normalised_ratio``),
  so a machine that is uniformly slower today (load, clocks) is not a regression;
- significant: a one-sided Mann-Whitney U test of the raw samples (new slower than base)
  gives a p-value per row, and Holm's step-down correction over all rows keeps the chance
  of any false alarm in a table below ``alpha`` (default 0.01). The test is on raw samples
  because the copy's own median is an estimate: dividing by it would shift every row of a
  run together and turn its sampling error into coherent false alarms.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy.stats import mannwhitneyu

KEY = ["implementation", "device", "dtype", "kind", "batch", "seq", "heads", "kv_heads", "head_dim", "pass"]


def summary(samples: list[float]) -> dict:
    a = np.asarray(samples, dtype=float)
    q1, median, q3 = np.percentile(a, [25, 50, 75])
    return {"median_s": median, "q1_s": q1, "q3_s": q3, "iqr_s": q3 - q1, "rounds": a.size}


def parse_samples(text) -> np.ndarray:
    return np.array([float(v) for v in str(text).split()], dtype=float)


def table_problem(frame: pd.DataFrame) -> str:
    """Why ``frame`` cannot be compared ("" when it can): every timing must be a finite,
    positive number of seconds, and every ``samples_s`` cell a list of them."""
    for column in ("median_s", "copy_median_s"):
        values = pd.to_numeric(frame[column], errors="coerce")
        bad = ~(np.isfinite(values) & (values > 0))
        if bad.any():
            row = int(np.flatnonzero(bad.to_numpy())[0])
            return (f"column {column!r}, row {row + 2} (implementation {frame['implementation'].iloc[row]!r}): "
                    f"expected a positive number of seconds, got {frame[column].iloc[row]!r}")
    for row, cell in enumerate(frame["samples_s"]):
        try:
            samples = parse_samples(cell)
        except ValueError:
            samples = np.array([np.nan])
        if samples.size == 0 or not np.all(np.isfinite(samples) & (samples > 0)):
            return (f"column 'samples_s', row {row + 2} (implementation {frame['implementation'].iloc[row]!r}): "
                    f"expected space-separated positive seconds, got {str(cell)[:60]!r}")
    return ""


def holm(pvalues: np.ndarray) -> np.ndarray:
    """Holm-Bonferroni adjusted p-values (monotone, capped at 1)."""
    p = np.asarray(pvalues, dtype=float)
    order = np.argsort(p)
    adjusted = np.empty_like(p)
    running = 0.0
    for rank, index in enumerate(order):
        running = max(running, min(1.0, (p.size - rank) * p[index]))
        adjusted[index] = running
    return adjusted


def compare(base: pd.DataFrame, new: pd.DataFrame, min_effect: float = 0.05, alpha: float = 0.01) -> pd.DataFrame:
    """One row per implementation row present in both tables (copy rows excluded)."""
    cols = KEY + ["samples_s", "copy_median_s", "median_s"]
    merged = base[cols].merge(new[cols], on=KEY, suffixes=("_base", "_new"))
    merged = merged[merged["implementation"] != "copy"].reset_index(drop=True)
    out = []
    for _, row in merged.iterrows():
        b, n = parse_samples(row["samples_s_base"]), parse_samples(row["samples_s_new"])
        effect = float((np.median(n) / row["copy_median_s_new"]) / (np.median(b) / row["copy_median_s_base"]))
        p = float(mannwhitneyu(n, b, alternative="greater").pvalue)
        out.append({**{k: row[k] for k in KEY}, "base_median_s": row["median_s_base"], "new_median_s": row["median_s_new"],
                    "raw_ratio": row["median_s_new"] / row["median_s_base"], "normalised_ratio": effect, "p_value": p})
    table = pd.DataFrame(out)
    if table.empty:
        return table.assign(p_holm=[], regression=[])
    table["p_holm"] = holm(table["p_value"].to_numpy())
    large = (table["normalised_ratio"] > 1 + min_effect) & (table["raw_ratio"] > 1 + min_effect)
    table["regression"] = large & (table["p_holm"] < alpha)
    return table
