"""``longrope``: theta_i / long_factor[i] when L > L0, else theta_i / short_factor[i]; the
attention factor is ``attention_factor`` if given, else sqrt(1 + ln(factor) / ln(L0)) for
factor > 1 (factor defaults to 1: HF falls back to a ratio of model lengths that a RopeConfig
does not carry)."""

import functools

import mpmath

from ropecheck.rope_types._record import FLOATS, Ops, RopeType, chain, error, slip_ignored, slip_length_from_sequence


def attention_scale(factor, original, ops: Ops):
    """sqrt(1 + ln(s) / ln(L0)) (for s > 1): 1 at s = 1."""
    return ops.sqrt(1 + ops.log(factor) / ops.log(original))


def _check(scaling, rotary_dim: int) -> None:
    for key in ("short_factor", "long_factor"):
        factors = scaling[key]
        if not isinstance(factors, (list, tuple)) or len(factors) != rotary_dim // 2 or not all(
                isinstance(f, (int, float)) and not isinstance(f, bool) and f > 0 for f in factors):
            raise error(key, f"expected {rotary_dim // 2} positive numbers (rotary_dim / 2), got {factors!r}")


def _effective_length(scaling, length: int) -> str:
    return "long" if length > int(scaling["original_max_position_embeddings"]) else "short"


def _frequency(scaling, theta, i, prepared, length_key):
    factors = scaling["long_factor" if length_key == "long" else "short_factor"]
    return theta / mpmath.mpf(factors[i])


def _attention_factor(scaling) -> float:
    given = scaling.get("attention_factor")
    if given is not None:
        return float(given)
    s = float(scaling.get("factor", 1.0))
    l0 = int(scaling["original_max_position_embeddings"])
    return 1.0 if s <= 1.0 else attention_scale(s, l0, FLOATS)


def _slip_factors_swapped(ctx):
    sc = ctx.scaling
    yield ("LongRoPE's long_factor and short_factor swapped",
           lambda: ctx.rope(ctx.scaled(long_factor=sc["short_factor"], short_factor=sc["long_factor"])), ctx.loose)


def _slip_multiplies(ctx):
    sc = ctx.scaling
    inverted = ctx.scaled(long_factor=tuple(1 / f for f in sc["long_factor"]),
                          short_factor=tuple(1 / f for f in sc["short_factor"]))
    yield ("multiplies by LongRoPE's per-pair factors where it must divide", lambda: ctx.rope(inverted), inverted)


@functools.cache
def _tops(st):
    """The largest short and long factors: [1, 4] and [1, 64]."""
    return st.floats(1.0, 4.0), st.floats(1.0, 64.0)


def _parameters(ctx, rotary_dim: int) -> dict:
    """Per-pair factors growing from 1 to a drawn top, each jittered by up to 10%
    (a torch generator seeded by a drawn seed), 4 significant digits."""
    draw, torch = ctx.draw, ctx.torch
    params = {"rope_type": "longrope",
              "original_max_position_embeddings": draw(ctx.originals, label="original length")}
    pairs = rotary_dim // 2
    seed = draw(ctx.seeds, label="longrope factors seed")
    gen = torch.Generator().manual_seed(seed)
    grow = lambda top: torch.linspace(1.0, top, pairs) * (1 + 0.1 * torch.rand(pairs, generator=gen))  # noqa: E731
    short_tops, long_tops = _tops(ctx.st)
    params["short_factor"] = tuple(float(f"{f:.4g}") for f in grow(draw(short_tops, label="short top")))
    params["long_factor"] = tuple(float(f"{f:.4g}") for f in grow(draw(long_tops, label="long top")))
    if draw(ctx.booleans, label="longrope factor given"):
        params["factor"] = draw(ctx.factors, label="factor")
    return params


RECORD = RopeType(
    name="longrope",
    rank=6,
    summary="theta_i / long_factor[i] past L0, else theta_i / short_factor[i]; cos and sin times an attention factor",
    required=("short_factor", "long_factor", "original_max_position_embeddings"),
    optional=("factor", "attention_factor"),
    check=_check,
    effective_length=_effective_length,
    frequency=_frequency,
    attention_factor=_attention_factor,
    slack_ulps=2.0,  # one float32 division
    parameters=_parameters,
    slips=chain(slip_ignored, _slip_factors_swapped, _slip_multiplies, slip_length_from_sequence),
    hf=True,
    proofs=("longrope_is_per_pair_linear",),
    mutants=("scaling_mutants:longrope_factors_swapped", "scaling_mutants:longrope_multiplies"),
)
