"""Red-team implementations for ropecheck: correct ones in real-world styles ropecheck has
not seen, and broken ones modelled on real RoPE bug reports.

Every function has the adapter signature ``rope(x, positions, config) -> tensor`` of
docs/contract.md §1. The spec each is checked under, and what must be reported, is in
``tests/acceptance/test_redteam.py``. Written from scratch (no third-party code copied); the docstrings
name the library style or the bug report each one imitates.
"""

from __future__ import annotations

import functools
import math

import numpy as np
import torch

# ---------------------------------------------------------------- small shared pieces


def _inv_freq(base: float, rd: int, device, dtype=torch.float32) -> torch.Tensor:
    """base ** (-2i/rd), formed in ``dtype`` (float32 unless said otherwise)."""
    return 1.0 / (base ** (torch.arange(0, rd, 2, dtype=dtype, device=device) / rd))


def _work_dtype(dtype: torch.dtype) -> torch.dtype:
    """float32 for the half types, float64 stays float64."""
    return torch.promote_types(dtype, torch.float32)


def _neox_rotate(x: torch.Tensor) -> torch.Tensor:
    x1, x2 = x.chunk(2, dim=-1)
    return torch.cat((-x2, x1), dim=-1)


def _gptj_rotate(x: torch.Tensor) -> torch.Tensor:
    x1, x2 = x.unflatten(-1, (-1, 2)).unbind(-1)
    return torch.stack((-x2, x1), dim=-1).flatten(-2)


def _rotate_with_angles(x, angles, config, pairing=None):
    """Rotate the first rotary_dim dims of x by float32 ``angles`` (b, s, rd/2); float32 math."""
    rd = config.rotary_dim
    pairing = config.pairing if pairing is None else pairing
    w = _work_dtype(x.dtype)
    if pairing == "interleaved":
        emb, rotate = angles.repeat_interleave(2, dim=-1), _gptj_rotate
    else:
        emb, rotate = torch.cat((angles, angles), dim=-1), _neox_rotate
    cos, sin = emb.cos()[:, :, None].to(w), emb.sin()[:, :, None].to(w)
    rot = x[..., :rd].to(w)
    out = rot * cos + rotate(rot) * sin
    return torch.cat((out.to(x.dtype), x[..., rd:]), dim=-1)


def _reference(x, positions, config, pairing=None):
    """A plain correct float32-angle RoPE used as the skeleton of the broken variants."""
    angles = positions.to(torch.float32)[..., None] * _inv_freq(config.base, config.rotary_dim, x.device)
    return _rotate_with_angles(x, angles, config, pairing)


# ================================================================ CORRECT implementations

# ---------------------------------------------------------------- vLLM style

VLLM_MAX_POSITION = 32768


@functools.lru_cache(maxsize=4)
def _vllm_cos_sin_cache(base: float, rotary_dim: int, max_position: int, device: str) -> torch.Tensor:
    """(max_position, rotary_dim): [cos | sin] in float32, built once per layer config."""
    inv_freq = 1.0 / (base ** (torch.arange(0, rotary_dim, 2, dtype=torch.float) / rotary_dim))
    t = torch.arange(max_position, dtype=torch.float)
    freqs = torch.einsum("i,j -> ij", t, inv_freq)
    return torch.cat((freqs.cos(), freqs.sin()), dim=-1).to(device)


def _vllm_apply(x, cos, sin, is_neox_style):
    cos, sin = cos.unsqueeze(-2), sin.unsqueeze(-2)
    if is_neox_style:
        x1, x2 = torch.chunk(x, 2, dim=-1)
    else:
        x1, x2 = x[..., ::2], x[..., 1::2]
    o1 = x1 * cos - x2 * sin
    o2 = x2 * cos + x1 * sin
    if is_neox_style:
        return torch.cat((o1, o2), dim=-1)
    return torch.stack((o1, o2), dim=-1).flatten(-2)


def vllm_style(x, positions, config):
    """vLLM RotaryEmbedding.forward_native: a (max_position, rotary_dim) cos_sin_cache indexed
    by flattened positions, query flattened to (num_tokens, heads * head_size), cos/sin cast
    to the query dtype, ``is_neox_style`` chooses the pairing. Spec: max_position 32768."""
    batch, seq, heads, head_size = x.shape
    rotary_dim = config.rotary_dim
    is_neox_style = config.pairing == "half_split"
    cache = _vllm_cos_sin_cache(float(config.base), rotary_dim, VLLM_MAX_POSITION, str(x.device))
    positions = positions.flatten()
    num_tokens = positions.shape[0]
    cos_sin = cache.index_select(0, positions)
    cos, sin = cos_sin.chunk(2, dim=-1)
    query = x.reshape(num_tokens, heads * head_size).view(num_tokens, heads, head_size)
    query_rot, query_pass = query[..., :rotary_dim], query[..., rotary_dim:]
    query_rot = _vllm_apply(query_rot, cos.to(x.dtype), sin.to(x.dtype), is_neox_style)
    return torch.cat((query_rot, query_pass), dim=-1).reshape(batch, seq, heads, head_size)


# ---------------------------------------------------------------- flash-attn style


def flash_attn_style(x, positions, config):
    """flash-attn ``apply_rotary_emb``: cos/sin tables of shape (rows, rotary_dim / 2) in
    float32, x loaded and rotated in float32, interleaved flag, written back in x's dtype.
    flash-attn takes a seqlen offset; ropecheck passes arbitrary positions, so the table rows
    are the distinct positions of the batch and are gathered back per token."""
    rotary_dim = config.rotary_dim
    uniq, index = torch.unique(positions, return_inverse=True)
    inv_freq = 1.0 / (config.base ** (torch.arange(0, rotary_dim, 2, device=x.device, dtype=torch.float32) / rotary_dim))
    freqs = torch.outer(uniq.to(torch.float32), inv_freq)  # (rows, rotary_dim / 2)
    cos, sin = torch.cos(freqs)[index], torch.sin(freqs)[index]  # (batch, seq, rotary_dim / 2)
    cos, sin = cos[:, :, None, :], sin[:, :, None, :]
    x_ro = x[..., :rotary_dim].float()
    if config.pairing == "interleaved":
        x0, x1 = x_ro[..., 0::2], x_ro[..., 1::2]
        o0, o1 = x0 * cos - x1 * sin, x0 * sin + x1 * cos
        out = torch.stack((o0, o1), dim=-1).flatten(-2)
    else:
        x0, x1 = x_ro.chunk(2, dim=-1)
        out = torch.cat((x0 * cos - x1 * sin, x0 * sin + x1 * cos), dim=-1)
    return torch.cat((out.to(x.dtype), x[..., rotary_dim:]), dim=-1)


# ---------------------------------------------------------------- lucidrains style


def _rotate_half_pairs(x):
    x = x.unflatten(-1, (-1, 2))  # '... (d r) -> ... d r', r = 2
    x1, x2 = x.unbind(dim=-1)
    x = torch.stack((-x2, x1), dim=-1)
    return x.flatten(-2)  # '... d r -> ... (d r)'


def lucidrains_style(x, positions, config):
    """rotary-embedding-torch / x-transformers: freqs via einsum, repeated '(n r)' so pairs
    are interleaved, rotate_half through reshapes, start_index slicing, result .type(dtype)."""
    dim = config.rotary_dim
    freqs = 1.0 / (config.base ** (torch.arange(0, dim, 2, device=x.device)[: (dim // 2)].float() / dim))
    freqs = torch.einsum("b n, f -> b n f", positions.type(freqs.dtype), freqs)
    freqs = freqs.repeat_interleave(2, dim=-1)[:, :, None, :]
    start_index, end_index = 0, dim
    t_left, t, t_right = x[..., :start_index], x[..., start_index:end_index], x[..., end_index:]
    t = (t * freqs.cos()) + (_rotate_half_pairs(t) * freqs.sin())
    return torch.cat((t_left, t.type(x.dtype), t_right), dim=-1)


# ---------------------------------------------------------------- GPT-NeoX with a growing cache


class _NeoXRotary:
    """GPT-NeoX RotaryEmbedding: inv_freq buffer in float32, cos/sin cache for the first
    ``max_seq_len_cached`` positions, regrown (and moved) when a larger position or another
    device shows up, cast to the query dtype on use."""

    def __init__(self, dim: int, base: float):
        self.inv_freq = 1.0 / (base ** (torch.arange(0, dim, 2).float() / dim))
        self.max_seq_len_cached = 0
        self.cos_cached = self.sin_cached = None

    def _set_cache(self, seq_len: int, device) -> None:
        self.max_seq_len_cached = seq_len
        t = torch.arange(seq_len, device=device, dtype=self.inv_freq.dtype)
        freqs = torch.einsum("i,j->ij", t, self.inv_freq.to(device))
        emb = torch.cat((freqs, freqs), dim=-1)
        self.cos_cached, self.sin_cached = emb.cos(), emb.sin()

    def __call__(self, positions: torch.Tensor, dtype: torch.dtype):
        need = int(positions.max()) + 1
        if need > self.max_seq_len_cached or self.cos_cached.device != positions.device:
            self._set_cache(((need + 1023) // 1024) * 1024, positions.device)
        return self.cos_cached[positions].to(dtype), self.sin_cached[positions].to(dtype)


@functools.lru_cache(maxsize=8)
def _neox_module(dim: int, base: float) -> _NeoXRotary:
    return _NeoXRotary(dim, base)


def neox_partial(x, positions, config):
    """GPT-NeoX attention: ``rotary_ndims`` leading dims rotated (query_rot / query_pass),
    rotate_half, cos/sin gathered by position_ids from a growing cache. Spec: max_position 16384."""
    rotary_ndims = config.rotary_dim
    cos, sin = _neox_module(rotary_ndims, float(config.base))(positions, x.dtype)
    cos, sin = cos.unsqueeze(2), sin.unsqueeze(2)
    query_rot, query_pass = x[..., :rotary_ndims], x[..., rotary_ndims:]
    query = (query_rot * cos) + (_neox_rotate(query_rot) * sin)
    return torch.cat((query, query_pass), dim=-1)


# ---------------------------------------------------------------- JAX-like numpy round trip


def numpy_jax_style(x, positions, config):
    """MaxText / Gemma JAX ``apply_rope`` written in numpy: timescale = base ** fraction and
    sinusoid = position / timescale in float32, sin/cos cast to x's working dtype
    (float64 kept for float64 inputs), back to torch with x's dtype and device. Not
    differentiable (numpy)."""
    rd = config.rotary_dim
    wide = x.dtype == torch.float64
    xn = x.detach().to("cpu", torch.float64 if wide else torch.float32).numpy()
    pos = positions.detach().cpu().numpy().astype(np.float32)
    fraction = 2 * np.arange(0, rd // 2, dtype=np.float32) / np.float32(rd)
    timescale = np.float32(config.base) ** fraction
    sinusoid = pos[..., np.newaxis] / timescale  # (batch, seq, rd / 2) float32
    sin = np.sin(sinusoid).astype(xn.dtype)[:, :, np.newaxis, :]
    cos = np.cos(sinusoid).astype(xn.dtype)[:, :, np.newaxis, :]
    first, second = xn[..., : rd // 2], xn[..., rd // 2: rd]
    out = np.concatenate([first * cos - second * sin, second * cos + first * sin, xn[..., rd:]], axis=-1)
    return torch.from_numpy(np.ascontiguousarray(out)).to(device=x.device, dtype=x.dtype)


# ---------------------------------------------------------------- one fused expression


def fused_single_expression(x, positions, config):
    """Everything in one expression (as one writes it for torch.compile, without compiling):
    angle = m * base ** (-2i/d) with a negative power, no reciprocal."""
    rd, h, w = config.rotary_dim, config.rotary_dim // 2, _work_dtype(x.dtype)
    a = positions.to(torch.float32)[:, :, None, None] * config.base ** (
        -torch.arange(0, rd, 2, device=x.device, dtype=torch.float32) / rd)
    return torch.cat(((x[..., :h].to(w) * a.cos() - x[..., h:rd].to(w) * a.sin()).to(x.dtype),
                      (x[..., h:rd].to(w) * a.cos() + x[..., :h].to(w) * a.sin()).to(x.dtype),
                      x[..., rd:]), dim=-1)


# ---------------------------------------------------------------- complex128 for float64


def complex_view_as_real(x, positions, config):
    """Meta-llama ``freqs_cis`` style, but float64 inputs go through complex128 with float64
    angles (so they are exact to ~1e-16 relative); other dtypes use complex64."""
    rd = config.rotary_dim
    if x.dtype == torch.float64:
        real, cplx = torch.float64, torch.complex128
    else:
        real, cplx = torch.float32, torch.complex64
    freqs = 1.0 / (config.base ** (torch.arange(0, rd, 2, device=x.device, dtype=real)[: rd // 2] / rd))
    angles = positions.to(real)[..., None] * freqs
    freqs_cis = torch.polar(torch.ones_like(angles), angles)[:, :, None, :]
    assert freqs_cis.dtype == cplx
    xr = x[..., :rd].to(real).reshape(*x.shape[:-1], rd // 2, 2).contiguous()
    out = torch.view_as_real(torch.view_as_complex(xr) * freqs_cis).flatten(-2)
    return torch.cat((out.to(x.dtype), x[..., rd:]), dim=-1)


# ---------------------------------------------------------------- one head at a time


def per_head_loop(x, positions, config):
    """A chunked loop over heads (what a memory-bound port does): cos/sin in the model dtype,
    each head rotated and concatenated with its pass-through, heads stacked back."""
    rd, half = config.rotary_dim, config.rotary_dim // 2
    angles = positions.float()[..., None] * _inv_freq(config.base, rd, x.device)
    cos = torch.cat((angles.cos(), angles.cos()), dim=-1).to(x.dtype)
    sin = torch.cat((angles.sin(), angles.sin()), dim=-1).to(x.dtype)
    heads = []
    for h in range(x.shape[2]):
        xh = x[:, :, h, :]
        rot = xh[..., :rd]
        turned = torch.cat((-rot[..., half:], rot[..., :half]), dim=-1)
        heads.append(torch.cat((rot * cos + turned * sin, xh[..., rd:]), dim=-1))
    return torch.stack(heads, dim=2)


# ---------------------------------------------------------------- float64 inv_freq, float32 angles


def inv_freq_f64_then_f32(x, positions, config):
    """inv_freq formed in float64 then cast to float32 (as some libraries do to get a
    correctly rounded frequency), angles and rotation in float32, interleaved pairs."""
    rd = config.rotary_dim
    inv = (1.0 / (config.base ** (torch.arange(0, rd, 2, dtype=torch.float64, device=x.device) / rd))).float()
    angles = positions.float()[..., None] * inv
    w = _work_dtype(x.dtype)
    c, s = angles.cos()[:, :, None].to(w), angles.sin()[:, :, None].to(w)
    xe, xo = x[..., 0:rd:2].to(w), x[..., 1:rd:2].to(w)
    out = torch.stack((xe * c - xo * s, xe * s + xo * c), dim=-1).flatten(-2)
    return torch.cat((out.to(x.dtype), x[..., rd:]), dim=-1)


# ---------------------------------------------------------------- explicit rotation matrix


def rotation_matrix(x, positions, config):
    """The RoFormer paper's sparse block-diagonal matrix R(m), built per token (identity on
    the pass-through dims) and applied with einsum."""
    b, s, _, d = x.shape
    rd = config.rotary_dim
    w = _work_dtype(x.dtype)
    angles = positions.to(torch.float32)[..., None] * _inv_freq(config.base, rd, x.device)
    c, sn = angles.cos().to(w), angles.sin().to(w)
    R = torch.zeros(b, s, d, d, dtype=w, device=x.device)
    diag = torch.arange(d, device=x.device)
    R[:, :, diag, diag] = 1.0
    i = torch.arange(rd // 2, device=x.device)
    R[:, :, 2 * i, 2 * i] = c
    R[:, :, 2 * i, 2 * i + 1] = -sn
    R[:, :, 2 * i + 1, 2 * i] = sn
    R[:, :, 2 * i + 1, 2 * i + 1] = c
    return torch.einsum("bsij,bshj->bshi", R, x.to(w)).to(x.dtype)


# ---------------------------------------------------------------- rasbt's exponent i / (d/2)


def half_dim_exponent(x, positions, config):
    """LLMs-from-scratch: inv_freq = base ** -(arange(0, d/2) / (d/2)), which looks wrong
    (rasbt/LLMs-from-scratch#410) but equals 2i/d exactly; math in float32, cast back."""
    rd = config.rotary_dim
    inv_freq = 1.0 / (config.base ** (torch.arange(0, rd // 2, device=x.device).float() / (rd // 2)))
    angles = positions.float()[:, :, None] * inv_freq[None, None, :]
    angles = torch.cat([angles, angles], dim=-1)
    cos, sin = torch.cos(angles)[:, :, None, :], torch.sin(angles)[:, :, None, :]
    rot = x[..., :rd]
    x1, x2 = rot[..., : rd // 2], rot[..., rd // 2:]
    rotated = torch.cat((-x2, x1), dim=-1)
    out = (rot * cos) + (rotated * sin)
    return torch.cat((out.to(dtype=x.dtype), x[..., rd:]), dim=-1)


# ---------------------------------------------------------------- reduced angles, cos/sin in the model dtype


def reduced_angles_in_model_dtype(x, positions, config):
    """Angles formed in float32 and reduced to [-pi, pi) in float32, *then* cast to the model
    dtype and cos/sin evaluated there (bf16 / fp16). Correct to the dtype's precision: the
    reduced angle errs by at most half an ulp of pi in that dtype."""
    rd = config.rotary_dim
    angles = positions.float()[..., None] * _inv_freq(config.base, rd, x.device)
    reduced = torch.remainder(angles + math.pi, 2 * math.pi) - math.pi
    emb = torch.cat((reduced, reduced), dim=-1).to(x.dtype)[:, :, None]
    rot = x[..., :rd]
    return torch.cat((rot * emb.cos() + _neox_rotate(rot) * emb.sin(), x[..., rd:]), dim=-1)


# ================================================================ BROKEN implementations


def inv_freq_follows_model_dtype(x, positions, config):
    """huggingface/transformers#29496 (also #25681, NVIDIA/Megatron-LM#744, NVIDIA-NeMo/
    Automodel#2549): model.to(bfloat16) rounds the inv_freq buffer; later .float() cannot
    recover the bits. Only bf16/fp16 models are affected; angles are otherwise float32."""
    inv = _inv_freq(config.base, config.rotary_dim, x.device)
    if x.dtype in (torch.bfloat16, torch.float16):
        inv = inv.to(x.dtype)  # the buffer followed model.to(dtype)
    angles = positions.float()[..., None] * inv.float()
    return _rotate_with_angles(x, angles, config)


def positions_type_as_half_inv_freq(x, positions, config):
    """NVIDIA/Megatron-LM#535: ``seq.type_as(self.inv_freq)`` when inv_freq is fp16/bf16
    under a half-precision model; positions lose integer exactness (bf16 above 256, fp16
    above 2048, inf above 65504)."""
    inv = _inv_freq(config.base, config.rotary_dim, x.device)
    if x.dtype in (torch.bfloat16, torch.float16):
        seq = positions.to(x.dtype).float()
    else:
        seq = positions.float()
    return _rotate_with_angles(x, seq[..., None] * inv, config)


def cache_wraps_at_4096(x, positions, config):
    """pegainfer-project/pegainfer#253 (RoPE cache covers 4096 positions but config admits
    262144): the table is indexed modulo its length, as a ring, so positions >= 4096 silently
    reuse early rows."""
    return _reference(x, positions % 4096, config)


def partial_uses_head_width(x, positions, config):
    """pie-project/pie#603: rope_partial rotated the first rotary_dim/2 pairs with frequencies
    base**(-2i/head_dim) and pairs (i, i + head_dim/2). Equal to the right answer when
    rotary_dim == head_dim and at position 0; drifts with distance for partial rotary."""
    d, rd = x.shape[-1], config.rotary_dim
    half = d // 2
    inv = 1.0 / (config.base ** (torch.arange(0, rd, 2, device=x.device, dtype=torch.float32) / d))
    angles = positions.float()[..., None] * inv  # (b, s, rd/2)
    w = _work_dtype(x.dtype)
    c, s = angles.cos()[:, :, None].to(w), angles.sin()[:, :, None].to(w)
    out = x.to(w).clone()
    i = torch.arange(rd // 2, device=x.device)
    a, b = out[..., i], out[..., i + half]
    out[..., i], out[..., i + half] = a * c - b * s, a * s + b * c
    return out.to(x.dtype)


def zero_padded_freqs_full_rotate_half(x, positions, config):
    """labscommunity/cascadia#69: inv_freq zero-padded to head_dim and one rotate_half over
    the whole head, so pairs are (i, i + head_dim/2) instead of (i, i + rotary_dim/2); the
    cos/sin *values* matched HF, the applied q/k did not (partial rotary only)."""
    d, rd = x.shape[-1], config.rotary_dim
    inv = torch.zeros(d // 2, device=x.device)
    inv[: rd // 2] = _inv_freq(config.base, rd, x.device)
    angles = positions.float()[..., None] * inv
    emb = torch.cat((angles, angles), dim=-1)
    w = _work_dtype(x.dtype)
    xw = x.to(w)
    out = xw * emb.cos()[:, :, None].to(w) + _neox_rotate(xw) * emb.sin()[:, :, None].to(w)
    return out.to(x.dtype)


def neox_fast_path_ignores_flag(x, positions, config):
    """vllm-project/vllm-ascend#12780 and vllm-project/vllm#49323: a specialised kernel
    hard-codes NeoX (half-split) pairing and never reads is_neox_style. Here the fast path
    is taken for full rotary at the common head sizes 64/128/256 only."""
    d = x.shape[-1]
    if config.rotary_dim == d and d in (64, 128, 256):
        return _reference(x, positions, config, pairing="half_split")
    return _reference(x, positions, config)


def decode_position_plus_one(x, positions, config):
    """tenstorrent/tt-metal#5253: decode mode passed layer_past_len + 1 to the rotary
    embedding; prefill (seq > 1) is right."""
    if x.shape[1] == 1:
        positions = positions + 1
    return _reference(x, positions, config)


_DTYPE_BLIND_CACHE: dict = {}


def cos_sin_cache_ignores_dtype(x, positions, config):
    """xformers-style cos/sin cache whose invalidation test forgets dtype (facebookresearch/
    xformers#728 shows the full condition; plausible, no report of this exact slip found):
    the table is cast to the first dtype it meets and reused for every later dtype.
    Spec: max_position 8192 (the table length)."""
    rd = config.rotary_dim
    key = (float(config.base), rd, str(x.device))  # dtype missing from the key
    if key not in _DTYPE_BLIND_CACHE:
        t = torch.arange(8192, dtype=torch.float32, device=x.device)
        freqs = torch.outer(t, _inv_freq(config.base, rd, x.device))
        emb = torch.cat((freqs, freqs), dim=-1)
        _DTYPE_BLIND_CACHE[key] = (emb.cos().to(x.dtype), emb.sin().to(x.dtype))
    cos, sin = (c[positions][:, :, None] for c in _DTYPE_BLIND_CACHE[key])
    rot = x[..., :rd]
    out = rot * cos.to(x.dtype) + _neox_rotate(rot) * sin.to(x.dtype)
    return torch.cat((out, x[..., rd:]), dim=-1)


_SEQ_KEYED_CACHE: dict = {}


def freqs_cache_key_ignores_offset(x, positions, config):
    """lucidrains/rotary-embedding-torch#11: ``cache_key = f'freqs:{seq_len}'`` leaves the
    offset out, so a later call of the same length but other positions reuses stale freqs."""
    b, s = positions.shape
    key = (b, s, float(config.base), config.rotary_dim, str(x.device))
    if key not in _SEQ_KEYED_CACHE:
        _SEQ_KEYED_CACHE[key] = positions.float()[..., None] * _inv_freq(config.base, config.rotary_dim, x.device)
    return _rotate_with_angles(x, _SEQ_KEYED_CACHE[key], config)


def past_length_offset(x, positions, config):
    """huggingface/transformers#22161 (GPT-NeoX rotary does not work with left padding):
    positions are rebuilt as arange(past_length, past_length + seq) with one past length for
    the whole batch (taken from the first row), ignoring per-row position_ids."""
    seq = x.shape[1]
    past_length = int(positions[0, 0])
    rebuilt = torch.arange(past_length, past_length + seq, device=x.device).expand_as(positions)
    return _reference(x, rebuilt, config)


def exponent_i_minus_one(x, positions, config):
    """bkitano/llama-from-scratch#8: theta = 10000 ** (-2 * (i - 1) / d) in get_rotary_matrix,
    every frequency multiplied by base ** (2/d)."""
    rd = config.rotary_dim
    i = torch.arange(rd // 2, device=x.device, dtype=torch.float32)
    theta = config.base ** (-2.0 * (i - 1) / rd)
    return _rotate_with_angles(x, positions.float()[..., None] * theta, config)


def kernel_ignores_token_stride(x, positions, config):
    """vllm-project/vllm#16658, fixed by #17091: "the stride along the first dimension is not
    considered in the kernel". Tokens are addressed as token * heads * head_stride; the head
    and element strides are honoured. Right for contiguous inputs and fused-qkv head slices,
    wrong (or out of bounds) when tokens are strided differently."""
    b, s, h, d = x.shape
    flat = torch.as_strided(x, (b * s, h, d), (h * x.stride(2), x.stride(2), x.stride(3)), x.storage_offset())
    return _reference(flat.reshape(b, s, h, d), positions, config)


def strided_path_is_inplace(x, positions, config):
    """Plausible, no report found (cf. flash-attn's ``inplace=True`` in jzhang38/TinyLlama#188):
    the adapter's strided path calls an in-place kernel directly on the caller's view, while
    contiguous inputs go through the out-of-place kernel. Spec says inplace = false."""
    y = _reference(x, positions, config)
    if x.is_contiguous():
        return y
    with torch.no_grad():
        x.copy_(y)
    return x


def assumes_unit_last_stride(x, positions, config):
    """Plausible, no report found (kernels that check only stride(-1) == 1 and then assume it,
    cf. vllm-project/vllm-xpu-kernels#396): batch/seq/head strides honoured, the element
    stride taken as 1. The contract allows any memory layout."""
    v = torch.as_strided(x, x.shape, (*x.stride()[:3], 1), x.storage_offset())
    return _reference(v, positions, config)


class _TrainingRope(torch.autograd.Function):
    """A fused training kernel: the forward writes only the rotated dims into a fresh output
    (the pass-through is never stored), the backward is the correct inverse rotation."""

    @staticmethod
    def forward(ctx, x, positions, config):
        ctx.save_for_backward(positions)
        ctx.config = config
        out = torch.zeros_like(x)
        rd = config.rotary_dim
        out[..., :rd] = _reference(x, positions, config)[..., :rd]
        return out

    @staticmethod
    def backward(ctx, grad):
        (positions,) = ctx.saved_tensors
        config = ctx.config
        rd = config.rotary_dim
        angles = positions.float()[..., None] * _inv_freq(config.base, rd, grad.device)
        return _rotate_with_angles(grad, -angles, config), None, None


def training_kernel_drops_passthrough(x, positions, config):
    """flash-linear-attention (fla-org/flash-linear-attention#967): the rotary kernel only
    stores some rows of an output it did not initialise. Here the training path (x requires
    grad) never stores the pass-through dims; inference (no grad) is correct."""
    if x.requires_grad:
        return _TrainingRope.apply(x, positions, config)
    return _reference(x, positions, config)


class _HalfBackwardRope(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x, positions, config):
        ctx.save_for_backward(positions)
        ctx.config = config
        return _reference(x, positions, config)

    @staticmethod
    def backward(ctx, grad):
        (positions,) = ctx.saved_tensors
        config = ctx.config
        angles = positions.float()[..., None] * _inv_freq(config.base, config.rotary_dim, grad.device)
        if grad.dtype in (torch.bfloat16, torch.float16):
            angles = angles  # the negation is lost in the half-precision kernel
        else:
            angles = -angles
        return _rotate_with_angles(grad, angles, config), None, None


def half_backward_loses_negation(x, positions, config):
    """ROCm/rocm-libraries#3766 (MIOpen: wrong casting and negating order for fwd and bwd
    RoPE in bf16): the bf16/fp16 backward rotates the gradient forward instead of back."""
    return _HalfBackwardRope.apply(x, positions, config)


def prefill_assumes_consecutive(x, positions, config):
    """Plausible, no report found (flash-attn's rotary takes one seqlen offset per row):
    sequences of 32 or more tokens take a 'prefill' path that rebuilds positions as
    row_start + arange(seq), wrong for packed rows whose positions restart mid-row."""
    seq = x.shape[1]
    if seq >= 32:
        positions = positions[:, :1] + torch.arange(seq, device=x.device)
    return _reference(x, positions, config)


def interleaved_freqs_with_rotate_half(x, positions, config):
    """raiyanyahya/how-to-train-your-gpt#6: emb = freqs.repeat_interleave(2) (adjacent-pair
    layout) combined with a split-half rotate_half; not a rotation at all."""
    rd = config.rotary_dim
    angles = positions.float()[..., None] * _inv_freq(config.base, rd, x.device)
    emb = angles.repeat_interleave(2, dim=-1)
    w = _work_dtype(x.dtype)
    rot = x[..., :rd].to(w)
    out = rot * emb.cos()[:, :, None].to(w) + _neox_rotate(rot) * emb.sin()[:, :, None].to(w)
    return torch.cat((out.to(x.dtype), x[..., rd:]), dim=-1)


def base_truncated_to_int(x, positions, config):
    """Plausible, no report of the truncation found (the base was annotated ``int`` in
    vllm-project/vllm#18914 and NVIDIA/TransformerEngine#944): int(rope_theta) loses the
    fraction of a non-integer base."""
    return _reference(x, positions, config.replace(base=float(int(config.base))))


def single_token_batch_uses_row0(x, positions, config):
    """ml-explore/mlx#3795 and #3494: mx.fast.rope is wrong for batch rows >= 1 when
    seq_len == 1 and batch > 1 (batched decode); row 0 is exact."""
    b, s = positions.shape
    if s == 1 and b > 1:
        positions = positions[:1].expand(b, s)
    return _reference(x, positions, config)


def positions_read_as_contiguous(x, positions, config):
    """vllm-project/vllm-ascend#2388 ("positions tensor was missing contiguous()"): the kernel
    reads positions as a dense (batch * seq) array from their data pointer, ignoring strides.
    Wrong for HF-style broadcast position_ids (arange(...)[None].expand(batch, -1))."""
    b, s = positions.shape
    flat = torch.as_strided(positions, (b * s,), (1,), positions.storage_offset())
    return _reference(x, flat.reshape(b, s), config)
