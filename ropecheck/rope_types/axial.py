"""``axial`` (key ``axes``, the axial form of multi-axis RoPE): A axes; each group of 2A dims has A
consecutive pairs sharing one frequency, pair i rotated by the position on axis i mod A with
frequency base**(-2 (i div A) A / d). A layout, used with rope_type 'default'; positions
(batch, seq, axes)."""

import numpy as np

from ropecheck.rope_types._record import RopeType, error, slip_axes

KEY = "axes"


def _check(scaling, rotary_dim: int) -> None:
    axes = scaling[KEY]
    if isinstance(axes, bool) or not isinstance(axes, int) or axes < 2 or rotary_dim % (2 * axes):
        raise error(KEY, f"expected an int >= 2 dividing rotary_dim / 2 = {rotary_dim // 2}, got {axes!r}")


def _num_axes(scaling) -> int:
    return int(scaling[KEY])


def _axis_of_pair(scaling, rotary_dim: int) -> np.ndarray:
    return np.arange(rotary_dim // 2) % int(scaling[KEY])


def _exponent_steps(scaling, rotary_dim: int) -> list[int]:
    """k_i = (i div A) A: the A pairs of a group share one frequency."""
    a = int(scaling[KEY])
    return [(i // a) * a for i in range(rotary_dim // 2)]


def _fits(rotary_dim: int) -> bool:
    """A number of pairs divisible by 2 or 3."""
    pairs = rotary_dim // 2
    return pairs % 2 == 0 or pairs % 3 == 0


def _parameters(ctx, rotary_dim: int) -> dict | None:
    pairs = rotary_dim // 2
    if not _fits(rotary_dim):
        return None
    return {KEY: ctx.draw(ctx.sampled(tuple(a for a in (2, 3) if pairs % a == 0)), label="axes")}


RECORD = RopeType(
    name="axial",
    rank=101,
    summary="A axes; pair i rotated by the position on axis i mod A, groups of A pairs share a frequency",
    kind="layout",
    check=_check,
    parameters=_parameters,
    slips=slip_axes,
    proofs=("two_axis_relative", "three_axis_relative"),
    mutants=("scaling_mutants:multi_axis_first_axis_only",),
    layout_key=KEY,
    num_axes=_num_axes,
    axis_of_pair=_axis_of_pair,
    exponent_steps=_exponent_steps,
    fits=_fits,
    smallest_width=4,
    serving={"rope_type": "default", KEY: 2},
)
