"""``ropecheck identify``: which RoPE convention does an unknown callable implement?

The callable has the adapter signature of docs/contract.md §1::

    rope(x: (batch, seq, heads, head_dim), positions: (batch, seq) int64, config) -> like x

It is handed one plain *probe* config (``RopeConfig(base=10000, rotary_dim=head_dim,
pairing="half_split")`` unless another is given); it may honour that config or hard-code
its own base, pairing or rotary_dim. What is identified is what it *does* with the probe.
The fit is exact algebra on the callable's output, not a search over a grid of guesses:

1. **The linear map at each position.** One call with ``x[0, p, h, :] = e_h`` (head h
   holds the h-th unit vector, so heads = head_dim) returns the image of every basis
   vector, i.e. the matrix ``M_p`` (head_dim, head_dim), at every probe position p in
   ``0, 1, 2, 3, 4, 8, ..., 65536``. Inputs are float64 when the callable returns float64
   for them, else float32.
2. **Pairing and rotary_dim.** Dims i != j with ``M_p[i, j] != 0`` at some p are partners.
   Every dim must have at most one partner; the partner pairs must be ``(2i, 2i+1)``
   (interleaved) or ``(i, i + r/2)`` (half_split), and ``rotary_dim`` r is twice the
   number of pairs (half_split: twice the distance between partners). Every other dim must
   pass through unchanged, and every 2x2 block must be a rotation (equal diagonal, opposite
   off-diagonal, unit norm).
3. **Angles.** Pair (a, b) is turned at position p by ``phi(p) = atan2(M_p[b, a], M_p[a, a])``
   (the block's two estimates averaged), known modulo 2 pi.
4. **Frequencies by doubling.** ``phi(p) - phi(0) = omega p``. Position 1 gives omega modulo
   2 pi, which is omega itself for omega in (-pi, pi]; positions 2, 4, 8, ... each double
   the lever arm, and the prediction ``omega p`` picks the right turn to unwrap the next
   measurement, so omega ends up known to the precision of one angle divided by 65536.
   At powers of two a float32 product ``p * inv_freq`` is exact, so the measured omega is
   the implementation's own rounded inv_freq.
5. **Offset.** ``phi(0) = k omega`` for a constant integer position offset k (the callable
   rotates position m by the angle of m + k). k is read from the slowest pair (where
   ``k omega`` has not wrapped yet) and refined pair by pair towards the fastest, then
   rounded; it must be within 0.05 of an integer. Works for ``|k| < pi / min(omega)``.
6. **Ladder.** ``ln omega_i = -ln s - (2i / r) ln base``: a weighted least-squares line
   through the pairs (weights from how precisely each omega was measured) gives base from
   the slope and the linear scaling factor s from the intercept. Nothing is rounded but
   the offset, except that a base or factor within a relative 1e-6 of a number with at
   most four significant digits is reported as that number.
7. **Verification.** The fitted convention is checked on random inputs of two rows at
   positions up to 100000 against the exact oracle, ``oracle.rope(x, positions + k,
   fitted)``, under the project's tolerance model (``tolerance.compare``, which allows
   the error of angles formed in float32). ``residual`` is the worst error left,
   ``max |y - y*| / max |y*|``; the callable is *explained* when every element is within
   the tolerance.

8. **Partial rotary widths** (when explained). The callable is handed ``rotary_dim`` 64 of
   ``head_dim`` 98 and of 192 (``WIDTH_PROBES``), the pairs where code that recomputes the
   width from ``rotary_dim / head_dim`` slips (``int``, ``// 2 * 2``, ``round`` of a
   two-decimal fraction); steps 1-2 give the dims it rotates, the ladder's slope against
   the fitted base the width D of ``base**(-2i/D)``; a wrong width is matched against
   ``width_slips`` and reported, not refused.

``max_position``: no call carries a position >= it. The probe keeps its positions below
it and adds ``max_position - 1``; the verification's positions (shifted by a negative
offset) stay below it; what is skipped is listed in ``not_probed``.

Anything that breaks a step (a raise, NaN, a dim with two partners, a scaled pair, angles
that decrease with the position, frequencies off one geometric ladder, a failed
verification) is reported as "not a RoPE it can explain", with the reason.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np
import torch

from ropecheck import oracle, tolerance
from ropecheck.config import RopeConfig
from ropecheck.spec import ImportProblem, import_callable

SMALL_POSITIONS = (0, 1, 2, 3) + tuple(2**k for k in range(2, 13))  # up to 4096
LARGE_POSITIONS = tuple(2**k for k in range(13, 17))  # 8192 .. 65536
CHECK_LARGEST = 100_000
"""The largest position of the verification call (when the probe reached 65536)."""
PARTNER_THRESHOLD = 1e-5
"""|M_p[i, j]| above this (unit inputs) makes j a partner of i."""
BLOCK_TOLERANCE = 1e-4
"""How far a 2x2 block may be from a rotation, relative to 1 (float32 output is ~1e-7)."""
OFFSET_SLACK = 0.05
ANGLE_NOISE = 1e-7
"""Absolute error of one measured angle (float32 cos/sin), for the ladder's weights."""
NICE_RELATIVE = 1e-6
WIDTH_PROBES = ((64, 98), (64, 192))
"""(rotary_dim, head_dim) pairs of the partial-rotary probe. A callable that recomputes the
width from the fraction ``rotary_dim / head_dim`` slips on them: ``int(98 * (64/98)) = 63``
(and ``// 2 * 2`` gives 62), while ``round(192 * round(64/192, 2)) = round(192 * 0.33) = 63``;
each pair catches what the other does not, and at both ``round(head_dim * (rotary_dim /
head_dim))`` is exact."""
LADDER_SLACK = 0.1
"""How far the measured ladder width (the D of base**(-2i/D)) may be from an integer."""
JSON_KEYS = ("pairing", "base", "rotary_dim", "position_offset", "scaling", "explained", "residual",
             "max_position", "not_probed", "rotary_width")
"""docs/contract.md §3.4's seven keys, then the keys added with ``--max-position`` and the width probe:
``max_position`` (int or null), ``not_probed`` (sentences: what was skipped because of
--max-position) and ``rotary_width`` (one entry per ``WIDTH_PROBES`` pair, see
``WidthProbe.to_json``; empty when the fit was not explained)."""


@dataclass(frozen=True)
class WidthProbe:
    """What the partial-rotary probe found at one (rotary_dim, head_dim) pair.

    ``rotated``: how many leading dims are rotated (None when not measured); ``ladder_dims``:
    the D of the frequencies ``base**(-2i/D)`` (None when there is one pair or no whole D
    fits); ``slip``: the width formula that explains a wrong width, e.g.
    ``"int(98 * (64/98)) = 63"``; ``ok``: rotated and ladder are the asked rotary_dim.
    """

    rotary_dim: int
    head_dim: int
    rotated: int | None = None
    ladder_dims: int | None = None
    slip: str | None = None
    ok: bool | None = None
    message: str = ""

    def to_json(self) -> dict[str, Any]:
        return {"rotary_dim": self.rotary_dim, "head_dim": self.head_dim, "rotated": self.rotated,
                "ladder_dims": self.ladder_dims, "slip": self.slip, "ok": self.ok, "message": self.message}


class LoadError(Exception):
    """``module:attr`` cannot be imported or is not callable (a usage error)."""


class NotExplained(Exception):
    """A step of the fit failed; the message says why in one sentence."""


@dataclass(frozen=True)
class Identification:
    """What ``identify`` found.

    The first seven fields are docs/contract.md §3.3's JSON (``to_json``); a field is None when the
    fit stopped before it. ``max_position``, ``not_probed`` and ``rotary_width`` are the
    JSON keys added after them (see ``JSON_KEYS``). ``message`` is the plain sentence; ``probe`` the config the
    callable was handed; ``dtype`` the input dtype probed; ``fitted_base`` and
    ``fitted_factor`` the values before the round-number snap; ``ratio`` the worst
    error / allowed of the verification under ``tolerance.compare``.
    """

    pairing: str | None = None
    base: float | None = None
    rotary_dim: int | None = None
    position_offset: int | None = None
    scaling: dict | None = None
    explained: bool = False
    residual: float | None = None
    message: str = ""
    probe: RopeConfig | None = None
    dtype: str | None = None
    fitted_base: float | None = None
    fitted_factor: float | None = None
    ratio: float | None = None
    notes: tuple[str, ...] = field(default=())
    max_position: int | None = None
    not_probed: tuple[str, ...] = field(default=())
    rotary_width: tuple["WidthProbe", ...] = field(default=())

    def to_json(self) -> dict[str, Any]:
        """Exactly the keys of docs/contract.md §3 (non-finite numbers become null)."""
        out = {key: getattr(self, key) for key in JSON_KEYS}
        if out["residual"] is not None and not math.isfinite(out["residual"]):
            out["residual"] = None
        out["not_probed"] = list(self.not_probed)
        out["rotary_width"] = [w.to_json() for w in self.rotary_width]
        return out


# ---------------------------------------------------------------- loading


def load(target: str) -> Callable:
    """Import ``module:attr`` (attr may be dotted) with the working directory on sys.path.

    Raises ``LoadError`` with a one-line reason.
    """
    module_name, sep, attribute = target.partition(":")
    if not sep or not module_name or not attribute:
        raise LoadError(f"{target!r}: expected module:attribute, e.g. my_adapters:rope")
    try:
        return import_callable(target, os.getcwd())
    except ImportProblem as exc:
        raise LoadError(f"{target!r}: {exc}") from None


# ---------------------------------------------------------------- probing


def _call(fn: Callable, x: torch.Tensor, positions: torch.Tensor, config: RopeConfig) -> torch.Tensor:
    """``fn(x, positions, config)`` on x's device; the result as float64 on the CPU.

    x: (batch, seq, heads, head_dim); positions: (batch, seq) int64.
    Returns a tensor like x, or raises ``NotExplained`` (a raise, a wrong shape, NaN).
    """
    top = int(positions.max())
    try:
        y = fn(x, positions.to(x.device), config)
    except Exception as exc:  # noqa: BLE001 - the callable's failure is the finding
        raise NotExplained(f"the callable raised {type(exc).__name__}: {exc} "
                           f"(positions up to {top}, {str(x.dtype).removeprefix('torch.')} input)") from None
    if not isinstance(y, torch.Tensor) or tuple(y.shape) != tuple(x.shape):
        got = tuple(y.shape) if isinstance(y, torch.Tensor) else type(y).__name__
        raise NotExplained(f"the callable returned {got} for an input of shape {tuple(x.shape)}")
    if not y.is_floating_point():
        raise NotExplained(f"the callable returned {y.dtype}, not a floating tensor")
    return y.detach()


def _unit_maps(fn: Callable, positions: tuple[int, ...], config: RopeConfig, dtype: torch.dtype,
               device: str) -> tuple[torch.Tensor, torch.dtype]:
    """The linear map at every position from one call on unit vectors.

    Returns:
        (M, output dtype): M float64 (len(positions), head_dim, head_dim) with
        ``M[p, out, in]`` the component ``out`` of the image of ``e_in`` at position p.
    """
    d = config.head_dim
    x = torch.eye(d, dtype=dtype).expand(1, len(positions), d, d).contiguous().to(device)
    pos = torch.tensor([positions], dtype=torch.int64)
    y = _call(fn, x, pos, config)
    maps = y[0].to("cpu", torch.float64).transpose(-1, -2)
    bad = ~torch.isfinite(maps).all(-1).all(-1)
    if bad.any():
        raise NotExplained(f"the output is NaN or infinite at position {positions[int(bad.nonzero()[0])]}")
    return maps, y.dtype


def probe_positions(max_position: int | None) -> tuple[tuple[int, ...], tuple[int, ...], list[str]]:
    """The probe's positions below ``max_position`` (every position when None).

    Returns (small, everything, not_probed): ``small`` the positions up to 4096 and
    ``everything`` those and 8192 .. 65536, each keeping only positions < max_position and
    ending with ``max_position - 1`` (a longer lever arm for the frequencies than the last
    power of two below it); ``not_probed`` one sentence naming what was skipped.
    """
    small, everything = SMALL_POSITIONS, SMALL_POSITIONS + LARGE_POSITIONS
    if max_position is None:
        return small, everything, []
    top = max_position - 1
    small = tuple(p for p in small if p <= top)
    everything = tuple(p for p in everything if p <= top)
    if top not in everything:
        everything += (top,)
        small += (top,) if top <= SMALL_POSITIONS[-1] else ()
    skipped = [p for p in SMALL_POSITIONS + LARGE_POSITIONS if p > top]
    if not skipped:
        return small, everything, []
    large = [p for p in skipped if p in LARGE_POSITIONS]
    what = f"positions {_few(skipped)} of the frequency probe"
    if large:
        what += f" (the large-position probe {'entirely' if len(large) == len(LARGE_POSITIONS) else 'in part'})"
    return small, everything, [f"{what}: not probed because of --max-position {max_position}; the fit is "
                               f"checked at positions below {max_position} only"]


def probe_maps(fn: Callable, config: RopeConfig, device: str, max_position: int | None = None,
               ) -> tuple[torch.Tensor, tuple[int, ...], torch.dtype, list[str]]:
    """Probe float64 first, float32 when float64 raises or comes back as another dtype;
    positions up to 65536, or only up to 4096 when the callable fails beyond; never at a
    position >= ``max_position`` (see ``probe_positions``).

    Returns:
        (M (P, head_dim, head_dim) float64, the P positions, the input dtype, notes).
    """
    notes: list[str] = []
    small, everything, _ = probe_positions(max_position)
    if len(everything) < 2:
        raise NotExplained(f"--max-position {max_position} leaves only position 0; the frequencies need "
                           "positions 0 and 1 at least (not probed because of --max-position)")
    failures: list[NotExplained] = []
    for dtype in (torch.float64, torch.float32):
        try:
            _, out_dtype = _unit_maps(fn, everything[:3], config, dtype, device)
        except NotExplained as exc:
            failures.append(exc)
            continue
        if out_dtype != dtype:
            failures.append(NotExplained(f"the callable returned {out_dtype} for {dtype} input"))
            continue
        try:
            maps, _ = _unit_maps(fn, everything, config, dtype, device)
            return maps, everything, dtype, notes
        except NotExplained as exc:
            if small == everything:
                raise
            maps, _ = _unit_maps(fn, small, config, dtype, device)
            notes.append(f"probed positions up to {small[-1]} only: beyond, {exc}")
            return maps, small, dtype, notes
    raise failures[0]


# ---------------------------------------------------------------- structure


def partners(maps: torch.Tensor) -> list[list[int]]:
    """For each dim, the dims it mixes with at some probed position.

    maps: (P, d, d). Returns d lists of dims.
    """
    off = maps.abs().amax(0)
    off.fill_diagonal_(0)
    mixed = (off > PARTNER_THRESHOLD) | (off.T > PARTNER_THRESHOLD)
    return [mixed[i].nonzero().flatten().tolist() for i in range(maps.shape[-1])]


def structure(maps: torch.Tensor) -> tuple[str, int, torch.Tensor, torch.Tensor]:
    """Pairing and rotary_dim from which dims mix.

    Returns:
        (pairing, rotary_dim, first, second): first/second int64 (rotary_dim // 2,) as
        ``oracle.pair_indices`` gives them. Raises ``NotExplained``.
    """
    d = maps.shape[-1]
    mates = partners(maps)
    for i, m in enumerate(mates):
        if len(m) > 1:
            raise NotExplained(f"dim {i} mixes with {len(m)} dims ({_few(m)}); a RoPE pairs each dim with one partner")
    pairs = sorted({(min(i, m[0]), max(i, m[0])) for i, m in enumerate(mates) if m})
    if not pairs:
        diag = maps.diagonal(dim1=-2, dim2=-1)
        p, i = _argmax2((diag - 1).abs())
        if abs(float(diag[p, i]) - 1) > BLOCK_TOLERANCE:
            raise NotExplained(f"no two dims are ever mixed, and dim {i} is multiplied by {float(diag[p, i]):.6g}: "
                               "nothing is rotated")
        raise NotExplained("no two dims are ever mixed: it returns x unchanged, nothing is rotated")
    if pairs == [(2 * i, 2 * i + 1) for i in range(len(pairs))]:
        pairing, rotary_dim = "interleaved", 2 * len(pairs)
    else:
        half = pairs[0][1] - pairs[0][0]
        if pairs[0][0] != 0 or pairs != [(i, i + half) for i in range(len(pairs))] or len(pairs) > half:
            raise NotExplained(f"the rotated pairs {_few(pairs)} are neither (2i, 2i+1) nor (i, i + rotary_dim/2)")
        pairing, rotary_dim = "half_split", 2 * half
    if rotary_dim > d:
        raise NotExplained(f"rotary_dim {rotary_dim} would exceed head_dim {d}")
    first, second = oracle.pair_indices(RopeConfig(rotary_dim=rotary_dim, pairing=pairing))
    return pairing, rotary_dim, first, second


def check_blocks(maps: torch.Tensor, first: torch.Tensor, second: torch.Tensor) -> None:
    """Every pair's 2x2 block is a rotation (unit norm) and every other dim is unchanged.

    maps: (P, d, d). Raises ``NotExplained``.
    """
    a, b = first, second
    caa, cbb, cba, cab = maps[:, a, a], maps[:, b, b], maps[:, b, a], maps[:, a, b]
    norm = torch.hypot(caa, cba)
    skew = torch.maximum((caa - cbb).abs(), (cab + cba).abs())
    if skew.max() > BLOCK_TOLERANCE:
        p, i = _argmax2(skew)
        raise NotExplained(f"pair ({int(a[i])}, {int(b[i])}) is not turned by a rotation "
                           f"(its 2x2 block is off by {float(skew[p, i]):.3g}) at probe {p}")
    if (norm - 1).abs().max() > BLOCK_TOLERANCE:
        p, i = _argmax2((norm - 1).abs())
        raise NotExplained(f"pair ({int(a[i])}, {int(b[i])}) is scaled by {float(norm[p, i]):.6g}; a rotation keeps "
                           "norms (identify fits no attention factor)")
    rest = [i for i in range(maps.shape[-1]) if i not in set(first.tolist()) | set(second.tolist())]
    if rest:
        diag = maps[:, rest, rest]
        if (diag - 1).abs().max() > BLOCK_TOLERANCE:
            p, j = _argmax2((diag - 1).abs())
            raise NotExplained(f"dim {rest[j]} is neither rotated nor passed through unchanged "
                               f"(multiplied by {float(diag[p, j]):.6g})")


def _argmax2(t: torch.Tensor) -> tuple[int, int]:
    flat = int(torch.argmax(t))
    return flat // t.shape[1], flat % t.shape[1]


def _few(items: list) -> str:
    return ", ".join(map(str, items[:4])) + (", ..." if len(items) > 4 else "")


# ---------------------------------------------------------------- angles and the fit


def pair_angles(maps: torch.Tensor, first: torch.Tensor, second: torch.Tensor) -> np.ndarray:
    """Angle of every pair at every probed position, in (-pi, pi].

    Returns float64 (P, rotary_dim // 2).
    """
    a, b = first, second
    s = (maps[:, b, a] - maps[:, a, b]) / 2
    c = (maps[:, a, a] + maps[:, b, b]) / 2
    return torch.atan2(s, c).numpy()


def _wrap(angle: np.ndarray) -> np.ndarray:
    return angle - 2 * np.pi * np.round(angle / (2 * np.pi))


def frequencies(phi: np.ndarray, positions: tuple[int, ...]) -> np.ndarray:
    """omega per pair from ``phi(q) - phi(0) = omega q`` at q = 1, 2, 4, ...

    phi: (P, n) angles at ``positions`` (which hold 0 and the powers of two, and may end
    with one position between the last power of two and the next: ``max_position - 1``).
    Returns float64 (n,), each in (-pi, pi] at q = 1 and refined by doubling.
    """
    at = {p: i for i, p in enumerate(positions)}
    zero = phi[at[0]]
    omega = _wrap(phi[at[1]] - zero)
    q = 2
    while q in at:
        omega = _unwrap(phi[at[q]] - zero, omega, q)
        q *= 2
    for p in sorted(p for p in positions if q // 2 < p < q):  # max_position - 1: a last, longer lever arm
        omega = _unwrap(phi[at[p]] - zero, omega, p)
    return omega


def _unwrap(angle: np.ndarray, omega: np.ndarray, p: int) -> np.ndarray:
    """omega refined by the angle turned at position p, the turn picked by ``omega p``."""
    measured = _wrap(angle)
    return (measured + 2 * np.pi * np.round((omega * p - measured) / (2 * np.pi))) / p


def offset(phi0: np.ndarray, omega: np.ndarray) -> int:
    """The integer k with ``phi(0) = k omega`` (mod 2 pi) for every pair.

    phi0, omega: (n,). Slowest pair first (no wrap there), then each faster pair unwraps
    against the running estimate. Raises ``NotExplained`` when k is not whole.
    """
    order = np.argsort(omega)
    k = phi0[order[0]] / omega[order[0]]
    for i in order[1:]:
        unwrapped = phi0[i] + 2 * np.pi * np.round((k * omega[i] - phi0[i]) / (2 * np.pi))
        k = unwrapped / omega[i]
    if abs(k - round(k)) > OFFSET_SLACK:
        raise NotExplained(f"position 0 is already turned, by {k:.3g} positions' worth: not a whole-position offset")
    return int(round(k))


def ladder(omega: np.ndarray, rotary_dim: int, largest: int) -> tuple[float, float, float]:
    """Fit ``ln omega_i = -ln s - (2 i / rotary_dim) ln base`` by weighted least squares.

    omega: (n,) positive. Weights: 1 / (relative precision of omega_i), which is the angle
    noise over the largest lever arm, ``ANGLE_NOISE / (omega_i largest)``, plus float32's.
    Returns (base, s, worst relative misfit of any omega_i). With n = 1 base is undetermined
    (returned as nan).
    """
    n = len(omega)
    y = np.log(omega)
    if n == 1:
        return math.nan, float(np.exp(-y[0])), 0.0
    sigma = np.hypot(ANGLE_NOISE / (omega * largest), ANGLE_NOISE)
    design = np.stack([np.ones(n), -2 * np.arange(n) / rotary_dim], axis=1)
    coef, *_ = np.linalg.lstsq(design / sigma[:, None], y / sigma, rcond=None)
    misfit = float(np.max(np.abs(np.expm1(y - design @ coef))))
    return float(np.exp(coef[1])), float(np.exp(-coef[0])), misfit


def nice(value: float) -> float:
    """``value``, or a number of at most four significant digits within 1e-6 of it."""
    for digits in range(1, 5):
        candidate = float(f"{value:.{digits}g}")
        if abs(candidate - value) <= NICE_RELATIVE * abs(value):
            return candidate
    return value


# ---------------------------------------------------------------- verification


def check_positions(offset_: int, largest: int, seed: int = 0) -> torch.Tensor:
    """(2, 8) int64: a row of small, boundary and large positions and a random row, all at
    least ``-offset_`` so that the oracle's positions ``p + offset_`` are >= 0, and at most
    ``largest + max(0, -offset_)``."""
    g = torch.Generator().manual_seed(seed)
    lo = max(0, -offset_)
    row0 = torch.tensor([0, 1, 2, 3, 7, 4095, largest // 2, largest]).clamp(max=largest)
    row1 = torch.randint(0, largest + 1, (8,), generator=g)
    return torch.stack([row0, row1]) + lo


def verify(fn: Callable, probe: RopeConfig, fitted: RopeConfig, offset_: int, dtype: torch.dtype,
           device: str, largest: int) -> tuple[float, tolerance.Comparison]:
    """Random x (2, 8, 3, head_dim) against ``oracle.rope(x, positions + offset_, fitted)``.

    Returns (residual = max |y - y*| / max |y*|, the tolerance model's comparison).
    """
    g = torch.Generator().manual_seed(1)
    positions = check_positions(offset_, largest)
    x = torch.randn(2, 8, 3, probe.head_dim, dtype=torch.float64, generator=g).to(dtype)
    y = _call(fn, x.to(device).clone(), positions, probe).to("cpu")  # a copy: fn may write into it
    ref = oracle.rope(x, positions + offset_, fitted)
    diff = (y.to(torch.float64) - ref).abs()
    residual = float(diff.max() / ref.abs().max()) if torch.isfinite(diff).all() else math.inf
    return residual, tolerance.compare(y, x, positions + offset_, fitted, expected=ref)


# ---------------------------------------------------------------- the whole fit


def as_x_form(fn: Callable, signature: str = "x", packed: bool = False) -> Callable:
    """The callable seen as ``rope(x, positions, config)`` (docs/contract.md §1), so that it can be
    identified: a q/k callable (§4) is probed from q's side (x is q; k is one head, MQA, whose
    output is dropped); a packed one gets each row of x as one sequence of a packed batch.

    Positions are probed independently per token, so a callable that only reads one offset
    per sequence (``positions = "consecutive"``) cannot be identified this way.
    """
    if signature == "x" and not packed:
        return fn

    def x_form(x: torch.Tensor, positions: torch.Tensor, config: RopeConfig) -> torch.Tensor:
        b, s = x.shape[:2]
        ops = (x,) if signature == "x" else (x, x[:, :, :1].clone())
        extra = {}
        if packed:
            ops = tuple(t.reshape((b * s,) + tuple(t.shape[2:])) for t in ops)
            positions = positions.reshape(b * s)
            extra["cu_seqlens"] = torch.arange(0, b * s + 1, s, dtype=torch.int32, device=x.device)
        out = fn(*ops, positions, config, **extra)
        y = out[0] if signature == "qk" else out
        return y.reshape(x.shape) if isinstance(y, torch.Tensor) and y.numel() == x.numel() else y

    return x_form


def default_probe(head_dim: int = 64) -> RopeConfig:
    """The config handed to the callable: base 10000, the whole head, half_split."""
    return RopeConfig(base=10000.0, rotary_dim=head_dim, pairing="half_split", head_dim=head_dim)


def identify(fn: Callable, head_dim: int = 64, device: str = "cpu", config: RopeConfig | None = None,
             max_position: int | None = None, widths: bool = True) -> Identification:
    """Probe ``fn`` with ``config`` (default ``default_probe(head_dim)``) and fit the
    convention that reproduces it; then, when explained and ``widths``, probe the partial
    rotary widths of ``WIDTH_PROBES`` (``probe_width``). Never raises for what the callable
    does. ``fn`` is never called with a position >= ``max_position`` (None: no bound); a
    probe that needs more is skipped and named in ``not_probed`` (and in the notes)."""
    if max_position is not None and (isinstance(max_position, bool) or not isinstance(max_position, int)
                                     or max_position < 1):
        raise ValueError(f"max_position: expected a positive int or None, got {max_position!r}")
    probe = config or default_probe(head_dim)
    if probe.head_dim is None:
        probe = probe.replace(head_dim=head_dim)
    found: dict[str, Any] = {"probe": probe, "max_position": max_position, "notes": [], "not_probed": []}
    try:
        _fit(fn, probe, device, found)
    except NotExplained as exc:
        found.pop("explained", None)
        return _result(found, explained=False, message=f"not a RoPE it can explain: {exc}")
    if widths:
        found["rotary_width"] = tuple(probe_width(fn, probe, found, r, h, device) for r, h in WIDTH_PROBES)
    return _result(found, message=_summary(found))


def _result(found: dict[str, Any], **extra: Any) -> Identification:
    found["not_probed"] = tuple(found["not_probed"])
    found["notes"] = tuple(found["notes"]) + found["not_probed"]
    found.pop("positions", None)
    return Identification(**found, **extra)


def _fit(fn: Callable, probe: RopeConfig, device: str, found: dict[str, Any]) -> None:
    """Steps 1-7 of the module docstring; fills ``found`` as it goes, raises ``NotExplained``."""
    top = None if found["max_position"] is None else found["max_position"] - 1
    found["not_probed"] += probe_positions(found["max_position"])[2]
    maps, positions, dtype, notes = probe_maps(fn, probe, device, found["max_position"])
    found["notes"] += notes
    found["positions"] = positions
    found["dtype"] = str(dtype).removeprefix("torch.")
    pairing, rotary_dim, first, second = structure(maps)
    found.update(pairing=pairing, rotary_dim=rotary_dim)
    check_blocks(maps, first, second)
    phi = pair_angles(maps, first, second)
    omega = frequencies(phi, positions)
    if np.any(omega <= 0):
        i = int(np.argmin(omega))
        raise NotExplained(f"pair ({int(first[i])}, {int(second[i])}) turns by {omega[i]:.6g} rad per position: "
                           "angles must grow with the position (it rotates the wrong way)")
    found["position_offset"] = offset(phi[positions.index(0)], omega)
    base, factor, misfit = ladder(omega, rotary_dim, max(positions))
    found.update(fitted_base=base, fitted_factor=factor)
    if math.isnan(base):
        found["notes"].append("one rotated pair only: its frequency is the same for every base; "
                              "the probe's base is reported")
    base = probe.base if math.isnan(base) else nice(base)
    factor = nice(factor)
    found.update(base=base, scaling=None if factor == 1.0 else {"rope_type": "linear", "factor": factor})
    try:
        fitted = RopeConfig(base=base, rotary_dim=rotary_dim, pairing=pairing, scaling=found["scaling"],
                            head_dim=probe.head_dim)
    except ValueError as exc:
        raise NotExplained(f"the fitted frequencies are no valid RopeConfig: {exc}") from None
    largest = CHECK_LARGEST if max(positions) >= LARGE_POSITIONS[-1] else max(positions)
    if top is not None:
        lo = max(0, -found["position_offset"])
        if top - lo < 1:
            raise NotExplained(f"with position offset {found['position_offset']:+d}, --max-position "
                               f"{top + 1} leaves no position to verify the fit at (not verified because of "
                               "--max-position)")
        if top - lo < largest:
            found["not_probed"].append(f"verification at positions above {top} (it would go up to {largest + lo}): "
                                       f"not probed because of --max-position {top + 1}")
            largest = top - lo
    residual, comparison = verify(fn, probe, fitted, found["position_offset"], dtype, device, largest)
    found.update(residual=residual, ratio=comparison.worst_ratio, explained=comparison.ok)
    if not comparison.ok:
        why = (f"the frequencies are off one geometric ladder base**(-2i/rotary_dim)/factor by up to {misfit:.3g} "
               if misfit > 1e-5 else "the fitted convention does not reproduce it ")
        raise NotExplained(f"{why}({comparison.describe()}; positions up to {largest})")


# ---------------------------------------------------------------- partial rotary widths


def width_slips(rotary_dim: int, head_dim: int) -> list[tuple[str, int]]:
    """The widths real code recomputes from the fraction ``rotary_dim / head_dim`` where
    they differ from rotary_dim: (what went wrong and the formula, the width)."""
    r, h = rotary_dim, head_dim
    truncated = int(h * (r / h))
    fraction = round(r / h, 2)
    rounded = round(h * fraction)
    slips = [(f"width truncated: int({h} * ({r}/{h})) = {truncated}", truncated),
             (f"width truncated: int({h} * ({r}/{h})) // 2 * 2 = {truncated // 2 * 2}", truncated // 2 * 2),
             (f"width rounded: round({h} * round({r}/{h}, 2)) = round({h} * {fraction:g}) = {rounded}", rounded)]
    return [(text, width) for text, width in slips if width != r]


def probe_width(fn: Callable, probe: RopeConfig, found: dict[str, Any], rotary_dim: int, head_dim: int,
                device: str) -> WidthProbe:
    """Hand ``fn`` the probe config with ``rotary_dim`` of ``head_dim`` and measure what it
    rotates: unit vectors at the main probe's positions (so never past --max-position), the
    pairs as in step 2, the frequency ladder's width D from the slope of ``ln omega_i``
    against the base fitted in the main probe (``D = rotated ln base / ln base_rotated``).
    A width other than asked is matched against ``width_slips``. Never raises."""
    r, h = rotary_dim, head_dim
    asked = f"asked for rotary_dim {r} of head_dim {h}"
    positions = found["positions"]
    try:
        config = probe.replace(rotary_dim=r, head_dim=h)
        dtype = getattr(torch, found["dtype"])
        maps, _ = _unit_maps(fn, positions, config, dtype, device)
        _, rotated, first, second = structure(maps)
        check_blocks(maps, first, second)
    except (NotExplained, ValueError) as exc:
        return WidthProbe(r, h, message=f"{asked}: width not measured: {exc}")
    ladder_dims = None
    if rotated >= 4:
        omega = frequencies(pair_angles(maps, first, second), positions)
        base = found["fitted_base"] if math.isfinite(found["fitted_base"] or math.nan) else probe.base
        if np.all(omega > 0) and base > 1:
            width_base = ladder(omega, rotated, max(positions))[0]
            d = rotated * math.log(base) / math.log(width_base) if width_base > 1 else math.nan
            ladder_dims = round(d) if abs(d - round(d)) <= LADDER_SLACK else None
    ladder_text = "" if ladder_dims in (None, rotated) else f"frequency ladder over {ladder_dims} dims"
    ok = rotated == r and ladder_dims in (None, r)
    if ok:
        return WidthProbe(r, h, rotated, ladder_dims, ok=True, message=f"{asked}, rotates {rotated} dims")
    slips = [text for text, width in width_slips(r, h)
             if width // 2 * 2 == rotated and ladder_dims in (None, width)]
    if slips:
        why = " or ".join(slips)
    elif rotated == found["rotary_dim"] != probe.rotary_dim:
        why = f"its own width: it rotated {rotated} of the {probe.rotary_dim} asked in the main probe too"
    else:
        why = f"no width formula ropecheck knows gives {rotated}"
    why = "; ".join(filter(None, [why, ladder_text]))
    return WidthProbe(r, h, rotated, ladder_dims, slip=" or ".join(slips) or None, ok=False,
                      message=f"{asked}, rotates {rotated} dims ({why})")


def _summary(found: dict[str, Any]) -> str:
    scaling = found["scaling"]
    scaled = f", linear scaling factor {scaling['factor']:g}" if scaling else ""
    wrong = [w.message for w in found.get("rotary_width", ()) if w.ok is False]
    widths = f"; but partial rotary: {'; '.join(wrong)}" if wrong else ""
    return (f"identified: {found['pairing']} pairs, base {found['base']:g}, rotary_dim {found['rotary_dim']}, "
            f"position offset {found['position_offset']:+d}{scaled}; reproduces the output to a relative "
            f"{found['residual']:.2g} (worst error / allowed {found['ratio']:.2g}){widths}")


def rows(result: Identification) -> list[tuple[str, str]]:
    """(field, value) rows for the terminal table."""
    def show(v: Any) -> str:
        if v is None:
            return "-"
        if isinstance(v, float):
            return f"{v:.10g}" if math.isfinite(v) else str(v)
        return str(v)

    out = [(key, show(getattr(result, key))) for key in JSON_KEYS[:7]]
    if result.max_position is not None:
        out.append(("max_position", str(result.max_position)))
    out += [("rotary_width", w.message) for w in result.rotary_width]
    p = result.probe
    if p is not None:
        out.append(("probe", f"RopeConfig(base={p.base:g}, rotary_dim={p.rotary_dim}, pairing={p.pairing!r}, "
                             f"head_dim={p.head_dim}) in {result.dtype or '?'}"))
    return out
