"""``ropecheck repro``: re-run one property on one case, the line every failing property
prints (``python -m ropecheck.repro ...``, the same command through ``ropecheck.repro``).

A target that is not a spec, a spec with a wrong key, or a callable that cannot be
imported is a usage error naming the file and key (exit 2), as under every command."""

from __future__ import annotations

import argparse

from ropecheck.commands._options import EXIT_FAIL, EXIT_OK, UsageError, add_device, add_targets, load_callable, \
    resolve_targets

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


def run(args: argparse.Namespace) -> int:
    from ropecheck.properties import BY_NAME, PropertyFailed, Subject
    from ropecheck.repro import parse_case

    (spec, _), *_ = resolve_targets([args.target], unique=False, note_shadowed=False)
    try:
        case = parse_case(args.case)
    except (ValueError, TypeError) as exc:  # not a RopeCase(...) of literals, or a wrong keyword
        raise UsageError(str(exc)) from None
    subject = Subject(fn=load_callable(spec), spec=spec, device=args.device)
    try:
        ratio = BY_NAME[args.property].check(subject, case)
    except PropertyFailed as failure:
        print(f"FAILED {spec.name} · {args.property}: {failure.full_cause()}")
        if failure.detail:
            print(f"  {failure.detail}")
        print(f"  case: {case.summary()}")
        return EXIT_FAIL
    print(f"passed {spec.name} · {args.property}" + ("" if ratio is None else f" (error/allowed {ratio:.3g})"))
    return EXIT_OK
