"""nan_locality: a NaN or inf in one token changes no other token and stays non-finite."""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import torch
from hypothesis import strategies as st

from ropecheck import diagnose, oracle, tolerance
from ropecheck.config import RopeConfig
from ropecheck.properties._base import PropertyFailed, Subject, register
from ropecheck.properties._calls import call, keep
from ropecheck.properties._cases import cases
from ropecheck.spec import Spec
from ropecheck.strategies import CaseSetup, RopeCase, batched


@dataclass(frozen=True)
class Poison(CaseSetup):
    """The non-finite value injected into one element of one operand.

    where: the element, ``(batch, seq, head, dim)`` (packed: ``(token, head, dim)``);
    value: ``"nan"``, ``"inf"`` or ``"-inf"``; operand: 0 (x, or q) or 1 (k).
    """

    where: tuple[int, ...] = field(metadata={"label": "poison"})
    value: str = field(metadata={"label": "value"})
    operand: int = field(metadata={"label": "operand"})


@st.composite
def _poison_cases(draw, spec: Spec):
    case = draw(cases(spec, min_seq=2) if not spec.packed else cases(spec, min_seq=2), label="case")
    operand = draw(st.integers(0, len(case.operand_names) - 1), label="poisoned operand")
    tokens = case.tokens
    heads = case.heads if operand == 0 else case.kv_heads
    token = tuple(draw(st.integers(0, max(n - 1, 0)), label=f"nan token dim {i}") for i, n in enumerate(tokens))
    where = token + (draw(st.integers(0, heads - 1), label="nan head"),
                     draw(st.integers(0, case.head_dim - 1), label="nan dim"))
    value = draw(st.sampled_from(("nan", "inf", "-inf")), label="poison")
    return replace(case, setup=Poison(where, value, operand))


@register("a NaN or inf in one token changes no other token and stays non-finite", _poison_cases)
def nan_locality(subject: Subject, case: RopeCase) -> None:
    """A non-finite value in one token (of x, or of q or k) stays in that token: every
    other token of every output comes out as the implementation's own output without it
    (within the model: ``tolerance.compare`` against that output), and the value stays.
    With q and k, nothing of the other output may change at all (q_out does not depend on
    k's values, nor k_out on q's)."""
    if 0 in case.tokens:
        return None
    inputs = case.inputs(subject.device)
    where, value, operand = case.setup.where, case.setup.value, case.setup.operand
    token = where[:-2]
    clean = [y.detach().cpu() for y in call(subject, case, inputs.replace(operands=keep(inputs)))]
    poisoned_ops = list(keep(inputs))
    poisoned_ops[operand][where] = float(value)
    dirty = [y.detach().cpu() for y in call(subject, case, inputs.replace(operands=tuple(poisoned_ops)))]
    what = f"a {value} at {case.operand_names[operand]} token {token}" if case.qk else f"a {value} at token {token}"
    for index, (y, y_clean, x) in enumerate(zip(dirty, clean, inputs.operands)):
        _clean_is_finite(case, index, y_clean, x, inputs.positions)
        skip = (((0,) if case.packed else ()) + token) if index == operand else None
        found = _first_changed(batched(y, case.packed), batched(y_clean, case.packed), batched(x, case.packed),
                               batched(inputs.positions, case.packed), case.config, skip)
        if found is not None:
            other, ratio = found
            other = other[1:] if case.packed else other
            name = f"{case.operand_names[index]}_out " if case.qk else ""
            raise PropertyFailed(f"{what} changes another token ({name}token {other})", case,
                                 f"ratio {ratio:.3g} against its output without the {value}")
    _stays_in_its_pair(case, what, dirty[operand])
    return None


def _first_changed(y: torch.Tensor, y_clean: torch.Tensor, x: torch.Tensor, positions: torch.Tensor,
                   config: RopeConfig, skip: tuple[int, int] | None) -> tuple[tuple[int, int], float] | None:
    """The first token (row, seq), in flat order, where ``y`` is not ``y_clean`` within the
    model's allowance for ``x`` (``tolerance.compare`` with ``y_clean`` expected), and the
    worst err/allowed there; None when there is none. Tokens outside a mask are compared
    as zeros on both sides (err 0); ``skip`` is never looked at.

    y, y_clean, x: ``(rows, seq, heads, head_dim)``; positions ``(rows, seq[, axes])``.
    """
    rows, seq = y.shape[:2]
    expected = y_clean.to(torch.float64)
    order = torch.arange(rows * seq).reshape(rows, seq)
    looked = torch.ones(rows, seq, dtype=torch.bool)
    if skip is not None:
        looked[skip] = False

    def within(mask: torch.Tensor) -> tolerance.Comparison:
        m = mask[..., None, None]
        return tolerance.compare(torch.where(m, y, 0), x, positions, config, expected=torch.where(m, expected, 0.0))

    if within(looked).ok:
        return None
    lo, hi = 0, rows * seq  # tokens before lo all within, some token before hi not
    while hi - lo > 1:
        mid = (lo + hi) // 2
        lo, hi = (mid, hi) if within(looked & (order < mid)).ok else (lo, mid)
    return divmod(hi - 1, seq), within(looked & (order == hi - 1)).worst_ratio


def _stays_in_its_pair(case: RopeCase, what: str, y: torch.Tensor) -> None:
    """The injected value's pair (or pass-through dim) in the poisoned operand's output
    ``y`` (the operand's shape) is still non-finite; else it moved (a permuted output) or
    disappeared."""
    where, value = case.setup.where, case.setup.value
    token, (h, d) = where[:-2], where[-2:]
    first, second = oracle.pair_indices(case.config)
    cells = _poisoned_cells(y, where, first, second, case.config.rotary_dim)
    if not bool(torch.isfinite(cells).all()):
        return
    moved = [(int(i[0]), int(i[1])) for i in (~torch.isfinite(y[token])).nonzero()]
    if moved:
        if d < case.config.rotary_dim:
            k = int(((first == d) | (second == d)).nonzero()[0])
            dims = f"dims {int(first[k])} and {int(second[k])}"
        else:
            dims = f"dim {d}"
        where_now = ", ".join(f"dim {j}" if k == h else f"head {k} dim {j}" for k, j in moved[:4])
        raise PropertyFailed(f"{what}, head {h}: the {value} injected at dim {d} came out at {where_now} of the same "
                             f"token, not in its pair ({dims}): the output is permuted", case)
    raise PropertyFailed(f"{what}, head {h}, dim {d} disappeared from its pair in the output (no value of that "
                         "token is non-finite any more); non-finite inputs must stay non-finite where they were", case)


def _clean_is_finite(case: RopeCase, index: int, y_clean: torch.Tensor, x: torch.Tensor, positions: torch.Tensor) -> None:
    """nan_locality judges a NaN the implementation produced anyway as its own failure:
    the clean output (nothing injected) must be finite, or it says where and at which
    positions and dtype it is not."""
    yb = batched(y_clean, case.packed)
    bad = ~torch.isfinite(yb)
    if not bool(bad.any()):
        return
    pb = batched(positions, case.packed).detach().cpu()
    tokens = bad.flatten(2).any(-1)  # (rows, seq)
    spot = tuple(int(i) for i in bad.nonzero()[0])
    at = sorted({int(p) for p in pb[tokens].reshape(-1)})
    label = f"{case.operand_names[index]}_out" if case.qk else "the output"
    xb, config = batched(x, case.packed).detach().cpu(), case.config
    raise PropertyFailed(
        f"{label} is not finite for a finite {str(x.dtype).removeprefix('torch.')} input before any NaN was injected "
        f"(at {spot}; tokens at positions {', '.join(map(str, at[:6]))}{', ...' if len(at) > 6 else ''}), so the "
        "NaN locality cannot be judged", case,
        explain=lambda: diagnose.explain(yb, xb, pb, config, lengths=case.lengths))


def _poisoned_cells(y: torch.Tensor, where: tuple, first, second, rotary_dim: int) -> torch.Tensor:
    *token, h, d = where
    token = tuple(token)
    if d < rotary_dim:
        pair = int(torch.nonzero((first == d) | (second == d))[0])
        return y[token + (h,)][[int(first[pair]), int(second[pair])]]
    return y[token + (h,)][[d]]
