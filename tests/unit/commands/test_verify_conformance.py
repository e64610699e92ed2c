"""``ropecheck verify --conformance F.csv``: verify merges its verdict into the table the report reads."""

from __future__ import annotations

import pandas as pd

from ropecheck import cli
from ropecheck.conformance_table import ALL_DTYPES, COLUMNS

PROPERTY = "identity_at_zero"


def _old_table(path) -> None:
    rows = [dict.fromkeys(COLUMNS, "") for _ in range(3)]
    rows[0].update(implementation="half-split", device="cpu", dtype=ALL_DTYPES, property=PROPERTY, status="failed",
                   message="stale")  # same key: replaced
    rows[1].update(implementation="half-split", device="cpu", dtype="float32", property=PROPERTY, status="passed",
                   message="per-dtype row of conformance-table")  # another dtype: kept
    rows[2].update(implementation="someone-else", device="cpu", dtype="float16", property="determinism",
                   status="failed", message="kept")
    pd.DataFrame(rows, columns=COLUMNS).to_csv(path, index=False)


def test_verify_merges_rows_with_dtype_all(tmp_path, capsys):
    table = tmp_path / "conformance.csv"
    _old_table(table)
    code = cli.main(["verify", "half-split", "--device", "cpu", "--property", PROPERTY, "-q", "-j", "1",
                     "--conformance", str(table)])
    assert code == 0
    assert "merged 1 rows into" in capsys.readouterr().out
    t = pd.read_csv(table, keep_default_na=False)
    assert list(t.columns) == COLUMNS
    mine = t[(t["implementation"] == "half-split") & (t["dtype"] == ALL_DTYPES)]
    assert len(mine) == 1 and mine.iloc[0]["status"] == "passed" and mine.iloc[0]["property"] == PROPERTY
    assert mine.iloc[0]["version"].startswith("ropecheck==") and mine.iloc[0]["profile"] == "ci"
    assert "stale" not in set(t["message"])
    assert set(t[t["dtype"] != ALL_DTYPES]["message"]) == {"per-dtype row of conformance-table", "kept"}


def test_a_spec_claiming_one_dtype_gets_rows_of_that_dtype(tmp_path):
    spec = tmp_path / "mine.toml"
    spec.write_text('name = "mine"\ncallable = "ropecheck.variants:half_split"\npairing = "half_split"\n'
                    'base = "any"\ndtypes = ["float32"]\ndevices = ["cpu"]\n')
    table = tmp_path / "sub" / "conformance.csv"
    table.parent.mkdir()
    assert cli.main(["verify", str(spec), "--property", PROPERTY, "-q", "-j", "1", "--conformance", str(table)]) == 0
    t = pd.read_csv(table, keep_default_na=False)
    assert t[["implementation", "device", "dtype", "property", "status"]].values.tolist() == \
        [["mine", "cpu", "float32", PROPERTY, "passed"]]


def test_conformance_into_a_folder_is_a_usage_error(tmp_path, capsys):
    assert cli.main(["verify", "half-split", "--property", PROPERTY, "--conformance", str(tmp_path)]) == 2
    assert "--conformance" in capsys.readouterr().err
