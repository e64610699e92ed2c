"""Plain-text and markdown tables for the terminal and for reports, ``printable`` (what may
reach a terminal) and ``markdown_cell``, the one escaping of text put in a markdown table.
Imports nothing of ropecheck."""

from __future__ import annotations

from typing import Sequence


def printable(text: str) -> str:
    """``text`` with control characters (terminal escape codes) shown escaped, so nothing
    a spec or an implementation wrote can clear or recolour the user's terminal."""
    return "".join(ch if ch.isprintable() or ch == "\n" else ascii(ch)[1:-1] for ch in text)


def literal_label(text: object) -> str:
    """``text`` as matplotlib shows it literally: ``$`` escaped, so a name such as
    ``my$rope$`` is not parsed as mathtext (which would fail, or draw something else)."""
    return printable(str(text)).replace("$", r"\$")


def markdown_cell(value: object) -> str:
    """``value`` as one markdown table cell: backslashes doubled and pipes escaped (so neither
    ends the cell), line breaks as spaces (a row is one line), control characters shown
    escaped (``printable``). Backticks are kept: GitHub reads an escaped pipe as a pipe
    inside a code span too, so they cannot break the row."""
    text = str(value).replace("\\", "\\\\").replace("\r", " ").replace("\n", " ")
    return printable(text).replace("|", "\\|")


def text_table(header: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    """Left-aligned columns separated by two spaces, with a rule under the header."""
    cells = [[printable(str(c)) for c in header]] + [[printable(str(c)) for c in row] for row in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(header))]
    lines = ["  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip() for r in cells]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def markdown_table(header: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    """A GitHub-flavoured markdown table, every cell escaped by ``markdown_cell``."""
    out = ["| " + " | ".join(markdown_cell(h) for h in header) + " |", "|" + "---|" * len(header)]
    out += ["| " + " | ".join(markdown_cell(c) for c in row) + " |" for row in rows]
    return "\n".join(out)
