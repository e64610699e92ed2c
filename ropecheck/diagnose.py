"""Naming the cause of a disagreement with the oracle.

When an output fails, ropecheck asks which *other* convention it does match. Each
hypothesis is an expected output computed from the float64 oracle and is judged under the
same tolerance model as the output itself; the first that fits is named. A hypothesis
whose expected output is itself acceptable on these inputs (every rotation is the identity
at position 0, say) cannot tell anything apart and is not tried. The causes it knows,
roughly in the order they are tried:

- precision: a float64 input computed in float32 and cast back (right to float32 precision);
- for long-context scaling: a missing or doubled attention factor, the scaling ignored,
  multiplying where it must divide, swapped bands or factors, a reversed ramp, the wrong
  length, static for dynamic NTK, a missing exponent, collapsed or reversed axes;
- packed (varlen) calls: per-sequence offsets restarted, taken from the first or a
  neighbouring sequence, or lost at a tile of 64 or 128 tokens;
- the other pairing; integer wrap of positions stored as int16 or int32 (named as the
  overflow, before the opposite rotation it resembles); the opposite rotation;
- the output permuted (rotated pairs stored in the other pairing's order); a mixed layout
  (a half_split cos/sin table, cat(freqs, freqs), used with the interleaved rotation, or
  the converse);
- positions rounded through bfloat16, float16 or float32; angles formed in float16 or
  bfloat16; cos/sin tables stored in float16 or bfloat16 (angles exact);
- positions off by one, ignored (0..seq-1), or taken from the first row;
- a fixed-size cos/sin table of 2048 ... 131072 rows indexed with clamp or modulo;
- positions restarting at every tile of 64 or 128 tokens along seq;
- an all-ones frequency ladder (theta_i = 1: integer division in the exponent), another
  base, the exponent i/rotary_dim, or divided by head_dim;
- the rotary width recomputed from the rotary fraction: int() truncation (a dim lost),
  int() // 2 * 2 (a pair lost), or the fraction rounded to two decimals;
- all of head_dim rotated, the last rotary_dim dims rotated, no rotation at all, an
  off-by-one in the ladder's denominator;

and when no single convention fits, by comparing parts of the output: q and k
cross-wired, only some heads rotated (the first head only), some pairs rotating the wrong
way (the sign of sin flipped on one pair), the wrong way past a position threshold, rows
rotated at another row's positions, pair norms scaled, angle errors that grow with
position (low-precision angles), positions past 65504 that become inf in float16. When
every position is 0 the report says that the inputs cannot tell rotation conventions
apart; when nothing fits, it says so.
"""

from __future__ import annotations

import itertools
import math
from typing import Callable, Iterator

import torch

from ropecheck import oracle, rope_types, scaling, tolerance
from ropecheck.config import RopeConfig

COMMON_BASES = (10000.0, 1000.0, 500000.0, 1000000.0, 100000.0, 10.0)
# cos/sin tables of max_position_embeddings rows that real models ship
TABLE_SIZES = (2048, 4096, 8192, 16384, 32768, 65536, 131072)
TILES = (64, 128)
FLOAT16_INF = 65520  # the smallest integer that rounds to inf in float16


def _float64_angles(positions: torch.Tensor, inv_freq: torch.Tensor) -> torch.Tensor:
    """(batch, seq, k) float64 angles m * inv_freq (plain float64: fine below 2**40)."""
    return positions.detach().to("cpu", torch.float64)[..., None] * inv_freq


def _inv_freq(base: float, count: int, denominator: float, step: float = 2.0) -> torch.Tensor:
    i = torch.arange(count, dtype=torch.float64)
    return base ** (-(step * i) / denominator)


Hypothesis = tuple[str, Callable[[], torch.Tensor]] | tuple[str, Callable[[], torch.Tensor], RopeConfig]


def _dtype_name(dtype: torch.dtype) -> str:
    return str(dtype).removeprefix("torch.")


NO_ROTATION = "no rotation at all (output equals input)"


def _hypotheses(x: torch.Tensor, positions: torch.Tensor, config: RopeConfig, judge: "_Judge | None" = None,
                packed: bool = False) -> Iterator[Hypothesis]:
    """(explanation, expected output[, the config it is judged under]), common bugs first.

    ``judge`` (when given) tells which tokens are already right, so that hypotheses that
    only change tokens past a boundary are tried only when every token before it is right.
    """
    half = config.rotary_dim // 2
    head_dim = x.shape[-1]
    plain = not config.scaling and config.axes == 1
    other = "interleaved" if config.pairing == "half_split" else "half_split"
    true_angles = lambda: oracle.angles(positions, config)  # noqa: E731
    ref = (lambda: judge.ref) if judge is not None else (lambda: oracle.rope(x, positions, config))
    pos = positions.detach().to("cpu", torch.int64)
    token_pos = pos if pos.dim() == 2 else pos.abs().amax(-1)  # (batch, seq): the largest axis
    top = int(token_pos.abs().max()) if token_pos.numel() else 0

    def right_below(limit: int) -> bool:
        """Every token whose positions are all below ``limit`` already agrees with the oracle."""
        return judge is None or bool(judge.token_ok[token_pos < limit].all())

    if config.scaling:
        yield from _scaling_hypotheses(x, positions, config)
    yield (f"uses pairing {other!r} where the spec claims {config.pairing!r}",
           lambda: oracle.rope(x, positions, config.replace(pairing=other)))
    for bits in (16, 32):
        limit = 2 ** (bits - 1)
        if top >= limit and right_below(limit):
            wrapped = (pos + limit) % (2 * limit) - limit
            first = int(pos.flatten()[(pos.flatten().abs() >= limit).nonzero()[0]])
            yield (f"positions stored as int{bits} wrap at 2**{bits - 1} (an integer overflow: position {first} "
                   f"is rotated as {int((first + limit) % (2 * limit) - limit)})",
                   lambda wrapped=wrapped: oracle.rope(x, wrapped, config))
    lowest = int(token_pos.min()) if token_pos.numel() else 0
    maybe_past = (f"; every position given is >= {lowest}, so it may rotate the wrong way for positions >= {lowest} only"
                  if lowest >= 16 else "")
    yield (f"rotates the wrong way (by -m*theta: sin sign flipped){maybe_past}",
           lambda: oracle.rope_with_angles(x, -true_angles(), config) * _af_on_pairs(x, config))
    if config.rotary_dim >= 4:
        yield from _permuted_and_mixed(x, positions, config, ref)
    for dtype in (torch.bfloat16, torch.float16, torch.float32):
        as_dtype = pos.to(dtype)
        rounded = as_dtype.to(torch.float64).round().to(torch.int64)
        if not torch.equal(rounded, pos) and torch.isfinite(as_dtype).all():
            name = _dtype_name(dtype)
            yield (f"positions rounded to {name} (positions cast to {name} before the angle is formed: "
                   "low precision)", lambda rounded=rounded: oracle.rope(x, rounded, config))
    for dtype in (torch.float16, torch.bfloat16):
        name = _dtype_name(dtype)
        yield (f"angles formed in {name} (positions * inv_freq computed in {name}: low precision)",
               lambda dtype=dtype: _low_precision_angles(x, positions, config, dtype))
        yield (f"cos/sin tables stored in {name} (angles exact, cos and sin rounded to {name})",
               lambda dtype=dtype: _low_precision_table(x, positions, config, dtype))
    for shift in (1, -1):
        yield (f"positions off by {shift:+d} (uses m{shift:+d})",
               lambda shift=shift: oracle.rope(x, positions + shift, config))
    seq = positions.shape[1]
    arange = torch.arange(seq).expand_as(positions) if positions.dim() == 2 else None
    if arange is not None:
        yield ("ignores the given positions and uses 0..seq-1 for every row",
               lambda: oracle.rope(x, arange, config))
    yield ("uses the first row's positions for every row (every row rotated at row 0's positions)",
           lambda: oracle.rope(x, positions[:1].expand_as(positions), config))
    for rows in TABLE_SIZES:
        if top >= rows and right_below(rows):
            yield (f"positions past {rows - 1} are clamped to {rows - 1} (a cos/sin table of {rows} rows "
                   "indexed with clamp)", lambda rows=rows: oracle.rope(x, pos.clamp(-rows + 1, rows - 1), config))
            yield (f"positions are taken modulo {rows} (a cos/sin table of {rows} rows indexed as a ring)",
                   lambda rows=rows: oracle.rope(x, pos % rows, config))
    if not packed:
        for tile in TILES:
            if seq > tile and (judge is None or bool(judge.token_ok[:, :tile].all())):
                index = torch.arange(seq) % tile
                yield (f"positions restart at every tile of {tile} tokens along seq (each tile reads the first "
                       "tile's positions: a tile offset is lost)",
                       lambda index=index: oracle.rope(x, positions[:, index], config))
    if plain:
        yield ("every pair's frequency is 1 (theta_i = 1 for every pair: integer division in the exponent, "
               "2i // rotary_dim = 0)", lambda: oracle.rope_with_angles(x, _float64_angles(positions, torch.ones(half)), config))
    for base in _candidate_bases(config.base):
        yield (f"uses base {base:g} where the config says {config.base:g}",
               lambda base=base: oracle.rope(x, positions, config.replace(base=base)))
    yield ("frequency exponent is i/rotary_dim instead of 2i/rotary_dim",
           lambda: oracle.rope_with_angles(x, _float64_angles(positions, _inv_freq(config.base, half, config.rotary_dim, 1.0)), config))
    if plain:
        yield from _width_slips(x, positions, config)
    if head_dim != config.rotary_dim:
        yield ("frequency exponent divides by head_dim instead of rotary_dim",
               lambda: oracle.rope_with_angles(x, _float64_angles(positions, _inv_freq(config.base, half, head_dim)), config))
        whole = config.replace(rotary_dim=head_dim, head_dim=head_dim)
        yield ("ignores rotary_dim and rotates all head_dim dims", lambda: oracle.rope(x, positions, whole), whole)
        yield ("rotates the last rotary_dim dims instead of the first", lambda: _rotate_tail(x, positions, config))
    yield NO_ROTATION, lambda: x.detach().to("cpu", torch.float64)
    for delta in (-1, -2, 1):
        denominator = config.rotary_dim + delta
        if denominator > 0:
            yield (f"frequency exponent divides by rotary_dim {delta:+d} = {denominator} "
                   "(an off-by-one in the frequency ladder, or a rotary fraction truncated by int())",
                   lambda denominator=denominator: oracle.rope_with_angles(
                       x, _float64_angles(positions, _inv_freq(config.base, half, denominator)), config))


def _permuted_and_mixed(x: torch.Tensor, positions: torch.Tensor, config: RopeConfig,
                        ref: Callable[[], torch.Tensor]) -> Iterator[Hypothesis]:
    """The right values stored in the other pairing's order, and cos/sin tables laid out
    for one pairing used with the other's rotation."""
    rd, half = config.rotary_dim, config.rotary_dim // 2
    i = torch.arange(half)
    orders = {"de-interleaved": torch.cat((2 * i, 2 * i + 1)),  # out[k] = right[order[k]]
              "interleaved": torch.stack((i, i + half), -1).flatten()}
    first = ("de-interleaved", "interleaved") if config.pairing == "interleaved" else ("interleaved", "de-interleaved")
    for name in first:
        def permuted(order=orders[name]) -> torch.Tensor:
            out = ref().clone()
            out[..., :rd] = out[..., order]
            return out
        how = ("stored de-interleaved, cat(out[..., 0::2], out[..., 1::2]): half_split order" if name == "de-interleaved"
               else "stored interleaved, stack(out[..., :h], out[..., h:]): interleaved order")
        yield (f"output permuted: the right values in the wrong dims (the rotated pairs are {how})", permuted)
    mixes = [("interleaved", "half_split"), ("half_split", "interleaved")]
    if config.pairing == "half_split":
        mixes.reverse()
    for rotation, table in mixes:
        layout = "cat(freqs, freqs)" if table == "half_split" else "freqs repeated per pair"
        yield (f"a mixed layout: a {table} cos/sin layout ({layout}) applied with the {rotation} rotation",
               lambda rotation=rotation, table=table: _mixed_layout(x, positions, config, rotation, table))


def _mixed_layout(x: torch.Tensor, positions: torch.Tensor, config: RopeConfig, rotation: str, table: str) -> torch.Tensor:
    """Each rotated dim j gets its own angle from a per-dim table laid out for ``table``
    (half_split: dim j has frequency j mod rd/2; interleaved: j // 2), used by the
    ``rotation`` pairing's formula a' = a cos(t_a) - b sin(t_a), b' = b cos(t_b) + a sin(t_b)."""
    theta = oracle.angles(positions, config)  # (batch, seq, rd/2)
    per_dim = torch.cat((theta, theta), -1) if table == "half_split" else theta.repeat_interleave(2, -1)
    af = config.attention_factor
    cos, sin = (af * per_dim.cos())[:, :, None, :], (af * per_dim.sin())[:, :, None, :]
    first, second = oracle.pair_indices(config.replace(pairing=rotation))
    x64 = x.detach().to("cpu", torch.float64)
    a, b = x64[..., first], x64[..., second]
    out = x64.clone()
    out[..., first] = a * cos[..., first] - b * sin[..., first]
    out[..., second] = b * cos[..., second] + a * sin[..., second]
    return out


def _low_precision_angles(x: torch.Tensor, positions: torch.Tensor, config: RopeConfig, dtype: torch.dtype) -> torch.Tensor:
    """Angles m * inv_freq formed in ``dtype``: both factors and the product rounded there."""
    m = torch.from_numpy(oracle.positions_per_pair(positions, config)).to(dtype)
    inv = oracle.inv_freq(config, oracle.call_length(positions)).to(dtype)
    theta = (m * inv).to(torch.float64)
    if not torch.isfinite(theta).all():
        raise ValueError("angles overflow")
    af = config.attention_factor
    return oracle.rotate_pairs(x.detach().to("cpu", torch.float64), af * torch.cos(theta)[:, :, None, :],
                               af * torch.sin(theta)[:, :, None, :], config)


def _low_precision_table(x: torch.Tensor, positions: torch.Tensor, config: RopeConfig, dtype: torch.dtype) -> torch.Tensor:
    """Exact angles, cos and sin (times the attention factor) rounded to ``dtype``."""
    theta = oracle.angles(positions, config)[:, :, None, :]
    af = config.attention_factor
    cos = (af * torch.cos(theta)).to(dtype).to(torch.float64)
    sin = (af * torch.sin(theta)).to(dtype).to(torch.float64)
    return oracle.rotate_pairs(x.detach().to("cpu", torch.float64), cos, sin, config)


def _width_slips(x: torch.Tensor, positions: torch.Tensor, config: RopeConfig) -> Iterator[Hypothesis]:
    """The rotary width recomputed from the fraction rotary_dim / head_dim as real code
    does; a width w rotates its leading w // 2 * 2 dims with the ladder base**(-2i/w)."""
    head_dim, rd = x.shape[-1], config.rotary_dim
    fraction = rd / head_dim
    product = head_dim * fraction
    slips = [(int(product), f"the rotary width is recomputed as int(head_dim * (rotary_dim / head_dim)) = "
                            f"{int(product)} (the float product {product!r} truncated: a dim lost)"),
             (int(product) // 2 * 2, f"the rotary width is recomputed as int(head_dim * (rotary_dim / head_dim)) "
                                     f"// 2 * 2 = {int(product) // 2 * 2} (the float product {product!r} "
                                     "truncated: a pair lost)"),
             (round(head_dim * round(fraction, 2)), f"the rotary width is recomputed from the rotary fraction "
                                                    f"rounded to two decimals, round(head_dim * {round(fraction, 2)}) "
                                                    f"= {round(head_dim * round(fraction, 2))}")]
    by_width: dict[int, list[str]] = {}
    for width, text in slips:  # two slips that give the same width explain the output equally: both are named
        by_width.setdefault(width, []).append(text)
    for width, texts in by_width.items():
        used = min(width, head_dim) // 2 * 2
        if width == rd or used < 2:
            continue
        text = "; or ".join(texts)
        rotated = config.replace(rotary_dim=used, head_dim=head_dim)
        yield (f"{text}: {used} dims rotated with the ladder base**(-2i/{width}) where the config says "
               f"rotary_dim {rd}",
               lambda width=width, used=used, rotated=rotated: oracle.rope_with_angles(
                   x, _float64_angles(positions, _inv_freq(config.base, used // 2, width)), rotated))


def _scaled(config: RopeConfig, **changes) -> RopeConfig:
    """config with some scaling keys changed (a key given None is dropped)."""
    params = {k: v for k, v in {**config.scaling, **changes}.items() if v is not None}
    return config.replace(scaling=params)


def _with_inv_freq(x: torch.Tensor, positions: torch.Tensor, config: RopeConfig, inv: torch.Tensor,
                   af: float | None = None) -> torch.Tensor:
    """x rotated by float64 angles m * inv (fine for a diagnosis below 2**40), times af."""
    af = config.attention_factor if af is None else af
    m = torch.from_numpy(oracle.positions_per_pair(positions, config))
    theta = (m * inv)[:, :, None, :]
    return oracle.rotate_pairs(x.detach().to("cpu", torch.float64), af * torch.cos(theta), af * torch.sin(theta), config)


class _SlipContext:
    """What a ``RopeType.slips`` function builds its hypotheses from (see
    ``ropecheck.rope_types``): the call, the config, and the float64 tools of this module.

    Attributes: x (batch, seq, heads, head_dim); positions (batch, seq[, axes]) int64;
    config; scaling (``config.scaling``); af (its attention factor); loose (the config each
    frequency slip is judged under: the unscaled one, but for multi-axis layouts).
    """

    def __init__(self, x: torch.Tensor, positions: torch.Tensor, config: RopeConfig):
        self.x, self.positions, self.config = x, positions, config
        self.scaling, self.af = config.scaling, config.attention_factor
        self.loose = config.replace(scaling=None) if config.axes == 1 else config
        self.ladder = _inv_freq  # (base, pairs, denominator) -> float64 base**(-2i/denominator)

    def rope(self, config: RopeConfig, attention_factor: float | None = None,
             positions: torch.Tensor | None = None) -> torch.Tensor:
        """The float64 oracle's output for ``config`` (and other positions, if given)."""
        positions = self.positions if positions is None else positions
        if attention_factor is None:
            return oracle.rope(self.x, positions, config)
        return oracle.rope(self.x, positions, config, attention_factor=attention_factor)

    def scaled(self, **changes) -> RopeConfig:
        """The config with some scaling keys changed (a key given None is dropped)."""
        return _scaled(self.config, **changes)

    def with_inv_freq(self, inv: torch.Tensor, af: float | None = None) -> torch.Tensor:
        """x rotated by float64 angles m * inv, times af (default the config's)."""
        return _with_inv_freq(self.x, self.positions, self.config, inv, af)

    inv_freq = staticmethod(oracle.inv_freq)  # (config, length=0) -> (pairs,) float64

    def unscaled_inv_freq(self) -> torch.Tensor:
        """(pairs,) float64 theta_i = base**(-2i/d) of the config without its scaling."""
        return oracle.inv_freq(self.config.replace(scaling=None))

    @property
    def call_length(self) -> int:
        return oracle.call_length(self.positions)

    @staticmethod
    def tensor(values) -> torch.Tensor:
        return torch.tensor(values, dtype=torch.float64)


def _scaling_hypotheses(x: torch.Tensor, positions: torch.Tensor, config: RopeConfig) -> Iterator[Hypothesis]:
    """Long-context scaling slips, for the config's rope_type (its record's ``slips``), then
    the multi-axis layout's.

    Other than the attention-factor ones, each is judged under the unscaled config: its
    angles are the largest any of these frequency ladders reaches, so an honest float32
    version of the slip is not refused for rounding it is entitled to.
    """
    ctx = _SlipContext(x, positions, config)
    af = ctx.af
    if af != 1.0:
        yield (f"the attention factor {af:.6g} is not applied (cos and sin unscaled)",
               lambda: oracle.rope(x, positions, config, attention_factor=1.0))
        yield (f"the attention factor is applied twice ({af:.6g}**2)",
               lambda: oracle.rope(x, positions, config, attention_factor=af * af))
    record = rope_types.get(config.rope_type)
    if record.slips is not None:
        yield from record.slips(ctx)
    layout = scaling.layout_of(config.scaling)
    if config.axes > 1 and layout is not None and layout.slips is not None:
        yield from layout.slips(ctx)


def _candidate_bases(base: float) -> list[float]:
    out = [b for b in COMMON_BASES if not math.isclose(b, base, rel_tol=1e-9)]
    out += [base * 10, base / 10]
    out += [b for b in (float(int(base)), float(round(base))) if b != base and b > 1 and b not in out]
    return out


def _af_on_pairs(x: torch.Tensor, config: RopeConfig) -> torch.Tensor:
    """Multiplier that scales the rotated dims by the attention factor (1 elsewhere)."""
    factor = torch.ones(x.shape[-1], dtype=torch.float64)
    factor[: config.rotary_dim] = config.attention_factor
    return factor


def _rotate_tail(x: torch.Tensor, positions: torch.Tensor, config: RopeConfig) -> torch.Tensor:
    x64 = x.detach().to("cpu", torch.float64)
    tail = x64[..., -config.rotary_dim:]
    out = x64.clone()
    out[..., -config.rotary_dim:] = oracle.rope(tail, positions, config.replace(head_dim=config.rotary_dim))
    return out


class _Judge:
    """Judges expected outputs against ``y`` under the tolerance model, with the oracle's
    own output and the budgets computed once."""

    def __init__(self, y: torch.Tensor, x: torch.Tensor, positions: torch.Tensor, config: RopeConfig):
        self.y, self.x, self.positions, self.config = y, x, positions, config
        self.y64 = y.detach().to("cpu", torch.float64)
        self.dtype = y.dtype if y.is_floating_point() else x.dtype
        self._ref: torch.Tensor | None = None
        self._ok: torch.Tensor | None = None
        self._budgets: dict = {}

    @property
    def ref(self) -> torch.Tensor:
        if self._ref is None:
            self._ref = oracle.rope(self.x, self.positions, self.config)
        return self._ref

    def ratios(self, expected: torch.Tensor, config: RopeConfig | None = None, dtype: torch.dtype | None = None,
               of: torch.Tensor | None = None) -> torch.Tensor:
        """err / allowed of ``of`` (default y) against ``expected`` per (batch, seq, head,
        pair or pass-through dim), NaN counted as inf."""
        config = self.config if config is None else config
        dtype = self.dtype if dtype is None else dtype
        key = (config, dtype)
        if key not in self._budgets:
            budget = tolerance.allowance(self.x, self.positions, config, dtype)
            self._budgets[key] = (torch.cat([budget.pair, budget.rest], -1), oracle.pair_indices(config))
        allowed, (first, second) = self._budgets[key]
        diff = (self.y64 if of is None else of) - expected
        err = torch.cat([torch.hypot(diff[..., first], diff[..., second]), diff[..., config.rotary_dim:].abs()], -1)
        ratio = err / allowed
        return torch.where(torch.isnan(ratio), torch.full_like(ratio, math.inf), ratio)

    def fits(self, expected: torch.Tensor, config: RopeConfig | None = None, dtype: torch.dtype | None = None) -> bool:
        """y agrees with ``expected``, and ``expected`` itself is not an acceptable answer
        (a hypothesis that the inputs cannot tell from the right convention explains nothing)."""
        if not bool((self.ratios(expected, config, dtype) <= 1).all()):
            return False
        return not bool((self.ratios(self.ref, config, dtype, of=expected) <= 1).all())

    @property
    def token_ok(self) -> torch.Tensor:
        """(batch, seq) bool: tokens whose every head and dim agree with the oracle."""
        if self._ok is None:
            self._ok = (self.ratios(self.ref) <= 1).flatten(2).all(-1)
        return self._ok


LOWER_PRECISION = {torch.float64: torch.float32}


def explain(y: torch.Tensor, x: torch.Tensor, positions: torch.Tensor, config: RopeConfig,
            lengths: tuple[int, ...] | None = None, partner: torch.Tensor | None = None, operand: str = "x") -> str:
    """One sentence naming the most likely cause of ``y`` disagreeing with the oracle.

    y, x: (batch, seq, heads, head_dim) (a packed call as one row, with the sequence
    ``lengths``); positions (batch, seq[, axes]); ``partner``: the other operand of a q/k
    call (k when ``operand`` is "q"), for cross-wiring.
    """
    out = y.detach().to("cpu", torch.float64)
    if not torch.isfinite(out).all() and torch.isfinite(x.detach().float()).all():
        return _non_finite(y, x, positions, config)
    judge = _Judge(y, x, positions, config)
    if bool((judge.ratios(judge.ref) <= 1).all()):
        return "the output matches the oracle (within the tolerance model): nothing to explain"
    low = LOWER_PRECISION.get(judge.dtype)
    if low is not None and bool((judge.ratios(judge.ref, dtype=low) <= 1).all()):
        return (f"the {_dtype_name(judge.dtype)} input is computed in {_dtype_name(low)} and cast back: the output "
                f"is right to {_dtype_name(low)} precision, not to {_dtype_name(judge.dtype)} precision")
    hypotheses = _hypotheses(x, positions, config, judge, packed=lengths is not None)
    if lengths is not None:
        hypotheses = itertools.chain(_packed_hypotheses(x, positions, config, lengths), hypotheses)
    matches, low_matches = [], []
    # an output equal to its input is named as such first: other hypotheses that fit it only
    # coincide with the identity at these positions (0, or 1 with an off-by-one); up to three
    # of them follow, as they would without it
    if judge.fits(x.detach().to("cpu", torch.float64)):
        matches.append(NO_ROTATION)
    cap = 3 + len(matches)
    for text, expected, *judged_under in hypotheses:
        if text in matches:
            continue
        under = judged_under[0] if judged_under else config
        try:
            ref = expected()
        except (ValueError, RuntimeError, IndexError):
            continue
        if judge.fits(ref, under):
            matches.append(text)
            if len(matches) == cap:
                break
        elif low is not None and not matches and judge.fits(ref, under, low):
            low_matches.append(text)
    if matches:
        return _likely(matches)
    if low_matches:
        return (f"the {_dtype_name(judge.dtype)} input is computed in {_dtype_name(low)} and cast back; to "
                f"{_dtype_name(low)} precision, {_likely(low_matches[:3])}")
    return (_cross_wired(y, x, positions, config, partner, operand) or _by_head(y, x, positions, config)
            or _by_threshold(judge, backward_only=True) or _by_pair(judge)
            or _by_row(y, x, positions, config, lengths, judge, sources_only=True) or _by_threshold(judge)
            or _by_row(y, x, positions, config, lengths)
            or _magnitude_or_precision(out, x, positions, config) or _all_identity(positions)
            or "no simple convention explains it (not a pairing, direction, offset, base, exponent or rotary_dim slip)")


def _likely(causes: list[str]) -> str:
    """The causes the output fits, as a phrase that reads whatever their grammar ("rotates
    the wrong way", "positions off by +1"): "likely cause: A", or "likely causes (each fits
    the output): A; or B"."""
    if len(causes) == 1:
        return f"likely cause: {causes[0]}"
    return "likely causes (each fits the output): " + "; or ".join(causes)


def _all_identity(positions: torch.Tensor) -> str:
    if positions.numel() and not bool(positions.any()):
        return ("every position is 0, where every rotation is the identity, so the output must equal the input: the "
                "inputs do not distinguish the rotation hypotheses (the error is not a rotation convention)")
    return ""


def _non_finite(y: torch.Tensor, x: torch.Tensor, positions: torch.Tensor, config: RopeConfig) -> str:
    """NaN or inf for a finite input: named when it sits exactly at the positions that
    overflow float16, with the cause on the other tokens when it can be told."""
    what = "the output has NaN or inf values for a finite input"
    bad = ~torch.isfinite(y.detach().to("cpu", torch.float64)).flatten(2).all(-1)  # (batch, seq)
    pos = positions.detach().to("cpu", torch.int64)
    token_pos = pos if pos.dim() == 2 else pos.abs().amax(-1)
    over = token_pos.abs() >= FLOAT16_INF
    if not bool(over.any()) or not torch.equal(bad, over):
        rows = token_pos[bad]
        return f"{what} (at positions {_few(sorted(set(int(p) for p in rows)))})"
    text = (f"positions at or above {FLOAT16_INF} overflow to inf in float16 (positions rounded to float16, or angles "
            f"formed in float16): the output is NaN or inf exactly at those positions")
    keep = ~over.flatten()
    if not bool(keep.any()) or config.scaling:
        return text
    flat = lambda t: t.reshape((1, -1) + tuple(t.shape[2:]))[:, keep]  # noqa: E731
    rest = explain(flat(y), flat(x), flat(pos), config)
    if rest.startswith("the output matches the oracle"):
        return text + "; every other token is right"
    return text + "; on the other tokens, " + rest


def _by_pair(judge: _Judge) -> str:
    """Some pairs wrong at every token and every other pair and dim right: the sign of
    sin flipped on those pairs (named), or just which pairs."""
    config = judge.config
    half = config.rotary_dim // 2
    ok = (judge.ratios(judge.ref) <= 1).flatten(0, 2).all(0)  # (pairs + pass-through,)
    wrong = [int(i) for i in (~ok).nonzero()]
    if not wrong or max(wrong) >= half or len(wrong) > max(1, half // 4):
        return ""
    flip = torch.ones(half, dtype=torch.float64)
    flip[wrong] = -1.0
    expected = oracle.rope_with_angles(judge.x, oracle.angles(judge.positions, config) * flip, config)
    expected = expected * _af_on_pairs(judge.x, config)
    first, second = oracle.pair_indices(config)
    dims = ", ".join(f"{int(first[i])} and {int(second[i])}" for i in wrong[:6])
    which = f"pair{'s' if len(wrong) > 1 else ''} {_few(wrong)} (dims {dims})"
    if bool((judge.ratios(expected) <= 1).all()):
        backward = oracle.rope_with_angles(judge.x, -oracle.angles(judge.positions, config), config)
        telling = (judge.ratios(judge.ref, of=backward * _af_on_pairs(judge.x, config)) > 1).flatten(0, 2).any(0)
        blind = [i for i in range(half) if not bool(telling[i])]
        note = f" (pairs {_few(blind)} rotate too little on these inputs to tell)" if blind else ""
        return (f"the sin sign flipped on {which} only: {'that pair rotates' if len(wrong) == 1 else 'they rotate'} "
                f"the wrong way, every other pair is right{note}")
    return f"{which} are wrong at every token while every other pair and pass-through dim is right"


def _by_threshold(judge: _Judge, backward_only: bool = False) -> str:
    """Every token at or past some position wrong and every one below it right; named
    with the convention the wrong tokens follow when one of the simple ones fits."""
    config = judge.config
    pos = judge.positions.detach().to("cpu", torch.int64)
    token_pos = pos if pos.dim() == 2 else pos.abs().amax(-1)
    ok = judge.token_ok
    if bool(ok.all()) or not bool(ok.any()):
        return ""
    lowest_wrong, highest_right = int(token_pos[~ok].min()), int(token_pos[ok].max())
    if lowest_wrong <= highest_right:
        return ""
    powers = [2**k for k in range(1, 63) if highest_right < 2**k <= lowest_wrong]
    at = lowest_wrong if lowest_wrong - highest_right == 1 or len(powers) != 1 else powers[0]
    where = f"for positions >= {at} only" + (f" (every position up to {highest_right} is right)"
                                              if at != lowest_wrong or lowest_wrong - highest_right > 1 else "")
    backward = oracle.rope_with_angles(judge.x, -oracle.angles(judge.positions, config), config)
    backward = backward * _af_on_pairs(judge.x, config)
    flipped = (judge.ratios(backward) <= 1).flatten(2).all(-1)
    if bool(flipped[~ok].all()):
        return f"rotates the wrong way {where} (sin sign flipped past a position threshold, e.g. a fallback path)"
    if backward_only:
        return ""
    return f"every token is wrong {where}: something changes at a position threshold (a table size or a fallback path)"


def _packed_hypotheses(x: torch.Tensor, positions: torch.Tensor, config: RopeConfig,
                       lengths: tuple[int, ...]) -> Iterator[Hypothesis]:
    """Slips of packed (varlen) kernels: per-sequence offsets taken from the wrong sequence,
    restarted at 0, or lost at a tile boundary."""
    flat = positions[0]
    starts = [0, *itertools.accumulate(lengths)]
    spans = [(lo, hi) for lo, hi in zip(starts, starts[1:]) if hi > lo]
    if not spans:
        return

    def rebuilt(offset_of) -> torch.Tensor:
        out = flat.clone()
        for s, (lo, hi) in enumerate(spans):
            out[lo:hi] = offset_of(s, lo, hi) + torch.arange(hi - lo).reshape((-1,) + (1,) * (flat.dim() - 1))
        return out[None]

    yield ("every sequence's positions restart at 0 (the per-sequence offset is ignored)",
           lambda: oracle.rope(x, rebuilt(lambda s, lo, hi: 0), config))
    yield ("every sequence takes the first sequence's offset",
           lambda: oracle.rope(x, rebuilt(lambda s, lo, hi: flat[spans[0][0]]), config))
    if len(spans) > 1:
        yield ("a sequence takes its neighbour's offset (the sequence index is off by one)",
               lambda: oracle.rope(x, rebuilt(lambda s, lo, hi: flat[spans[max(s - 1, 0)][0]]), config))
        yield ("a sequence takes the next sequence's offset (the sequence index is off by one)",
               lambda: oracle.rope(x, rebuilt(lambda s, lo, hi: flat[spans[min(s + 1, len(spans) - 1)][0]]), config))
    for tile in (64, 128):
        if max(hi - lo for lo, hi in spans) > tile:
            def lost(tile=tile) -> torch.Tensor:
                out = flat.clone()
                for lo, hi in spans:
                    index = torch.arange(hi - lo)
                    out[lo:hi] = flat[lo:hi] - (index - index % tile).reshape((-1,) + (1,) * (flat.dim() - 1))
                return out[None]
            yield (f"positions restart at every tile of {tile} tokens (a tile offset is lost)",
                   lambda lost=lost: oracle.rope(x, lost(), config))


def _pair_ratios(y: torch.Tensor, x: torch.Tensor, positions: torch.Tensor, config: RopeConfig,
                 expected: torch.Tensor) -> torch.Tensor:
    """err / allowed per (batch, seq, head, pair or pass-through dim) against ``expected``."""
    budget = tolerance.allowance(x, positions, config, y.dtype if y.is_floating_point() else x.dtype)
    diff = y.detach().to("cpu", torch.float64) - expected
    first, second = oracle.pair_indices(config)
    err = torch.cat([torch.hypot(diff[..., first], diff[..., second]), diff[..., config.rotary_dim:].abs()], -1)
    ratio = err / torch.cat([budget.pair, budget.rest], -1)
    return torch.where(torch.isnan(ratio), torch.full_like(ratio, math.inf), ratio)


def _element_ratios(y: torch.Tensor, x: torch.Tensor, positions: torch.Tensor, config: RopeConfig) -> torch.Tensor:
    """err / allowed per element (batch, seq, head, dim) against the oracle of ``x``; each
    rotated element gets its pair's budget."""
    budget = tolerance.allowance(x, positions, config, y.dtype if y.is_floating_point() else x.dtype)
    first, second = oracle.pair_indices(config)
    allowed = torch.empty(tuple(x.shape), dtype=torch.float64)
    allowed[..., first], allowed[..., second] = budget.pair, budget.pair
    allowed[..., config.rotary_dim:] = budget.rest
    ratio = (y.detach().to("cpu", torch.float64) - oracle.rope(x, positions, config)).abs() / allowed
    return torch.where(torch.isnan(ratio), torch.full_like(ratio, math.inf), ratio)


def _cross_wired(y, x, positions, config, partner, operand) -> str:
    """Part of q_out computed from k's values (or of k_out from q's): every element matches
    the oracle of either its own input or the other's (head for head, in either of the
    two usual head mappings), and some only the other's."""
    if partner is None or operand not in ("q", "k"):
        return ""
    heads, other_heads = x.shape[-2], partner.shape[-2]
    index = torch.arange(heads)
    if operand == "q" and heads % other_heads == 0:
        mappings = (index // (heads // other_heads), index % other_heads)
    elif operand == "k" and other_heads % heads == 0:
        mappings = (index * (other_heads // heads), index)
    else:
        return ""
    own = _element_ratios(y, x, positions, config) <= 1
    for mapping in mappings:
        theirs = _element_ratios(y, partner[..., mapping, :], positions, config) <= 1
        if bool((own | theirs).all()) and bool((theirs & ~own).any()):
            share = float((theirs & ~own).double().mean())
            source = "k" if operand == "q" else "q"
            return (f"{share:.0%} of {operand}_out is computed from {source}'s values, the rest from {operand}'s own "
                    f"(q and k are cross-wired)")
    return ""


def _by_head(y, x, positions, config) -> str:
    """Some heads right and others not; the classic: only the first head rotated."""
    heads = x.shape[-2]
    if x.shape[:-1].numel() < 2:
        return ""
    per_matrix = (_pair_ratios(y, x, positions, config, oracle.rope(x, positions, config)) <= 1).all(-1).flatten()
    identity = (_pair_ratios(y, x, positions, config, x.detach().to("cpu", torch.float64)) <= 1)
    if per_matrix.numel() > heads and bool(per_matrix[0]) and not bool(per_matrix[1:].any()) \
            and bool(identity.all(-1).flatten()[1:].all()):
        return (f"only the first of the {per_matrix.numel()} (token, head) vectors is rotated; the others come back "
                "unrotated (a path that handles one matrix where there are batch * heads)")
    if heads < 2:
        return ""
    right = (_pair_ratios(y, x, positions, config, oracle.rope(x, positions, config)) <= 1).flatten(0, 1).all(0).all(-1)
    if bool(right.all()) or not bool(right.any()):
        return ""
    unrotated = identity.flatten(0, 1).all(0).all(-1)
    wrong = [int(h) for h in (~right).nonzero()]
    if bool(right[0]) and not bool(right[1:].any()):
        how = " (they come back unrotated)" if bool(unrotated[1:].all()) else ""
        rest = "head 1 is not" if heads == 2 else f"heads 1..{heads - 1} are not"
        return f"only the first head is rotated correctly; {rest}{how}"
    return f"heads {_few(wrong)} are wrong while heads {_few([h for h in range(heads) if h not in wrong])} are right"


def _by_row(y, x, positions, config, lengths, judge: _Judge | None = None, sources_only: bool = False) -> str:
    """Some rows (packed: sequences) right and others not; for rows, which other row's
    positions the wrong ones were rotated at, when that fits."""
    ok = (_pair_ratios(y, x, positions, config, oracle.rope(x, positions, config)) <= 1).all(-1).all(-1)  # (b, seq)
    if lengths is not None:
        starts = [0, *itertools.accumulate(lengths)]
        groups = [ok[0, lo:hi].all() for lo, hi in zip(starts, starts[1:]) if hi > lo]
        what = "sequences"
    else:
        groups = [row.all() for row in ok]
        what = "rows"
    if len(groups) < 2:
        return ""
    right = torch.stack(groups)
    if bool(right.all()) or not bool(right.any()):
        return ""
    wrong = [int(i) for i in (~right).nonzero()]
    text = f"{what} {_few(wrong)} are wrong while {what} {_few([i for i in range(len(groups)) if i not in wrong])} are right"
    if lengths is None and judge is not None and len(groups) <= 16:
        sources = {}
        for s in range(len(groups)):
            expected = oracle.rope(x, positions[s:s + 1].expand_as(positions), config)
            fit = (judge.ratios(expected) <= 1).flatten(1).all(-1)  # (batch,)
            for r in wrong:
                if r != s and r not in sources and bool(fit[r]) and not torch.equal(positions[r], positions[s]):
                    sources[r] = s
        if len(sources) == len(wrong):
            taken = "; ".join(f"row {r} is rotated at row {s}'s positions" for r, s in list(sources.items())[:6])
            return f"rows take another row's positions: {taken} (rows {_few([i for i in range(len(groups)) if i not in wrong])} are right)"
    return "" if sources_only else text


def _few(items: list[int]) -> str:
    return ", ".join(map(str, items[:6])) + (", ..." if len(items) > 6 else "")


def _magnitude_or_precision(out: torch.Tensor, x: torch.Tensor, positions: torch.Tensor, config: RopeConfig) -> str:
    """Fallbacks: pair norms scaled by a constant, or angle errors growing with position ("" if neither)."""
    x64 = x.detach().to("cpu", torch.float64)
    first, second = oracle.pair_indices(config)
    norm_in = torch.hypot(x64[..., first], x64[..., second])
    norm_out = torch.hypot(out[..., first], out[..., second])
    mask = norm_in > 1e-6 * norm_in.max().clamp_min(1e-300)
    if mask.any():
        ratio = (norm_out[mask] / norm_in[mask])
        median = ratio.median().item()
        if abs(median - 1) > 0.01 and (ratio - median).abs().max().item() < 0.05 * abs(median):
            return f"every rotated pair's norm is scaled by {median:.4g} (norms must be preserved)"
    ref = oracle.rope(x, positions, config)
    # implied angle error per pair: angle between y[p] and y*[p]
    ya, yb = out[..., first], out[..., second]
    ra, rb = ref[..., first], ref[..., second]
    delta = torch.atan2(ya * rb - yb * ra, ya * ra + yb * rb).abs()
    magnitude = oracle.unreduced_angles(positions, config)[:, :, None, :].expand_as(delta)
    off = mask & (delta > 10 * tolerance.angle_slack(positions, config).expand_as(delta)) & (magnitude > 0)
    if off.any():
        rel = (delta[off] / magnitude[off]).median().item()
        if 2.0**-13 < rel < 2.0**-6:
            guess = "bfloat16" if rel > 2.0**-10.5 else "float16"
            return (f"angle error grows with position (median {rel:.2g} of the angle, about 2^{math.log2(rel):.1f}): "
                    f"angles formed in low precision, likely {guess}")
    return ""
