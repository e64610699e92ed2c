"""``linear`` (position interpolation): theta_i / factor."""

import mpmath

from ropecheck.rope_types._record import RopeType, chain, slip_factor_multiplies, slip_ignored


def _frequency(scaling, theta, i, prepared, length_key):
    return theta / mpmath.mpf(scaling["factor"])


def _parameters(ctx, rotary_dim: int) -> dict:
    return {"rope_type": "linear", "factor": ctx.draw(ctx.factors, label="factor")}


RECORD = RopeType(
    name="linear",
    rank=1,
    summary="theta_i / factor (positions interpolated: m -> m / factor)",
    required=("factor",),
    frequency=_frequency,
    slack_ulps=2.0,  # one float32 division
    parameters=_parameters,
    slips=chain(slip_ignored, slip_factor_multiplies),
    hf=True,
    proofs=("linear_scaling_is_position_interpolation",),
    mutants=("scaling_mutants:linear_multiplies",),
)
