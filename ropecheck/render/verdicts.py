"""``verify``'s verdicts as a terminal table, the JSON of docs/contract.md §3, and a markdown
report (formerly ``ropecheck.report``, which re-exports this module)."""

from __future__ import annotations

import signal
from typing import Mapping

from ropecheck.engine import ImplementationResult
from ropecheck.render.status import BAD, WORD
from ropecheck.render.text import markdown_table, text_table

MARK = WORD  # the old name, kept for importers of ropecheck.report


def _columns(results: list[ImplementationResult]) -> list[str]:
    seen: list[str] = []
    for r in results:
        for p in r.properties:
            if p.name not in seen:
                seen.append(p.name)
    return seen


def _cell(result: ImplementationResult, prop: str) -> str:
    """One status per property; with several devices, ``cpu:passed cuda:FAILED``."""
    rows = [p for p in result.properties if p.name == prop]
    if not rows:
        return "-"
    if len({p.device for p in rows}) == 1:
        return MARK[rows[0].status]
    return " ".join(f"{p.device}:{MARK[p.status]}" for p in rows)


def verdict(result: ImplementationResult) -> str:
    """One word or two: conforms, DOES NOT CONFORM, NOT JUDGED (a bundled adapter that no
    longer fits its library), INTERRUPTED."""
    if result.interrupted:
        return "INTERRUPTED"
    if result.not_judged and not any(p.status == "failed" for p in result.properties):
        return "NOT JUDGED"
    return "conforms" if result.conforms else "DOES NOT CONFORM"


def matrix_rows(results: list[ImplementationResult]) -> tuple[list[str], list[list[str]]]:
    """(property names, one row per implementation: name, verdict, then a cell per property)."""
    columns = _columns(results)
    rows = [[r.name, verdict(r)] + [_cell(r, c) for c in columns] for r in results]
    return columns, rows


def failures(results: list[ImplementationResult]) -> list[str]:
    """A paragraph per failed or errored property: cause, counterexample, reproduce line."""
    out = []
    for r in results:
        for p in r.properties:
            if p.status in BAD:
                text = f"{r.name} · {p.name} [{p.device}] {p.status}: {p.message}"
                if p.counterexample:
                    text += f"\n    counterexample: {p.counterexample}"
                if p.reproduce:
                    text += f"\n    reproduce: {p.reproduce}"
                for n, other in enumerate(p.other_failures, 2):
                    text += f"\n    failure {n}, another cause: {other['message']}"
                    text += f"\n    counterexample: {other['counterexample']}"
                    text += f"\n    reproduce: {other['reproduce']}"
                out.append(text)
    return out


def text_report(results: list[ImplementationResult], summary: str | None = None) -> str:
    """Implementation × property table (properties as rows, so it fits a terminal), then the
    skips, the failures and ``summary`` (default: "N of M implementations conform")."""
    columns, rows = matrix_rows(results)
    header = ["property"] + [r[0] for r in rows]
    body = [["verdict"] + [r[1] for r in rows]]
    body += [[c] + [r[2 + i] for r in rows] for i, c in enumerate(columns)]
    parts = [text_table(header, body)]
    skipped = [f"{r.name}: skipped: {r.skipped}" for r in results if r.skipped]
    skipped += [f"{r.name}: not judged: {r.not_judged}" for r in results if r.not_judged]
    if skipped:
        parts.append("\n".join(skipped))
    fails = failures(results)
    if fails:
        parts.append("\n\n".join(fails))
    good = sum(r.conforms for r in results)
    parts.append(summary or f"{good} of {len(results)} implementations conform")
    return "\n\n".join(parts)


def json_report(results: list[ImplementationResult], complete: bool = True, interrupted: int | None = None,
                provenance: dict | None = None, libraries: Mapping[str, str] | None = None) -> dict:
    """docs/contract.md §3.3's JSON. ``complete`` is false in the copies written while the run goes
    on (each holds what finished so far); ``interrupted`` names the signal that stopped it;
    ``provenance`` (``render.machine.provenance``) and ``libraries`` (implementation name ->
    ``dist==version``) are added when given."""
    implementations = [r.to_json() for r in results]
    for entry in implementations:
        if libraries and entry["name"] in libraries:
            entry["library"] = libraries[entry["name"]]
    data = {"implementations": implementations, "complete": complete and interrupted is None}
    if interrupted is not None:
        data["interrupted"] = signal.Signals(interrupted).name
    if provenance is not None:
        data["provenance"] = provenance
    return data


def markdown_report(results: list[ImplementationResult], title: str = "ropecheck verify") -> str:
    columns, rows = matrix_rows(results)
    parts = [f"# {title}", "", markdown_table(["implementation", "verdict"] + columns, rows), ""]
    fails = failures(results)
    if fails:
        parts += ["## Failures", ""]
        for text in fails:
            head, *rest = text.split("\n")
            parts.append(f"- **{head}**")
            parts += [f"  - {line.strip()}" for line in rest]
        parts.append("")
    unjudged = [r for r in results if r.not_judged]
    if unjudged:
        parts += ["## Not judged", ""] + [f"- {r.name}: {r.not_judged}" for r in unjudged] + [""]
    skipped = [r for r in results if r.skipped]
    if skipped:
        parts += ["## Skipped", ""] + [f"- {r.name}: {r.skipped}" for r in skipped] + [""]
    return "\n".join(parts)
