"""``ropecheck prove``: every symbolic identity proved with SymPy."""

from __future__ import annotations

import argparse

from ropecheck.commands._options import EXIT_FAIL, EXIT_OK, add_json

NAME = "prove"
HELP = "prove every symbolic identity with SymPy"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_json(parser, help="also write the results as JSON to F")


def run(args: argparse.Namespace) -> int:
    from ropecheck import proofs, rope_types
    from ropecheck.render.text import text_table
    from ropecheck.storage import atomic_write_json

    # the catalogue, then the laws rope_type records carry themselves
    results = proofs.prove_all(proofs.PROOFS + proofs.proofs_of(rope_types.TYPES.values()))
    rows = [(r.name, r.status, _clip(r.statement, 60), _clip(r.method.split("; ", 1)[-1], 70)) for r in results]
    print(text_table(("proof", "status", "statement", "method (full text in --json)"), rows))
    print("\ndecision procedures: matrix identities: each entry of lhs - rhs: exp(I t) -> cos t + I sin t, "
          "expand_trig, cos/sin -> c, s, remainder modulo c^2 + s^2 - 1 must be exactly 0; scalar scaling laws "
          "(simplifies_to_zero): lhs - rhs must become exactly 0 under expand, powsimp, simplify or expand_log "
          "with the symbols' declared signs (never force=True)")
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
