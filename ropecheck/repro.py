"""Re-run one property on one case: the line every failing property prints.

    python -m ropecheck.repro SPEC_OR_NAME PROPERTY --device cpu --case "RopeCase(...)"

Prints the verdict and exits 0 when the property holds on that case, 1 when it fails.
The command is ``ropecheck repro`` (``ropecheck.commands.repro``); this module keeps its
old entry point and ``parse_case``, which checking processes use too.
"""

from __future__ import annotations

import ast
import sys

from ropecheck.config import RopeConfig
from ropecheck.strategies import RopeCase, setup_from_labels, setup_types


def _constructors() -> dict:
    """What a case line may call: RopeCase, RopeConfig and the properties' setups (which
    register themselves when the property modules are imported)."""
    import ropecheck.properties  # noqa: F401

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
    """The entry point every reproduce line names, kept with its arguments and output:
    ``ropecheck repro`` (``ropecheck.commands.repro``), under its old name."""
    from ropecheck.commands import _options, repro as command

    return _options.standalone(command, argv, prog="python -m ropecheck.repro", prefix="ropecheck repro",
                               description=command.DESCRIPTION)


if __name__ == "__main__":
    sys.exit(main())
