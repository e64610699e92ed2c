"""`ropecheck verify` as it runs: a line per property on stderr (verdict, examples, time), none
with -q, the cause at once with -v, colour on a terminal only and never with NO_COLOR, the
closing summary on stdout, and each property's examples and duration in the JSON."""

import json
import os
import pty
import subprocess
import sys

import pytest

from harness import TESTS

pytestmark = pytest.mark.slow

PICK = ["--property", "oracle_agreement", "--property", "norm_preservation"]


def spec(tmp_path, fn):
    (tmp_path / "mutants.py").write_text((TESTS / "mutants.py").read_text())
    path = tmp_path / f"{fn}.toml"
    path.write_text(f'name = "{fn}"\ncallable = "mutants:{fn}"\npairing = "half_split"\nbase = "any"\n'
                    'dtypes = ["float32"]\ndevices = ["cpu"]\n')
    return path


def verify(*args, cwd, **env):
    return subprocess.run([sys.executable, "-m", "ropecheck", "verify", *args], cwd=cwd, capture_output=True,
                          text=True, timeout=600, env={**os.environ, **env})


def test_a_line_per_property_then_the_summary_and_durations_in_the_json(tmp_path):
    proc = verify(str(spec(tmp_path, "wrong_direction")), *PICK, "--json", "out.json", cwd=tmp_path)
    assert proc.returncode == 1, proc.stderr
    lines = [line for line in proc.stderr.splitlines() if " · " in line]
    assert sorted(line.split(" · ")[1].split(" [")[0] for line in lines) == ["norm_preservation", "oracle_agreement"]
    assert any("oracle_agreement [cpu] FAILED" in line and " examples  " in line and line.endswith(" s")
               for line in lines), proc.stderr
    assert "\033" not in proc.stderr  # not a terminal
    assert proc.stdout.rstrip().splitlines()[-1].startswith(
        "0 of 1 implementations conform (1 passed, 1 failed) in "), proc.stdout
    data = json.loads((tmp_path / "out.json").read_text())
    rows = data["implementations"][0]["properties"]
    assert all(row["examples"] > 0 and row["duration"] > 0 for row in rows), rows
    assert data["implementations"][0]["library"] == "mutants (local)"  # tmp_path is no git checkout
    about = data["provenance"]
    assert (about["profile"], about["seed"], list(about["devices"])) == ("ci", "derandomized", ["cpu"])
    assert about["torch"].startswith("2.") and about["hypothesis"] and about["ropecheck"]


def test_quiet_prints_no_progress_and_verbose_the_cause_at_once(tmp_path):
    path = str(spec(tmp_path, "wrong_direction"))
    quiet = verify(path, *PICK, "-q", cwd=tmp_path)
    assert quiet.returncode == 1 and " · " not in quiet.stderr, quiet.stderr
    loud = verify(path, "--property", "oracle_agreement", "-v", cwd=tmp_path)
    assert loud.returncode == 1
    progress = loud.stderr.splitlines()
    at = next(i for i, line in enumerate(progress) if "oracle_agreement [cpu] FAILED" in line)
    assert "rotates the wrong way" in progress[at + 1] and progress[at + 2].startswith("      reproduce: ")
    assert "python -m ropecheck.repro" in progress[at + 2]
    both = verify(path, "-q", "-v", cwd=tmp_path)
    assert both.returncode == 2 and "not allowed with argument" in both.stderr


@pytest.mark.parametrize("no_color", [None, "1"])
def test_colour_on_a_terminal_unless_no_color(tmp_path, no_color):
    path = str(spec(tmp_path, "correct_hf"))
    leader, follower = pty.openpty()
    env = {**os.environ, "TERM": "xterm"}
    env.pop("NO_COLOR", None)
    if no_color:
        env["NO_COLOR"] = no_color
    proc = subprocess.Popen([sys.executable, "-m", "ropecheck", "verify", path, "--property", "oracle_agreement"],
                            cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=follower, env=env)
    os.close(follower)
    seen = b""
    while True:
        try:
            chunk = os.read(leader, 4096)
        except OSError:  # the terminal's other end closed: the command has ended
            break
        if not chunk:
            break
        seen += chunk
    os.close(leader)
    assert proc.wait(timeout=600) == 0, seen
    text = seen.decode()
    assert "oracle_agreement [cpu]" in text
    assert ("\033[32mpassed\033[0m" in text) is (no_color is None), text


def test_junitxml_and_github_annotations_from_a_real_run(tmp_path):
    import xml.etree.ElementTree as ET

    path = spec(tmp_path, "off_by_one")
    summary = tmp_path / "step_summary.md"  # what GitHub gives as $GITHUB_STEP_SUMMARY
    proc = verify(path.name, *PICK, "--junitxml", "out/junit.xml", "--markdown", str(summary), cwd=tmp_path,
                  GITHUB_ACTIONS="true", GITHUB_STEP_SUMMARY=str(summary))
    assert proc.returncode == 1, proc.stderr
    page = summary.read_text()
    assert page.startswith("# ropecheck verify") and "| off_by_one | DOES NOT CONFORM |" in page, page
    assert "## Failures" in page and "positions off by +1" in page and "reproduce: " in page
    cases = ET.parse(tmp_path / "out" / "junit.xml").getroot().findall("testsuite/testcase")
    assert sorted((c.get("classname"), c.get("name")) for c in cases) == [
        ("ropecheck.off_by_one", "norm_preservation[cpu]"), ("ropecheck.off_by_one", "oracle_agreement[cpu]")]
    assert all(float(c.get("time")) > 0 for c in cases)
    failed = [c for c in cases if c.find("failure") is not None]
    assert [c.get("name") for c in failed] == ["oracle_agreement[cpu]"]
    assert "positions off by +1" in failed[0].find("failure").get("message")
    annotations = [line for line in proc.stdout.splitlines() if line.startswith("::error ")]
    assert len(annotations) == 1 and annotations[0].startswith(
        "::error file=off_by_one.toml,title=ropecheck%3A off_by_one oracle_agreement [cpu] failed::"), proc.stdout
    quiet = verify(path.name, "--property", "norm_preservation", cwd=tmp_path, GITHUB_ACTIONS="true")
    assert quiet.returncode == 0 and "::error" not in quiet.stdout
