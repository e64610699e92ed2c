"""relative_position: attention scores depend only on the distance between positions."""

from __future__ import annotations

from dataclasses import dataclass, replace

import torch
from hypothesis import strategies as st

from ropecheck import oracle, tolerance
from ropecheck.config import RopeConfig
from ropecheck.properties._base import PropertyFailed, Subject, register
from ropecheck.properties._calls import call, keep
from ropecheck.properties._cases import cases
from ropecheck.spec import Spec
from ropecheck.strategies import CaseSetup, Inputs, RopeCase


@dataclass(frozen=True)
class Shift(CaseSetup):
    """How far every position moves: an int, or (multi-axis) one int per axis."""

    shift: int | tuple[int, ...]


@st.composite
def _shifted(draw, spec: Spec):
    case = draw(cases(spec, min_seq=2, max_batch=1, min_batch=1) if not spec.packed else
                cases(spec, min_seq=2, max_batch=-1, min_batch=1), label="case")
    pos = case.make_positions()
    if case.config.axes == 1:
        shift = draw(st.integers(-int(pos.min()), spec.max_position - 1 - int(pos.max())), label="shift")
    else:  # per axis: one axis moved, or all of them by their own amounts
        dims = tuple(range(pos.dim() - 1))
        lows, highs = (-pos.amin(dims)).tolist(), (spec.max_position - 1 - pos.amax(dims)).tolist()
        moved = draw(st.sampled_from(("one axis", "every axis")), label="shifted axes")
        axis = draw(st.integers(0, case.config.axes - 1), label="shifted axis")
        shift = tuple(draw(st.integers(lo, hi), label=f"shift on axis {a}") if moved == "every axis" or a == axis else 0
                      for a, (lo, hi) in enumerate(zip(lows, highs)))
    return replace(case, heads=max(case.heads, 2) if not case.qk else case.heads, setup=Shift(shift))


def _row_tuple(t: torch.Tensor) -> tuple:
    """A row of positions (seq,) or (seq, axes) as the nested tuples of ``RopeCase.positions``."""
    return tuple(tuple(p) if isinstance(p, list) else p for p in t.cpu().tolist())


def _twice(case: RopeCase, inputs: Inputs, shift) -> tuple[Inputs, RopeCase]:
    """The case's one row (or one sequence) twice: at its positions and shifted by ``shift``."""
    pos = inputs.positions
    moved = pos + torch.tensor(shift, dtype=pos.dtype, device=pos.device)
    ops = tuple(torch.cat([x, x], dim=0) for x in inputs.operands)
    if case.packed:
        n = pos.shape[0]
        two = replace(case, lengths=(n, n), batch=2, positions=(case.positions[0], _row_tuple(moved)))
        return Inputs(ops, torch.cat([pos, moved], dim=0), two.make_cu_seqlens(pos.device)), two
    two = replace(case, batch=2, positions=(case.positions[0], _row_tuple(moved[0])))
    return Inputs(ops, torch.cat([pos, moved], dim=0)), two


def _q_and_k(case: RopeCase, keep_xs, outs, positions: torch.Tensor):
    """(q_x, q_y, k_x, k_y, pos) of the two rows: q and k are heads 0 and 1 of x, or head 0
    of q and of k. x's: ``(2, seq, 1, head_dim)``; y's float64 ``(2, seq, head_dim)``."""
    rows = (lambda t: t.reshape((2, -1) + tuple(t.shape[1:]))) if case.packed else (lambda t: t)  # noqa: E731
    ys = [rows(y.detach().to("cpu", torch.float64)) for y in outs]  # (2, seq, heads, head_dim)
    xs = [rows(x) for x in keep_xs]
    (q_x, q_y), (k_x, k_y) = (((xs[0], ys[0]), (xs[1], ys[1])) if case.qk else
                              ((xs[0][:, :, :1], ys[0][:, :, :1]), (xs[0][:, :, 1:2], ys[0][:, :, 1:2])))
    return q_x[:, :, :1], q_y[:, :, 0], k_x[:, :, :1], k_y[:, :, 0], rows(positions)


@register("scores <rope(q, m), rope(k, n)> depend only on n - m", _shifted)
def relative_position(subject: Subject, case: RopeCase) -> float:
    """Scores <rope(q, m), rope(k, n)> at positions p and p + shift must agree (multi-axis:
    a shift per axis). One call holds both rows, so length-dependent scalings (dynamic,
    longrope) use one set of frequencies for both, as HF's batch-wide update does. q and k
    are heads 0 and 1 of x, or head 0 of q and of k."""
    shift = case.setup.shift
    inputs, two = _twice(case, case.inputs(subject.device), shift)
    kept = keep(inputs)
    outs = call(subject, two, inputs)
    q_x, q_y, k_x, k_y, pos = _q_and_k(case, kept, outs, inputs.positions)
    scores = torch.einsum("bid,bjd->bij", q_y, k_y)
    budget_q = tolerance.allowance(q_x, pos, case.config, q_x.dtype)
    budget_k = tolerance.allowance(k_x, pos, case.config, k_x.dtype)
    bound = _score_bound(q_x.to("cpu", torch.float64)[:, :, 0], k_x.to("cpu", torch.float64)[:, :, 0],
                         budget_q, budget_k, case.config)
    gap = (scores[0] - scores[1]).abs()
    allowed = bound[0] + bound[1]
    ratio = gap / allowed
    worst = int(torch.argmax(ratio))
    i, j = divmod(worst, ratio.shape[1])
    value = ratio.flatten()[worst].item()
    if not value <= 1.0:
        raise PropertyFailed(
            f"attention scores change when every position is shifted by {shift}: not a relative encoding",
            case, f"score(q at {case.positions[0][i]}, k at {case.positions[0][j]}) differs by "
                  f"{gap[i, j].item():.3g} vs allowed {allowed[i, j].item():.3g} (ratio {value:.3g})", value)
    return value


def _score_bound(q: torch.Tensor, k: torch.Tensor, budget_q: tolerance.Allowance, budget_k: tolerance.Allowance,
                 config: RopeConfig) -> torch.Tensor:
    """Bound on |score error| per row: sum over pairs of aq*|k_p| + ak*|q_p| (+ pass-through).

    q, k: (rows, seq, head_dim); budget_*.pair: (rows, seq, 1, half). Returns (rows, seq, seq).
    """
    first, second = oracle.pair_indices(config)
    qn, kn = torch.hypot(q[..., first], q[..., second]), torch.hypot(k[..., first], k[..., second])
    aq, ak = budget_q.pair[:, :, 0], budget_k.pair[:, :, 0]
    bound = torch.einsum("bip,bjp->bij", aq, kn) + torch.einsum("bip,bjp->bij", qn, ak) + torch.einsum("bip,bjp->bij", aq, ak)
    rest = slice(config.rotary_dim, None)
    bound += torch.einsum("bid,bjd->bij", budget_q.rest[:, :, 0], k[..., rest].abs())
    bound += torch.einsum("bid,bjd->bij", q[..., rest].abs(), budget_k.rest[:, :, 0])
    return bound + 1e-300
