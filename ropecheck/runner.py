"""Running one property against one implementation, in this process, under Hypothesis.

Hypothesis searches the spec's input space, is steered toward the largest error
(``hypothesis.target`` on err/allowed), and shrinks a failure to a minimal case; the
result names that case, the error against the allowed one, and a line that reproduces it.
"""

from __future__ import annotations

import math
import shlex
from dataclasses import asdict, dataclass

from hypothesis import given, settings as hsettings, target
from hypothesis.errors import Flaky, HypothesisException

from ropecheck.properties import NotJudged, Property, PropertyFailed, Subject, call
from ropecheck.strategies import RopeCase

STATUSES = ("passed", "failed", "skipped", "error")


@dataclass
class PropertyResult:
    """One row of the verdict (the JSON of CONTRACT §3 plus device, worst_ratio, reproduce)."""

    name: str
    status: str
    message: str = ""
    counterexample: str = ""
    device: str = "cpu"
    worst_ratio: float | None = None
    reproduce: str = ""

    def to_json(self) -> dict:
        data = asdict(self)
        if data["worst_ratio"] is not None and not math.isfinite(data["worst_ratio"]):
            data["worst_ratio"] = str(data["worst_ratio"])
        return data


def repro_line(spec_ref: str, prop: str, device: str, case: RopeCase) -> str:
    """A shell command that re-runs one property on one case and prints the verdict."""
    return (f"python -m ropecheck.repro {shlex.quote(spec_ref)} {prop} --device {device} "
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


def run_property(prop: Property, subject: Subject, settings: hsettings, spec_ref: str,
                 not_judged: str = "") -> PropertyResult:
    """Search for a counterexample to ``prop``; never raises."""
    device = subject.device
    reason = prop.applies(subject.spec)
    if reason:
        return PropertyResult(prop.name, "skipped", f"not applicable: {reason}", device=device)
    if not_judged:
        return PropertyResult(prop.name, "error", not_judged, device=device)
    worst: list[float | None] = [None]

    @hsettings(settings, report_multiple_bugs=False, database=None,
               max_examples=settings.max_examples * prop.weight)
    @given(case=prop.strategy(subject.spec))
    def search(case: RopeCase) -> None:
        ratio = prop.check(subject, case)
        if ratio is not None and math.isfinite(ratio):
            target(ratio, label="worst error / allowed")
            worst[0] = max(worst[0] or 0.0, ratio)

    try:
        search()
    except PropertyFailed as failure:
        case = failure.case
        detail = f"; {failure.detail}" if failure.detail else ""
        return PropertyResult(
            prop.name, "failed", message=failure.full_cause(),
            counterexample=f"{case.summary()}{detail}; tolerance model: ropecheck.tolerance (see README)",
            device=device, worst_ratio=failure.ratio, reproduce=repro_line(spec_ref, prop.name, device, case))
    except NotJudged as exc:
        return PropertyResult(prop.name, "error", str(exc), device=device)
    except Flaky as exc:
        return PropertyResult(prop.name, "failed", device=device,
                              message=f"fails only sometimes on the same input (nondeterministic): {_first_line(exc)}")
    except HypothesisException as exc:
        return PropertyResult(prop.name, "error", device=device,
                              message=f"Hypothesis could not run the property: {type(exc).__name__}: {_first_line(exc)}")
    except Exception as exc:  # noqa: BLE001 - a bug in ropecheck itself must not stop the run
        return PropertyResult(prop.name, "error", device=device,
                              message=f"ropecheck error while checking: {type(exc).__name__}: {_first_line(exc)}")
    measured = "" if worst[0] is None else f" (worst error/allowed {worst[0]:.3g})"
    return PropertyResult(prop.name, "passed", f"{prop.description}{measured}", device=device, worst_ratio=worst[0])


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else ""
