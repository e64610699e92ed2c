"""The ``ropecheck`` command line (CONTRACT §3). Exit codes: 0 success, 1 a check failed,
2 a usage error (one message naming the file and key)."""

from __future__ import annotations

import argparse
import sys
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

    rows = []
    for item in registry.known(args.specs):
        if item.spec is None:
            rows.append((item.name, item.source, "-", "-", "-", f"invalid: {item.error}"))
        else:
            s = item.spec
            rows.append((s.name, item.source, s.pairing, s.base, ",".join(s.devices), s.origin))
    print(text_table(("name", "source", "pairing", "base", "devices", "origin"), rows))
    return EXIT_OK


def _cmd_verify(args: argparse.Namespace) -> int:
    from ropecheck import engine, profiles, registry, report
    from ropecheck.spec import SpecError
    from ropecheck.storage import atomic_write_json, atomic_write_text

    if args.profile not in profiles.PROFILES:
        raise UsageError(f"--profile: expected one of {', '.join(profiles.PROFILES)}, got {args.profile!r}")
    targets = []
    try:
        for target in args.targets:
            targets += registry.resolve(target, args.specs)
        names: dict[str, str] = {}
        for spec, _ in targets:
            if spec.name in names and names[spec.name] != spec.origin:
                raise SpecError(spec.origin, "name", f"{spec.name!r} is also the name of {names[spec.name]}; names must be unique")
            names[spec.name] = spec.origin
            if not spec.missing_requirements():
                spec.load_callable()
    except SpecError as exc:
        raise UsageError(str(exc)) from None
    seen, results = set(), []
    for spec, ref in targets:
        if spec.name in seen:
            continue
        seen.add(spec.name)
        print(f"verifying {spec.name} ({spec.origin}) ...", file=sys.stderr, flush=True)
        results.append(engine.verify(spec, ref, profile=args.profile, device=args.device, timeout=args.timeout))
    print(report.text_report(results))
    if args.json:
        atomic_write_json(args.json, report.json_report(results))
    if args.markdown:
        atomic_write_text(args.markdown, report.markdown_report(results))
    return EXIT_OK if all(r.conforms for r in results) else EXIT_FAIL


def _cmd_bench(args: argparse.Namespace) -> int:
    from ropecheck import registry
    from ropecheck.bench import plot, run, table
    from ropecheck.conformance_table import library_version
    from ropecheck.spec import SpecError
    from ropecheck.storage import atomic_write_csv

    if not args.out.endswith(".csv"):
        raise UsageError(f"--out: expected a .csv path, got {args.out!r}")
    if args.plot:
        import importlib.util

        if importlib.util.find_spec("matplotlib") is None:
            raise UsageError("--plot needs matplotlib: pip install 'ropecheck[plots]'")
    try:
        specs = [spec for target in args.targets for spec, _ in registry.resolve(target)]
        for spec in specs:
            if not spec.missing_requirements():
                spec.load_callable()
    except SpecError as exc:
        raise UsageError(str(exc)) from None
    if args.device == "cuda":
        import torch

        if not torch.cuda.is_available():
            raise UsageError("--device cuda: CUDA is not available on this machine")
    passes = ["fwd"] if args.quick else ["fwd", "fwd+bwd"]
    rows = run.collect(args.targets, args.device, args.quick, passes)
    if not rows:
        raise UsageError("no target can run on this device here (missing requirements or device not claimed)")
    versions = {spec.name: library_version(spec) for spec in specs}
    frame = table.build(rows, args.device, versions)
    atomic_write_csv(args.out, frame)
    shown = frame[["implementation", "dtype", "kind", "batch", "seq", "heads", "kv_heads", "head_dim", "pass",
                   "median_s", "gbps", "roofline_fraction"]]
    print(shown.to_string(index=False, float_format=lambda v: f"{v:.4g}"))
    print(f"\nwrote {len(frame)} rows to {args.out}")
    if args.plot:
        for path in plot.throughput_plots(frame, args.plot):
            print(f"plot: {path}")
    return EXIT_OK


def _cmd_compare(args: argparse.Namespace) -> int:
    import pandas as pd

    from ropecheck.bench import stats

    frames = []
    for path in (args.base, args.new):
        try:
            frame = pd.read_csv(path)
        except (OSError, ValueError) as exc:
            raise UsageError(f"{path}: cannot read a benchmark table: {exc}") from None
        missing = sorted(set(stats.KEY + ["samples_s", "copy_median_s", "median_s"]) - set(frame.columns))
        if missing:
            raise UsageError(f"{path}: not a ropecheck bench table; missing columns: {', '.join(missing)}")
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
    from ropecheck import identify
    from ropecheck.storage import atomic_write_json
    from ropecheck.table import text_table

    if args.head_dim < 2 or args.head_dim % 2:
        raise UsageError(f"--head-dim: expected an even number >= 2, got {args.head_dim}")
    if args.device == "cuda":
        import torch

        if not torch.cuda.is_available():
            raise UsageError("--device cuda: CUDA is not available on this machine")
    try:
        fn = identify.load(args.target)
    except identify.LoadError as exc:
        raise UsageError(str(exc)) from None
    result = identify.identify(fn, head_dim=args.head_dim, device=args.device)
    print(text_table(("field", "value"), identify.rows(result)))
    for note in result.notes:
        print(f"note: {note}")
    print(f"\n{result.message}")
    if args.json:
        atomic_write_json(args.json, result.to_json())
    return EXIT_OK if result.explained else EXIT_FAIL


def _cmd_report(args: argparse.Namespace) -> int:
    import importlib.util
    import time
    from pathlib import Path

    out = Path(args.out)
    if out.exists() and not out.is_dir():
        raise UsageError(f"--out: {args.out!r} is an existing file; expected a folder (created if absent)")
    if Path(args.results).exists() and not Path(args.results).is_dir():
        raise UsageError(f"--results: {args.results!r} is not a folder")
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
    parser = argparse.ArgumentParser(prog="ropecheck", description=__doc__)
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
    verify.add_argument("--timeout", type=float, metavar="S", help="time limit per property in seconds (default: 120 for ci)")
    verify.add_argument("--specs", default="specs", help="folder searched for registered names (default: ./specs)")
    verify.set_defaults(run=_cmd_verify)

    bench = sub.add_parser("bench", help="time each target over a sweep of shapes and dtypes")
    bench.add_argument("targets", nargs="+", metavar="TARGET")
    bench.add_argument("--device", default="cpu", choices=("cpu", "cuda"))
    bench.add_argument("--quick", action="store_true", help="a small sweep that ends within a minute on 2 CPU cores")
    bench.add_argument("--out", required=True, metavar="F.csv")
    bench.add_argument("--plot", metavar="DIR", help="also write throughput plots (PNG) to DIR")
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
    ident.set_defaults(run=_cmd_identify)

    rep = sub.add_parser("report", help="write an HTML (and markdown) report with figures to --out")
    rep.add_argument("--out", default="report", metavar="DIR", help="folder for index.html, report.md, figures/ (default: ./report)")
    rep.add_argument("--results", default="results", metavar="DIR", help="folder of result tables (default: ./results)")
    rep.set_defaults(run=_cmd_report)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # argparse exits 2 on bad arguments, 0 on --help
        return int(exc.code or 0)
    try:
        return args.run(args)
    except UsageError as exc:
        print(f"ropecheck: error: {exc}", file=sys.stderr)
        return EXIT_USAGE


if __name__ == "__main__":
    sys.exit(main())
