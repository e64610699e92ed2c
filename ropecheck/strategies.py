"""Hypothesis strategies for RoPE inputs: every test and property draws from here.

A drawn ``RopeCase`` holds the shape, the config, the dtype, the positions and a seed for
the values of x, so a counterexample prints as a short, exact, reproducible record
(``RopeCase.repro()``), however large the tensors.
"""

from __future__ import annotations

import collections
import functools
import itertools
import math
import random
from dataclasses import dataclass, fields, replace

import torch
from hypothesis import assume
from hypothesis import strategies as st

from ropecheck import rope_types
from ropecheck.config import RopeConfig
from ropecheck.tolerance import DTYPES

DEFAULT_MAX_POSITION = 2**17
NAMED_BASES = (10000.0, 500000.0, 1000000.0, 10.0, 1e7, 1000.0)
POSITION_MODES = ("from_zero", "row_offsets", "arbitrary", "decode", "near_max", "boundary")


@dataclass(frozen=True)
class Inputs:
    """The tensors of one call, as the spec's form passes them (docs/contract.md §1 and §4).

    operands: ``(x,)``, or ``(q, k)`` for ``signature = "qk"``. Each is
        ``(batch, seq, heads, head_dim)``, or ``(total_tokens, heads, head_dim)`` when packed.
    positions: ``(batch, seq)`` or ``(total_tokens,)`` int64 (multi-axis: axes last).
    cu_seqlens: packed only, int32 ``(num_seqs + 1,)``, cumulative lengths from 0.
    rest: with a fused qkv buffer, the view of v (the part after q and k) and the buffer.
    """

    operands: tuple[torch.Tensor, ...]
    positions: torch.Tensor
    cu_seqlens: torch.Tensor | None = None
    v: torch.Tensor | None = None
    buffer: torch.Tensor | None = None

    def replace(self, **changes) -> "Inputs":
        return replace(self, **changes)


NORMALS_KEPT = 2**22
"""How many float64 values ``standard_normal`` keeps (32 MiB): the latest draws that fit."""

_normals: collections.OrderedDict = collections.OrderedDict()  # (seed, shapes) -> (tensors, values)
_kept = [0]


def standard_normal(seed: int, shapes: tuple[tuple[int, ...], ...]) -> tuple[torch.Tensor, ...]:
    """float64 N(0, 1) tensors of ``shapes``, drawn in order from
    ``torch.Generator().manual_seed(seed)``, exactly as ``torch.randn`` draws them one after
    the other. The latest draws are kept (``NORMALS_KEPT`` values in all): a float64 normal
    costs ~20 ns, and the derandomised profile draws the same case in several properties.
    The tensors are shared: callers must not write into them (multiply or copy first)."""
    key = (seed, shapes)
    if key in _normals:
        _normals.move_to_end(key)
        return _normals[key][0]
    gen = torch.Generator().manual_seed(seed)
    found = tuple(torch.randn(shape, generator=gen, dtype=torch.float64) for shape in shapes)
    size = sum(t.numel() for t in found)
    if size <= NORMALS_KEPT:
        _normals[key] = (found, size)
        _kept[0] += size
        while _kept[0] > NORMALS_KEPT:
            _kept[0] -= _normals.popitem(last=False)[1][1]
    return found


@dataclass(frozen=True)
class CaseSetup:
    """What one property draws for a case besides its tensors (``RopeCase.setup``): a
    shift of every position, a split point, a memory layout, a poisoned element, earlier
    calls. Each property that needs one defines a frozen subclass next to its check
    (``ropecheck.properties``), with literal fields (or RopeCases), so that
    ``RopeCase.repro()`` prints it and ``repro.parse_case`` rebuilds it.

    A field's ``metadata["label"]`` (default: its name) is the word a report prints before
    its value, and the key that reproduce lines of earlier versions stored it under
    (``extra={label: value, ...}``, read by ``from_labels``). Every subclass is known by
    its class name to ``setup_types`` (what ``repro.parse_case`` may construct).
    """

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        _SETUP_TYPES[cls.__name__] = cls

    @classmethod
    def labels(cls) -> dict[str, str]:
        """field name -> label, in field order."""
        return {f.name: f.metadata.get("label", f.name) for f in fields(cls)}

    @classmethod
    def from_labels(cls, values: dict) -> "CaseSetup":
        """The setup from ``{label: value}`` (an ``extra`` dict of an earlier reproduce line)."""
        return cls(**{name: values[label] for name, label in cls.labels().items()})

    def summary(self) -> str:
        """`` label=value`` per field: what ``RopeCase.summary`` adds to its line."""
        return "".join(f" {label}={getattr(self, name)}" for name, label in self.labels().items())


_SETUP_TYPES: dict[str, type[CaseSetup]] = {}


def setup_types() -> dict[str, type[CaseSetup]]:
    """Every ``CaseSetup`` subclass defined so far, by class name."""
    return dict(_SETUP_TYPES)


def setup_from_labels(values: dict) -> CaseSetup | None:
    """The setup an ``extra={label: value}`` dict of an earlier reproduce line stood for:
    the subclass whose labels are exactly its keys; None for an empty dict."""
    if not values:
        return None
    for kind in _SETUP_TYPES.values():
        if set(kind.labels().values()) == set(values):
            return kind.from_labels(values)
    raise ValueError(f"extra={values!r}: no property draws these inputs ({', '.join(map(repr, values))})")


def batched(t: torch.Tensor, packed: bool) -> torch.Tensor:
    """A packed tensor ``(total_tokens, ...)`` as one batch row ``(1, total_tokens, ...)``
    (what the oracle and the tolerance model take); unpacked tensors as they are."""
    return t[None] if packed else t


@dataclass(frozen=True)
class RopeCase:
    """One input to a RoPE implementation, described compactly.

    x has shape (batch, seq, heads, head_dim) and values ``scale * N(0, 1)`` drawn from
    ``torch.Generator().manual_seed(seed)`` in float64, then cast to ``dtype``. With
    ``kv_heads`` (``signature = "qk"``) q (``heads``) and then k (``kv_heads``) are drawn
    from the same generator; with ``fused`` they are views into one buffer
    ``(…, heads + 2 kv_heads, head_dim)`` whose last ``kv_heads`` are v. With ``lengths``
    (``packed``) the tokens of ``len(lengths)`` sequences lie along one dim:
    ``(total_tokens, heads, head_dim)``, ``positions`` holds one row per sequence (ragged),
    ``batch`` is the number of sequences and ``seq`` the longest. ``setup``: what the
    property draws besides the tensors (``CaseSetup``), or None.
    """

    batch: int
    seq: int
    heads: int
    head_dim: int
    dtype: str
    config: RopeConfig
    positions: tuple[tuple[int, ...], ...]
    seed: int = 0
    scale: float = 1.0
    kv_heads: int | None = None
    lengths: tuple[int, ...] | None = None
    fused: bool = False
    setup: CaseSetup | None = None

    @property
    def qk(self) -> bool:
        return self.kv_heads is not None

    @property
    def packed(self) -> bool:
        return self.lengths is not None

    @property
    def tokens(self) -> tuple[int, ...]:
        """The token dims: ``(batch, seq)``, or ``(total_tokens,)`` when packed."""
        return (sum(self.lengths),) if self.packed else (self.batch, self.seq)

    @property
    def shape(self) -> tuple[int, ...]:
        """x's (or q's) shape."""
        return self.tokens + (self.heads, self.head_dim)

    @property
    def operand_names(self) -> tuple[str, ...]:
        return ("q", "k") if self.qk else ("x",)

    @property
    def torch_dtype(self) -> torch.dtype:
        return DTYPES[self.dtype]

    def make_x(self, device: str | torch.device = "cpu") -> torch.Tensor:
        """x (or q): ``shape`` in ``dtype`` on ``device``."""
        return self.make_operands(device)[0]

    def make_operands(self, device: str | torch.device = "cpu") -> tuple[torch.Tensor, ...]:
        """``(x,)`` or ``(q, k)``, contiguous and separate (see ``inputs`` for fused views)."""
        return self.inputs(device, fused=False).operands

    def inputs(self, device: str | torch.device = "cpu", fused: bool | None = None) -> Inputs:
        """Every tensor of a call on ``device``; q and k as views into one qkv buffer when
        ``fused`` (default: the case's own ``fused``)."""
        fused = self.fused if fused is None else fused
        heads = (self.heads,) if not self.qk else (self.heads, self.kv_heads, self.kv_heads)
        drawn = standard_normal(self.seed, tuple(self.tokens + (h, self.head_dim) for h in heads))
        # new tensors: the cache stays as drawn (1.0 * t == t: the product is skipped, not changed)
        cast = [(t * self.scale if self.scale != 1.0 else t).to(self.torch_dtype, copy=True).to(device) for t in drawn]
        positions = self.make_positions(device)
        cu = self.make_cu_seqlens(device)
        if not self.qk:
            return Inputs((cast[0],), positions, cu)
        if not fused:
            return Inputs((cast[0], cast[1]), positions, cu)
        buffer = torch.cat(cast, dim=-2)
        q_end, k_end = self.heads, self.heads + self.kv_heads
        return Inputs((buffer[..., :q_end, :], buffer[..., q_end:k_end, :]), positions, cu,
                      v=buffer[..., k_end:, :], buffer=buffer)

    def make_positions(self, device: str | torch.device = "cpu") -> torch.Tensor:
        """(batch, seq) int64 tensor on ``device``, or (total_tokens,) when packed; multi-axis
        configs add the axes last."""
        axes = (self.config.axes,) if self.config.axes > 1 else ()
        if self.packed:
            flat = [p for row in self.positions for p in row]
            return torch.tensor(flat, dtype=torch.int64, device=device).reshape((len(flat),) + axes)
        return torch.tensor(self.positions, dtype=torch.int64, device=device).reshape((self.batch, self.seq) + axes)

    def make_cu_seqlens(self, device: str | torch.device = "cpu") -> torch.Tensor | None:
        """int32 (num_seqs + 1,) cumulative sequence lengths from 0 (packed only)."""
        if not self.packed:
            return None
        return torch.tensor((0,) + tuple(itertools.accumulate(self.lengths)), dtype=torch.int32, device=device)

    def repro(self) -> str:
        """A Python expression that rebuilds this case (literals only: ``repro.parse_case``)."""
        c = self.config
        scaling = None if c.scaling is None else dict(c.scaling)
        form = "".join(f", {name}={getattr(self, name)!r}" for name in ("kv_heads", "lengths", "fused")
                       if getattr(self, name) != RopeCase.__dataclass_fields__[name].default)
        return (
            f"RopeCase(batch={self.batch}, seq={self.seq}, heads={self.heads}, head_dim={self.head_dim}, "
            f"dtype={self.dtype!r}, config=RopeConfig(base={c.base!r}, rotary_dim={c.rotary_dim}, "
            f"pairing={c.pairing!r}, scaling={scaling!r}, head_dim={c.head_dim}), "
            f"positions={self.positions!r}, seed={self.seed}, scale={self.scale!r}{form}"
            + (f", setup={self.setup!r})" if self.setup is not None else ")")
        )

    def summary(self) -> str:
        """One line for reports: shape, dtype, config and positions."""
        pos = self.positions
        flat = [p for row in pos for p in row]
        if flat and isinstance(flat[0], tuple):  # multi-axis: (batch, seq, axes)
            flat = [p for token in flat for p in token]
        starts = [r[0] for r in pos if r]
        pos_text = repr(pos) if len(flat) <= 16 else f"{len(flat)} positions in [{min(flat)}, {max(flat)}], rows start {starts}"
        shape = f"q{self.shape} k{self.tokens + (self.kv_heads, self.head_dim)}" if self.qk else f"{self.shape}"
        form = (f" lengths={self.lengths}" if self.packed else "") + (" fused qkv" if self.fused else "")
        return (
            f"shape={shape}{form} dtype={self.dtype} base={self.config.base:g} rotary_dim={self.config.rotary_dim} "
            f"pairing={self.config.pairing} positions={pos_text} seed={self.seed} scale={self.scale:g}"
            + (f" scaling={dict(self.config.scaling)}" if self.config.scaling else "")
            + (self.setup.summary() if self.setup is not None else "")
        )

    def brief(self) -> str:
        """A few words for one call of a call history: dtype, shape, base, rotary_dim, positions."""
        flat = [p for row in self.positions for p in row]
        if flat and isinstance(flat[0], tuple):
            flat = [p for token in flat for p in token]
        span = f"positions {min(flat)}..{max(flat)}" if flat else "no positions"
        return (f"{self.dtype} shape={self.shape} base={self.config.base:g} rotary_dim={self.config.rotary_dim} "
                f"{span}")


# ---------------------------------------------------------------- building blocks, built once
#
# Every strategy a draw uses is built once (at import, or cached on its arguments): a
# strategy built inside a draw costs Hypothesis its checks again on every example. Cases are
# drawn by plain functions that take ``draw`` (no nested composite per part), rows of
# positions a few choices each, and constraints are met by construction, not by filters.


@functools.lru_cache(maxsize=8192)
def _integers(lo: int, hi: int) -> st.SearchStrategy[int]:
    return st.integers(lo, hi)


@functools.lru_cache(maxsize=1024)
def _sampled(values: tuple) -> st.SearchStrategy:
    return st.sampled_from(values)


@functools.lru_cache(maxsize=1024)
def _even(lo_pairs: int, hi_pairs: int) -> st.SearchStrategy[int]:
    """Even numbers 2 * [lo_pairs, hi_pairs]."""
    return st.integers(lo_pairs, hi_pairs).map(lambda h: 2 * h)


_BOOLEANS = st.booleans()
_SEEDS = st.integers(0, 2**31 - 1)
_SCALES = st.sampled_from((1.0, 0.01, 100.0))
_ROW_SEEDS = st.integers(0, 2**32 - 1)


@functools.cache
def bases() -> st.SearchStrategy[float]:
    """Bases from ~10 to ~1e7: the named ones real models use, and log-uniform others."""
    log_uniform = st.floats(min_value=1.0, max_value=7.0).map(lambda e: float(f"{10.0 ** e:.6g}"))
    return st.one_of(st.sampled_from(NAMED_BASES), log_uniform)


COMMON_HEAD_DIMS = (64, 128, 256, 2, 4, 8, 32, 80, 96)


@functools.lru_cache(maxsize=None)
def head_dims(max_head_dim: int = 256, min_head_dim: int = 2) -> st.SearchStrategy[int]:
    """Even head dims in [min_head_dim, max_head_dim], with the common powers of two favoured."""
    common = [d for d in COMMON_HEAD_DIMS if min_head_dim <= d <= max_head_dim]
    any_even = _even(max(1, (min_head_dim + 1) // 2), max_head_dim // 2)
    return st.one_of(st.sampled_from(common), any_even) if common else any_even


POSITION_BOUNDARIES = (2**11, 2**12, 2**15, 2**16, 2**24, 65504, 65520, 8192, 131072, 2**31)
"""Positions where real RoPE code breaks, drawn on purpose (each with the positions around
it): 2**11 (float16 integers stop being exact), 2**12, 2**15 (int16 wraps), 2**16 (uint16),
2**24 (float32 integers stop being exact), 65504 and 65520 (float16's largest finite value
and the first that rounds to inf), the ``max_position_embeddings`` of real models (sizes of
fixed cos/sin tables: 2048, 4096, 8192, 32768, 131072) and 2**31 (int32 wraps). Those at or past a spec's
max_position are left out; max_position - 1 itself is the ``near_max`` mode."""

TILE_LENGTHS = (63, 64, 65, 127, 128, 129)
"""Sequence lengths at the tiles of 64 and 128 tokens that kernels split the sequence into."""


def _rotary_width_slips(head_dim: int, rotary_dim: int) -> bool:
    """Whether recomputing the rotary width from the fraction ``rotary_dim / head_dim`` goes
    wrong: ``int(head_dim * f)`` (a product just below an integer loses a dim, and
    ``// 2 * 2`` then a pair) or ``round(head_dim * round(f, 2))`` (the fraction written to
    two decimals, as config files do)."""
    f = rotary_dim / head_dim
    return int(head_dim * f) != rotary_dim or round(head_dim * round(f, 2)) != rotary_dim


TRUNCATING_PAIRS = tuple((h, r) for h in range(4, 257, 2) for r in range(2, h, 2) if int(h * (r / h)) != r)
"""(head_dim, rotary_dim) pairs, both even, where ``int(head_dim * (rotary_dim / head_dim))``
is rotary_dim - 1 (e.g. (98, 64): 63.999... -> 63), smallest head_dim first."""

ROUNDING_PAIRS = tuple((h, r) for h in range(4, 257, 2) for r in range(2, h, 2)
                       if round(h * round(r / h, 2)) != r and int(h * (r / h)) == r)
"""(head_dim, rotary_dim) pairs where only the two-decimal fraction slips."""


@functools.lru_cache(maxsize=None)
def _slip_pools(max_head_dim: int) -> st.SearchStrategy | None:
    """The slipping pairs up to max_head_dim: truncating ones twice as often as rounding ones."""
    truncating = tuple(pair for pair in TRUNCATING_PAIRS if pair[0] <= max_head_dim)
    rounding = tuple(pair for pair in ROUNDING_PAIRS if pair[0] <= max_head_dim)
    pools = [st.sampled_from(p) for p in (truncating, truncating, rounding) if p]
    return st.one_of(pools) if pools else None


WIDTH_KINDS = ("whole head", "any width", "slipping pair", "slipping pair")


def _draw_widths(draw, head_dim: int, max_head_dim: int, below: bool = False) -> tuple[int, int]:
    """(head_dim, rotary_dim) as ``rotary_widths`` draws them; ``below``: never the whole head
    (rotary_dim < head_dim), by construction."""
    kinds = WIDTH_KINDS[1:] if below else WIDTH_KINDS
    kind = draw(_sampled(kinds), label="rotary width kind")
    if kind == "whole head":
        return head_dim, head_dim
    top_pairs = head_dim // 2 - 1 if below else head_dim // 2
    slips = _slip_pools(max_head_dim)
    if kind == "any width" and top_pairs >= 1 or slips is None:
        if top_pairs < 1:  # below the whole head of a 2-dim head: the smallest head with a partial width
            return 4, 2
        return head_dim, draw(_even(1, top_pairs), label="rotary_dim")
    return draw(slips, label="(head_dim, rotary_dim) where the width slips")


@st.composite
def rotary_widths(draw, head_dim: int, max_head_dim: int = 256, below: bool = False) -> tuple[int, int]:
    """(head_dim, rotary_dim) for a spec that claims partial rotary: the whole head, any even
    width below it, or (half the time) a pair where recomputing the width from the
    fraction slips (``TRUNCATING_PAIRS``, ``ROUNDING_PAIRS``), which replaces the drawn
    head_dim: a width bug must not wait for a lucky draw. ``below``: never the whole head."""
    return _draw_widths(draw, head_dim, max_head_dim, below)


CONSECUTIVE_MODES = ("from_zero", "row_offsets", "near_max", "boundary")
"""Position modes where every row is offset, offset + 1, ... (``positions = "consecutive"``)."""

SHORT_ROW = 4
"""Arbitrary rows of at most this many tokens draw each position on its own (each shrinks on
its own); longer ones draw a bound and a seed (a few choices per row instead of two per token)."""


@functools.lru_cache(maxsize=256)
def _near(top: int) -> tuple[int, ...]:
    """The positions around every boundary, within [0, top]."""
    return tuple(b + d for b in POSITION_BOUNDARIES for d in (-1, 0, 1) if 0 <= b + d <= top)


@functools.lru_cache(maxsize=256)
def _usable_boundaries(top: int) -> tuple[int, ...]:
    return tuple(b for b in POSITION_BOUNDARIES if b + 1 <= top)


def _arbitrary_row(draw, n: int, top: int, r: int) -> tuple[int, ...]:
    """n independent, unsorted positions in [0, top], half of them (on average) next to a
    boundary. Short rows: two choices per position (near a boundary or not, then which).
    Longer rows: whether the row spans the whole range, else its largest position (shrinks
    toward 0), and a seed for the positions below it."""
    near = _near(top)
    if n <= SHORT_ROW:
        anywhere = _integers(0, top)
        if not near:
            return tuple(draw(anywhere, label=f"row {r} position") for _ in range(n))
        close = _sampled(near)
        return tuple(draw(close, label=f"row {r} position") if draw(_BOOLEANS) else
                     draw(anywhere, label=f"row {r} position") for _ in range(n))
    bound = top if draw(_BOOLEANS, label=f"row {r} spans [0, max_position)") else \
        draw(_integers(0, top), label=f"row {r} largest position")
    rng = random.Random(draw(_ROW_SEEDS, label=f"row {r} seed"))
    rand, span = rng.random, bound + 1
    close = [p for p in near if p <= bound]
    if not close:
        return tuple(int(rand() * span) for _ in range(n))
    count = len(close)
    return tuple(close[int(rand() * count)] if rand() < 0.5 else int(rand() * span) for _ in range(n))


SAME_ROW_MODES = ("from_zero", "near_max")
"""Modes that give rows of equal length the same positions."""


@functools.lru_cache(maxsize=None)
def _modes(consecutive: bool, differing: bool) -> st.SearchStrategy[str]:
    modes = CONSECUTIVE_MODES if consecutive else POSITION_MODES
    return st.sampled_from(tuple(m for m in modes if m not in SAME_ROW_MODES) if differing else modes)


def _draw_rows(draw, lengths: tuple[int, ...], max_position: int, consecutive: bool,
               differing: bool = False) -> tuple[tuple[int, ...], ...]:
    """One row of positions per length, in a drawn mode (see ``positions``); ``differing``
    leaves out the modes that give rows of equal length the same positions."""
    mode = draw(_modes(consecutive, differing), label="position mode")
    top = max_position - 1
    longest = max(lengths, default=0)
    if mode == "from_zero" or longest > max_position:
        return tuple(tuple(p % max_position for p in range(n)) for n in lengths)
    if mode == "row_offsets":
        offsets = _integers(0, max_position - longest)
        return tuple(tuple(range(o, o + n)) for n, o in
                     ((n, draw(offsets, label=f"row {r} offset")) for r, n in enumerate(lengths)))
    if mode in ("arbitrary", "decode"):
        return tuple(_arbitrary_row(draw, n, top, r) for r, n in enumerate(lengths))
    if mode == "boundary":
        # every row a run across the boundary; a shift of 0 starts it at the boundary, so
        # shrinking (shorter rows, smaller shifts) keeps the position that matters
        usable = _usable_boundaries(top)
        boundary = draw(_sampled(usable), label="boundary") if usable else top
        rows = []
        for r, n in enumerate(lengths):
            # the run starts within one token of covering the boundary: boundary - n ... boundary + 1
            lo, hi = max(-n, -boundary), min(1, top - boundary - n + 1)
            shift = draw(_integers(lo, hi), label=f"row {r} start - boundary") if lo <= hi else top - n + 1 - boundary
            rows.append(tuple(range(max(0, boundary + shift), max(0, boundary + shift) + n)))
        return tuple(rows)
    back = draw(_integers(0, min(64, max_position - longest)), label="distance from max")
    return tuple(tuple(range(top - back - n + 1, top - back + 1)) for n in lengths)


def _moved(row: tuple, seen: set, top: int) -> tuple:
    """``row`` moved to a row not in ``seen``: the whole row shifted by 1, -1, 2, -2, ... (a
    run stays a run), else its first position changed; as it is when nothing fits."""
    shift = (lambda p, s: p + s) if not isinstance(row[0], tuple) else (lambda p, s: tuple(a + s for a in p))  # noqa: E731
    flat = [a for p in row for a in (p if isinstance(p, tuple) else (p,))]
    low, high = min(flat), max(flat)
    for k in range(1, top - (high - low) + 1):
        for s in (k, -k):
            if 0 <= low + s and high + s <= top:
                moved = tuple(shift(p, s) for p in row)
                if moved not in seen:
                    return moved
    for value in range(min(top + 1, 2**16)):
        first = tuple(value for _ in row[0]) if isinstance(row[0], tuple) else value
        moved = (first,) + row[1:]
        if moved not in seen:
            return moved
    return row


def distinct_rows(rows: tuple, max_position: int) -> tuple:
    """Rows (sequences) with positions made pairwise different: a row equal to an earlier one
    is moved (``_moved``); empty rows stay empty."""
    seen, out = set(), []
    for row in rows:
        if row and row in seen:
            row = _moved(row, seen, max_position - 1)
        if row:
            seen.add(row)
        out.append(row)
    return tuple(out)


@st.composite
def positions(draw, batch: int, seq: int, max_position: int = DEFAULT_MAX_POSITION, consecutive: bool = False):
    """(batch, seq) positions in [0, max_position) as nested tuples.

    Modes: ``from_zero`` (every row 0..seq-1), ``row_offsets`` (consecutive runs starting
    at a different offset per row: left padding, packed sequences, a KV cache),
    ``arbitrary`` (independent, unsorted), ``decode`` (one token far along),
    ``near_max`` (consecutive runs ending at max_position - 1), ``boundary`` (consecutive
    runs across one of ``POSITION_BOUNDARIES``). ``consecutive`` draws only the modes whose
    rows are consecutive runs.
    """
    return _draw_rows(draw, (seq,) * batch, max_position, consecutive)


@st.composite
def ragged_positions(draw, lengths: tuple[int, ...], max_position: int = DEFAULT_MAX_POSITION,
                     consecutive: bool = False):
    """One row of positions per length (rows may differ in length: packed sequences)."""
    return _draw_rows(draw, tuple(lengths), max_position, consecutive)


SEQUENCE_LENGTHS = st.one_of(st.just(0), st.just(1), st.integers(2, 16), st.integers(2, 16), st.integers(57, 140),
                             st.sampled_from(TILE_LENGTHS))
"""Packed sequence lengths: empty and one-token sequences, short ones, and ones that cross a
kernel's tile of 64 or 128 tokens (so totals run past 64 and 128 with boundaries inside a tile)."""


def _draw_lengths(draw, max_sequences: int, min_sequences: int, min_length: int) -> tuple[int, ...]:
    count = draw(_integers(min_sequences, max(min_sequences, max_sequences)), label="sequences")
    return tuple(max(min_length, draw(SEQUENCE_LENGTHS, label=f"length of sequence {i}")) for i in range(count))


@st.composite
def packed_lengths(draw, max_sequences: int = 5, min_sequences: int = 1, min_length: int = 0):
    """The lengths of the sequences of one packed batch."""
    return _draw_lengths(draw, max_sequences, min_sequences, min_length)


def _nonempty(lengths: tuple[int, ...], at_least: int) -> tuple[int, ...]:
    """``lengths`` with its first empty sequences given one token until ``at_least`` are not empty."""
    missing = at_least - sum(1 for n in lengths if n)
    out = []
    for n in lengths:
        if not n and missing > 0:
            n, missing = 1, missing - 1
        out.append(n)
    return tuple(out)


@functools.lru_cache(maxsize=None)
def _gqa_divisors(heads: int) -> tuple[tuple[str, ...], tuple[int, ...]]:
    divisors = tuple(d for d in range(2, heads) if heads % d == 0)
    return ("MQA", "MHA") + (("GQA",) if divisors else ()), divisors


def _draw_heads(draw, max_heads: int, qk: bool, many_heads: bool) -> tuple[int, int | None]:
    """The layout first, then head counts that have it: GQA is a third of the q/k draws, not
    only the draws whose head count happens to have a proper divisor."""
    options = (8, 16, 32) if many_heads else tuple(range(1, max_heads + 1))
    any_count = _sampled(options) if many_heads else _integers(1, max_heads)
    if not qk:
        return draw(any_count, label="heads"), None
    grouped = tuple(h for h in options if _gqa_divisors(h)[1])
    kind = draw(_sampled(("MQA", "MHA", "GQA") if grouped else ("MQA", "MHA")), label="kv heads")
    if kind == "GQA":
        heads = draw(_sampled(grouped), label="heads")
        return heads, draw(_sampled(_gqa_divisors(heads)[1]), label="GQA kv_heads")
    heads = draw(any_count, label="heads")
    return heads, 1 if kind == "MQA" else heads


@st.composite
def head_counts(draw, max_heads: int = 4, qk: bool = False, many_heads: bool = False):
    """(q or x heads, kv_heads or None): kv_heads is 1 (MQA), a proper divisor (GQA) or all
    of them (MHA)."""
    return _draw_heads(draw, max_heads, qk, many_heads)


ORIGINAL_LENGTHS = (2048, 4096, 8192, 32768, 16, 256)
"""original_max_position_embeddings: real pre-training lengths, and short ones so that the
length-dependent types (dynamic, longrope) switch regime inside small cases too."""


@functools.cache
def factors() -> st.SearchStrategy[float]:
    """Context-extension factors: the ones checkpoints use, and others in [1, 64]."""
    return st.one_of(st.sampled_from((2.0, 4.0, 8.0, 16.0, 32.0, 40.0)),
                     st.floats(1.0, 64.0).map(lambda f: float(f"{f:.4g}")))


_ORIGINALS = st.sampled_from(ORIGINAL_LENGTHS)


class _ParameterDraws:
    """What a ``RopeType.parameters`` function draws with (see ``ropecheck.rope_types``):
    the records do not import Hypothesis or torch; the strategies shared by several types
    (factors, original lengths) live here."""

    st = st
    torch = torch
    booleans = _BOOLEANS
    seeds = _SEEDS
    originals = _ORIGINALS
    integers = staticmethod(_integers)
    sampled = staticmethod(_sampled)

    def __init__(self, draw):
        self.draw = draw
        self.factors = factors()


def _draw_scaling(draw, rope_type: str, rotary_dim: int) -> dict | None:
    return rope_types.get(rope_type).parameters(_ParameterDraws(draw), rotary_dim)


@st.composite
def scalings(draw, rope_type: str, rotary_dim: int) -> dict | None:
    """HF ``rope_parameters`` for one rope_type, over realistic ranges (None for default)."""
    return _draw_scaling(draw, rope_type, rotary_dim)


def layout_fits(kind: str, rotary_dim: int) -> bool:
    """Whether ``rotary_dim`` can hold a multi-axis layout of ``kind`` (its record's ``fits``:
    mrope needs 3 pairs or more, axial a number of pairs divisible by 2 or 3)."""
    return rope_types.get(kind).fits(rotary_dim)


def _draw_layout(draw, kind: str, rotary_dim: int) -> dict | None:
    return rope_types.get(kind).parameters(_ParameterDraws(draw), rotary_dim)


@st.composite
def axis_layouts(draw, kind: str, rotary_dim: int) -> dict | None:
    """A multi-axis layout for ``rotary_dim``: ``mrope`` sections or the ``axial`` form;
    None when rotary_dim cannot hold one (``layout_fits``)."""
    return _draw_layout(draw, kind, rotary_dim)


@functools.lru_cache(maxsize=None)
def _layout_head_dims(kind: str, max_head_dim: int, partial: bool, below: bool) -> st.SearchStrategy[int]:
    """Head dims that can hold a layout of ``kind``: the whole head when not ``partial``, some
    width at or (``below``) under it otherwise, drawn like ``head_dims``."""
    layout = rope_types.get(kind)
    if layout.every_wider_fits or partial:
        smallest = layout.smallest_width
        return head_dims(max_head_dim, min_head_dim=smallest + 2 if below else smallest)
    fits = tuple(h for h in range(4, max_head_dim + 1, 2) if layout_fits(kind, h))
    common = [d for d in COMMON_HEAD_DIMS if d in fits]
    return st.one_of(st.sampled_from(common), st.sampled_from(fits)) if common else st.sampled_from(fits)


@functools.lru_cache(maxsize=None)
def _layout_widths(kind: str, head_dim: int, below: bool) -> tuple[int, ...]:
    return tuple(d for d in range(2, head_dim if below else head_dim + 1, 2) if layout_fits(kind, d))


def _draw_config(draw, head_dim: int, pairing: str, base: float | str, partial: bool, scaling: tuple[str, ...],
                 rotary_dim: int | None, layout: str | None = None, below: bool = False) -> RopeConfig:
    chosen_base = draw(bases(), label="base") if base == "any" else float(base)
    if rotary_dim is not None:
        pass
    elif layout is not None:  # a width that holds the layout (the head does: see _layout_head_dims)
        widths = _layout_widths(layout, head_dim, below)
        if not partial:
            rotary_dim = head_dim
        elif below:
            rotary_dim = draw(_sampled(widths), label="rotary_dim")
        else:  # the whole head a third of the time
            whole = draw(_integers(0, 2), label="whole head") == 0 and layout_fits(layout, head_dim)
            rotary_dim = head_dim if whole else draw(_sampled(widths), label="rotary_dim")
    elif not partial:
        rotary_dim = head_dim
    elif below:
        rotary_dim = draw(_even(1, head_dim // 2 - 1), label="rotary_dim")
    else:  # the whole head a third of the time: full-rotary fast paths get their share
        rotary_dim = draw(_whole_or_partial(head_dim), label="rotary_dim")
    params = None
    if layout is not None:
        params = {"rope_type": "default", **_draw_layout(draw, layout, rotary_dim)}
    elif scaling:
        rope_type = draw(_rope_types(scaling), label="rope_type")
        params = _draw_scaling(draw, rope_type, rotary_dim)
    return RopeConfig(base=chosen_base, rotary_dim=rotary_dim, pairing=pairing, scaling=params, head_dim=head_dim)


@functools.lru_cache(maxsize=None)
def _whole_or_partial(head_dim: int) -> st.SearchStrategy[int]:
    """rotary_dim: the whole head a third of the time, else any even width up to it."""
    partial_dims = _even(1, head_dim // 2)
    return st.one_of(st.just(head_dim), partial_dims, partial_dims)


@functools.lru_cache(maxsize=None)
def _rope_types(scaling: tuple[str, ...]) -> st.SearchStrategy[str]:
    return st.one_of(st.just("default"), st.sampled_from(scaling))


@st.composite
def configs(
    draw,
    head_dim: int,
    pairing: str = "half_split",
    base: float | str = "any",
    partial: bool = False,
    scaling: tuple[str, ...] = (),
    multi_axis: tuple[str, ...] = (),
    rotary_dim: int | None = None,
):
    """A ``RopeConfig`` for one head_dim: base drawn when ``base == "any"``, rotary_dim
    drawn below head_dim when ``partial`` (unless given); a rope_type drawn from ``("default",) + scaling``
    (default half the time); a multi-axis layout from ``multi_axis`` when it is non-empty
    (a kind whose layout head_dim cannot hold is not drawn; none: ``assume`` fails)."""
    layout = None
    if multi_axis:
        fits = tuple(k for k in multi_axis if _layout_widths(k, head_dim, False))
        assume(fits)
        layout = draw(_sampled(fits), label="axis layout")
        if rotary_dim is None and not partial and not layout_fits(layout, head_dim):
            assume(False)
    return _draw_config(draw, head_dim, pairing, base, partial, scaling, rotary_dim, layout)


@functools.lru_cache(maxsize=None)
def _seq_lengths(min_seq: int, max_seq: int, long_seq: int) -> st.SearchStrategy[int]:
    """seq: mostly in [min_seq, max_seq]; now and then up to long_seq, and the tile lengths."""
    short = st.integers(min_seq, max_seq)
    if long_seq <= max_seq:
        return short
    tiles = [n for n in TILE_LENGTHS if min_seq <= n <= long_seq]
    long = st.integers(max(min_seq, max_seq + 1), max(long_seq, max_seq + 1))
    return st.one_of(short, short, short, long, st.sampled_from(tiles) if tiles else long)


_FUSED_LABEL = "fused qkv buffer"


def rope_cases(
    dtypes: tuple[str, ...] = tuple(DTYPES),
    pairing: str = "half_split",
    base: float | str = "any",
    partial: bool = False,
    max_position: int = DEFAULT_MAX_POSITION,
    max_head_dim: int = 256,
    max_batch: int = 3,
    max_seq: int = 16,
    max_heads: int = 4,
    min_seq: int = 1,
    long_seq: int = 320,
    min_batch: int = 1,
    scaling: tuple[str, ...] = (),
    multi_axis: tuple[str, ...] = (),
    qk: bool = False,
    packed: bool = False,
    consecutive: bool = False,
    fused: bool | None = None,
    many_heads: bool = False,
    partial_only: bool = False,
    distinct: bool = False,
) -> st.SearchStrategy[RopeCase]:
    """Whole inputs: shape, dtype, config, positions and values, in the spec's form.

    seq is mostly in [min_seq, max_seq]; now and then up to ``long_seq``, so kernels that
    tile the sequence (blocks of 64 or 128 tokens) meet more than one tile. ``qk`` draws
    kv_heads and (unless ``fused`` is given) q and k separate or fused; ``packed`` draws
    ragged sequences (at least ``min_batch``, each at least ``min_seq`` tokens when
    ``min_seq`` > 1); ``consecutive`` draws only consecutive rows (one offset each).
    By construction, not by filtering: ``partial_only`` (with ``partial``) draws rotary_dim
    below head_dim; ``distinct`` draws at least two non-empty rows (sequences) whose
    positions all differ (rows of equal length: in the modes where rows can differ; a row drawn
    equal to another is moved, ``distinct_rows``). The strategy is built once per set of arguments.
    """
    return _rope_cases(tuple(dtypes), pairing, base, partial, max_position, max_head_dim, max_batch, max_seq,
                       max_heads, min_seq, long_seq, min_batch, tuple(scaling), tuple(multi_axis), qk, packed,
                       consecutive, fused, many_heads, partial_only, distinct)


@functools.lru_cache(maxsize=None)
def _rope_cases(*args) -> st.SearchStrategy[RopeCase]:
    return _draw_case_strategy(*args)


@st.composite
def _draw_case_strategy(draw, dtypes, pairing, base, partial, max_position, max_head_dim, max_batch, max_seq,
                        max_heads, min_seq, long_seq, min_batch, scaling, multi_axis, qk, packed, consecutive, fused,
                        many_heads, partial_only, distinct):
    below = partial and partial_only
    if packed:
        lengths = _draw_lengths(draw, max(min_batch, max_batch + 2), min_batch, min_seq if min_seq > 1 else 0)
        if distinct:
            lengths = _nonempty(lengths, 2)
        batch, seq = len(lengths), max(lengths)
    else:
        lengths = None
        batch = draw(_integers(min_batch, max(min_batch, max_batch)), label="batch")
        seq = draw(_seq_lengths(min_seq, max_seq, long_seq), label="seq")
    heads, kv_heads = _draw_heads(draw, max_heads, qk, many_heads)
    layout = draw(_sampled(multi_axis), label="axis layout") if multi_axis else None
    if layout is None:
        head_dim = draw(head_dims(max_head_dim), label="head_dim")
    else:
        head_dim = draw(_layout_head_dims(layout, max_head_dim, partial, below), label="head_dim")
    rotary_dim = None
    if partial and not multi_axis:
        head_dim, rotary_dim = _draw_widths(draw, head_dim, max_head_dim, below)
    dtype = draw(_sampled(dtypes), label="dtype")
    config = _draw_config(draw, head_dim, pairing, base, partial, scaling, rotary_dim, layout, below)
    rows = lengths if packed else (seq,) * batch
    differing = distinct and not packed  # packed rows differ in length too: every mode can give distinct rows
    if config.axes > 1:
        pos = _draw_axis_positions(draw, rows, config.axes, max_position, consecutive, differing)
    else:
        pos = _draw_rows(draw, rows, max_position, consecutive, differing)
    if distinct:
        pos = distinct_rows(pos, max_position)
    seed = draw(_SEEDS, label="seed")
    scale = draw(_SCALES, label="scale")
    is_fused = bool(qk and (draw(_BOOLEANS, label=_FUSED_LABEL) if fused is None else fused))
    return RopeCase(batch, seq, heads, head_dim, dtype, config, pos, seed, scale, kv_heads=kv_heads,
                    lengths=lengths, fused=is_fused)


def _draw_axis_positions(draw, lengths: tuple[int, ...], axes: int, max_position: int, consecutive: bool,
                         differing: bool = False):
    if draw(_BOOLEANS, label="text tokens (all axes equal)"):
        rows = _draw_rows(draw, lengths, max_position, consecutive, differing)
        return tuple(tuple((p,) * axes for p in row) for row in rows)
    per_axis = [_draw_rows(draw, lengths, max_position, consecutive, differing) for _ in range(axes)]
    return tuple(tuple(tuple(per_axis[a][b][t] for a in range(axes)) for t in range(n)) for b, n in enumerate(lengths))


@st.composite
def axis_positions(draw, lengths: tuple[int, ...], axes: int, max_position: int = DEFAULT_MAX_POSITION,
                   consecutive: bool = False):
    """One row of (axes,)-tuples per length (``(batch, seq, axes)`` when the rows are equal):
    each axis drawn like 1-D positions, or (Qwen2-VL text tokens) the same position on every axis."""
    return _draw_axis_positions(draw, tuple(lengths), axes, max_position, consecutive)


def log2_position(case: RopeCase) -> float:
    """log2 of the largest position in a case (for ``hypothesis.event`` statistics)."""
    top = max((p for row in case.positions for p in row), default=0)
    return math.log2(top + 1)


def boundary_cases(dtypes: tuple[str, ...] = tuple(DTYPES), pairing: str = "half_split", base: float | str = "any",
                   partial: bool = False, max_position: int = DEFAULT_MAX_POSITION, qk: bool = False,
                   packed: bool = False, multi_axis: tuple[str, ...] = (), **_ignored) -> list[RopeCase]:
    """Fixed cases that put the places where real code breaks in front of a property on every
    run, whatever the seed (Hypothesis's explicit examples), besides the draws:

    - every claimed dtype: one row (one sequence when packed) per boundary of
      ``POSITION_BOUNDARIES`` below max_position and max_position - 1, each the three
      positions around it (runs, so they fit ``positions = "consecutive"``);
    - in the first claimed dtype: a decode step (batch 3, one token each, at different
      boundaries), a sequence of 129 tokens from 0 (past tiles of 64 and 128) and, when
      partial rotary is claimed, head_dim/rotary_dim pairs where recomputing the width slips
      ((98, 64): int truncation; (106, 44): a two-decimal fraction).

    x: heads 2; q/k: 4 q heads and 2 kv heads (GQA). Empty for multi-axis specs (their
    positions have another shape) and for max_position < 3.
    """
    top = max_position - 1
    if multi_axis or top < 2 or not dtypes:
        return []
    centres = sorted({b for b in POSITION_BOUNDARIES if b + 1 <= top} | {top - 1})
    runs = tuple(tuple(range(c - 1, c + 2)) for c in centres)
    chosen_base = 10000.0 if base == "any" else float(base)
    heads, kv_heads = (4, 2) if qk else (2, None)

    def case(dtype: str, rows: tuple[tuple[int, ...], ...], head_dim: int = 64, rotary_dim: int = 64) -> RopeCase:
        config = RopeConfig(base=chosen_base, rotary_dim=rotary_dim, pairing=pairing, head_dim=head_dim)
        lengths = tuple(len(r) for r in rows) if packed else None
        return RopeCase(len(rows), max(len(r) for r in rows), heads, head_dim, dtype, config, rows, seed=0,
                        kv_heads=kv_heads, lengths=lengths)

    found = [case(dtype, runs) for dtype in dtypes]
    first = dtypes[0]
    decode = tuple((c,) for c in (centres[0], centres[len(centres) // 2], centres[-1]))
    found.append(case(first, decode))
    if top >= 128:
        found.append(case(first, (tuple(range(129)),)))
    if partial:
        found += [case(first, runs, 98, 64), case(first, runs, 106, 44)]
    return found


SERVING_HEADS = (32, 8)
"""Serving-size heads: 32 (x, or q) and 8 kv heads for q/k (GQA, as Llama 3 8B)."""
SERVING_HEAD_DIM = 128
SERVING_TOKENS = {"x": 4096, "qk": 8192}
"""Tokens of a serving-size prefill: with 32 heads x has 131072 (token, head) rows, q 262144
and k's 8 heads 65536: each past 65535, a CUDA grid's y and z limit (a kernel that puts
(token, head) rows on one of those dims fails only past it)."""
SERVING_ROW = 2048
"""Tokens per row (sequence) of the prefill: a common context length."""
SERVING_DECODE_ROWS = 2049
"""Sequences of a serving-size decode step, one token each: 2049 x 32 = 65568 (token, head) rows."""
GRID_LIMIT = 65535


def serving_cases(dtypes: tuple[str, ...] = tuple(DTYPES), pairing: str = "half_split", base: float | str = "any",
                  partial: bool = False, max_position: int = DEFAULT_MAX_POSITION, qk: bool = False,
                  packed: bool = False, multi_axis: tuple[str, ...] = (), **_ignored) -> dict[str, list[RopeCase]]:
    """Fixed cases at serving sizes (the ``dev`` and ``thorough`` profiles): some kernel bugs
    appear only past a grid limit or a tile count that small cases never reach. head_dim
    128, 32 heads (q/k: 32 q heads and 8 kv heads), positions below max_position:

    - ``prefill``, every claimed dtype: ``SERVING_TOKENS`` tokens in rows of
      ``SERVING_ROW`` (fewer when max_position is smaller, and more rows), the first row
      from position 0, the others further along, the last ending at max_position - 1;
    - ``decode``, the first dtype: ``SERVING_DECODE_ROWS`` sequences of one token each, at
      positions spread over [0, max_position);
    - ``partial``, the first dtype, when partial rotary is claimed: the prefill with
      rotary_dim 64.

    Packed: one sequence per row (cu_seqlens). Multi-axis: text tokens (the same position on
    every axis) with the first claimed layout (M-RoPE: Qwen2-VL's sections 16, 24, 24).
    Values are ``torch.randn`` in float64 as for every case: these cost seconds, not ms.
    """
    if not dtypes or max_position < 1:
        return {}
    top = max_position - 1
    heads, kv_heads = SERVING_HEADS if qk else (SERVING_HEADS[0], None)
    tokens = SERVING_TOKENS["qk" if qk else "x"]
    seq = min(SERVING_ROW, max_position)
    batch = -(-tokens // seq)
    starts = [r * (max_position - seq) // max(batch - 1, 1) for r in range(batch)]
    prefill = tuple(tuple(range(s, s + seq)) for s in starts)
    # spread over [0, max_position) (distinct when there is room), in a scrambled order
    spread = [r * top // (SERVING_DECODE_ROWS - 1) for r in range(SERVING_DECODE_ROWS)]
    decode = tuple((spread[r * 1000 % SERVING_DECODE_ROWS],) for r in range(SERVING_DECODE_ROWS))
    chosen_base = 10000.0 if base == "any" else float(base)
    layout = None
    if multi_axis:
        layout = dict(rope_types.get(multi_axis[0]).serving)

    def case(dtype: str, rows: tuple[tuple[int, ...], ...], rotary_dim: int = SERVING_HEAD_DIM) -> RopeCase:
        config = RopeConfig(base=chosen_base, rotary_dim=rotary_dim, pairing=pairing, scaling=layout,
                            head_dim=SERVING_HEAD_DIM)
        if config.axes > 1:
            rows = tuple(tuple((p,) * config.axes for p in row) for row in rows)
        lengths = tuple(len(r) for r in rows) if packed else None
        return RopeCase(len(rows), max(len(r) for r in rows), heads, SERVING_HEAD_DIM, dtype, config, rows, seed=0,
                        kv_heads=kv_heads, lengths=lengths)

    found = {"prefill": [case(dtype, prefill) for dtype in dtypes], "decode": [case(dtypes[0], decode)]}
    if partial and layout is None:
        found["partial"] = [case(dtypes[0], prefill, SERVING_HEAD_DIM // 2)]
    return found
