"""The ``ropecheck`` command line (CONTRACT §3). Exit codes: 0 success, 1 a check failed,
2 a usage error (one message naming the file and key)."""

from __future__ import annotations

import argparse
import sys
from typing import Sequence

EXIT_OK, EXIT_FAIL, EXIT_USAGE = 0, 1, 2


class UsageError(Exception):
    """A mistake in what the user asked for: printed as one line, exit code 2."""


def _cmd_prove(args: argparse.Namespace) -> int:
    from ropecheck import proofs
    from ropecheck.storage import atomic_write_json
    from ropecheck.table import text_table

    results = proofs.prove_all()
    rows = [(r.name, r.status, _clip(r.statement, 60), _clip(r.method.split("; ", 1)[-1], 70)) for r in results]
    print(text_table(("proof", "status", "statement", "method (full text in --json)"), rows))
    print("\ndecision procedure: each entry of lhs - rhs: exp(I t) -> cos t + I sin t, expand_trig, "
          "cos/sin -> c, s, remainder modulo c^2 + s^2 - 1 must be exactly 0")
    proved = sum(r.status == "proved" for r in results)
    print(f"\n{proved} of {len(results)} identities proved")
    for r in results:
        if r.status != "proved":
            print(f"  {r.name}: {r.status}: {r.detail}")
    if args.json:
        atomic_write_json(args.json, {
            "all_proved": proved == len(results),
            "proofs": [dict(name=r.name, statement=r.statement, method=r.method,
                            status=r.status, detail=r.detail) for r in results],
        })
    return EXIT_OK if proved == len(results) else EXIT_FAIL


def _clip(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="ropecheck", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)

    prove = sub.add_parser("prove", help="prove every symbolic identity with SymPy")
    prove.add_argument("--json", metavar="F", help="also write the results as JSON to F")
    prove.set_defaults(run=_cmd_prove)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # argparse exits 2 on bad arguments, 0 on --help
        return int(exc.code or 0)
    try:
        return args.run(args)
    except UsageError as exc:
        print(f"ropecheck: error: {exc}", file=sys.stderr)
        return EXIT_USAGE


if __name__ == "__main__":
    sys.exit(main())
