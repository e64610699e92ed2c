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


def test_a_reproduce_line_carries_the_pythonpath_its_adapter_was_found_on(tmp_path):
    """The adapter lives outside the spec's folder, found through PYTHONPATH: the printed line
    sets that PYTHONPATH (absolute) and reproduces the failure, run as printed from elsewhere
    with no PYTHONPATH of its own."""
    import json
    import os

    from harness import TESTS

    (tmp_path / "lib").mkdir()
    (tmp_path / "specs").mkdir()
    (tmp_path / "elsewhere").mkdir()
    (tmp_path / "lib" / "far_adapters.py").write_text((TESTS / "mutants.py").read_text())
    path = spec(tmp_path / "specs", "far", callable="far_adapters:off_by_one")
    env = {**os.environ, "PYTHONPATH": "lib"}  # relative to where verify runs
    proc = subprocess.run([sys.executable, "-m", "ropecheck", "verify", str(path), "--property", "oracle_agreement",
                           "--json", "out.json"], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 1, proc.stderr
    line = json.loads((tmp_path / "out.json").read_text())["implementations"][0]["properties"][0]["reproduce"]
    assert line.startswith(f"PYTHONPATH={tmp_path / 'lib'} python -m ropecheck.repro "), line
    bare = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    bare["PATH"] = os.pathsep.join([os.path.dirname(sys.executable), bare.get("PATH", "")])  # `python`: this venv's
    again = subprocess.run(line, shell=True, cwd=tmp_path / "elsewhere", env=bare, capture_output=True, text=True,
                           timeout=300)
    assert again.returncode == 1 and "positions off by +1" in again.stdout + again.stderr, again.stdout + again.stderr


def _wrong_direction(tmp_path):
    from harness import TESTS

    (tmp_path / "mutants.py").write_text((TESTS / "mutants.py").read_text())
    return spec(tmp_path, "wd", callable="mutants:wrong_direction")


def test_dump_saves_inputs_outputs_and_the_oracles_expected_outputs(tmp_path):
    import torch

    path = _wrong_direction(tmp_path)
    proc = command("repro", path, "oracle_agreement", "--device", "cpu", "--case", CASE, "--dump", tmp_path / "d",
                   cwd=tmp_path)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    record = torch.load(tmp_path / "d" / "case.pt")
    x, y, expected = record["inputs"]["x"], record["outputs"]["x_out"], record["expected"]["x_out"]
    assert x.shape == y.shape == expected.shape == (1, 2, 1, 8) and expected.dtype == torch.float64
    assert torch.equal(record["positions"], torch.tensor([[0, 1]]))
    # the wrong direction: right at position 0, wrong at 1; and the expected output is the oracle's
    assert torch.allclose(y[:, 0].double(), expected[:, 0], atol=1e-6)
    assert not torch.allclose(y[:, 1].double(), expected[:, 1], atol=1e-3)
    from ropecheck import oracle
    from ropecheck.repro import parse_case
    assert torch.equal(expected, oracle.rope(x, record["positions"], parse_case(CASE).config))
    assert "largest |output - expected|" in (tmp_path / "d" / "case.txt").read_text()


def test_pytest_writes_a_regression_test_that_fails_with_the_cause_and_passes_once_fixed(tmp_path):
    path = _wrong_direction(tmp_path)
    test = tmp_path / "tests" / "test_rope_regression.py"
    proc = command("repro", path, "oracle_agreement", "--device", "cpu", "--case", CASE, "--pytest", test,
                   cwd=tmp_path)
    assert proc.returncode == 1 and test.exists(), proc.stdout + proc.stderr
    run = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(test)],
                         cwd=tmp_path / "tests", capture_output=True, text=True, timeout=300)
    assert run.returncode == 1 and "rotates the wrong way" in run.stdout, run.stdout
    path.write_text(path.read_text().replace("mutants:wrong_direction", "mutants:correct_hf"))
    fixed = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(test)],
                           cwd=tmp_path / "tests", capture_output=True, text=True, timeout=300)
    assert fixed.returncode == 0, fixed.stdout


def test_pdb_opens_in_the_implementations_frame_when_it_raised(tmp_path):
    from harness import TESTS

    (tmp_path / "mutants.py").write_text((TESTS / "mutants.py").read_text())
    path = spec(tmp_path, "raiser", callable="mutants:raises_always")
    proc = subprocess.run([sys.executable, "-m", "ropecheck", "repro", str(path), "oracle_agreement", "--case", CASE,
                           "--pdb"], cwd=tmp_path, input="p __name__\nwhere\nq\n", capture_output=True, text=True,
                          timeout=300)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "entering pdb in the implementation's exception" in proc.stdout
    assert "(Pdb)" in proc.stdout and "'mutants'" in proc.stdout, proc.stdout  # p __name__ in raises_always's frame
    assert "raise NotImplementedError" in proc.stdout


def test_dump_onto_a_file_is_a_usage_error(tmp_path):
    path = _wrong_direction(tmp_path)
    (tmp_path / "f").write_text("")
    proc = command("repro", path, "oracle_agreement", "--case", CASE, "--dump", tmp_path / "f", cwd=tmp_path)
    assert proc.returncode == 2 and proc.stderr.startswith("ropecheck: error: --dump: "), proc.stderr
