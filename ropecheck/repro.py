"""Re-run one property on one case: the line every failing property prints.

    python -m ropecheck.repro SPEC_OR_NAME PROPERTY --device cpu --case "RopeCase(...)"

Prints the verdict and exits 0 when the property holds on that case, 1 when it fails.
"""

from __future__ import annotations

import argparse
import sys

from ropecheck import registry
from ropecheck.config import RopeConfig
from ropecheck.properties import BY_NAME, PropertyFailed, Subject
from ropecheck.strategies import RopeCase


def parse_case(text: str) -> RopeCase:
    """Evaluate a ``RopeCase(...)`` expression with only RopeCase and RopeConfig in scope."""
    case = eval(text, {"__builtins__": {}}, {"RopeCase": RopeCase, "RopeConfig": RopeConfig})  # noqa: S307
    if not isinstance(case, RopeCase):
        raise ValueError(f"--case must be a RopeCase(...) expression, got {type(case).__name__}")
    return case


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m ropecheck.repro", description=__doc__)
    parser.add_argument("target", help="spec file or registered name")
    parser.add_argument("property", choices=sorted(BY_NAME))
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--case", required=True, help="a RopeCase(...) expression from a report")
    args = parser.parse_args(argv)
    (spec, _), *_ = registry.resolve(args.target)
    case = parse_case(args.case)
    subject = Subject(fn=spec.load_callable(), spec=spec, device=args.device)
    try:
        ratio = BY_NAME[args.property].check(subject, case)
    except PropertyFailed as failure:
        print(f"FAILED {spec.name} · {args.property}: {failure.full_cause()}")
        if failure.detail:
            print(f"  {failure.detail}")
        print(f"  case: {case.summary()}")
        return 1
    print(f"passed {spec.name} · {args.property}" + ("" if ratio is None else f" (error/allowed {ratio:.3g})"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
