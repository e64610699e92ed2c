"""``python -m ropecheck``: the same command line as ``ropecheck``."""

from ropecheck.cli import run

run()
