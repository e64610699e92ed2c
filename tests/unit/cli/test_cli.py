"""The command line against docs/contract.md §3: commands, exit codes, JSON, usage errors."""

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from harness import ROOT, TESTS
from ropecheck import cli


def spec_file(tmp_path, fn, name=None, **extra):
    """A spec in tmp_path whose callable lives in tests/mutants.py (copied beside it)."""
    (tmp_path / "mutants.py").write_text((TESTS / "mutants.py").read_text())
    lines = [f'name = "{name or fn}"', f'callable = "mutants:{fn}"', 'pairing = "half_split"', 'base = "any"',
             'dtypes = ["float32", "bfloat16"]', 'devices = ["cpu"]', "partial_rotary = true"]
    lines += [f"{k} = {json.dumps(v)}" for k, v in extra.items()]
    path = tmp_path / f"{name or fn}.toml"
    path.write_text("\n".join(lines) + "\n")
    return path


def run(*args, cwd=ROOT, env=None):
    return subprocess.run([sys.executable, "-m", "ropecheck.cli", *args], cwd=cwd, capture_output=True, text=True,
                          timeout=600, env=env)


def test_prove_exits_0_and_writes_json(tmp_path, capsys):
    out = tmp_path / "proofs.json"
    assert cli.main(["prove", "--json", str(out)]) == 0
    data = json.loads(out.read_text())
    assert data["all_proved"] and len(data["proofs"]) >= 10
    assert {"name", "statement", "method", "status"} <= set(data["proofs"][0])
    assert "identities proved" in capsys.readouterr().out


def test_prove_exits_1_when_an_identity_is_not_proved(monkeypatch, capsys):
    from ropecheck import proofs

    false = proofs.Proof("false_identity", "R(a)R(b) = R(a-b)", "test", lambda: False)
    monkeypatch.setattr(proofs, "PROOFS", proofs.PROOFS + (false,))
    monkeypatch.setattr(proofs, "prove_all", lambda ps=None: [proofs.run_proof(p) for p in proofs.PROOFS])
    assert cli.main(["prove"]) == 1
    assert "false_identity: failed" in capsys.readouterr().out


@pytest.mark.slow
def test_verify_conforming_failing_and_json(tmp_path):
    good = spec_file(tmp_path, "correct_hf")
    bad = spec_file(tmp_path, "wrong_direction")
    report, markdown = tmp_path / "v.json", tmp_path / "v.md"
    proc = run("verify", str(good), str(bad), "--json", str(report), "--markdown", str(markdown))
    assert proc.returncode == 1, proc.stdout + proc.stderr
    data = json.loads(report.read_text())
    names = [i["name"] for i in data["implementations"]]
    assert names == ["correct_hf", "wrong_direction"]
    ok, broken = data["implementations"]
    assert ok["conforms"] is True and broken["conforms"] is False
    for prop in ok["properties"] + broken["properties"]:
        assert {"name", "status", "message", "counterexample"} <= set(prop)
        assert prop["status"] in ("passed", "failed", "skipped", "error")
    failed = {p["name"]: p for p in broken["properties"] if p["status"] == "failed"}
    assert "rotates the wrong way" in failed["oracle_agreement"]["message"]
    assert "shape=" in failed["oracle_agreement"]["counterexample"]
    assert "python -m ropecheck.repro" in failed["oracle_agreement"]["reproduce"]
    assert "DOES NOT CONFORM" in proc.stdout and "reproduce:" in proc.stdout
    assert "| wrong_direction | DOES NOT CONFORM |" in markdown.read_text()

    # the reproduce line re-runs the minimal case and fails the same way
    line = failed["oracle_agreement"]["reproduce"].replace("python ", f"{sys.executable} ", 1)
    repro = subprocess.run(line, shell=True, cwd=ROOT, capture_output=True,
                           text=True, timeout=300)
    assert repro.returncode == 1 and "rotates the wrong way" in repro.stdout, repro.stdout + repro.stderr


@pytest.mark.slow
def test_verify_exits_0_when_all_conform_and_accepts_names_and_folders(tmp_path):
    proc = run("verify", "half-split", "--device", "cpu")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "1 of 1 implementations conform" in proc.stdout


@pytest.mark.parametrize("args, words", [
    (["verify", "no-such-implementation"], "not a spec file and not a registered name"),
    (["verify", "half-split", "--profile", "fast"], "--profile: expected one of ci, dev, thorough"),
    (["verify", "half-split", "--device", "tpu"], "invalid choice"),
    (["verify"], "required"),
])
def test_usage_errors_exit_2(args, words, capsys):
    assert cli.main(args) == 2
    captured = capsys.readouterr()
    assert words in captured.err, captured.err


def test_bad_spec_is_exit_2_with_one_line_naming_file_and_key(tmp_path, capsys):
    path = spec_file(tmp_path, "correct_hf")
    path.write_text(path.read_text().replace('pairing = "half_split"', 'pairing = "neox"'))
    assert cli.main(["verify", str(path)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and str(path) in err and "key 'pairing'" in err, err


def test_uncallable_spec_is_exit_2(tmp_path, capsys):
    path = spec_file(tmp_path, "no_such_function")
    assert cli.main(["verify", str(path)]) == 2
    err = capsys.readouterr().err
    assert "key 'callable'" in err and "no attribute 'no_such_function'" in err


def test_duplicate_names_are_a_usage_error(tmp_path, capsys):
    a = spec_file(tmp_path, "correct_hf", name="same")
    b = tmp_path / "other.toml"
    b.write_text(a.read_text())
    assert cli.main(["verify", str(a), str(b)]) == 2
    assert "key 'name'" in capsys.readouterr().err


def test_missing_requirement_is_skipped_not_failed(tmp_path, capsys):
    path = spec_file(tmp_path, "correct_hf", requires=["no_such_lib_zz"])
    assert cli.main(["verify", str(path)]) == 0
    assert "requires no_such_lib_zz" in capsys.readouterr().out


def test_list_shows_builtins_specs_and_entry_points(tmp_path):
    plugin = tmp_path / "site"
    (plugin / "myrope_plugin-1.0.dist-info").mkdir(parents=True)
    (plugin / "myrope_plugin-1.0.dist-info" / "METADATA").write_text("Metadata-Version: 2.1\nName: myrope-plugin\nVersion: 1.0\n")
    (plugin / "myrope_plugin-1.0.dist-info" / "entry_points.txt").write_text(
        "[ropecheck.implementations]\nmyrope = myrope_plugin:SPEC\nbroken = myrope_plugin:BROKEN\n")
    (plugin / "myrope_plugin.py").write_text(textwrap.dedent("""
        SPEC = {"name": "myrope", "callable": "myrope_plugin:rope", "pairing": "interleaved", "base": 10000.0,
                "dtypes": ["float32"], "devices": ["cpu"]}
        BROKEN = {"name": "broken", "callable": "myrope_plugin:rope"}
        def rope(x, positions, config):
            return x
    """))
    env = dict(__import__("os").environ, PYTHONPATH=f"{plugin}:{ROOT}")
    proc = run("list", cwd=ROOT, env=env)
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout
    for name in ("dense-matrix", "sparse-elementwise", "complex-polar", "interleaved", "half-split"):
        assert name in out
    assert "built-in" in out and "specs/" in out
    assert "myrope" in out and "entry point" in out
    assert "invalid: entry point 'broken'" in out and "required key is missing" in out
    # a registered entry point can be verified by name
    proc = run("verify", "myrope", "--device", "cpu", cwd=ROOT, env=env)
    assert proc.returncode == 1 and "myrope" in proc.stdout, proc.stdout + proc.stderr


def test_console_script_is_installed():
    script = Path(sys.executable).parent / "ropecheck"
    if not script.exists():
        pytest.skip("no ropecheck console script beside this interpreter (package not installed)")
    proc = subprocess.run([str(script), "--help"], capture_output=True, text=True)
    assert proc.returncode == 0 and "prove" in proc.stdout and "verify" in proc.stdout
