"""The status of a property's verdict and the word each is shown as, in one place.

``ropecheck.runner.STATUSES`` is the checking layer's list of statuses; this module does not
import it (that would pull Hypothesis into every renderer), and a unit test holds the two equal.
"""

from __future__ import annotations

ORDER = ("passed", "failed", "skipped", "error")
"""Every status, in the order tables and JSON list them."""

WORD = {"passed": "passed", "failed": "FAILED", "skipped": "skipped", "error": "ERROR"}
"""status -> the word shown: a status that needs attention in capitals."""

BAD = ("failed", "error")
"""The statuses reported with cause, counterexample and reproduce line."""


def word(status: object) -> str:
    """The shown word of ``status``; an unknown status (a hand-edited table) as it is."""
    return WORD.get(str(status), str(status))


def is_word(text: str) -> bool:
    """Whether ``text`` is one of the shown words (the HTML report colours those cells)."""
    return text in WORD.values()
