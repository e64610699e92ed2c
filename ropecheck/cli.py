"""The ``ropecheck`` command line (CONTRACT §3). Exit codes: 0 success, 1 a check failed,
2 a usage error (one message naming the file and key)."""

from __future__ import annotations

import argparse
import atexit
import math
import os
import signal
import sys
from pathlib import Path
from typing import Sequence

EXIT_OK, EXIT_FAIL, EXIT_USAGE = 0, 1, 2


class UsageError(Exception):
    """A mistake in what the user asked for: printed as one line, exit code 2."""


def _cmd_prove(args: argparse.Namespace) -> int:
    from ropecheck import proofs
    from ropecheck.storage import atomic_write_json
    from ropecheck.table import text_table

    results = proofs.prove_all()
    rows = [(r.name, r.status, _clip(r.statement, 60), _clip(r.method.split("; ", 1)[-1], 70)) for r in results]
    print(text_table(("proof", "status", "statement", "method (full text in --json)"), rows))
    print("\ndecision procedures: matrix identities: each entry of lhs - rhs: exp(I t) -> cos t + I sin t, "
          "expand_trig, cos/sin -> c, s, remainder modulo c^2 + s^2 - 1 must be exactly 0; scalar scaling laws "
          "(simplifies_to_zero): lhs - rhs must become exactly 0 under expand, powsimp, simplify or expand_log "
          "with the symbols' declared signs (never force=True)")
    proved = sum(r.status == "proved" for r in results)
    print(f"\n{proved} of {len(results)} identities proved")
    for r in results:
        if r.status != "proved":
            print(f"  {r.name}: {r.status}: {r.detail}")
    if args.json:
        atomic_write_json(args.json, {
            "all_proved": proved == len(results),
            "proofs": [dict(name=r.name, statement=r.statement, method=r.method,
                            status=r.status, detail=r.detail) for r in results],
        })
    return EXIT_OK if proved == len(results) else EXIT_FAIL


def _cmd_list(args: argparse.Namespace) -> int:
    from ropecheck import registry
    from ropecheck.table import text_table

    items = registry.known(args.specs)
    hidden = registry.shadowed(items)
    rows = []
    for i, item in enumerate(items):
        note = f"; shadowed: the name means the {hidden[i].source} one" if i in hidden else ""
        if item.spec is None:
            rows.append((item.name, item.source, "-", "-", "-", f"invalid: {item.error}{note}"))
        else:
            s = item.spec
            rows.append((s.name, item.source, s.pairing, s.base, ",".join(s.devices), f"{s.origin}{note}"))
    print(text_table(("name", "source", "pairing", "base", "devices", "origin"), rows))
    return EXIT_OK


def _timeout(value: float | None, option: str = "--timeout") -> float | None:
    if value is not None and not (math.isfinite(value) and value > 0):
        raise UsageError(f"{option}: expected a positive number of CPU seconds, got {value!r}")
    return value


def _outputs(**paths: str | None) -> None:
    """Check every output option before any work: a run never ends in a traceback about them."""
    from ropecheck.storage import output_problem

    for option, path in paths.items():
        if path is not None:
            problem = output_problem(path)
            if problem:
                raise UsageError(f"--{option.replace('_', '-')}: {problem}")


def _cuda_requested(device: str | None) -> None:
    if device == "cuda":
        import torch

        if not torch.cuda.is_available():
            raise UsageError("--device cuda: CUDA is not available on this machine")


def _resolve(targets: list[str], folder: str = "specs") -> list[tuple]:
    """(spec, reference) for every target, names unique; SpecError becomes a usage error."""
    from ropecheck import registry
    from ropecheck.spec import SpecError

    resolved = []
    try:
        for target in targets:
            resolved += registry.resolve(target, folder, warn=_warn)
        names: dict[str, str] = {}
        for spec, _ in resolved:
            if spec.name in names and names[spec.name] != spec.origin:
                raise SpecError(spec.origin, "name", f"{spec.name!r} is also the name of {names[spec.name]}; names must be unique")
            names[spec.name] = spec.origin
    except SpecError as exc:
        raise UsageError(str(exc)) from None
    unique, seen = [], set()
    for spec, ref in resolved:
        if spec.name not in seen:
            seen.add(spec.name)
            unique.append((spec, ref))
    return unique


def _property_names(chosen: list[str] | None) -> list[str] | None:
    """The --property names in catalogue order, or None for all; an unknown one is a usage error."""
    if not chosen:
        return None
    import difflib

    from ropecheck.properties import PROPERTIES

    known = [p.name for p in PROPERTIES]
    for name in chosen:
        if name not in known:
            close = difflib.get_close_matches(name, known, n=1)
            hint = f"; did you mean {close[0]!r}?" if close else f"; expected one of {', '.join(known)}"
            raise UsageError(f"--property: unknown property {name!r}{hint}")
    return [n for n in known if n in chosen]


def _catalogue() -> list:
    from ropecheck.properties import PROPERTIES

    return list(PROPERTIES)


def _warn(text: str) -> None:
    from ropecheck.table import printable

    print(f"ropecheck: note: {printable(text)}", file=sys.stderr, flush=True)


def _cmd_verify(args: argparse.Namespace) -> int:
    from ropecheck import engine, profiles, report
    from ropecheck.isolation import Stop
    from ropecheck.storage import atomic_write_json, atomic_write_text
    from ropecheck.table import printable

    if args.profile not in profiles.PROFILES:
        raise UsageError(f"--profile: expected one of {', '.join(profiles.PROFILES)}, got {args.profile!r}")
    _timeout(args.timeout)
    _outputs(json=args.json, markdown=args.markdown)
    _cuda_requested(args.device)
    names = _property_names(args.property)
    jobs = engine.usable_cores() if args.jobs is None else _positive_int("-j/--jobs", args.jobs)
    targets = _resolve(args.targets, args.specs)
    partial: dict[str, list] = {spec.name: [] for spec, _ in targets}

    order = names or [p.name for p in _catalogue()]

    def on_result(result, row) -> None:
        partial[result.name].append(row)  # in the catalogue's order, whichever process finished first
        partial[result.name].sort(key=lambda r: (r.device, order.index(r.name) if r.name in order else len(order)))
        print(printable(f"  {result.name} · {row.name} [{row.device}] {row.status}"), file=sys.stderr, flush=True)
        if args.json:  # what finished survives whatever stops the run
            atomic_write_json(args.json, report.json_report(
                [engine.ImplementationResult(spec.name, spec.origin, partial[spec.name]) for spec, _ in targets],
                complete=False))

    stop = Stop()
    try:
        with stop.on_signals():
            results = engine.verify_all(targets, profile=args.profile, device=args.device, timeout=args.timeout,
                                        names=names, on_result=on_result, stop=stop, jobs=jobs, fork=True)
    except engine.LoadError as exc:
        raise UsageError(str(exc)) from None
    finally:
        stop.close()
    print(printable(report.text_report(results)))
    interrupted = stop.signum
    if args.json:
        atomic_write_json(args.json, report.json_report(results, interrupted=interrupted))
    if args.markdown:
        atomic_write_text(args.markdown, report.markdown_report(results))
    if interrupted is not None:
        print(f"ropecheck: interrupted by {signal.Signals(interrupted).name}; the results above are what finished",
              file=sys.stderr)
        return 128 + interrupted
    return EXIT_OK if all(r.conforms for r in results) else EXIT_FAIL


def _preload(targets: list[tuple], timeout: float | None) -> None:
    """Import every runnable target's callable in a checking process first: an import
    that raises, exits or hangs is a usage error naming the spec file and ``callable``."""
    from ropecheck import engine
    from ropecheck.isolation import Stop

    runnable = [spec for spec, _ in targets if not spec.missing_requirements()]
    stop = Stop()
    try:
        with stop.on_signals(), engine.Pool(stop) as pool:
            pool.preload(runnable, engine.limits_for("ci", timeout))
    except engine.LoadError as exc:
        raise UsageError(str(exc)) from None
    finally:
        stop.close()
    if stop.signum is not None:
        raise Stopped(stop.signum)


class Stopped(Exception):
    """A signal stopped a command that has nothing partial to write."""

    def __init__(self, signum: int):
        super().__init__(signum)
        self.signum = signum


def _cmd_bench(args: argparse.Namespace) -> int:
    from ropecheck.bench import plot, run, table
    from ropecheck.conformance_table import library_version
    from ropecheck.isolation import Interrupted, Stop
    from ropecheck.storage import atomic_write_csv
    from ropecheck.table import printable

    if not args.out.endswith(".csv"):
        raise UsageError(f"--out: expected a .csv path, got {args.out!r}")
    _outputs(out=args.out)
    _timeout(args.timeout)
    if args.plot:
        import importlib.util

        if importlib.util.find_spec("matplotlib") is None:
            raise UsageError("--plot needs matplotlib: pip install 'ropecheck[plots]'")
        _outputs(plot=str(Path(args.plot) / "x.png"))
    _cuda_requested(args.device)
    targets = _resolve(args.targets)
    if not any(not s.missing_requirements() and args.device in s.devices for s, _ in targets):
        raise UsageError("no target can run on this device here (missing requirements or device not claimed)")
    _preload(targets, args.timeout)  # the import gets the same limits as the timing
    passes = ["fwd"] if args.quick else ["fwd", "fwd+bwd"]
    stop = Stop()
    try:
        with stop.on_signals():
            collected = run.collect([(spec.name, ref) for spec, ref in targets], args.device, args.quick, passes,
                                    timeout=args.timeout, stop=stop)
    except Interrupted as stopped:
        print(f"ropecheck: bench interrupted by {signal.Signals(stopped.signum).name}; nothing written",
              file=sys.stderr)
        return 128 + stopped.signum
    finally:
        stop.close()
    failures: dict[str, list[str]] = {}
    for name, why in collected.failures:
        failures.setdefault(name, []).append(why)
    for name, whys in failures.items():
        times = f" ({len(whys)} workloads)" if len(whys) > 1 else ""
        print(printable(f"bench: {name} failed{times}: {whys[0]}"), file=sys.stderr)
    if not collected.rows:
        print("ropecheck: bench: nothing could be timed", file=sys.stderr)
        return EXIT_FAIL
    versions = {spec.name: library_version(spec) for spec, _ in targets}
    frame = table.build(collected.rows, args.device, versions)
    atomic_write_csv(args.out, frame)
    shown = frame[["implementation", "dtype", "kind", "batch", "seq", "heads", "kv_heads", "head_dim", "pass",
                   "median_s", "gbps", "roofline_fraction"]]
    print(shown.to_string(index=False, float_format=lambda v: f"{v:.4g}"))
    print(f"\nwrote {len(frame)} rows to {args.out}")
    if args.plot:
        for path in plot.throughput_plots(frame, args.plot):
            print(f"plot: {path}")
    if failures:
        print(printable(f"ropecheck: bench: {', '.join(failures)} could not be timed (reasons above); "
                        "the other rows were written"), file=sys.stderr)
        return EXIT_FAIL
    return EXIT_OK


def _cmd_compare(args: argparse.Namespace) -> int:
    import pandas as pd

    from ropecheck.bench import stats

    if not (math.isfinite(args.alpha) and 0 < args.alpha < 1):
        raise UsageError(f"--alpha: expected a probability strictly between 0 and 1, got {args.alpha!r}")
    if not (math.isfinite(args.min_effect) and args.min_effect >= 0):
        raise UsageError(f"--min-effect: expected a finite fraction >= 0 (0.05 is 5%), got {args.min_effect!r}")
    frames = []
    for path in (args.base, args.new):
        try:
            frame = pd.read_csv(path)
        except (OSError, ValueError) as exc:
            raise UsageError(f"{path}: cannot read a benchmark table: {exc}") from None
        missing = sorted(set(stats.KEY + ["samples_s", "copy_median_s", "median_s"]) - set(frame.columns))
        if missing:
            raise UsageError(f"{path}: not a ropecheck bench table; missing columns: {', '.join(missing)}")
        problem = stats.table_problem(frame)
        if problem:
            raise UsageError(f"{path}: {problem}")
        frames.append(frame)
    deltas = stats.compare(*frames, min_effect=args.min_effect, alpha=args.alpha)
    if deltas.empty:
        raise UsageError(f"{args.base} and {args.new} share no (implementation, device, dtype, shape, pass) rows")
    shown = deltas[["implementation", "dtype", "kind", "batch", "seq", "heads", "kv_heads", "head_dim", "pass",
                    "base_median_s", "new_median_s", "normalised_ratio", "p_holm", "regression"]]
    print(shown.to_string(index=False, float_format=lambda v: f"{v:.4g}"))
    slower = int(deltas["regression"].sum())
    print(f"\n{slower} significant slowdown(s) of more than {args.min_effect:.0%} "
          f"(Mann-Whitney U on copy-normalised samples, Holm alpha {args.alpha}) in {len(deltas)} rows")
    return EXIT_FAIL if slower else EXIT_OK


def _cmd_identify(args: argparse.Namespace) -> int:
    from ropecheck import engine
    from ropecheck.isolation import Interrupted, Stop
    from ropecheck.storage import atomic_write_json
    from ropecheck.table import text_table

    if args.head_dim < 2 or args.head_dim % 2:
        raise UsageError(f"--head-dim: expected an even number >= 2, got {args.head_dim}")
    max_position = _positive_int("--max-position", args.max_position)
    _timeout(args.timeout)
    _outputs(json=args.json)
    _cuda_requested(args.device)
    module, sep, attribute = args.target.partition(":")
    if not sep or not module or not attribute:
        raise UsageError(f"{args.target!r}: expected module:attribute, e.g. my_adapters:rope")
    stop = Stop()
    try:
        with stop.on_signals():
            found = engine.identify(args.target, args.head_dim, args.device, timeout=args.timeout, stop=stop,
                                    signature=args.signature, packed=args.packed, max_position=max_position)
    except engine.LoadError as exc:
        raise UsageError(str(exc)) from None
    except Interrupted as stopped:
        print(f"ropecheck: identify interrupted by {signal.Signals(stopped.signum).name}", file=sys.stderr)
        return 128 + stopped.signum
    finally:
        stop.close()
    if found["rows"]:
        print(text_table(("field", "value"), found["rows"]))
    for note in found["notes"]:
        print(f"note: {note}")
    print(f"\n{found['message']}")
    if args.json:
        atomic_write_json(args.json, found["json"])
    return EXIT_OK if found["json"]["explained"] else EXIT_FAIL


def _positive_int(option: str, text: str | None) -> int | None:
    """``text`` as a positive int (None stays None); a ``UsageError`` naming the option and
    the value otherwise (0, negatives, fractions, words)."""
    if text is None:
        return None
    try:
        value = int(text.strip())
    except ValueError:
        value = None
    if value is None or value < 1:
        raise UsageError(f"{option}: expected a positive integer, got {text!r}")
    return value


def _cmd_report(args: argparse.Namespace) -> int:
    import importlib.util
    import time

    out = Path(args.out)
    if out.exists() and not out.is_dir():
        raise UsageError(f"--out: {args.out!r} is an existing file; expected a folder (created if absent)")
    if Path(args.results).exists() and not Path(args.results).is_dir():
        raise UsageError(f"--results: {args.results!r} is not a folder")
    _outputs(out=str(out / "index.html"))
    if importlib.util.find_spec("matplotlib") is None:
        raise UsageError("report needs matplotlib: install ropecheck[plots] (pip install 'ropecheck[plots]')")
    from ropecheck.table import text_table
    from ropecheck.visual import build

    start = time.perf_counter()
    out, horizons = build.build(out, args.results)
    print(text_table(("implementation", "dtype", "precision horizon", "max err/allowed"),
                     [(r.implementation, r.dtype, r.horizon_text, f"{r.max_ratio:.3g}") for r in horizons.itertuples()]))
    print(f"\nwrote {out / 'index.html'} and {out / 'report.md'} ({time.perf_counter() - start:.1f} s)")
    return EXIT_OK


def _clip(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"


def build_parser() -> argparse.ArgumentParser:
    from ropecheck import __version__

    parser = argparse.ArgumentParser(prog="ropecheck", description=__doc__)
    parser.add_argument("--version", action="version", version=f"ropecheck {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)

    prove = sub.add_parser("prove", help="prove every symbolic identity with SymPy")
    prove.add_argument("--json", metavar="F", help="also write the results as JSON to F")
    prove.set_defaults(run=_cmd_prove)

    listing = sub.add_parser("list", help="every known implementation: built-in, entry points, specs/")
    listing.add_argument("--specs", default="specs", help="folder of spec files (default: ./specs)")
    listing.set_defaults(run=_cmd_list)

    verify = sub.add_parser("verify", help="run the conformance properties against each target")
    verify.add_argument("targets", nargs="+", metavar="TARGET", help="a spec file, a folder of specs, or a registered name")
    verify.add_argument("--profile", default="ci", help="Hypothesis profile: ci (default), dev, thorough")
    verify.add_argument("--device", choices=("cpu", "cuda"), help="only this device (default: every device the spec claims)")
    verify.add_argument("--json", metavar="F", help="write the verdict as JSON to F")
    verify.add_argument("--markdown", metavar="F", help="write a markdown report to F (a CI artifact)")
    verify.add_argument("--timeout", type=float, metavar="S",
                        help="CPU seconds one property may use (default: 120 for ci, 600 dev, 3600 thorough); "
                             "a busy machine does not count against it")
    verify.add_argument("--specs", default="specs", help="folder searched for registered names (default: ./specs)")
    verify.add_argument("-j", "--jobs", metavar="N",
                        help="checking processes at a time, each with one torch thread (default: the usable cores)")
    verify.add_argument("--property", action="append", metavar="NAME",
                        help="run only this property (repeatable; default: every property)")
    verify.set_defaults(run=_cmd_verify)

    bench = sub.add_parser("bench", help="time each target over a sweep of shapes and dtypes")
    bench.add_argument("targets", nargs="+", metavar="TARGET")
    bench.add_argument("--device", default="cpu", choices=("cpu", "cuda"))
    bench.add_argument("--quick", action="store_true", help="a small sweep that ends within a minute on 2 CPU cores")
    bench.add_argument("--out", required=True, metavar="F.csv")
    bench.add_argument("--plot", metavar="DIR", help="also write throughput plots (PNG) to DIR")
    bench.add_argument("--timeout", type=float, metavar="S",
                       help="CPU seconds one implementation's timing may use (default: 600 with --quick, else 3600)")
    bench.set_defaults(run=_cmd_bench)

    compare = sub.add_parser("compare", help="find statistically significant slowdowns between two bench tables")
    compare.add_argument("base", metavar="BASE.csv")
    compare.add_argument("new", metavar="NEW.csv")
    compare.add_argument("--min-effect", type=float, default=0.05, help="smallest slowdown that counts (default 0.05)")
    compare.add_argument("--alpha", type=float, default=0.01, help="family-wise false-alarm rate (default 0.01)")
    compare.set_defaults(run=_cmd_compare)

    ident = sub.add_parser("identify", help="infer the RoPE convention an unknown callable implements")
    ident.add_argument("target", metavar="module:attr", help="the callable (adapter signature); ./ is put on sys.path")
    ident.add_argument("--json", metavar="F", help="write the fitted convention as JSON to F")
    ident.add_argument("--head-dim", type=int, default=64, metavar="N", help="head_dim of the probe (default 64)")
    ident.add_argument("--device", default="cpu", choices=("cpu", "cuda"))
    ident.add_argument("--max-position", metavar="N",
                       help="never call the target with a position >= N (e.g. its table size); probes that "
                            "need more are skipped and named (default: probe up to 65536, verify to 100000)")
    ident.add_argument("--timeout", type=float, metavar="S", help="CPU seconds the probe may use (default 120)")
    ident.add_argument("--signature", choices=("x", "qk"), default="x",
                       help="the callable's form: rope(x, ...) or rope(q, k, ...) (identified from q's side)")
    ident.add_argument("--packed", action="store_true",
                       help="the callable takes packed (total_tokens, heads, head_dim) tensors and cu_seqlens=")
    ident.set_defaults(run=_cmd_identify)

    rep = sub.add_parser("report", help="write an HTML (and markdown) report with figures to --out")
    rep.add_argument("--out", default="report", metavar="DIR", help="folder for index.html, report.md, figures/ (default: ./report)")
    rep.add_argument("--results", default="results", metavar="DIR", help="folder of result tables (default: ./results)")
    rep.set_defaults(run=_cmd_report)
    return parser


class Terminated(BaseException):
    """SIGTERM or SIGHUP, raised like KeyboardInterrupt so that clean-up code runs."""

    def __init__(self, signum: int):
        super().__init__(signum)
        self.signum = signum


def _raise_terminated(signum: int, _frame) -> None:
    raise Terminated(signum)


def run() -> None:
    """The ``ropecheck`` command (console script and ``python -m ropecheck``): ``main`` and
    then the end of the process. Exit handlers run and the streams are flushed, and then
    the process ends without the interpreter's teardown of torch's modules (about half a
    second per command on a 2-core machine, for nothing: this process ran no user code
    and holds nothing else that must be released)."""
    code = main()
    atexit._run_exitfuncs()
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):  # a closed pipe: nothing more can reach it
            pass
    os._exit(code & 0xFF)


def main(argv: Sequence[str] | None = None) -> int:
    from ropecheck import isolation
    from ropecheck.table import printable

    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # argparse exits 2 on bad arguments, 0 on --help / --version
        return int(exc.code or 0)
    isolation.own_process()
    previous = {s: signal.signal(s, _raise_terminated) for s in (signal.SIGTERM, signal.SIGHUP)}
    try:
        return args.run(args)
    except UsageError as exc:
        print(f"ropecheck: error: {printable(str(exc))}", file=sys.stderr)
        return EXIT_USAGE
    except Stopped as exc:
        print(f"ropecheck: interrupted by {signal.Signals(exc.signum).name}", file=sys.stderr)
        return 128 + exc.signum
    except KeyboardInterrupt:
        print("ropecheck: interrupted by SIGINT", file=sys.stderr)
        return 128 + signal.SIGINT
    except Terminated as exc:
        print(f"ropecheck: interrupted by {signal.Signals(exc.signum).name}", file=sys.stderr)
        return 128 + exc.signum
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)
        isolation.reap_orphans()


if __name__ == "__main__":
    sys.exit(main())
