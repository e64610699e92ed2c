"""Hypothesis strategies for RoPE inputs: every test and property draws from here.

A drawn ``RopeCase`` holds the shape, the config, the dtype, the positions and a seed for
the values of x, so a counterexample prints as a short, exact, reproducible record
(``RopeCase.repro()``), however large the tensors.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass, field, replace

import torch
from hypothesis import assume
from hypothesis import strategies as st

from ropecheck.config import RopeConfig
from ropecheck.tolerance import DTYPES

DEFAULT_MAX_POSITION = 2**17
NAMED_BASES = (10000.0, 500000.0, 1000000.0, 10.0, 1e7, 1000.0)
POSITION_MODES = ("from_zero", "row_offsets", "arbitrary", "decode", "near_max", "boundary")


@dataclass(frozen=True)
class Inputs:
    """The tensors of one call, as the spec's form passes them (CONTRACT §1 and §4).

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
    ``batch`` is the number of sequences and ``seq`` the longest.
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
    extra: dict = field(default_factory=dict, compare=False, hash=False)

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
        gen = torch.Generator().manual_seed(self.seed)
        heads = (self.heads,) if not self.qk else (self.heads, self.kv_heads, self.kv_heads)
        drawn = [torch.randn(self.tokens + (h, self.head_dim), generator=gen, dtype=torch.float64) * self.scale
                 for h in heads]
        cast = [t.to(self.torch_dtype).to(device) for t in drawn]
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
            + (f", extra={self.extra!r})" if self.extra else ")")
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
            + "".join(f" {k}={v}" for k, v in self.extra.items() if k != "history")
            + "".join(f"; after call {i + 1}: {earlier.brief()}" for i, earlier in enumerate(self.extra.get("history", ())))
        )

    def brief(self) -> str:
        """A few words for one call of a call history: dtype, shape, base, rotary_dim, positions."""
        flat = [p for row in self.positions for p in row]
        if flat and isinstance(flat[0], tuple):
            flat = [p for token in flat for p in token]
        span = f"positions {min(flat)}..{max(flat)}" if flat else "no positions"
        return (f"{self.dtype} shape={self.shape} base={self.config.base:g} rotary_dim={self.config.rotary_dim} "
                f"{span}")


def bases() -> st.SearchStrategy[float]:
    """Bases from ~10 to ~1e7: the named ones real models use, and log-uniform others."""
    log_uniform = st.floats(min_value=1.0, max_value=7.0).map(lambda e: float(f"{10.0 ** e:.6g}"))
    return st.one_of(st.sampled_from(NAMED_BASES), log_uniform)


def head_dims(max_head_dim: int = 256) -> st.SearchStrategy[int]:
    """Even head dims in [2, max_head_dim], with the common powers of two favoured."""
    common = [d for d in (64, 128, 256, 2, 4, 8, 32, 80, 96) if d <= max_head_dim]
    return st.one_of(st.sampled_from(common), st.integers(1, max_head_dim // 2).map(lambda h: 2 * h))


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


@st.composite
def rotary_widths(draw, head_dim: int, max_head_dim: int = 256) -> tuple[int, int]:
    """(head_dim, rotary_dim) for a spec that claims partial rotary: the whole head, any even
    width below it, or (half the time) a pair where recomputing the width from the
    fraction slips (``TRUNCATING_PAIRS``, ``ROUNDING_PAIRS``), which replaces the drawn
    head_dim: a width bug must not wait for a lucky draw."""
    partial_dims = st.integers(1, head_dim // 2).map(lambda h: 2 * h)
    kind = draw(st.sampled_from(("whole head", "any width", "slipping pair", "slipping pair")), label="rotary width kind")
    if kind == "whole head":
        return head_dim, head_dim
    if kind == "any width":
        return head_dim, draw(partial_dims, label="rotary_dim")
    truncating = [pair for pair in TRUNCATING_PAIRS if pair[0] <= max_head_dim]
    rounding = [pair for pair in ROUNDING_PAIRS if pair[0] <= max_head_dim]
    pool = draw(st.sampled_from([p for p in (truncating, truncating, rounding) if p]), label="slip kind") \
        if truncating or rounding else None
    if pool is None:
        return head_dim, draw(partial_dims, label="rotary_dim")
    return draw(st.sampled_from(pool), label="(head_dim, rotary_dim) where the width slips")


CONSECUTIVE_MODES = ("from_zero", "row_offsets", "near_max", "boundary")
"""Position modes where every row is offset, offset + 1, ... (``positions = "consecutive"``)."""


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
    return draw(ragged_positions((seq,) * batch, max_position, consecutive))


@st.composite
def ragged_positions(draw, lengths: tuple[int, ...], max_position: int = DEFAULT_MAX_POSITION,
                     consecutive: bool = False):
    """One row of positions per length (rows may differ in length: packed sequences)."""
    mode = draw(st.sampled_from(CONSECUTIVE_MODES if consecutive else POSITION_MODES), label="position mode")
    top = max_position - 1
    longest = max(lengths, default=0)
    if mode == "from_zero" or longest > max_position:
        rows = [tuple(p % max_position for p in range(n)) for n in lengths]
    elif mode == "row_offsets":
        rows = [tuple(range(o, o + n)) for n, o in zip(lengths, draw(
            st.lists(st.integers(0, max_position - longest), min_size=len(lengths), max_size=len(lengths)),
            label="row offsets"))]
    elif mode in ("arbitrary", "decode"):
        near = [b + d for b in POSITION_BOUNDARIES for d in (-1, 0, 1) if 0 <= b + d <= top]
        cell = st.one_of(st.integers(0, top), st.sampled_from(near)) if near else st.integers(0, top)
        rows = [tuple(draw(st.lists(cell, min_size=n, max_size=n), label=f"row {r}")) for r, n in enumerate(lengths)]
    elif mode == "boundary":
        # every row a run across the boundary; a shift of 0 starts it at the boundary, so
        # shrinking (shorter rows, smaller shifts) keeps the position that matters
        usable = [b for b in POSITION_BOUNDARIES if b + 1 <= top]
        boundary = draw(st.sampled_from(usable), label="boundary") if usable else top
        rows = []
        for r, n in enumerate(lengths):
            # the run starts within one token of covering the boundary: boundary - n ... boundary + 1
            lo, hi = max(-n, -boundary), min(1, top - boundary - n + 1)
            shift = draw(st.integers(lo, hi), label=f"row {r} start - boundary") if lo <= hi else top - n + 1 - boundary
            rows.append(tuple(range(max(0, boundary + shift), max(0, boundary + shift) + n)))
    else:
        back = draw(st.integers(0, min(64, max_position - longest)), label="distance from max")
        rows = [tuple(range(top - back - n + 1, top - back + 1)) for n in lengths]
    return tuple(rows)


SEQUENCE_LENGTHS = st.one_of(st.just(0), st.just(1), st.integers(2, 16), st.integers(2, 16), st.integers(57, 140),
                             st.sampled_from(TILE_LENGTHS))
"""Packed sequence lengths: empty and one-token sequences, short ones, and ones that cross a
kernel's tile of 64 or 128 tokens (so totals run past 64 and 128 with boundaries inside a tile)."""


@st.composite
def packed_lengths(draw, max_sequences: int = 5, min_sequences: int = 1, min_length: int = 0):
    """The lengths of the sequences of one packed batch."""
    count = draw(st.integers(min_sequences, max(min_sequences, max_sequences)), label="sequences")
    return tuple(max(min_length, draw(SEQUENCE_LENGTHS, label=f"length of sequence {i}")) for i in range(count))


@st.composite
def head_counts(draw, max_heads: int = 4, qk: bool = False, many_heads: bool = False):
    """(q or x heads, kv_heads or None): kv_heads is 1 (MQA), a proper divisor (GQA) or all
    of them (MHA)."""
    heads = draw(st.sampled_from((8, 16, 32)) if many_heads else st.integers(1, max_heads), label="heads")
    if not qk:
        return heads, None
    divisors = [d for d in range(2, heads) if heads % d == 0]
    kinds = ["MQA", "MHA"] + (["GQA"] if divisors else [])
    kind = draw(st.sampled_from(kinds), label="kv heads")
    kv = 1 if kind == "MQA" else heads if kind == "MHA" else draw(st.sampled_from(divisors), label="GQA kv_heads")
    return heads, kv


ORIGINAL_LENGTHS = (2048, 4096, 8192, 32768, 16, 256)
"""original_max_position_embeddings: real pre-training lengths, and short ones so that the
length-dependent types (dynamic, longrope) switch regime inside small cases too."""


def factors() -> st.SearchStrategy[float]:
    """Context-extension factors: the ones checkpoints use, and others in [1, 64]."""
    return st.one_of(st.sampled_from((2.0, 4.0, 8.0, 16.0, 32.0, 40.0)),
                     st.floats(1.0, 64.0).map(lambda f: float(f"{f:.4g}")))


@st.composite
def scalings(draw, rope_type: str, rotary_dim: int) -> dict | None:
    """HF ``rope_parameters`` for one rope_type, over realistic ranges (None for default)."""
    if rope_type == "default":
        return None
    params = {"rope_type": rope_type}
    if rope_type != "longrope":
        params["factor"] = draw(factors(), label="factor")
    if rope_type in ("dynamic", "yarn", "llama3", "longrope"):
        params["original_max_position_embeddings"] = draw(st.sampled_from(ORIGINAL_LENGTHS), label="original length")
    if rope_type == "yarn":
        if draw(st.booleans(), label="yarn betas given"):
            params["beta_fast"] = draw(st.sampled_from((32.0, 16.0, 64.0, 8.0)), label="beta_fast")
            params["beta_slow"] = draw(st.sampled_from((1.0, 2.0, 0.5)), label="beta_slow")
        params["truncate"] = draw(st.booleans(), label="truncate")
        how = draw(st.sampled_from(("default", "attention_factor", "mscale")), label="yarn attention factor")
        if how == "attention_factor":
            params["attention_factor"] = draw(st.floats(0.5, 2.0).map(lambda a: float(f"{a:.4g}")), label="attention_factor")
        elif how == "mscale":  # DeepSeek-V3 style
            params["mscale"] = draw(st.sampled_from((1.0, 0.707)), label="mscale")
            params["mscale_all_dim"] = draw(st.sampled_from((1.0, 0.707, 0.0)), label="mscale_all_dim")
    if rope_type == "llama3":
        params["low_freq_factor"] = draw(st.sampled_from((1.0, 0.5, 2.0)), label="low_freq_factor")
        params["high_freq_factor"] = params["low_freq_factor"] * draw(st.sampled_from((4.0, 2.0, 8.0)), label="band ratio")
    if rope_type == "longrope":
        pairs = rotary_dim // 2
        seed = draw(st.integers(0, 2**31 - 1), label="longrope factors seed")
        gen = torch.Generator().manual_seed(seed)
        grow = lambda top: torch.linspace(1.0, top, pairs) * (1 + 0.1 * torch.rand(pairs, generator=gen))  # noqa: E731
        params["short_factor"] = tuple(float(f"{f:.4g}") for f in grow(draw(st.floats(1.0, 4.0), label="short top")))
        params["long_factor"] = tuple(float(f"{f:.4g}") for f in grow(draw(st.floats(1.0, 64.0), label="long top")))
        if draw(st.booleans(), label="longrope factor given"):
            params["factor"] = draw(factors(), label="factor")
    return params


@st.composite
def axis_layouts(draw, kind: str, rotary_dim: int) -> dict | None:
    """A multi-axis layout for ``rotary_dim``: ``mrope`` sections or seed 000's ``axial``;
    None when rotary_dim cannot hold one."""
    pairs = rotary_dim // 2
    if kind == "mrope":
        if pairs < 3:
            return None
        if pairs == 64 and draw(st.booleans(), label="qwen2-vl sections"):
            return {"mrope_section": (16, 24, 24)}
        cuts = sorted(draw(st.lists(st.integers(1, pairs - 1), min_size=2, max_size=2, unique=True), label="section cuts"))
        return {"mrope_section": (cuts[0], cuts[1] - cuts[0], pairs - cuts[1])}
    choices = [a for a in (2, 3) if pairs % a == 0]
    return {"axes": draw(st.sampled_from(choices), label="axes")} if choices else None


@st.composite
def axis_positions(draw, lengths: tuple[int, ...], axes: int, max_position: int = DEFAULT_MAX_POSITION,
                   consecutive: bool = False):
    """One row of (axes,)-tuples per length (``(batch, seq, axes)`` when the rows are equal):
    each axis drawn like 1-D positions, or (Qwen2-VL text tokens) the same position on every axis."""
    if draw(st.booleans(), label="text tokens (all axes equal)"):
        rows = draw(ragged_positions(lengths, max_position, consecutive), label="positions")
        return tuple(tuple((p,) * axes for p in row) for row in rows)
    per_axis = [draw(ragged_positions(lengths, max_position, consecutive), label=f"axis {a}") for a in range(axes)]
    return tuple(tuple(tuple(per_axis[a][b][t] for a in range(axes)) for t in range(n)) for b, n in enumerate(lengths))


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
    (default half the time); a multi-axis layout from ``multi_axis`` when it is non-empty."""
    chosen_base = draw(bases(), label="base") if base == "any" else float(base)
    if rotary_dim is not None:
        pass
    elif not partial:
        rotary_dim = head_dim
    else:  # the whole head a third of the time: full-rotary fast paths get their share
        partial_dims = st.integers(1, head_dim // 2).map(lambda h: 2 * h)
        rotary_dim = draw(st.one_of(st.just(head_dim), partial_dims, partial_dims), label="rotary_dim")
    params = None
    if multi_axis:
        params = draw(axis_layouts(draw(st.sampled_from(multi_axis), label="axis layout"), rotary_dim), label="layout")
        assume(params is not None)
        params = {"rope_type": "default", **params}
    elif scaling:
        rope_type = draw(st.one_of(st.just("default"), st.sampled_from(scaling)), label="rope_type")
        params = draw(scalings(rope_type, rotary_dim), label="scaling")
    return RopeConfig(base=chosen_base, rotary_dim=rotary_dim, pairing=pairing, scaling=params, head_dim=head_dim)


@st.composite
def rope_cases(
    draw,
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
):
    """Whole inputs: shape, dtype, config, positions and values, in the spec's form.

    seq is mostly in [min_seq, max_seq]; now and then up to ``long_seq``, so kernels that
    tile the sequence (blocks of 64 or 128 tokens) meet more than one tile. ``qk`` draws
    kv_heads and (unless ``fused`` is given) q and k separate or fused; ``packed`` draws
    ragged sequences (at least ``min_batch``, each at least ``min_seq`` tokens when
    ``min_seq`` > 1); ``consecutive`` draws only consecutive rows (one offset each).
    """
    if packed:
        lengths = draw(packed_lengths(max_sequences=max(min_batch, max_batch + 2), min_sequences=min_batch,
                                      min_length=min_seq if min_seq > 1 else 0), label="lengths")
        batch, seq = len(lengths), max(lengths)
    else:
        lengths = None
        batch = draw(st.integers(min_batch, max(min_batch, max_batch)), label="batch")
        short = st.integers(min_seq, max_seq)
        tiles = [n for n in TILE_LENGTHS if min_seq <= n <= long_seq]
        long = st.integers(max(min_seq, max_seq + 1), max(long_seq, max_seq + 1))
        seq = draw(st.one_of(short, short, short, long, st.sampled_from(tiles) if tiles else long)
                   if long_seq > max_seq else short, label="seq")
    heads, kv_heads = draw(head_counts(max_heads, qk, many_heads), label="heads")
    head_dim = draw(head_dims(max_head_dim), label="head_dim")
    rotary_dim = None
    if partial and not multi_axis:
        head_dim, rotary_dim = draw(rotary_widths(head_dim, max_head_dim), label="widths")
    dtype = draw(st.sampled_from(dtypes), label="dtype")
    config = draw(configs(head_dim, pairing=pairing, base=base, partial=partial, scaling=scaling,
                          multi_axis=multi_axis, rotary_dim=rotary_dim), label="config")
    rows = lengths if packed else (seq,) * batch
    if config.axes > 1:
        pos = draw(axis_positions(rows, config.axes, max_position, consecutive), label="positions")
    else:
        pos = draw(ragged_positions(rows, max_position, consecutive), label="positions")
    seed = draw(st.integers(0, 2**31 - 1), label="seed")
    scale = draw(st.sampled_from((1.0, 0.01, 100.0)), label="scale")
    is_fused = bool(qk and (draw(st.booleans(), label="fused qkv buffer") if fused is None else fused))
    return RopeCase(batch, seq, heads, head_dim, dtype, config, pos, seed, scale, kv_heads=kv_heads,
                    lengths=lengths, fused=is_fused)


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
