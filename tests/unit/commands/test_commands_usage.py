"""The commands that had their own parsers (conformance-table, timer-check) end a mistake
the way every command does: one line on stderr and exit 2, before any work."""

import pytest

from ropecheck import cli, conformance_table


def _one_line(capsys, *words):
    err = capsys.readouterr().err
    lines = err.splitlines()
    assert len(lines) == 1 and lines[0].startswith("ropecheck: error: "), err
    for word in words:
        assert word in lines[0], err
    return lines[0]


def test_conformance_table_bad_target_is_one_line(tmp_path, capsys):
    out = tmp_path / "c.csv"
    assert cli.main(["conformance-table", str(tmp_path / "nowhere.toml"), "--out", str(out)]) == 2
    new = _one_line(capsys, "nowhere.toml")
    assert conformance_table.main([str(tmp_path / "nowhere.toml"), "--out", str(out)]) == 2
    assert _one_line(capsys) == new
    assert not out.exists()


@pytest.mark.parametrize("args, words", [
    (["--profile", "fast"], ["--profile", "'fast'"]),
    (["--timeout", "-1"], ["--timeout"]),
    (["--dtypes", "int8"], ["--dtypes", "int8"]),
])
def test_conformance_table_options_that_cannot_work_are_usage_errors(tmp_path, capsys, args, words):
    out = tmp_path / "c.csv"
    assert cli.main(["conformance-table", "half-split", "--out", str(out), *args]) == 2
    _one_line(capsys, *words)
    assert not out.exists()


def test_conformance_table_out_that_is_a_folder_is_a_usage_error(tmp_path, capsys):
    assert cli.main(["conformance-table", "half-split", "--out", str(tmp_path)]) == 2
    _one_line(capsys, "--out", "folder")


def test_timer_check_without_cuda_is_one_line(tmp_path, capsys):
    import torch

    if torch.cuda.is_available():
        pytest.skip("CUDA is available: timer-check would time")
    assert cli.main(["timer-check", "half-split", "--out", str(tmp_path / "t.csv")]) == 2
    _one_line(capsys, "timer-check")
    assert not (tmp_path / "t.csv").exists()


def test_a_missing_matplotlib_is_one_line_with_the_install_line_that_works_here(monkeypatch, capsys, tmp_path):
    import importlib.util

    from ropecheck.commands import _options

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "matplotlib" else real(name, *a))
    assert cli.main(["report", "--out", str(tmp_path / "r")]) == 2
    line = _one_line(capsys, "report needs matplotlib: pip install ")
    assert line.endswith(_options.install_hint("plots"))
    here = _options.install_hint("plots")
    # this checkout (tests run from a clone, or from an install of it)
    from pathlib import Path

    import ropecheck
    clone = (Path(ropecheck.__file__).resolve().parents[1] / "pyproject.toml").is_file()
    assert here == (f"pip install -e '{Path(ropecheck.__file__).resolve().parents[1]}[plots]'" if clone
                    else "pip install 'ropecheck[plots]'")
