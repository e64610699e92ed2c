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
    length = oracle.call_length(positions)
    sc = config.scaling
    if not sc:
        exponent = torch.arange(0, config.rotary_dim, 2, dtype=torch.float64) / config.rotary_dim
        rel = ANGLE_REL * (exponent * math.log(config.base) + 2.5)
    else:
        exponent = torch.tensor([float(e) for e in scaling.exponents(sc, config.rotary_dim)], dtype=torch.float64)
        log_base = float(mpmath.log(scaling.effective_base(
            config.rope_type, sc, config.base, config.rotary_dim, scaling.effective_length(config.rope_type, sc, length))))
        extra = torch.from_numpy(scaling.freq_slack_ulps(config.base, config.rotary_dim, sc, length))
        rel = ANGLE_REL * (exponent * log_base + 2.5 + extra)
    return (EPS_F32 * (rel * magnitude + ANGLE_ABS))[:, :, None, :]


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
    """The model's budgets for ``rope(x, positions, config)`` computed in ``dtype``."""
    x64 = x.detach().to("cpu", torch.float64)
    rel, floor = output_term(dtype)
    first, second = oracle.pair_indices(config)
    pair_norm = torch.hypot(x64[..., first], x64[..., second])
    pair = config.attention_factor * pair_norm * (rel + angle_slack(positions, config)) + floor
    rest = x64[..., config.rotary_dim:].abs() * rel + floor
    return Allowance(pair=pair, rest=rest)


def norm_allowance(x: torch.Tensor, dtype: torch.dtype, config: RopeConfig) -> torch.Tensor:
    """Allowed | ||y[p]|| - af ||x[p]|| | per pair (af the attention factor): rounding and
    float32 cos/sin, no angle term (a wrong angle does not change a norm).
    Shape (..., rotary_dim // 2)."""
    x64 = x.detach().to("cpu", torch.float64)
    rel, floor = output_term(dtype)
    first, second = oracle.pair_indices(config)
    pair_norm = torch.hypot(x64[..., first], x64[..., second])
    return config.attention_factor * pair_norm * (rel + ANGLE_ABS * EPS_F32) + floor


def compare(
    y: torch.Tensor, x: torch.Tensor, positions: torch.Tensor, config: RopeConfig,
    expected: torch.Tensor | None = None,
) -> Comparison:
    """Judge ``y = rope(x, positions, config)`` against the oracle under the model above.

    Args:
        y: (batch, seq, heads, head_dim), the implementation's output, any dtype/device.
        x: the input it was given (same shape).
        positions: (batch, seq) int64.
        expected: the reference float64 result, if not the oracle's (e.g. a gradient).
    """
    ref = oracle.rope(x, positions, config) if expected is None else expected
    dtype = y.dtype if y.is_floating_point() else x.dtype
    budget = allowance(x, positions, config, dtype)
    diff = y.detach().to("cpu", torch.float64) - ref
    first, second = oracle.pair_indices(config)
    pair_err = torch.hypot(diff[..., first], diff[..., second])
    rest_err = diff[..., config.rotary_dim:].abs()
    err = torch.cat([pair_err, rest_err], dim=-1)
    allowed = torch.cat([budget.pair, budget.rest], dim=-1)
    dims = torch.cat([first, torch.arange(config.rotary_dim, x.shape[-1])])
    return worst(err, allowed, dims)


def worst(err: torch.Tensor, allowed: torch.Tensor, dims: torch.Tensor) -> Comparison:
    """The element with the largest ``err / allowed`` (NaN counts as inf).

    err, allowed: (batch, seq, heads, k); dims: (k,) the head_dim index of each column.
    """
    ratio = err / allowed
    ratio = torch.where(torch.isnan(ratio), torch.full_like(ratio, math.inf), ratio)
    if ratio.numel() == 0:
        return Comparison(0.0, 0.0, 0.0, (0, 0, 0, 0))
    flat = int(torch.argmax(ratio))
    idx = list(torch.unravel_index(torch.tensor(flat), ratio.shape))
    where = tuple(int(i) for i in idx[:-1]) + (int(dims[int(idx[-1])]),)
    return Comparison(
        worst_ratio=float(ratio.flatten()[flat]),
        worst_error=float(err.flatten()[flat]),
        worst_allowed=float(allowed.flatten()[flat]),
        where=where,
    )
