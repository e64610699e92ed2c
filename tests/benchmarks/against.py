"""This checkout's speed against an earlier commit's, measured in turn on the same machine.

On a shared VM one figure is only comparable with figures of the same half hour: the
machine's speed moves by up to 2x over a day (docs/benchmarks.md). So a speed-up is measured
here as a ratio of paired runs: the earlier commit (checked out into a temporary git
worktree, removed afterwards) and this checkout, one after the other, ``--rounds`` times.
Each side measures itself with its own code:

- ``per-example``: ropecheck's own CPU per example (its ``tests/benchmarks/per_example.py``,
  one fresh process per run, one torch thread);
- ``verify`` (with ``--verify``): the wall time of the whole ``python -m ropecheck verify
  NAME --device cpu``, as a user runs it (each side's default threads and jobs);
- ``five`` (with ``--five``): the same for the five built-ins in one command (the README's
  first example).

The report gives every run (time, load average, figure) and, per figure, the ratio earlier /
this of each pair with their median; ``--csv FILE`` appends the runs as rows in the columns of
``results/verify-speed.csv``. The earlier commit must have ``tests/benchmarks/per_example.py``
(2145c37, the commit before issue 13's changes, is the first)::

    python tests/benchmarks/against.py 2145c37 --rounds 5 --verify --csv results/verify-speed.csv
"""

from __future__ import annotations

import argparse
import csv
import datetime
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = Path("tests") / "benchmarks" / "per_example.py"
COLUMNS = ["figure", "commit", "date_utc", "value", "unit", "target", "machine", "load", "how"]
FIGURES = {
    "per-example": ("own CPU per example {name} ci (fresh process)", "ms", "<=4"),
    "verify": ("verify {name} ci whole command (wall)", "s", "<=4"),
    "five": ("verify five built-ins ci one command (wall)", "s", "<=2.5x one"),
}
FIVE = ("dense-matrix", "sparse-elementwise", "complex-polar", "interleaved", "half-split")
"""The five built-ins, as the README's first example and test_bench_verify.py name them."""


def git(repo: Path, *args: str) -> str:
    done = subprocess.run(["git", *args], cwd=repo, capture_output=True, text=True)
    if done.returncode != 0:
        raise RuntimeError(f"git {' '.join(args)} (in {repo}) exited {done.returncode}: {done.stderr.strip()}")
    return done.stdout.strip()


def describe(repo: Path) -> str:
    """The short hash of HEAD, with ``+changes`` when tracked files differ from it."""
    head = git(repo, "rev-parse", "--short", "HEAD")
    return head + ("+changes" if git(repo, "status", "--porcelain", "--untracked-files=no") else "")


def _env(tree: Path) -> dict:
    return {**os.environ, "PYTHONPATH": str(tree), "OMP_NUM_THREADS": "1"}


def per_example(tree: Path, name: str) -> tuple[float, str]:
    """One fresh-process run of ``tree``'s per_example.py: (ms per example, its summary)."""
    done = subprocess.run([sys.executable, str(tree / SCRIPT), name], cwd=tree, env=_env(tree),
                          capture_output=True, text=True)
    lines = [line for line in done.stdout.splitlines() if line.startswith("{")]
    if done.returncode != 0 or not lines:
        raise RuntimeError(f"{tree / SCRIPT} {name} exited {done.returncode}: {done.stderr.strip()[-2000:]}")
    figures = json.loads(lines[-1])
    return float(figures["own_ms_per_example"]), (f"{figures['examples']} examples, total {figures['total_s']} s, "
                                                  f"implementation {figures['implementation_s']} s")


def verify(tree: Path, *names: str) -> tuple[float, str]:
    """The wall time of ``python -m ropecheck verify NAME... --device cpu`` in ``tree``."""
    env = {k: v for k, v in os.environ.items() if k != "OMP_NUM_THREADS"}  # as a user runs it
    env["PYTHONPATH"] = str(tree)
    start = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "ropecheck", "verify", *names, "--device", "cpu"], cwd=tree,
                          env=env, capture_output=True, text=True)
    wall = time.perf_counter() - start
    if done.returncode != 0:
        raise RuntimeError(f"verify {' '.join(names)} in {tree} exited {done.returncode}: {done.stdout.strip()[-2000:]}")
    return wall, "exit 0"


def verify_five(tree: Path, name: str) -> tuple[float, str]:
    """``verify`` of the five built-ins in one command (``name`` is not used)."""
    return verify(tree, *FIVE)


MEASURES = {"per-example": per_example, "verify": verify, "five": verify_five}


def paired_ratios(runs: list[dict], figure: str, earlier: str, this: str) -> list[float]:
    """earlier / this for each round that has both sides of ``figure``, in round order."""
    by_round: dict[int, dict[str, float]] = {}
    for run in runs:
        if run["figure"] == figure:
            by_round.setdefault(run["round"], {})[run["side"]] = run["value"]
    return [pair[earlier] / pair[this] for _, pair in sorted(by_round.items()) if earlier in pair and this in pair]


def measure(repo: Path, commit: str, rounds: int, name: str, figures: list[str], out=sys.stdout) -> list[dict]:
    """The runs, earlier commit first in each round; the worktree is removed whatever happens."""
    this = describe(repo)
    folder = Path(tempfile.mkdtemp(prefix="ropecheck-against-"))
    tree = folder / "earlier"
    try:
        git(repo, "worktree", "add", "--detach", str(tree), commit)
        earlier = git(tree, "rev-parse", "--short", "HEAD")
        if not (tree / SCRIPT).is_file():
            raise SystemExit(f"against.py: commit {commit} ({earlier}) has no {SCRIPT}: pick a later one")
        runs = []
        for r in range(1, rounds + 1):
            for side, where in ((earlier, tree), (this, repo)):
                for figure in figures:
                    load = f"{os.getloadavg()[0]:.2f}" if hasattr(os, "getloadavg") else ""
                    date = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M")
                    value, note = MEASURES[figure](where, name)
                    runs.append({"round": r, "side": side, "figure": figure, "value": value, "date": date,
                                 "load": load, "note": note})
                    print(f"round {r} {side:>16} {figure:<11} {value:9.4f}  {date} load {load}  {note}", file=out,
                          flush=True)
        for figure in figures:
            ratios = paired_ratios(runs, figure, earlier, this)
            print(f"{figure}: {earlier} / {this} per round {', '.join(f'{x:.2f}' for x in ratios)}; "
                  f"median {statistics.median(ratios):.2f}", file=out)
        return runs
    finally:
        if tree.exists():
            subprocess.run(["git", "worktree", "remove", "--force", str(tree)], cwd=repo, capture_output=True)
        subprocess.run(["git", "worktree", "prune"], cwd=repo, capture_output=True)
        shutil.rmtree(folder, ignore_errors=True)


def rows(runs: list[dict], name: str, commit_arg: str, rounds: int, machine: str) -> list[dict]:
    """The runs as rows of results/verify-speed.csv."""
    sides = list(dict.fromkeys(run["side"] for run in runs))
    found = []
    for run in runs:
        label, unit, target = FIGURES[run["figure"]]
        other = [s for s in sides if s != run["side"]]
        found.append({
            "figure": label.format(name=name), "commit": run["side"], "date_utc": run["date"],
            "value": round(run["value"], 4), "unit": unit, "target": target, "machine": machine, "load": run["load"],
            "how": (f"tests/benchmarks/against.py {commit_arg} --rounds {rounds}: round {run['round']} of {rounds}, "
                    f"run in turn with {', '.join(other)}; {run['note']}"),
        })
    return found


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("commit", help="the earlier commit (a hash, tag or branch)")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--name", default="half-split", help="the built-in implementation (default half-split)")
    parser.add_argument("--verify", action="store_true", help="also time the whole `ropecheck verify NAME`")
    parser.add_argument("--five", action="store_true", help="also time `ropecheck verify` of the five built-ins")
    parser.add_argument("--no-per-example", action="store_true", help="leave the per-example figure out")
    parser.add_argument("--csv", type=Path, help="append the runs to this CSV (results/verify-speed.csv's columns)")
    parser.add_argument("--machine", default="2-core x86_64 VM torch 2.13.0+cpu", help="the CSV's machine column")
    parser.add_argument("--repo", type=Path, default=ROOT, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.rounds < 1:
        parser.error(f"--rounds must be at least 1, not {args.rounds}")
    figures = (([] if args.no_per_example else ["per-example"]) + (["verify"] if args.verify else [])
               + (["five"] if args.five else []))
    if not figures:
        parser.error("nothing to measure: --no-per-example without --verify or --five")
    try:
        runs = measure(args.repo, args.commit, args.rounds, args.name, figures)
    except RuntimeError as exc:
        print(f"against.py: {exc}", file=sys.stderr)
        return 2
    if args.csv:
        with open(args.csv, "a", newline="") as f:
            csv.DictWriter(f, COLUMNS).writerows(rows(runs, args.name, args.commit, args.rounds, args.machine))
    return 0


if __name__ == "__main__":
    sys.exit(main())
