"""Error against position for any implementation in its spec's form: the numbers behind the
report's precision horizon (``ropecheck.visual.data``). Pure torch; the report runs
``spec_sweep`` in a checking process (``engine.precision_sweep``), never in its own.

One call per claimed dtype on ``len(positions)`` one-token rows (one token per sequence when
packed; ``positions = "consecutive"`` holds trivially), head_dim 128 rotated whole, base
10000 (or the spec's base), the default frequencies (no scaling); x (q and k) drawn from a
seeded normal distribution in float64 and cast. Each token is then judged on its own by
``tolerance.compare``: worst err/allowed and worst absolute error per position.
"""

from __future__ import annotations

from ropecheck.config import RopeConfig
from ropecheck.spec import Spec

HEAD_DIM, BASE = 128, 10000.0


def probe_positions(limit: int | None = None) -> list[int]:
    """0, every power of two up to 2**24, and 3 * 2**k between them (49 positions); only those
    below ``limit`` (a spec's max_position) when given."""
    pos = sorted({0} | {2 ** k for k in range(25)} | {3 * 2 ** k for k in range(23)})
    return pos if limit is None else [p for p in pos if p < limit]


def not_measurable(spec: Spec) -> str:
    """Why ``spec_sweep`` cannot measure ``spec``, or ""."""
    if spec.multi_axis:
        return f"multi-axis positions ({', '.join(spec.multi_axis)}) have no single position to sweep"
    if spec.max_position < 2:
        return f"max_position = {spec.max_position} leaves no position to sweep"
    return ""


def _worse(a: float, b: float) -> float:
    """The larger, NaN winning (a NaN output is the worst there is)."""
    return b if b != b or b > a else a


def spec_sweep(fn, spec: Spec, positions: list[int] | None = None, device: str = "cpu", seed: int = 0) -> list[dict]:
    """One row per (dtype, position): ``dtype``, ``position``, ``worst_ratio``, ``worst_error``;
    or, for a dtype whose call fails (raises, wrong shape), one row with ``message`` and
    ratio/error None. Positions at or past the spec's max_position are left out."""
    import torch

    from ropecheck import tolerance
    from ropecheck.properties._base import NotJudged, PropertyFailed, Subject
    from ropecheck.properties._calls import call, keep
    from ropecheck.strategies import RopeCase

    positions = [p for p in (probe_positions() if positions is None else positions) if p < spec.max_position]
    base = BASE if spec.base == "any" else float(spec.base)
    config = RopeConfig(base=base, rotary_dim=HEAD_DIM, pairing=spec.pairing, head_dim=HEAD_DIM)
    subject = Subject(fn=fn, spec=spec, device=device)
    n, qk = len(positions), spec.signature == "qk"
    rows: list[dict] = []
    for dtype in spec.dtypes:
        case = RopeCase(batch=n, seq=1, heads=2, head_dim=HEAD_DIM, dtype=dtype, config=config,
                        positions=tuple((p,) for p in positions), seed=seed,
                        kv_heads=1 if qk else None, lengths=(1,) * n if spec.packed else None)
        inputs = case.inputs(device)
        xs = keep(inputs)
        try:
            with torch.no_grad():
                outs = call(subject, case, inputs)
        except (PropertyFailed, NotJudged) as exc:
            rows.append(dict(dtype=dtype, position=None, worst_ratio=None, worst_error=None,
                             message=str(getattr(exc, "cause", exc))))
            continue
        pos = torch.tensor(positions, dtype=torch.int64).reshape(n, 1)
        outs = [y.detach().cpu().reshape((n, 1) + tuple(y.shape[-2:])) for y in outs]
        xs = [x.detach().cpu().reshape((n, 1) + tuple(x.shape[-2:])) for x in xs]
        for i, p in enumerate(positions):
            ratio = error = 0.0
            for y, x in zip(outs, xs):
                c = tolerance.compare(y[i:i + 1], x[i:i + 1], pos[i:i + 1], config)
                ratio, error = _worse(ratio, c.worst_ratio), _worse(error, c.worst_error)
            rows.append(dict(dtype=dtype, position=p, worst_ratio=ratio, worst_error=error, message=""))
    return rows
