"""The numbers behind the report: results/ tables, the precision horizon, the decay bound,
the attention example. Pure numpy / pandas / torch; no matplotlib."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from ropecheck import oracle, precision, tolerance
from ropecheck.config import RopeConfig
from ropecheck.render import machine as _machine, status
from ropecheck.variants import VARIANTS, rotate_half

# ---------------------------------------------------------------- results/ tables

CONFORMANCE = "conformance.csv"
BENCH_TABLES = ("cuda/bench.csv", "cpu/bench_quick.csv")


def read_table(results: str | Path, name: str) -> pd.DataFrame | None:
    """``results/name`` as a DataFrame, or None when the file is absent or unreadable."""
    path = Path(results) / name
    if not path.is_file():
        return None
    try:
        return pd.read_csv(path, keep_default_na=False, na_values=[""])
    except (OSError, ValueError, pd.errors.ParserError):
        return None


STATUS_WORD = status.WORD  # the old name


def conformance_matrix(table: pd.DataFrame) -> tuple[list[str], list[list[str]]]:
    """Rows implementation + version + device + dtype, one column per property, cells
    passed / FAILED / skipped. Returns (header, rows)."""
    keys = ["implementation", "version", "device", "dtype"]
    props = sorted(table["property"].dropna().unique())
    order = {"float64": 0, "float32": 1, "bfloat16": 2, "float16": 3}
    rows = []
    for key, group in table.groupby(keys, sort=False):
        cells = dict(zip(group["property"], group["status"]))
        rows.append([str(k) for k in key] + [status.word(cells[p]) if p in cells else "–"
                                             for p in props])
    rows.sort(key=lambda r: (r[0], r[2], order.get(r[3], 9), r[1]))
    return keys + props, rows


def conformance_failures(table: pd.DataFrame) -> pd.DataFrame:
    """The failed (or errored) rows with message and counterexample."""
    bad = table[table["status"].astype(str).isin(list(status.BAD))]
    cols = ["implementation", "version", "device", "dtype", "property", "worst_ratio", "message", "counterexample"]
    return bad[[c for c in cols if c in bad.columns]].astype(object).fillna("")


PROPERTY_ABBREV = {
    "oracle_agreement": "orac", "relative_position": "rel", "norm_preservation": "norm", "identity_at_zero": "id0",
    "passthrough_untouched": "pass", "per_row_positions": "rows", "chunked_equals_whole": "chunk",
    "memory_layout": "lay", "output_contract": "out", "input_not_modified": "in", "gradients": "grad",
    "nan_locality": "nan", "determinism": "det", "qk_independence": "qk", "fused_buffer": "fuse",
    "call_history": "hist", "packed_boundaries": "pack",
}
"""The conformance grid's column headings (a legend under the grid spells them out)."""
DTYPE_ORDER = ("float64", "float32", "bfloat16", "float16", "all")
DTYPE_SHORT = {"float64": "f64", "float32": "f32", "bfloat16": "bf16", "float16": "f16", "all": "all"}


def abbreviation(prop: str) -> str:
    """A property's short heading (its first letters when it is not in ``PROPERTY_ABBREV``)."""
    return PROPERTY_ABBREV.get(prop, prop[:5])


def _dtype_key(dtype: str) -> int:
    return DTYPE_ORDER.index(dtype) if dtype in DTYPE_ORDER else len(DTYPE_ORDER)


@dataclass(frozen=True)
class GridCell:
    """One cell of the conformance grid: ``text`` shown, ``status`` its colour (a status word
    or ""), ``title`` every dtype's status (a tooltip)."""

    text: str
    status: str = ""
    title: str = ""


def conformance_grid(table: pd.DataFrame) -> tuple[list[str], list[str], list[list]]:
    """The conformance matrix folded over dtypes, to fit a page: one row per implementation,
    version and device (the dtypes judged in a column), one column per property. A cell is
    FAILED (or ERROR) followed by the dtypes that failed when not every one did, else passed
    when some dtype passed, else skipped; "–" where the property was not run.

    Returns (the properties in column order, the header with abbreviated properties, rows
    whose property cells are ``GridCell``)."""
    keys = ["implementation", "version", "device"]
    props = sorted(table["property"].dropna().astype(str).unique())
    rows = []
    for key, group in table.groupby(keys, sort=False):
        dtypes = sorted({str(d) for d in group["dtype"]}, key=_dtype_key)
        cells = []
        for prop in props:
            mine = group[group["property"].astype(str) == prop]
            if mine.empty:
                cells.append(GridCell("–"))
                continue
            per = {str(d): str(st) for d, st in zip(mine["dtype"], mine["status"])}
            title = ", ".join(f"{d}: {status.word(per[d])}" for d in sorted(per, key=_dtype_key))
            bad = [d for d in sorted(per, key=_dtype_key) if per[d] in status.BAD]
            if bad:
                word = status.word("error" if all(per[d] == "error" for d in bad) else "failed")
                which = "" if len(bad) == len(per) else " " + " ".join(DTYPE_SHORT.get(d, d) for d in bad)
                cells.append(GridCell(word + which, word, title))
            elif "passed" in per.values():
                cells.append(GridCell(status.word("passed"), status.word("passed"), title))
            else:
                first = next(iter(per.values()))
                cells.append(GridCell(status.word(first), status.word(first) if status.is_word(status.word(first))
                                      else "", title))
        rows.append([str(k) for k in key] + ["\u00a0".join(DTYPE_SHORT.get(d, d) for d in dtypes)] + cells)
    rows.sort(key=lambda r: (r[0], r[2], r[1]))
    return props, keys + ["dtypes"] + [abbreviation(p) for p in props], rows


def cause(message: str) -> str:
    """What failure groups share: an exception's whole message (type, text and where it was
    raised), else the message's first clause ("disagrees with the oracle: the output
    matches ..." -> "disagrees with the oracle"), so dtypes whose explanations differ
    in detail fall in one group."""
    text = " ".join(str(message).split())
    return text if text.startswith(("raised ", "not run: ")) else text.split(": ")[0]


@dataclass(frozen=True)
class FailureGroup:
    """Failed rows of one implementation (and version) with one cause (the same message)."""

    implementation: str
    version: str
    cause: str
    messages: tuple[tuple[str, str, str], ...]  # (each distinct message, the "property dtype device" rows it
    #                                              names, the first of their counterexamples)
    properties: tuple[str, ...]
    dtypes: tuple[str, ...]
    devices: tuple[str, ...]
    worst_ratio: float | None
    rows: int


def failure_groups(table: pd.DataFrame) -> list[FailureGroup]:
    """The failed (or errored) rows grouped by implementation, version and cause; per
    implementation the largest group first."""
    bad = conformance_failures(table)
    groups = []
    if bad.empty:
        return groups
    bad = bad.assign(cause=bad["message"].map(cause))
    for (impl, version, why), g in bad.groupby(["implementation", "version", "cause"], sort=False):
        ratios = pd.to_numeric(g.get("worst_ratio", pd.Series(dtype=float)), errors="coerce").dropna()
        messages: dict[str, tuple[list[str], list[str]]] = {}
        for _, r in g.iterrows():
            named, found = messages.setdefault(" ".join(str(r["message"]).split()), ([], []))
            named.append(f"{r['property']} {DTYPE_SHORT.get(str(r['dtype']), r['dtype'])} {r['device']}")
            if str(r.get("counterexample", "")):
                found.append(str(r["counterexample"]))
        groups.append(FailureGroup(
            str(impl), str(version), why,
            tuple((m, ", ".join(named), found[0] if found else "") for m, (named, found) in messages.items()), tuple(sorted({str(p) for p in g["property"]})),
            tuple(sorted({str(d) for d in g["dtype"]}, key=_dtype_key)), tuple(sorted({str(d) for d in g["device"]})),
            float(ratios.max()) if len(ratios) else None, len(g)))
    groups.sort(key=lambda f: (f.implementation, f.version, -f.rows, f.cause))
    return groups


@dataclass(frozen=True)
class Verdict:
    """One implementation (and version) of the table: whether every row passed or skipped,
    and its failure groups."""

    implementation: str
    version: str
    rows: int
    groups: tuple[FailureGroup, ...]

    @property
    def conforms(self) -> bool:
        return not self.groups


def verdicts(table: pd.DataFrame) -> list[Verdict]:
    """Every (implementation, version) of the table in name order, with its failure groups."""
    groups = failure_groups(table)
    found = []
    for (impl, version), g in table.groupby(["implementation", "version"], sort=True):
        mine = tuple(f for f in groups if f.implementation == str(impl) and f.version == str(version))
        found.append(Verdict(str(impl), str(version), len(g), mine))
    return found


def metadata(table: pd.DataFrame, columns=("device_name", "torch", "date")) -> str:
    """'device_name X; torch Y; date Z' from the distinct values of a table's metadata."""
    parts = []
    for col in columns:
        if col in table.columns:
            values = sorted({str(v)[:10] if col == "date" else str(v) for v in table[col].dropna()})
            if values:
                parts.append(f"{col} {', '.join(values)}")
    return "; ".join(parts)


# ---------------------------------------------------------------- the live machine

def machine() -> str:
    """Where the live figures were computed: CPU / OS, torch version, today's date
    (``render.machine.describe``)."""
    return _machine.describe()


# ---------------------------------------------------------------- precision horizon

HEAD_DIM, BASE = 128, 10000.0
PRECISION_DTYPES = ("float64", "float32", "bfloat16", "float16")
HORIZON_LIMIT = 2 ** 24


def probe_positions() -> list[int]:
    """0, every power of two up to 2**24, and 3 * 2**k between them (49 positions)."""
    return precision.probe_positions()


def angles_in_dtype(x: torch.Tensor, positions: torch.Tensor, config: RopeConfig) -> torch.Tensor:
    """An illustration, not a built-in: half-split RoPE whose angles ``m * inv_freq`` are
    formed in x's own dtype (positions cast to bfloat16 / float16 first), a common slip
    that the tolerance model rejects once |m theta| is a few radians."""
    dtype = x.dtype
    inv = 1.0 / (config.base ** (torch.arange(0, config.rotary_dim, 2, dtype=torch.float64) / config.rotary_dim))
    theta = positions.to(dtype)[..., None] * inv.to(dtype)
    emb = torch.cat((theta, theta), dim=-1)[:, :, None, :]
    rot = x[..., : config.rotary_dim]
    out = rot * torch.cos(emb) + rotate_half(rot) * torch.sin(emb)
    return torch.cat([out.to(dtype), x[..., config.rotary_dim:]], dim=-1)


ILLUSTRATION = "angles-in-dtype (illustration)"


def sweep_functions() -> dict[str, tuple]:
    """name -> (function, pairing): the five built-ins and the illustration."""
    return {**VARIANTS, ILLUSTRATION: (angles_in_dtype, "half_split")}


def precision_sweep(positions: list[int] | None = None, dtypes=PRECISION_DTYPES, seed: int = 0) -> pd.DataFrame:
    """worst err/allowed (``tolerance.compare``) and worst error per probed position.

    Each function is called once on x of shape (1, len(positions), 2, 128) drawn from a
    seeded normal distribution, one token per position, base 10000; the output is then
    judged one token at a time. Columns: implementation, dtype, position, worst_ratio,
    worst_error.
    """
    positions = probe_positions() if positions is None else positions
    pos = torch.tensor([positions], dtype=torch.int64)
    gen = torch.Generator().manual_seed(seed)
    x64 = torch.randn(1, len(positions), 2, HEAD_DIM, generator=gen, dtype=torch.float64)
    rows = []
    for name, (fn, pairing) in sweep_functions().items():
        config = RopeConfig(base=BASE, rotary_dim=HEAD_DIM, pairing=pairing, head_dim=HEAD_DIM)
        for dtype in dtypes:
            x = x64.to(tolerance.DTYPES[dtype])
            with torch.no_grad():
                y = fn(x, pos, config)
            for i, p in enumerate(positions):
                c = tolerance.compare(y[:, i:i + 1], x[:, i:i + 1], pos[:, i:i + 1], config)
                rows.append((name, dtype, p, c.worst_ratio, c.worst_error))
    return pd.DataFrame(rows, columns=["implementation", "dtype", "position", "worst_ratio", "worst_error"])


@dataclass(frozen=True)
class Measured:
    """The live sweep of the conformance table's implementations (``implementation_sweeps``):
    ``sweep`` as ``precision_sweep``'s plus ``version`` and ``device``; ``notes`` says, per
    implementation or (implementation, dtype), why there is no curve."""

    sweep: pd.DataFrame
    notes: dict[str, str]


def table_implementations(table: pd.DataFrame | None) -> list[str]:
    """The implementations of a conformance table that are not ropecheck's built-ins (those
    are in ``precision_sweep`` already), in the table's order."""
    if table is None:
        return []
    return [n for n in dict.fromkeys(table["implementation"].astype(str)) if n not in VARIANTS]


def implementation_sweeps(names: list[str], specs: str | Path = "specs", positions: list[int] | None = None,
                          timeout: float | None = None) -> Measured:
    """Error against position of each named implementation, measured live from its spec (found
    as ``verify NAME`` finds it: ``specs`` folder, entry points) by ``precision.spec_sweep`` in a
    checking process: the implementation's code never runs in this process. On the first
    claimed device of cpu, then cuda where CUDA is available. Names that cannot be resolved,
    imported or swept get a note instead of a curve."""
    from ropecheck import engine, registry
    from ropecheck.render import machine as _m
    from ropecheck.spec import SpecError

    positions = probe_positions() if positions is None else positions
    rows, notes = [], {}
    cuda = torch.cuda.is_available()
    pool = engine.Pool(fork=True) if names else None
    try:
        for name in names:
            try:
                spec = registry.resolve(name, specs)[0][0]
            except SpecError as exc:
                notes[name] = f"no spec to load it from ({exc})"
                continue
            why = precision.not_measurable(spec)
            devices = [d for d in ("cpu", "cuda") if d in spec.devices and (d == "cpu" or cuda)]
            missing = spec.missing_requirements()
            if missing:
                why = f"requires {', '.join(missing)}, not installed here"
            elif not devices:
                why = f"claims {', '.join(spec.devices)}, not available here"
            if why:
                notes[name] = why
                continue
            try:
                found = engine.precision_sweep(spec, positions, devices[0], timeout=timeout, pool=pool)
            except engine.LoadError as exc:
                notes[name] = str(exc)
                continue
            version = _m.library_version(spec)
            for r in found:
                if r["position"] is None:
                    notes[f"{name} {r['dtype']}"] = r["message"]
                    continue
                rows.append((name, r["dtype"], r["position"], r["worst_ratio"], r["worst_error"], version, devices[0]))
    finally:
        if pool is not None:
            pool.close()
    sweep = pd.DataFrame(rows, columns=["implementation", "dtype", "position", "worst_ratio", "worst_error",
                                        "version", "device"])
    for col in ("worst_ratio", "worst_error"):
        sweep[col] = sweep[col].astype(float)
    return Measured(sweep, notes)


@dataclass(frozen=True)
class Horizon:
    """The largest probed position before the first ratio > 1; ``complete`` when no probe failed."""

    position: int
    complete: bool

    def describe(self) -> str:
        if self.complete:
            k = int(np.log2(self.position)) if self.position > 0 else 0
            return f"≥ 2**{k}" if 2 ** k == self.position else f"≥ {self.position}"
        return f"{self.position}"


def horizon(positions, ratios) -> Horizon:
    """Horizon of one curve: positions ascending, ratios the worst err/allowed at each."""
    last = None
    for p, r in zip(positions, ratios):
        if not r <= 1.0:  # NaN counts as a failure
            return Horizon(position=-1 if last is None else int(last), complete=False)
        last = p
    return Horizon(position=-1 if last is None else int(last), complete=True)


def horizon_table(sweep: pd.DataFrame) -> pd.DataFrame:
    """One row per (implementation, dtype): horizon, its text, worst ratio and error over all positions."""
    rows = []
    for (name, dtype), group in sweep.groupby(["implementation", "dtype"], sort=False):
        group = group.sort_values("position")
        h = horizon(group["position"], group["worst_ratio"])
        rows.append((name, dtype, h.position, h.complete, h.describe(),
                     float(group["worst_ratio"].max()), float(group["worst_error"].max())))
    return pd.DataFrame(rows, columns=["implementation", "dtype", "horizon", "complete", "horizon_text",
                                       "max_ratio", "max_error"])


# ---------------------------------------------------------------- long-term decay

def decay_bound(distances, head_dim: int, base: float) -> np.ndarray:
    """RoFormer's relative upper bound of |q^T R_r k| against relative distance r:
    sum_{j=1}^{d/2} |S_j| with S_j = sum_{k<j} exp(i r theta_k), theta_k = base**(-2k/d),
    divided by its value at r = 0, (d/2)(d/2+1)/2, so that every curve starts at 1."""
    r = np.asarray(distances, dtype=np.float64)
    half = head_dim // 2
    theta = base ** (-2.0 * np.arange(half) / head_dim)
    partial = np.cumsum(np.exp(1j * r[:, None] * theta[None, :]), axis=1)  # S_1 .. S_{d/2}
    return np.abs(partial).sum(axis=1) / (half * (half + 1) / 2)


# ---------------------------------------------------------------- attention example

SENTENCE = "the quick brown fox jumps over the lazy dog".split()


def attention_example(tokens=SENTENCE, heads: int = 4, head_dim: int = 32, seed: int = 0) -> np.ndarray:
    """softmax(q k^T / sqrt(d)) per head, shape (heads, n, n), with seeded random embeddings
    (one per distinct word) and projections, RoPE (the float64 oracle, half-split, base 10000)
    applied to q and k. Nothing is trained."""
    gen = torch.Generator().manual_seed(seed)
    vocab = {w: i for i, w in enumerate(dict.fromkeys(tokens))}
    model_dim = heads * head_dim
    embed = torch.randn(len(vocab), model_dim, generator=gen, dtype=torch.float64)
    wq = torch.randn(model_dim, model_dim, generator=gen, dtype=torch.float64) / model_dim ** 0.5
    wk = torch.randn(model_dim, model_dim, generator=gen, dtype=torch.float64) / model_dim ** 0.5
    x = embed[[vocab[w] for w in tokens]][None]  # (1, n, model_dim)
    n = len(tokens)
    q = (x @ wq).view(1, n, heads, head_dim)
    k = (x @ wk).view(1, n, heads, head_dim)
    config = RopeConfig(base=10000.0, rotary_dim=head_dim, pairing="half_split", head_dim=head_dim)
    pos = torch.arange(n, dtype=torch.int64)[None]
    q, k = oracle.rope(q, pos, config), oracle.rope(k, pos, config)
    scores = torch.einsum("bthd,bshd->bhts", q, k) / head_dim ** 0.5
    return torch.softmax(scores, dim=-1)[0].numpy()


def repeated_vector_scores(n: int = 24, head_dim: int = 32, seed: int = 1) -> np.ndarray:
    """q_m^T k_n / sqrt(d) when the same q and the same k sit at every position: RoPE makes
    it a function of n - m alone (a Toeplitz matrix). Shape (n, n)."""
    gen = torch.Generator().manual_seed(seed)
    q = torch.randn(head_dim, generator=gen, dtype=torch.float64).expand(1, n, 1, head_dim)
    k = torch.randn(head_dim, generator=gen, dtype=torch.float64).expand(1, n, 1, head_dim)
    config = RopeConfig(base=10000.0, rotary_dim=head_dim, pairing="half_split", head_dim=head_dim)
    pos = torch.arange(n, dtype=torch.int64)[None]
    qr, kr = oracle.rope(q.contiguous(), pos, config), oracle.rope(k.contiguous(), pos, config)
    return (qr[0, :, 0] @ kr[0, :, 0].T / head_dim ** 0.5).numpy()


def rotation_frequencies(head_dim: int = 8, base: float = 10000.0) -> tuple[float, float]:
    """theta_0 = 1 and theta_1 = base**(-2/head_dim): the two frequencies of the rotation picture."""
    return 1.0, base ** (-2.0 / head_dim)

