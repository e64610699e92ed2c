"""Deliberately broken RoPE implementations (mutants) and correct ones written in other
styles. Each is a plain function with the adapter signature; the test table in
``tests/acceptance/test_mutants.py`` says which spec it is checked under and what must be
reported.

Written independently of ``ropecheck.variants`` on purpose: the suite must judge code it
did not write.
"""

from __future__ import annotations

import os
import signal
import time

import torch

# ---------------------------------------------------------------- shared correct pieces


def inv_freq_f32(base: float, rotary_dim: int, device) -> torch.Tensor:
    return 1.0 / (base ** (torch.arange(0, rotary_dim, 2, device=device, dtype=torch.float32) / rotary_dim))


def half_rotate(x: torch.Tensor) -> torch.Tensor:
    h = x.shape[-1] // 2
    return torch.cat((-x[..., h:], x[..., :h]), dim=-1)


def pair_rotate(x: torch.Tensor) -> torch.Tensor:
    return torch.stack((-x[..., 1::2], x[..., ::2]), dim=-1).flatten(-2)


def hf_style(x, positions, config, *, angles=None, base=None, rotate=half_rotate, interleave=False,
             sign=1.0, table_dtype=None):
    """HF Llama-like: float32 angles, cos/sin cast to the model dtype, partial rotary."""
    rd = config.rotary_dim
    base = config.base if base is None else base
    if angles is None:
        angles = positions.float()[..., None] * inv_freq_f32(base, rd, x.device)
    emb = angles.repeat_interleave(2, -1) if interleave else torch.cat((angles, angles), -1)
    dtype = x.dtype if table_dtype is None else table_dtype
    cos, sin = emb.cos().to(dtype)[:, :, None], (sign * emb.sin()).to(dtype)[:, :, None]
    rot, rest = x[..., :rd], x[..., rd:]
    out = rot * cos + rotate(rot) * sin
    return torch.cat((out.to(x.dtype), rest), -1)


# ---------------------------------------------------------------- correct, in other styles


def correct_hf(x, positions, config):
    return hf_style(x, positions, config)


def correct_gptj(x, positions, config):
    return hf_style(x, positions, config, rotate=pair_rotate, interleave=True)


def correct_meta_complex(x, positions, config):
    """Meta llama: complex64 arithmetic, result .type_as(x) (float64 not claimed)."""
    rd = config.rotary_dim
    freqs = torch.outer(positions.flatten().float(), inv_freq_f32(config.base, rd, x.device))
    cis = torch.polar(torch.ones_like(freqs), freqs).reshape(*positions.shape, 1, rd // 2)
    xc = torch.view_as_complex(x[..., :rd].float().reshape(*x.shape[:-1], -1, 2))
    out = torch.view_as_real(xc * cis).flatten(3)
    return torch.cat((out.type_as(x), x[..., rd:]), -1)


def correct_exp_ln(x, positions, config):
    """Frequencies as exp(-(2i/d) ln base) in float32, angle via torch.outer."""
    rd = config.rotary_dim
    i = torch.arange(rd // 2, device=x.device, dtype=torch.float32)
    inv = torch.exp(-(2 * i / rd) * torch.log(torch.tensor(config.base, dtype=torch.float32)))
    angles = torch.outer(positions.flatten().float(), inv).reshape(*positions.shape, -1)
    return hf_style(x, positions, config, angles=angles)


def correct_float64_angles(x, positions, config):
    rd = config.rotary_dim
    inv = 1.0 / config.base ** (torch.arange(0, rd, 2, dtype=torch.float64, device=x.device) / rd)
    angles = positions.double()[..., None] * inv
    return hf_style(x.double(), positions, config, angles=angles).to(x.dtype)


def correct_table_lookup(x, positions, config):
    """Precomputed float32 cos/sin table of 8192 positions, gathered by position."""
    rd = config.rotary_dim
    t = torch.arange(8192, dtype=torch.float32, device=x.device)
    freqs = torch.outer(t, inv_freq_f32(config.base, rd, x.device))
    cos_t, sin_t = freqs.cos(), freqs.sin()
    cos, sin = cos_t[positions], sin_t[positions]  # (b, s, half)
    rot = x[..., :rd].float()
    a, b = rot[..., : rd // 2], rot[..., rd // 2:]
    c, s = cos[:, :, None], sin[:, :, None]
    out = torch.cat((a * c - b * s, a * s + b * c), -1)
    return torch.cat((out.to(x.dtype), x[..., rd:]), -1)


def correct_inplace(x, positions, config):
    """Writes the result into x and returns it (spec: inplace = true)."""
    y = hf_style(x, positions, config)
    x.copy_(y)
    return x


# ---------------------------------------------------------------- mutants: the maths


def hardcoded_base_1000(x, positions, config):
    """A slip from a blog post's code: theta = 1000.0 hard-coded instead of the config's base."""
    return hf_style(x, positions, config, base=1000.0)


def wrong_direction(x, positions, config):
    return hf_style(x, positions, config, sign=-1.0)


def interleaved_labelled_half_split(x, positions, config):
    return correct_gptj(x, positions, config)


def off_by_one(x, positions, config):
    return hf_style(x, positions + 1, config)


def ignores_positions(x, positions, config):
    seq = x.shape[1]
    return hf_style(x, torch.arange(seq, device=x.device).expand(x.shape[0], seq), config)


def first_row_positions(x, positions, config):
    return hf_style(x, positions[:1].expand_as(positions), config)


def bf16_angles(x, positions, config):
    angles = (positions.to(torch.bfloat16)[..., None] * inv_freq_f32(config.base, config.rotary_dim, x.device).to(torch.bfloat16)).float()
    return hf_style(x, positions, config, angles=angles)


def fp16_positions(x, positions, config):
    angles = positions.half().float()[..., None] * inv_freq_f32(config.base, config.rotary_dim, x.device)
    return hf_style(x, positions, config, angles=angles)


def exponent_i_over_d(x, positions, config):
    rd = config.rotary_dim
    inv = 1.0 / (config.base ** (torch.arange(0, rd // 2, device=x.device, dtype=torch.float32) / rd))
    return hf_style(x, positions, config, angles=positions.float()[..., None] * inv)


def exponent_over_head_dim(x, positions, config):
    rd, d = config.rotary_dim, x.shape[-1]
    inv = 1.0 / (config.base ** (torch.arange(0, rd, 2, device=x.device, dtype=torch.float32) / d))
    return hf_style(x, positions, config, angles=positions.float()[..., None] * inv)


def rotates_whole_head(x, positions, config):
    return hf_style(x, positions, config.replace(rotary_dim=x.shape[-1], head_dim=x.shape[-1]))


def zeroes_passthrough(x, positions, config):
    y = hf_style(x, positions, config)
    y[..., config.rotary_dim:] = 0
    return y


def scaled_output(x, positions, config):
    return hf_style(x, positions, config) * 1.01


def cos_sin_swapped(x, positions, config):
    rd = config.rotary_dim
    angles = positions.float()[..., None] * inv_freq_f32(config.base, rd, x.device)
    return hf_style(x, positions, config, angles=torch.pi / 2 - angles)


def table_clamped_4096(x, positions, config):
    """A cos/sin cache of 4096 positions; later positions read its last row."""
    return hf_style(x, positions.clamp(max=4095), config)


def chunk_relative_positions(x, positions, config):
    """Forgets the KV-cache offset: positions restart at 0 in every call."""
    return hf_style(x, positions - positions[:, :1], config)


def decode_uses_zero(x, positions, config):
    """A single-token (decode) call gets position 0."""
    if x.shape[1] == 1:
        positions = torch.zeros_like(positions)
    return hf_style(x, positions, config)


# ---------------------------------------------------------------- mutants: the contract


def mutates_input(x, positions, config):
    return correct_inplace(x, positions, config)


def assumes_contiguous(x, positions, config):
    """Reads x's storage as if it were contiguous (a kernel that ignores strides)."""
    b, s, h, d = x.shape
    flat = torch.as_strided(x, (b, s, h, d), (s * h * d, h * d, d, 1), x.storage_offset())
    return hf_style(flat, positions, config)


def returns_float32(x, positions, config):
    return hf_style(x.float(), positions, config)


def returns_wrong_shape(x, positions, config):
    return hf_style(x, positions, config)[:, :, :1]


def raises_on_long_sequences(x, positions, config):
    if x.shape[1] > 8:
        raise RuntimeError("sequence too long for the cos/sin cache")
    return hf_style(x, positions, config)


class _ForwardGrad(torch.autograd.Function):
    """Correct forward, but backward rotates the gradient forward instead of back."""

    @staticmethod
    def forward(ctx, x, positions, config):
        ctx.save_for_backward(positions)
        ctx.config = config
        return hf_style(x, positions, config)

    @staticmethod
    def backward(ctx, grad):
        (positions,) = ctx.saved_tensors
        return hf_style(grad, positions, ctx.config), None, None


def wrong_gradient(x, positions, config):
    return _ForwardGrad.apply(x, positions, config)


class _InPlaceGrad(_ForwardGrad):
    """_ForwardGrad's forward, and a correct gradient (the inverse rotation: the forward
    rotation at -positions), but computed into the incoming gradient's own storage (Liger's
    backward)."""

    @staticmethod
    def backward(ctx, grad):
        (positions,) = ctx.saved_tensors
        return grad.copy_(hf_style(grad, -positions, ctx.config)), None, None


def backward_overwrites_upstream(x, positions, config):
    return _InPlaceGrad.apply(x, positions, config)


def detaches(x, positions, config):
    with torch.no_grad():
        return hf_style(x, positions, config)


def nan_spreads(x, positions, config):
    """A sequence-wide reduction leaks one token's NaN into all others."""
    y = hf_style(x, positions, config)
    return y + 0.0 * x.sum(dim=1, keepdim=True)


def nan_scrubbed(x, positions, config):
    return hf_style(torch.nan_to_num(x), positions, config)


def nondeterministic(x, positions, config):
    """Noise of a few ulps from the global RNG: inside the tolerance, but not repeatable."""
    y = hf_style(x, positions, config)
    ulps = torch.rand_like(y, dtype=torch.float32) * 4 * torch.finfo(y.dtype).eps
    return (y.double() * (1 + ulps.double())).to(y.dtype)


# ---------------------------------------------------------------- mutants: the process


def segfaults(x, positions, config):
    os.kill(os.getpid(), signal.SIGSEGV)


def exits_interpreter(x, positions, config):
    os._exit(3)


def hangs(x, positions, config):
    while True:
        time.sleep(1)


def hangs_on_gradients(x, positions, config):
    if x.requires_grad:
        while True:
            time.sleep(1)
    return hf_style(x, positions, config)


def crashes_on_nan(x, positions, config):
    """Correct, except that a NaN input kills the interpreter (a kernel's bad assumption)."""
    if torch.isnan(x).any():
        os.kill(os.getpid(), signal.SIGSEGV)
    return hf_style(x, positions, config)


def raises_always(x, positions, config):
    raise NotImplementedError("this RoPE is not written yet")


def planted_slowdown(x, positions, config):
    """Correct, but does all the work twice (a planted 2x slowdown)."""
    hf_style(x, positions, config)
    return hf_style(x, positions, config)
