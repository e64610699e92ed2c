"""The ``ropecheck`` subcommands, one module each (in the manner of asv's ``commands/``).

Every module exposes the same small interface:

- ``NAME``: the subcommand (``ropecheck NAME``); ``HELP``: its line in ``ropecheck --help``;
- optionally ``DESCRIPTION`` (the text of ``ropecheck NAME --help``) and ``FORMATTER``;
- ``add_arguments(parser)``: its arguments, built from the shared groups in ``_options``;
- ``run(args) -> int``: the command; a mistake raises ``_options.UsageError``.

Importing a command module is cheap (no torch): each imports what it needs when it runs.
``ropecheck.cli`` builds the command line from ``MODULES`` in this order; the modules
below ``ropecheck.commands`` never import it (the old entry points ``ropecheck.repro``,
``ropecheck.conformance_table`` and ``ropecheck.bench.timer_check`` reach their command
only from inside their ``main``).
"""

from __future__ import annotations

import argparse
import importlib
from types import ModuleType

MODULES = ("prove", "listing", "verify", "bench", "compare", "identify", "report", "repro", "conformance_table",
           "timer_check")


def commands() -> list[ModuleType]:
    """The command modules, in the order ``ropecheck --help`` lists them."""
    return [importlib.import_module(f"{__name__}.{name}") for name in MODULES]


def add_subcommands(sub: argparse._SubParsersAction) -> None:
    """One subparser per command; ``args.run`` is the command's ``run``."""
    for command in commands():
        parser = sub.add_parser(command.NAME, help=command.HELP, description=getattr(command, "DESCRIPTION", None),
                                formatter_class=getattr(command, "FORMATTER", argparse.HelpFormatter))
        command.add_arguments(parser)
        parser.set_defaults(run=command.run)
