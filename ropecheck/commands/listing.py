"""``ropecheck list``: every known implementation (built-in, entry points, specs/)."""

from __future__ import annotations

import argparse

from ropecheck.commands._options import EXIT_OK, add_specs_folder

NAME = "list"
HELP = "every known implementation: built-in, entry points, specs/"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_specs_folder(parser, help="folder of spec files (default: ./specs)")


def run(args: argparse.Namespace) -> int:
    from ropecheck import registry
    from ropecheck.render.text import text_table

    items = registry.known(args.specs)
    hidden = registry.shadowed(items)
    rows = []
    for i, item in enumerate(items):
        note = f"; shadowed: the name means the {hidden[i].source} one" if i in hidden else ""
        if item.spec is None:
            rows.append((item.name, item.source, "-", "-", "-", f"invalid: {item.error}{note}"))
        else:
            s = item.spec
            rows.append((s.name, item.source, s.pairing, s.base, ",".join(s.devices), f"{s.origin}{note}"))
    print(text_table(("name", "source", "pairing", "base", "devices", "origin"), rows))
    return EXIT_OK
