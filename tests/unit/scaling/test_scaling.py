"""ropecheck.scaling: validation names the key, the exact frequencies follow the papers' /
HF's formulas (checked against a plain float64 transcription), and the attention factors."""

import math

import pytest
import torch

from ropecheck import RopeConfig, oracle, scaling

D = 64
THETA = [10000.0 ** (-2 * i / D) for i in range(D // 2)]


def freqs(params, length=0, base=10000.0, d=D):
    config = RopeConfig(base=base, rotary_dim=d, head_dim=d, scaling=params)
    return oracle.inv_freq(config, length).tolist()


def close(a, b, rel=1e-12):
    return all(math.isclose(x, y, rel_tol=rel) for x, y in zip(a, b, strict=True))


@pytest.mark.parametrize("params, key", [
    ({"rope_type": "su"}, "rope_type"),
    ({"rope_type": "linear"}, "factor"),
    ({"rope_type": "linear", "factor": 0.0}, "factor"),
    ({"rope_type": "linear", "factor": 2.0, "beta_fast": 32}, "beta_fast"),
    ({"rope_type": "yarn", "factor": 4.0}, "original_max_position_embeddings"),
    ({"rope_type": "yarn", "factor": 4.0, "original_max_position_embeddings": 4096.0}, "original_max_position_embeddings"),
    ({"rope_type": "yarn", "factor": 4.0, "original_max_position_embeddings": 4096, "truncate": 1}, "truncate"),
    ({"rope_type": "llama3", "factor": 8.0, "low_freq_factor": 1.0, "high_freq_factor": 1.0,
      "original_max_position_embeddings": 8192}, "high_freq_factor"),
    ({"rope_type": "longrope", "short_factor": [1.0] * 3, "long_factor": [1.0] * 32,
      "original_max_position_embeddings": 4096}, "short_factor"),
    ({"rope_type": "linear", "factor": 2.0, "rope_theta": 500000.0}, "rope_theta"),
    ({"mrope_section": [16, 15]}, "mrope_section"),
    ({"axes": 5}, "axes"),
    ({"rope_type": "yarn", "factor": 4.0, "original_max_position_embeddings": 4096, "mrope_section": [10, 11, 11]}, "rope_type"),
])
def test_invalid_scaling_is_a_value_error_naming_the_key(params, key):
    with pytest.raises(ValueError, match=rf"RopeConfig.scaling\['{key}'\]"):
        RopeConfig(rotary_dim=D, head_dim=D, scaling=params)


def test_linear_divides_every_frequency():
    assert close(freqs({"rope_type": "linear", "factor": 4.0}), [t / 4 for t in THETA])


def test_ntk_keeps_the_highest_and_divides_the_lowest_by_the_factor():
    f = freqs({"rope_type": "ntk", "factor": 8.0})
    assert f[0] == 1.0 and math.isclose(f[-1], THETA[-1] / 8, rel_tol=1e-12)


def test_dynamic_is_unscaled_up_to_the_original_length_then_grows():
    params = {"rope_type": "dynamic", "factor": 4.0, "original_max_position_embeddings": 2048}
    assert close(freqs(params, 2048), THETA)
    length = 10000
    new_base = 10000.0 * (4.0 * length / 2048 - 3.0) ** (D / (D - 2))
    assert close(freqs(params, length), [new_base ** (-2 * i / D) for i in range(D // 2)], rel=1e-11)


def test_yarn_follows_hfs_ramp():
    params = {"rope_type": "yarn", "factor": 16.0, "original_max_position_embeddings": 4096}
    dim = lambda rot: D * math.log(4096 / (rot * 2 * math.pi)) / (2 * math.log(10000.0))  # noqa: E731
    low, high = max(math.floor(dim(32)), 0), min(math.ceil(dim(1)), D - 1)
    ramp = [min(max((i - low) / (high - low), 0.0), 1.0) for i in range(D // 2)]
    expected = [t / 16 * r + t * (1 - r) for t, r in zip(THETA, ramp)]
    assert close(freqs(params), expected)
    assert math.isclose(RopeConfig(rotary_dim=D, head_dim=D, scaling=params).attention_factor, 0.1 * math.log(16) + 1)


def test_yarn_attention_factor_choices():
    base = {"rope_type": "yarn", "factor": 40.0, "original_max_position_embeddings": 4096}
    af = lambda **kw: RopeConfig(rotary_dim=D, head_dim=D, scaling={**base, **kw}).attention_factor  # noqa: E731
    assert af(attention_factor=0.5) == 0.5
    assert math.isclose(af(mscale=1.0, mscale_all_dim=0.707),
                        (0.1 * math.log(40) + 1) / (0.1 * 0.707 * math.log(40) + 1))
    assert af(mscale=1.0, mscale_all_dim=1.0) == 1.0


def test_llama3_bands():
    params = {"rope_type": "llama3", "factor": 8.0, "low_freq_factor": 1.0, "high_freq_factor": 4.0,
              "original_max_position_embeddings": 8192}
    f = freqs(params, base=500000.0)
    theta = [500000.0 ** (-2 * i / D) for i in range(D // 2)]
    for t, got in zip(theta, f):
        wavelen = 2 * math.pi / t
        if wavelen < 8192 / 4:
            assert got == pytest.approx(t, rel=1e-13)
        elif wavelen > 8192:
            assert got == pytest.approx(t / 8, rel=1e-13)
        else:
            smooth = (8192 / wavelen - 1) / 3
            assert got == pytest.approx((1 - smooth) * t / 8 + smooth * t, rel=1e-12)


def test_longrope_switches_on_the_calls_length():
    short, long = [1.0 + i / 10 for i in range(D // 2)], [2.0 + i for i in range(D // 2)]
    params = {"rope_type": "longrope", "short_factor": short, "long_factor": long,
              "original_max_position_embeddings": 4096, "factor": 32.0}
    assert close(freqs(params, 4096), [t / f for t, f in zip(THETA, short)])
    assert close(freqs(params, 4097), [t / f for t, f in zip(THETA, long)])
    config = RopeConfig(rotary_dim=D, head_dim=D, scaling=params)
    assert math.isclose(config.attention_factor, math.sqrt(1 + math.log(32) / math.log(4096)))


def test_oracle_applies_the_attention_factor_to_rotated_dims_only():
    params = {"rope_type": "yarn", "factor": 16.0, "original_max_position_embeddings": 4096}
    config = RopeConfig(rotary_dim=32, head_dim=D, scaling=params)
    x = torch.randn(1, 3, 1, D, dtype=torch.float64)
    y = oracle.rope(x, torch.zeros(1, 3, dtype=torch.int64), config)
    assert torch.allclose(y[..., :32], config.attention_factor * x[..., :32]) and torch.equal(y[..., 32:], x[..., 32:])


def test_mrope_pairs_follow_their_sections_axis():
    config = RopeConfig(rotary_dim=12, head_dim=12, scaling={"mrope_section": [1, 2, 3]})
    assert scaling.axis_of_pair(config.scaling, 12).tolist() == [0, 1, 1, 2, 2, 2]
    positions = torch.tensor([[[5, 7, 11]]])
    angles = oracle.angles(positions, config)[0, 0]
    ladder = oracle.inv_freq(config.replace(scaling=None))
    expected = torch.tensor([5, 7, 7, 11, 11, 11], dtype=torch.float64) * ladder
    assert torch.allclose(angles, torch.remainder(expected + math.pi, 2 * math.pi) - math.pi)


def test_axial_layout_alternates_axes_and_shares_frequencies():
    config = RopeConfig(rotary_dim=8, head_dim=8, pairing="interleaved", scaling={"axes": 2})
    assert scaling.axis_of_pair(config.scaling, 8).tolist() == [0, 1, 0, 1]
    f = oracle.inv_freq(config).tolist()
    assert f[0] == f[1] == 1.0 and f[2] == f[3] == pytest.approx(10000.0 ** -0.5)


def test_multi_axis_positions_must_carry_the_axes():
    config = RopeConfig(rotary_dim=12, head_dim=12, scaling={"mrope_section": [2, 2, 2]})
    with pytest.raises(ValueError, match=r"\(batch, seq, axes\)"):
        oracle.rope(torch.zeros(1, 2, 1, 12), torch.zeros(1, 2, dtype=torch.int64), config)
