"""against.py on a throwaway git repository whose two commits each have a per_example.py that
prints a fixed figure: the runs alternate the two sides, the ratio is earlier / this, the
CSV rows carry both commits, and the temporary worktree is gone afterwards, also when the
earlier side fails."""

import csv
import io
import shutil
import subprocess
import textwrap

import pytest

import against

pytestmark = pytest.mark.skipif(shutil.which("git") is None, reason="git is not installed")

FAKE = textwrap.dedent("""\
    import json, sys
    if {fail}:
        sys.exit("per_example broke")
    print("# a header line")
    print(json.dumps({{"own_ms_per_example": {ms}, "examples": 525, "total_s": 1.0, "implementation_s": 0.1}}))
""")


def _git(repo, *args):
    return subprocess.run(["git", "-c", "user.name=t", "-c", "user.email=t@example.com", *args], cwd=repo,
                          check=True, capture_output=True, text=True).stdout.strip()


def _commit(repo, ms, fail=False):
    script = repo / against.SCRIPT
    script.parent.mkdir(parents=True, exist_ok=True)
    script.write_text(FAKE.format(ms=ms, fail=fail))
    _git(repo, "add", "-A")
    _git(repo, "commit", "-q", "-m", f"{ms} ms")
    return _git(repo, "rev-parse", "--short", "HEAD")


@pytest.fixture
def repo(tmp_path):
    _git(tmp_path, "init", "-q")
    return tmp_path


def _worktrees(repo):
    return [line for line in _git(repo, "worktree", "list", "--porcelain").splitlines() if line.startswith("worktree ")]


def test_paired_runs_ratio_rows_and_no_worktree_left(repo, tmp_path_factory):
    earlier = _commit(repo, 12.0)
    this = _commit(repo, 4.0)
    out = io.StringIO()
    runs = against.measure(repo, earlier, 2, "half-split", ["per-example"], out=out)
    assert [(r["round"], r["side"], r["value"]) for r in runs] == [
        (1, earlier, 12.0), (1, this, 4.0), (2, earlier, 12.0), (2, this, 4.0)]
    assert against.paired_ratios(runs, "per-example", earlier, this) == [3.0, 3.0]
    assert f"per-example: {earlier} / {this} per round 3.00, 3.00; median 3.00" in out.getvalue()
    assert len(_worktrees(repo)) == 1, "the earlier commit's worktree was left behind"

    # the command itself appends the same runs to a CSV with the results file's columns
    table = tmp_path_factory.mktemp("csv") / "speed.csv"
    table.write_text(",".join(against.COLUMNS) + "\n")
    assert against.main([earlier, "--rounds", "2", "--repo", str(repo), "--csv", str(table)]) == 0
    with open(table) as f:
        read = list(csv.DictReader(f))
    assert [(r["commit"], r["value"], r["unit"]) for r in read] == [
        (earlier, "12.0", "ms"), (this, "4.0", "ms"), (earlier, "12.0", "ms"), (this, "4.0", "ms")]
    assert read[0]["figure"] == "own CPU per example half-split ci (fresh process)"
    assert f"round 1 of 2, run in turn with {this}" in read[0]["how"]


def test_uncommitted_changes_are_named_in_the_commit(repo):
    _commit(repo, 12.0)
    (repo / against.SCRIPT).write_text(FAKE.format(ms=6.0, fail=False))
    assert against.describe(repo).endswith("+changes")


def test_a_failing_earlier_side_says_why_and_leaves_no_worktree(repo):
    earlier = _commit(repo, 12.0, fail=True)
    _commit(repo, 4.0)
    with pytest.raises(RuntimeError, match="per_example broke"):
        against.measure(repo, earlier, 1, "half-split", ["per-example"], out=io.StringIO())
    assert len(_worktrees(repo)) == 1


def test_a_commit_without_the_benchmark_is_refused_by_name(repo):
    (repo / "README").write_text("no benchmark here\n")
    _git(repo, "add", "-A")
    _git(repo, "commit", "-q", "-m", "before")
    old = _git(repo, "rev-parse", "--short", "HEAD")
    _commit(repo, 4.0)
    with pytest.raises(SystemExit, match=f"commit {old} .* has no tests/benchmarks/per_example.py"):
        against.measure(repo, old, 1, "half-split", ["per-example"], out=io.StringIO())
    assert len(_worktrees(repo)) == 1


def test_an_unknown_commit_is_a_clear_error_with_exit_2(repo, capsys):
    _commit(repo, 4.0)
    assert against.main(["no-such-commit", "--rounds", "1", "--repo", str(repo)]) == 2
    err = capsys.readouterr().err
    assert "git worktree add" in err and "no-such-commit" in err, err
    assert len(_worktrees(repo)) == 1


def test_five_times_one_command_of_the_five_builtins_on_each_side(repo, tmp_path_factory):
    """--five runs `python -m ropecheck verify` with the five built-ins, each side's own
    ropecheck (a fake here that logs its arguments), and labels the rows as the CSV does."""
    log = tmp_path_factory.mktemp("log") / "argv.txt"
    main = repo / "ropecheck" / "__main__.py"
    main.parent.mkdir()
    (main.parent / "__init__.py").write_text("")
    main.write_text(f"import os, sys\nwith open({str(log)!r}, 'a') as f:\n"
                    f"    f.write(os.path.dirname(os.path.dirname(__file__)) + ' ' + ' '.join(sys.argv[1:]) + '\\n')\n")
    old = _commit(repo, 12.0)
    _commit(repo, 4.0)
    table = tmp_path_factory.mktemp("out") / "speed.csv"
    assert against.main([old, "--rounds", "1", "--five", "--no-per-example", "--repo", str(repo), "--csv", str(table)]) == 0
    calls = log.read_text().splitlines()
    assert [c.split(" ", 1)[1] for c in calls] == [" ".join(("verify", *against.FIVE, "--device", "cpu"))] * 2, calls
    assert calls[0].split(" ")[0] != calls[1].split(" ")[0] == str(repo), "each side should run its own ropecheck"
    with open(table, newline="") as f:
        got = list(csv.DictReader(f, against.COLUMNS))
    assert [r["figure"] for r in got] == ["verify five built-ins ci one command (wall)"] * 2, got
    assert [r["commit"] for r in got] == [old, _git(repo, "rev-parse", "--short", "HEAD")], got
    assert len(_worktrees(repo)) == 1
