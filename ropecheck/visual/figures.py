"""The report's figures: each function draws one matplotlib figure (Agg backend), saves it
as a PNG in ``folder`` and returns its path. matplotlib is imported inside the functions."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from ropecheck.render.text import literal_label

DPI = 100


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _save(fig, folder: str | Path, name: str) -> Path:
    plt = _pyplot()
    path = Path(folder) / name
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=DPI)
    plt.close(fig)
    return path


def precision(sweep: pd.DataFrame, folder: str | Path, filename: str = "precision.png") -> Path:
    """worst err/allowed against position (log-log), one panel per dtype, one line per
    implementation, the tolerance (ratio 1) dashed."""
    plt = _pyplot()
    dtypes = list(dict.fromkeys(sweep["dtype"]))
    fig, axes = plt.subplots(1, len(dtypes), figsize=(3.6 * len(dtypes), 3.8), sharey=True, squeeze=False)
    for ax, dtype in zip(axes[0], dtypes):
        for name, group in sweep[sweep["dtype"] == dtype].groupby("implementation", sort=False):
            group = group[group["position"] > 0].sort_values("position")
            ratio = group["worst_ratio"].clip(lower=1e-4).replace(np.inf, 1e6)
            style = dict(color="grey", linestyle=":", marker="x") if "illustration" in name else dict(marker=".")
            ax.plot(group["position"], ratio, label=literal_label(name), markersize=4, linewidth=1, **style)
        ax.axhline(1.0, color="red", linestyle="--", linewidth=1.2, label="tolerance (ratio 1)")
        ax.set_xscale("log", base=2)
        ax.set_yscale("log")
        ax.set_title(dtype, fontsize=10)
        ax.set_xlabel("position m")
        ax.grid(True, which="major", alpha=0.3)
    axes[0][0].set_ylabel("worst error / allowed")
    axes[0][-1].legend(fontsize=6, loc="upper left")
    fig.tight_layout()
    return _save(fig, folder, filename)


def decay(curves: dict[tuple[int, float], tuple[np.ndarray, np.ndarray]], folder: str | Path) -> Path:
    """Relative upper bound against relative distance, one line per (head_dim, base)."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(7, 4))
    for (head_dim, base), (r, bound) in curves.items():
        ax.plot(r, bound, linewidth=0.9, label=f"head_dim {head_dim}, base {base:g}")
    ax.set_xscale("symlog", linthresh=1)
    ax.set_xlabel("relative distance n − m")
    ax.set_ylabel("relative upper bound (1 at distance 0)")
    ax.set_title("Long-term decay of RoPE's attention bound", fontsize=10)
    ax.grid(True, which="major", alpha=0.3)
    ax.legend(fontsize=7)
    fig.tight_layout()
    return _save(fig, folder, "decay.png")


def attention(probs: np.ndarray, tokens: list[str], folder: str | Path) -> Path:
    """One heatmap per head of softmax(q k^T / sqrt(d)), token labels on both axes."""
    plt = _pyplot()
    heads = probs.shape[0]
    fig, axes = plt.subplots(1, heads, figsize=(3.4 * heads, 3.6), squeeze=False)
    for h, ax in enumerate(axes[0]):
        im = ax.imshow(probs[h], cmap="viridis", vmin=0.0)
        ax.set_xticks(range(len(tokens)))
        ax.set_yticks(range(len(tokens)))
        ax.set_xticklabels(tokens, rotation=90, fontsize=7)
        ax.set_yticklabels(tokens, fontsize=7)
        ax.set_title(f"head {h + 1}", fontsize=9)
        if h == 0:
            ax.set_ylabel("query")
        ax.set_xlabel("key")
        fig.colorbar(im, ax=ax, fraction=0.046, pad=0.04)
    fig.tight_layout()
    return _save(fig, folder, "attention.png")


def toeplitz(scores: np.ndarray, folder: str | Path) -> Path:
    """Scores of one q and one k repeated at every position: constant along diagonals."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(4.6, 4))
    im = ax.imshow(scores, cmap="coolwarm")
    ax.set_xlabel("key position n")
    ax.set_ylabel("query position m")
    ax.set_title("same q, k at every position: score depends on n − m", fontsize=8)
    fig.colorbar(im, ax=ax, fraction=0.046, pad=0.04)
    fig.tight_layout()
    return _save(fig, folder, "toeplitz.png")


def rotation(x: tuple[float, float], thetas: tuple[float, float], folder: str | Path, steps: int = 8) -> Path:
    """x rotated by m * theta for m = 0 .. steps-1, one panel per frequency, on the unit circle."""
    plt = _pyplot()
    fig, axes = plt.subplots(1, len(thetas), figsize=(4.2 * len(thetas), 4.2), squeeze=False)
    circle = np.linspace(0, 2 * np.pi, 200)
    cmap = plt.get_cmap("viridis")
    for ax, theta in zip(axes[0], thetas):
        ax.plot(np.cos(circle), np.sin(circle), color="lightgrey", linewidth=1)
        for m in range(steps):
            a = m * theta
            c, s = np.cos(a), np.sin(a)
            v = (c * x[0] - s * x[1], s * x[0] + c * x[1])
            ax.annotate("", xy=v, xytext=(0, 0),
                        arrowprops=dict(arrowstyle="->", color=cmap(m / max(steps - 1, 1)), linewidth=1.5))
            ax.text(1.12 * v[0], 1.12 * v[1], f"m={m}", fontsize=7, ha="center", va="center")
        ax.set_xlim(-1.35, 1.35)
        ax.set_ylim(-1.35, 1.35)
        ax.set_aspect("equal")
        ax.grid(True, alpha=0.3)
        ax.set_title(f"R(mθ) x, θ = {theta:.3g} rad", fontsize=9)
    fig.tight_layout()
    return _save(fig, folder, "rotation.png")


def roofline(table: pd.DataFrame, folder: str | Path, name: str) -> Path:
    """Fraction of the copy roofline (gbps / copy_gbps) per implementation and dtype, at the
    largest forward prefill shape of the table (bars)."""
    plt = _pyplot()
    rows = table[(table["kind"] == "prefill") & (table["pass"] == "fwd") & (table["implementation"] != "copy")]
    biggest = rows["tokens"].max()
    rows = rows[rows["tokens"] == biggest]
    frac = rows.groupby(["implementation", "dtype"])["roofline_fraction"].median().unstack("dtype")
    frac = frac.sort_values(frac.columns[0], ascending=False)
    fig, ax = plt.subplots(figsize=(7, 0.35 * len(frac) + 1.6))
    height = 0.8 / max(len(frac.columns), 1)
    for i, dtype in enumerate(frac.columns):
        ax.barh(np.arange(len(frac)) + i * height, frac[dtype], height=height, label=dtype)
    ax.set_yticks(np.arange(len(frac)) + 0.4 - height / 2)
    ax.set_yticklabels([literal_label(n) for n in frac.index], fontsize=7)
    ax.invert_yaxis()
    ax.set_xlabel("fraction of the copy roofline (gbps / copy_gbps)")
    ax.set_title(f"roofline fraction at {int(biggest)} tokens per call, forward", fontsize=9)
    ax.grid(True, axis="x", alpha=0.3)
    ax.legend(fontsize=7)
    fig.tight_layout()
    return _save(fig, folder, f"roofline_{name}.png")
