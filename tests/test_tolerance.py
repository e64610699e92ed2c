"""The tolerance model accepts float32 angles and honest low-precision arithmetic, and
rejects angles formed in bfloat16/float16 and small but real bugs."""

import math

import pytest
import torch

from ropecheck import RopeConfig, tolerance, variants

CONFIG = RopeConfig(base=10000.0, rotary_dim=64, pairing="half_split", head_dim=64)
POS = torch.tensor([[0, 1, 17, 4000, 2**17 - 1], [2**16, 3, 99, 100000, 7]])


def x_of(dtype):
    return torch.randn(2, 5, 2, 64, dtype=torch.float64, generator=torch.Generator().manual_seed(0)).to(dtype)


def angles_in(dtype):
    """A HF-style implementation whose angles are formed in ``dtype``."""
    def rope(x, positions, config):
        exps = torch.arange(0, config.rotary_dim, 2, dtype=torch.float32) / config.rotary_dim
        inv = (1.0 / config.base**exps).to(dtype)
        theta = (positions.to(dtype)[..., None] * inv).float()
        emb = torch.cat((theta, theta), -1)[:, :, None, :]
        rot = x.float()
        return (rot * emb.cos() + variants.rotate_half(rot) * emb.sin()).to(x.dtype)
    return rope


def hf_bf16_tables(x, positions, config):
    """HF Llama: float32 angles, cos/sin cast to the model dtype, arithmetic in that dtype."""
    theta = variants.float32_angles(positions, config)
    emb = torch.cat((theta, theta), -1)[:, :, None, :]
    cos, sin = emb.cos().to(x.dtype), emb.sin().to(x.dtype)
    return x * cos + variants.rotate_half(x) * sin


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32, torch.bfloat16, torch.float16])
def test_float32_angles_are_accepted(dtype):
    x = x_of(dtype)
    result = tolerance.compare(angles_in(torch.float32)(x, POS, CONFIG), x, POS, CONFIG)
    assert result.ok, f"float32 angles rejected in {dtype}: {result.describe()}"
    assert result.worst_ratio < 0.5, f"float32 angles use {result.worst_ratio:.2f} of the budget: too tight a model"


@pytest.mark.parametrize("dtype", [torch.bfloat16, torch.float16])
def test_model_dtype_cos_sin_tables_are_accepted(dtype):
    x = x_of(dtype)
    result = tolerance.compare(hf_bf16_tables(x, POS, CONFIG), x, POS, CONFIG)
    assert result.ok, f"HF-style {dtype} cos/sin tables rejected: {result.describe()}"


@pytest.mark.parametrize("angle_dtype", [torch.bfloat16, torch.float16])
@pytest.mark.parametrize("dtype", [torch.float64, torch.float32, torch.bfloat16, torch.float16])
def test_low_precision_angles_are_rejected(angle_dtype, dtype):
    x = x_of(dtype)
    positions = torch.tensor([[0, 1, 17, 300, 1000], [2000, 3, 99, 5000, 7]])  # fit in float16
    result = tolerance.compare(angles_in(angle_dtype)(x, positions, CONFIG), x, positions, CONFIG)
    assert not result.ok, f"angles in {angle_dtype} accepted for {dtype} data: {result.describe()}"


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32, torch.bfloat16, torch.float16])
def test_off_by_one_position_is_rejected(dtype):
    x = x_of(dtype)
    y = variants.half_split(x, POS + 1, CONFIG)
    assert not tolerance.compare(y, x, POS, CONFIG).ok


def test_a_small_frequency_error_is_rejected_in_float32():
    """base 10000 vs 10001 moves pair 1's angle by ~1e-6 relative: invisible at small
    positions, but beyond float32 rounding at 2**17."""
    x = x_of(torch.float32)
    y = variants.half_split(x, POS, CONFIG.replace(base=10001.0))
    assert not tolerance.compare(y, x, POS, CONFIG).ok


def test_nan_and_inf_outputs_fail_with_infinite_ratio():
    x = x_of(torch.float32)
    y = variants.half_split(x, POS, CONFIG)
    y[1, 2, 0, 5] = float("nan")
    result = tolerance.compare(y, x, POS, CONFIG)
    assert math.isinf(result.worst_ratio) and result.where == (1, 2, 0, 5)
    y[1, 2, 0, 5] = float("inf")
    assert math.isinf(tolerance.compare(y, x, POS, CONFIG).worst_ratio)


def test_pass_through_dims_are_judged_elementwise():
    config = CONFIG.replace(rotary_dim=32)
    x = x_of(torch.float32)
    y = variants.half_split(x, POS, config)
    y[0, 0, 1, 40] += 1e-3
    result = tolerance.compare(y, x, POS, config)
    assert not result.ok and result.where == (0, 0, 1, 40), result.describe()
