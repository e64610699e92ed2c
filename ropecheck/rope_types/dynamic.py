"""``dynamic`` (HF's dynamic NTK): with L = the largest position in the call + 1 and
L0 = ``original_max_position_embeddings`` (HF's ``config.max_position_embeddings``),
base' = base * g**(d / (d - 2)), g = factor * max(L, L0) / L0 - (factor - 1)."""

import mpmath

from ropecheck.rope_types._record import FLOATS, RopeType, chain, slip_ignored, slip_length_from_sequence
from ropecheck.rope_types.ntk import ntk_base, slip_without_exponent


def dynamic_ntk_factor(factor, length, original):
    """g(L) = s * L / L0 - (s - 1), with L = max(call length, L0) (``effective_length``):
    g = 1 up to L0, then the static NTK factor s at L = (2 s - 1) L0 / s."""
    return factor * length / original - (factor - 1)


def _effective_length(scaling, length: int) -> int:
    return max(length, int(scaling["original_max_position_embeddings"]))


def _effective_base(scaling, base, rotary_dim, length_key):
    s = dynamic_ntk_factor(mpmath.mpf(scaling["factor"]), length_key, int(scaling["original_max_position_embeddings"]))
    return ntk_base(base, s, mpmath.mpf(rotary_dim))


def _ntk_factor(scaling, length):
    """g(L) in floats, for the diagnosis."""
    l0 = int(scaling["original_max_position_embeddings"])
    return dynamic_ntk_factor(float(scaling["factor"]), FLOATS.max(length, l0), l0)


def _slip_static(ctx):
    yield ("static NTK (base * factor**(d/(d-2)) whatever the length), not dynamic",
           lambda: ctx.rope(ctx.scaled(rope_type="ntk", original_max_position_embeddings=None)), ctx.loose)


def _parameters(ctx, rotary_dim: int) -> dict:
    return {"rope_type": "dynamic", "factor": ctx.draw(ctx.factors, label="factor"),
            "original_max_position_embeddings": ctx.draw(ctx.originals, label="original length")}


RECORD = RopeType(
    name="dynamic",
    rank=3,
    summary="NTK base rescaled by g = factor * max(L, L0) / L0 - (factor - 1) (L: the call's largest position + 1)",
    required=("factor", "original_max_position_embeddings"),
    effective_length=_effective_length,
    effective_base=_effective_base,
    slack_ulps=0.0,
    parameters=_parameters,
    slips=chain(slip_ignored, slip_length_from_sequence, _slip_static,
                slip_without_exponent(_ntk_factor)),
    hf=True,
    hf_original_is_model_length=True,
    proofs=("dynamic_ntk_reduces_to_unscaled_and_ntk", "ntk_keeps_highest_divides_lowest"),
    mutants=("scaling_mutants:dynamic_is_static", "scaling_mutants:dynamic_length_from_seq"),
)
