"""A toy rope_type, ``toy_halving``, written as a new type would be: this one file and
nothing else (the tests register it with ``ropecheck.rope_types.discover``).

theta'_i = theta_i / shrink for odd pairs i, theta_i for even ones."""

import mpmath

from ropecheck.rope_types._record import RopeType, chain, error, slip_ignored


def _check(scaling, rotary_dim):
    shrink = scaling["shrink"]
    if isinstance(shrink, bool) or not isinstance(shrink, (int, float)) or not shrink > 0:
        raise error("shrink", f"expected a positive number, got {shrink!r}")


def _frequency(scaling, theta, i, prepared, length_key):
    return theta / mpmath.mpf(scaling["shrink"]) if i % 2 else theta


def _parameters(ctx, rotary_dim):
    return {"rope_type": "toy_halving", "shrink": ctx.draw(ctx.sampled((2.0, 4.0, 8.0)), label="shrink")}


def _slip_every_pair(ctx):
    shrink = float(ctx.scaling["shrink"])
    yield (f"toy_halving: every pair divided by shrink {shrink:g} (not only the odd ones)",
           lambda: ctx.with_inv_freq(ctx.unscaled_inv_freq() / shrink), ctx.loose)


RECORD = RopeType(
    name="toy_halving",
    rank=50,
    summary="theta_i / shrink for odd i, theta_i for even i",
    required=("shrink",),
    check=_check,
    frequency=_frequency,
    slack_ulps=2.0,
    parameters=_parameters,
    slips=chain(slip_ignored, _slip_every_pair),
    proofs=("linear_scaling_is_position_interpolation",),
    mutants=(),
)
