"""The ``ropecheck`` command line (docs/contract.md §3). Exit codes: 0 success, 1 a check failed,
2 a usage error (one message naming the file and key)."""

from __future__ import annotations

import argparse
import atexit
import os
import signal
import sys
from typing import Sequence

from ropecheck.commands._options import EXIT_FAIL, EXIT_OK, EXIT_USAGE, Stopped, Terminated, UsageError, outcome

__all__ = ["EXIT_FAIL", "EXIT_OK", "EXIT_USAGE", "Stopped", "Terminated", "UsageError", "build_parser", "main", "run"]


def build_parser() -> argparse.ArgumentParser:
    """``ropecheck`` and its subcommands (``ropecheck.commands``, in their fixed order)."""
    from ropecheck import __version__
    from ropecheck.commands import add_subcommands

    parser = argparse.ArgumentParser(prog="ropecheck", description=__doc__)
    parser.add_argument("--version", action="version", version=f"ropecheck {__version__}")
    add_subcommands(parser.add_subparsers(dest="command", required=True))
    return parser


def _raise_terminated(signum: int, _frame) -> None:
    raise Terminated(signum)


def run() -> None:
    """The ``ropecheck`` command (console script and ``python -m ropecheck``): ``main`` and
    then the end of the process. Exit handlers run and the streams are flushed, and then
    the process ends without the interpreter's teardown of torch's modules (about half a
    second per command on a 2-core machine, for nothing: this process ran no user code
    and holds nothing else that must be released)."""
    code = main()
    atexit._run_exitfuncs()
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):  # a closed pipe: nothing more can reach it
            pass
    os._exit(code & 0xFF)


def main(argv: Sequence[str] | None = None) -> int:
    from ropecheck import isolation

    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # argparse exits 2 on bad arguments, 0 on --help / --version
        return int(exc.code or 0)
    isolation.own_process()
    previous = {s: signal.signal(s, _raise_terminated) for s in (signal.SIGTERM, signal.SIGHUP)}
    try:
        return outcome(args.run, args)  # usage errors: one line, 2; signals: one line, 128 + N
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)
        isolation.reap_orphans()


if __name__ == "__main__":
    sys.exit(main())
