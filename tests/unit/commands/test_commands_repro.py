"""``ropecheck repro`` and its old entry point ``python -m ropecheck.repro`` (every failure's
reproduce line): a wrong spec is one line naming the file and key, exit 2, never a traceback."""

import subprocess
import sys
from pathlib import Path

import pytest

from ropecheck import cli

pytestmark = pytest.mark.slow  # each case spawns a command that imports torch

CASE = ("RopeCase(batch=1, seq=2, heads=1, head_dim=8, dtype='float32', config=RopeConfig(base=10000.0, "
        "rotary_dim=8, pairing='half_split', scaling=None, head_dim=8), positions=((0, 1),), seed=3, scale=1.0)")
SPEC = 'name = "{name}"\ncallable = "{callable}"\npairing = "{pairing}"\nbase = "any"\ndtypes = ["float32"]\ndevices = ["cpu"]\n'


def spec(tmp_path: Path, name: str, callable: str = "nowhere_mod:rope", pairing: str = "half_split") -> Path:
    path = tmp_path / f"{name}.toml"
    path.write_text(SPEC.format(name=name, callable=callable, pairing=pairing))
    return path


def command(*args, module="ropecheck", cwd):
    return subprocess.run([sys.executable, "-m", module, *map(str, args)], cwd=cwd, capture_output=True, text=True,
                          timeout=300)


@pytest.mark.parametrize("module, prefix", [("ropecheck", "ropecheck: error: "),
                                            ("ropecheck.repro", "ropecheck repro: error: ")])
@pytest.mark.parametrize("kind, key", [("pairing", "pairing"), ("callable", "callable")])
def test_a_malformed_spec_is_one_line_naming_file_and_key(tmp_path, module, prefix, kind, key):
    bad = spec(tmp_path, "bad", pairing="diagonal") if kind == "pairing" else spec(tmp_path, "bad")
    args = (["repro"] if module == "ropecheck" else []) + [bad, "oracle_agreement", "--case", CASE]
    proc = command(*args, module=module, cwd=tmp_path)
    assert proc.returncode == 2, proc.stdout + proc.stderr
    lines = proc.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith(prefix), proc.stderr
    assert str(bad) in lines[0] and f"key '{key}'" in lines[0], proc.stderr
    assert proc.stdout == ""


def test_the_old_entry_point_still_reruns_a_case(tmp_path):
    proc = command("half-split", "oracle_agreement", "--device", "cpu", "--case", CASE, module="ropecheck.repro",
                   cwd=tmp_path)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert proc.stdout.startswith("passed half-split · oracle_agreement"), proc.stdout


def test_ropecheck_repro_prints_what_the_old_entry_point_prints(tmp_path, capsys):
    from ropecheck import repro

    args = ["half-split", "oracle_agreement", "--case", CASE]
    assert repro.main(args) == 0
    old = capsys.readouterr()
    assert cli.main(["repro", *args]) == 0
    assert capsys.readouterr() == old
    with pytest.raises(SystemExit) as exit_:
        repro.main(["half-split", "no_such_property", "--case", CASE])
    assert exit_.value.code == 2 and "invalid choice: 'no_such_property'" in capsys.readouterr().err
    assert cli.main(["repro", "half-split", "no_such_property", "--case", CASE]) == 2
