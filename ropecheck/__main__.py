"""``python -m ropecheck``: the same command line as ``ropecheck``."""

import os
import sys

import ropecheck

if not hasattr(ropecheck, "__version__"):
    # `python -m` puts the current directory first on sys.path: a folder named ropecheck there
    # (an empty one is a namespace package, which an editable install's finder does not beat)
    # is imported instead of the installed package; say so instead of an ImportError traceback
    sys.stderr.write(f"ropecheck: error: the folder {os.path.abspath('ropecheck')} shadows the installed ropecheck "
                     "package (python -m puts the current directory first on sys.path): run from another directory, "
                     "rename that folder, or use the `ropecheck` command\n")
    sys.exit(2)

from ropecheck.cli import run  # noqa: E402 - after the check above

run()
