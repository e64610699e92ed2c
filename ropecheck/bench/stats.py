"""Summaries of timing samples, and the regression test behind ``ropecheck compare``.

A slowdown is flagged only when it is large, significant, and not the machine's:

- large: the median time grew by more than ``min_effect`` (default 5%), both in seconds
  and relative to the copy of the same bytes timed in the same run (``normalised_ratio``),
  so a machine that is uniformly slower today (load, clocks) is not a regression;
- significant: a one-sided Mann-Whitney U test of the raw samples (new slower than base)
  gives a p-value per row, and Holm's step-down correction over all rows keeps the chance
  of any false alarm in a table below ``alpha`` (default 0.01). The test is on raw samples
  because the copy's own median is an estimate: dividing by it would shift every row of a
  run together and turn its sampling error into coherent false alarms;
- judged at all: a row ``unstable`` in either table (``instability``: faster than a copy
  of the same bytes, a middle half wider than half the median, a yardstick copy not
  monotone in its bytes) gets the verdict ``unstable, not judged`` and is never counted.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy.stats import mannwhitneyu

KEY = ["implementation", "device", "dtype", "kind", "batch", "seq", "heads", "kv_heads", "head_dim", "pass"]

MAX_ROOFLINE_FRACTION = 2.0
"""Above this a row is unstable: faster than a copy of the same bytes by more than the
copy's own call overhead can explain. A RoPE reads and writes at least the bytes the copy
does; the copy makes two device calls (q, k; four for fwd+bwd) where a fused kernel may make
one (two), so in the launch- or call-bound limit a fused kernel can at most halve the
copy's time. Beyond 2 the copy and the row were not timed under the same conditions."""

MAX_RELATIVE_IQR = 0.5
"""Above this ``iqr_s / median_s`` a row is unstable: the middle half of its samples spans
more than half its median (q3 about 1.6 q1 or more). Timing noise is additive (a call is
never faster than its cost), so a wide middle half means the machine's load changed
under the row, not that the code varies. Idle runs stay below: the 80 rows of an idle
CPU quick sweep on 2 cores (2026-12-03) reached 0.44; most rows of results/cuda/bench.csv
stay under 0.35."""

COPY_INVERSION = 1.1
"""A copy of more bytes cannot be faster than a copy of fewer: when a larger copy's median
is more than this factor below a smaller one's and their IQRs do not overlap (beyond
noise), both rows' yardstick is unstable. Only copies timed the same way are compared
(``timer``: CUDA-graph replays of decode calls are faster than eager calls of fewer bytes)."""


def summary(samples: list[float]) -> dict:
    a = np.asarray(samples, dtype=float)
    q1, median, q3 = np.percentile(a, [25, 50, 75])
    return {"median_s": median, "q1_s": q1, "q3_s": q3, "iqr_s": q3 - q1, "rounds": a.size}


def instability(frame: pd.DataFrame) -> pd.DataFrame:
    """``unstable`` (bool) and ``why_unstable`` (text, "" when stable) for every row of a
    bench table: roofline fraction above ``MAX_ROOFLINE_FRACTION``, relative IQR above
    ``MAX_RELATIVE_IQR``, or a yardstick copy whose time is not monotone in its bytes
    (``COPY_INVERSION``). Each row's yardstick is the copy timed with it
    (``copy_samples_s``), or, in tables without that column, the copy row of its key."""
    whys: list[list[str]] = [[] for _ in range(len(frame))]
    frame = frame.reset_index(drop=True)
    samples = [parse_samples(c) for c in frame["samples_s"]] if "samples_s" in frame else None
    median = pd.to_numeric(frame["median_s"], errors="coerce").to_numpy(dtype=float)
    if "q1_s" in frame and "q3_s" in frame:
        q1, q3 = (pd.to_numeric(frame[c], errors="coerce").to_numpy(dtype=float) for c in ("q1_s", "q3_s"))
    elif samples is not None:
        q1 = np.array([np.percentile(a, 25) for a in samples])
        q3 = np.array([np.percentile(a, 75) for a in samples])
    else:
        q1 = q3 = np.full(len(frame), np.nan)
    copy = _yardstick(frame)
    for i in range(len(frame)):
        fraction = copy["median"][i] / median[i]
        if frame["implementation"].iloc[i] != "copy" and fraction > MAX_ROOFLINE_FRACTION:
            whys[i].append(f"roofline_fraction {fraction:.3g} > {MAX_ROOFLINE_FRACTION}: faster than a copy of "
                           "the same bytes")
        spread = (q3[i] - q1[i]) / median[i]
        if spread > MAX_RELATIVE_IQR:
            whys[i].append(f"IQR {spread:.0%} of the median > {MAX_RELATIVE_IQR:.0%}")
    if "bytes" in frame:
        group_key = [c for c in ("implementation", "device", "dtype", "pass") if c in frame]
        grouped = frame[group_key].assign(_timer=copy["timer"])  # CUDA graph replays and eager calls apart
        for _, group in grouped.groupby(group_key + ["_timer"], sort=False):
            index = sorted(group.index, key=lambda j: frame["bytes"].iloc[j])
            for a, small in enumerate(index):
                for large in index[a + 1:]:
                    if frame["bytes"].iloc[large] <= frame["bytes"].iloc[small]:
                        continue
                    if (copy["median"][large] * COPY_INVERSION < copy["median"][small]
                            and copy["q3"][large] < copy["q1"][small]):
                        text = (f"copy not monotone in size: {copy['median'][small]:.3g} s for "
                                f"{frame['bytes'].iloc[small]} bytes but {copy['median'][large]:.3g} s for "
                                f"{frame['bytes'].iloc[large]}")
                        for j in (small, large):
                            if text not in whys[j]:
                                whys[j].append(text)
    why = ["; ".join(w) for w in whys]
    return pd.DataFrame({"unstable": [bool(w) for w in why], "why_unstable": why})


def _yardstick(frame: pd.DataFrame) -> dict[str, np.ndarray]:
    """Median, q1 and q3 of each row's copy: of ``copy_samples_s`` where the row has them,
    else of the copy row of the same key (for a copy row: its own samples)."""
    n = len(frame)
    out = {k: np.full(n, np.nan) for k in ("median", "q1", "q3")}
    out["timer"] = np.array([""] * n, dtype=object)
    key = [c for c in KEY[1:] if c in frame]
    copies = {}
    for i in range(n):
        if frame["implementation"].iloc[i] == "copy":
            copies[tuple(frame[key].iloc[i])] = i
    for i in range(n):
        own = frame["copy_samples_s"].iloc[i] if "copy_samples_s" in frame else None
        if isinstance(own, str) and own.strip():
            a = parse_samples(own)
            if "copy_timer" in frame:
                out["timer"][i] = str(frame["copy_timer"].iloc[i])
        else:
            j = i if frame["implementation"].iloc[i] == "copy" else copies.get(tuple(frame[key].iloc[i]))
            if j is None:
                if "copy_median_s" in frame:
                    out["median"][i] = out["q1"][i] = out["q3"][i] = float(frame["copy_median_s"].iloc[i])
                continue
            a = parse_samples(frame["samples_s"].iloc[j])
            if "timer" in frame:
                out["timer"][i] = str(frame["timer"].iloc[j])
        out["q1"][i], out["median"][i], out["q3"][i] = np.percentile(a, [25, 50, 75])
    return out


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


UNSTABLE = "unstable, not judged"


def compare(base: pd.DataFrame, new: pd.DataFrame, min_effect: float = 0.05, alpha: float = 0.01) -> pd.DataFrame:
    """One row per implementation row present in both tables (copy rows excluded), with a
    ``verdict``: ``slower``, ``not slower``, or ``unstable, not judged`` when the row is
    unstable in either table (``unstable`` column, or ``instability`` for tables without
    one). Unstable rows get no p-value, are left out of Holm's family and are never a
    ``regression``."""
    cols = KEY + ["samples_s", "copy_median_s", "median_s", "unstable", "why_unstable"]
    frames = [_with_stability(f)[cols] for f in (base, new)]
    merged = frames[0].merge(frames[1], on=KEY, suffixes=("_base", "_new"))
    merged = merged[merged["implementation"] != "copy"].reset_index(drop=True)
    out = []
    for _, row in merged.iterrows():
        b, n = parse_samples(row["samples_s_base"]), parse_samples(row["samples_s_new"])
        effect = float((np.median(n) / row["copy_median_s_new"]) / (np.median(b) / row["copy_median_s_base"]))
        unstable = bool(row["unstable_base"]) or bool(row["unstable_new"])
        why = "; ".join(f"{side}: {row[f'why_unstable_{side}']}" for side in ("base", "new") if row[f"unstable_{side}"])
        p = float("nan") if unstable else float(mannwhitneyu(n, b, alternative="greater").pvalue)
        out.append({**{k: row[k] for k in KEY}, "base_median_s": row["median_s_base"], "new_median_s": row["median_s_new"],
                    "raw_ratio": row["median_s_new"] / row["median_s_base"], "normalised_ratio": effect, "p_value": p,
                    "unstable": unstable, "why_unstable": why})
    table = pd.DataFrame(out)
    if table.empty:
        return table.assign(p_holm=[], regression=[], verdict=[])
    judged = ~table["unstable"]
    table["p_holm"] = float("nan")
    if judged.any():
        table.loc[judged, "p_holm"] = holm(table.loc[judged, "p_value"].to_numpy())
    large = (table["normalised_ratio"] > 1 + min_effect) & (table["raw_ratio"] > 1 + min_effect)
    table["regression"] = judged & large & (table["p_holm"] < alpha)
    table["verdict"] = np.where(table["unstable"], UNSTABLE, np.where(table["regression"], "slower", "not slower"))
    return table


def _with_stability(frame: pd.DataFrame) -> pd.DataFrame:
    """``frame`` with ``unstable`` and ``why_unstable``: its own columns when it has them
    (a table from ``ropecheck bench``), else computed here (an older table)."""
    if "unstable" in frame:
        flags = frame["unstable"].map(lambda v: str(v).strip().lower() in ("true", "1", "1.0"))
        why = frame["why_unstable"].fillna("").astype(str) if "why_unstable" in frame else pd.Series("", index=frame.index)
        return frame.assign(unstable=flags, why_unstable=why.where(~flags | (why != ""), "marked unstable"))
    found = instability(frame)
    return frame.assign(unstable=found["unstable"].to_numpy(), why_unstable=found["why_unstable"].to_numpy())
