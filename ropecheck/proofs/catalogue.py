"""Catalogued proofs: a statement, how it is proved, and the check that proves it.

A law module registers each check where it is defined::

    LAWS = Catalogue()

    @LAWS.proof(name="periodicity", statement="R(a+2π) = R(a)", method="...")
    def _periodicity() -> Verdict:
        ...

A check returns a :class:`~ropecheck.proofs.decide.Verdict` (or a plain
bool); :func:`run_proof` turns it into a :class:`ProofResult` whose detail is
the verdict's reason when the check fails.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Iterable, Iterator, TypeVar

from ropecheck.proofs.decide import Verdict

__all__ = ["Catalogue", "Proof", "ProofResult", "assemble", "run_proof"]

Check = TypeVar("Check", bound=Callable[[], "Verdict | bool"])


@dataclass(frozen=True)
class Proof:
    name: str  # short snake_case id, e.g. "relative_position_2x2"
    statement: str  # human readable, e.g. "R(a)^T R(b) = R(b - a)"
    method: str  # how it is proved
    check: Callable[[], Verdict | bool]  # holds when SymPy proves it; the reason when it cannot


@dataclass(frozen=True)
class ProofResult:
    name: str
    statement: str
    method: str
    status: str  # "proved" | "failed" | "error"
    detail: str  # "" when proved; the residual, or the exception text


class Catalogue:
    """The proofs of one law module, in the order their checks are defined."""

    def __init__(self) -> None:
        self._proofs: list[Proof] = []

    def proof(self, *, name: str, statement: str, method: str) -> Callable[[Check], Check]:
        """Decorator: catalogue the check as ``Proof(name, statement, method, check)``.

        The check itself is returned unchanged, so other checks can call it.
        """

        def register(check: Check) -> Check:
            if any(p.name == name for p in self._proofs):
                raise ValueError(f"proof {name!r} is catalogued twice")
            self._proofs.append(Proof(name, statement, method, check))
            return check

        return register

    def __iter__(self) -> Iterator[Proof]:
        return iter(self._proofs)


def assemble(order: Iterable[str], *catalogues: Catalogue) -> tuple[Proof, ...]:
    """The proofs of ``catalogues`` in the report order ``order`` (every one exactly once)."""
    order = tuple(order)
    by_name: dict[str, Proof] = {}
    for catalogue in catalogues:
        for p in catalogue:
            if p.name in by_name:
                raise ValueError(f"proof {p.name!r} is catalogued twice")
            by_name[p.name] = p
    if sorted(order) != sorted(by_name):
        raise ValueError(
            f"report order and catalogues differ: only ordered {sorted(set(order) - set(by_name))}, "
            f"only catalogued {sorted(set(by_name) - set(order))}, or a name ordered twice"
        )
    return tuple(by_name[name] for name in order)


def run_proof(proof: Proof) -> ProofResult:
    """Run one proof; never raises (exceptions become status "error").

    "proved" only for a verdict that holds or the bool True; a failing verdict
    is reported with its reason, False as "check returned False", anything
    else as not a bool.
    """
    try:
        outcome = proof.check()
    except Exception as exc:  # noqa: BLE001 -- reported, never counted as proved
        return ProofResult(
            proof.name, proof.statement, proof.method, "error", f"{type(exc).__name__}: {exc}"
        )
    if isinstance(outcome, Verdict):
        holds, reason = outcome.holds is True, outcome.reason
    else:
        holds, reason = outcome is True, ""
    if holds:
        return ProofResult(proof.name, proof.statement, proof.method, "proved", "")
    if isinstance(outcome, Verdict) or outcome is False:
        detail = reason or "check returned False"
    else:
        detail = f"check returned {outcome!r}, not a bool"
    return ProofResult(proof.name, proof.statement, proof.method, "failed", detail)
