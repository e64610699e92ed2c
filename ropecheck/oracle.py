"""The exact oracle: RoPE in float64 with angles accurate at any position below 2**53.

How the angles stay exact. A float32 angle ``m * inv_freq`` has a relative error of a
few ulps, so its absolute error grows linearly with the position m (about 0.008 rad at
m = 2**17). Even in float64 the plain product loses ~1e-16 * m * inv_freq. The oracle
instead

1. computes each pair's frequency in *turns*, ``inv_freq[i] / (2 pi)``, with mpmath at
   60 digits and keeps it as a double-double ``hi + lo`` (~106 bits);
2. forms ``m * hi`` exactly as ``p + e`` with Dekker's TwoProduct (Veltkamp split), so
   no bit of the product is lost;
3. drops the whole turns of ``p`` exactly (``p - round(p)`` is exact in binary floating
   point), adds the small terms ``e + m * lo`` and reduces once more;
4. multiplies the fraction of a turn (in [-1/2, 1/2]) by 2 pi.

The reduced angle then has an absolute error of a few 1e-16 rad for every position up
to 2**53, which ``tests/unit/oracle/test_oracle.py`` checks against mpmath at positions up to 2**40.

How the work is laid out (issue 13). The per-token tables (angles, cos, sin, the unreduced
angles; shape (batch, seq, rotary_dim // 2)) are computed once per call (``call_tables``,
cached for small calls on exactly what determines them). The per-element float64 work
reads pairs through views (``pair_views``: slices, no index gathers, no index_put) and
goes a block of tokens at a time (``token_chunks``), so a call's float64 temporaries stay
bounded; only the float64 result is full size. The operations and their order are those
of the plain gather-based rotation, so results are bit-identical to it
(``tests/oracle_reference.py``).
"""

from __future__ import annotations

import math
import threading
from collections import OrderedDict
from dataclasses import dataclass

import numpy as np
import torch

from ropecheck import scaling
from ropecheck.config import RopeConfig

_SPLIT = 134217729.0  # 2**27 + 1, Veltkamp's splitter for float64


def inv_freq(config: RopeConfig, length: int = 0) -> torch.Tensor:
    """The per-pair angular frequencies: ``base ** (-2i / rotary_dim)``, scaled as
    ``config.scaling`` says (``length`` = largest position + 1, for dynamic / longrope).

    Returns:
        float64 tensor of shape (rotary_dim // 2,), correctly rounded.
    """
    hi, lo = _turns(config, length)
    return torch.from_numpy((hi + lo) * (2 * math.pi))


def _turns(config: RopeConfig, length: int) -> tuple[np.ndarray, np.ndarray]:
    """Per-pair frequencies in turns as double-doubles (``scaling.turns``, mpmath, cached)."""
    return scaling.turns(config.base, config.rotary_dim, config.scaling, length)


def call_length(positions: torch.Tensor) -> int:
    """The largest position in a call + 1, as HF's dynamic / longrope updates define it."""
    return int(positions.max()) + 1 if positions.numel() else 0


def positions_per_pair(positions: torch.Tensor, config: RopeConfig) -> np.ndarray:
    """Each pair's position as float64 numpy, shape ``(batch, seq, rotary_dim // 2)``.

    positions: (batch, seq) int64, or (batch, seq, axes) for a multi-axis config.
    """
    m = positions.detach().to("cpu", torch.int64).numpy().astype(np.float64)
    if config.axes == 1:
        return m[..., None]
    return m[..., scaling.axis_of_pair(config.scaling, config.rotary_dim)]


def _two_product(a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Dekker's TwoProduct: ``a * b == p + e`` exactly, with ``p = fl(a * b)``."""
    p = a * b
    a_big = _SPLIT * a
    a_hi = a_big - (a_big - a)
    a_lo = a - a_hi
    b_big = _SPLIT * b
    b_hi = b_big - (b_big - b)
    b_lo = b - b_hi
    e = ((a_hi * b_hi - p) + a_hi * b_lo + a_lo * b_hi) + a_lo * b_lo
    return p, e


def angles(positions: torch.Tensor, config: RopeConfig) -> torch.Tensor:
    """Exact rotation angles ``positions * inv_freq``, reduced to [-pi, pi].

    Args:
        positions: (batch, seq) int64 absolute positions, |m| < 2**53; (batch, seq, axes)
            for a multi-axis config.
    Returns:
        float64 CPU tensor of shape (batch, seq, rotary_dim // 2).
    """
    hi, lo = _turns(config, call_length(positions))
    return torch.from_numpy(_reduced(positions_per_pair(positions, config), hi, lo))


def _reduced(m: np.ndarray, hi: np.ndarray, lo: np.ndarray) -> np.ndarray:
    """``m * (hi + lo)`` turns reduced to [-1/2, 1/2] and times 2 pi (steps 2-4 above).

    m: (..., 1) or (..., rotary_dim // 2) float64 positions; hi, lo: (rotary_dim // 2,).
    Returns float64 (..., rotary_dim // 2).
    """
    if np.any(np.abs(m) >= 2.0**53):
        raise ValueError("oracle.angles: positions must be below 2**53 in magnitude")
    p, e = _two_product(m, hi)
    whole_turns_dropped = p - np.round(p)  # exact
    frac = whole_turns_dropped + (e + m * lo)
    frac = frac - np.round(frac)
    return frac * (2 * math.pi)


def cos_sin(positions: torch.Tensor, config: RopeConfig, attention_factor: float | None = None,
            theta: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """``af * cos(angle)`` and ``af * sin(angle)`` of every (token, pair), computed once per call.

    Args:
        positions: (batch, seq) int64, or (batch, seq, axes) for a multi-axis config.
        attention_factor: af; ``config.attention_factor`` unless given.
        theta: the angles (batch, seq, rotary_dim // 2) if already known (else ``angles``).
    Returns:
        ``(cos, sin)``, float64 CPU tensors of shape (batch, seq, rotary_dim // 2).
    """
    af = config.attention_factor if attention_factor is None else attention_factor
    theta = angles(positions, config) if theta is None else theta
    c, s = torch.cos(theta), torch.sin(theta)
    if af != 1.0:  # 1.0 * v == v: skipped only because it changes nothing
        c, s = af * c, af * s
    return c, s


@dataclass(frozen=True)
class CallTables:
    """What one call's positions give every pair, computed once: float64 CPU tensors of
    shape (batch, seq, rotary_dim // 2), shared through a cache: read them, never write.

    cos, sin: ``af * cos(angle)``, ``af * sin(angle)`` (``cos_sin``); magnitude: the
    unreduced ``|m| * inv_freq`` (``unreduced_angles``); length: ``call_length(positions)``.
    """

    cos: torch.Tensor
    sin: torch.Tensor
    magnitude: torch.Tensor
    length: int


# Recent calls' tables, keyed on exactly what determines them: the frequencies' inputs
# (base, rotary_dim, scaling), the attention factor and the positions' values. A property
# judges several outputs (q and k, forward and gradient) at the same positions; only
# small tables are kept (the work they save is per call, not per element).
_CACHE: OrderedDict = OrderedDict()
_CACHE_LOCK = threading.Lock()
CACHE_ENTRIES = 32
CACHE_MAX_ELEMENTS = 1 << 15  # (batch * seq * rotary_dim / 2) above this: not kept


def call_tables(positions: torch.Tensor, config: RopeConfig, attention_factor: float | None = None) -> CallTables:
    """``CallTables`` of a call (cached for small calls; equal to computing them afresh).

    Args:
        positions: (batch, seq) int64, or (batch, seq, axes) for a multi-axis config;
            |m| < 2**53.
        attention_factor: af; ``config.attention_factor`` unless given.
    """
    af = config.attention_factor if attention_factor is None else attention_factor
    p = positions.detach().to("cpu", torch.int64)
    key = None
    if p.numel() * (config.rotary_dim // 2) <= CACHE_MAX_ELEMENTS:
        key = (config.base, config.rotary_dim, scaling._key(config.scaling), float(af), tuple(p.shape),
               p.contiguous().numpy().tobytes())
        with _CACHE_LOCK:
            hit = _CACHE.get(key)
            if hit is not None:
                _CACHE.move_to_end(key)
                return hit
    theta, magnitude = call_angles(p, config)
    cos, sin = cos_sin(p, config, af, theta=theta)
    tables = CallTables(cos, sin, magnitude, call_length(p))
    if key is not None:
        with _CACHE_LOCK:
            _CACHE[key] = tables
            while len(_CACHE) > CACHE_ENTRIES:
                _CACHE.popitem(last=False)
    return tables


def unreduced_angles(positions: torch.Tensor, config: RopeConfig) -> torch.Tensor:
    """``|m| * inv_freq`` before reduction (what a float32 implementation must represent).

    Its size sets how much angle error float32 arithmetic is allowed (see ``tolerance``).

    Returns:
        float64 CPU tensor of shape (batch, seq, rotary_dim // 2).
    """
    return call_angles(positions, config, reduced=False)[1]


def call_angles(positions: torch.Tensor, config: RopeConfig,
                reduced: bool = True) -> tuple[torch.Tensor | None, torch.Tensor]:
    """``angles`` and ``unreduced_angles`` of one call from one look-up of its frequencies.

    Args:
        positions: (batch, seq) int64, or (batch, seq, axes) for a multi-axis config.
        reduced: whether to compute the reduced angles (which need |m| < 2**53).
    Returns:
        ``(theta, magnitude)``, float64 CPU tensors of shape (batch, seq, rotary_dim // 2),
        equal to ``angles(positions, config)`` (None unless ``reduced``) and
        ``unreduced_angles(positions, config)``.
    """
    hi, lo = _turns(config, call_length(positions))
    m = positions_per_pair(positions, config)
    theta = torch.from_numpy(_reduced(m, hi, lo)) if reduced else None
    magnitude = torch.from_numpy(m).abs() * torch.from_numpy((hi + lo) * (2 * math.pi))
    return theta, magnitude


def pair_indices(config: RopeConfig) -> tuple[torch.Tensor, torch.Tensor]:
    """The two dims of every rotated pair under ``config.pairing``.

    Returns:
        ``(first, second)``, int64 tensors of shape (rotary_dim // 2,): pair i rotates
        ``(x[first[i]], x[second[i]])`` by the angle of frequency i.
    """
    half = config.rotary_dim // 2
    i = torch.arange(half)
    if config.pairing == "interleaved":
        return 2 * i, 2 * i + 1
    return i, i + half


def half_split_permutation(rotary_dim: int) -> torch.Tensor:
    """The fixed permutation between the two pairings (Meta -> HF q/k weight conversion).

    Returns:
        int64 tensor ``perm`` of shape (rotary_dim,): interleaved dim j sits at half-split
        dim ``perm[j]`` (2i -> i, 2i+1 -> i + rotary_dim/2). So with
        ``x_half[..., perm] = x_inter``, ``half_split(x_half)[..., perm] == interleaved(x_inter)``.
    """
    half = rotary_dim // 2
    i = torch.arange(half)
    perm = torch.empty(rotary_dim, dtype=torch.int64)
    perm[0::2] = i
    perm[1::2] = i + half
    return perm


def pair_views(t: torch.Tensor, config: RopeConfig) -> tuple[torch.Tensor, torch.Tensor]:
    """The two members of every rotated pair as views of ``t`` (no copy, no gather).

    Args:
        t: (..., head_dim), any dtype.
    Returns:
        ``(a, b)``, each (..., rotary_dim // 2): ``t[..., :R/2]`` and ``t[..., R/2:R]`` under
        half_split, ``t[..., 0:R:2]`` and ``t[..., 1:R:2]`` under interleaved (R = rotary_dim);
        ``a[..., i], b[..., i]`` are ``t[..., first[i]], t[..., second[i]]`` of ``pair_indices``.
    """
    r = config.rotary_dim
    if config.pairing == "interleaved":
        return t[..., 0:r:2], t[..., 1:r:2]
    return t[..., : r // 2], t[..., r // 2 : r]


def pass_through(t: torch.Tensor, config: RopeConfig) -> torch.Tensor:
    """The dims at and above ``rotary_dim``, a view of shape (..., head_dim - rotary_dim)."""
    return t[..., config.rotary_dim :]


def rotate_pairs(
    x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor, config: RopeConfig
) -> torch.Tensor:
    """Rotate each pair ``(a, b)`` of ``x`` to ``(a cos - b sin, a sin + b cos)``.

    Args:
        x: (..., head_dim) float64.
        cos, sin: broadcastable to (..., rotary_dim // 2).
    Returns:
        a new tensor like ``x``; dims at and above ``rotary_dim`` copied unchanged.
    """
    out = torch.empty_like(x)
    _rotate_into(out, x, cos, sin, config)
    return out


def _rotate_into(out: torch.Tensor, x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor,
                 config: RopeConfig) -> None:
    """``out = rotate_pairs(x, cos, sin, config)`` written into ``out`` (same shape as x, not
    overlapping it). The same float64 operations as a gather-based rotation, on views:
    ``a * cos - b * sin`` and ``a * sin + b * cos``, each product and sum rounded once."""
    a, b = pair_views(x, config)
    out_a, out_b = pair_views(out, config)
    shape = _broadcast(a.shape, cos.shape, sin.shape)
    if shape != a.shape:  # what an index_put of the rotated pairs would refuse
        raise RuntimeError(f"shape mismatch: rotated pairs of shape {tuple(shape)} cannot be written into "
                           f"pairs of shape {tuple(a.shape)}")
    if x.dtype == out.dtype == cos.dtype == sin.dtype == torch.float64:
        torch.mul(a, cos, out=out_a)  # the first product goes straight into place
        out_a.sub_(b * sin)
        torch.mul(a, sin, out=out_b)
        out_b.add_(b * cos)
    else:  # mixed dtypes: round once, from the float64 result, like an index_put would
        torch.sub(a * cos, b * sin, out=out_a)
        torch.add(a * sin, b * cos, out=out_b)
    if config.rotary_dim < x.shape[-1]:
        pass_through(out, config).copy_(pass_through(x, config))


def _broadcast(*shapes: tuple[int, ...]) -> tuple[int, ...]:
    """The shape ``shapes`` broadcast to (NumPy's rule), or ``RuntimeError`` when they do not.
    Plain Python: ``torch.broadcast_shapes`` imports SymPy (through torch.fx's symbolic
    shapes) on its first call, a third of a second in every checking process."""
    ndim = max(len(s) for s in shapes)
    out = []
    for k in range(-ndim, 0):
        sizes = {s[k] for s in shapes if len(s) >= -k} - {1}
        if len(sizes) > 1:
            raise RuntimeError(f"shapes {[tuple(s) for s in shapes]} do not broadcast")
        out.append(sizes.pop() if sizes else 1)
    return tuple(out)


# Float64 work on large inputs goes a block of tokens at a time, so its temporaries take
# about CHUNK_ELEMENTS * 8 bytes each whatever the input's size (tests lower it).
CHUNK_ELEMENTS = 1 << 18


def token_chunks(shape: tuple[int, ...] | torch.Size,
                 chunk_elements: int | None = None) -> list[tuple[slice, slice]]:
    """Blocks of tokens of a (batch, seq, ...) tensor, in row-major (flat) order.

    Returns:
        ``(batch_slice, seq_slice)`` pairs covering every token once, each block holding at
        most about ``chunk_elements`` elements (one token at least); whole batch rows are
        grouped when a row fits, else a row is cut along seq into blocks of a multiple of
        16 tokens (when a block holds 16 or more), which keeps float64 kernels' vector loops
        aligned as on the whole tensor. A tensor that fits is one block ``(:, :)``.
    """
    limit = CHUNK_ELEMENTS if chunk_elements is None else chunk_elements
    batch, seq = int(shape[0]), int(shape[1])
    per_token = math.prod(int(n) for n in shape[2:])
    if batch * seq * per_token <= limit:  # (an empty tensor too)
        return [(slice(None), slice(None))]
    if seq * per_token <= limit:
        rows = max(1, limit // (seq * per_token))
        return [(slice(b, min(b + rows, batch)), slice(None)) for b in range(0, batch, rows)]
    tokens = max(1, limit // per_token)
    if tokens >= 16:
        tokens -= tokens % 16
    return [(slice(b, b + 1), slice(s, min(s + tokens, seq))) for b in range(batch) for s in range(0, seq, tokens)]


def _rotated(x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor, config: RopeConfig) -> torch.Tensor:
    """float64 CPU rotation of x (batch, seq, heads, head_dim), cos/sin (batch, seq, R/2),
    a block of tokens at a time: the result is the only full-size float64 tensor made."""
    out = torch.empty(tuple(x.shape), dtype=torch.float64)
    tokens = tuple(x.shape[:2])
    if tuple(cos.shape[:2]) != tokens or tuple(sin.shape[:2]) != tokens:  # broadcast, as a whole-tensor rotation would
        cos, sin = cos.expand(tokens + tuple(cos.shape[2:])), sin.expand(tokens + tuple(sin.shape[2:]))
    for bs, ss in token_chunks(x.shape):
        x64 = x[bs, ss].detach().to("cpu", torch.float64)
        _rotate_into(out[bs, ss], x64, cos[bs, ss, None], sin[bs, ss, None], config)
    return out


def rope(x: torch.Tensor, positions: torch.Tensor, config: RopeConfig,
         attention_factor: float | None = None) -> torch.Tensor:
    """The reference result in float64 on the CPU.

    Args:
        x: (batch, seq, heads, head_dim), any floating dtype and device.
        positions: (batch, seq) int64.
        config: the convention (pairing, base, rotary_dim, scaling).
        attention_factor: what cos and sin are multiplied by; ``config.attention_factor``
            unless given (the diagnosis uses other values).
    Returns:
        float64 CPU tensor of shape (batch, seq, heads, head_dim).
    """
    _check_shapes(x, positions, config)
    tables = call_tables(positions, config, attention_factor)
    return _rotated(x, tables.cos, tables.sin, config)


def rope_with_angles(x: torch.Tensor, theta: torch.Tensor, config: RopeConfig) -> torch.Tensor:
    """Rotate the pairs of ``x`` (under ``config.pairing``) by given float64 angles.

    Args:
        x: (batch, seq, heads, head_dim).
        theta: (batch, seq, rotary_dim // 2) float64 angles.
    Returns:
        float64 CPU tensor like x. Used to express wrong conventions when diagnosing.
    """
    theta = theta.to(torch.float64)
    return _rotated(x, torch.cos(theta), torch.sin(theta), config)


def rope_inverse(y: torch.Tensor, positions: torch.Tensor, config: RopeConfig) -> torch.Tensor:
    """Rotate back by ``-angle`` (times the attention factor): the VJP of RoPE, since a
    rotation's adjoint is its inverse.

    Shapes as in ``rope``; returns float64 on the CPU.
    """
    _check_shapes(y, positions, config)
    af = config.attention_factor
    theta = angles(positions, config)
    return _rotated(y, af * torch.cos(theta), -af * torch.sin(theta), config)


def _check_shapes(x: torch.Tensor, positions: torch.Tensor, config: RopeConfig) -> None:
    if x.dim() != 4:
        raise ValueError(f"x: expected (batch, seq, heads, head_dim), got shape {tuple(x.shape)}")
    expected = tuple(x.shape[:2]) + ((config.axes,) if config.axes > 1 else ())
    if tuple(positions.shape) != expected:
        names = "(batch, seq, axes)" if config.axes > 1 else "(batch, seq)"
        raise ValueError(f"positions: expected shape {names} = {expected}, got {tuple(positions.shape)}")
    if config.rotary_dim > x.shape[-1]:
        raise ValueError(
            f"config.rotary_dim {config.rotary_dim} exceeds head_dim {x.shape[-1]}"
        )
