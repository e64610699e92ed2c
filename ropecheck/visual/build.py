"""Assemble the report: compute, draw, write both pages into a temporary sibling folder,
then move it into place, so ``--out`` holds a whole report or the previous one."""

from __future__ import annotations

import os
import re
import shutil
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd

from ropecheck.bench.plot import throughput_plots
from ropecheck.visual import data, figures, page
from ropecheck.visual.page import Code, Details, Figure, Items, Section, Table, Text

TITLE = "ropecheck report"
DECAY_DIMS, DECAY_BASES = (64, 128, 256), (10000.0, 500000.0)


def _fig(path: Path, caption: str, alt: str) -> Figure:
    return Figure(src=f"figures/{path.name}", caption=caption, alt=alt)


def _missing_conformance(results: Path) -> Text:
    return Text(f"no {results / data.CONFORMANCE} table here: make one with `ropecheck verify TARGET "
                f"--conformance {results / data.CONFORMANCE}` (every claimed dtype in one run, dtype "
                f"'all') or `ropecheck conformance-table TARGET --out {results / data.CONFORMANCE}` "
                "(one run per dtype).")


def _short(cause: str) -> str:
    """A cause for one line: ``(at /long/path/file.py:12)`` as ``(at file.py:12)``."""
    return re.sub(r"\(at (?:\S*/)?([^/\s]+:\d+)\)", r"(at \1)", cause)


def _list(words, limit: int = 4) -> str:
    words = list(words)
    return ", ".join(words[:limit]) + (f" and {len(words) - limit} more" if len(words) > limit else "")


def _where(group: data.FailureGroup) -> str:
    dtypes = " ".join(data.DTYPE_SHORT.get(d, d) for d in group.dtypes)
    return (f"{len(group.properties)} propert{'y' if len(group.properties) == 1 else 'ies'} "
            f"({_list(group.properties)}); {dtypes}; {', '.join(group.devices)}")


def summary_section(results: Path, table, horizons, measured: data.Measured | None) -> Section:
    """First on the page: how many implementations conform, one line per one that fails
    (its largest cause), and whose precision horizon falls short of the probed range."""
    sec = Section("summary", "Summary")
    if table is None:
        sec.blocks.append(_missing_conformance(results))
    else:
        verdicts = data.verdicts(table)
        good = [v for v in verdicts if v.conforms]
        sec.blocks.append(Text(f"{len(good)} of {len(verdicts)} implementations (name and version) in "
                               f"{results / data.CONFORMANCE} conform: every property passed or did not apply, on "
                               "every device and dtype judged. Each one that fails, with its most frequent cause "
                               "(details under Failures):"))
        lines = []
        for v in verdicts:
            if v.conforms:
                continue
            first, more = v.groups[0], len(v.groups) - 1
            lines.append(f"✗ {v.implementation} ({v.version}): {_short(first.cause)} — {_where(first)}"
                         + (f"; and {more} other cause{'s' if more > 1 else ''}" if more else ""))
        lines.append("✓ conform: " + (", ".join(f"{v.implementation} ({v.version})" for v in good) or "none"))
        sec.blocks.append(Items(lines))
    short = horizons[~horizons["complete"]] if horizons is not None and len(horizons) else horizons
    if horizons is not None and len(horizons):
        mine = horizons[~horizons["implementation"].isin(list(data.sweep_functions()))]
        text = (f"Precision horizon, measured live: {mine['implementation'].nunique()} implementation(s) of the table "
                "besides the built-ins; ")
        bad = short[~short["implementation"].isin([data.ILLUSTRATION])]
        if bad.empty:
            text += "every one measured stays within tolerance at every probed position in every dtype it claims."
        else:
            text += "these exceed the tolerance before the last probed position:"
        sec.blocks.append(Text(text))
        if not bad.empty:
            sec.blocks.append(Items([f"✗ {r.implementation} {r.dtype}: horizon {r.horizon_text} "
                                     f"(max err/allowed {r.max_ratio:.3g})" for r in bad.itertuples()]))
    if measured is not None and measured.notes:
        sec.blocks.append(Text(f"Not measured: {_list(sorted(measured.notes), 6)} (why: under Error against position)."))
    return sec


def conformance_section(results: Path, table) -> Section:
    """The property matrix of ``table`` (``results``' conformance table, None when absent)."""
    sec = Section("conformance", "Conformance matrix")
    if table is None:
        sec.blocks.append(_missing_conformance(results))
        return sec
    props, header, rows = data.conformance_grid(table)
    legend = "; ".join(f"{data.abbreviation(p)} = {p}" for p in props)
    sec.blocks += [
        Text(f"From {results / data.CONFORMANCE} ({len(table)} rows; {data.metadata(table)}). One row per "
             "implementation, version and device, with the dtypes judged (all: every claimed dtype in one "
             "`verify --conformance` run); one column per property. A cell is FAILED (followed by the dtypes "
             "that failed when not every one did), passed, or skipped where the property does not apply; – where "
             "it was not run. Hover a cell for each dtype's status."),
        Table(header, rows, titles=["", "", "", ""] + props, wrap=True),
        Text(f"Columns: {legend}."),
    ]
    return sec


def failures_section(results: Path, table) -> Section:
    """Every failed row of ``table`` (``results``' conformance table, None when absent), grouped
    by implementation and cause, each group folded (``<details>``)."""
    sec = Section("failures", "Failures")
    if table is None:
        sec.blocks.append(_missing_conformance(results))
        return sec
    groups = data.failure_groups(table)
    n_rows = sum(g.rows for g in groups)
    sec.blocks.append(Text(f"{n_rows} failed row(s) of {results / data.CONFORMANCE} in {len(groups)} group(s): "
                           "one per implementation, version and cause (an exception's message, else the "
                           "message's first clause). Open a group for each distinct message, the rows it names "
                           "(property, dtype, device) and a counterexample of those rows."))
    for g in groups:
        ratio = f"; worst err/allowed {g.worst_ratio:.3g}" if g.worst_ratio is not None else ""
        blocks = [Code(rows_named, f"{message}\n\ncounterexample:\n{example or '(none recorded)'}")
                  for message, rows_named, example in g.messages]
        sec.blocks.append(Details(f"{g.implementation} ({g.version}): {_short(g.cause)} — {g.rows} row(s): {_where(g)}{ratio}",
                                  blocks))
    return sec


def _horizon_rows(horizons) -> list[list[str]]:
    return [[r.implementation, r.dtype, r.horizon_text, f"{r.max_ratio:.3g}", f"{r.max_error:.3g}"]
            for r in horizons.itertuples()]


def precision_section(folder: Path, machine: str, measured: data.Measured | None = None) -> tuple[Section, object]:
    sec = Section("precision", "Error against position and the precision horizon")
    sweep = data.precision_sweep()
    horizons = data.horizon_table(sweep)
    path = figures.precision(sweep, folder)
    n = sweep["position"].nunique()
    sec.blocks += [
        Text("Each built-in variant (and, for contrast, an illustration that forms its angles in the input "
             "dtype) is called on a seeded random x of head_dim 128, base 10000, one token at each of "
             f"{n} positions (0, 2**k for k ≤ 24 and 3·2**k between), and judged by tolerance.compare "
             "one token at a time: worst err/allowed, where allowed grows with |mθ| as the tolerance model "
             "says. The precision horizon is the largest probed position before the first ratio above 1 "
             "(≥ 2**24 when none)."),
        _fig(path, f"Worst error/allowed against position, per dtype (log-log); red dashed: the tolerance (ratios drawn "
                   f"within [1e-4, 1e6], inf at 1e6). Computed live on {machine}.", "precision: error/allowed against position"),
        Table(["implementation", "dtype", "precision horizon", "max err/allowed", "max error"], _horizon_rows(horizons)),
    ]
    if measured is None:
        return sec, horizons
    sec.blocks.append(Text(
        "The implementations of the conformance table (besides the built-ins), measured the same way, live, each "
        "in a checking process (its code never runs in the report's process): its spec is found as `verify NAME` "
        "finds it (--specs folder, entry points) and its callable called in the spec's form (x or q/k, packed) "
        "once per claimed dtype, one token per row, head_dim 128 rotated whole, base 10000 (or the spec's), no "
        "scaling, on cpu (cuda where the spec claims only cuda and CUDA is here), with the library installed here "
        "(the version column; the table's rows may name another). Positions stop below the spec's max_position, "
        "so a horizon of ≥ 98304 means no failure up to a max_position of 131072."))
    mine = data.horizon_table(measured.sweep) if len(measured.sweep) else None
    if mine is not None:
        extra = measured.sweep.groupby("implementation")[["version", "device"]].first()
        sec.blocks += [
            _fig(figures.precision(measured.sweep, folder, filename="precision_table.png"),
                 f"Worst error/allowed against position, per dtype, of the table's implementations; red dashed: the "
                 f"tolerance. Computed live on {machine}.", "precision of the table's implementations"),
            Table(["implementation", "dtype", "precision horizon", "max err/allowed", "max error", "version", "device"],
                  [row + [extra.loc[row[0], "version"], extra.loc[row[0], "device"]] for row in _horizon_rows(mine)]),
        ]
        horizons = pd.concat([horizons, mine], ignore_index=True)
    if measured.notes:
        sec.blocks += [Text("Not measured:"), Items([f"{name}: {why}" for name, why in sorted(measured.notes.items())])]
    return sec, horizons


def decay_section(folder: Path, machine: str) -> Section:
    r = np.concatenate([[0.0], np.unique(np.logspace(0, 4, 1500).round())])
    curves = {(d, b): (r, data.decay_bound(r, d, b)) for d in DECAY_DIMS for b in DECAY_BASES}
    path = figures.decay(curves, folder)
    return Section("decay", "Long-term decay", [
        Text("RoFormer's bound: |q^T R_(n−m) k| ≤ (max_j |h_j − h_(j+1)|) Σ_j |S_j| with "
             "S_j = Σ_(k<j) exp(i (n−m) θ_k), θ_k = base^(−2k/d). The curves show Σ_j |S_j| divided by its "
             "value at distance 0, for head dims 64, 128, 256 and bases 10000 and 500000."),
        _fig(path, f"Relative upper bound against relative distance 0..10000 (symlog x); numpy, "
                   f"computed on {machine}.", "long-term decay curves"),
    ])


def attention_section(folder: Path, machine: str) -> Section:
    probs = data.attention_example()
    p1 = figures.attention(probs, data.SENTENCE, folder)
    p2 = figures.toeplitz(data.repeated_vector_scores(), folder)
    return Section("attention", "Attention heatmaps", [
        Text(f"The sentence \"{' '.join(data.SENTENCE)}\", one seeded random embedding per word, seeded random "
             "q/k projections (4 heads × 32 dims), RoPE by the float64 oracle (half-split, base 10000) on q and k, "
             "softmax(q k^T / √32) per head. Nothing is trained: the pattern is the embeddings' and RoPE's."),
        _fig(p1, f"Attention weights per head (rows: queries, columns: keys). Computed on {machine}.",
             "attention heatmaps per head"),
        _fig(p2, "Score q_m^T k_n / √32 with the same q and the same k at every one of 24 positions: constant along "
                 f"each diagonal (a Toeplitz matrix), RoPE's relative-position property. Computed on {machine}.",
             "Toeplitz score matrix"),
    ])


def rotation_section(folder: Path, machine: str) -> Section:
    thetas = data.rotation_frequencies()
    path = figures.rotation((0.8, 0.45), thetas, folder)
    return Section("rotation", "The rotation", [
        Text("One pair (x_2i, x_2i+1) = (0.8, 0.45) of a head_dim-8 vector rotated by mθ_i for positions "
             f"m = 0..7: θ_0 = 1 rad (fast) and θ_1 = 10000^(−2/8) = {thetas[1]:.3g} rad (slow). The length "
             "never changes; only the angle carries the position."),
        _fig(path, f"x rotated by m·θ on the unit circle for two frequencies; drawn on {machine}.",
             "rotation of a 2-D vector"),
    ])


def bench_section(results: Path, folder: Path) -> Section:
    sec = Section("throughput", "Throughput and roofline")
    for name in data.BENCH_TABLES:
        table = data.read_table(results, name)
        if table is None:
            sec.blocks.append(Text(f"no {results / name} table here (run `ropecheck bench` to make one)."))
            continue
        tag = name.split("/")[0]
        meta = data.metadata(table)
        sec.blocks.append(Text(f"{results / name}: {len(table)} rows; {meta}."))
        for path in throughput_plots(table, folder):  # the same figures as `ropecheck bench --plot`
            sec.blocks.append(_fig(path, f"Achieved GB/s against tokens per call ({path.stem.removeprefix('throughput_')}), "
                                         "prefill, per implementation; black dashed: a plain copy of the same bytes "
                                         f"(the roofline). From {results / name} ({meta}).", f"throughput {path.stem}"))
        sec.blocks.append(_fig(figures.roofline(table, folder, tag),
                               f"Fraction of the copy roofline (gbps / copy_gbps) at the largest forward prefill shape. "
                               f"From {results / name} ({meta}).", f"roofline fraction {tag}"))
    return sec


def build(out: str | Path, results: str | Path = "results", specs: str | Path = "specs") -> tuple[Path, object]:
    """Write ``out/index.html``, ``out/report.md`` and ``out/figures/*.png``.

    The implementations of ``results/conformance.csv`` that are not built-ins are measured live
    from their specs (found in ``specs`` as ``verify NAME`` finds them), in checking processes.
    Returns (out, the horizon table: the built-ins' and the measured implementations'). The report is built in a temporary sibling folder and
    renamed into place; an existing ``out`` folder is replaced only once the new one is whole.
    """
    out, results = Path(out), Path(results)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.", dir=out.parent))
    try:
        folder = tmp / "figures"
        folder.mkdir()
        machine = data.machine()
        table = data.read_table(results, data.CONFORMANCE)
        measured = data.implementation_sweeps(data.table_implementations(table), specs)
        precision, horizons = precision_section(folder, machine, measured)
        sections = [summary_section(results, table, horizons, measured), conformance_section(results, table),
                    failures_section(results, table), precision, decay_section(folder, machine),
                    attention_section(folder, machine), rotation_section(folder, machine),
                    bench_section(results, folder)]
        intro = (f"Generated by `ropecheck report` from {results}/ and live computations on {machine}. "
                 "Everything this page needs is in this folder: no network access.")
        (tmp / "index.html").write_text(page.to_html(TITLE, intro, sections), encoding="utf-8")
        (tmp / "report.md").write_text(page.to_markdown(TITLE, intro, sections), encoding="utf-8")
        os.chmod(tmp, 0o755)
        old = None
        if out.exists():
            old = Path(tempfile.mkdtemp(prefix=f".{out.name}.old.", dir=out.parent))
            os.replace(out, old / out.name)
        os.replace(tmp, out)
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return out, horizons
