"""The oracle against mpmath at extreme positions, and its algebra."""

import math

import mpmath
import pytest
import torch
from hypothesis import given, strategies as st

from ropecheck import RopeConfig, oracle

import oracle_reference as reference

EXTREME_POSITIONS = [0, 1, 2**17 - 1, 2**24 + 1, 2**31 - 1, 2**40 + 12345, 2**52 + 3]


def mp_angle(m: int, base: float, i: int, rotary_dim: int) -> float:
    """m * base**(-2i/d) reduced to [-pi, pi], at 80 digits."""
    with mpmath.workdps(80):
        t = mpmath.mpf(m) * mpmath.mpf(base) ** (-mpmath.mpf(2 * i) / rotary_dim)
        return float(t - 2 * mpmath.pi * mpmath.nint(t / (2 * mpmath.pi)))


@pytest.mark.parametrize("base", [10000.0, 500000.0, 10.0, 1e7, 1234.5])
@pytest.mark.parametrize("rotary_dim", [2, 64, 128])
def test_angles_match_mpmath_at_extreme_positions(base, rotary_dim):
    config = RopeConfig(base=base, rotary_dim=rotary_dim)
    got = oracle.angles(torch.tensor([EXTREME_POSITIONS]), config)[0]
    worst = 0.0
    for j, m in enumerate(EXTREME_POSITIONS):
        for i in range(rotary_dim // 2):
            worst = max(worst, abs(got[j, i].item() - mp_angle(m, base, i, rotary_dim)))
    assert worst < 4e-15, f"oracle angle off by {worst:.3g} rad (base {base}, rotary_dim {rotary_dim})"


def test_float64_product_would_not_be_exact():
    """The double-double reduction matters: the naive float64 product drifts at 2**40."""
    config = RopeConfig(base=10000.0, rotary_dim=64)
    m = 2**40 + 12345
    naive = math.remainder(m * oracle.inv_freq(config)[1].item(), 2 * math.pi)
    assert abs(naive - mp_angle(m, 10000.0, 1, 64)) > 1e-6, "naive product unexpectedly exact"


def test_rope_matches_mpmath_rotation():
    config = RopeConfig(base=10000.0, rotary_dim=4, pairing="interleaved", head_dim=6)
    x = torch.arange(1.0, 7.0, dtype=torch.float64).reshape(1, 1, 1, 6)
    m = 2**24 + 7
    y = oracle.rope(x, torch.tensor([[m]]), config)[0, 0, 0]
    for i, (a, b) in enumerate([(0, 1), (2, 3)]):
        th = mp_angle(m, 10000.0, i, 4)
        xa, xb = x[0, 0, 0, a].item(), x[0, 0, 0, b].item()
        expected = (xa * math.cos(th) - xb * math.sin(th), xa * math.sin(th) + xb * math.cos(th))
        assert y[a].item() == pytest.approx(expected[0], abs=1e-13)
        assert y[b].item() == pytest.approx(expected[1], abs=1e-13)
    assert torch.equal(y[4:], x[0, 0, 0, 4:]), "dims at and above rotary_dim must pass through"


def test_half_split_pairs_i_with_i_plus_half():
    config = RopeConfig(rotary_dim=8, pairing="half_split")
    first, second = oracle.pair_indices(config)
    assert first.tolist() == [0, 1, 2, 3] and second.tolist() == [4, 5, 6, 7]
    config = config.replace(pairing="interleaved")
    first, second = oracle.pair_indices(config)
    assert first.tolist() == [0, 2, 4, 6] and second.tolist() == [1, 3, 5, 7]


def test_permutation_maps_interleaved_to_half_split():
    assert oracle.half_split_permutation(8).tolist() == [0, 4, 1, 5, 2, 6, 3, 7]


@given(
    st.integers(0, 2**40),
    st.integers(1, 64).map(lambda h: 2 * h),
    st.floats(1.0, 7.0).map(lambda e: 10.0**e),
)
def test_inverse_undoes_rope_and_norms_are_kept(m, rotary_dim, base):
    config = RopeConfig(base=base, rotary_dim=rotary_dim, pairing="interleaved")
    x = torch.randn(1, 1, 2, rotary_dim, dtype=torch.float64, generator=torch.Generator().manual_seed(m % 2**31))
    pos = torch.tensor([[m]])
    y = oracle.rope(x, pos, config)
    back = oracle.rope_inverse(y, pos, config)
    assert torch.allclose(back, x, atol=1e-13), f"inverse rotation off by {(back - x).abs().max():.3g}"
    assert torch.allclose(y.norm(dim=-1), x.norm(dim=-1), rtol=1e-14), "rotation changed a norm"


def test_shape_errors_are_clear():
    config = RopeConfig(rotary_dim=8)
    with pytest.raises(ValueError, match="positions: expected shape"):
        oracle.rope(torch.zeros(1, 2, 1, 8), torch.zeros(1, 3, dtype=torch.int64), config)
    with pytest.raises(ValueError, match="exceeds head_dim"):
        oracle.rope(torch.zeros(1, 2, 1, 4), torch.zeros(1, 2, dtype=torch.int64), config)
    with pytest.raises(ValueError, match="2\\*\\*53"):
        oracle.angles(torch.tensor([[2**53]]), config)


# ---- issue 13: the slice-based, blocked oracle equals the plain gather-based one

BLOCKS = [None, 1, 5, 64, 1000]  # oracle.CHUNK_ELEMENTS: the default, and blocks of a token or a few


def _bits(t: torch.Tensor) -> torch.Tensor:
    return t.contiguous().view(torch.int64)


@given(st.data())
def test_fast_oracle_equals_the_gather_based_one_bit_for_bit(data):
    config, positions, x64, dtype, gen = reference.draw_inputs(data, min_size=0)
    batch, seq = x64.shape[:2]
    x = x64.to(dtype)
    if data.draw(st.booleans(), label="non-contiguous x"):
        x = x.transpose(0, 1).contiguous().transpose(0, 1)
    theta = torch.randn(batch, seq, config.rotary_dim // 2, generator=gen, dtype=torch.float64) * 50
    af = data.draw(st.sampled_from([None, 1.0, 0.5, 1.25]), label="attention_factor")
    block = data.draw(st.sampled_from(BLOCKS), label="block elements")
    default = oracle.CHUNK_ELEMENTS
    oracle.CHUNK_ELEMENTS = default if block is None else block
    try:
        for name, fast, plain in [
            ("rope", oracle.rope(x, positions, config, af), reference.rope(x, positions, config, af)),
            ("rope_inverse", oracle.rope_inverse(x, positions, config), reference.rope_inverse(x, positions, config)),
            ("rope_with_angles", oracle.rope_with_angles(x, theta, config), reference.rope_with_angles(x, theta, config)),
            ("rotate_pairs", oracle.rotate_pairs(x.to(torch.float64), theta.cos()[:, :, None], theta.sin()[:, :, None], config),
             reference.rotate(x.to(torch.float64), theta.cos()[:, :, None], theta.sin()[:, :, None], config)),
        ]:
            assert fast.dtype == torch.float64 and fast.shape == plain.shape, name
            assert torch.equal(_bits(fast), _bits(plain)), f"{name} differs from the gather-based rotation"
    finally:
        oracle.CHUNK_ELEMENTS = default


def test_pair_views_are_the_pair_indices():
    for config in (RopeConfig(rotary_dim=8, head_dim=12, pairing="half_split"),
                   RopeConfig(rotary_dim=8, head_dim=12, pairing="interleaved")):
        t = torch.arange(2 * 12).reshape(2, 12)
        first, second = oracle.pair_indices(config)
        a, b = oracle.pair_views(t, config)
        assert torch.equal(a, t[..., first]) and torch.equal(b, t[..., second])
        assert a.untyped_storage().data_ptr() == t.untyped_storage().data_ptr(), "pair_views must not copy"
        assert torch.equal(oracle.pass_through(t, config), t[..., 8:])


@pytest.mark.parametrize("shape", [(1, 1, 1, 8), (3, 7, 2, 4), (2, 100, 3, 6), (1, 4096, 32, 128), (5, 0, 2, 8)])
@pytest.mark.parametrize("limit", [1, 17, 100, 1 << 18])
def test_token_chunks_cover_every_token_once_in_flat_order(shape, limit):
    blocks = oracle.token_chunks(shape, limit)
    seen = []
    per_token = shape[2] * shape[3]
    for bs, ss in blocks:
        rows = range(shape[0])[bs]
        cols = range(shape[1])[ss]
        assert len(blocks) == 1 or len(rows) * len(cols) * per_token <= max(limit, per_token), "block too large"
        seen += [(b, s) for b in rows for s in cols]
    assert seen == [(b, s) for b in range(shape[0]) for s in range(shape[1])]


def test_call_tables_cache_returns_what_a_cold_computation_gives():
    config = RopeConfig(rotary_dim=16, scaling={"rope_type": "dynamic", "factor": 4.0,
                                                "original_max_position_embeddings": 16})
    positions = torch.tensor([[3, 9, 40]])
    first = oracle.call_tables(positions, config)
    again = oracle.call_tables(positions.clone(), config)
    assert again is first, "same positions, same config: the cached tables"
    positions[0, 2] = 10  # a different call length changes the dynamic frequencies: a new key
    moved = oracle.call_tables(positions, config)
    assert moved is not first
    oracle._CACHE.clear()
    cold = oracle.call_tables(positions, config)
    for name in ("cos", "sin", "magnitude"):
        assert torch.equal(getattr(moved, name), getattr(cold, name)), name
    assert torch.equal(cold.magnitude, oracle.unreduced_angles(positions, config))
    theta = oracle.angles(positions, config)
    assert torch.equal(cold.cos, torch.cos(theta)) and torch.equal(cold.sin, torch.sin(theta))
    assert oracle.call_tables(positions, config, attention_factor=0.5) is not cold, "af is part of the key"


def test_a_rotation_that_does_not_fit_raises_as_the_index_put_did():
    """diagnose relies on it: a hypothesis whose angles do not fit x's pairs (multi-axis
    angles (batch, seq, axes, R/2)) raises RuntimeError and is skipped, rather than
    yielding a tensor that was never written."""
    config = RopeConfig(rotary_dim=8)
    x = torch.randn(2, 2, 3, 8, dtype=torch.float64)
    theta = torch.randn(2, 2, 3, 4, dtype=torch.float64)
    for plain in (True, False):
        with pytest.raises(RuntimeError, match="shape mismatch"):
            if plain:
                reference.rope_with_angles(x, theta, config)
            else:
                oracle.rope_with_angles(x, theta, config)
    with pytest.raises(RuntimeError, match="shape mismatch"):
        oracle.rotate_pairs(x, theta.cos()[:, :, None], theta.sin()[:, :, None], config)
