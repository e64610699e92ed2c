"""``ropecheck repro``: re-run one property on one case, the line every failing property
prints (``python -m ropecheck.repro ...``, the same command through ``ropecheck.repro``).

A target that is not a spec, a spec with a wrong key, or a callable that cannot be
imported is a usage error naming the file and key (exit 2), as under every command."""

from __future__ import annotations

import argparse
import os

from ropecheck.commands._options import EXIT_FAIL, EXIT_OK, UsageError, add_device, add_targets, check_outputs, \
    load_callable, resolve_targets

NAME = "repro"
HELP = "re-run one property on one case: the reproduce line of a failure"
DESCRIPTION = """Re-run one property on one case: the line every failing property prints.

    python -m ropecheck.repro SPEC_OR_NAME PROPERTY --device cpu --case "RopeCase(...)"

Prints the verdict and exits 0 when the property holds on that case, 1 when it fails.
"""
FORMATTER = argparse.HelpFormatter


class _PropertyNames:
    """The catalogue's names, sorted, as argparse ``choices``: read only when argparse
    checks or shows them (the catalogue imports torch; building the parser must not)."""

    def _names(self) -> list[str]:
        from ropecheck.properties import BY_NAME

        return sorted(BY_NAME)

    def __contains__(self, name) -> bool:
        return name in self._names()

    def __iter__(self):
        return iter(self._names())


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_targets(parser, dest="target", nargs=None, metavar=None, help="spec file or registered name")
    # set after add_argument, which formats (iterates) the choices it is given right away
    parser.add_argument("property").choices = _PropertyNames()
    add_device(parser, choices=None)
    parser.add_argument("--case", required=True, help="a RopeCase(...) expression from a report")
    parser.add_argument("--dump", metavar="DIR",
                        help="also save the case called once the plain way to DIR/case.pt (torch.load): inputs, "
                             "positions, the outputs and the oracle's float64 expected outputs, and DIR/case.txt")
    parser.add_argument("--pytest", metavar="F",
                        help="also write F, a pytest regression test of this property on this case (- for stdout)")
    parser.add_argument("--pdb", action="store_true",
                        help="on failure, open pdb where it failed (in the implementation when it raised)")


def run(args: argparse.Namespace) -> int:
    from ropecheck.properties import BY_NAME, PropertyFailed, Subject
    from ropecheck.repro import parse_case

    check_outputs(dump=None if args.dump is None else os.path.join(args.dump, "case.pt"),
                  pytest=None if args.pytest in (None, "-") else args.pytest)
    (spec, ref), *_ = resolve_targets([args.target], unique=False, note_shadowed=False)
    try:
        case = parse_case(args.case)
    except (ValueError, TypeError) as exc:  # not a RopeCase(...) of literals, or a wrong keyword
        raise UsageError(str(exc)) from None
    subject = Subject(fn=load_callable(spec), spec=spec, device=args.device)
    if args.pytest:
        _write_pytest(args.pytest, ref, spec, args.property, args.device, args.case)
    if args.dump:
        _dump(args.dump, subject, case, args.property, args.case)
    try:
        ratio = BY_NAME[args.property].check(subject, case)
    except PropertyFailed as failure:
        print(f"FAILED {spec.name} · {args.property}: {failure.full_cause()}")
        if failure.detail:
            print(f"  {failure.detail}")
        print(f"  case: {case.summary()}")
        if args.pdb:
            _post_mortem(failure)
        return EXIT_FAIL
    print(f"passed {spec.name} · {args.property}" + ("" if ratio is None else f" (error/allowed {ratio:.3g})"))
    return EXIT_OK


def _post_mortem(failure: BaseException) -> None:
    """pdb where it went wrong: in the implementation's frame when its call raised (the
    exception the property turned into this failure), else in the property's check."""
    import pdb

    cause = failure.__cause__ or failure.__context__
    print("ropecheck: entering pdb " + ("in the implementation's exception" if cause else "at the failed check"),
          flush=True)
    pdb.post_mortem((cause or failure).__traceback__)


def _dump(folder: str, subject, case, prop: str, case_text: str) -> None:
    """DIR/case.pt and DIR/case.txt: the case's inputs called once the plain way, what came
    back and what the oracle expects (float64), whatever the property does with them."""
    from pathlib import Path

    import torch

    from ropecheck import oracle
    from ropecheck.properties import PropertyFailed
    from ropecheck.properties._calls import call, keep
    from ropecheck.strategies import batched

    inputs = case.inputs(subject.device)
    kept = keep(inputs)
    try:
        outputs, raised = call(subject, case, inputs), ""
    except PropertyFailed as failure:
        outputs, raised = (), failure.full_cause()
    names = case.operand_names
    positions = batched(inputs.positions, case.packed).cpu()
    expected = {name: oracle.rope(batched(x, case.packed), positions, case.config).reshape(x.shape)
                for name, x in zip(names, kept)}
    record = {"property": prop, "case": case_text, "config": repr(case.config),
              "inputs": {name: x.cpu() for name, x in zip(names, kept)}, "positions": inputs.positions.cpu(),
              "cu_seqlens": None if inputs.cu_seqlens is None else inputs.cu_seqlens.cpu(),
              "outputs": {f"{name}_out": y.detach().cpu() for name, y in zip(names, outputs)},
              "expected": {f"{name}_out": e for name, e in expected.items()}, "raised": raised}
    out = Path(folder)
    out.mkdir(parents=True, exist_ok=True)
    torch.save(record, out / "case.pt")
    lines = [f"property: {prop}", f"case: {case.summary()}", f"raised: {raised or 'nothing'}"]
    for name, x in record["inputs"].items():
        lines.append(f"input {name}: shape {tuple(x.shape)} dtype {x.dtype}")
    for name, y in record["outputs"].items():
        worst = (y.double() - record["expected"][name]).abs().max().item() if y.numel() else 0.0
        lines.append(f"output {name}: shape {tuple(y.shape)} dtype {y.dtype}; largest |output - expected| {worst:.3g}")
    lines.append("torch.load('case.pt') holds inputs, positions, cu_seqlens, outputs and expected (float64)")
    (out / "case.txt").write_text("\n".join(lines) + "\n", encoding="utf-8")
    print(f"dumped the case to {out / 'case.pt'} and {out / 'case.txt'}")


PYTEST_TEMPLATE = '''"""Regression test written by `ropecheck repro --pytest`: {name} must hold {prop} on
the case ropecheck found. It fails with ropecheck's cause while the bug is there."""

import pytest

from ropecheck import registry
from ropecheck.properties import BY_NAME, PropertyFailed, Subject
from ropecheck.repro import parse_case

TARGET = {target!r}
CASE = {case!r}


def test_{function}():
    (spec, _), *_ = registry.resolve(TARGET)
    subject = Subject(fn=spec.load_callable(), spec=spec, device={device!r})
    try:
        BY_NAME[{prop!r}].check(subject, parse_case(CASE))
    except PropertyFailed as failure:
        pytest.fail(f"{{spec.name}} · {prop}: {{failure.full_cause()}}", pytrace=False)
'''


def _write_pytest(path: str, ref: str, spec, prop: str, device: str, case_text: str) -> None:
    import re
    import sys

    from ropecheck.storage import atomic_write_text

    target = os.path.abspath(ref) if os.path.exists(ref) else ref
    function = re.sub(r"\W+", "_", f"{spec.name}_{prop}_{device}").strip("_").lower() or "case"
    text = PYTEST_TEMPLATE.format(name=spec.name, prop=prop, target=target, case=case_text, device=device,
                                  function=function)
    if path == "-":
        sys.stdout.write(text)
    else:
        atomic_write_text(path, text)
        print(f"wrote the regression test {path}")
