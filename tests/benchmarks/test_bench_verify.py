"""How long `ropecheck verify` of one implementation takes with the ci profile.

A benchmark, not a timed test: it records the figure (README, "Speed") and asserts only
that the run conformed. Run with ``tox -e bench-verify``.
"""

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _verify_once() -> int:
    return subprocess.run([sys.executable, "-m", "ropecheck.cli", "verify", "specs/half-split.toml", "--device", "cpu"],
                          cwd=ROOT, capture_output=True).returncode


def test_verify_one_implementation_ci_profile(benchmark):
    code = benchmark.pedantic(_verify_once, rounds=3, iterations=1)
    assert code == 0
