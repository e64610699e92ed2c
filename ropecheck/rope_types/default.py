"""``default``: unscaled RoPE, theta_i = base**(-2 i / d) (and the only type a multi-axis
layout combines with)."""

from ropecheck.rope_types._record import RopeType


def pair_inv_freq(base, i, rotary_dim):
    """theta_i = base**(-2 i / d), the unscaled frequency of pair i (any numeric world)."""
    return base ** (-(2 * i / rotary_dim))


def _parameters(ctx, rotary_dim: int) -> None:
    """Unscaled: no ``rope_parameters`` at all (``RopeConfig.scaling`` None)."""
    return None


RECORD = RopeType(
    name="default",
    rank=0,
    summary="theta_i = base**(-2 i / d), cos and sin unscaled",
    takes_layout=True,
    parameters=_parameters,
    hf=True,
    proofs=("relative_position_block", "attention_relative", "sparse_equals_matrix",
            "half_split_is_permuted_interleaved"),
    mutants=("mutants:exponent_i_over_d", "mutants:wrong_direction"),
)
