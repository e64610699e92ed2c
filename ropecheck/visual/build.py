"""Assemble the report: compute, draw, write both pages into a temporary sibling folder,
then move it into place, so ``--out`` holds a whole report or the previous one."""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

import numpy as np

from ropecheck.bench.plot import throughput_plots
from ropecheck.visual import data, figures, page
from ropecheck.visual.page import Code, Figure, Section, Table, Text

TITLE = "ropecheck report"
DECAY_DIMS, DECAY_BASES = (64, 128, 256), (10000.0, 500000.0)


def _fig(path: Path, caption: str, alt: str) -> Figure:
    return Figure(src=f"figures/{path.name}", caption=caption, alt=alt)


def conformance_section(results: Path) -> Section:
    sec = Section("conformance", "Conformance matrix")
    table = data.read_table(results, data.CONFORMANCE)
    if table is None:
        sec.blocks.append(Text(f"no {results / data.CONFORMANCE} table here: make one with `ropecheck verify TARGET "
                               f"--conformance {results / data.CONFORMANCE}` (every claimed dtype in one run, dtype "
                               f"'all') or `ropecheck conformance-table TARGET --out {results / data.CONFORMANCE}` "
                               "(one run per dtype)."))
        return sec
    header, rows = data.conformance_matrix(table)
    sec.blocks += [
        Text(f"From {results / data.CONFORMANCE} ({len(table)} rows; {data.metadata(table)}). One row per "
             "implementation, version, device and dtype; one column per property; passed / FAILED / skipped "
             "(– where the property was not run)."),
        Table(header, rows),
    ]
    failures = data.conformance_failures(table)
    sec.blocks.append(Text(f"{len(failures)} failure(s), each with its message and counterexample:"))
    for _, f in failures.iterrows():
        ratio = f"; worst err/allowed {float(f['worst_ratio']):.3g}" if str(f.get("worst_ratio", "")) not in ("", "nan") else ""
        title = f"{f['implementation']} ({f['version']}), {f['device']}, {f['dtype']}: {f['property']}{ratio}"
        sec.blocks.append(Code(title, f"{f['message']}\n\ncounterexample:\n{f['counterexample'] or '(none recorded)'}"))
    return sec


def precision_section(folder: Path, machine: str) -> tuple[Section, object]:
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
        Table(["implementation", "dtype", "precision horizon", "max err/allowed", "max error"],
              [[r.implementation, r.dtype, r.horizon_text, f"{r.max_ratio:.3g}", f"{r.max_error:.3g}"]
               for r in horizons.itertuples()]),
    ]
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


def build(out: str | Path, results: str | Path = "results") -> tuple[Path, object]:
    """Write ``out/index.html``, ``out/report.md`` and ``out/figures/*.png``.

    Returns (out, the horizon table). The report is built in a temporary sibling folder and
    renamed into place; an existing ``out`` folder is replaced only once the new one is whole.
    """
    out, results = Path(out), Path(results)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.", dir=out.parent))
    try:
        folder = tmp / "figures"
        folder.mkdir()
        machine = data.machine()
        precision, horizons = precision_section(folder, machine)
        sections = [conformance_section(results), precision, decay_section(folder, machine),
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
