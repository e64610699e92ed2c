"""`ropecheck bench --quick` and `compare` end to end, on this (possibly loaded) machine:
a planted 2x slowdown (timed in the same run as the correct code) is flagged; two
exchangeable halves of one run are not.

Two separate runs of identical code are *not* compared here: on a shared 2-core machine
the load can change between them (CI once saw decode rows 1.3x slower relative to the
copy in a rerun), and a test must not depend on the machine staying quiet. The false-alarm
rate of the statistic itself is pinned on simulated reruns in ``test_stats.py``."""

import shutil
import subprocess
import sys

import pandas as pd
import pytest

pytestmark = pytest.mark.slow
from harness import TESTS, built_once
CONTRACT_COLUMNS = ["implementation", "device", "dtype", "batch", "seq", "heads", "head_dim", "median_s", "gbps"]


def ropecheck(*args, cwd):
    return subprocess.run([sys.executable, "-m", "ropecheck.cli", *args], cwd=cwd, capture_output=True, text=True,
                          timeout=900)


def subject(tmp_path, fn, name="subject"):
    shutil.copy(TESTS / "mutants.py", tmp_path / "mutants.py")
    path = tmp_path / f"{fn}.toml"
    path.write_text(f'name = "{name}"\n' f'callable = "mutants:{fn}"\n' 'pairing = "half_split"\nbase = "any"\n'
                    'dtypes = ["float32", "bfloat16"]\ndevices = ["cpu"]\n')
    return path


TABLES = ("base", "slow", "even", "odd")


def _bench_tables(tmp) -> None:
    """One bench run of the correct code and of its planted 2x slowdown, split into a base
    and a slow table (each with the run's copy rows, the slow one relabelled "subject"):
    both are timed in the same run beside the same copy, so load that changes between two
    runs cannot hide the slowdown or fake one. Then the base table's two interleaved halves
    (even and odd samples): two exchangeable reruns."""
    both = tmp / "both.csv"
    proc = ropecheck("bench", str(subject(tmp, "correct_hf")), str(subject(tmp, "planted_slowdown", "subject-slow")),
                     "--quick", "--out", str(both), cwd=tmp)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    table = pd.read_csv(both)
    table[table["implementation"] != "subject-slow"].to_csv(tmp / "base.csv", index=False)
    slow = table[table["implementation"] != "subject"].copy()
    slow.loc[slow["implementation"] == "subject-slow", "implementation"] = "subject"
    slow.to_csv(tmp / "slow.csv", index=False)
    base = pd.read_csv(tmp / "base.csv")
    for start, name in ((0, "even"), (1, "odd")):
        half_of_run(base, start).to_csv(tmp / f"{name}.csv", index=False)


@pytest.fixture(scope="module")
def tables(tmp_path_factory):
    """The tables of ``_bench_tables``, built once for the run (the tests only read them)."""
    folder = built_once(tmp_path_factory, "bench-tables", _bench_tables)
    return {name: folder / f"{name}.csv" for name in TABLES}


def half_of_run(df: pd.DataFrame, start: int) -> pd.DataFrame:
    """Every other sample of each row (interleaved, so drift within the run is shared), with
    ``median_s`` and ``copy_median_s`` recomputed: a rerun drawn from the same conditions."""
    df = df.copy()
    samples = df["samples_s"].str.split().map(lambda xs: [float(x) for x in xs[start::2]])
    df["samples_s"] = samples.map(lambda xs: " ".join(map(str, xs)))
    df["median_s"] = samples.map(lambda xs: float(pd.Series(xs).median()))
    key = ["device", "dtype", "kind", "batch", "seq", "heads", "kv_heads", "head_dim", "pass"]
    copies = df[df["implementation"] == "copy"][key + ["median_s"]].rename(columns={"median_s": "copy_median_s"})
    return df.drop(columns="copy_median_s").merge(copies, on=key, how="left")


def test_quick_table_has_the_contract_columns_and_the_copy_roofline(tables):
    df = pd.read_csv(tables["base"])
    assert set(CONTRACT_COLUMNS) <= set(df.columns), sorted(df.columns)
    assert set(df["implementation"]) == {"subject", "copy"}
    assert set(df["dtype"]) == {"float32", "bfloat16"} and set(df["device"]) == {"cpu"}
    assert (df["median_s"] > 0).all() and (df["gbps"] > 0).all()
    assert df["samples_s"].str.split().map(len).min() >= 10, "raw samples are kept for compare"
    assert {"unstable", "why_unstable", "copy_samples_s"} <= set(df.columns)
    rows = df[df["implementation"] == "subject"]
    assert (rows["copy_samples_s"].str.split().map(len) == rows["samples_s"].str.split().map(len)).all(), \
        "every round of the implementation has the copy's sample of that round"
    assert df[["device_name", "torch", "commit", "date"]].notna().all().all(), "machine metadata"
    assert not df.duplicated(["implementation", "device", "dtype", "batch", "seq", "heads", "kv_heads", "head_dim", "pass"]).any()


def test_two_halves_of_one_run_are_not_flagged(tables, tmp_path):
    proc = ropecheck("compare", str(tables["even"]), str(tables["odd"]), cwd=tmp_path)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "0 significant slowdown(s)" in proc.stdout


def test_planted_slowdown_is_flagged(tables, tmp_path):
    proc = ropecheck("compare", str(tables["base"]), str(tables["slow"]), cwd=tmp_path)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "True" in proc.stdout


def test_compare_usage_errors(tables, tmp_path):
    bad = tmp_path / "bad.csv"
    bad.write_text("a,b\n1,2\n")
    proc = ropecheck("compare", str(tables["base"]), str(bad), cwd=tmp_path)
    assert proc.returncode == 2 and f"{bad}: not a ropecheck bench table" in proc.stderr
    proc = ropecheck("compare", str(tables["base"]), str(tmp_path / "absent.csv"), cwd=tmp_path)
    assert proc.returncode == 2 and "cannot read" in proc.stderr


def test_bench_usage_errors(tmp_path):
    proc = ropecheck("bench", "half-split", "--out", str(tmp_path / "x.json"), cwd=tmp_path)
    assert proc.returncode == 2 and "--out: expected a .csv path" in proc.stderr
    proc = ropecheck("bench", "no-such-impl", "--out", str(tmp_path / "x.csv"), cwd=tmp_path)
    assert proc.returncode == 2 and "not a spec file and not a registered name" in proc.stderr
