"""Long-context scaling and multi-axis RoPE written the way model code writes them (float32
frequency tables, cos/sin cast to the model dtype), one correct version and mutants with the
slips seen in the wild. Independent of ``ropecheck.scaling`` on purpose: the suite must
judge code it did not write.
"""

from __future__ import annotations

import math

import torch


def _ladder(base: float, d: int, device) -> torch.Tensor:
    return 1.0 / (base ** (torch.arange(0, d, 2, device=device, dtype=torch.float32) / d))


def _length(positions: torch.Tensor) -> int:
    return int(positions.max()) + 1


def inv_freq_and_factor(config, positions, device, *, length=None, mutation: str = ""):
    """(rotary_dim // 2,) float32 frequencies and the attention factor, HF-style."""
    sc = dict(config.scaling or {})
    kind, d, base = sc.get("rope_type", "default"), config.rotary_dim, config.base
    length = _length(positions) if length is None else length
    if kind in ("ntk", "dynamic") and d > 2:
        s = sc["factor"]
        if kind == "dynamic":
            l0 = sc["original_max_position_embeddings"]
            s = s * max(length, l0) / l0 - (s - 1)
            if mutation == "static":
                s = sc["factor"]
        base = base * (s if mutation == "no_exponent" else s ** (d / (d - 2)))
    theta = _ladder(base, d, device)
    af = 1.0
    if kind == "linear":
        theta = theta * sc["factor"] if mutation == "multiplies" else theta / sc["factor"]
    elif kind == "yarn":
        theta, af = _yarn(theta, sc, d, base, mutation)
    elif kind == "llama3":
        theta = _llama3(theta, sc, mutation)
    elif kind == "longrope":
        long = length > sc["original_max_position_embeddings"]
        if mutation == "swapped":
            long = not long
        f = torch.tensor(sc["long_factor" if long else "short_factor"], dtype=torch.float32, device=device)
        theta = theta * f if mutation == "multiplies" else theta / f
        s = sc.get("factor", 1.0)
        af = sc.get("attention_factor", 1.0 if s <= 1 else math.sqrt(1 + math.log(s) / math.log(sc["original_max_position_embeddings"])))
    return theta, af


def _yarn(theta, sc, d, base, mutation):
    s, l0 = sc["factor"], sc["original_max_position_embeddings"]
    fast, slow = sc.get("beta_fast") or 32, sc.get("beta_slow") or 1
    dim_of = lambda rot: d * math.log(l0 / (rot * 2 * math.pi)) / (2 * math.log(base))  # noqa: E731
    low, high = dim_of(fast), dim_of(slow)
    if sc.get("truncate", True) and mutation != "no_truncate":
        low, high = math.floor(low), math.ceil(high)
    low, high = max(low, 0), min(high, d - 1)
    if low == high:
        high += 0.001
    ramp = ((torch.arange(d // 2, dtype=torch.float32, device=theta.device) - low) / (high - low)).clamp(0, 1)
    if mutation == "ramp_reversed":
        ramp = 1 - ramp
    theta = theta / s * ramp + theta * (1 - ramp)
    if "attention_factor" in sc:
        af = sc["attention_factor"]
    else:
        mscale = lambda scale, m=1.0: 1.0 if scale <= 1 else 0.1 * m * math.log(scale) + 1.0  # noqa: E731
        if sc.get("mscale") and sc.get("mscale_all_dim"):
            af = mscale(s, sc["mscale"]) / mscale(s, sc["mscale_all_dim"])
        else:
            af = mscale(s)
    if mutation == "no_attention_factor":
        af = 1.0
    elif mutation == "attention_factor_twice":
        af = af * af
    return theta, af


def _llama3(theta, sc, mutation):
    s, l0 = sc["factor"], sc["original_max_position_embeddings"]
    lf, hf = sc["low_freq_factor"], sc["high_freq_factor"]
    if mutation == "bands_swapped":
        lf, hf = hf, lf
    wavelen = 2 * math.pi / theta
    smooth = (l0 / wavelen - lf) / (hf - lf)
    smoothed = (1 - smooth) * theta / s + smooth * theta
    out = torch.where(wavelen > l0 / lf, theta / s, theta)
    medium = (wavelen >= l0 / hf) & (wavelen <= l0 / lf)
    return torch.where(medium, smoothed, out)


def _apply(x, positions, config, theta, af, axis_mutation=""):
    d = config.rotary_dim
    sc = dict(config.scaling or {})
    if positions.dim() == 3:  # multi-axis: each pair takes its axis's position
        if "mrope_section" in sc:
            axis = torch.repeat_interleave(torch.arange(len(sc["mrope_section"])), torch.tensor(sc["mrope_section"]))
        else:
            axis = torch.arange(d // 2) % sc["axes"]
        if axis_mutation == "first_axis":
            axis = torch.zeros_like(axis)
        pos = positions[..., axis.to(positions.device)].float()  # (batch, seq, d/2)
    else:
        pos = positions.float()[..., None]
    angles = pos * theta
    cos = (torch.cos(angles) * af).to(x.dtype)[:, :, None, :]
    sin = (torch.sin(angles) * af).to(x.dtype)[:, :, None, :]
    rot = x[..., :d]
    if config.pairing == "half_split":
        a, b = rot[..., : d // 2], rot[..., d // 2:]
        out = torch.cat((a * cos - b * sin, a * sin + b * cos), -1)
    else:
        a, b = rot[..., 0::2], rot[..., 1::2]
        out = torch.stack((a * cos - b * sin, a * sin + b * cos), -1).flatten(-2)
    return torch.cat((out, x[..., d:]), -1)


def _rope(mutation="", length_from_seq=False, axis_mutation=""):
    def rope(x, positions, config):
        length = positions.shape[1] if length_from_seq else None
        theta, af = inv_freq_and_factor(config, positions, x.device, length=length, mutation=mutation)
        if config.scaling and "axes" in config.scaling:  # the axial form: frequency per group
            a = config.scaling["axes"]
            theta = _ladder(config.base, config.rotary_dim // a, x.device).repeat_interleave(a)
        return _apply(x, positions, config, theta, af, axis_mutation)
    return rope


correct_scaled = _rope()
correct_multi_axis = _rope()
linear_multiplies = _rope("multiplies")
ntk_without_exponent = _rope("no_exponent")
dynamic_is_static = _rope("static")
dynamic_length_from_seq = _rope(length_from_seq=True)
yarn_no_attention_factor = _rope("no_attention_factor")
yarn_attention_factor_twice = _rope("attention_factor_twice")
yarn_ramp_reversed = _rope("ramp_reversed")
yarn_ignores_truncate = _rope("no_truncate")
llama3_bands_swapped = _rope("bands_swapped")
longrope_factors_swapped = _rope("swapped")
longrope_multiplies = _rope("multiplies")
multi_axis_first_axis_only = _rope(axis_mutation="first_axis")


def yarn_attention_factor_on_cos_only(x, positions, config):
    """YaRN with the attention factor applied to cos but not sin (not a scaled rotation)."""
    theta, af = inv_freq_and_factor(config, positions, x.device)
    d = config.rotary_dim
    angles = positions.float()[..., None] * theta
    cos = (torch.cos(angles) * af).to(x.dtype)[:, :, None, :]
    sin = torch.sin(angles).to(x.dtype)[:, :, None, :]
    a, b = x[..., : d // 2], x[..., d // 2: d]
    return torch.cat((a * cos - b * sin, a * sin + b * cos, x[..., d:]), -1)
