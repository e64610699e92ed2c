"""Ordinary ``rope(x, positions, config) -> y`` implementations (docs/contract.md §1) whose
bugs show only at boundaries (a width, a position, a table size, a tile, a dtype) or only
after earlier calls (a module-level cache), in the style of real library code.

Written blind to ropecheck's checks: only the contract, ``ropecheck.RopeConfig`` and the
float64 oracle were read. Shapes everywhere::

    x: (batch, seq, heads, head_dim), a floating dtype
    positions: (batch, seq) int64
    returns: a new tensor like x

``MUTANTS`` and ``CORRECT`` at the bottom give each function's claimed spec keys (and for
a mutant its bug and a short bug class). The call-history mutants keep state in module
globals, as the libraries they imitate do: each is right on its first call in a fresh
process; ``reset_caches()`` puts them back to that state. Their manifest entries carry a
``history`` line that says which earlier call breaks a later one.
"""

from __future__ import annotations

import torch

# ---------------------------------------------------------------- shared correct pieces


def _work_dtype(dtype: torch.dtype) -> torch.dtype:
    return torch.float64 if dtype == torch.float64 else torch.float32


def inv_freq64(base: float, rotary_dim: int, device=None, denominator: int | None = None) -> torch.Tensor:
    """``base ** (-2i / denominator)`` for 2i in ``range(0, rotary_dim, 2)``, float64.

    denominator defaults to rotary_dim (the correct ladder). Shape (ceil(rotary_dim / 2),).
    """
    denominator = rotary_dim if denominator is None else denominator
    return base ** (-torch.arange(0, rotary_dim, 2, dtype=torch.float64, device=device) / denominator)


def angles64(positions: torch.Tensor, inv_freq: torch.Tensor) -> torch.Tensor:
    """(batch, seq) positions (any dtype) times (n,) frequencies, in float64: (batch, seq, n)."""
    return positions.to(torch.float64)[..., None] * inv_freq.to(torch.float64)


def rotate(x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor, rotary_dim: int, pairing: str,
           work: torch.dtype | None = None) -> torch.Tensor:
    """Rotate the pairs of x in ``work`` (default: float32, float64 for float64 x) and cast
    back to x's dtype; dims from ``rotary_dim`` pass through.

    x: (..., head_dim); cos, sin: broadcastable to (..., rotary_dim // 2).
    """
    work = _work_dtype(x.dtype) if work is None else work
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


def _rope(x, positions, config, *, work=None, pairing=None, pos=None):
    """Correct RoPE (angles in float64), optionally at other positions or in another dtype."""
    ang = angles64(positions if pos is None else pos, inv_freq64(config.base, config.rotary_dim, x.device))
    return rotate(x, ang.cos()[:, :, None, :], ang.sin()[:, :, None, :], config.rotary_dim,
                  pairing or config.pairing, work)


def _rope_width(x, positions, config, rot: int, work=None):
    """RoPE over a rotary width ``rot`` computed by the caller: the leading ``rot // 2 * 2``
    dims are rotated with the ladder ``base ** (-2i / rot)``. Correct when rot equals
    config.rotary_dim."""
    used = rot // 2 * 2
    ang = angles64(positions, inv_freq64(config.base, used, x.device, denominator=rot))
    return rotate(x, ang.cos()[:, :, None, :], ang.sin()[:, :, None, :], used, config.pairing, work)


def _need(positions: torch.Tensor) -> int:
    """Rows a position-indexed table needs: largest position + 1 (at least 1)."""
    return int(positions.max()) + 1 if positions.numel() else 1


# ---------------------------------------------------------------- correct


def x_lookup_table_per_call(x, positions, config):
    """Correct. Builds a cos/sin lookup table for just the distinct positions of this call
    (``unique(return_inverse=True)``), in float64, and gathers it per token.

    x: (batch, seq, heads, head_dim); positions: (batch, seq) int64. Returns like x.
    """
    uniq, inverse = torch.unique(positions, return_inverse=True)
    ang = angles64(uniq, inv_freq64(config.base, config.rotary_dim, x.device))  # (n_unique, rd/2)
    cos, sin = ang.cos()[inverse], ang.sin()[inverse]  # (batch, seq, rd/2)
    return rotate(x, cos[:, :, None, :], sin[:, :, None, :], config.rotary_dim, config.pairing)


def x_partial_rotary_round(x, positions, config):
    """Correct. Partial rotary written the way configs state it, as a fraction
    ``partial_rotary_factor = rotary_dim / head_dim``, and turned back into a width with
    ``round(head_dim * factor)`` (exact: the float product is within an ulp of an integer).

    x: (batch, seq, heads, head_dim); positions: (batch, seq) int64. Returns like x.
    """
    head_dim = x.shape[-1]
    partial_rotary_factor = config.rotary_dim / head_dim
    return _rope_width(x, positions, config, round(head_dim * partial_rotary_factor))


_GOOD_CACHE: dict = {"key": None, "len": 0, "cos": None, "sin": None}


def x_cached_table(x, positions, config):
    """Correct. A module-level position-indexed cos/sin cache done right: keyed on
    (base, rotary_dim, device), grown when a call needs more rows, stored in float64 and
    cast to the compute dtype on every call.

    x: (batch, seq, heads, head_dim); positions: (batch, seq) int64. Returns like x.
    """
    key = (config.base, config.rotary_dim, str(x.device))
    need = _need(positions)
    c = _GOOD_CACHE
    if c["key"] != key or need > c["len"]:
        t = torch.arange(need, dtype=torch.float64, device=x.device)
        freqs = torch.outer(t, inv_freq64(config.base, config.rotary_dim, x.device))
        c.update(key=key, len=need, cos=freqs.cos(), sin=freqs.sin())
    cos, sin = c["cos"][positions], c["sin"][positions]
    return rotate(x, cos[:, :, None, :], sin[:, :, None, :], config.rotary_dim, config.pairing)


# ---------------------------------------------------------------- mutants: rotary width


def rotary_width_int_truncation(x, positions, config):
    """BUG (GPT-NeoX ``rotary_ndims = int(head_size * rotary_pct)``, also in other
    libraries): the width is recomputed from the fraction with ``int()``, which loses a
    dim when the float product lands just below an integer (head_dim 98, rotary_dim 64:
    ``98 * (64 / 98) = 63.999...`` -> 63). The odd width then rotates 62 dims with the
    ladder ``base ** (-2i / 63)``.

    x: (batch, seq, heads, head_dim); positions: (batch, seq) int64. Returns like x.
    """
    head_dim = x.shape[-1]
    rotary_pct = config.rotary_dim / head_dim
    rotary_ndims = int(head_dim * rotary_pct)  # BUG: truncates 63.999... to 63
    return _rope_width(x, positions, config, rotary_ndims)


def rotary_width_even_floor(x, positions, config):
    """BUG: the width is forced even as ``int(head_dim * pct) // 2 * 2``, so a product just
    below an integer (e.g. 63.999...) loses a whole pair (62), and the ladder is built over
    62 dims.

    x: (batch, seq, heads, head_dim); positions: (batch, seq) int64. Returns like x.
    """
    head_dim = x.shape[-1]
    pct = config.rotary_dim / head_dim
    rot = int(head_dim * pct) // 2 * 2  # BUG
    return _rope_width(x, positions, config, rot)


def rotary_width_round_two_decimals(x, positions, config):
    """BUG: the rotary fraction is stored the way config files write it, to two decimals
    (``partial_rotary_factor = 0.33``), and the width is ``round(head_dim * factor)``:
    right for 0.25 / 0.5 / 1.0, wrong for fractions that need more digits (head_dim 192,
    rotary_dim 64: ``round(192 * 0.33) = 63``).

    x: (batch, seq, heads, head_dim); positions: (batch, seq) int64. Returns like x.
    """
    head_dim = x.shape[-1]
    partial_rotary_factor = round(config.rotary_dim / head_dim, 2)  # BUG: two decimals
    return _rope_width(x, positions, config, round(head_dim * partial_rotary_factor))


# ---------------------------------------------------------------- mutants: position storage


def positions_int16(x, positions, config):
    """BUG: positions stored as int16 (``position_ids.to(torch.int16)`` to save memory):
    they wrap at 2**15, so position 32768 is rotated as -32768.

    x: (batch, seq, heads, head_dim); positions: (batch, seq) int64. Returns like x.
    """
    return _rope(x, positions, config, pos=positions.to(torch.int16))  # BUG


def positions_float16(x, positions, config):
    """BUG: positions cast to float16 before the angle: exact only up to 2048 (2049 rounds
    to 2048), and past 65504 they become inf (NaN output).

    x: (batch, seq, heads, head_dim); positions: (batch, seq) int64. Returns like x.
    """
    return _rope(x, positions, config, pos=positions.to(torch.float16))  # BUG


def positions_float32(x, positions, config):
    """BUG: positions cast to float32 (``position_ids.float()``) even when the angles are
    then formed in float64: exact only below 2**24, above it odd positions round to even.
    Claims max_position 2**25 so that such positions are drawn.

    x: (batch, seq, heads, head_dim); positions: (batch, seq) int64. Returns like x.
    """
    return _rope(x, positions, config, pos=positions.to(torch.float32))  # BUG


# ---------------------------------------------------------------- mutants: fixed tables

_TABLES: dict = {}


def _fixed_table(config, rows: int, device) -> tuple[torch.Tensor, torch.Tensor]:
    """A (rows, rotary_dim // 2) float64 cos/sin table (max_position_embeddings rows)."""
    key = (config.base, config.rotary_dim, rows, str(device))
    if key not in _TABLES:
        ang = angles64(torch.arange(rows, device=device), inv_freq64(config.base, config.rotary_dim, device))
        _TABLES.clear()
        _TABLES[key] = (ang.cos(), ang.sin())
    return _TABLES[key]


def _table_rope(x, positions, config, idx, rows):
    cos, sin = _fixed_table(config, rows, x.device)
    return rotate(x, cos[idx][:, :, None, :], sin[idx][:, :, None, :], config.rotary_dim, config.pairing)


def table_2048_clamped(x, positions, config):
    """BUG: a cos/sin table of max_position_embeddings = 2048 rows, indexed with
    ``clamp(max=2047)`` (a bounds "fix" that silently saturates): every position past 2047
    is rotated as 2047.

    x: (batch, seq, heads, head_dim); positions: (batch, seq) int64. Returns like x.
    """
    return _table_rope(x, positions, config, positions.clamp(max=2047), 2048)  # BUG


def table_4096_modulo(x, positions, config):
    """BUG: a cos/sin table of 4096 rows indexed with ``positions % 4096`` (a ring buffer
    for the cache): position 4096 + m is rotated as m.

    x: (batch, seq, heads, head_dim); positions: (batch, seq) int64. Returns like x.
    """
    return _table_rope(x, positions, config, positions % 4096, 4096)  # BUG


def table_32768_clamped(x, positions, config):
    """BUG: a cos/sin table of 32768 rows (a 32k-context model) indexed with
    ``clamp(max=32767)``: right below 32768 only.

    x: (batch, seq, heads, head_dim); positions: (batch, seq) int64. Returns like x.
    """
    return _table_rope(x, positions, config, positions.clamp(max=32767), 32768)  # BUG


# ---------------------------------------------------------------- mutants: tiles, signs, layouts


def _tile_lost(x, positions, config, tile):
    out = torch.empty_like(x)
    for t0 in range(0, x.shape[1], tile):
        t1 = min(t0 + tile, x.shape[1])
        pos = positions[:, : t1 - t0]  # BUG: positions pointer not advanced by t0
        out[:, t0:t1] = _rope(x[:, t0:t1], pos, config)
    return out


def tile_positions_lost_64(x, positions, config):
    """BUG: a kernel over tiles of 64 tokens along seq advances x's pointer by the tile
    start but not the positions pointer: every tile reads the positions of tokens 0..63.
    Right for seq <= 64 (or rows whose positions repeat every 64).

    x: (batch, seq, heads, head_dim); positions: (batch, seq) int64. Returns like x.
    """
    return _tile_lost(x, positions, config, 64)


def tile_positions_lost_128(x, positions, config):
    """BUG: as ``tile_positions_lost_64`` with tiles of 128 tokens: right for seq <= 128.

    x: (batch, seq, heads, head_dim); positions: (batch, seq) int64. Returns like x.
    """
    return _tile_lost(x, positions, config, 128)


def sin_sign_flipped_past_2048(x, positions, config):
    """BUG: a cached cos/sin table covers positions below 2048; past it a fallback path
    computes the angles on the fly and gets the sign of sin wrong (rotates backwards).

    x: (batch, seq, heads, head_dim); positions: (batch, seq) int64. Returns like x.
    """
    ang = angles64(positions, inv_freq64(config.base, config.rotary_dim, x.device))
    cos, sin = ang.cos(), ang.sin()
    sin = torch.where((positions >= 2048)[..., None], -sin, sin)  # BUG: fallback path's sign
    return rotate(x, cos[:, :, None, :], sin[:, :, None, :], config.rotary_dim, config.pairing)


def half_split_table_interleaved_rotation(x, positions, config):
    """BUG: the cos/sin table is laid out for half_split (``emb = cat(freqs, freqs)``, HF
    style) but the rotation is the interleaved one (``x * cos + rotate_every_two(x) * sin``),
    so dims 2i and 2i+1 get the angles of frequencies 2i and 2i+1 (mod rotary_dim/2), not
    both frequency i. Claims interleaved.

    x: (batch, seq, heads, head_dim); positions: (batch, seq) int64. Returns like x.
    """
    rd = config.rotary_dim
    work = _work_dtype(x.dtype)
    freqs = angles64(positions, inv_freq64(config.base, rd, x.device))
    emb = torch.cat((freqs, freqs), dim=-1)  # BUG: half_split layout
    cos, sin = emb.cos().to(work)[:, :, None, :], emb.sin().to(work)[:, :, None, :]
    xr = x[..., :rd].to(work)
    every_two = torch.stack((-xr[..., 1::2], xr[..., 0::2]), dim=-1).flatten(-2)
    out = xr * cos + every_two * sin
    return torch.cat((out.to(x.dtype), x[..., rd:]), dim=-1)


def output_pairs_deinterleaved(x, positions, config):
    """BUG: loads interleaved pairs ``x.view(..., rd/2, 2)`` and rotates them correctly, but
    stores the results as ``cat(out_even, out_odd)``: the rotated dims come back in
    half_split order (a fixed permutation of the right answer). Claims interleaved.

    x: (batch, seq, heads, head_dim); positions: (batch, seq) int64. Returns like x.
    """
    rd = config.rotary_dim
    y = _rope(x, positions, config, pairing="interleaved")
    rot = y[..., :rd]
    return torch.cat((rot[..., 0::2], rot[..., 1::2], y[..., rd:]), dim=-1)  # BUG: store order


def all_ones_frequency_ladder(x, positions, config):
    """BUG: integer division in the exponent, ``torch.arange(0, dim, 2) // dim``, is 0 for
    every pair, so every frequency is ``base ** 0 = 1``.

    x: (batch, seq, heads, head_dim); positions: (batch, seq) int64. Returns like x.
    """
    rd = config.rotary_dim
    inv_freq = 1.0 / (config.base ** (torch.arange(0, rd, 2, device=x.device) // rd))  # BUG: //
    ang = angles64(positions, inv_freq)
    return rotate(x, ang.cos()[:, :, None, :], ang.sin()[:, :, None, :], rd, config.pairing)


def first_head_only(x, positions, config):
    """BUG: the launch grid covers (batch, seq) but not heads, so only head 0 is rotated;
    the other heads pass through. Right for one head.

    x: (batch, seq, heads, head_dim); positions: (batch, seq) int64. Returns like x.
    """
    out = x.clone()
    out[:, :, :1] = _rope(x[:, :, :1], positions, config)  # BUG: head 0 only
    return out


def decode_rows_take_row0_positions(x, positions, config):
    """BUG: the single-token decode path takes a scalar offset, ``positions[0, 0]``, for the
    whole batch, so with batch > 1 and seq == 1 every row is rotated at row 0's position.
    seq > 1 (prefill) is right.

    x: (batch, seq, heads, head_dim); positions: (batch, seq) int64. Returns like x.
    """
    b, s = positions.shape
    pos = positions
    if s == 1 and b > 1:
        pos = positions[:1].expand(b, 1)  # BUG: row 0's offset
    return _rope(x, positions, config, pos=pos)


def last_pair_sign_flipped(x, positions, config):
    """BUG: a hand-written sign mask for sin (``[-1, ..., -1, +1]`` in the kernel's
    constant table) has the last entry wrong, so the last pair rotates backwards.

    x: (batch, seq, heads, head_dim); positions: (batch, seq) int64. Returns like x.
    """
    ang = angles64(positions, inv_freq64(config.base, config.rotary_dim, x.device))
    sign = torch.ones(config.rotary_dim // 2, dtype=torch.float64, device=x.device)
    sign[-1] = -1.0  # BUG
    return rotate(x, ang.cos()[:, :, None, :], (ang.sin() * sign)[:, :, None, :],
                  config.rotary_dim, config.pairing)


# ---------------------------------------------------------------- mutants: precision


def float64_computed_in_float32(x, positions, config):
    """BUG: every input is computed in float32 (``x.float()``, float32 cos/sin) and cast
    back, so float64 inputs get float32 precision (~1e-7 relative). Right for float32.

    x: (batch, seq, heads, head_dim); positions: (batch, seq) int64. Returns like x.
    """
    return _rope(x, positions, config, work=torch.float32)  # BUG for float64


def cos_table_float16(x, positions, config):
    """BUG: the angles are exact but the cos/sin table is stored in float16 (to halve its
    memory), so every output carries float16 rounding of cos and sin (~5e-4 relative),
    even for float32 and float64 inputs.

    x: (batch, seq, heads, head_dim); positions: (batch, seq) int64. Returns like x.
    """
    ang = angles64(positions, inv_freq64(config.base, config.rotary_dim, x.device))
    cos, sin = ang.cos().to(torch.float16), ang.sin().to(torch.float16)  # BUG: table dtype
    return rotate(x, cos[:, :, None, :], sin[:, :, None, :], config.rotary_dim, config.pairing)


def angles_float16(x, positions, config):
    """BUG: the angle ``positions * inv_freq`` is formed in float16 (autocast around the
    outer product): positions and frequencies are rounded to 11 bits and the product
    overflows to inf past 65504. cos and sin are then taken in float32.

    x: (batch, seq, heads, head_dim); positions: (batch, seq) int64. Returns like x.
    """
    inv_freq = inv_freq64(config.base, config.rotary_dim, x.device).to(torch.float16)
    ang = (positions.to(torch.float16)[..., None] * inv_freq).float()  # BUG: float16 product
    return rotate(x, ang.cos()[:, :, None, :], ang.sin()[:, :, None, :], config.rotary_dim, config.pairing)


# ---------------------------------------------------------------- mutants: call history

_STICKY: dict = {"key": None, "len": 0, "cos": None, "sin": None}


def cache_dtype_sticky(x, positions, config):
    """BUG (HF LlamaRotaryEmbedding before 4.38: ``_set_cos_sin_cache(seq_len, device,
    dtype=x.dtype)`` when a call needs more rows): the module-level cache is rebuilt in
    the dtype of the call that grew it. After a bfloat16 call that grew it, later float32
    calls that fit in it read bfloat16 cos/sin (~4e-3 relative error). Right on a fresh
    cache, and for every call that grows it.

    x: (batch, seq, heads, head_dim); positions: (batch, seq) int64. Returns like x.
    """
    key = (config.base, config.rotary_dim, str(x.device))
    need = _need(positions)
    c = _STICKY
    if c["key"] != key or need > c["len"]:
        t = torch.arange(need, dtype=torch.float64, device=x.device)
        freqs = torch.outer(t, inv_freq64(config.base, config.rotary_dim, x.device))
        c.update(key=key, len=need, cos=freqs.cos().to(x.dtype), sin=freqs.sin().to(x.dtype))  # BUG
    cos, sin = c["cos"][positions], c["sin"][positions]
    return rotate(x, cos[:, :, None, :], sin[:, :, None, :], config.rotary_dim, config.pairing)


_FROZEN: dict = {"max_len": None, "key": None, "cos": None, "sin": None}


def cache_length_frozen(x, positions, config):
    """BUG: ``max_position_embeddings`` is taken from the first call (its largest position
    + 1) and the cache never grows; later calls index it with ``clamp(max=len - 1)``, so a
    later call with larger positions rotates them all at the first call's last position.
    (The cache is rebuilt, at the frozen length, when base or rotary_dim change.)

    x: (batch, seq, heads, head_dim); positions: (batch, seq) int64. Returns like x.
    """
    c = _FROZEN
    if c["max_len"] is None:
        c["max_len"] = _need(positions)  # BUG: frozen at the first call
    key = (config.base, config.rotary_dim, str(x.device))
    if c["key"] != key:
        t = torch.arange(c["max_len"], dtype=torch.float64, device=x.device)
        freqs = torch.outer(t, inv_freq64(config.base, config.rotary_dim, x.device))
        c.update(key=key, cos=freqs.cos(), sin=freqs.sin())
    idx = positions.clamp(max=c["max_len"] - 1)  # BUG: saturates
    cos, sin = c["cos"][idx], c["sin"][idx]
    return rotate(x, cos[:, :, None, :], sin[:, :, None, :], config.rotary_dim, config.pairing)


_NO_BASE: dict = {"len": 0, "rotary_dim": None, "device": None, "cos": None, "sin": None}


def cache_ignores_base(x, positions, config):
    """BUG: the module-level cache is rebuilt only when a call needs more rows or another
    rotary_dim/device, never when base changes (as with dynamic-NTK code that changes the
    base without invalidating the cache). A later call with another base and no larger
    positions is rotated with the old base's table.

    x: (batch, seq, heads, head_dim); positions: (batch, seq) int64. Returns like x.
    """
    need = _need(positions)
    c = _NO_BASE
    if need > c["len"] or c["rotary_dim"] != config.rotary_dim or c["device"] != str(x.device):  # BUG: no base
        t = torch.arange(need, dtype=torch.float64, device=x.device)
        freqs = torch.outer(t, inv_freq64(config.base, config.rotary_dim, x.device))
        c.update(len=need, rotary_dim=config.rotary_dim, device=str(x.device), cos=freqs.cos(), sin=freqs.sin())
    cos, sin = c["cos"][positions], c["sin"][positions]
    return rotate(x, cos[:, :, None, :], sin[:, :, None, :], config.rotary_dim, config.pairing)


def reset_caches() -> None:
    """Put every module-level cache back to its fresh state (as in a new process)."""
    _GOOD_CACHE.update(key=None, len=0, cos=None, sin=None)
    _STICKY.update(key=None, len=0, cos=None, sin=None)
    _FROZEN.update(max_len=None, key=None, cos=None, sin=None)
    _NO_BASE.update(len=0, rotary_dim=None, device=None, cos=None, sin=None)
    _TABLES.clear()


# ---------------------------------------------------------------- mutants: two bugs at once


def float32_and_int_truncation(x, positions, config):
    """TWO BUGS: float64 inputs computed in float32 (as ``float64_computed_in_float32``)
    AND the rotary width recomputed with ``int(head_dim * (rotary_dim / head_dim))`` (as
    ``rotary_width_int_truncation``). Both should be reported.

    x: (batch, seq, heads, head_dim); positions: (batch, seq) int64. Returns like x.
    """
    head_dim = x.shape[-1]
    rotary_ndims = int(head_dim * (config.rotary_dim / head_dim))  # BUG 1
    return _rope_width(x, positions, config, rotary_ndims, work=torch.float32)  # BUG 2


# ---------------------------------------------------------------- manifest

_DTYPES = ["float32", "float64", "bfloat16", "float16"]
_F = ["float32", "float64"]


def _spec(**claims) -> dict:
    """A spec dict with the defaults written out (docs/contract.md §2 and §4)."""
    spec = {"pairing": "half_split", "base": "any", "dtypes": list(_F), "devices": ["cpu"],
            "partial_rotary": True, "inplace": False, "differentiable": True,
            "max_position": 131072, "signature": "x", "packed": False, "positions": "any"}
    spec.update(claims)
    return spec


CORRECT = {
    "x_lookup_table_per_call": {"spec": _spec(dtypes=list(_DTYPES))},
    "x_partial_rotary_round": {"spec": _spec(pairing="interleaved", dtypes=list(_DTYPES))},
    "x_cached_table": {"spec": _spec(dtypes=list(_DTYPES))},
}

MUTANTS = {
    "rotary_width_int_truncation": {
        "bug": "rotary width int(head_dim * (rotary_dim / head_dim)) loses a dim when the product "
               "lands just below an integer (98, 64 -> 63)",
        "class": "partial rotary width truncated",
        "spec": _spec()},
    "rotary_width_even_floor": {
        "bug": "rotary width int(head_dim * pct) // 2 * 2 loses a pair when the product lands just "
               "below an integer",
        "class": "partial rotary width truncated",
        "spec": _spec()},
    "rotary_width_round_two_decimals": {
        "bug": "rotary fraction rounded to two decimals, width round(head_dim * factor)",
        "class": "partial rotary width rounded",
        "spec": _spec()},
    "positions_int16": {
        "bug": "positions stored as int16: wrap at 2**15",
        "class": "positions in a narrow dtype",
        "spec": _spec()},
    "positions_float16": {
        "bug": "positions cast to float16: exact only to 2048, inf past 65504",
        "class": "positions in a narrow dtype",
        "spec": _spec()},
    "positions_float32": {
        "bug": "positions cast to float32: exact only below 2**24",
        "class": "positions in a narrow dtype",
        "spec": _spec(max_position=1 << 25)},
    "table_2048_clamped": {
        "bug": "cos/sin table of 2048 rows indexed with clamp: positions past 2047 saturate",
        "class": "fixed-size table",
        "spec": _spec()},
    "table_4096_modulo": {
        "bug": "cos/sin table of 4096 rows indexed modulo 4096",
        "class": "fixed-size table",
        "spec": _spec()},
    "table_32768_clamped": {
        "bug": "cos/sin table of 32768 rows indexed with clamp",
        "class": "fixed-size table",
        "spec": _spec()},
    "tile_positions_lost_64": {
        "bug": "positions pointer not advanced per tile of 64 tokens along seq",
        "class": "tile offset lost",
        "spec": _spec()},
    "tile_positions_lost_128": {
        "bug": "positions pointer not advanced per tile of 128 tokens along seq",
        "class": "tile offset lost",
        "spec": _spec()},
    "sin_sign_flipped_past_2048": {
        "bug": "sign of sin flipped for positions >= 2048 (fallback path past the cached table)",
        "class": "sign flipped past a position",
        "spec": _spec()},
    "half_split_table_interleaved_rotation": {
        "bug": "cat(freqs, freqs) table used with the interleaved rotation",
        "class": "cos/sin layout mismatched with pairing",
        "spec": _spec(pairing="interleaved")},
    "output_pairs_deinterleaved": {
        "bug": "rotated interleaved pairs stored de-interleaved (half_split order)",
        "class": "output permuted",
        "spec": _spec(pairing="interleaved")},
    "all_ones_frequency_ladder": {
        "bug": "exponent 2i // rotary_dim is 0: every frequency is 1",
        "class": "frequency ladder wrong",
        "spec": _spec()},
    "first_head_only": {
        "bug": "only head 0 rotated",
        "class": "heads skipped",
        "spec": _spec()},
    "decode_rows_take_row0_positions": {
        "bug": "batch > 1 and seq == 1: every row rotated at row 0's position",
        "class": "rows take another row's positions",
        "spec": _spec()},
    "last_pair_sign_flipped": {
        "bug": "sign of sin flipped on the last pair only",
        "class": "sign flipped on one pair",
        "spec": _spec()},
    "float64_computed_in_float32": {
        "bug": "float64 inputs computed in float32 and cast back",
        "class": "precision lost (float64 in float32)",
        "spec": _spec()},
    "cos_table_float16": {
        "bug": "cos/sin stored in float16 (angles exact)",
        "class": "cos/sin table in float16",
        "spec": _spec()},
    "angles_float16": {
        "bug": "angles positions * inv_freq formed in float16",
        "class": "angles in float16",
        "spec": _spec()},
    "cache_dtype_sticky": {
        "bug": "module cache rebuilt in the dtype of the call that grew it; later float32 calls "
               "read a bfloat16 table",
        "class": "call history: cache dtype",
        "history": "a bfloat16 call that grows the cache (or is the first call), then a float32 "
                   "call whose positions fit in it",
        "spec": _spec(dtypes=["float32", "bfloat16"])},
    "cache_length_frozen": {
        "bug": "module cache length frozen at the first call; later longer calls clamp",
        "class": "call history: cache length",
        "history": "a call with small positions, then one with larger positions",
        "spec": _spec()},
    "cache_ignores_base": {
        "bug": "module cache not keyed on base; a later call with another base reuses the table",
        "class": "call history: cache key",
        "history": "a call with one base, then a call with another base and no larger positions",
        "spec": _spec()},
    "float32_and_int_truncation": {
        "bug": "float64 computed in float32 AND rotary width int(head_dim * (rotary_dim / head_dim))",
        "class": "two bugs: precision lost + partial rotary width truncated",
        "spec": _spec()},
}
