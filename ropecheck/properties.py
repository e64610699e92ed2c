"""The property catalogue: what a conforming RoPE implementation must satisfy.

Each property draws inputs from ``ropecheck.strategies`` restricted to what the spec
claims (dtypes, pairing, base, partial rotary, position range), calls the implementation
and judges the output under ``ropecheck.tolerance``. A violation raises ``PropertyFailed``
with a cause in words, the worst error against the allowed one, and the case.
"""

from __future__ import annotations

import itertools
import traceback
from dataclasses import dataclass, replace
from typing import Callable

import torch
from hypothesis import strategies as st

from ropecheck import diagnose, oracle, profiles, tolerance
from ropecheck.adapters import AdapterMismatch
from ropecheck.config import RopeConfig
from ropecheck.scaling import CALL_DEPENDENT
from ropecheck.spec import Spec, exception_text
from ropecheck.strategies import (Inputs, RopeCase, bases, batched, boundary_cases, rope_cases, serving_cases,
                                  standard_normal)

GRAD_DTYPES = ("float64", "float32")


class PropertyFailed(AssertionError):
    """A property does not hold for one case.

    Attributes: cause (a sentence), detail (the worst error against the allowed one and
    where), case (the RopeCase), ratio (err/allowed, inf where not numeric).
    """

    def __init__(self, cause: str, case: RopeCase, detail: str = "", ratio: float = float("inf"),
                 explain: Callable[[], str] | None = None):
        self.cause, self.case, self.detail, self.ratio = cause, case, detail, ratio
        self.explain = explain  # computed once, for the final (shrunk) failure only
        super().__init__(f"{cause}" + (f"; {detail}" if detail else ""))

    def full_cause(self) -> str:
        """The cause with its diagnosis (``cause: why``) when one was attached."""
        return f"{self.cause}: {self.explain()}" if self.explain else self.cause


@dataclass(frozen=True)
class Subject:
    """The implementation under test on one device."""

    fn: Callable
    spec: Spec
    device: str


@dataclass(frozen=True)
class Property:
    name: str
    description: str
    strategy: Callable[[Spec], st.SearchStrategy]
    check: Callable[[Subject, RopeCase], float | None]  # err/allowed, or None
    applies: Callable[[Spec], str | None] = lambda spec: None
    weight: int = 1  # examples = weight * the profile's max_examples
    # fixed cases checked on every run, whatever the seed, when the search finds nothing
    examples: Callable[[Spec], list[RopeCase]] = lambda spec: []
    # fixed cases at serving sizes, checked after ``examples`` with the profiles of
    # ``profiles.SERVING_SIZES`` only (seconds each)
    serving: Callable[[Spec], list[RopeCase]] = lambda spec: []
    # after a failure: narrow a many-token counterexample to one token that fails alone, and
    # search again for failures with another cause (each reported)
    narrow: bool = False
    more_causes: bool = False

    def fixed(self, spec: Spec, profile: str | None = None) -> list[RopeCase]:
        """The fixed cases of a run with ``profile``: ``examples``, and ``serving`` when the
        profile is one of ``profiles.SERVING_SIZES``."""
        return self.examples(spec) + (self.serving(spec) if profile in profiles.SERVING_SIZES else [])


# ---------------------------------------------------------------- calling the implementation


class NotJudged(Exception):
    """A bundled adapter no longer fits the installed library: ropecheck's failure (status
    ``error``), never a verdict on the library."""


# ---------------------------------------------------------------- calling the implementation


def call(subject: Subject, case: RopeCase, inputs: Inputs, config: RopeConfig | None = None) -> tuple[torch.Tensor, ...]:
    """Run the implementation in the spec's form (CONTRACT §1 and §4); returns its outputs,
    ``(y,)`` or ``(q_out, k_out)``.

    Any exception (``SystemExit`` included), a result of the wrong kind or shape, or one
    whose values cannot be read fails.
    """
    config = case.config if config is None else config
    extra = {"cu_seqlens": inputs.cu_seqlens} if case.packed else {}
    try:
        result = subject.fn(*inputs.operands, inputs.positions, config, **extra)
    except AdapterMismatch as exc:
        raise NotJudged(str(exc)) from None
    except Exception as exc:  # noqa: BLE001 - the implementation's exception is the finding
        raise PropertyFailed(f"raised {type(exc).__name__}: {exc}{_where(exc)}", case) from None
    except BaseException as exc:  # noqa: BLE001 - SystemExit / KeyboardInterrupt from a call is a finding too
        raise PropertyFailed(f"raised {exception_text(exc)}{_where(exc)}", case) from None
    if case.qk:
        if not isinstance(result, (tuple, list)) or len(result) != 2:
            raise PropertyFailed(f"returned {type(result).__name__}, not the pair (q_out, k_out)", case)
        outs = tuple(result)
    else:
        outs = (result,)
    for name, y, x in zip(case.operand_names, outs, inputs.operands):
        label = f"{name}_out " if case.qk else ""
        if not isinstance(y, torch.Tensor):
            raise PropertyFailed(f"returned {label}{type(y).__name__}, not a torch.Tensor", case)
        if tuple(y.shape) != tuple(x.shape):
            raise PropertyFailed(f"returned {label}shape {tuple(y.shape)} for input shape {tuple(x.shape)}", case)
        if y.is_meta:
            raise PropertyFailed(f"returned {label}a meta tensor (a shape without values)", case)
        try:
            y.detach().to("cpu")
        except Exception as exc:  # noqa: BLE001 - a tensor that fails when read is the implementation's fault
            raise PropertyFailed(f"returned {label}a tensor whose values cannot be read: {type(exc).__name__}: "
                                 f"{' '.join(str(exc).split())[:300]}", case) from None
    return outs


def _where(exc: BaseException) -> str:
    frames = traceback.extract_tb(exc.__traceback__)
    return f" (at {frames[-1].filename}:{frames[-1].lineno})" if frames else ""


def _keep(inputs: Inputs) -> tuple[torch.Tensor, ...]:
    """Copies of the operands as they were before the call (what the outputs are judged on)."""
    return tuple(x.detach().clone() for x in inputs.operands)


def _judge(subject: Subject, case: RopeCase, outs, xs, positions: torch.Tensor, cause: str,
           config: RopeConfig | None = None) -> float:
    """Compare every output with the oracle on its own input; on failure name the output,
    the cause and the likely explanation."""
    config = case.config if config is None else config
    worst = 0.0
    for index, (y, x) in enumerate(zip(outs, xs)):
        yb, xb, pb = batched(y, case.packed), batched(x, case.packed), batched(positions, case.packed)
        result = tolerance.compare(yb, xb, pb, config)
        if not result.ok:
            name = case.operand_names[index]
            y_cpu, x_cpu, pos_cpu = yb.detach().cpu(), xb.detach().cpu(), pb.detach().cpu()
            partner = batched(xs[1 - index], case.packed).detach().cpu() if case.qk else None
            raise PropertyFailed(cause + (f" ({name}_out)" if case.qk else ""), case, result.describe(),
                                 result.worst_ratio,
                                 explain=lambda: diagnose.explain(y_cpu, x_cpu, pos_cpu, config, lengths=case.lengths,
                                                                  partner=partner, operand=name))
        worst = max(worst, result.worst_ratio)
    return worst


def _spec_options(spec: Spec) -> dict:
    return dict(dtypes=spec.dtypes, pairing=spec.pairing, base=spec.base,
                partial=spec.partial_rotary, max_position=spec.max_position,
                scaling=tuple(t for t in spec.scaling if t != "default"), multi_axis=spec.multi_axis,
                qk=spec.signature == "qk", packed=spec.packed, consecutive=spec.positions == "consecutive")


def boundary_examples(spec: Spec) -> list[RopeCase]:
    """The fixed boundary cases (``strategies.boundary_cases``) in ``spec``'s form."""
    return boundary_cases(**_spec_options(spec))


def serving_examples(spec: Spec, kinds: tuple[str, ...] = ("prefill", "decode", "partial")) -> list[RopeCase]:
    """The serving-size cases (``strategies.serving_cases``) of ``kinds`` in ``spec``'s form."""
    found = serving_cases(**_spec_options(spec))
    return [case for kind in kinds for case in found.get(kind, ())]


def cases(spec: Spec, **overrides) -> st.SearchStrategy[RopeCase]:
    """RopeCases restricted to what ``spec`` claims, in its form (signature, packed, positions)."""
    options = _spec_options(spec)
    options.update(overrides)
    return rope_cases(**options)


# ---------------------------------------------------------------- the properties


def _oracle_check(cause: str) -> Callable[[Subject, RopeCase], float]:
    """A check: call on the case's inputs and judge against the oracle, failing with ``cause``."""

    def check(subject: Subject, case: RopeCase) -> float:
        inputs = case.inputs(subject.device)
        keep = _keep(inputs)
        outs = call(subject, case, inputs)
        try:
            return _judge(subject, case, outs, keep, inputs.positions, cause)
        except PropertyFailed as failure:
            _hint_kv_heads(subject, case, failure)
            raise

    return check


def _hint_kv_heads(subject: Subject, case: RopeCase, failure: PropertyFailed) -> None:
    """A wrong k_out under GQA/MQA that is right with as many k heads as q heads: k's head
    count (or its head stride) was taken from q. Added to the failure's cause."""
    if not case.qk or case.kv_heads == case.heads or not failure.cause.endswith("(k_out)"):
        return
    mha = replace(case, kv_heads=case.heads)
    try:
        inputs = mha.inputs(subject.device)
        keep = _keep(inputs)
        _judge(subject, mha, call(subject, mha, inputs), keep, inputs.positions, "")
    except (PropertyFailed, NotJudged):
        return
    failure.cause += (f": k_out is wrong with {case.kv_heads} k heads for {case.heads} q heads but right with "
                      f"{case.heads}: k's head count or head stride is taken from q")
    failure.explain = None


_agreement = _oracle_check("disagrees with the oracle")


def flat_positions(case: RopeCase) -> list[int]:
    """Every position of a case, multi-axis ones included."""
    return case.make_positions().flatten().tolist()


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
    return replace(case, heads=max(case.heads, 2) if not case.qk else case.heads, extra={"shift": shift})


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


def _relative_position(subject: Subject, case: RopeCase) -> float:
    """Scores <rope(q, m), rope(k, n)> at positions p and p + shift must agree (multi-axis:
    a shift per axis). One call holds both rows, so length-dependent scalings (dynamic,
    longrope) use one set of frequencies for both, as HF's batch-wide update does. q and k
    are heads 0 and 1 of x, or head 0 of q and of k."""
    shift = case.extra["shift"]
    inputs, two = _twice(case, case.inputs(subject.device), shift)
    keep = _keep(inputs)
    outs = call(subject, two, inputs)
    rows = (lambda t: t.reshape((2, -1) + tuple(t.shape[1:]))) if case.packed else (lambda t: t)  # noqa: E731
    ys = [rows(y.detach().to("cpu", torch.float64)) for y in outs]  # (2, seq, heads, head_dim)
    xs = [rows(x) for x in keep]
    pos = rows(inputs.positions)
    (q_x, q_y), (k_x, k_y) = (((xs[0], ys[0]), (xs[1], ys[1])) if case.qk else
                              ((xs[0][:, :, :1], ys[0][:, :, :1]), (xs[0][:, :, 1:2], ys[0][:, :, 1:2])))
    q_x, q_y, k_x, k_y = q_x[:, :, :1], q_y[:, :, 0], k_x[:, :, :1], k_y[:, :, 0]
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


def _norms(subject: Subject, case: RopeCase) -> float:
    inputs = case.inputs(subject.device)
    keep = _keep(inputs)
    outs = call(subject, case, inputs)
    first, second = oracle.pair_indices(case.config)
    af = case.config.attention_factor  # YaRN / LongRoPE scale every pair by it
    worst = 0.0
    for name, y, x in zip(case.operand_names, outs, keep):
        out, x64 = y.detach().to("cpu", torch.float64), x.to("cpu", torch.float64)
        gap = (torch.hypot(out[..., first], out[..., second]) - af * torch.hypot(x64[..., first], x64[..., second])).abs()
        allowed = tolerance.norm_allowance(x, y.dtype, case.config)
        result = tolerance.worst(batched(gap, case.packed), batched(allowed, case.packed), first)
        if not result.ok:
            raise PropertyFailed("changes the norm of a rotated pair (a rotation preserves it"
                                 + (f"; the attention factor {af:.6g} scales it)" if af != 1 else ")")
                                 + (f" ({name}_out)" if case.qk else ""), case, result.describe(), result.worst_ratio)
        worst = max(worst, result.worst_ratio)
    return worst


def _zeros(nested):
    return tuple(_zeros(v) for v in nested) if isinstance(nested, tuple) else 0


def _from_zero(nested):
    """Every row restarting at position 0 (on every axis): 0, 1, 2, ..."""
    return tuple(tuple(((i,) * len(p)) if isinstance(p, tuple) else i for i, p in enumerate(row)) for row in nested)


def _zero_cases(spec: Spec):
    """Every position 0; for a spec whose rows are consecutive (one offset per row), every
    offset 0 (position 0 is then each row's first token)."""
    to_zero = _from_zero if spec.positions == "consecutive" else _zeros
    return cases(spec).map(lambda c: replace(c, positions=to_zero(c.positions)))


_identity_at_zero = _oracle_check("position 0 is not the identity")


def _partial_cases(spec: Spec):
    """Cases with rotary_dim below head_dim (by construction: no draw is thrown away)."""
    return cases(spec, partial=True, partial_only=True)


def _passthrough(subject: Subject, case: RopeCase) -> float:
    inputs = case.inputs(subject.device)
    keep = _keep(inputs)
    outs = call(subject, case, inputs)
    rd = case.config.rotary_dim
    for name, y, x in zip(case.operand_names, outs, keep):
        same = y[..., rd:].detach().cpu() == x[..., rd:].cpu()
        if not bool(same.all()):
            where = tuple(int(i) for i in (~same).nonzero()[0])
            token, d = where[:-1], where[-1]
            label = f"{name}_out " if case.qk else ""
            raise PropertyFailed(
                f"changes {label}dims at and above rotary_dim={rd}, which must pass through untouched", case,
                f"dim {rd + d} at token {token[:-1]}, head {token[-1]}: {x[token + (rd + d,)].item()!r} -> "
                f"{y[token + (rd + d,)].item()!r}")
    return None


def _distinct_rows(case: RopeCase) -> bool:
    rows = [r for r in case.positions if r]
    return len(rows) >= 2 and len(set(rows)) == len(rows)


def _row_cases(spec: Spec):
    """Batches whose rows (packed: sequences) differ; half of them batched decode (one
    token per row, many heads among them), where kernels that special-case seq == 1 go
    wrong (ml-explore/mlx#3795, mlx-rs#359)."""
    if spec.packed:
        return cases(spec, min_batch=2, distinct=True)
    decode = cases(spec, min_batch=2, max_seq=1, long_seq=1, distinct=True)
    many = cases(spec, min_batch=2, max_seq=1, long_seq=1, many_heads=True, distinct=True)
    return st.one_of(cases(spec, min_batch=2, distinct=True), decode, many)


_per_row_positions = _oracle_check("does not honour per-row positions")


@st.composite
def _chunked_cases(draw, spec: Spec):
    case = draw(cases(spec, min_seq=2), label="case")
    # half the time the serving pattern on purpose: prefill all but the last token, then
    # one decode token per sequence (the path decode fast paths take)
    decode_step = draw(st.booleans(), label="second call is one decode token per sequence")
    if case.packed:
        splits = tuple(max(n - 1, 0) if decode_step else draw(st.integers(0, n), label=f"chunk split of sequence {i}")
                       for i, n in enumerate(case.lengths))
        return replace(case, extra={"split": splits})
    split = case.seq - 1 if decode_step else draw(st.integers(1, case.seq - 1), label="chunk split")
    return replace(case, extra={"split": split})


def _chunks(case: RopeCase, inputs: Inputs) -> tuple[tuple[RopeCase, Inputs, torch.Tensor], ...]:
    """The case cut in two calls (prefill, then the rest): (case, inputs, index of its tokens) each."""
    split = case.extra["split"]
    if not case.packed:
        halves = []
        for part in (slice(None, split), slice(split, None)):
            ops = tuple(x[:, part].clone() for x in inputs.operands)
            sub = replace(case, seq=ops[0].shape[1], positions=tuple(r[part] for r in case.positions))
            halves.append((sub, Inputs(ops, inputs.positions[:, part].contiguous()), None))
        return tuple(halves)
    starts = [0, *itertools.accumulate(case.lengths)]
    out = []
    for head in (True, False):
        index = torch.cat([torch.arange(starts[i], starts[i] + split[i]) if head else
                           torch.arange(starts[i] + split[i], starts[i + 1]) for i in range(len(case.lengths))]).long()
        lengths = tuple(s if head else n - s for n, s in zip(case.lengths, split))
        positions = tuple(r[:s] if head else r[s:] for r, s in zip(case.positions, split))
        sub = replace(case, lengths=lengths, positions=positions, seq=max(lengths))
        dev = inputs.positions.device
        ops = tuple(x[index.to(x.device)].clone() for x in inputs.operands)
        out.append((sub, Inputs(ops, inputs.positions[index.to(dev)], sub.make_cu_seqlens(dev)), index))
    return tuple(out)


def _chunked(subject: Subject, case: RopeCase) -> float:
    """rope(x[:, :k]) ++ rope(x[:, k:]) == rope(x): prefill then incremental decode (packed:
    every sequence cut at its own point, each part keeping its sequence's positions).

    For dynamic and longrope the frequencies depend on each call's largest position (HF
    recomputes them per forward), so each chunk is judged against the oracle of its own
    call: the whole and the chunks legitimately differ there."""
    inputs = case.inputs(subject.device)
    keep = _keep(inputs)
    parts = _chunks(case, inputs)
    results = [(sub, sub_in, index, _keep(sub_in), call(subject, sub, sub_in)) for sub, sub_in, index in parts]
    where = f"positions split at {case.extra['split']}"
    if case.config.rope_type in CALL_DEPENDENT:  # each chunk against the oracle (and budget) of its own call
        return max(_judge(subject, sub, outs, kept, sub_in.positions,
                          f"a chunk ({where}) disagrees with the oracle for that call ({case.config.rope_type} "
                          "frequencies follow each call's largest position)")
                   for sub, sub_in, _, kept, outs in results)
    whole = []
    for i in range(len(case.operand_names)):
        pieces = [outs[i].detach().cpu() for *_, outs in results]
        if case.packed:
            y = torch.empty_like(keep[i], device="cpu", dtype=pieces[0].dtype)
            for (_, _, index, _, _), piece in zip(results, pieces):
                y[index] = piece
        else:
            y = torch.cat(pieces, dim=1)
        whole.append(y)
    return _judge(subject, case, whole, keep, inputs.positions, f"applying it in chunks ({where}) differs from the whole")


LAYOUTS = ("transposed", "sliced_heads", "padded_head_dim", "sliced_batch_seq", "strided_last_dim")
LOUD_REFUSAL_OK = ("strided_last_dim",)
"""Layouts an implementation may refuse with an exception (a stride-2 last dim defeats
``view_as_complex``, as in Meta's code); a silently wrong result is still a failure."""


@st.composite
def _layout_cases(draw, spec: Spec):
    case = draw(cases(spec, fused=False), label="case")
    layout = draw(st.sampled_from(LAYOUTS), label="layout")
    return replace(case, extra={"layout": layout})


def strided_view(x: torch.Tensor, layout: str) -> torch.Tensor:
    """The same values as ``x`` (…tokens, heads, head_dim) in a non-contiguous layout.

    transposed: heads stored before the last token dim, as (batch, heads, seq, head_dim);
    sliced_heads: every other head of a tensor with twice the heads (fused qkv);
    padded_head_dim: the first head_dim of a wider last dim; sliced_batch_seq: every other
    entry of every token dim of a larger tensor; strided_last_dim: every other element of
    a last dim twice as wide (stride 2).
    """
    *tokens, h, d = x.shape
    if layout == "transposed":
        return x.transpose(-3, -2).contiguous().transpose(-3, -2)
    every = (slice(None),) * len(tokens)
    shape, index = {
        "sliced_heads": ((*tokens, 2 * h, d), every + (slice(1, None, 2),)),
        "padded_head_dim": ((*tokens, h, d + 8), (Ellipsis, slice(0, d))),
        "sliced_batch_seq": ((*(2 * t for t in tokens), h, d), (slice(None, None, 2),) * len(tokens)),
        "strided_last_dim": ((*tokens, h, 2 * d), (Ellipsis, slice(None, None, 2))),
    }[layout]
    big = torch.full(shape, float("nan"), dtype=x.dtype, device=x.device)
    big[index] = x
    return big[index]


def strided_positions(positions: torch.Tensor, packed: bool = False) -> torch.Tensor:
    """The same positions as every other token of a wider int64 tensor ((batch, seq[, axes]),
    or (total_tokens[, axes]) when packed)."""
    dim = 0 if packed else 1
    shape = list(positions.shape)
    shape[dim] *= 2
    big = torch.full(shape, -1, dtype=positions.dtype, device=positions.device)
    index = (slice(None),) * dim + (slice(None, None, 2),)
    big[index] = positions
    return big[index]


def _layout(subject: Subject, case: RopeCase) -> float:
    """Non-contiguous x, or q and k (and positions) give the oracle's result, and the views
    are not written."""
    inputs = case.inputs(subject.device)
    keep = _keep(inputs)
    layout = case.extra["layout"]
    views = tuple(strided_view(x.clone(), layout) for x in inputs.operands)
    view_inputs = inputs.replace(operands=views, positions=strided_positions(inputs.positions, case.packed))
    before = tuple(v.clone() for v in views)
    try:
        outs = call(subject, case, view_inputs)
    except PropertyFailed:
        if layout in LOUD_REFUSAL_OK:
            return None
        raise
    if not subject.spec.inplace and not all(same_bits(v, b) for v, b in zip(views, before)):
        raise PropertyFailed(f"writes into a non-contiguous input ({layout}, strides {views[0].stride()}) "
                             "but the spec does not say inplace = true", case)
    try:
        return _judge(subject, case, outs, keep, inputs.positions, "")
    except PropertyFailed:
        pass
    fresh = case.inputs(subject.device)
    try:
        _judge(subject, case, call(subject, case, fresh), _keep(fresh), fresh.positions, "")
        contiguous_ok = True
    except PropertyFailed:
        contiguous_ok = False
    cause = (f"gives a wrong result for a non-contiguous input ({layout}, strides {views[0].stride()}; "
             f"positions strides {view_inputs.positions.stride()}) but the right one for the same values contiguous"
             if contiguous_ok else "disagrees with the oracle for contiguous input too (not a layout problem)")
    return _judge(subject, case, outs, keep, inputs.positions, cause)


def _output_contract(subject: Subject, case: RopeCase) -> float:
    inputs = case.inputs(subject.device)
    outs = call(subject, case, inputs)
    for name, y, x in zip(case.operand_names, outs, inputs.operands):
        label = f"{name}_out " if case.qk else ""
        if y.dtype != x.dtype:
            raise PropertyFailed(f"returns {label}dtype {y.dtype} for input dtype {x.dtype}", case)
        if y.device != x.device:
            raise PropertyFailed(f"returns {label}a tensor on {y.device} for input on {x.device}", case)
    return None


def _no_mutation(subject: Subject, case: RopeCase) -> float:
    inputs = case.inputs(subject.device)
    before = [t.clone() for t in (*inputs.operands, inputs.positions)]
    cu_before = None if inputs.cu_seqlens is None else inputs.cu_seqlens.clone()
    call(subject, case, inputs)
    for name, x, x_before in zip(case.operand_names, inputs.operands, before):
        if not same_bits(x, x_before):
            changed = int((x != x_before).sum())
            raise PropertyFailed(f"writes into its input {name} ({changed} elements changed) but the spec does not "
                                 "say inplace = true", case)
    if not torch.equal(inputs.positions, before[-1]):
        raise PropertyFailed("writes into its positions argument", case)
    if cu_before is not None and not torch.equal(inputs.cu_seqlens, cu_before):
        raise PropertyFailed("writes into its cu_seqlens argument", case)
    return None


def _grad_cases(spec: Spec):
    return cases(spec, dtypes=tuple(d for d in spec.dtypes if d in GRAD_DTYPES))


def _gradients(subject: Subject, case: RopeCase) -> float:
    """d<y, g>/dx must be the inverse rotation of g (the VJP of a rotation), for x, or for q and k."""
    inputs = case.inputs(subject.device, fused=False)
    keep = _keep(inputs)
    leaves = tuple(x.clone().requires_grad_(True) for x in inputs.operands)
    given = tuple(leaf.clone() if subject.spec.inplace else leaf for leaf in leaves)
    outs = call(subject, case, inputs.replace(operands=given))
    _judge(subject, case, outs, keep, inputs.positions, "with x requiring grad (the training path), the forward result is wrong")
    if not all(y.requires_grad for y in outs if y.numel()):
        raise PropertyFailed("output does not require grad: the implementation detaches x from the graph", case)
    drawn = standard_normal(case.seed + 1, tuple(tuple(x.shape) for x in inputs.operands))
    upstream = tuple(t.to(x.dtype, copy=True).to(subject.device) for t, x in zip(drawn, inputs.operands))
    live = [i for i, y in enumerate(outs) if y.numel()]
    if not live:  # an empty packed batch: nothing to differentiate
        return 0.0
    given_upstream = tuple(g.clone() for g in upstream)
    try:
        grads = [None] * len(outs)
        found = torch.autograd.grad([outs[i] for i in live], [leaves[i] for i in live], [given_upstream[i] for i in live],
                                    allow_unused=True)
        for i, grad in zip(live, found):
            grads[i] = grad
    except Exception as exc:  # noqa: BLE001
        raise PropertyFailed(f"backward raised {type(exc).__name__}: {exc}", case) from None
    for name, g, after in zip(case.operand_names, upstream, given_upstream):
        if not same_bits(g, after):
            raise PropertyFailed(f"backward writes into the upstream gradient dL/d{name}_out it is given "
                                 f"({int((g != after).sum())} elements changed): a graph that uses that gradient "
                                 "elsewhere (a residual connection) gets a wrong one", case)
    pos = batched(inputs.positions, case.packed)
    worst = 0.0
    for name, grad, g in zip(case.operand_names, grads, upstream):
        label = f" w.r.t. {name}" if case.qk else " w.r.t. x"
        if grad is None and g.numel() == 0:
            continue
        if grad is None:
            raise PropertyFailed(f"no gradient{label}: the output does not depend on it through autograd", case)
        gb, grad_b = batched(g, case.packed), batched(grad, case.packed)
        expected = oracle.rope_inverse(gb, pos, case.config)
        result = tolerance.compare(grad_b, gb, pos, case.config, expected=expected)
        if not result.ok:
            forward = oracle.rope(gb, pos, case.config)
            hint = ("the gradient is the forward rotation of the upstream gradient, not its inverse"
                    if tolerance.compare(grad_b, gb, pos, case.config, expected=forward).ok else
                    "the gradient is not the inverse rotation of the upstream gradient")
            raise PropertyFailed(f"wrong gradient{label}: {hint}", case, result.describe(), result.worst_ratio)
        worst = max(worst, result.worst_ratio)
    return worst


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
    return replace(case, extra={"poison": where, "value": value, "operand": operand})


def _nan_locality(subject: Subject, case: RopeCase) -> float | None:
    """A non-finite value in one token (of x, or of q or k) stays in that token: every
    other token of every output comes out as the implementation's own output without it
    (within the model), and the value stays. With q and k, nothing of the other output
    may change at all (q_out does not depend on k's values, nor k_out on q's)."""
    if 0 in case.tokens:
        return None
    inputs = case.inputs(subject.device)
    where, value, operand = case.extra["poison"], case.extra["value"], case.extra["operand"]
    token, (h, d) = where[:-2], where[-2:]
    clean = [y.detach().cpu() for y in call(subject, case, inputs.replace(operands=_keep(inputs)))]
    poisoned_ops = list(_keep(inputs))
    poisoned_ops[operand][where] = float(value)
    dirty = [y.detach().cpu() for y in call(subject, case, inputs.replace(operands=tuple(poisoned_ops)))]
    first, second = oracle.pair_indices(case.config)
    what = f"a {value} at {case.operand_names[operand]} token {token}" if case.qk else f"a {value} at token {token}"
    for index, (y, y_clean, x) in enumerate(zip(dirty, clean, inputs.operands)):
        _clean_is_finite(case, index, y_clean, x, inputs.positions)
        budget = tolerance.allowance(batched(x, case.packed), batched(inputs.positions, case.packed), case.config, y.dtype)
        diff = batched(y, case.packed).to(torch.float64) - batched(y_clean, case.packed).to(torch.float64)
        err = torch.cat([torch.hypot(diff[..., first], diff[..., second]), diff[..., case.config.rotary_dim:].abs()], -1)
        allowed = torch.cat([budget.pair, budget.rest], -1)
        ratio = torch.where(torch.isnan(err / allowed), torch.full_like(err, float("inf")), err / allowed)
        changed = (ratio > 1.0).flatten(2).any(-1)  # (rows, seq): tokens that changed
        if case.packed:
            changed = changed[0]
        if index == operand:
            changed[token] = False
        if bool(changed.any()):
            other = tuple(int(i) for i in changed.nonzero()[0])
            name = f"{case.operand_names[index]}_out " if case.qk else ""
            raise PropertyFailed(f"{what} changes another token ({name}token {other})", case,
                                 f"ratio {ratio.reshape(changed.shape + (-1,))[other].max().item():.3g} against "
                                 f"its output without the {value}")
    cells = _poisoned_cells(dirty[operand], where, first, second, case.config.rotary_dim)
    if bool(torch.isfinite(cells).all()):
        y_token = dirty[operand][token]
        moved = [(int(i[0]), int(i[1])) for i in (~torch.isfinite(y_token)).nonzero()]
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
    return None


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


_BITS = {8: torch.int64, 4: torch.int32, 2: torch.int16, 1: torch.int8}


def same_bits(a: torch.Tensor, b: torch.Tensor) -> bool:
    """Bitwise equality, NaNs included (``torch.equal`` says NaN != NaN)."""
    if a.dtype != b.dtype or a.shape != b.shape:
        return False
    if not a.is_floating_point():
        return torch.equal(a, b)
    bits = _BITS[a.element_size()]
    return torch.equal(a.contiguous().view(bits), b.contiguous().view(bits))


def _determinism(subject: Subject, case: RopeCase) -> None:
    inputs = case.inputs(subject.device)
    first = [y.detach().cpu() for y in call(subject, case, inputs.replace(operands=_keep(inputs)))]
    second = [y.detach().cpu() for y in call(subject, case, inputs.replace(operands=_keep(inputs)))]
    for name, y1, y2 in zip(case.operand_names, first, second):
        if not same_bits(y1, y2):
            differ = int((y1 != y2).sum() - (y1.isnan() & y2.isnan()).sum())
            label = f" of {name}_out" if case.qk else ""
            raise PropertyFailed(f"two identical calls give different bits ({differ} elements{label} differ)", case)
    return None


# ---------------------------------------------------------------- q and k, packed batches (CONTRACT §4)


def _independence(subject: Subject, case: RopeCase) -> None:
    """q_out does not change (bit for bit) when only k's values change, nor k_out when only q's."""
    inputs = case.inputs(subject.device, fused=False)
    q, k = _keep(inputs)
    base = [y.detach().cpu() for y in call(subject, case, inputs.replace(operands=(q.clone(), k.clone())))]
    drawn = standard_normal(case.seed + 7, (tuple(q.shape), tuple(k.shape)))
    other = tuple(t.to(x.dtype, copy=True).to(x.device) for t, x in zip(drawn, (q, k)))
    for changed, kept, (a, b) in ((1, 0, (q.clone(), other[1])), (0, 1, (other[0], k.clone()))):
        outs = [y.detach().cpu() for y in call(subject, case, inputs.replace(operands=(a, b)))]
        if not same_bits(outs[kept], base[kept]):
            differ = int((outs[kept] != base[kept]).sum())
            names = ("q", "k")
            raise PropertyFailed(f"{names[kept]}_out changes when only {names[changed]}'s values change "
                                 f"({differ} elements): q and k are cross-wired", case)
    return None


@st.composite
def _fused_cases(draw, spec: Spec):
    case = draw(cases(spec, fused=True), label="case")
    layout = draw(st.sampled_from(("contiguous",) + LAYOUTS[:-1]), label="buffer layout")
    return replace(case, extra={"buffer layout": layout})


def _fused_buffer(subject: Subject, case: RopeCase) -> float:
    """q and k as views into one (…, q_heads + 2 kv_heads, head_dim) buffer, in a memory
    layout of section 1: each output equals the oracle on its own input, and nothing
    outside q and k (v included) is written (nor q and k unless inplace)."""
    inputs = case.inputs(subject.device, fused=True)
    layout = case.extra["buffer layout"]
    buffer = inputs.buffer if layout == "contiguous" else strided_view(inputs.buffer.clone(), layout)
    q_end, k_end = case.heads, case.heads + case.kv_heads
    views = (buffer[..., :q_end, :], buffer[..., q_end:k_end, :])
    keep = tuple(v.detach().clone() for v in views)
    v_before = buffer[..., k_end:, :].clone()
    before = buffer.clone()
    outs = call(subject, case, inputs.replace(operands=views, buffer=buffer, v=buffer[..., k_end:, :]))
    if not same_bits(buffer[..., k_end:, :], v_before):
        raise PropertyFailed(f"writes into v, the part of the fused qkv buffer after q and k ({layout} buffer, "
                             f"strides {buffer.stride()})", case)
    if not subject.spec.inplace and not same_bits(buffer, before):
        raise PropertyFailed(f"writes into the fused qkv buffer ({layout}) but the spec does not say inplace = true",
                             case)
    try:
        return _judge(subject, case, outs, keep, inputs.positions, "")
    except PropertyFailed:
        pass
    separate = case.inputs(subject.device, fused=False)
    try:
        _judge(subject, case, call(subject, case, separate), _keep(separate), separate.positions, "")
        separate_ok = True
    except PropertyFailed:
        separate_ok = False
    cause = (f"gives a wrong result when q and k are views into one fused qkv buffer ({layout}, strides "
             f"q {views[0].stride()}, k {views[1].stride()}) but the right one for separate tensors: k is addressed "
             "with q's strides, or assumed contiguous" if separate_ok else
             "disagrees with the oracle for separate q and k too (not a fused-buffer problem)")
    return _judge(subject, case, outs, keep, inputs.positions, cause)


@st.composite
def _boundary_cases(draw, spec: Spec):
    case = draw(cases(spec, min_batch=2), label="case")
    gaps = tuple(draw(st.integers(0, 2), label=f"empty sequences before sequence {i}")
                 for i in range(len(case.lengths) + 1))
    return replace(case, extra={"empty inserted": gaps})


def _with_empties(case: RopeCase, gaps: tuple[int, ...]) -> RopeCase:
    lengths, positions = [], []
    for i in range(len(case.lengths) + 1):
        lengths += [0] * gaps[i]
        positions += [()] * gaps[i]
        if i < len(case.lengths):
            lengths.append(case.lengths[i])
            positions.append(case.positions[i])
    return replace(case, lengths=tuple(lengths), positions=tuple(positions), batch=len(lengths))


def _packed_boundaries(subject: Subject, case: RopeCase) -> float:
    """Each packed sequence is rotated by its own positions only, whatever its neighbours:
    the batch as drawn, and the same tokens with empty sequences inserted between them
    (cu_seqlens repeats an entry), each agree with the oracle sequence by sequence."""
    worst = 0.0
    gaps = case.extra["empty inserted"]
    for variant, what in ((case, "as drawn"), (_with_empties(case, gaps), f"with empty sequences inserted {gaps}")):
        inputs = variant.inputs(subject.device)
        keep = _keep(inputs)
        outs = call(subject, variant, inputs)
        starts = [0, *itertools.accumulate(variant.lengths)]
        for s, (lo, hi) in enumerate(zip(starts, starts[1:])):
            if hi == lo:
                continue
            one = replace(variant, lengths=(hi - lo,), positions=(variant.positions[s],), batch=1, seq=hi - lo)
            cause = (f"sequence {s} of {len(variant.lengths)} (tokens {lo}..{hi - 1}, lengths {variant.lengths}, "
                     f"{what}) is not rotated by its own positions")
            worst = max(worst, _judge(subject, one, tuple(y[lo:hi] for y in outs), tuple(x[lo:hi] for x in keep),
                                      inputs.positions[lo:hi], cause))
    return worst


def _needs_partial(spec: Spec) -> str | None:
    return None if spec.partial_rotary else "the spec does not claim partial_rotary"


def _needs_grad(spec: Spec) -> str | None:
    if not spec.differentiable:
        return "the spec says differentiable = false"
    if not any(d in GRAD_DTYPES for d in spec.dtypes):
        return "gradients are checked in float32/float64 and the spec claims neither"
    return None


def _rows_can_differ(spec: Spec) -> str | None:
    return None if spec.max_position >= 2 else "max_position = 1 leaves one position: rows cannot differ"


def _needs_qk(spec: Spec) -> str | None:
    return None if spec.signature == "qk" else 'the spec has signature = "x" (one tensor, no q and k)'


HISTORY_KINDS = ("another dtype, larger positions", "one small position", "larger positions", "another base",
                 "another rotary_dim", "another dtype, larger positions")
"""What an earlier call of ``call_history`` changes, each aimed at a cache kept between calls:
its dtype (built by another dtype's call), its length (built short, or grown), its key
(built for another base or rotary width)."""


@st.composite
def _earlier_call(draw, spec: Spec, final: RopeCase, kind: str) -> RopeCase:
    """One call made before ``final``: the same form and shape unless ``kind`` says otherwise."""
    flat = [p for row in final.positions for p in row]
    if final.config.axes > 1 or not flat:  # multi-axis or empty: only the dtype changes
        return replace(final, dtype=draw(st.sampled_from(spec.dtypes), label="dtype"), extra={})
    top = spec.max_position - 1
    if kind == "another base" and spec.base == "any":
        return replace(final, config=final.config.replace(base=draw(bases(), label="base")), extra={})
    if kind == "another rotary_dim" and spec.partial_rotary and final.head_dim > 2 and not final.config.scaling:
        width = draw(st.integers(1, final.head_dim // 2).map(lambda h: 2 * h), label="rotary_dim")
        return replace(final, config=final.config.replace(rotary_dim=width), extra={})
    if kind == "one small position":
        first = min(flat)
        return replace(final, batch=1, seq=1, positions=((first,),), lengths=(1,) if final.packed else None, extra={})
    dtype = final.dtype
    if kind == "another dtype, larger positions":
        others = [d for d in spec.dtypes if d != final.dtype] or [final.dtype]
        dtype = draw(st.sampled_from(others), label="dtype")
    room = top - max(flat)
    shift = draw(st.integers(0, room), label="positions shifted up by") if room > 0 else 0
    rows = tuple(tuple(p + shift for p in row) for row in final.positions)
    return replace(final, dtype=dtype, positions=rows, extra={})


@st.composite
def _history_cases(draw, spec: Spec):
    final = draw(cases(spec), label="last call")
    history: list[RopeCase] = []
    for i in range(draw(st.integers(1, 3), label="earlier steps")):
        kind = draw(st.sampled_from(HISTORY_KINDS), label=f"step {i + 1} changes")
        if kind.startswith("another dtype") and (spec.base == "any" or spec.partial_rotary):
            # first another config, so that a cache keyed on it is rebuilt by the other dtype's call
            history.append(draw(_earlier_call(spec, final, "another base" if spec.base == "any" else "another rotary_dim"),
                                label=f"step {i + 1}: another config first"))
        history.append(draw(_earlier_call(spec, final, kind), label=f"step {i + 1}"))
    return replace(final, extra={"history": tuple(history)})


def _call_history(subject: Subject, case: RopeCase) -> float:
    """Calls ``case.extra["history"]`` in order, then ``case`` itself, in one process: each
    must agree with the oracle. The last one failing after earlier calls points at state kept
    between calls (a cos/sin cache in the wrong dtype, too short, or built for another config)."""
    history = case.extra["history"]
    for i, earlier in enumerate(history):
        inputs = earlier.inputs(subject.device)
        keep = _keep(inputs)
        try:
            _judge(subject, earlier, call(subject, earlier, inputs), keep, inputs.positions,
                   f"disagrees with the oracle on call {i + 1} of the sequence")
        except PropertyFailed as failure:
            failure.case = case
            raise
    last = replace(case, extra={})
    inputs = last.inputs(subject.device)
    keep = _keep(inputs)
    try:
        return _judge(subject, last, call(subject, last, inputs), keep, inputs.positions,
                      f"disagrees with the oracle on the last call, after {len(history)} earlier "
                      f"call{'s' if len(history) > 1 else ''} ({'; '.join(e.brief() for e in history)}): "
                      "state kept between calls (a cos/sin cache in another dtype, too short, or built for "
                      "another config) if the same call alone is right")
    except PropertyFailed as failure:
        failure.case = case
        raise


def _needs_packed(spec: Spec) -> str | None:
    return None if spec.packed else "the spec does not claim packed = true"


def _not_inplace(spec: Spec) -> str | None:
    return "the spec says inplace = true" if spec.inplace else None


def _serving_prefill(spec: Spec) -> RopeCase | None:
    found = serving_examples(spec, ("prefill",))
    return found[0] if found else None


def _serving_rows(spec: Spec) -> list[RopeCase]:
    """A decode step of 2049 sequences at different positions, and the prefill's rows."""
    return serving_examples(spec, ("decode",)) + serving_examples(spec, ("prefill",))[:1]


def _serving_chunked(spec: Spec) -> list[RopeCase]:
    """The prefill, all but the last token of each sequence, then one decode token each."""
    case = _serving_prefill(spec)
    if case is None or case.seq < 2:
        return []
    split = tuple(n - 1 for n in case.lengths) if case.packed else case.seq - 1
    return [replace(case, extra={"split": split})]


def _serving_fused(spec: Spec) -> list[RopeCase]:
    """The prefill with q and k as views into one qkv buffer (q/k specs)."""
    case = _serving_prefill(spec) if spec.signature == "qk" else None
    return [] if case is None else [replace(case, fused=True, extra={"buffer layout": "contiguous"})]


PROPERTIES: tuple[Property, ...] = (
    # explicit boundary examples on every run; a long counterexample narrowed to the token
    # that fails; after a failure, the search goes on for failures with other causes
    Property("oracle_agreement", "equals the float64 oracle for the claimed pairing and base, within the tolerance model",
             cases, _agreement, weight=4, examples=boundary_examples, serving=serving_examples, narrow=True,
             more_causes=True),
    Property("relative_position", "scores <rope(q, m), rope(k, n)> depend only on n - m",
             _shifted, _relative_position),
    Property("norm_preservation", "every rotated pair keeps its norm", cases, _norms),
    Property("identity_at_zero", "position 0 leaves x unchanged", _zero_cases, _identity_at_zero),
    Property("passthrough_untouched", "dims at and above rotary_dim are returned bit for bit",
             _partial_cases, _passthrough, _needs_partial),
    Property("per_row_positions", "rows with different positions are each rotated by their own",
             _row_cases, _per_row_positions, _rows_can_differ, weight=2, serving=_serving_rows),
    Property("chunked_equals_whole", "prefill in chunks with offsets equals the whole sequence (KV-cache decode)",
             _chunked_cases, _chunked, weight=2, serving=_serving_chunked),
    Property("memory_layout", "transposed and sliced views give the same result as contiguous inputs",
             _layout_cases, _layout, weight=2),
    Property("output_contract", "returns a tensor of the input's shape, dtype and device", cases, _output_contract),
    Property("input_not_modified", "does not write into x or positions", cases, _no_mutation, _not_inplace),
    Property("gradients", "the gradient w.r.t. x is the inverse rotation of the upstream gradient",
             _grad_cases, _gradients, _needs_grad),
    Property("nan_locality", "a NaN or inf in one token changes no other token and stays non-finite",
             _poison_cases, _nan_locality),
    Property("determinism", "the same call twice gives the same bits", cases, _determinism),
    Property("qk_independence", "q_out does not depend on k's values, nor k_out on q's (bit for bit)",
             lambda spec: cases(spec, fused=False), _independence, _needs_qk),
    Property("fused_buffer", "q and k as views into one fused qkv buffer give the oracle's result; v is not written",
             _fused_cases, _fused_buffer, _needs_qk, weight=2, serving=_serving_fused),
    Property("call_history", "a call after other calls (another dtype, length, base or width) still equals the oracle",
             _history_cases, _call_history, weight=2),
    Property("packed_boundaries", "each packed sequence is rotated by its own positions, whatever its neighbours",
             _boundary_cases, _packed_boundaries, _needs_packed, weight=2),
)

BY_NAME = {p.name: p for p in PROPERTIES}
