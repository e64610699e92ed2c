"""The tolerance model: how far an implementation may be from the oracle, per pair.

A rotation mixes the two components of a pair, so an error is measured on the pair, not
element by element::

    err[p]     = || y[p] - y*[p] ||_2                  (y* the float64 oracle)
    allowed[p] = || x[p] ||_2 * (OUTPUT_ULPS * eps(dtype) + angle_slack[p]) + FLOOR_TINY * tiny(dtype)
    angle_slack[p] = eps(float32) * (ANGLE_REL * (e_p * ln(base) + 2.5) * |m theta_p| + ANGLE_ABS)
    e_p = 2p / rotary_dim, the exponent of pair p's frequency base**(-e_p)

- ``OUTPUT_ULPS * eps(dtype)``: rounding in the output dtype. The worst honest path (cos/sin
  cast to the model dtype, two products and a sum each rounded there) costs about 5 eps;
  we allow 8.
- ``angle_slack``: a rotation by a wrong angle delta moves the pair by |delta| * ||x[p]||.
  Forming ``m * base**(-e_p)`` in float32 errs by at most about (e_p ln(base) + 2.5)
  float32 eps relative to the angle: the exponent's rounding (or the argument of exp in
  ``exp(-e_p ln base)``) is amplified by e_p ln(base), and pow/exp, the reciprocal, the
  product and the position cast (exact below 2**24) add a few half-ulps. We allow
  ANGLE_REL = 2 times that worst case. ANGLE_ABS covers cos/sin evaluated in float32 (a couple of
  ulps absolute), so float64 inputs with float32 cos/sin tables are accepted.
- the floor, two of the dtype's smallest normal numbers, accepts flush-to-zero.
- with ``config.scaling``: the budget of a rotated pair scales with the attention factor,
  the angle term uses the scaled angles and the NTK base, and adds per pair the float32
  ulps a scaled ladder honestly loses (``scaling.freq_slack_ulps``: a division, or a
  blend of theta and theta/s whose weight's rounding the blend amplifies by theta/theta').

Angles formed in bfloat16 or float16 err by 2**-9 or 2**-12 of the angle, 8192 to 65536
times the float32 slack, and are rejected as soon as |m theta| is a few radians.
Errors are reported as ``ratio = err / allowed``; a pair fails when ratio > 1.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass

import mpmath
import torch

from ropecheck import oracle, scaling
from ropecheck.config import RopeConfig

OUTPUT_ULPS = 8.0
ANGLE_REL = 2.0
ANGLE_ABS = 4.0
FLOOR_TINY = 2.0
EPS_F32 = torch.finfo(torch.float32).eps

DTYPES = {
    "float64": torch.float64,
    "float32": torch.float32,
    "bfloat16": torch.bfloat16,
    "float16": torch.float16,
}


def eps(dtype: torch.dtype) -> float:
    """Machine epsilon (the gap between 1 and the next number) of ``dtype``."""
    return torch.finfo(dtype).eps


def angle_slack(positions: torch.Tensor, config: RopeConfig) -> torch.Tensor:
    """Allowed angle error per (token, pair), in radians per unit of pair norm.

    Returns:
        float64 (batch, seq, 1, rotary_dim // 2).
    """
    magnitude = oracle.unreduced_angles(positions, config)
    return _slack(magnitude, config, oracle.call_length(positions))[:, :, None, :]


def _slack(magnitude: torch.Tensor, config: RopeConfig, length: int) -> torch.Tensor:
    """``angle_slack`` from the unreduced angles (batch, seq, rotary_dim // 2); same shape out."""
    rel = ANGLE_REL * _angle_ulps(config, length)
    return EPS_F32 * (rel * magnitude + ANGLE_ABS)


def _angle_ulps(config: RopeConfig, length: int) -> torch.Tensor:
    """Per pair, the float32 ulps (relative to the angle) of an honest angle: ``e_p ln(base)
    + 2.5``, plus ``scaling.freq_slack_ulps`` when scaled. float64 (rotary_dim // 2,), cached
    on what determines it (base, rotary_dim, the scaling, and the call length where the
    scaling depends on it); read only."""
    sc = config.scaling
    if not sc:
        return _angle_ulps_cached(config.base, config.rotary_dim, (), 0)
    length_key = scaling.effective_length(config.rope_type, sc, length)
    return _angle_ulps_cached(config.base, config.rotary_dim, scaling._key(sc), length_key)


@functools.lru_cache(maxsize=512)
def _angle_ulps_cached(base: float, rotary_dim: int, scaling_key: tuple, length_key) -> torch.Tensor:
    if not scaling_key:
        exponent = torch.arange(0, rotary_dim, 2, dtype=torch.float64) / rotary_dim
        return exponent * math.log(base) + 2.5
    sc = dict(scaling_key)
    rope_type = sc.get("rope_type", "default")
    exponent = torch.tensor([float(e) for e in scaling.exponents(sc, rotary_dim)], dtype=torch.float64)
    log_base = float(mpmath.log(scaling.effective_base(rope_type, sc, base, rotary_dim, length_key)))
    extra = torch.from_numpy(scaling._slack_cached(base, rotary_dim, scaling_key, length_key))
    return exponent * log_base + 2.5 + extra


@dataclass(frozen=True)
class Comparison:
    """Result of comparing one output with the oracle.

    ``worst_ratio`` is err / allowed at the worst pair (or pass-through dim); it is NaN-
    safe: a NaN or inf where the oracle is finite counts as ratio inf.
    """

    worst_ratio: float
    worst_error: float
    worst_allowed: float
    where: tuple[int, ...]  # (batch, seq, head, dim) of the worst element (first dim of the pair)

    @property
    def ok(self) -> bool:
        return self.worst_ratio <= 1.0

    def describe(self) -> str:
        b, s, h, d = self.where
        return (
            f"worst error {self.worst_error:.3g} vs allowed {self.worst_allowed:.3g} "
            f"(ratio {self.worst_ratio:.3g}) at batch {b}, seq {s}, head {h}, dim {d}"
        )


def output_term(dtype: torch.dtype) -> tuple[float, float]:
    """(relative, absolute floor) of the rounding allowance in ``dtype``."""
    return OUTPUT_ULPS * eps(dtype), FLOOR_TINY * torch.finfo(dtype).tiny


@dataclass(frozen=True)
class Allowance:
    """Per-element budgets for one input.

    pair: (batch, seq, heads, rotary_dim // 2), allowed ||y[p] - y*[p]|| per rotated pair.
    rest: (batch, seq, heads, head_dim - rotary_dim), allowed |y[d] - x[d]| per pass-through dim.
    """

    pair: torch.Tensor
    rest: torch.Tensor


def allowance(x: torch.Tensor, positions: torch.Tensor, config: RopeConfig, dtype: torch.dtype) -> Allowance:
    """The model's budgets for ``rope(x, positions, config)`` computed in ``dtype``.

    x: (batch, seq, heads, head_dim); positions: (batch, seq) int64 ((batch, seq, axes)
    multi-axis). Returns float64 budgets of the shapes ``Allowance`` states.
    """
    x64 = x.detach().to("cpu", torch.float64)
    rel, floor = output_term(dtype)
    slack = angle_slack(positions, config)
    return Allowance(pair=_pair_budget(x64, slack, config, rel, floor), rest=_rest_budget(x64, config, rel, floor))


def _pair_budget(x64: torch.Tensor, slack: torch.Tensor | float, config: RopeConfig, rel: float, floor: float,
                 in_place: bool = False) -> torch.Tensor:
    """``af * ||x[p]|| * (rel + slack) + floor`` per pair: x64 (..., head_dim) float64,
    slack broadcastable to (..., rotary_dim // 2); returns (..., rotary_dim // 2).
    ``in_place``: slack does not broadcast the result to a larger shape, so the products
    and the sum may go into the norms' buffer (the same roundings in the same order)."""
    budget = pair_norms(x64, config)
    af = config.attention_factor
    if not in_place:
        if af != 1.0:  # 1.0 * v == v: skipped only because it changes nothing
            budget = af * budget
        return budget * (rel + slack) + floor
    if af != 1.0:
        budget.mul_(af)
    return budget.mul_(rel + slack).add_(floor)


def _rest_budget(x64: torch.Tensor, config: RopeConfig, rel: float, floor: float) -> torch.Tensor:
    """``|x[d]| * rel + floor`` per pass-through dim: (..., head_dim - rotary_dim)."""
    return oracle.pass_through(x64, config).abs() * rel + floor


def pair_norms(t: torch.Tensor, config: RopeConfig) -> torch.Tensor:
    """``hypot(t[first], t[second])`` of every rotated pair (under ``config.pairing``).

    t: (..., head_dim) float64. Returns float64 (..., rotary_dim // 2), contiguous.

    The pair views are made contiguous first unless their rows are contiguous runs of a
    multiple of 16: torch's vectorised hypot and its scalar loop (strided inputs, the tail
    of a row) can differ in the last ulp, and this keeps every norm on the vector path,
    as it was when the pairs were gathered into new tensors.
    """
    a, b = oracle.pair_views(t, config)
    return torch.hypot(_vector_ready(a), _vector_ready(b))


def _vector_ready(t: torch.Tensor) -> torch.Tensor:
    if t.is_contiguous() or (t.stride(-1) == 1 and t.shape[-1] % 16 == 0):
        return t
    return t.contiguous()


def norm_allowance(x: torch.Tensor, dtype: torch.dtype, config: RopeConfig) -> torch.Tensor:
    """Allowed | ||y[p]|| - af ||x[p]|| | per pair (af the attention factor): rounding and
    float32 cos/sin, no angle term (a wrong angle does not change a norm).
    x: (..., head_dim); returns float64 (..., rotary_dim // 2)."""
    x64 = x.detach().to("cpu", torch.float64)
    rel, floor = output_term(dtype)
    return _pair_budget(x64, ANGLE_ABS * EPS_F32, config, rel, floor)


def compare(
    y: torch.Tensor, x: torch.Tensor, positions: torch.Tensor, config: RopeConfig,
    expected: torch.Tensor | None = None,
) -> Comparison:
    """Judge ``y = rope(x, positions, config)`` against the oracle under the model above.

    Args:
        y: (batch, seq, heads, head_dim), the implementation's output, any dtype/device.
        x: the input it was given (same shape).
        positions: (batch, seq) int64 ((batch, seq, axes) multi-axis).
        expected: the reference float64 result, if not the oracle's (e.g. a gradient).

    The frequencies, angles, cos/sin and angle slack are computed once per call (per
    token, shape (batch, seq, rotary_dim // 2)); the float64 work per element (x and y in
    float64, the oracle's rotation, errors, budgets) goes a block of tokens at a time
    (``oracle.token_chunks``), so its temporaries stay bounded whatever the input's size.
    The result equals judging the whole tensor at once: blocks are taken in flat order
    and the first worst element is kept.
    """
    if expected is None:
        oracle._check_shapes(x, positions, config)
    dtype = y.dtype if y.is_floating_point() else x.dtype
    rel, floor = output_term(dtype)
    if expected is None:
        tables = oracle.call_tables(positions, config)
        cos, sin, slack = tables.cos, tables.sin, _slack(tables.magnitude, config, tables.length)
    else:  # no reduced angles: a gradient may be judged at positions the oracle does not reach
        slack = _slack(oracle.unreduced_angles(positions, config), config, oracle.call_length(positions))
    dims = _Dims(config)
    tokens = tuple(x.shape[:2])
    blocks = [(slice(None), slice(None))]  # one block, broadcasting as whole tensors would ...
    fused = (x.dim() == 4 and tuple(y.shape) == tuple(x.shape) and tuple(slack.shape[:2]) == tokens
             and (expected is None or tuple(expected.shape) == tuple(x.shape)))
    if fused:  # ... unless every shape is as documented
        blocks = oracle.token_chunks(x.shape)
    best = None
    for bs, ss in blocks:
        x64 = x[bs, ss].detach().to("cpu", torch.float64)
        yb = y[bs, ss].detach()
        if expected is None:
            ref = oracle.rotate_pairs(x64, cos[bs, ss, None], sin[bs, ss, None], config)
            if fused and yb.is_floating_point() and not yb.is_complex():
                # y - ref into ref's buffer; y's float values promote exactly to float64
                diff = torch.sub(yb.to("cpu"), ref, out=ref)
            else:
                diff = yb.to("cpu", torch.float64) - ref
        else:
            diff = yb.to("cpu", torch.float64) - expected[bs, ss]
        del yb
        err = pair_norms(diff, config)
        allowed = _pair_budget(x64, slack[bs, ss, None], config, rel, floor, in_place=fused)
        if config.rotary_dim < x.shape[-1]:
            err = torch.cat([err, oracle.pass_through(diff, config).abs()], dim=-1)
            allowed = torch.cat([allowed, _rest_budget(x64, config, rel, floor)], dim=-1)
        del x64, diff
        result = worst(err, allowed, dims)
        del err, allowed
        if len(blocks) == 1:
            return result
        if best is None or result.worst_ratio > best.worst_ratio:  # ties: the earlier block's
            b, s, h, d = result.where
            best = Comparison(result.worst_ratio, result.worst_error, result.worst_allowed,
                              (b + (bs.start or 0), s + (ss.start or 0), h, d))
    return best


class _Dims:
    """Column k of a comparison -> its head_dim index: the first dim of pair k
    (``pair_indices(config)[0][k]``), then the pass-through dims ``rotary_dim ..``."""

    def __init__(self, config: RopeConfig):
        self.half, self.rotary_dim = config.rotary_dim // 2, config.rotary_dim
        self.step = 2 if config.pairing == "interleaved" else 1

    def __getitem__(self, k: int) -> int:
        return self.step * k if k < self.half else self.rotary_dim + k - self.half


def worst(err: torch.Tensor, allowed: torch.Tensor, dims) -> Comparison:
    """The element with the largest ``err / allowed`` (NaN counts as inf); the first one
    in flat order when several tie.

    err, allowed: (batch, seq, heads, k); dims: (k,) the head_dim index of each column
    (a tensor or a sequence of ints).
    """
    ratio = err / allowed
    if ratio.numel() == 0:
        return Comparison(0.0, 0.0, 0.0, (0, 0, 0, 0))
    torch.nan_to_num_(ratio, nan=math.inf, posinf=math.inf, neginf=-math.inf)  # only NaN -> inf
    flat = int(torch.argmax(ratio))
    where, rest = [], flat
    for n in reversed(ratio.shape):
        rest, i = divmod(rest, n)
        where.append(i)
    where.reverse()
    return Comparison(
        worst_ratio=float(ratio.reshape(-1)[flat]),
        worst_error=float(err.reshape(-1)[flat]),
        worst_allowed=float(allowed.reshape(-1)[flat]),
        where=tuple(where[:-1]) + (int(dims[where[-1]]),),
    )
