"""``verify``'s live progress on stderr: a line per property as it finishes, and the closing
summary; colour only on a terminal, never with ``NO_COLOR`` (https://no-color.org).

    mine · oracle_agreement [cpu] passed    100 examples  1.42 s
    mine · gradients [cpu] FAILED           12 examples  0.80 s
      disagrees with ...            (-v: the cause and the reproduce line at once)
"""

from __future__ import annotations

import os
from typing import Mapping, TextIO

from ropecheck.render.status import BAD, ORDER, word
from ropecheck.render.text import printable

SGR = {"passed": "32", "failed": "1;31", "skipped": "33", "error": "1;35"}
"""status -> the ANSI colour of its word (green, bold red, yellow, bold magenta)."""

QUIET, NORMAL, VERBOSE = 0, 1, 2
"""How much ``verify`` prints while it runs: nothing but the result (``-q``), a line per
property (default), and with ``-v`` each failure's cause and reproduce line as it comes."""


def colour_wanted(stream: TextIO, environ: Mapping[str, str] = os.environ) -> bool:
    """Colour when ``stream`` is a terminal, unless ``NO_COLOR`` is set to anything but the
    empty string or ``TERM`` is ``dumb``."""
    if environ.get("NO_COLOR") or environ.get("TERM") == "dumb":
        return False
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError):  # no isatty, or a closed stream
        return False


def paint(status: str, text: str, colour: bool) -> str:
    """``text`` in ``status``'s colour when ``colour``; as it is otherwise."""
    code = SGR.get(status)
    return f"\033[{code}m{text}\033[0m" if colour and code else text


def property_line(implementation: str, row, colour: bool = False, verbosity: int = NORMAL) -> str:
    """The progress line of one finished property ``row`` (a ``runner.PropertyResult``);
    with ``VERBOSE`` a failure also carries its cause and reproduce line. What the spec or
    the implementation wrote is shown ``printable``; only the status word is coloured."""
    head = printable(f"  {implementation} · {row.name} [{row.device}] ")
    status = paint(row.status, word(row.status), colour) + " " * max(0, 7 - len(word(row.status)))
    facts = []
    if row.status != "skipped" or row.examples:
        facts.append(f"{row.examples} example{'s' if row.examples != 1 else ''}")
    if row.duration:
        facts.append(f"{row.duration:.2f} s")
    line = head + status + ("  " + "  ".join(facts) if facts else "")
    if row.status == "skipped" and row.message:
        line += printable(f"  ({row.message})")
    if verbosity >= VERBOSE and row.status in BAD:
        line += printable(f"\n      {row.message}")
        if row.reproduce:
            line += printable(f"\n      reproduce: {row.reproduce}")
    return line


def summary_line(results, seconds: float, colour: bool = False) -> str:
    """The closing line: how many implementations conform, the properties by status, the time.
    ``results``: ``engine.ImplementationResult`` objects."""
    good = sum(r.conforms for r in results)
    counts = {status: 0 for status in ORDER}
    for r in results:
        for p in r.properties:
            counts[p.status] = counts.get(p.status, 0) + 1
    shown = ", ".join(paint(status, f"{n} {status}", colour and n > 0) for status, n in counts.items()
                      if n or status in ("passed", "failed"))
    return f"{good} of {len(results)} implementations conform ({shown}) in {seconds:.1f} s"
