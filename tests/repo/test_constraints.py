"""constraints/ci.txt (the versions CI tests with), tox's use of it, the upstream canary's
set-up and constraints/drift.py's report. Reads files only: nothing is installed."""

import configparser
import importlib.util
import re
import tomllib

import pytest

from harness import ROOT


def _drift():
    spec = importlib.util.spec_from_file_location("drift", ROOT / "constraints" / "drift.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


drift = _drift()


@pytest.fixture(scope="module")
def tox():
    parser = configparser.ConfigParser(interpolation=None)
    parser.read(ROOT / "tox.ini")
    return parser


def test_the_pins_cover_every_requirement_and_hold_torch_at_the_cpu_build():
    pins = drift.read_pins()
    assert pins["torch"] == "2.13.0"
    assert "ropecheck" not in pins and not set(pins) & drift.NOT_PINNED
    wanted = drift.extra_requirements(ROOT / "pyproject.toml", ("", "test", "plots", "thirdparty"))
    unpinned = [text for text in wanted if drift.requirement(text)[0] not in pins]
    assert not unpinned, f"constraints/ci.txt pins none of {unpinned}: regenerate it (see its header)"
    assert pins["transformers"] == "5.23.0", "the last release the GPT-J adapter was tested on with CI"


def test_the_constraints_file_says_how_it_is_made_and_updated():
    header = (ROOT / "constraints" / "ci.txt").read_text().split("\n\n")[0]
    assert header.startswith(drift.HEADER.rstrip("\n").split("\n")[0])
    for words in ("drift.py --freeze", "tox -e upstream", "commit of its own"):
        assert words in drift.HEADER
    assert (ROOT / "constraints" / "ci.txt").read_text().startswith(drift.HEADER)


def test_every_ci_env_installs_under_the_pins_and_the_canary_does_not(tox):
    assert [e.strip() for e in tox["tox"]["envlist"].split(",")] == ["py3", "conformance", "triton-cpu"]
    pinned = "PIP_CONSTRAINT = {toxinidir}/constraints/ci.txt"
    for section in ("testenv", "testenv:conformance", "testenv:thirdparty"):
        assert pinned in tox[section]["setenv"], section
    assert "setenv" not in tox["testenv:bench-verify"], "bench-verify inherits [testenv]'s setenv"
    upstream = tox["testenv:upstream"]
    assert "PIP_CONSTRAINT" not in upstream["setenv"]
    assert upstream["deps"].split() == ["torch==2.13.0"]
    assert upstream["recreate"] == "true" and upstream["ignore_errors"] == "true"  # fails on the first failure, runs all


def test_the_canary_verifies_every_third_party_spec(tox):
    commands = tox["testenv:upstream"]["commands"]
    verify = next(line for line in commands.splitlines() if "ropecheck verify" in line)
    listed = set(re.findall(r"specs/[\w.-]+\.toml", verify))
    # read raw, so that specs in docs/contract.md §4's forms count before the engine reads them
    third_party = {f"specs/{p.name}" for p in (ROOT / "specs").glob("*.toml")
                   if tomllib.loads(p.read_text()).get("requires")}
    assert listed == third_party
    assert "--device cpu" in verify and "pytest tests/adapters" in commands


def test_the_report_marks_drift_and_lists_the_other_packages_that_moved():
    pins = {"torch": "2.13.0", "transformers": "5.23.0", "mlx": "0.32.4", "tokenizers": "0.23.3", "numpy": "2.4.6"}
    here = {"torch": "2.13.0+cpu", "transformers": "5.24.0", "tokenizers": "0.24.0", "numpy": "2.4.6",
            "pip": "23.2.1", "ropecheck": "0.1.0", "kernels": "0.17.2"}
    lines = drift.report(pins, here, ["torch", "transformers", "mlx"], with_newest=False)
    rows = {line.split()[0]: line.split()[1:] for line in lines[1:4]}
    assert rows == {"torch": ["2.13.0", "2.13.0+cpu"], "transformers": ["5.23.0", "5.24.0", "DRIFT"],
                    "mlx": ["0.32.4", "not", "installed"]}
    assert lines[-1] == ("other packages that differ from the pins: "
                         "kernels (not pinned) -> 0.17.2, tokenizers 0.23.3 -> 0.24.0")


def test_freeze_writes_the_header_and_release_pins():
    text = drift.freeze({"torch": "2.13.0+cpu", "pip": "23.2.1", "ropecheck": "0.1.0", "numpy": "2.4.6"})
    assert text == drift.HEADER + "numpy==2.4.6\ntorch==2.13.0\n"
    assert drift.requirement("mlx[cpu]>=0.20; sys_platform == 'linux'") == ("mlx", ["cpu"])
    assert drift.canonical("Rotary_Embedding.Torch") == "rotary-embedding-torch"


def test_the_triton_env_installs_its_kernels_pinned_without_their_dependencies(tox):
    """triton, liger-kernel and fla-core at fixed versions and --no-deps (Liger requires torch
    and triton: a resolver could replace the CPU torch), the rest under the pins, the
    interpreter on before triton is imported, and every Triton spec that runs on CPU verified."""
    env = tox["testenv:triton-cpu"]
    assert "PIP_CONSTRAINT = {toxinidir}/constraints/ci.txt" in env["setenv"]
    assert "TRITON_INTERPRET = 1" in env["setenv"]
    install = env["commands_pre"].split()
    assert install[:4] == ["python", "-m", "pip", "install"] and "--no-deps" in install
    pinned = dict(arg.split("==") for arg in install if "==" in arg)
    assert set(pinned) == {"triton", "liger-kernel", "fla-core"}
    assert env["deps"].split() == ["torch==2.13.0", "einops"]
    verifies = [line for line in env["commands"].splitlines() if "ropecheck verify" in line]
    triton_cpu = {f"specs/{p.name}" for p in (ROOT / "specs").glob("*.toml")
                  if "triton" in (spec := tomllib.loads(p.read_text())).get("requires", []) and "cpu" in spec["devices"]}
    listed = {name for line in verifies for name in re.findall(r"specs/[\w.-]+\.toml", line)}
    assert listed == triton_cpu, "every Triton spec that runs on CPU is verified in triton-cpu"
    assert verifies and all("--device cpu" in line for line in verifies)
