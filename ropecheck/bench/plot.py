"""Throughput against tokens, one line per implementation, with the copy roofline."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from ropecheck.render.text import literal_label


def throughput_plots(table: pd.DataFrame, folder: str | Path) -> list[Path]:
    """One PNG per (device, dtype, pass) of the prefill rows with heads == kv_heads and
    head_dim 128: GB/s against tokens (log scale), the copy's GB/s dashed."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    rows = table[(table["kind"] == "prefill") & (table["heads"] == table["kv_heads"])]
    if rows.empty:
        rows = table[table["kind"] == "prefill"]
    for (device, dtype, pass_), group in rows.groupby(["device", "dtype", "pass"]):
        fig, ax = plt.subplots(figsize=(7, 4.2))
        for name, lines in group.groupby("implementation"):
            lines = lines.groupby("tokens", as_index=False)["gbps"].median().sort_values("tokens")
            style = dict(color="black", linestyle="--", linewidth=2) if name == "copy" else dict(marker="o")
            label = "copy (roofline)" if name == "copy" else literal_label(name)
            ax.plot(lines["tokens"], lines["gbps"], label=label, **style)
        ax.set_xscale("log", base=2)
        ax.set_yscale("log")
        ax.set_xlabel("tokens per call (batch × seq)")
        ax.set_ylabel("GB/s (q, k read + written)")
        title = group["device_name"].iloc[0] if "device_name" in group else device
        ax.set_title(literal_label(f"RoPE throughput, {dtype}, {pass_} — {title}"), fontsize=9)
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(fontsize=7, loc="best")
        fig.tight_layout()
        path = folder / f"throughput_{device}_{dtype}_{pass_.replace('+', '_')}.png"
        fig.savefig(path, dpi=110)
        plt.close(fig)
        written.append(path)
    return written
