"""Throughput against bytes moved, one line per implementation, with the copy roofline,
every swept shape a point with its q1..q3 error bar."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from ropecheck.render.text import literal_label

MARKERS = {"prefill": "o", "decode": "^"}


def series(group: pd.DataFrame) -> dict[str, pd.DataFrame]:
    """Per implementation, the points drawn: every row (every swept shape) sorted by ``x``
    (bytes moved per call, or tokens in a table without ``bytes``), with ``gbps`` and the
    error bar ``low``/``high`` (GB/s at q3 and q1; equal to ``gbps`` without quartiles)."""
    out = {}
    x = "bytes" if "bytes" in group else "tokens"
    for name, rows in group.groupby("implementation", sort=True):
        rows = rows.sort_values([x, "tokens"] if x != "tokens" else [x]).copy()
        rows["x"] = rows[x]
        if {"q1_s", "q3_s", "bytes"} <= set(rows.columns):
            rows["low"] = rows["bytes"] / rows["q3_s"] / 1e9
            rows["high"] = rows["bytes"] / rows["q1_s"] / 1e9
        else:
            rows["low"] = rows["high"] = rows["gbps"]
        out[name] = rows
    return out


def throughput_plots(table: pd.DataFrame, folder: str | Path) -> list[Path]:
    """One PNG per (device, dtype, pass): GB/s against bytes moved per call (log scales),
    every swept shape (prefill ``o``, decode ``^``) with an error bar from q1 to q3, the
    copy dashed, unstable rows (``unstable``) circled in red."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for (device, dtype, pass_), group in table.groupby(["device", "dtype", "pass"]):
        fig, ax = plt.subplots(figsize=(7.5, 4.5))
        for name, rows in series(group).items():
            copy = name == "copy"
            label = "copy (roofline)" if copy else literal_label(name)
            yerr = np.vstack([(rows["gbps"] - rows["low"]).clip(lower=0), (rows["high"] - rows["gbps"]).clip(lower=0)])
            line = ax.errorbar(rows["x"], rows["gbps"], yerr=yerr, label=label, capsize=2, elinewidth=1,
                               **(dict(color="black", linestyle="--", linewidth=2) if copy else dict(linestyle="-")))
            color = line.lines[0].get_color()
            for kind, marker in MARKERS.items():
                points = rows[rows["kind"] == kind] if "kind" in rows else rows.iloc[0:0]
                ax.scatter(points["x"], points["gbps"], marker=marker, color=color, s=18, zorder=3)
            if "unstable" in rows:
                bad = rows[rows["unstable"].astype(str).str.lower().isin(["true", "1"])]
                ax.scatter(bad["x"], bad["gbps"], s=90, facecolors="none", edgecolors="red", zorder=4)
        ax.set_xscale("log", base=2)
        ax.set_yscale("log")
        ax.set_xlabel("bytes moved per call (every swept shape; o prefill, ^ decode)" if "bytes" in group
                      else "tokens per call (batch × seq)")
        ax.set_ylabel("GB/s (q, k read + written); bars q1..q3")
        title = group["device_name"].iloc[0] if "device_name" in group else device
        note = " (red circle: unstable)" if "unstable" in group else ""
        ax.set_title(literal_label(f"RoPE throughput, {dtype}, {pass_} — {title}{note}"), fontsize=9)
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(fontsize=7, loc="best")
        fig.tight_layout()
        path = folder / f"throughput_{device}_{dtype}_{pass_.replace('+', '_')}.png"
        fig.savefig(path, dpi=110)
        plt.close(fig)
        written.append(path)
    return written
