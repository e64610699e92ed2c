"""The property catalogue: what a conforming RoPE implementation must satisfy.

Each property draws inputs from ``ropecheck.strategies`` restricted to what the spec
claims (dtypes, pairing, base, partial rotary, position range), calls the implementation
and judges the output under ``ropecheck.tolerance``. A violation raises ``PropertyFailed``
with a cause in words, the worst error against the allowed one, and the case.
"""

from __future__ import annotations

import traceback
from dataclasses import dataclass, replace
from typing import Callable

import torch
from hypothesis import strategies as st

from ropecheck import diagnose, oracle, tolerance
from ropecheck.adapters import AdapterMismatch
from ropecheck.config import RopeConfig
from ropecheck.scaling import CALL_DEPENDENT
from ropecheck.spec import Spec, exception_text
from ropecheck.strategies import RopeCase, rope_cases

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


# ---------------------------------------------------------------- calling the implementation


class NotJudged(Exception):
    """A bundled adapter no longer fits the installed library: ropecheck's failure (status
    ``error``), never a verdict on the library."""


def call(subject: Subject, case: RopeCase, x: torch.Tensor, positions: torch.Tensor,
         config: RopeConfig | None = None) -> torch.Tensor:
    """Run the implementation; any exception (``SystemExit`` included), a non-tensor, a
    misshapen result or one whose values cannot be read fails."""
    config = case.config if config is None else config
    try:
        y = subject.fn(x, positions, config)
    except AdapterMismatch as exc:
        raise NotJudged(str(exc)) from None
    except Exception as exc:  # noqa: BLE001 - the implementation's exception is the finding
        raise PropertyFailed(f"raised {type(exc).__name__}: {exc}{_where(exc)}", case) from None
    except BaseException as exc:  # noqa: BLE001 - SystemExit / KeyboardInterrupt from a call is a finding too
        raise PropertyFailed(f"raised {exception_text(exc)}{_where(exc)}", case) from None
    if not isinstance(y, torch.Tensor):
        raise PropertyFailed(f"returned {type(y).__name__}, not a torch.Tensor", case)
    if tuple(y.shape) != tuple(x.shape):
        raise PropertyFailed(f"returned shape {tuple(y.shape)} for input shape {tuple(x.shape)}", case)
    if y.is_meta:
        raise PropertyFailed("returned a meta tensor (a shape without values)", case)
    try:
        y.detach().to("cpu")
    except Exception as exc:  # noqa: BLE001 - a tensor that fails when read is the implementation's fault
        raise PropertyFailed(f"returned a tensor whose values cannot be read: {type(exc).__name__}: "
                             f"{' '.join(str(exc).split())[:300]}", case) from None
    return y


def _where(exc: BaseException) -> str:
    frames = traceback.extract_tb(exc.__traceback__)
    return f" (at {frames[-1].filename}:{frames[-1].lineno})" if frames else ""


def _inputs(subject: Subject, case: RopeCase) -> tuple[torch.Tensor, torch.Tensor]:
    return case.make_x(subject.device), case.make_positions(subject.device)


def _judge(subject: Subject, case: RopeCase, y: torch.Tensor, x: torch.Tensor, positions: torch.Tensor,
           cause: str, config: RopeConfig | None = None) -> float:
    """Compare with the oracle; on failure name the cause and the likely explanation."""
    config = case.config if config is None else config
    result = tolerance.compare(y, x, positions, config)
    if not result.ok:
        y_cpu, x_cpu, pos_cpu = y.detach().cpu(), x.detach().cpu(), positions.detach().cpu()
        raise PropertyFailed(cause, case, result.describe(), result.worst_ratio,
                             explain=lambda: diagnose.explain(y_cpu, x_cpu, pos_cpu, config))
    return result.worst_ratio


def cases(spec: Spec, **overrides) -> st.SearchStrategy[RopeCase]:
    """RopeCases restricted to what ``spec`` claims."""
    options = dict(dtypes=spec.dtypes, pairing=spec.pairing, base=spec.base,
                   partial=spec.partial_rotary, max_position=spec.max_position,
                   scaling=tuple(t for t in spec.scaling if t != "default"), multi_axis=spec.multi_axis)
    options.update(overrides)
    return rope_cases(**options)


# ---------------------------------------------------------------- the properties


def _oracle_check(cause: str) -> Callable[[Subject, RopeCase], float]:
    """A check: call on the case's inputs and judge against the oracle, failing with ``cause``."""

    def check(subject: Subject, case: RopeCase) -> float:
        x, pos = _inputs(subject, case)
        keep = x.clone()
        y = call(subject, case, x, pos)
        return _judge(subject, case, y, keep, pos, cause)

    return check


_agreement = _oracle_check("disagrees with the oracle")


def flat_positions(case: RopeCase) -> list[int]:
    """Every position of a case, multi-axis ones included."""
    return case.make_positions().flatten().tolist()


@st.composite
def _shifted(draw, spec: Spec):
    case = draw(cases(spec, min_seq=2, max_batch=1))
    pos = case.make_positions()
    if case.config.axes == 1:
        shift = draw(st.integers(-int(pos.min()), spec.max_position - 1 - int(pos.max())), label="shift")
    else:  # per axis: one axis moved, or all of them by their own amounts
        lows, highs = (-pos.amin((0, 1))).tolist(), (spec.max_position - 1 - pos.amax((0, 1))).tolist()
        moved = draw(st.sampled_from(("one axis", "every axis")), label="shifted axes")
        axis = draw(st.integers(0, case.config.axes - 1), label="shifted axis")
        shift = tuple(draw(st.integers(lo, hi), label=f"shift on axis {a}") if moved == "every axis" or a == axis else 0
                      for a, (lo, hi) in enumerate(zip(lows, highs)))
    return replace(case, heads=2, extra={"shift": shift})


def _relative_position(subject: Subject, case: RopeCase) -> float:
    """Scores <rope(q, m), rope(k, n)> at positions p and p + shift must agree (multi-axis:
    a shift per axis). One call holds both rows, so length-dependent scalings (dynamic,
    longrope) use one set of frequencies for both, as HF's batch-wide update does."""
    qk = case.make_x(subject.device)  # (1, seq, 2, d): head 0 is q, head 1 is k
    pos = case.make_positions(subject.device)
    shift = case.extra["shift"]
    x = torch.cat([qk, qk], dim=0)
    both = torch.cat([pos, pos + torch.tensor(shift, dtype=pos.dtype, device=pos.device)], dim=0)
    keep = x.clone()
    y = call(subject, case, x, both).detach().to("cpu", torch.float64)
    scores = torch.einsum("bid,bjd->bij", y[:, :, 0], y[:, :, 1])
    budget = tolerance.allowance(keep, both, case.config, x.dtype)
    q, k = keep.to("cpu", torch.float64)[:, :, 0], keep.to("cpu", torch.float64)[:, :, 1]
    bound = _score_bound(q, k, budget, case.config)
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


def _score_bound(q: torch.Tensor, k: torch.Tensor, budget: tolerance.Allowance, config: RopeConfig) -> torch.Tensor:
    """Bound on |score error| per row: sum over pairs of aq*|k_p| + ak*|q_p| (+ pass-through).

    q, k: (rows, seq, head_dim); budget.pair: (rows, seq, 2, half). Returns (rows, seq, seq).
    """
    first, second = oracle.pair_indices(config)
    qn, kn = torch.hypot(q[..., first], q[..., second]), torch.hypot(k[..., first], k[..., second])
    aq, ak = budget.pair[:, :, 0], budget.pair[:, :, 1]
    bound = torch.einsum("bip,bjp->bij", aq, kn) + torch.einsum("bip,bjp->bij", qn, ak) + torch.einsum("bip,bjp->bij", aq, ak)
    rest = slice(config.rotary_dim, None)
    bound += torch.einsum("bid,bjd->bij", budget.rest[:, :, 0], k[..., rest].abs())
    bound += torch.einsum("bid,bjd->bij", q[..., rest].abs(), budget.rest[:, :, 1])
    return bound + 1e-300


def _norms(subject: Subject, case: RopeCase) -> float:
    x, pos = _inputs(subject, case)
    keep = x.clone()
    y = call(subject, case, x, pos)
    first, second = oracle.pair_indices(case.config)
    out, x64 = y.detach().to("cpu", torch.float64), keep.to("cpu", torch.float64)
    af = case.config.attention_factor  # YaRN / LongRoPE scale every pair by it
    gap = (torch.hypot(out[..., first], out[..., second]) - af * torch.hypot(x64[..., first], x64[..., second])).abs()
    allowed = tolerance.norm_allowance(keep, y.dtype, case.config)
    result = tolerance.worst(gap, allowed, first)
    if not result.ok:
        raise PropertyFailed("changes the norm of a rotated pair (a rotation preserves it"
                             + (f"; the attention factor {af:.6g} scales it)" if af != 1 else ")"), case,
                             result.describe(), result.worst_ratio)
    return result.worst_ratio


def _zeros(nested):
    return tuple(_zeros(v) for v in nested) if isinstance(nested, tuple) else 0


def _zero_cases(spec: Spec):
    return cases(spec).map(lambda c: replace(c, positions=_zeros(c.positions)))


_identity_at_zero = _oracle_check("position 0 is not the identity")


def _partial_cases(spec: Spec):
    return cases(spec, partial=True).filter(lambda c: c.config.rotary_dim < c.head_dim)


def _passthrough(subject: Subject, case: RopeCase) -> float:
    x, pos = _inputs(subject, case)
    keep = x.clone()
    y = call(subject, case, x, pos)
    rd = case.config.rotary_dim
    same = y[..., rd:].detach().cpu() == keep[..., rd:].cpu()
    if not bool(same.all()):
        b, s, h, d = (int(i) for i in (~same).nonzero()[0])
        raise PropertyFailed(
            f"changes dims at and above rotary_dim={rd}, which must pass through untouched", case,
            f"dim {rd + d} at batch {b}, seq {s}, head {h}: {keep[b, s, h, rd + d].item()!r} -> {y[b, s, h, rd + d].item()!r}")
    return None


def _row_cases(spec: Spec):
    """Batches whose rows differ; half of them batched decode (one token per row), where
    kernels that special-case seq == 1 go wrong (ml-explore/mlx#3795)."""
    decode = cases(spec, min_batch=2, max_seq=1, long_seq=1)
    return st.one_of(cases(spec, min_batch=2), decode).filter(lambda c: len(set(c.positions)) == c.batch)


_per_row_positions = _oracle_check("does not honour per-row positions")


@st.composite
def _chunked_cases(draw, spec: Spec):
    case = draw(cases(spec, min_seq=2))
    split = draw(st.integers(1, case.seq - 1), label="chunk split")
    return replace(case, extra={"split": split})


def _chunked(subject: Subject, case: RopeCase) -> float:
    """rope(x[:, :k]) ++ rope(x[:, k:]) == rope(x): prefill then incremental decode.

    For dynamic and longrope the frequencies depend on each call's largest position (HF
    recomputes them per forward), so each chunk is judged against the oracle of its own
    call: the whole and the chunks legitimately differ there."""
    x, pos = _inputs(subject, case)
    k = case.extra["split"]
    head, tail = x[:, :k].clone(), x[:, k:].clone()
    y_head = call(subject, case, head, pos[:, :k].contiguous())
    y_tail = call(subject, case, tail, pos[:, k:].contiguous())
    if case.config.rope_type in CALL_DEPENDENT:  # each chunk against the oracle (and budget) of its own call
        result = max((tolerance.compare(y_head, x[:, :k], pos[:, :k], case.config),
                      tolerance.compare(y_tail, x[:, k:], pos[:, k:], case.config)), key=lambda r: r.worst_ratio)
        if not result.ok:
            raise PropertyFailed(f"a chunk (positions split at {k}) disagrees with the oracle for that call "
                                 f"({case.config.rope_type} frequencies follow each call's largest position)",
                                 case, result.describe(), result.worst_ratio)
        return result.worst_ratio
    y = torch.cat([y_head.detach().cpu(), y_tail.detach().cpu()], dim=1)
    return _judge(subject, case, y, x, pos, f"applying it in chunks (positions split at {k}) differs from the whole")


LAYOUTS = ("transposed", "sliced_heads", "padded_head_dim", "sliced_batch_seq", "strided_last_dim")
LOUD_REFUSAL_OK = ("strided_last_dim",)
"""Layouts an implementation may refuse with an exception (a stride-2 last dim defeats
``view_as_complex``, as in Meta's code); a silently wrong result is still a failure."""


@st.composite
def _layout_cases(draw, spec: Spec):
    case = draw(cases(spec))
    layout = draw(st.sampled_from(LAYOUTS), label="layout")
    return replace(case, extra={"layout": layout})


def strided_view(x: torch.Tensor, layout: str) -> torch.Tensor:
    """The same values as ``x`` (batch, seq, heads, head_dim) in a non-contiguous layout.

    transposed: stored as (batch, heads, seq, head_dim); sliced_heads: every other head of
    a tensor with twice the heads (fused qkv); padded_head_dim: the first head_dim of a
    wider last dim; sliced_batch_seq: every other row and token of a larger tensor;
    strided_last_dim: every other element of a last dim twice as wide (stride 2).
    """
    b, s, h, d = x.shape
    if layout == "transposed":
        return x.transpose(1, 2).contiguous().transpose(1, 2)
    shape, index = {
        "sliced_heads": ((b, s, 2 * h, d), (slice(None), slice(None), slice(1, None, 2))),
        "padded_head_dim": ((b, s, h, d + 8), (Ellipsis, slice(0, d))),
        "sliced_batch_seq": ((2 * b, 2 * s, h, d), (slice(None, None, 2), slice(None, None, 2))),
        "strided_last_dim": ((b, s, h, 2 * d), (Ellipsis, slice(None, None, 2))),
    }[layout]
    big = torch.full(shape, float("nan"), dtype=x.dtype, device=x.device)
    big[index] = x
    return big[index]


def strided_positions(positions: torch.Tensor) -> torch.Tensor:
    """The same (batch, seq[, axes]) positions as every other column of a wider int64 tensor."""
    shape = (positions.shape[0], 2 * positions.shape[1]) + tuple(positions.shape[2:])
    big = torch.full(shape, -1, dtype=positions.dtype, device=positions.device)
    big[:, ::2] = positions
    return big[:, ::2]


def _layout(subject: Subject, case: RopeCase) -> float:
    """Non-contiguous x (and positions) give the oracle's result, and x's view is not written."""
    x, pos = _inputs(subject, case)
    layout = case.extra["layout"]
    view, pos_view = strided_view(x.clone(), layout), strided_positions(pos)
    before = view.clone()
    try:
        y = call(subject, case, view, pos_view)
    except PropertyFailed:
        if layout in LOUD_REFUSAL_OK:
            return None
        raise
    if not subject.spec.inplace and not torch.equal(view, before):
        raise PropertyFailed(f"writes into a non-contiguous input ({layout}, strides {view.stride()}) "
                             "but the spec does not say inplace = true", case)
    result = tolerance.compare(y, x, pos, case.config)
    if result.ok:
        return result.worst_ratio
    contiguous_ok = tolerance.compare(call(subject, case, x.clone(), pos), x, pos, case.config).ok
    cause = (f"gives a wrong result for a non-contiguous input ({layout}, strides {view.stride()}; "
             f"positions strides {pos_view.stride()}) but the right one for the same values contiguous"
             if contiguous_ok else "disagrees with the oracle for contiguous input too (not a layout problem)")
    return _judge(subject, case, y, x, pos, cause)


def _output_contract(subject: Subject, case: RopeCase) -> float:
    x, pos = _inputs(subject, case)
    y = call(subject, case, x, pos)
    if y.dtype != x.dtype:
        raise PropertyFailed(f"returns dtype {y.dtype} for input dtype {x.dtype}", case)
    if y.device != x.device:
        raise PropertyFailed(f"returns a tensor on {y.device} for input on {x.device}", case)
    return None


def _no_mutation(subject: Subject, case: RopeCase) -> float:
    x, pos = _inputs(subject, case)
    x_before, pos_before = x.clone(), pos.clone()
    call(subject, case, x, pos)
    if not torch.equal(x, x_before):
        changed = int((x != x_before).sum())
        raise PropertyFailed(f"writes into its input x ({changed} elements changed) but the spec does not say inplace = true", case)
    if not torch.equal(pos, pos_before):
        raise PropertyFailed("writes into its positions argument", case)
    return None


def _grad_cases(spec: Spec):
    return cases(spec, dtypes=tuple(d for d in spec.dtypes if d in GRAD_DTYPES))


def _gradients(subject: Subject, case: RopeCase) -> float:
    """d<y, g>/dx must be the inverse rotation of g (the VJP of a rotation)."""
    x, pos = _inputs(subject, case)
    leaf = x.clone().requires_grad_(True)
    y = call(subject, case, leaf.clone() if subject.spec.inplace else leaf, pos)
    _judge(subject, case, y, x, pos, "with x requiring grad (the training path), the forward result is wrong")
    if not y.requires_grad:
        raise PropertyFailed("output does not require grad: the implementation detaches x from the graph", case)
    gen = torch.Generator().manual_seed(case.seed + 1)
    g = torch.randn(case.shape, generator=gen, dtype=torch.float64).to(x.dtype).to(subject.device)
    try:
        (grad,) = torch.autograd.grad(y, leaf, g)
    except Exception as exc:  # noqa: BLE001
        raise PropertyFailed(f"backward raised {type(exc).__name__}: {exc}", case) from None
    expected = oracle.rope_inverse(g, pos, case.config)
    result = tolerance.compare(grad, g, pos, case.config, expected=expected)
    if not result.ok:
        forward = oracle.rope(g, pos, case.config)
        hint = ("the gradient is the forward rotation of the upstream gradient, not its inverse"
                if tolerance.compare(grad, g, pos, case.config, expected=forward).ok else
                "the gradient is not the inverse rotation of the upstream gradient")
        raise PropertyFailed(f"wrong gradient w.r.t. x: {hint}", case, result.describe(), result.worst_ratio)
    return result.worst_ratio


@st.composite
def _poison_cases(draw, spec: Spec):
    case = draw(cases(spec, min_seq=2))
    where = (draw(st.integers(0, case.batch - 1), label="nan batch"), draw(st.integers(0, case.seq - 1), label="nan seq"),
             draw(st.integers(0, case.heads - 1), label="nan head"), draw(st.integers(0, case.head_dim - 1), label="nan dim"))
    value = draw(st.sampled_from(("nan", "inf", "-inf")), label="poison")
    return replace(case, extra={"poison": where, "value": value})


def _nan_locality(subject: Subject, case: RopeCase) -> float | None:
    """A non-finite value in one token stays in that token: every other token comes out as
    the implementation's own output without it (within the model), and the value stays."""
    x, pos = _inputs(subject, case)
    b, s, h, d = case.extra["poison"]
    y_clean = call(subject, case, x.clone(), pos).detach().cpu()
    poisoned = x.clone()
    poisoned[b, s, h, d] = float(case.extra["value"])
    y = call(subject, case, poisoned, pos).detach().cpu()
    budget = tolerance.allowance(x, pos, case.config, y.dtype)
    first, second = oracle.pair_indices(case.config)
    diff = y.to(torch.float64) - y_clean.to(torch.float64)
    err = torch.cat([torch.hypot(diff[..., first], diff[..., second]), diff[..., case.config.rotary_dim:].abs()], -1)
    allowed = torch.cat([budget.pair, budget.rest], -1)
    ratio = torch.where(torch.isnan(err / allowed), torch.full_like(err, float("inf")), err / allowed)
    others = torch.ones(case.batch, case.seq, dtype=torch.bool)
    others[b, s] = False
    spread = (ratio > 1.0).flatten(2).any(-1) & others  # (batch, seq): other tokens that changed
    if bool(spread.any()):
        bb, ss = (int(i) for i in spread.nonzero()[0])
        raise PropertyFailed(f"a {case.extra['value']} at token (batch {b}, seq {s}) changes another token (batch {bb}, seq {ss})",
                             case, f"ratio {ratio[bb, ss].max().item():.3g} against its output without the {case.extra['value']}")
    if d < case.config.rotary_dim:
        pair = int(torch.nonzero((first == d) | (second == d))[0])
        cells = y[b, s, h, [int(first[pair]), int(second[pair])]]
    else:
        cells = y[b, s, h, [d]]
    if bool(torch.isfinite(cells).all()):
        raise PropertyFailed(f"a {case.extra['value']} at (batch {b}, seq {s}, head {h}, dim {d}) disappeared from the output "
                             "(non-finite inputs must stay non-finite)", case)
    return None


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
    x, pos = _inputs(subject, case)
    y1 = call(subject, case, x.clone(), pos).detach().cpu()
    y2 = call(subject, case, x.clone(), pos).detach().cpu()
    if not same_bits(y1, y2):
        differ = int((y1 != y2).sum() - (y1.isnan() & y2.isnan()).sum())
        raise PropertyFailed(f"two identical calls give different bits ({differ} elements differ)", case)
    return None


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


def _not_inplace(spec: Spec) -> str | None:
    return "the spec says inplace = true" if spec.inplace else None


PROPERTIES: tuple[Property, ...] = (
    Property("oracle_agreement", "equals the float64 oracle for the claimed pairing and base, within the tolerance model",
             cases, _agreement, weight=4),
    Property("relative_position", "scores <rope(q, m), rope(k, n)> depend only on n - m",
             _shifted, _relative_position),
    Property("norm_preservation", "every rotated pair keeps its norm", cases, _norms),
    Property("identity_at_zero", "position 0 leaves x unchanged", _zero_cases, _identity_at_zero),
    Property("passthrough_untouched", "dims at and above rotary_dim are returned bit for bit",
             _partial_cases, _passthrough, _needs_partial),
    Property("per_row_positions", "rows with different positions are each rotated by their own",
             _row_cases, _per_row_positions, _rows_can_differ, weight=2),
    Property("chunked_equals_whole", "prefill in chunks with offsets equals the whole sequence (KV-cache decode)",
             _chunked_cases, _chunked, weight=2),
    Property("memory_layout", "transposed and sliced views give the same result as contiguous inputs",
             _layout_cases, _layout, weight=2),
    Property("output_contract", "returns a tensor of the input's shape, dtype and device", cases, _output_contract),
    Property("input_not_modified", "does not write into x or positions", cases, _no_mutation, _not_inplace),
    Property("gradients", "the gradient w.r.t. x is the inverse rotation of the upstream gradient",
             _grad_cases, _gradients, _needs_grad),
    Property("nan_locality", "a NaN or inf in one token changes no other token and stays non-finite",
             _poison_cases, _nan_locality),
    Property("determinism", "the same call twice gives the same bits", cases, _determinism),
)

BY_NAME = {p.name: p for p in PROPERTIES}
