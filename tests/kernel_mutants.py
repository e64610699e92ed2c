"""RoPE kernels in the calling forms of docs/contract.md §4 (q and k together, packed
batches, one offset per sequence): correct ones in several styles, and mutants that carry
bugs found in real kernels.

Written blind to ropecheck's checks: only the contract, ``ropecheck.RopeConfig`` and the
float64 oracle were read. Every function is a plain callable with one of these forms::

    signature "x", packed:     rope(x, positions, config, *, cu_seqlens) -> y
        x (total_tokens, heads, head_dim), positions (total_tokens,) int64,
        cu_seqlens (num_seqs + 1,) int32, starting at 0
    signature "qk":            rope(q, k, positions, config) -> (q_out, k_out)
        q (batch, seq, q_heads, head_dim), k (batch, seq, kv_heads, head_dim),
        positions (batch, seq) int64
    signature "qk", packed:    rope(q, k, positions, config, *, cu_seqlens) -> (q_out, k_out)
        q (total_tokens, q_heads, head_dim), k (total_tokens, kv_heads, head_dim)
    signature "x":             rope(x, positions, config) -> y   (section 1)

``MUTANTS`` and ``CORRECT`` at the bottom give, for each function, the spec keys it claims
(and for a mutant the bug and a short bug class), so that a harness can write a spec.

Where a real kernel would read or write raw memory past a tensor (a wrong stride, a head
count taken from the wrong tensor), the mutant emulates it on the tensor's storage seen as
one flat buffer (``_flat_storage``): loads outside the storage read 0 (a masked load),
stores outside it are dropped, and everything inside it is what the kernel would touch.
"""

from __future__ import annotations

import torch

TILE = 64  # tokens per block in the tiled kernels


# ---------------------------------------------------------------- shared correct pieces


def _work_dtype(dtype: torch.dtype) -> torch.dtype:
    """float64 stays float64; every other floating dtype is computed in float32."""
    return torch.float64 if dtype == torch.float64 else torch.float32


def inv_freq64(base: float, rotary_dim: int, device=None) -> torch.Tensor:
    """``base ** (-2i / rotary_dim)`` in float64, shape (rotary_dim // 2,)."""
    return base ** (-torch.arange(0, rotary_dim, 2, dtype=torch.float64, device=device) / rotary_dim)


def cos_sin(positions: torch.Tensor, config, dtype: torch.dtype) -> tuple[torch.Tensor, torch.Tensor]:
    """Angles ``positions * inv_freq`` formed in float64, then cos and sin cast to ``dtype``.

    positions: (...) integer. Returns cos, sin of shape (..., rotary_dim // 2).
    """
    ang = positions.to(torch.float64)[..., None] * inv_freq64(config.base, config.rotary_dim, positions.device)
    return ang.cos().to(dtype), ang.sin().to(dtype)


def rotate(x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor, rotary_dim: int, pairing: str) -> torch.Tensor:
    """Rotate the pairs of ``x`` (a new tensor, x's dtype); dims from ``rotary_dim`` pass through.

    x: (..., head_dim); cos, sin: broadcastable to (..., rotary_dim // 2).
    """
    work = _work_dtype(x.dtype)
    xw = x.to(work)
    c, s = cos.to(work), sin.to(work)
    rest = xw[..., rotary_dim:]
    if pairing == "interleaved":
        a, b = xw[..., 0:rotary_dim:2], xw[..., 1:rotary_dim:2]
        rot = torch.stack((a * c - b * s, a * s + b * c), dim=-1).flatten(-2)
    else:
        h = rotary_dim // 2
        a, b = xw[..., :h], xw[..., h:rotary_dim]
        rot = torch.cat((a * c - b * s, b * c + a * s), dim=-1)
    return torch.cat((rot, rest), dim=-1).to(x.dtype)


def _rope_bshd(x: torch.Tensor, positions: torch.Tensor, config, pairing: str | None = None) -> torch.Tensor:
    """Correct RoPE of x (batch, seq, heads, head_dim) at positions (batch, seq)."""
    c, s = cos_sin(positions, config, _work_dtype(x.dtype))
    return rotate(x, c[:, :, None, :], s[:, :, None, :], config.rotary_dim, pairing or config.pairing)


def _rope_tokens(x: torch.Tensor, positions: torch.Tensor, config, pairing: str | None = None) -> torch.Tensor:
    """Correct RoPE of x (tokens, heads, head_dim) at positions (tokens,)."""
    c, s = cos_sin(positions, config, _work_dtype(x.dtype))
    return rotate(x, c[:, None, :], s[:, None, :], config.rotary_dim, pairing or config.pairing)


def rotate_half(x: torch.Tensor) -> torch.Tensor:
    """HF ``rotate_half``: (x1, x2) -> (-x2, x1) over the last dim."""
    h = x.shape[-1] // 2
    return torch.cat((-x[..., h:], x[..., :h]), dim=-1)


def _flat_storage(t: torch.Tensor) -> torch.Tensor:
    """Every element of t's storage as one 1-D tensor (what a kernel's raw pointer sees)."""
    n = t.untyped_storage().nbytes() // t.element_size()
    return t.as_strided((n,), (1,), 0)


def _load(t: torch.Tensor, shape, strides, offset: int) -> torch.Tensor:
    """Gather ``shape`` elements at ``offset + sum(index * stride)`` from t's storage.

    Addresses outside the storage read 0 (Triton's ``tl.load(..., mask, other=0.0)``).
    """
    mem = _flat_storage(t)
    idx = torch.full((), offset, dtype=torch.int64, device=t.device)
    for dim, (size, stride) in enumerate(zip(shape, strides)):
        ar = torch.arange(size, device=t.device) * stride
        idx = idx.unsqueeze(-1) + ar.view(*([1] * dim), size)
    inside = (idx >= 0) & (idx < mem.numel())
    vals = mem[idx.clamp(0, max(mem.numel() - 1, 0))]
    return torch.where(inside, vals, torch.zeros((), dtype=t.dtype, device=t.device))


def _contiguous_strides(shape) -> tuple[int, ...]:
    strides, acc = [], 1
    for size in reversed(shape):
        strides.append(acc)
        acc *= max(size, 1)
    return tuple(reversed(strides))


def _seq_ids(cu: torch.Tensor, total: int) -> torch.Tensor:
    """Sequence index of every token, (total,) int64, from cu_seqlens."""
    lens = (cu[1:] - cu[:-1]).long()
    return torch.repeat_interleave(torch.arange(lens.numel(), device=cu.device), lens)[:total]


def _consecutive_positions(offsets: torch.Tensor, cu: torch.Tensor, total: int) -> torch.Tensor:
    """``offsets[seq] + (t - cu[seq])`` for every token t: the position a kernel forms
    from one offset per sequence. offsets (num_seqs,) int64."""
    cu = cu.long()
    seq = _seq_ids(cu, total)
    return offsets[seq] + torch.arange(total, device=cu.device) - cu[:-1][seq]


def _first_positions(positions: torch.Tensor, cu: torch.Tensor) -> torch.Tensor:
    """One offset per sequence, ``positions[cu_seqlens[:-1]]``; 0 for an empty sequence."""
    cu = cu.long()
    total = positions.shape[0]
    if total == 0:
        return torch.zeros(cu.numel() - 1, dtype=torch.int64, device=positions.device)
    starts = cu[:-1]
    first = positions[starts.clamp(max=total - 1)]
    return torch.where(cu[1:] > starts, first, torch.zeros_like(first))


# ---------------------------------------------------------------- correct: q and k together


def qk_hf_rotate_half(q, k, positions, config):
    """Correct. HF Llama ``apply_rotary_pos_emb`` style: one cos/sin table per token,
    ``cat(freqs, freqs)``, ``x * cos + rotate_half(x) * sin``, broadcast over heads, so
    GQA/MQA (kv_heads < q_heads) needs nothing special.

    q: (batch, seq, q_heads, head_dim); k: (batch, seq, kv_heads, head_dim);
    positions: (batch, seq) int64. Returns (q_out, k_out), new tensors like q and k.
    Pairing half_split; partial rotary honoured.
    """
    rd = config.rotary_dim
    work = _work_dtype(q.dtype)
    freqs = positions.to(torch.float64)[..., None] * inv_freq64(config.base, rd, positions.device)
    emb = torch.cat((freqs, freqs), dim=-1)  # (batch, seq, rotary_dim)
    cos = emb.cos().to(work).unsqueeze(2)  # (batch, seq, 1, rotary_dim)
    sin = emb.sin().to(work).unsqueeze(2)

    def apply(x):
        x_rot = x[..., :rd].to(work)
        out = x_rot * cos + rotate_half(x_rot) * sin
        return torch.cat((out.to(x.dtype), x[..., rd:]), dim=-1)

    return apply(q), apply(k)


def qk_meta_complex(q, k, positions, config):
    """Correct. Meta llama style: pairs (2i, 2i+1) read as complex numbers through
    ``view_as_complex`` and multiplied by ``freqs_cis = polar(1, angle)``; complex128 for
    float64 inputs, complex64 otherwise.

    q: (batch, seq, q_heads, head_dim); k: (batch, seq, kv_heads, head_dim);
    positions: (batch, seq) int64. Returns (q_out, k_out). Pairing interleaved.
    """
    rd = config.rotary_dim
    work = _work_dtype(q.dtype)
    ang = positions.to(torch.float64)[..., None] * inv_freq64(config.base, rd, positions.device)
    freqs_cis = torch.polar(torch.ones_like(ang), ang)  # complex128 (batch, seq, rd/2)
    freqs_cis = freqs_cis.to(torch.complex128 if work == torch.float64 else torch.complex64).unsqueeze(2)

    def apply(x):
        xr = x[..., :rd].to(work).reshape(*x.shape[:-1], rd // 2, 2)
        xr = xr.clone(memory_format=torch.contiguous_format)  # view_as_complex needs a dense last dim
        out = torch.view_as_real(torch.view_as_complex(xr) * freqs_cis).flatten(-2)
        return torch.cat((out.to(x.dtype), x[..., rd:]), dim=-1)

    return apply(q), apply(k)


def qk_consecutive_offsets(q, k, positions, config):
    """Correct. A decode-style kernel that takes one offset per row (the KV-cache length,
    ``positions[:, 0]``) and adds the token index itself; q and k use the same offsets.

    q: (batch, seq, q_heads, head_dim); k: (batch, seq, kv_heads, head_dim);
    positions: (batch, seq) int64, each row offset + 0, 1, 2, ... Returns (q_out, k_out).
    """
    b, s = q.shape[:2]
    if s == 0:
        return q.clone(), k.clone()
    offsets = positions[:, 0]
    pos = offsets[:, None] + torch.arange(s, device=q.device)[None, :]
    return _rope_bshd(q, pos, config), _rope_bshd(k, pos, config)


def qk_inplace(q, k, positions, config):
    """Correct, in place (spec ``inplace = true``). Rotates q and k and writes the result
    back with ``copy_``, which goes through views: when q and k are views into one fused
    qkv buffer (batch, seq, q_heads + 2 * kv_heads, head_dim), only their heads change and
    v is untouched.

    q: (batch, seq, q_heads, head_dim); k: (batch, seq, kv_heads, head_dim);
    positions: (batch, seq) int64. Returns (q, k), the inputs themselves.
    """
    q_rot = _rope_bshd(q, positions, config)
    k_rot = _rope_bshd(k, positions, config)
    q.copy_(q_rot)
    k.copy_(k_rot)
    return q, k


# ---------------------------------------------------------------- correct: packed


def packed_x_varlen_loop(x, positions, config, *, cu_seqlens):
    """Correct. A varlen kernel written as a Python loop over the sequences of
    ``cu_seqlens``; each sequence's tokens are rotated at their own positions. Empty and
    one-token sequences need no special case.

    x: (total_tokens, heads, head_dim); positions: (total_tokens,) int64;
    cu_seqlens: (num_seqs + 1,) int32. Returns a new tensor like x.
    """
    out = torch.empty_like(x)
    cu = cu_seqlens.tolist()
    for i in range(len(cu) - 1):
        s, e = cu[i], cu[i + 1]
        if e > s:
            out[s:e] = _rope_tokens(x[s:e], positions[s:e], config)
    return out


_VLLM_MAX_POSITION = 131072
_VLLM_CACHE: dict = {}


def _vllm_cos_sin_cache(config, device, needed: int = _VLLM_MAX_POSITION) -> torch.Tensor:
    """vLLM's ``cos_sin_cache``: (rows, rotary_dim) float32, ``[cos | sin]`` per row, angles
    formed in float64, rows the next power of two at or above ``needed`` (at least 8192,
    at most ``_VLLM_MAX_POSITION``): row m is the same whatever the table's length, and a
    short table is built in a sixteenth of the time. One entry kept, keyed on everything
    it depends on."""
    rows = min(_VLLM_MAX_POSITION, max(8192, 1 << max(0, needed - 1).bit_length()))
    key = (config.base, config.rotary_dim, str(device), rows)
    cache = _VLLM_CACHE.get(key)
    if cache is None:
        t = torch.arange(rows, dtype=torch.float64, device=device)
        freqs = torch.outer(t, inv_freq64(config.base, config.rotary_dim, device))
        cache = torch.cat((freqs.cos(), freqs.sin()), dim=-1).to(torch.float32)
        _VLLM_CACHE.clear()
        _VLLM_CACHE[key] = cache
    return cache


def packed_qk_vllm_cache(q, k, positions, config, *, cu_seqlens):
    """Correct. vLLM ``RotaryEmbedding.forward_native`` style: a flat positions vector
    indexes a position-major ``cos_sin_cache`` (max_position, rotary_dim); ``is_neox_style``
    follows config.pairing. cu_seqlens is not needed (every token has its position).

    q: (total_tokens, q_heads, head_dim); k: (total_tokens, kv_heads, head_dim);
    positions: (total_tokens,) int64 below 131072. Returns (q_out, k_out).
    """
    flat = positions.flatten()
    cache = _vllm_cos_sin_cache(config, q.device, int(flat.max()) + 1 if flat.numel() else 1)
    cos_sin = cache.index_select(0, flat)
    cos, sin = cos_sin.chunk(2, dim=-1)  # (total_tokens, rotary_dim // 2)
    cos, sin = cos[:, None, :], sin[:, None, :]
    return (rotate(q, cos, sin, config.rotary_dim, config.pairing),
            rotate(k, cos, sin, config.rotary_dim, config.pairing))


def packed_consecutive_seqlen_offsets(x, positions, config, *, cu_seqlens):
    """Correct. flash-attn ``apply_rotary_emb(..., cu_seqlens, seqlen_offsets)`` style:
    reads one offset per sequence, ``positions[cu_seqlens[:-1]]`` (0 for an empty one),
    and forms each token's position as offset + index within its sequence.

    x: (total_tokens, heads, head_dim); positions: (total_tokens,) int64, consecutive
    within each sequence; cu_seqlens: (num_seqs + 1,) int32. Returns a new tensor like x.
    """
    total = x.shape[0]
    if total == 0:
        return x.clone()
    seqlen_offsets = _first_positions(positions, cu_seqlens)
    pos = _consecutive_positions(seqlen_offsets, cu_seqlens, total)
    return _rope_tokens(x, pos, config)


def packed_tiled_64(x, positions, config, *, cu_seqlens):
    """Correct. Emulates a kernel whose grid is (sequence, tile of 64 tokens): each
    program reads its sequence's offset once and rotates tokens
    ``offset + tile_start + 0..63`` of that sequence.

    x: (total_tokens, heads, head_dim); positions: (total_tokens,) int64, consecutive
    within each sequence; cu_seqlens: (num_seqs + 1,) int32. Returns a new tensor like x.
    """
    out = torch.empty_like(x)
    cu = cu_seqlens.tolist()
    for i in range(len(cu) - 1):
        start, end = cu[i], cu[i + 1]
        if end <= start:
            continue
        offset = positions[start]
        for t0 in range(start, end, TILE):
            t1 = min(t0 + TILE, end)
            pos = offset + (t0 - start) + torch.arange(t1 - t0, device=x.device)
            out[t0:t1] = _rope_tokens(x[t0:t1], pos, config)
    return out


# ---------------------------------------------------------------- correct: ordinary x, unusual style


def x_block_diagonal_einsum(x, positions, config):
    """Correct. RoPE as a block-diagonal matrix: every pair gets its own 2x2 rotation
    ``[[cos, -sin], [sin, cos]]`` built in float64 and applied with ``einsum``; the pair
    indices come from config.pairing.

    x: (batch, seq, heads, head_dim); positions: (batch, seq) int64. Returns like x.
    """
    rd = config.rotary_dim
    half = rd // 2
    ang = positions.to(torch.float64)[..., None] * inv_freq64(config.base, rd, positions.device)
    c, s = ang.cos(), ang.sin()
    blocks = torch.stack((torch.stack((c, -s), -1), torch.stack((s, c), -1)), -2)  # (b, s, half, 2, 2)
    i = torch.arange(half, device=x.device)
    first, second = (2 * i, 2 * i + 1) if config.pairing == "interleaved" else (i, i + half)
    x64 = x.to(torch.float64)
    pairs = torch.stack((x64[..., first], x64[..., second]), dim=-1)  # (b, s, h, half, 2)
    rot = torch.einsum("bspij,bshpj->bshpi", blocks, pairs)
    out = x64.clone()
    out[..., first] = rot[..., 0]
    out[..., second] = rot[..., 1]
    return out.to(x.dtype)


# ---------------------------------------------------------------- mutants: q and k together


def qk_cross_wired(q, k, positions, config):
    """BUG (ColossalAI issue #6428, ``fused_rotary_emb`` Triton kernel): two of the four
    outputs read the wrong tensor. The second half of q_out is computed from k's pair
    (``out_q1 = k_0 * sin + k_1 * cos``) and the first half of k_out from q's
    (``out_k0 = q_0 * cos - q_1 * sin``). Under GQA the q program for head h reads k's
    head ``h % kv_heads``, and k's head h reads q's head h.

    q: (batch, seq, q_heads, head_dim); k: (batch, seq, kv_heads, head_dim);
    positions: (batch, seq) int64. Returns (q_out, k_out). Pairing half_split.
    """
    rd, h = config.rotary_dim, config.rotary_dim // 2
    work = _work_dtype(q.dtype)
    c, s = cos_sin(positions, config, work)
    c, s = c[:, :, None, :], s[:, :, None, :]
    hq, hk = q.shape[2], k.shape[2]
    qw, kw = q.to(work), k.to(work)
    k_for_q = kw[:, :, torch.arange(hq, device=q.device) % hk]
    q_for_k = qw[:, :, :hk]
    q0, q1 = qw[..., :h], qw[..., h:rd]
    k0, k1 = kw[..., :h], kw[..., h:rd]
    out_q0 = q0 * c - q1 * s
    out_q1 = k_for_q[..., :h] * s + k_for_q[..., h:rd] * c  # BUG: reads k
    out_k0 = q_for_k[..., :h] * c - q_for_k[..., h:rd] * s  # BUG: reads q
    out_k1 = k0 * s + k1 * c
    q_out = torch.cat((out_q0, out_q1, qw[..., rd:]), dim=-1).to(q.dtype)
    k_out = torch.cat((out_k0, out_k1, kw[..., rd:]), dim=-1).to(k.dtype)
    return q_out, k_out


def k_addressed_with_q_token_stride(q, k, positions, config, *, cu_seqlens):
    """BUG (ColossalAI ``fused_rotary_emb``, fixed in PR #6444 as defect 3): the offset of
    k's second half, ``off_k1``, is built with ``q_token_stride`` instead of k's. Right
    whenever k happens to have q's token stride (MHA with separate contiguous tensors, or
    views into one fused qkv buffer); wrong for separate tensors under GQA/MQA or when k
    is laid out differently from q. Loads past k's storage read 0.

    q: (total_tokens, q_heads, head_dim); k: (total_tokens, kv_heads, head_dim);
    positions: (total_tokens,) int64; cu_seqlens unused. Returns (q_out, k_out).
    Pairing half_split.
    """
    rd, h = config.rotary_dim, config.rotary_dim // 2
    T, hk, _ = k.shape
    work = _work_dtype(q.dtype)
    c, s = cos_sin(positions, config, work)
    c, s = c[:, None, :], s[:, None, :]
    k0 = k[..., :h].to(work)
    k1 = _load(k, (T, hk, h), (q.stride(0), k.stride(1), k.stride(2)),
               k.storage_offset() + h * k.stride(2)).to(work)  # BUG: q.stride(0)
    k_out = torch.cat((k0 * c - k1 * s, k1 * c + k0 * s), dim=-1).to(k.dtype)
    k_out = torch.cat((k_out, k[..., rd:]), dim=-1)
    return _rope_tokens(q, positions, config, "half_split"), k_out


def k_assumed_contiguous(q, k, positions, config):
    """BUG: the kernel takes k's data pointer and addresses it with the strides of a
    contiguous (batch, seq, kv_heads, head_dim) tensor (a missing ``.contiguous()`` or
    stride argument). Right for separate contiguous tensors; wrong for k as a view into a
    fused qkv buffer (it reads q's and v's values) or in any other layout.

    q: (batch, seq, q_heads, head_dim); k: (batch, seq, kv_heads, head_dim);
    positions: (batch, seq) int64. Returns (q_out, k_out). Pairing half_split.
    """
    k_seen = _load(k, tuple(k.shape), _contiguous_strides(k.shape), k.storage_offset())  # BUG
    return _rope_bshd(q, positions, config), _rope_bshd(k_seen, positions, config)


def k_head_count_from_q(q, k, positions, config, *, cu_seqlens):
    """BUG (ColossalAI ``fused_rotary_emb``, PR #6444 defect 4: ``k_head_num = q.shape[1]``):
    an in-place kernel that walks k with q's head count. Token by token it rotates q, then
    k's "heads" 0 .. q_heads - 1: under GQA/MQA the heads past kv_heads are the next
    token's k heads (separate tensors: they get rotated twice, with the wrong position) or
    v and the next token's q (fused buffer). Right for MHA. Stores past the storage are
    dropped.

    q: (total_tokens, q_heads, head_dim); k: (total_tokens, kv_heads, head_dim);
    positions: (total_tokens,) int64; cu_seqlens unused. Writes into q and k; returns
    (q, k). Pairing half_split; spec inplace = true.
    """
    T, hq, d = q.shape
    k_head_num = hq  # BUG: should be k.shape[1]
    work = _work_dtype(q.dtype)
    c, s = cos_sin(positions, config, work)
    mem = _flat_storage(k)
    n = mem.numel()
    head = torch.arange(k_head_num, device=k.device)[:, None] * k.stride(1)
    dim = torch.arange(d, device=k.device)[None, :] * k.stride(2)
    with torch.no_grad():
        for t in range(T):
            q[t].copy_(rotate(q[t], c[t], s[t], config.rotary_dim, "half_split"))
            idx = k.storage_offset() + t * k.stride(0) + head + dim  # (k_head_num, d)
            inside = (idx < n).all(dim=-1)
            rows = mem[idx[inside]]
            mem[idx[inside]] = rotate(rows, c[t], s[t], config.rotary_dim, "half_split")
    return q, k


def k_token_index_from_q_heads(q, k, positions, config, *, cu_seqlens):
    """BUG (a Triton-style kernel over flattened (token * heads) rows, the pattern behind
    ColossalAI PR #6444 defect 4): k's rows are (total_tokens * kv_heads, head_dim), but
    each row's token is computed as ``row // q_heads``. Right for MHA; under GQA/MQA k's
    rows take earlier tokens' positions.

    q: (total_tokens, q_heads, head_dim); k: (total_tokens, kv_heads, head_dim);
    positions: (total_tokens,) int64; cu_seqlens unused. Returns (q_out, k_out).
    """
    T, hk, d = k.shape
    rows = k.reshape(T * hk, d)
    token = torch.arange(T * hk, device=k.device) // q.shape[1]  # BUG: // k.shape[1]
    c, s = cos_sin(positions[token], config, _work_dtype(k.dtype))
    k_out = rotate(rows, c, s, config.rotary_dim, config.pairing).reshape(T, hk, d)
    return _rope_tokens(q, positions, config), k_out


def qk_decode_first_matrix_only(q, k, positions, config):
    """BUG (oxiglade/mlx-rs issue #359, MLX's Metal ``RoPE`` "single" path): when
    seq == 1 the input is collapsed to (batch * heads, 1, head_dim) and the fast path's
    grid leaves out dim 0, so only the first of the batch * heads matrices is rotated; the
    rest are returned as they came in. seq > 1 takes the general path and is right.

    q: (batch, seq, q_heads, head_dim); k: (batch, seq, kv_heads, head_dim);
    positions: (batch, seq) int64. Returns (q_out, k_out).
    """
    if q.shape[1] != 1:
        return _rope_bshd(q, positions, config), _rope_bshd(k, positions, config)

    def single(x):
        b, _, h, d = x.shape
        flat = x.reshape(b * h, 1, d)
        out = flat.clone()  # BUG: only matrix 0 is written
        if b * h:
            out[0] = _rope_tokens(flat[0:1], positions[0, :1], config)[0]
        return out.reshape(b, 1, h, d)

    return single(q), single(k)


def qk_k_not_rotated(q, k, positions, config):
    """BUG: k_out is returned as it came in (the k half of the launch is missing, as when
    a kernel is called with ``key=None`` and the caller keeps its own k).

    q: (batch, seq, q_heads, head_dim); k: (batch, seq, kv_heads, head_dim);
    positions: (batch, seq) int64. Returns (q_out, k.clone()).
    """
    return _rope_bshd(q, positions, config), k.clone()


def qk_k_offset_dropped(q, k, positions, config):
    """BUG: the per-row offset (``seqlen_offsets``, the KV-cache length) is added to q's
    token index but not to k's, so k is rotated at 0, 1, 2, ... Right only when every
    offset is 0 (prefill from an empty cache).

    q: (batch, seq, q_heads, head_dim); k: (batch, seq, kv_heads, head_dim);
    positions: (batch, seq) int64, consecutive per row. Returns (q_out, k_out).
    """
    b, s = q.shape[:2]
    if s == 0:
        return q.clone(), k.clone()
    idx = torch.arange(s, device=q.device)[None, :].expand(b, s)
    q_pos = positions[:, :1] + idx
    k_pos = idx  # BUG: offset dropped
    return _rope_bshd(q, q_pos, config), _rope_bshd(k, k_pos, config)


def qk_inplace_rotates_v(q, k, positions, config):
    """BUG: an in-place kernel that, when k sits in a buffer with room for v after it
    (a fused qkv buffer: ``k.stride(1) >= 2 * kv_heads * head_dim``), rotates k and v as one
    block of 2 * kv_heads heads (the kv-cache layout). k is right; v is rotated too.
    Separate tensors are right.

    q: (batch, seq, q_heads, head_dim); k: (batch, seq, kv_heads, head_dim);
    positions: (batch, seq) int64. Writes into q and k (and v); returns (q, k).
    Spec inplace = true.
    """
    b, s, hk, d = k.shape
    q.copy_(_rope_bshd(q, positions, config))
    kv = k
    if hk and k.stride(1) >= 2 * hk * k.stride(2) and k.stride(2) == d * k.stride(3):
        last = k.storage_offset() + sum((n - 1) * st for n, st in
                                        zip((b, s, 2 * hk, d), k.stride())) if b * s else 0
        if last < k.untyped_storage().nbytes() // k.element_size():
            kv = k.as_strided((b, s, 2 * hk, d), k.stride(), k.storage_offset())  # BUG: k and v
    kv.copy_(_rope_bshd(kv, positions, config))
    return q, k


def qk_inplace_lost_on_copy(q, k, positions, config):
    """BUG: an in-place kernel that flattens its input to (rows, head_dim) with
    ``reshape`` and writes into that. For contiguous q and k reshape is a view and the
    write lands; for views into a fused qkv buffer (or any layout that cannot be
    flattened) reshape makes a copy, the result is written into the copy and the returned
    q and k are unrotated.

    q: (batch, seq, q_heads, head_dim); k: (batch, seq, kv_heads, head_dim);
    positions: (batch, seq) int64. Returns (q, k). Spec inplace = true.
    """
    for x in (q, k):
        b, s, h, d = x.shape
        flat = x.reshape(-1, d)  # BUG: a copy when x is not flattenable
        pos = positions[:, :, None].expand(b, s, h).reshape(-1)
        flat.copy_(_rope_tokens(flat[:, None, :], pos, config)[:, 0, :])
    return q, k


# ---------------------------------------------------------------- mutants: packed


def packed_drops_empty_sequences(x, positions, config, *, cu_seqlens):
    """BUG: the adapter builds ``seqlen_offsets`` only for non-empty sequences
    (``positions[cu_seqlens[:-1][lens > 0]]``, to avoid indexing past the end for a trailing
    empty sequence), but the kernel indexes it by sequence number. After an empty
    sequence every later sequence takes the next one's offset; past the end the last
    offset is read again (clamped load).

    x: (total_tokens, heads, head_dim); positions: (total_tokens,) int64, consecutive per
    sequence; cu_seqlens: (num_seqs + 1,) int32. Returns a new tensor like x.
    """
    cu = cu_seqlens.long()
    total = x.shape[0]
    if total == 0:
        return x.clone()
    lens = cu[1:] - cu[:-1]
    seqlen_offsets = positions[cu[:-1][lens > 0]]  # BUG: indices shift after an empty sequence
    seq = torch.arange(lens.numel(), device=x.device).clamp(max=seqlen_offsets.numel() - 1)
    pos = _consecutive_positions(seqlen_offsets[seq], cu, total)
    return _rope_tokens(x, pos, config)


def packed_padded_cu_seqlens_load(x, positions, config, *, cu_seqlens):
    """BUG (ColossalAI ``fused_rotary_emb``, PR #6444 defect 5): cu_seqlens is loaded as a
    power-of-two block of lanes; the lanes past its end read 0 (here: masked to 0) but
    still count as sequence boundaries at or before every token, so each token's sequence
    index is too large by the number of padding lanes and it takes a later sequence's
    start. Right whenever num_seqs + 1 is a power of two (1 or 3 sequences, ...).

    x: (total_tokens, heads, head_dim); positions: (total_tokens,) int64, consecutive per
    sequence; cu_seqlens: (num_seqs + 1,) int32. Returns a new tensor like x.
    """
    cu = cu_seqlens.long()
    total = x.shape[0]
    if total == 0:
        return x.clone()
    n = cu.numel()
    block = 1 << (n - 1).bit_length()
    lanes = torch.zeros(block, dtype=torch.int64, device=x.device)
    lanes[:n] = cu  # padding lanes read as 0
    t = torch.arange(total, device=x.device)
    seq = (t[:, None] >= lanes[None, 1:]).sum(-1)  # BUG: padding lanes counted
    start = lanes[seq.clamp(max=block - 1)]
    pos = positions[start.clamp(max=total - 1)] + t - start
    return _rope_tokens(x, pos, config)


def packed_boundary_token_previous_sequence(x, positions, config, *, cu_seqlens):
    """BUG: each token finds its sequence with ``searchsorted(cu_seqlens, t) - 1`` (left
    instead of ``right=True``; the -1 for token 0 is clamped to 0), so the first token of
    every later sequence is taken as part of the sequence before (or of the last empty
    one before it): its position becomes that sequence's offset plus its distance from
    that sequence's start. Right for a single sequence, and when each sequence continues
    the previous one's positions.

    x: (total_tokens, heads, head_dim); positions: (total_tokens,) int64, consecutive per
    sequence; cu_seqlens: (num_seqs + 1,) int32. Returns a new tensor like x.
    """
    cu = cu_seqlens.long()
    total = x.shape[0]
    if total == 0:
        return x.clone()
    t = torch.arange(total, device=x.device)
    seq = (torch.searchsorted(cu, t) - 1).clamp(min=0)  # BUG: right=False
    start = cu[seq]
    pos = positions[start.clamp(max=total - 1)] + t - start
    return _rope_tokens(x, pos, config)


def packed_neighbour_offset(x, positions, config, *, cu_seqlens):
    """BUG: off by one in the sequence index: the offsets are read at ``cu_seqlens[1:]``
    instead of ``cu_seqlens[:-1]``, so every sequence takes its right neighbour's offset
    (the last one reads the last token, clamped).

    x: (total_tokens, heads, head_dim); positions: (total_tokens,) int64, consecutive per
    sequence; cu_seqlens: (num_seqs + 1,) int32. Returns a new tensor like x.
    """
    cu = cu_seqlens.long()
    total = x.shape[0]
    if total == 0:
        return x.clone()
    seqlen_offsets = positions[cu[1:].clamp(max=total - 1)]  # BUG: cu[1:]
    pos = _consecutive_positions(seqlen_offsets, cu, total)
    return _rope_tokens(x, pos, config)


def packed_last_sequence_skipped(x, positions, config, *, cu_seqlens):
    """BUG: ``num_seqs = cu_seqlens.numel() - 2`` (the length of cu_seqlens minus one,
    minus one again), so the last sequence is never launched and passes through
    unrotated. Right when the last sequence is empty.

    x: (total_tokens, heads, head_dim); positions: (total_tokens,) int64;
    cu_seqlens: (num_seqs + 1,) int32. Returns a new tensor like x.
    """
    out = x.clone()
    cu = cu_seqlens.tolist()
    num_seqs = len(cu) - 2  # BUG
    for i in range(num_seqs):
        s, e = cu[i], cu[i + 1]
        if e > s:
            out[s:e] = _rope_tokens(x[s:e], positions[s:e], config)
    return out


def packed_tile_offset_lost(x, positions, config, *, cu_seqlens):
    """BUG: a (sequence, tile of 64) kernel that forms positions as ``offset + arange(64)``
    without adding the tile's start within the sequence: positions restart at the offset
    every 64 tokens. Right for sequences of at most 64 tokens.

    x: (total_tokens, heads, head_dim); positions: (total_tokens,) int64, consecutive per
    sequence; cu_seqlens: (num_seqs + 1,) int32. Returns a new tensor like x.
    """
    out = torch.empty_like(x)
    cu = cu_seqlens.tolist()
    for i in range(len(cu) - 1):
        start, end = cu[i], cu[i + 1]
        if end <= start:
            continue
        offset = positions[start]
        for t0 in range(start, end, TILE):
            t1 = min(t0 + TILE, end)
            pos = offset + torch.arange(t1 - t0, device=x.device)  # BUG: + (t0 - start) missing
            out[t0:t1] = _rope_tokens(x[t0:t1], pos, config)
    return out


def packed_consecutive_offset_zero(x, positions, config, *, cu_seqlens):
    """BUG: a consecutive-position kernel called without ``seqlen_offsets`` (default 0):
    every sequence is rotated at 0, 1, 2, ... Right when every offset is 0.

    x: (total_tokens, heads, head_dim); positions: (total_tokens,) int64, consecutive per
    sequence; cu_seqlens: (num_seqs + 1,) int32. Returns a new tensor like x.
    """
    cu = cu_seqlens.long()
    total = x.shape[0]
    if total == 0:
        return x.clone()
    offsets = torch.zeros(cu.numel() - 1, dtype=torch.int64, device=x.device)  # BUG
    return _rope_tokens(x, _consecutive_positions(offsets, cu, total), config)


def packed_consecutive_first_offset_everywhere(x, positions, config, *, cu_seqlens):
    """BUG: the offset is passed as a scalar, ``positions[0]`` (the first sequence's), so
    every sequence is rotated at positions[0] + 0, 1, 2, ... (as with an int
    ``seqlen_offsets``). Right when all sequences share one offset.

    x: (total_tokens, heads, head_dim); positions: (total_tokens,) int64, consecutive per
    sequence; cu_seqlens: (num_seqs + 1,) int32. Returns a new tensor like x.
    """
    cu = cu_seqlens.long()
    total = x.shape[0]
    if total == 0:
        return x.clone()
    offsets = positions[0].expand(cu.numel() - 1)  # BUG: one scalar offset
    return _rope_tokens(x, _consecutive_positions(offsets, cu, total), config)


def packed_decode_pairing_hardcoded(q, k, positions, config, *, cu_seqlens):
    """BUG (vllm-project/vllm issue #49290 and vllm-ascend #12765: the NPU M-RoPE path
    hard-codes ``rotary_mode="half"`` and ignores ``is_neox_style``): the general path
    honours config.pairing, but the decode fast path (every sequence at most one token)
    calls an op that always rotates half_split pairs. Claims interleaved.

    q: (total_tokens, q_heads, head_dim); k: (total_tokens, kv_heads, head_dim);
    positions: (total_tokens,) int64; cu_seqlens: (num_seqs + 1,) int32.
    Returns (q_out, k_out).
    """
    lens = cu_seqlens[1:] - cu_seqlens[:-1]
    decode = lens.numel() == 0 or int(lens.max()) <= 1
    pairing = "half_split" if decode else config.pairing  # BUG: hard-coded in the decode path
    return _rope_tokens(q, positions, config, pairing), _rope_tokens(k, positions, config, pairing)


# ---------------------------------------------------------------- manifest

_DTYPES = ["float32", "float64", "bfloat16", "float16"]


def _spec(**claims) -> dict:
    """A spec dict with the defaults written out (docs/contract.md §2 and §4)."""
    spec = {"pairing": "half_split", "base": "any", "dtypes": list(_DTYPES), "devices": ["cpu"],
            "partial_rotary": True, "inplace": False, "differentiable": True,
            "max_position": 131072, "signature": "x", "packed": False, "positions": "any"}
    spec.update(claims)
    return spec


CORRECT = {
    "qk_hf_rotate_half": {"spec": _spec(signature="qk")},
    "qk_meta_complex": {"spec": _spec(signature="qk", pairing="interleaved")},
    "qk_consecutive_offsets": {"spec": _spec(signature="qk", positions="consecutive")},
    "qk_inplace": {"spec": _spec(signature="qk", inplace=True, differentiable=False)},
    "packed_x_varlen_loop": {"spec": _spec(packed=True, pairing="interleaved")},
    "packed_qk_vllm_cache": {"spec": _spec(signature="qk", packed=True,
                                           dtypes=["float32", "bfloat16", "float16"])},
    "packed_consecutive_seqlen_offsets": {"spec": _spec(packed=True, positions="consecutive",
                                                        pairing="interleaved")},
    "packed_tiled_64": {"spec": _spec(packed=True, positions="consecutive")},
    "x_block_diagonal_einsum": {"spec": _spec(pairing="interleaved")},
}

_F = ["float32", "float64"]

MUTANTS = {
    "qk_cross_wired": {
        "bug": "second half of q_out computed from k's pair, first half of k_out from q's",
        "class": "q/k cross-wired",
        "spec": _spec(signature="qk", dtypes=_F)},
    "k_addressed_with_q_token_stride": {
        "bug": "k's second half addressed with q's token stride (wrong under GQA with separate "
               "tensors or when k's layout differs from q's)",
        "class": "k addressed with q's strides",
        "spec": _spec(signature="qk", packed=True, dtypes=_F, differentiable=False)},
    "k_assumed_contiguous": {
        "bug": "k addressed with contiguous strides from its shape (wrong for views into a fused "
               "qkv buffer or any non-contiguous k)",
        "class": "k addressed with wrong strides",
        "spec": _spec(signature="qk", dtypes=_F, differentiable=False)},
    "k_head_count_from_q": {
        "bug": "in-place kernel walks k with q's head count: under GQA/MQA rotates the next "
               "token's k heads twice, or v and the next token's q in a fused buffer",
        "class": "k's head count taken from q",
        "spec": _spec(signature="qk", packed=True, inplace=True, dtypes=_F, differentiable=False)},
    "k_token_index_from_q_heads": {
        "bug": "k's flattened rows find their token as row // q_heads (wrong under GQA/MQA)",
        "class": "k's head count taken from q",
        "spec": _spec(signature="qk", packed=True, dtypes=_F)},
    "qk_decode_first_matrix_only": {
        "bug": "seq == 1 fast path rotates only the first of batch*heads matrices",
        "class": "decode path rotates only the first head",
        "spec": _spec(signature="qk", dtypes=_F)},
    "qk_k_not_rotated": {
        "bug": "k_out returned unrotated",
        "class": "k not rotated",
        "spec": _spec(signature="qk", dtypes=_F)},
    "qk_k_offset_dropped": {
        "bug": "per-row offset added to q's positions but not to k's",
        "class": "k rotated at other positions than q",
        "spec": _spec(signature="qk", positions="consecutive", dtypes=_F)},
    "qk_inplace_rotates_v": {
        "bug": "in a fused qkv buffer, k and v are rotated in place as one 2*kv_heads block",
        "class": "writes into v",
        "spec": _spec(signature="qk", inplace=True, dtypes=_F, differentiable=False)},
    "qk_inplace_lost_on_copy": {
        "bug": "in-place result written into a reshape copy for non-flattenable q/k views; "
               "the returned q and k are unrotated",
        "class": "in-place write lost on non-contiguous views",
        "spec": _spec(signature="qk", inplace=True, dtypes=_F, differentiable=False)},
    "packed_drops_empty_sequences": {
        "bug": "offsets built for non-empty sequences only but indexed by sequence number: "
               "an empty sequence shifts every later sequence's offset",
        "class": "empty sequences ignored",
        "spec": _spec(packed=True, positions="consecutive", dtypes=_F)},
    "packed_padded_cu_seqlens_load": {
        "bug": "cu_seqlens loaded as a power-of-two block; padding lanes past its end count as "
               "boundaries, so tokens take a later sequence's start",
        "class": "cu_seqlens read past its end",
        "spec": _spec(packed=True, positions="consecutive", dtypes=_F)},
    "packed_boundary_token_previous_sequence": {
        "bug": "searchsorted left instead of right: each sequence's first token is taken as "
               "part of the previous sequence",
        "class": "sequence boundary off by one",
        "spec": _spec(packed=True, positions="consecutive", dtypes=_F)},
    "packed_neighbour_offset": {
        "bug": "offsets read at cu_seqlens[1:]: each sequence takes its neighbour's offset",
        "class": "sequence index off by one",
        "spec": _spec(packed=True, positions="consecutive", dtypes=_F)},
    "packed_last_sequence_skipped": {
        "bug": "num_seqs = len(cu_seqlens) - 2: the last sequence passes through unrotated",
        "class": "sequence count off by one",
        "spec": _spec(packed=True, dtypes=_F)},
    "packed_tile_offset_lost": {
        "bug": "tile start not added: positions restart at the offset every 64 tokens of a "
               "sequence",
        "class": "tile offset lost",
        "spec": _spec(packed=True, positions="consecutive", dtypes=_F)},
    "packed_consecutive_offset_zero": {
        "bug": "seqlen_offsets not passed: every sequence rotated at 0, 1, 2, ...",
        "class": "offset ignored",
        "spec": _spec(packed=True, positions="consecutive", dtypes=_F)},
    "packed_consecutive_first_offset_everywhere": {
        "bug": "positions[0] used as the offset of every sequence",
        "class": "one offset for all sequences",
        "spec": _spec(packed=True, positions="consecutive", dtypes=_F)},
    "packed_decode_pairing_hardcoded": {
        "bug": "decode fast path (all sequences <= 1 token) hard-codes half_split pairing; "
               "claims interleaved",
        "class": "pairing hard-coded in one code path",
        "spec": _spec(signature="qk", packed=True, pairing="interleaved", dtypes=_F)},
}
