"""Running one property against one implementation, in this process, under Hypothesis.

Hypothesis searches the spec's input space, is steered toward the largest error
(``hypothesis.target`` on err/allowed), and shrinks a failure to a minimal case; the
result names that case, the error against the allowed one, and a line that reproduces it.

Besides the draws, a property may carry fixed cases (``Property.examples``: the boundaries
every run must meet, whatever the seed; with the dev and thorough profiles also
``Property.serving``, serving sizes), checked after the search finds nothing, so that a
bug the draws meet is reported with Hypothesis's shrunk case. After a failure a property may narrow a
many-token counterexample to one token that fails alone, or move one shrunk onto position
0 one position up where that tells causes apart (``Property.narrow``), and search
on for failures with another cause (``Property.more_causes``), each reported in
``other_failures``.
"""

from __future__ import annotations

import math
import os
import re
import shlex
import time
from dataclasses import asdict, dataclass, field, replace

from hypothesis import given, settings as hsettings, target
from hypothesis.errors import Flaky, HypothesisException

from ropecheck.properties import NotJudged, Property, PropertyFailed, Subject, call
from ropecheck.strategies import RopeCase

STATUSES = ("passed", "failed", "skipped", "error")


@dataclass
class PropertyResult:
    """One row of the verdict (the JSON of docs/contract.md §3.3 plus device, worst_ratio, reproduce)."""

    name: str
    status: str
    message: str = ""
    counterexample: str = ""
    device: str = "cpu"
    worst_ratio: float | None = None
    reproduce: str = ""
    # further failures of the same property with other causes: {message, counterexample, reproduce}
    other_failures: list = field(default_factory=list)
    # how many examples Hypothesis ran through the property (every search, shrinking included;
    # the fixed cases of ``Property.examples`` not counted)
    examples: int = 0
    # wall seconds the property ran in its checking process (search, shrinking, fixed cases
    # and diagnosis); 0.0 when skipped, or when the engine ended it (a crash, a hang)
    duration: float = 0.0

    def to_json(self) -> dict:
        data = asdict(self)
        if data["worst_ratio"] is not None and not math.isfinite(data["worst_ratio"]):
            data["worst_ratio"] = str(data["worst_ratio"])
        return data


def repro_line(spec_ref: str, prop: str, device: str, case: RopeCase) -> str:
    """A shell command that re-runs one property on one case and prints the verdict. When the
    run had a PYTHONPATH (the adapter may live outside the spec's folder), the line sets the
    same one, absolute, so that it works as printed from any directory."""
    user_path = os.environ.get("ROPECHECK_USER_PYTHONPATH", "")
    prefix = f"PYTHONPATH={shlex.quote(user_path)} " if user_path else ""
    return (f"{prefix}python -m ropecheck.repro {shlex.quote(spec_ref)} {prop} --device {device} "
            f"--case {shlex.quote(case.repro())}")


def preflight(subject: Subject) -> str:
    """One small call before any search: "" when it ran (right or wrong), else why the
    implementation cannot be judged here (a bundled adapter that no longer fits its library)."""
    from ropecheck.config import RopeConfig

    dtype = "float32" if "float32" in subject.spec.dtypes else subject.spec.dtypes[0]
    base = 10000.0 if subject.spec.base == "any" else subject.spec.base
    spec = subject.spec
    case = RopeCase(1, 2, 1, 8, dtype, RopeConfig(base=base, rotary_dim=8, pairing=spec.pairing, head_dim=8),
                    ((0, 1),), kv_heads=1 if spec.signature == "qk" else None, lengths=(2,) if spec.packed else None)
    if spec.multi_axis:
        return ""  # multi-axis callables need multi-axis positions: the properties judge them
    try:
        call(subject, case, case.inputs(subject.device))
    except NotJudged as exc:
        return str(exc)
    except (PropertyFailed, Exception):  # noqa: BLE001 - a wrong answer is for the properties to judge
        pass
    return ""


def not_applicable(prop: Property, spec, device: str) -> PropertyResult | None:
    """The skipped row of a property the spec's claims rule out (decided from the spec
    alone, before anything runs), else None."""
    reason = prop.applies(spec)
    return PropertyResult(prop.name, "skipped", f"not applicable: {reason}", device=device) if reason else None


def run_property(prop: Property, subject: Subject, settings: hsettings, spec_ref: str,
                 not_judged: str = "", profile: str | None = None) -> PropertyResult:
    """Search for a counterexample to ``prop``; never raises. ``profile`` (the name of
    ``settings``' profile) decides which fixed cases run after the search (``Property.fixed``:
    serving sizes with dev and thorough)."""
    device = subject.device
    skipped = not_applicable(prop, subject.spec, device)
    if skipped is not None:
        return skipped
    if not_judged:
        return PropertyResult(prop.name, "error", not_judged, device=device)
    worst: list[float | None] = [None]
    ran = [0]
    started = time.perf_counter()
    result = _run(prop, subject, settings, spec_ref, worst, ran, profile)
    result.examples = ran[0]
    result.duration = round(time.perf_counter() - started, 3)
    return result


def _run(prop: Property, subject: Subject, settings: hsettings, spec_ref: str, worst: list, ran: list,
         profile: str | None) -> PropertyResult:
    device = subject.device
    try:
        fixed = prop.fixed(subject.spec, profile)
        failure = _search(prop, subject, settings, settings.max_examples * prop.weight, worst, fixed, ran=ran)
    except NotJudged as exc:
        return PropertyResult(prop.name, "error", str(exc), device=device)
    except Flaky as exc:
        first = next((e for e in getattr(exc, "exceptions", ()) if isinstance(e, PropertyFailed)), None)
        if first is None:
            return PropertyResult(prop.name, "failed", device=device,
                                  message=f"fails only sometimes on the same input (nondeterministic): {_first_line(exc)}")
        row = _failed(prop, first, spec_ref, device)
        row.message = (f"fails only sometimes on the same input (it passed when Hypothesis ran it again: "
                       f"nondeterministic, or dependent on calls made before it): {row.message}")
        return row
    except HypothesisException as exc:
        return PropertyResult(prop.name, "error", device=device,
                              message=f"Hypothesis could not run the property: {type(exc).__name__}: {_first_line(exc)}")
    except Exception as exc:  # noqa: BLE001 - a bug in ropecheck itself must not stop the run
        return PropertyResult(prop.name, "error", device=device,
                              message=f"ropecheck error while checking: {type(exc).__name__}: {_first_line(exc)}")
    if failure is None:
        measured = "" if worst[0] is None else f" (worst error/allowed {worst[0]:.3g})"
        return PropertyResult(prop.name, "passed", f"{prop.description}{measured}", device=device, worst_ratio=worst[0])
    if prop.narrow:
        failure = _off_zero(prop, subject, _narrowed(prop, subject, failure))
    result = _failed(prop, failure, spec_ref, device)
    known = [_Known(_cause_key(result.message), _profile(prop, subject, failure.case))] if prop.more_causes else []
    while known and len(known) < MAX_CAUSES:
        try:
            other = _search(prop, subject, settings, settings.max_examples, [None], fixed, known, ran=ran)
        except Exception:  # noqa: BLE001 - the first failure stands; a later search adds, never replaces
            break
        if other is None:
            break
        if prop.narrow:
            other = _narrowed(prop, subject, other, known)
        row = _failed(prop, other, spec_ref, device)
        known.append(_Known(_cause_key(row.message), _profile(prop, subject, other.case)))
        result.other_failures.append({"message": row.message, "counterexample": row.counterexample,
                                      "reproduce": row.reproduce})
    return result


MAX_CAUSES = 3
"""At most this many failures with different causes are reported per property."""

NARROW_TOKENS = 64
"""A counterexample of more tokens than this is not narrowed token by token."""


def _search(prop: Property, subject: Subject, settings: hsettings, examples: int, worst: list,
            explicit: list[RopeCase], known: list = (), ran: list | None = None) -> PropertyFailed | None:
    """Run Hypothesis's search; the (shrunk) failure, or None. Failures whose cause is in
    ``known`` count as passes, so that the search looks for another cause. ``ran[0]`` counts
    the examples run."""
    ran = [0] if ran is None else ran

    @hsettings(settings, report_multiple_bugs=False, database=None, max_examples=examples)
    @given(case=prop.strategy(subject.spec))
    def search(case: RopeCase) -> None:
        ran[0] += 1
        try:
            ratio = prop.check(subject, case)
        except PropertyFailed as failure:
            if known and _same_bug(prop, subject, failure, known):
                return
            raise
        if ratio is not None and math.isfinite(ratio):
            target(ratio, label="worst error / allowed")
            worst[0] = max(worst[0] or 0.0, ratio)

    try:
        search()
    except PropertyFailed as failure:
        return failure
    # the fixed cases after the search, so that a bug the draws find gets a shrunk case
    for case in explicit:
        try:
            ratio = prop.check(subject, case)
        except PropertyFailed as failure:
            if known and _same_bug(prop, subject, failure, known):
                continue
            return failure
        if ratio is not None and math.isfinite(ratio):
            worst[0] = max(worst[0] or 0.0, ratio)
    return None


@dataclass(frozen=True)
class _Known:
    """A failure already reported: its cause without numbers, and which changes of its case
    make it pass (``_profile``)."""

    key: str
    profile: tuple


def _profile(prop: Property, subject: Subject, case: RopeCase) -> tuple:
    """Whether ``case`` still fails (True), passes (False) or cannot be tried (None) with
    (positions lowered to 0, 1, 2 ... per row; the whole head rotated; float64 <-> float32).
    Two failures that react alike to these changes are taken for one bug met twice: the
    diagnosis may name one bug differently at different positions."""
    variants: list[RopeCase | None] = []
    rows = tuple(tuple(range(1, 1 + len(row))) for row in case.positions)
    lowered = rows != case.positions and case.config.axes == 1 and case.setup is None
    variants.append(replace(case, positions=rows) if lowered else None)
    full = case.config.rotary_dim != case.head_dim and not case.config.scaling and case.config.axes == 1
    variants.append(replace(case, config=case.config.replace(rotary_dim=case.head_dim)) if full else None)
    other = {"float64": "float32", "float32": "float64"}.get(case.dtype)
    variants.append(replace(case, dtype=other) if other in subject.spec.dtypes else None)
    profile = []
    for variant in variants:
        if variant is None:
            profile.append(None)
            continue
        try:
            prop.check(subject, variant)
            profile.append(False)
        except PropertyFailed:
            profile.append(True)
        except Exception:  # noqa: BLE001 - a variant that cannot run says nothing
            profile.append(None)
    return tuple(profile)


def _same_bug(prop: Property, subject: Subject, failure: PropertyFailed, known: list[_Known]) -> bool:
    """Whether a new failure is a known bug met again: its profile agrees with a known one's
    on every change both could try; where no change could be tried, its cause (without
    numbers) is the same. The cause needs the diagnosis, so it is computed only then."""
    profile, key = _profile(prop, subject, failure.case), None
    for seen in known:
        pairs = [(a, b) for a, b in zip(profile, seen.profile) if a is not None and b is not None]
        if pairs:
            if all(a == b for a, b in pairs):
                return True
            continue
        key = _cause_key(failure.full_cause()) if key is None else key
        if key == seen.key:
            return True
    return False


def _cause_key(message: str) -> str:
    """A failure's cause with its numbers taken out: two failures with the same key are the
    same bug met twice."""
    return re.sub(r"\d+(\.\d+)?(e[-+]?\d+)?", "#", message)


def _narrowed(prop: Property, subject: Subject, failure: PropertyFailed, known: list = ()) -> PropertyFailed:
    """The failure on the first single token of its case that fails alone (with a bug not in
    ``known``) when another token, at a position other than 0, passes alone: shrinking cannot
    cut a run of consecutive positions down to the one that matters, this can. When every
    token fails alone the case stays as it was (several tokens tell the diagnosis more)."""
    case = failure.case
    if case.setup is not None or case.config.axes > 1 or case.batch * case.seq <= 1:
        return failure
    tokens = sorted({p for row in case.positions for p in row})
    if len(tokens) > NARROW_TOKENS:
        return failure
    first, some_pass = None, False
    for position in tokens:
        single = replace(case, batch=1, seq=1, positions=((position,),), lengths=(1,) if case.packed else None)
        try:
            prop.check(subject, single)
            some_pass = some_pass or position != 0
        except PropertyFailed as narrower:
            if first is None and not (known and _same_bug(prop, subject, narrower, known)):
                first = narrower
        except Exception:  # noqa: BLE001 - narrowing is a refinement; the original failure stands
            return failure
        if first is not None and some_pass:
            return first
    return failure


def _causes(failure: PropertyFailed) -> int:
    """How many causes the diagnosis leaves open ("likely causes (...): A; or B" is 2)."""
    return failure.full_cause().count("; or ") + 1


def _off_zero(prop: Property, subject: Subject, failure: PropertyFailed) -> PropertyFailed:
    """The failure on its case with every position one higher, when the case has a token at
    position 0 and its diagnosis leaves several causes open, and the moved case still fails
    with fewer. Shrinking lowers positions to 0, where every rotation is the identity, so a
    bug that leaves vectors unrotated (only the first (token, head) vector rotated) looks
    there like no rotation at all or like another row's positions; one position up tells
    them apart. Rows stay runs (``positions = "consecutive"``) and below max_position."""
    case = failure.case
    flat = [p for row in case.positions for p in row]
    if case.setup is not None or case.config.axes > 1 or not flat or min(flat) != 0 or max(flat) + 1 >= subject.spec.max_position:
        return failure
    before = _causes(failure)
    if before < 2:
        return failure
    moved = replace(case, positions=tuple(tuple(p + 1 for p in row) for row in case.positions))
    try:
        prop.check(subject, moved)
    except PropertyFailed as other:
        return other if _causes(other) < before else failure
    except Exception:  # noqa: BLE001 - a refinement; the original failure stands
        return failure
    return failure


def _failed(prop: Property, failure: PropertyFailed, spec_ref: str, device: str) -> PropertyResult:
    case = failure.case
    detail = f"; {failure.detail}" if failure.detail else ""
    return PropertyResult(
        prop.name, "failed", message=failure.full_cause(),
        counterexample=f"{case.summary()}{detail}; tolerance model: ropecheck.tolerance (docs/tolerance.md)",
        device=device, worst_ratio=failure.ratio, reproduce=repro_line(spec_ref, prop.name, device, case))


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else ""
