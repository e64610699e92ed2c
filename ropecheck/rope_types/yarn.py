"""``yarn``: a ramp between beta_fast and beta_slow (defaults 32 and 1) blends theta_i (high
frequencies) with theta_i / factor (low ones); ``truncate`` (default true) floors and ceils
the correction range; cos and sin are multiplied by the attention factor: ``attention_factor``
if given, else the mscale ratio when ``mscale`` and ``mscale_all_dim`` are both given, else
0.1 ln(factor) + 1."""

import functools

import mpmath
import numpy as np

from ropecheck.rope_types._record import (DPS, FLOATS, MPMATH, Ops, RopeType, blend_gain, chain,
                                          slip_factor_multiplies, slip_ignored)

# ---------------------------------------------------------------- the formulas (any numeric world)


def correction_dim(rotations, rotary_dim, base, original, ops: Ops):
    """HF ``find_correction_dim`` (untruncated): the pair index i at which theta_i turns
    ``rotations`` times over L0 positions, d ln(L0 / (2 pi n_rot)) / (2 ln b)."""
    return rotary_dim * ops.log(original / (rotations * 2 * ops.pi)) / (2 * ops.log(base))


def correction_range(fast, slow, truncate: bool, rotary_dim, base, original, ops: Ops):
    """(low, high): the correction dims of beta_fast and beta_slow, floored and ceiled when
    ``truncate``, clamped to [0, d - 1], and 0.001 apart at least (HF ``find_correction_range``
    and ``linear_ramp_factor``)."""
    low = correction_dim(ops.number(fast), rotary_dim, base, original, ops)
    high = correction_dim(ops.number(slow), rotary_dim, base, original, ops)
    if truncate:
        low, high = ops.floor(low), ops.ceil(high)
    low, high = ops.max(low, ops.number(0)), ops.min(high, ops.number(rotary_dim - 1))
    if low == high:
        high += ops.number("0.001")
    return low, high


def ramp(i, low, high, ops: Ops):
    """r_i = clamp((i - low) / (high - low), 0, 1): the weight of theta_i / s at pair i."""
    return ops.min(ops.max((i - low) / (high - low), ops.number(0)), ops.number(1))


def blend(theta, factor, r, swapped: bool = False):
    """theta / s * r + theta * (1 - r) (r = 0 keeps theta, r = 1 interpolates);
    ``swapped`` is the reversed ramp theta * r + theta / s * (1 - r)."""
    if swapped:
        return theta * r + theta / factor * (1 - r)
    return theta / factor * r + theta * (1 - r)


def mscale(factor, m, ops: Ops):
    """HF ``get_mscale`` for factor > 1: 0.1 m ln(factor) + 1."""
    return ops.number("0.1") * m * ops.log(factor) + 1


# ---------------------------------------------------------------- the record's functions


def _range(scaling, base, rotary_dim: int):
    """(low, high) in mpmath at the caller's precision, base an mpf."""
    return correction_range(scaling.get("beta_fast") or 32, scaling.get("beta_slow") or 1,
                            scaling.get("truncate", True), rotary_dim, base,
                            int(scaling["original_max_position_embeddings"]), MPMATH)


def ramp_weights(scaling, base: float, rotary_dim: int) -> list:
    """(pairs,) mpf at the caller's precision: r_i for each pair."""
    low, high = _range(scaling, mpmath.mpf(base), rotary_dim)
    return [mpmath.mpf(ramp(i, low, high, MPMATH)) for i in range(rotary_dim // 2)]


def ramp_at_oracle_precision(scaling, base: float, rotary_dim: int) -> list:
    """``ramp_weights`` at the oracle's 60 digits (``scaling.yarn_ramp``)."""
    with mpmath.workdps(DPS):
        return ramp_weights(scaling, base, rotary_dim)


def _frequency(scaling, theta, i, ramp_of_pair, length_key):
    return blend(theta, mpmath.mpf(scaling["factor"]), ramp_of_pair[i])


def _attention_factor(scaling) -> float:
    given = scaling.get("attention_factor")
    if given is not None:
        return float(given)
    s = float(scaling["factor"])
    m, m_all = scaling.get("mscale"), scaling.get("mscale_all_dim")

    def get_mscale(m):
        return 1.0 if s <= 1 else mscale(s, m, FLOATS)

    if m and m_all:
        return get_mscale(m) / get_mscale(m_all)
    return get_mscale(1.0)


def _slack(scaling, base: float, rotary_dim: int, theta: np.ndarray, scaled: np.ndarray) -> np.ndarray:
    """4 ulps for the blend, plus the ramp weight's error (its float32 (i - low) / (high -
    low): about (i + |low| + |high|) / (high - low) ulps, 2 more for the clamp and the
    subtraction from 1) amplified by ``blend_gain``. The range at mpmath's default precision."""
    low, high = (float(v) for v in _range(scaling, mpmath.mpf(base), rotary_dim))
    weight_ulps = 2.0 + (np.arange(rotary_dim // 2) + abs(low) + abs(high)) / max(high - low, 1e-3)
    return 4.0 + blend_gain(scaling, theta, scaled) * weight_ulps


def _slip_truncate(ctx):
    truncate = ctx.scaling.get("truncate", True)
    yield (f"YaRN's truncate treated as {not truncate} (correction range "
           f"{'not ' if truncate else ''}rounded to whole dims)",
           lambda: ctx.rope(ctx.scaled(truncate=not truncate)), ctx.loose)


def _slip_ramp_reversed(ctx):
    config = ctx.config

    def expected():
        r = ctx.tensor([float(w) for w in ramp_at_oracle_precision(config.scaling, config.base, config.rotary_dim)])
        return ctx.with_inv_freq(blend(ctx.unscaled_inv_freq(), float(config.scaling["factor"]), r, swapped=True))

    yield ("YaRN's ramp reversed (high frequencies interpolated, low ones kept)", expected, ctx.loose)


BETA_FAST = (32.0, 16.0, 64.0, 8.0)
BETA_SLOW = (1.0, 2.0, 0.5)
MSCALES = (1.0, 0.707)
MSCALE_ALL_DIMS = (1.0, 0.707, 0.0)


@functools.cache
def _attention_factors(st):
    """Given attention factors: [0.5, 2], 4 significant digits."""
    return st.floats(0.5, 2.0).map(lambda a: float(f"{a:.4g}"))


def _parameters(ctx, rotary_dim: int) -> dict:
    draw = ctx.draw
    params = {"rope_type": "yarn", "factor": draw(ctx.factors, label="factor"),
              "original_max_position_embeddings": draw(ctx.originals, label="original length")}
    if draw(ctx.booleans, label="yarn betas given"):
        params["beta_fast"] = draw(ctx.sampled(BETA_FAST), label="beta_fast")
        params["beta_slow"] = draw(ctx.sampled(BETA_SLOW), label="beta_slow")
    params["truncate"] = draw(ctx.booleans, label="truncate")
    how = draw(ctx.sampled(("default", "attention_factor", "mscale")), label="yarn attention factor")
    if how == "attention_factor":
        params["attention_factor"] = draw(_attention_factors(ctx.st), label="attention_factor")
    elif how == "mscale":  # DeepSeek-V3 style
        params["mscale"] = draw(ctx.sampled(MSCALES), label="mscale")
        params["mscale_all_dim"] = draw(ctx.sampled(MSCALE_ALL_DIMS), label="mscale_all_dim")
    return params


RECORD = RopeType(
    name="yarn",
    rank=4,
    summary="theta_i / factor * r_i + theta_i * (1 - r_i) with YaRN's ramp r; cos and sin times an attention factor",
    required=("factor", "original_max_position_embeddings"),
    optional=("beta_fast", "beta_slow", "truncate", "attention_factor", "mscale", "mscale_all_dim"),
    prepare=ramp_weights,
    frequency=_frequency,
    attention_factor=_attention_factor,
    slack_ulps=_slack,
    parameters=_parameters,
    slips=chain(slip_ignored, slip_factor_multiplies, _slip_truncate, _slip_ramp_reversed),
    hf=True,
    proofs=("yarn_ramp_continuous_and_ends", "yarn_attention_factor_scales_scores_by_square"),
    mutants=("scaling_mutants:yarn_no_attention_factor", "scaling_mutants:yarn_attention_factor_twice",
             "scaling_mutants:yarn_attention_factor_on_cos_only", "scaling_mutants:yarn_ramp_reversed",
             "scaling_mutants:yarn_ignores_truncate"),
)
