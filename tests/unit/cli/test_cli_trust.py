"""Values that are accepted must lead to a true verdict, and what crosses a trust
boundary (a cloned repository's specs/, the working directory, a pasted reproduce line,
names printed to a terminal or drawn by matplotlib, files for other users) is handled."""

import json
import os
import stat
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from ropecheck import cli, engine, repro
from ropecheck.registry import builtin_specs
from harness import good_spec
from harness import run_ropecheck as ropecheck


# ---------------------------------------------------------------- options checked first


@pytest.mark.parametrize("option", ["--json", "--markdown"])
def test_verify_output_onto_a_folder_is_exit_2_before_the_run(tmp_path, capsys, option):
    spec = good_spec(tmp_path)
    assert cli.main(["verify", str(spec), option, str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert f"{option}: '{tmp_path}' is a folder; expected a file path" in err


def test_output_under_a_file_or_unwritable_folder_is_exit_2(tmp_path, capsys):
    spec = good_spec(tmp_path)
    (tmp_path / "plain").write_text("x")
    assert cli.main(["bench", str(spec), "--quick", "--out", str(tmp_path / "plain" / "b.csv")]) == 2
    assert "--out: " in capsys.readouterr().err
    if os.geteuid() != 0:  # root may write anywhere
        locked = tmp_path / "locked"
        locked.mkdir()
        locked.chmod(stat.S_IRUSR | stat.S_IXUSR)
        assert cli.main(["verify", str(spec), "--json", str(locked / "v.json")]) == 2
        assert "permission denied" in capsys.readouterr().err


@pytest.mark.parametrize("value", ["0", "-1", "nan", "inf"])
def test_a_timeout_that_is_not_a_positive_number_is_exit_2(tmp_path, capsys, value):
    spec = good_spec(tmp_path)
    for command in (["verify", str(spec)], ["identify", "mutants:correct_hf"]):
        assert cli.main([*command, "--timeout", value]) == 2
        assert "--timeout: expected a positive number of CPU seconds" in capsys.readouterr().err


def test_verify_on_a_device_that_does_not_exist_is_exit_2(tmp_path, capsys):
    import torch

    if torch.cuda.is_available():
        pytest.skip("this machine has CUDA")
    assert cli.main(["verify", "half-split", "--device", "cuda"]) == 2
    assert "--device cuda: CUDA is not available on this machine" in capsys.readouterr().err


def _bench_table(tmp_path, name, **changes):
    rows = {"implementation": ["copy", "mine"], "device": "cpu", "dtype": "float32", "kind": "prefill", "batch": 1,
            "seq": 128, "heads": 8, "kv_heads": 8, "head_dim": 64, "pass": "fwd", "median_s": [1e-5, 2e-4],
            "copy_median_s": 1e-5, "samples_s": ["1e-5 1.1e-5 0.9e-5", "2e-4 2.1e-4 1.9e-4"]}
    frame = pd.DataFrame(rows)
    for column, (row, value) in changes.items():
        frame[column] = frame[column].astype(object)
        frame.loc[row, column] = value
    path = tmp_path / name
    frame.to_csv(path, index=False)
    return path


@pytest.mark.parametrize("changes, words", [
    ({"median_s": (1, float("nan"))}, "column 'median_s', row 3 (implementation 'mine')"),
    ({"samples_s": (1, "fast slow")}, "column 'samples_s', row 3 (implementation 'mine')"),
    ({"samples_s": (1, "nan nan")}, "column 'samples_s', row 3"),
    ({"copy_median_s": (0, -1.0)}, "column 'copy_median_s', row 2 (implementation 'copy')"),
])
def test_compare_refuses_timings_that_are_not_numbers(tmp_path, capsys, changes, words):
    base = _bench_table(tmp_path, "base.csv")
    new = _bench_table(tmp_path, "new.csv", **changes)
    assert cli.main(["compare", str(base), str(new)]) == 2
    err = capsys.readouterr().err
    assert str(new) in err and words in err, err


@pytest.mark.parametrize("option, value", [("--alpha", "nan"), ("--alpha", "0"), ("--alpha", "1.5"),
                                           ("--min-effect", "nan"), ("--min-effect", "-0.1")])
def test_compare_refuses_bad_thresholds(tmp_path, capsys, option, value):
    base = _bench_table(tmp_path, "base.csv")
    assert cli.main(["compare", str(base), str(base), option, value]) == 2
    assert f"{option}: expected" in capsys.readouterr().err


def test_max_position_1_gives_a_true_verdict():
    """Only position 0 exists: a correct implementation conforms; per-row positions
    cannot apply and say so."""
    from dataclasses import replace

    spec = replace([s for s in builtin_specs() if s.name == "half-split"][0], max_position=1, devices=("cpu",))
    result = engine.verify(spec, "half-split", isolate=False)
    assert result.conforms, [(p.name, p.message) for p in result.properties if p.status != "passed"]
    row = {p.name: p for p in result.properties}["per_row_positions"]
    assert row.status == "skipped" and "max_position = 1" in row.message


def test_a_base_float32_cannot_hold_is_refused_with_its_range(tmp_path, capsys):
    spec = good_spec(tmp_path)
    spec.write_text(spec.read_text().replace('base = "any"', "base = 1e300"))
    assert cli.main(["verify", str(spec)]) == 2
    err = capsys.readouterr().err
    assert "key 'base'" in err and "at most 1e+38" in err


# ---------------------------------------------------------------- trust boundaries


@pytest.mark.slow
def test_a_built_in_name_means_the_built_in_even_beside_a_specs_folder_that_claims_it(tmp_path):
    (tmp_path / "specs").mkdir()
    (tmp_path / "specs" / "evil.py").write_text("open('EVIL_RAN', 'w').close()\ndef rope(x, p, c):\n    return x\n")
    (tmp_path / "specs" / "evil.toml").write_text(
        'name = "half-split"\ncallable = "evil:rope"\npairing = "half_split"\nbase = "any"\n'
        'dtypes = ["float32"]\ndevices = ["cpu"]\n')
    # evil's rope returns x unrotated: were it run, oracle_agreement would fail
    proc = ropecheck("verify", "half-split", "--device", "cpu", "--property", "oracle_agreement", cwd=tmp_path)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "also calls itself 'half-split'; the built-in 'half-split' is used" in proc.stderr
    assert not (tmp_path / "EVIL_RAN").exists() and not (tmp_path / "specs" / "EVIL_RAN").exists()
    listing = ropecheck("list", cwd=tmp_path)
    assert "shadowed: the name means the built-in one" in listing.stdout


@pytest.mark.slow
def test_the_working_directory_is_not_on_the_checking_process_path(tmp_path):
    """A random.py or a ropecheck/ folder in the working directory is not imported by the
    checking process (only the spec's own folder is put on sys.path)."""
    work, specs = tmp_path / "work", tmp_path / "elsewhere"
    work.mkdir()
    specs.mkdir()
    canary = "import pathlib\npathlib.Path(__file__).with_name('IMPORTED').write_text(__name__)\n"
    (work / "random.py").write_text(canary)
    (work / "ropecheck").mkdir()
    (work / "ropecheck" / "__init__.py").write_text(canary)
    spec = good_spec(specs)
    script = Path(sys.executable).parent / "ropecheck"
    if not script.exists():
        pytest.skip("no ropecheck console script beside this interpreter")
    proc = subprocess.run([str(script), "verify", str(spec)], cwd=work, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert not (work / "IMPORTED").exists() and not (work / "ropecheck" / "IMPORTED").exists()


def test_the_reproduce_line_is_parsed_not_evaluated(tmp_path, capsys):
    canary = tmp_path / "RAN"
    for doctored in (f"__import__('pathlib').Path({str(canary)!r}).touch()",
                     f"RopeCase(batch=__import__('os').system('touch {canary}'))",
                     "RopeCase(**{'batch': 1})"):
        with pytest.raises(ValueError, match="--case"):
            repro.parse_case(doctored)
    assert not canary.exists()
    case = repro.parse_case("RopeCase(batch=1, seq=2, heads=1, head_dim=8, dtype='float32', config=RopeConfig("
                            "base=10000.0, rotary_dim=8, pairing='half_split', scaling=None, head_dim=8), "
                            "positions=((0, 1),), seed=3, scale=1.0)")
    assert case.seq == 2 and case.config.rotary_dim == 8 and case.seed == 3
    assert repro.main(["half-split", "oracle_agreement", "--case", "RopeCase(batch=exit())"]) == 2
    assert "--case" in capsys.readouterr().err


def test_names_with_terminal_escapes_are_refused_and_messages_are_escaped(tmp_path, capsys):
    spec = good_spec(tmp_path)
    spec.write_text(spec.read_text().replace('name = "correct_hf"', 'name = "a\\u001b[2Jb"'))
    assert cli.main(["verify", str(spec)]) == 2
    err = capsys.readouterr().err
    assert "key 'name': expected printable characters only" in err and "\x1b" not in err
    from ropecheck.table import printable, text_table

    assert printable("raised ValueError: \x1b[31mred") == "raised ValueError: \\x1b[31mred"
    assert "\x1b" not in text_table(["a"], [["\x1b[2J"]])


def test_dollar_signs_in_names_are_drawn_literally(tmp_path):
    pytest.importorskip("matplotlib")
    from ropecheck.bench import plot

    frame = pd.DataFrame({"implementation": ["copy", "my$rope$"], "device": "cpu", "dtype": "float32",
                          "kind": "prefill", "heads": 8, "kv_heads": 8, "pass": "fwd", "tokens": 128,
                          "gbps": [10.0, 2.0], "device_name": "cpu$x$"})
    paths = plot.throughput_plots(frame, tmp_path)
    assert paths and all(Path(p).exists() for p in paths)


def test_written_files_respect_the_umask(tmp_path):
    from ropecheck.storage import atomic_write_json

    old = os.umask(0o022)
    try:
        path = atomic_write_json(tmp_path / "r.json", {"a": 1})
    finally:
        os.umask(old)
    assert stat.S_IMODE(path.stat().st_mode) == 0o644
    assert json.loads(path.read_text()) == {"a": 1}


def test_python_dash_m_and_version():
    proc = subprocess.run([sys.executable, "-m", "ropecheck", "--version"], capture_output=True, text=True)
    from ropecheck import __version__

    assert proc.returncode == 0 and proc.stdout.strip() == f"ropecheck {__version__}"
