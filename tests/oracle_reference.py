"""A straightforward oracle and judgment to check the fast ones against (issue 13).

The oracle's rotation and ``tolerance.compare`` work on views and a block of tokens at a
time; these do the same arithmetic the plain way, as ropecheck did before: pairs gathered
with index tensors, results written with index_put, whole tensors at once. The float64
operations and their order are the same, so the results must be bit-identical (up to
torch's hypot, whose vector and scalar loops can differ in the last ulp; see
``tolerance.pair_norms``).

Also the shared Hypothesis strategy of RoPE configs (every scaling type, partial rotary,
multi-axis positions) and positions for them.
"""

from __future__ import annotations

import math

import mpmath
import torch
from hypothesis import strategies as st

from ropecheck import RopeConfig, oracle, scaling, tolerance


def rotate(x64: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor, config: RopeConfig) -> torch.Tensor:
    """x64 (..., head_dim) float64 rotated pairwise; cos, sin broadcastable to (..., R/2)."""
    first, second = oracle.pair_indices(config)
    a, b = x64[..., first], x64[..., second]
    out = x64.clone()
    out[..., first] = a * cos - b * sin
    out[..., second] = a * sin + b * cos
    return out


def rope(x: torch.Tensor, positions: torch.Tensor, config: RopeConfig, attention_factor=None) -> torch.Tensor:
    """(batch, seq, heads, head_dim) -> float64, like ``oracle.rope``."""
    af = config.attention_factor if attention_factor is None else attention_factor
    theta = oracle.angles(positions, config)[:, :, None, :]
    return rotate(x.detach().to("cpu", torch.float64), af * torch.cos(theta), af * torch.sin(theta), config)


def rope_inverse(y: torch.Tensor, positions: torch.Tensor, config: RopeConfig) -> torch.Tensor:
    af = config.attention_factor
    theta = oracle.angles(positions, config)[:, :, None, :]
    return rotate(y.detach().to("cpu", torch.float64), af * torch.cos(theta), -af * torch.sin(theta), config)


def rope_with_angles(x: torch.Tensor, theta: torch.Tensor, config: RopeConfig) -> torch.Tensor:
    theta = theta.to(torch.float64)[:, :, None, :]
    return rotate(x.detach().to("cpu", torch.float64), torch.cos(theta), torch.sin(theta), config)


def angle_slack(positions: torch.Tensor, config: RopeConfig) -> torch.Tensor:
    """(batch, seq, 1, R/2), like ``tolerance.angle_slack``, everything recomputed."""
    length = oracle.call_length(positions)
    m = torch.from_numpy(oracle.positions_per_pair(positions, config))
    magnitude = m.abs() * oracle.inv_freq(config, length)
    sc = config.scaling
    if not sc:
        exponent = torch.arange(0, config.rotary_dim, 2, dtype=torch.float64) / config.rotary_dim
        rel = tolerance.ANGLE_REL * (exponent * math.log(config.base) + 2.5)
    else:
        exponent = torch.tensor([float(e) for e in scaling.exponents(sc, config.rotary_dim)], dtype=torch.float64)
        log_base = float(mpmath.log(scaling.effective_base(
            config.rope_type, sc, config.base, config.rotary_dim, scaling.effective_length(config.rope_type, sc, length))))
        extra = torch.from_numpy(scaling.freq_slack_ulps(config.base, config.rotary_dim, sc, length))
        rel = tolerance.ANGLE_REL * (exponent * log_base + 2.5 + extra)
    return (tolerance.EPS_F32 * (rel * magnitude + tolerance.ANGLE_ABS))[:, :, None, :]


def allowance(x: torch.Tensor, positions: torch.Tensor, config: RopeConfig, dtype: torch.dtype):
    """(pair (batch, seq, heads, R/2), rest (batch, seq, heads, head_dim - R)) budgets."""
    x64 = x.detach().to("cpu", torch.float64)
    rel, floor = tolerance.output_term(dtype)
    first, second = oracle.pair_indices(config)
    pair_norm = torch.hypot(x64[..., first], x64[..., second])
    pair = config.attention_factor * pair_norm * (rel + angle_slack(positions, config)) + floor
    rest = x64[..., config.rotary_dim:].abs() * rel + floor
    return pair, rest


def compare(y, x, positions, config, expected=None) -> tuple[float, float, float, tuple[int, ...]]:
    """(worst_ratio, worst_error, worst_allowed, where), judged on whole tensors."""
    ref = rope(x, positions, config) if expected is None else expected
    dtype = y.dtype if y.is_floating_point() else x.dtype
    pair, rest = allowance(x, positions, config, dtype)
    diff = y.detach().to("cpu", torch.float64) - ref
    first, second = oracle.pair_indices(config)
    err = torch.cat([torch.hypot(diff[..., first], diff[..., second]), diff[..., config.rotary_dim:].abs()], dim=-1)
    allowed = torch.cat([pair, rest], dim=-1)
    dims = torch.cat([first, torch.arange(config.rotary_dim, x.shape[-1])])
    ratio = err / allowed
    ratio = torch.where(torch.isnan(ratio), torch.full_like(ratio, math.inf), ratio)
    if ratio.numel() == 0:
        return 0.0, 0.0, 0.0, (0, 0, 0, 0)
    flat = int(torch.argmax(ratio))
    idx = [int(i) for i in torch.unravel_index(torch.tensor(flat), ratio.shape)]
    where = tuple(idx[:-1]) + (int(dims[idx[-1]]),)
    return float(ratio.flatten()[flat]), float(err.flatten()[flat]), float(allowed.flatten()[flat]), where


def ratios(y, x, positions, config) -> torch.Tensor:
    """err / allowed of every (batch, seq, head, pair or pass-through dim), NaN as inf."""
    ref = rope(x, positions, config)
    dtype = y.dtype if y.is_floating_point() else x.dtype
    pair, rest = allowance(x, positions, config, dtype)
    diff = y.detach().to("cpu", torch.float64) - ref
    first, second = oracle.pair_indices(config)
    err = torch.cat([torch.hypot(diff[..., first], diff[..., second]), diff[..., config.rotary_dim:].abs()], dim=-1)
    ratio = err / torch.cat([pair, rest], dim=-1)
    return torch.where(torch.isnan(ratio), torch.full_like(ratio, math.inf), ratio)


def _scaling(kind: str, rotary_dim: int):
    half = rotary_dim // 2
    return {
        "none": None,
        "linear": {"rope_type": "linear", "factor": 4.0},
        "ntk": {"rope_type": "ntk", "factor": 8.0},
        "dynamic": {"rope_type": "dynamic", "factor": 4.0, "original_max_position_embeddings": 16},
        "yarn": {"rope_type": "yarn", "factor": 16.0, "original_max_position_embeddings": 64},
        "yarn_mscale": {"rope_type": "yarn", "factor": 8.0, "original_max_position_embeddings": 32, "beta_fast": 16,
                        "beta_slow": 2, "mscale": 0.707, "mscale_all_dim": 1.0, "truncate": False},
        "llama3": {"rope_type": "llama3", "factor": 8.0, "low_freq_factor": 1.0, "high_freq_factor": 4.0,
                   "original_max_position_embeddings": 64},
        "longrope": {"rope_type": "longrope", "short_factor": [1.0 + 0.1 * i for i in range(half)],
                     "long_factor": [2.0 + 0.3 * i for i in range(half)], "original_max_position_embeddings": 32,
                     "factor": 8.0},
        "mrope": {"mrope_section": [1, 1, half - 2]} if half >= 3 else None,
        "axes": {"axes": 2} if rotary_dim % 4 == 0 else None,
    }[kind]


KINDS = ("none", "linear", "ntk", "dynamic", "yarn", "yarn_mscale", "llama3", "longrope", "mrope", "axes")


@st.composite
def configs(draw, max_head_dim: int = 40) -> RopeConfig:
    """A RopeConfig: any pairing, full or partial rotary, any scaling type or layout."""
    head_dim = draw(st.integers(1, max_head_dim // 2), label="head_dim / 2") * 2
    rotary_dim = draw(st.sampled_from([head_dim, 2 * draw(st.integers(1, head_dim // 2))]), label="rotary_dim")
    kind = draw(st.sampled_from(KINDS), label="scaling")
    return RopeConfig(base=draw(st.sampled_from([10000.0, 500000.0, 10.0, 1234.5])), rotary_dim=rotary_dim,
                      pairing=draw(st.sampled_from(["half_split", "interleaved"])),
                      scaling=_scaling(kind, rotary_dim), head_dim=head_dim)


def positions(draw, config: RopeConfig, batch: int, seq: int) -> torch.Tensor:
    """(batch, seq) int64 ((batch, seq, axes) multi-axis), small to 2**40, some negative."""
    high = draw(st.sampled_from([50, 5000, 2**20, 2**40]), label="largest position")
    low = -high if draw(st.booleans(), label="negative positions") else 0
    seed = draw(st.integers(0, 2**31 - 1), label="seed")
    shape = (batch, seq) + ((config.axes,) if config.axes > 1 else ())
    return torch.randint(low, high, shape, generator=torch.Generator().manual_seed(seed))


def draw_inputs(data, min_size: int = 0) -> tuple[RopeConfig, torch.Tensor, torch.Tensor, torch.dtype, torch.Generator]:
    """(config, positions, x in float64, the dtype to judge in, the generator that drew x),
    drawn with labels from ``data`` (``st.data()``); seq and heads are at least ``min_size``.
    x is (batch, seq, heads, head_dim) standard normal from a drawn seed."""
    config = data.draw(configs(), label="config")
    batch, seq, heads = (data.draw(st.integers(1, 3), label="batch"), data.draw(st.integers(min_size, 20), label="seq"),
                         data.draw(st.integers(min_size, 3), label="heads"))
    pos = positions(data.draw, config, batch, seq)
    dtype = data.draw(st.sampled_from([torch.float64, torch.float32, torch.bfloat16, torch.float16]), label="dtype")
    gen = torch.Generator().manual_seed(data.draw(st.integers(0, 2**31 - 1), label="seed"))
    return config, pos, torch.randn(batch, seq, heads, config.head_dim, generator=gen, dtype=torch.float64), dtype, gen
