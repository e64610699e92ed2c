"""``python -m ropecheck``: the same command line as ``ropecheck``."""

import sys

from ropecheck.cli import main

sys.exit(main())
