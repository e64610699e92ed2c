"""Benchmark rows into a pandas table: docs/contract.md §3.5's columns, the metrics, the raw samples
(``samples_s``, space-separated seconds, what ``compare`` tests), and machine metadata."""

from __future__ import annotations

import datetime
import platform
import subprocess
from pathlib import Path

import pandas as pd

from ropecheck import __version__
from ropecheck.bench import stats

KEY = stats.KEY


def metadata(device: str) -> dict:
    import torch

    name = torch.cuda.get_device_name(0) if device == "cuda" and torch.cuda.is_available() else _cpu_name()
    return {"device_name": name, "torch": torch.__version__, "ropecheck": __version__, "commit": _commit(),
            "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "threads": torch.get_num_threads(), "python": platform.python_version()}


def _cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _commit() -> str:
    try:
        out = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True,
                             cwd=Path(__file__).resolve().parent, timeout=5)
        return out.stdout.strip() or "unknown"
    except (OSError, subprocess.SubprocessError):
        return "unknown"


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
