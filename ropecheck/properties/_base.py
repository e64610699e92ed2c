"""The records of the catalogue and how a property joins it.

A property is one check function in a module of its own (or of its small family),
registered there with ``@register(...)``: the decorator makes the ``Property`` record
(named after the function) and appends it to the catalogue, which
``ropecheck.properties`` exposes as ``PROPERTIES`` in the order its modules are imported.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from hypothesis import strategies as st

from ropecheck import profiles
from ropecheck.spec import Spec
from ropecheck.strategies import RopeCase


class PropertyFailed(AssertionError):
    """A property does not hold for one case.

    Attributes: cause (a sentence), detail (the worst error against the allowed one and
    where), case (the RopeCase), ratio (err/allowed, inf where not numeric).
    """

    def __init__(self, cause: str, case: RopeCase, detail: str = "", ratio: float = float("inf"),
                 explain: Callable[[], str] | None = None):
        self.cause, self.case, self.detail, self.ratio = cause, case, detail, ratio
        self.explain = explain  # computed once, for the final (shrunk) failure only
        super().__init__(f"{cause}" + (f"; {detail}" if detail else ""))

    def full_cause(self) -> str:
        """The cause with its diagnosis (``cause: why``) when one was attached."""
        return f"{self.cause}: {self.explain()}" if self.explain else self.cause


class NotJudged(Exception):
    """A bundled adapter no longer fits the installed library: ropecheck's failure (status
    ``error``), never a verdict on the library."""


@dataclass(frozen=True)
class Subject:
    """The implementation under test on one device."""

    fn: Callable
    spec: Spec
    device: str


Check = Callable[["Subject", RopeCase], "float | None"]


@dataclass(frozen=True)
class Property:
    """One entry of the catalogue: a check (``check(subject, case)`` returns the worst
    err/allowed, or None where nothing is numeric, and raises ``PropertyFailed``), the
    strategy its cases are drawn from, and when and how often it runs. Made by
    ``register``, not by hand."""

    name: str
    description: str
    strategy: Callable[[Spec], st.SearchStrategy]
    check: Check  # err/allowed, or None
    applies: Callable[[Spec], str | None] = lambda spec: None
    weight: int = 1  # examples = weight * the profile's max_examples
    # fixed cases checked on every run, whatever the seed, when the search finds nothing
    examples: Callable[[Spec], list[RopeCase]] = lambda spec: []
    # fixed cases at serving sizes, checked after ``examples`` with the profiles of
    # ``profiles.SERVING_SIZES`` only (seconds each)
    serving: Callable[[Spec], list[RopeCase]] = lambda spec: []
    # after a failure: narrow a many-token counterexample to one token that fails alone, and
    # search again for failures with another cause (each reported)
    narrow: bool = False
    more_causes: bool = False

    def fixed(self, spec: Spec, profile: str | None = None) -> list[RopeCase]:
        """The fixed cases of a run with ``profile``: ``examples``, and ``serving`` when the
        profile is one of ``profiles.SERVING_SIZES``."""
        return self.examples(spec) + (self.serving(spec) if profile in profiles.SERVING_SIZES else [])


_CATALOGUE: list[Property] = []


def register(description: str, strategy: Callable[[Spec], st.SearchStrategy],
             applies: Callable[[Spec], str | None] | None = None, **options) -> Callable[[Check], Check]:
    """Decorator: add the decorated check to the catalogue as a property named after it.

    ``strategy(spec)`` draws its cases; ``applies(spec)`` says why it does not apply (None:
    it does); ``options`` are the other fields of ``Property`` (weight, examples, serving,
    narrow, more_causes). The check is returned unchanged. A name registered twice is an
    error (a module imported under two names).
    """

    def add(check: Check) -> Check:
        name = check.__name__
        if any(p.name == name for p in _CATALOGUE):
            raise ValueError(f"property {name!r} is registered twice")
        given = {} if applies is None else {"applies": applies}
        _CATALOGUE.append(Property(name, description, strategy, check, **given, **options))
        return check

    return add


def catalogue() -> tuple[Property, ...]:
    """Every registered property, in registration order."""
    return tuple(_CATALOGUE)
