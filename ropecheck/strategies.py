"""Hypothesis strategies for RoPE inputs: every test and property draws from here.

A drawn ``RopeCase`` holds the shape, the config, the dtype, the positions and a seed for
the values of x, so a counterexample prints as a short, exact, reproducible record
(``RopeCase.repro()``), however large the tensors.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import torch
from hypothesis import assume
from hypothesis import strategies as st

from ropecheck.config import RopeConfig
from ropecheck.tolerance import DTYPES

DEFAULT_MAX_POSITION = 2**17
NAMED_BASES = (10000.0, 500000.0, 1000000.0, 10.0, 1e7, 1000.0)
POSITION_MODES = ("from_zero", "row_offsets", "arbitrary", "decode", "near_max")


@dataclass(frozen=True)
class RopeCase:
    """One input to a RoPE implementation, described compactly.

    x has shape (batch, seq, heads, head_dim) and values ``scale * N(0, 1)`` drawn from
    ``torch.Generator().manual_seed(seed)`` in float64, then cast to ``dtype``.
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
    extra: dict = field(default_factory=dict, compare=False, hash=False)

    @property
    def shape(self) -> tuple[int, int, int, int]:
        return (self.batch, self.seq, self.heads, self.head_dim)

    @property
    def torch_dtype(self) -> torch.dtype:
        return DTYPES[self.dtype]

    def make_x(self, device: str | torch.device = "cpu") -> torch.Tensor:
        """(batch, seq, heads, head_dim) tensor of ``dtype`` on ``device``."""
        gen = torch.Generator().manual_seed(self.seed)
        x = torch.randn(self.shape, generator=gen, dtype=torch.float64) * self.scale
        return x.to(self.torch_dtype).to(device)

    def make_positions(self, device: str | torch.device = "cpu") -> torch.Tensor:
        """(batch, seq) int64 tensor on ``device``; (batch, seq, axes) for multi-axis configs."""
        shape = (self.batch, self.seq) + ((self.config.axes,) if self.config.axes > 1 else ())
        return torch.tensor(self.positions, dtype=torch.int64, device=device).reshape(shape)

    def repro(self) -> str:
        """A Python expression that rebuilds this case."""
        c = self.config
        scaling = None if c.scaling is None else dict(c.scaling)
        return (
            f"RopeCase(batch={self.batch}, seq={self.seq}, heads={self.heads}, head_dim={self.head_dim}, "
            f"dtype={self.dtype!r}, config=RopeConfig(base={c.base!r}, rotary_dim={c.rotary_dim}, "
            f"pairing={c.pairing!r}, scaling={scaling!r}, head_dim={c.head_dim}), "
            f"positions={self.positions!r}, seed={self.seed}, scale={self.scale!r}"
            + (f", extra={self.extra!r})" if self.extra else ")")
        )

    def summary(self) -> str:
        """One line for reports: shape, dtype, config and positions."""
        pos = self.positions
        flat = [p for row in pos for p in row]
        if flat and isinstance(flat[0], tuple):  # multi-axis: (batch, seq, axes)
            flat = [p for token in flat for p in token]
        pos_text = repr(pos) if len(flat) <= 16 else f"{len(flat)} positions in [{min(flat)}, {max(flat)}], rows start {[r[0] for r in pos]}"
        return (
            f"shape={self.shape} dtype={self.dtype} base={self.config.base:g} rotary_dim={self.config.rotary_dim} "
            f"pairing={self.config.pairing} positions={pos_text} seed={self.seed} scale={self.scale:g}"
            + (f" scaling={dict(self.config.scaling)}" if self.config.scaling else "")
            + "".join(f" {k}={v}" for k, v in self.extra.items())
        )


def bases() -> st.SearchStrategy[float]:
    """Bases from ~10 to ~1e7: the named ones real models use, and log-uniform others."""
    log_uniform = st.floats(min_value=1.0, max_value=7.0).map(lambda e: float(f"{10.0 ** e:.6g}"))
    return st.one_of(st.sampled_from(NAMED_BASES), log_uniform)


def head_dims(max_head_dim: int = 256) -> st.SearchStrategy[int]:
    """Even head dims in [2, max_head_dim], with the common powers of two favoured."""
    common = [d for d in (64, 128, 256, 2, 4, 8, 32, 80, 96) if d <= max_head_dim]
    return st.one_of(st.sampled_from(common), st.integers(1, max_head_dim // 2).map(lambda h: 2 * h))


@st.composite
def positions(draw, batch: int, seq: int, max_position: int = DEFAULT_MAX_POSITION):
    """(batch, seq) positions in [0, max_position) as nested tuples.

    Modes: ``from_zero`` (every row 0..seq-1), ``row_offsets`` (consecutive runs starting
    at a different offset per row: left padding, packed sequences, a KV cache),
    ``arbitrary`` (independent, unsorted), ``decode`` (one token far along),
    ``near_max`` (consecutive runs ending at max_position - 1).
    """
    mode = draw(st.sampled_from(POSITION_MODES), label="position mode")
    top = max_position - 1
    if mode == "from_zero" or seq > max_position:
        rows = [tuple(range(seq)) for _ in range(batch)]
        if seq > max_position:
            rows = [tuple(p % max_position for p in r) for r in rows]
    elif mode == "row_offsets":
        offsets = draw(st.lists(st.integers(0, max_position - seq), min_size=batch, max_size=batch), label="row offsets")
        rows = [tuple(range(o, o + seq)) for o in offsets]
    elif mode == "arbitrary":
        cell = st.integers(0, top)
        rows = [tuple(draw(st.lists(cell, min_size=seq, max_size=seq), label=f"row {r}")) for r in range(batch)]
    elif mode == "decode":
        rows = [tuple(draw(st.integers(0, top), label=f"row {r} position") for _ in range(seq)) for r in range(batch)]
    else:
        back = draw(st.integers(0, min(64, max_position - seq)), label="distance from max")
        rows = [tuple(range(top - back - seq + 1, top - back + 1)) for _ in range(batch)]
    return tuple(rows)


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
def axis_positions(draw, batch: int, seq: int, axes: int, max_position: int = DEFAULT_MAX_POSITION):
    """(batch, seq, axes) positions as nested tuples: each axis drawn like 1-D positions,
    or (Qwen2-VL text tokens) the same position on every axis."""
    if draw(st.booleans(), label="text tokens (all axes equal)"):
        rows = draw(positions(batch, seq, max_position), label="positions")
        return tuple(tuple((p,) * axes for p in row) for row in rows)
    per_axis = [draw(positions(batch, seq, max_position), label=f"axis {a}") for a in range(axes)]
    return tuple(tuple(tuple(per_axis[a][b][t] for a in range(axes)) for t in range(seq)) for b in range(batch))


@st.composite
def configs(
    draw,
    head_dim: int,
    pairing: str = "half_split",
    base: float | str = "any",
    partial: bool = False,
    scaling: tuple[str, ...] = (),
    multi_axis: tuple[str, ...] = (),
):
    """A ``RopeConfig`` for one head_dim: base drawn when ``base == "any"``, rotary_dim
    drawn below head_dim when ``partial``; a rope_type drawn from ``("default",) + scaling``
    (default half the time); a multi-axis layout from ``multi_axis`` when it is non-empty."""
    chosen_base = draw(bases(), label="base") if base == "any" else float(base)
    rotary_dim = head_dim
    if partial:  # the whole head a third of the time: full-rotary fast paths get their share
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
):
    """Whole inputs: shape, dtype, config, positions and values.

    seq is mostly in [min_seq, max_seq]; now and then up to ``long_seq``, so kernels that
    tile the sequence (blocks of 64 or 128 tokens) meet more than one tile.
    """
    batch = draw(st.integers(min_batch, max(min_batch, max_batch)), label="batch")
    short = st.integers(min_seq, max_seq)
    seq = draw(st.one_of(short, short, short, st.integers(max(min_seq, max_seq + 1), max(long_seq, max_seq + 1)))
               if long_seq > max_seq else short, label="seq")
    heads = draw(st.integers(1, max_heads), label="heads")
    head_dim = draw(head_dims(max_head_dim), label="head_dim")
    dtype = draw(st.sampled_from(dtypes), label="dtype")
    config = draw(configs(head_dim, pairing=pairing, base=base, partial=partial, scaling=scaling,
                          multi_axis=multi_axis), label="config")
    if config.axes > 1:
        pos = draw(axis_positions(batch, seq, config.axes, max_position), label="positions")
    else:
        pos = draw(positions(batch, seq, max_position), label="positions")
    seed = draw(st.integers(0, 2**31 - 1), label="seed")
    scale = draw(st.sampled_from((1.0, 0.01, 100.0)), label="scale")
    return RopeCase(batch, seq, heads, head_dim, dtype, config, pos, seed, scale)


def log2_position(case: RopeCase) -> float:
    """log2 of the largest position in a case (for ``hypothesis.event`` statistics)."""
    top = max(p for row in case.positions for p in row)
    return math.log2(top + 1)
