"""Re-run one property on one case: the line every failing property prints.

    python -m ropecheck.repro SPEC_OR_NAME PROPERTY --device cpu --case "RopeCase(...)"

Prints the verdict and exits 0 when the property holds on that case, 1 when it fails.
"""

from __future__ import annotations

import argparse
import ast
import sys

from ropecheck import registry
from ropecheck.config import RopeConfig
from ropecheck.properties import BY_NAME, PropertyFailed, Subject
from ropecheck.spec import SpecError
from ropecheck.strategies import RopeCase, setup_from_labels, setup_types


def _constructors() -> dict:
    """What a case line may call: RopeCase, RopeConfig and the properties' setups."""
    return {"RopeCase": RopeCase, "RopeConfig": RopeConfig, **setup_types()}


def parse_case(text: str) -> RopeCase:
    """Rebuild a ``RopeCase(...)`` from its ``repr``-like text without evaluating code.

    Only calls of ``RopeCase``, ``RopeConfig`` and a property's setup (``Shift(...)``,
    ``History(...)``: ``strategies.CaseSetup``) with keyword arguments whose values are
    Python literals (numbers, strings, tuples, lists, dicts, None, booleans) or such a call
    are accepted: a doctored line pasted from a CI log cannot run anything. Lines of
    earlier versions carry the setup as ``extra={label: value, ...}``: it is read into
    the typed setup it stood for.
    """
    try:
        tree = ast.parse(text.strip(), mode="eval")
    except SyntaxError as exc:
        raise ValueError(f"--case: not a RopeCase(...) expression: {exc.msg}") from None
    case = _construct(tree.body)
    if not isinstance(case, RopeCase):
        raise ValueError(f"--case must be a RopeCase(...) expression, got {type(case).__name__}")
    return case


def _construct(node: ast.AST):
    if isinstance(node, ast.Call):
        name = node.func.id if isinstance(node.func, ast.Name) else None
        constructors = _constructors()
        if name not in constructors or node.args or any(k.arg is None for k in node.keywords):
            raise ValueError(f"--case: only RopeCase(...), RopeConfig(...) and a property's setup with keyword "
                             f"arguments are allowed, got {ast.unparse(node)[:80]!r}")
        kwargs = {k.arg: _construct(k.value) for k in node.keywords}
        if name == "RopeCase" and "extra" in kwargs:  # a line of an earlier version
            kwargs["setup"] = setup_from_labels(kwargs.pop("extra"))
        return constructors[name](**kwargs)
    if isinstance(node, ast.Dict) and all(k is not None for k in node.keys):  # earlier lines: cases in extra
        return {_construct(k): _construct(v) for k, v in zip(node.keys, node.values)}
    if isinstance(node, (ast.Tuple, ast.List)) and any(isinstance(e, ast.Call) for e in node.elts):
        items = [_construct(e) for e in node.elts]
        return tuple(items) if isinstance(node, ast.Tuple) else items
    try:
        return ast.literal_eval(node)
    except ValueError:
        raise ValueError(f"--case: {ast.unparse(node)[:80]!r} is not a literal") from None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m ropecheck.repro", description=__doc__)
    parser.add_argument("target", help="spec file or registered name")
    parser.add_argument("property", choices=sorted(BY_NAME))
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--case", required=True, help="a RopeCase(...) expression from a report")
    args = parser.parse_args(argv)
    try:
        (spec, _), *_ = registry.resolve(args.target)
        case = parse_case(args.case)
    except (SpecError, ValueError, TypeError) as exc:
        print(f"ropecheck repro: error: {exc}", file=sys.stderr)
        return 2
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
