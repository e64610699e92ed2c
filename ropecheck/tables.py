"""Exact cos/sin tables in every layout that RoPE kernels take.

A kernel under test is judged on its rotation, not on a table an adapter made for it:
these tables come from the exact oracle's angles (``oracle.angles``: the frequencies of
``config.base``, ``config.rotary_dim`` and ``config.scaling``, reduced to [-pi, pi] with
an error of a few 1e-16 rad) and carry the attention factor where the oracle applies
one (``config.attention_factor``: YaRN, LongRoPE; 1.0 otherwise), exactly as
``oracle.rope`` multiplies it into cos and sin. Everything is computed in float64 and
rounded once to the requested dtype (``round_once``), so every entry is the dtype's
nearest value to ``attention_factor * cos(angle)`` (resp. ``sin``).

Notation: R = ``config.rotary_dim``, ``c_i, s_i`` the cos and sin of pair i (pair i
rotates dims ``(i, i + R/2)`` under half_split, ``(2i, 2i+1)`` under interleaved; the
tables do not depend on the pairing, only which layout a kernel wants does).

Per-token tables take positions of any leading shape ``P`` (``(batch, seq)``,
``(total_tokens,)`` for packed batches, ...; with a multi-axis config the axes come last,
``(*P, axes)``):

- ``half``: cos, sin ``(*P, R/2)``, ``c_0 .. c_{R/2-1}`` (kernels that load one value per pair);
- ``duplicated``: cos, sin ``(*P, R)``, ``cat(c, c)`` (HF's ``rotate_half`` code, Liger);
- ``repeat_interleave``: cos, sin ``(*P, R)``, ``c_0 c_0 c_1 c_1 ...`` (interleaved, GPT-J-style code);
- ``freqs_cis``: complex ``(*P, R/2)``, ``c_i + 1j s_i`` (Meta llama's ``freqs_cis``).

Position-indexed tables for kernels that look positions up themselves (row m is position
m, ``m = 0 .. max_position - 1``):

- ``per_position``: cos, sin ``(max_position, R/2)`` (flash-attn's and fla's ``cos``/``sin``
  caches, indexed with ``seqlen_offsets``);
- ``cos_sin_cache``: one ``(max_position, R)`` tensor, cos half then sin half in the last
  dim (vLLM's ``cos_sin_cache``).

Importing this module imports nothing beyond torch, numpy and ropecheck itself.
"""

from __future__ import annotations

import torch

from ropecheck import oracle
from ropecheck.config import RopeConfig

_REAL = (torch.float64, torch.float32, torch.bfloat16, torch.float16)
_COMPLEX = {torch.complex64: torch.float32, torch.complex128: torch.float64}


def round_once(x: torch.Tensor, dtype: torch.dtype) -> torch.Tensor:
    """float64 ``x`` rounded once, to nearest (ties to even), to ``dtype``.

    torch's own ``x.to(torch.bfloat16)`` / ``x.to(torch.float16)`` of a float64 tensor
    rounds twice, through float32: ``1 + 2**-8 + 2**-30`` becomes 1.0 in bfloat16 where
    the nearest value is ``1 + 2**-7``. Here the float32 step rounds to odd (truncate,
    then set the last bit if anything was dropped), which keeps the information the
    second rounding needs: float32 has at least two more significand bits than bfloat16
    and float16, so rounding the round-to-odd result to nearest is the correct rounding
    of ``x``. float64 -> float32 is a single rounding already.

    Args:
        x: float64 tensor of any shape.
        dtype: float64, float32, bfloat16 or float16.
    Returns:
        a tensor of ``x``'s shape in ``dtype``, on ``x``'s device.
    """
    if x.dtype != torch.float64:
        raise TypeError(f"round_once: expected a float64 tensor, got {x.dtype}")
    if dtype not in _REAL:
        raise TypeError(f"round_once: expected one of {_REAL}, got {dtype}")
    if dtype in (torch.float64, torch.float32):
        return x.to(dtype)
    f = x.to(torch.float32)
    overshoot = f.to(torch.float64).abs() > x.abs()
    f = torch.where(overshoot, torch.nextafter(f, torch.zeros_like(f)), f)  # truncated toward zero
    inexact = f.to(torch.float64) != x
    odd = (f.view(torch.int32) | inexact.to(torch.int32)).view(torch.float32)
    return odd.to(dtype)


def angles(positions: torch.Tensor, config: RopeConfig) -> torch.Tensor:
    """The oracle's exact angles for positions of any leading shape.

    Args:
        positions: integer tensor ``(*P,)``, or ``(*P, axes)`` for a multi-axis config.
    Returns:
        float64 CPU tensor ``(*P, R/2)``, each angle reduced to [-pi, pi].
    """
    _check_positions(positions, config)
    return oracle.angles(positions, config)


def _cos_sin64(positions: torch.Tensor, config: RopeConfig) -> tuple[torch.Tensor, torch.Tensor]:
    """float64 ``attention_factor * cos``, ``attention_factor * sin``, ``(*P, R/2)`` each."""
    _check_positions(positions, config)
    return oracle.cos_sin(positions, config)  # one angle table, cos and sin of it


def _out(t: torch.Tensor, dtype: torch.dtype, device) -> torch.Tensor:
    return round_once(t, dtype).to(device)


def _device(positions: torch.Tensor, device) -> torch.device:
    return positions.device if device is None else torch.device(device)


def half(positions: torch.Tensor, config: RopeConfig, dtype: torch.dtype,
         device: torch.device | str | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """cos and sin of every pair, one value per pair.

    Args:
        positions: integer ``(*P,)`` (``(*P, axes)`` multi-axis), any device.
        config: base, rotary_dim, scaling (the pairing does not change the table).
        dtype: float64, float32, bfloat16 or float16; each entry rounded once.
        device: where the tables go (default: positions' device).
    Returns:
        ``(cos, sin)``, each ``(*P, R/2)``: ``cos[..., i] = af * cos(angle of pair i)``.
    """
    c, s = _cos_sin64(positions, config)
    dev = _device(positions, device)
    return _out(c, dtype, dev), _out(s, dtype, dev)


def duplicated(positions: torch.Tensor, config: RopeConfig, dtype: torch.dtype,
               device: torch.device | str | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """HF's layout: ``cat(c, c)`` (``emb = cat(freqs, freqs)``), what ``rotate_half`` code takes.

    Returns:
        ``(cos, sin)``, each ``(*P, R)``: entry j holds pair ``j mod R/2``.
    """
    c, s = half(positions, config, dtype, device)
    return torch.cat((c, c), dim=-1), torch.cat((s, s), dim=-1)


def repeat_interleave(positions: torch.Tensor, config: RopeConfig, dtype: torch.dtype,
                      device: torch.device | str | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """Interleaved kernels' layout: ``c_0 c_0 c_1 c_1 ...``.

    Returns:
        ``(cos, sin)``, each ``(*P, R)``: entry j holds pair ``j // 2``.
    """
    c, s = half(positions, config, dtype, device)
    return c.repeat_interleave(2, dim=-1), s.repeat_interleave(2, dim=-1)


def freqs_cis(positions: torch.Tensor, config: RopeConfig, dtype: torch.dtype = torch.complex64,
              device: torch.device | str | None = None) -> torch.Tensor:
    """Meta llama's ``freqs_cis``: ``c_i + 1j * s_i`` (``torch.polar(1, angle)`` there).

    Args:
        dtype: complex64 (real and imaginary parts each rounded once to float32) or complex128.
    Returns:
        complex tensor ``(*P, R/2)``.
    """
    if dtype not in _COMPLEX:
        raise TypeError(f"freqs_cis: expected complex64 or complex128, got {dtype}")
    c, s = half(positions, config, _COMPLEX[dtype], device)
    return torch.complex(c, s)


def _cache_positions(config: RopeConfig, max_position: int, length: int | None) -> tuple[torch.Tensor, int]:
    if config.axes != 1:
        raise ValueError("position-indexed tables need one position axis; "
                         f"this config has {config.axes} (scaling {dict(config.scaling)!r})")
    if isinstance(max_position, bool) or not isinstance(max_position, int) or max_position < 0:
        raise ValueError(f"max_position: expected an int >= 0, got {max_position!r}")
    length = max_position if length is None else length
    if length < max_position:
        raise ValueError(f"length {length} < max_position {max_position}: a call of that length "
                         "cannot reach the last rows of the table")
    return torch.arange(max_position, dtype=torch.int64), length


def per_position(config: RopeConfig, max_position: int, dtype: torch.dtype,
                 device: torch.device | str | None = "cpu", *,
                 length: int | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """A position-indexed table: row m holds position m, one value per pair.

    Args:
        max_position: rows; positions ``0 .. max_position - 1``.
        length: the call length the frequencies are taken for by rope types that depend on
            it (``dynamic``, ``longrope``: the largest position of the call + 1, as the
            oracle defines it); default ``max_position``. Must be >= max_position.
    Returns:
        ``(cos, sin)``, each ``(max_position, R/2)``, row m = ``half`` at position m.
    """
    rows, length = _cache_positions(config, max_position, length)
    if length > max_position:
        # the oracle takes the call length from the largest position: give it one more
        # position (length - 1) and drop its row
        c, s = _cos_sin64(torch.cat((rows, torch.tensor([length - 1]))), config)
        c, s = c[:-1], s[:-1]
    else:
        c, s = _cos_sin64(rows, config)
    dev = torch.device(device)
    return _out(c, dtype, dev), _out(s, dtype, dev)


def cos_sin_cache(config: RopeConfig, max_position: int, dtype: torch.dtype,
                  device: torch.device | str | None = "cpu", *, length: int | None = None) -> torch.Tensor:
    """vLLM's ``cos_sin_cache``: row m is ``cat(cos, sin)`` at position m.

    Returns:
        ``(max_position, R)``: ``[..., :R/2]`` the cos, ``[..., R/2:]`` the sin of each pair.
    """
    c, s = per_position(config, max_position, dtype, device, length=length)
    return torch.cat((c, s), dim=-1)


def _check_positions(positions: torch.Tensor, config: RopeConfig) -> None:
    if not isinstance(positions, torch.Tensor):
        raise TypeError(f"positions: expected a torch.Tensor, got {type(positions).__name__}")
    if positions.is_floating_point() or positions.is_complex() or positions.dtype == torch.bool:
        raise TypeError(f"positions: expected an integer tensor, got {positions.dtype}")
    if config.axes > 1 and (positions.dim() == 0 or positions.shape[-1] != config.axes):
        raise ValueError(f"positions: a config with {config.axes} position axes takes (..., {config.axes}), "
                         f"got shape {tuple(positions.shape)}")
