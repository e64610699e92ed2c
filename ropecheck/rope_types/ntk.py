"""``ntk`` (static NTK-aware; not an HF rope_type): base' = base * factor**(d / (d - 2)).

With d = 2 the only frequency is base'**0 = 1 whatever the base: a no-op there (HF would
divide by d - 2 = 0), which ``scaling.effective_base`` handles for every type."""

import mpmath

from ropecheck.rope_types._record import RopeType, chain, slip_ignored


def ntk_base(base, factor, rotary_dim):
    """b' = b * s**(d / (d - 2)): theta'_0 = theta_0 = 1 and theta'_(d/2-1) = theta_(d/2-1) / s.
    Pass d as that world's number (mpf in mpmath: d / (d - 2) must not be a float)."""
    return base * factor ** (rotary_dim / (rotary_dim - 2))


def _effective_base(scaling, base, rotary_dim, length_key):
    return ntk_base(base, mpmath.mpf(scaling["factor"]), mpmath.mpf(rotary_dim))


def slip_without_exponent(factor_at):
    """The slip base * s where base * s**(d/(d-2)) is due, with s = factor_at(scaling,
    call length) in floats (the factor itself here; g(L) for dynamic)."""
    def slips(ctx):
        config = ctx.config
        yield ("NTK base multiplied by the factor itself (exponent d/(d-2) missing)",
               lambda: ctx.with_inv_freq(ctx.ladder(config.base * factor_at(ctx.scaling, ctx.call_length),
                                                    config.rotary_dim // 2, config.rotary_dim)), ctx.loose)
    return slips


def _factor(scaling, length):
    return float(scaling["factor"])


def _parameters(ctx, rotary_dim: int) -> dict:
    return {"rope_type": "ntk", "factor": ctx.draw(ctx.factors, label="factor")}


RECORD = RopeType(
    name="ntk",
    rank=2,
    summary="base' = base * factor**(d / (d - 2)) (the highest frequency kept, the lowest divided by factor)",
    required=("factor",),
    effective_base=_effective_base,
    slack_ulps=0.0,  # none beyond the ladder's: the tolerance model builds the ladder from the effective base
    parameters=_parameters,
    slips=chain(slip_ignored, slip_without_exponent(_factor)),
    proofs=("ntk_keeps_highest_divides_lowest",),
    mutants=("scaling_mutants:ntk_without_exponent",),
)
