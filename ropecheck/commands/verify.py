"""``ropecheck verify``: the conformance properties against each target."""

from __future__ import annotations

import argparse
import os
import signal
import sys
import time

from ropecheck.commands._options import (
    EXIT_FAIL, EXIT_OK, add_device, add_json, add_markdown, add_profile, add_specs_folder, add_targets,
    add_timeout, check_cuda, check_outputs, check_profile, check_timeout, positive_int, property_names,
    resolve_targets, usage_errors)

NAME = "verify"
HELP = "run the conformance properties against each target"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_targets(parser, help="a spec file, a folder of specs, or a registered name")
    add_profile(parser, help="Hypothesis profile: ci (default), dev, thorough")
    add_device(parser, default=None, help="only this device (default: every device the spec claims)")
    add_json(parser, help="write the verdict as JSON to F")
    add_markdown(parser, help="write a markdown report to F (a CI artifact; on GitHub Actions, "
                              "--markdown \"$GITHUB_STEP_SUMMARY\" shows it on the run's page)")
    parser.add_argument("--conformance", metavar="F.csv",
                        help="merge the verdict into the conformance table F.csv (e.g. results/conformance.csv, "
                             "what `ropecheck report` reads): one row per implementation, device and property, "
                             "dtype 'all' (every claimed dtype was checked in this one run; the dtype itself when "
                             "the spec claims one); rows with the same key are replaced, others kept")
    parser.add_argument("--junitxml", metavar="F",
                        help="write the verdict as JUnit XML to F (a testcase per property and device), "
                             "as pytest --junitxml does")
    add_timeout(parser, help="CPU seconds one property may use (default: 120 for ci, 600 dev, 3600 thorough); "
                             "a busy machine does not count against it")
    add_specs_folder(parser, help="folder searched for registered names (default: ./specs)")
    parser.add_argument("-j", "--jobs", metavar="N",
                        help="checking processes at a time, each with one torch thread (default: the usable cores)")
    parser.add_argument("--property", action="append", metavar="NAME",
                        help="run only this property (repeatable; default: every property; "
                             "docs/properties.md lists them)")
    talk = parser.add_mutually_exclusive_group()
    talk.add_argument("-q", "--quiet", action="store_true",
                      help="no line per property while it runs: only the table, the failures and the summary")
    talk.add_argument("-v", "--verbose", action="store_true",
                      help="also print each failure's cause and reproduce line as soon as it is found")


def run(args: argparse.Namespace) -> int:
    # the checks that need no torch first: a mistyped option is a usage error in a tenth of
    # a second, not after the two seconds of importing torch
    check_profile(args.profile)
    check_timeout(args.timeout)
    check_outputs(json=args.json, markdown=args.markdown, junitxml=args.junitxml, conformance=args.conformance)
    jobs = positive_int("-j/--jobs", args.jobs)

    from ropecheck import engine, profiles
    from ropecheck.isolation import Stop
    from ropecheck.properties import PROPERTIES
    from ropecheck.render import ci, machine, progress, verdicts
    from ropecheck.render.text import printable
    from ropecheck.storage import atomic_write_json, atomic_write_text

    check_cuda(args.device)
    names = property_names(args.property)
    jobs = engine.usable_cores() if jobs is None else jobs
    targets = resolve_targets(args.targets, args.specs)
    partial: dict[str, list] = {spec.name: [] for spec, _ in targets}

    order = names or [p.name for p in PROPERTIES]
    # read from package metadata (and git) once, and only for the outputs that record them
    libraries = ({spec.name: machine.library_version(spec) for spec, _ in targets}
                 if args.json or args.conformance else {})
    derandomized = bool(profiles.PROFILES[args.profile].get("derandomize"))
    fixed = machine.provenance(args.profile, derandomized, []) if args.json else {}

    def about(results) -> dict:
        """The run's provenance (computed once: versions, commit, date), naming the devices
        some property was judged on so far; the JSON is rewritten after every property."""
        judged = sorted({p.device for r in results for p in r.properties if p.status != "skipped"})
        return {**fixed, "devices": machine.device_names(judged)}
    verbosity = progress.QUIET if args.quiet else progress.VERBOSE if args.verbose else progress.NORMAL
    colour = progress.colour_wanted(sys.stderr)
    started = time.monotonic()

    def on_result(result, row) -> None:
        partial[result.name].append(row)  # in the catalogue's order, whichever process finished first
        partial[result.name].sort(key=lambda r: (r.device, order.index(r.name) if r.name in order else len(order)))
        if verbosity > progress.QUIET:
            print(progress.property_line(result.name, row, colour=colour, verbosity=verbosity), file=sys.stderr,
                  flush=True)
        if args.json:  # what finished survives whatever stops the run
            so_far = [engine.ImplementationResult(spec.name, spec.origin, partial[spec.name]) for spec, _ in targets]
            atomic_write_json(args.json, verdicts.json_report(so_far, complete=False, provenance=about(so_far),
                                                              libraries=libraries))

    stop = Stop()
    try:
        with stop.on_signals(), usage_errors():  # a callable that cannot be imported: file and key
            results = engine.verify_all(targets, profile=args.profile, device=args.device, timeout=args.timeout,
                                        names=names, on_result=on_result, stop=stop, jobs=jobs, fork=True)
    finally:
        stop.close()
    seconds = time.monotonic() - started
    summary = progress.summary_line(results, seconds)
    print(printable(verdicts.text_report(results, summary=summary)))
    if os.environ.get("GITHUB_ACTIONS") == "true":  # error annotations on the spec files of the pull request
        for line in ci.github_annotations(results):
            print(line)
    interrupted = stop.signum
    if args.json:
        atomic_write_json(args.json, verdicts.json_report(results, interrupted=interrupted, provenance=about(results),
                                                          libraries=libraries))
    if args.markdown:
        atomic_write_text(args.markdown, verdicts.markdown_report(results))
    if args.junitxml:
        atomic_write_text(args.junitxml, ci.junit_xml(results, seconds))
    if args.conformance:
        write_conformance(args.conformance, targets, results, libraries, args.profile)
    if interrupted is not None:
        print(f"ropecheck: interrupted by {signal.Signals(interrupted).name}; the results above are what finished",
              file=sys.stderr)
        return 128 + interrupted
    return EXIT_OK if all(r.conforms for r in results) else EXIT_FAIL


def write_conformance(path: str, targets, results, libraries: dict[str, str], profile: str) -> None:
    """Merge this run's rows into the conformance table at ``path`` (``conformance_table``)."""
    import pandas as pd

    from ropecheck.conformance_table import COLUMNS, rows_from_result, write_merged

    specs = {spec.name: spec for spec, _ in targets}
    rows = [row for result in results
            for row in rows_from_result(specs[result.name], result, libraries[result.name], profile)
            if not row["message"].startswith("not run: the run was interrupted")]  # would replace real verdicts
    table = write_merged(path, pd.DataFrame(rows, columns=COLUMNS))
    print(f"merged {len(rows)} rows into {path} ({len(table)} in all)")
