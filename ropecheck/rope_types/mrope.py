"""``mrope`` (HF ``mrope_section``, Qwen2-VL's M-RoPE): a list of pair counts summing to
d / 2; pair i in section k is rotated by the position on axis k (t, h, w). A layout, used
with rope_type 'default'; positions (batch, seq, axes)."""

import numpy as np

from ropecheck.rope_types._record import RopeType, error, slip_axes

KEY = "mrope_section"


def _check(scaling, rotary_dim: int) -> None:
    section = scaling[KEY]
    if (not isinstance(section, (list, tuple)) or len(section) < 2
            or not all(isinstance(s, int) and not isinstance(s, bool) and s >= 1 for s in section)
            or sum(section) != rotary_dim // 2):
        raise error(KEY, f"expected >= 2 positive ints summing to rotary_dim / 2 = {rotary_dim // 2}, "
                         f"got {section!r}")


def _num_axes(scaling) -> int:
    return len(scaling[KEY])


def _axis_of_pair(scaling, rotary_dim: int) -> np.ndarray:
    return np.repeat(np.arange(len(scaling[KEY])), scaling[KEY])


def _fits(rotary_dim: int) -> bool:
    """Three pairs or more (three non-empty sections)."""
    return rotary_dim // 2 >= 3


def _parameters(ctx, rotary_dim: int) -> dict | None:
    """Three sections cut at two different drawn points; Qwen2-VL's (16, 24, 24) half the
    time at d = 128."""
    pairs = rotary_dim // 2
    if not _fits(rotary_dim):
        return None
    if pairs == 64 and ctx.draw(ctx.booleans, label="qwen2-vl sections"):
        return {KEY: (16, 24, 24)}
    first = ctx.draw(ctx.integers(1, pairs - 1), label="section cut")
    second = ctx.draw(ctx.integers(1, pairs - 2), label="section cut")
    second += second >= first  # two different cuts, by construction
    low, high = sorted((first, second))
    return {KEY: (low, high - low, pairs - high)}


RECORD = RopeType(
    name="mrope",
    rank=100,
    summary="pair i in section k rotated by the position on axis k (sections of mrope_section pairs)",
    kind="layout",
    check=_check,
    parameters=_parameters,
    slips=slip_axes,
    proofs=("mrope_relative_per_axis", "three_axis_relative"),
    mutants=("scaling_mutants:multi_axis_first_axis_only",),
    layout_key=KEY,
    num_axes=_num_axes,
    axis_of_pair=_axis_of_pair,
    fits=_fits,
    smallest_width=6,
    every_wider_fits=True,
    serving={"rope_type": "default", KEY: (16, 24, 24)},
)
