"""Naming the cause of a disagreement with the oracle.

When an output fails, ropecheck asks which *other* convention it does match: the other
pairing, the opposite rotation, positions shifted by one or ignored, another base, the
frequency exponent over the wrong dimension, the wrong dims rotated, a scaled output,
angles formed in low precision, and for long-context scaling a missing or doubled attention
factor, swapped bands or factors, a reversed ramp, the wrong length, or collapsed axes. The first explanation under the same tolerance model is
named in the report; when none fits, the report says so.
"""

from __future__ import annotations

import itertools
import math
from typing import Callable, Iterator

import torch

from ropecheck import oracle, scaling, tolerance
from ropecheck.config import RopeConfig

COMMON_BASES = (10000.0, 1000.0, 500000.0, 1000000.0, 100000.0, 10.0)


def _float64_angles(positions: torch.Tensor, inv_freq: torch.Tensor) -> torch.Tensor:
    """(batch, seq, k) float64 angles m * inv_freq (plain float64: fine below 2**40)."""
    return positions.detach().to("cpu", torch.float64)[..., None] * inv_freq


def _inv_freq(base: float, count: int, denominator: float, step: float = 2.0) -> torch.Tensor:
    i = torch.arange(count, dtype=torch.float64)
    return base ** (-(step * i) / denominator)


Hypothesis = tuple[str, Callable[[], torch.Tensor]] | tuple[str, Callable[[], torch.Tensor], RopeConfig]


def _hypotheses(x: torch.Tensor, positions: torch.Tensor, config: RopeConfig) -> Iterator[Hypothesis]:
    """(explanation, expected output[, the config it is judged under]), common bugs first."""
    half = config.rotary_dim // 2
    head_dim = x.shape[-1]
    other = "interleaved" if config.pairing == "half_split" else "half_split"
    true_angles = lambda: oracle.angles(positions, config)  # noqa: E731
    if config.scaling:
        yield from _scaling_hypotheses(x, positions, config)
    yield (f"uses pairing {other!r} where the spec claims {config.pairing!r}",
           lambda: oracle.rope(x, positions, config.replace(pairing=other)))
    yield ("rotates the wrong way (by -m*theta: sin sign flipped)",
           lambda: oracle.rope_with_angles(x, -true_angles(), config) * _af_on_pairs(x, config))
    for dtype in (torch.bfloat16, torch.float16):
        rounded = positions.to(dtype).to(torch.float64).round().to(torch.int64)
        if not torch.equal(rounded, positions.cpu()) and torch.isfinite(positions.to(dtype)).all():
            yield (f"positions rounded to {str(dtype).removeprefix('torch.')} (angles formed in low precision)",
                   lambda rounded=rounded: oracle.rope(x, rounded, config))
    for shift in (1, -1):
        yield (f"positions off by {shift:+d} (uses m{shift:+d})",
               lambda shift=shift: oracle.rope(x, positions + shift, config))
    seq = positions.shape[1]
    arange = torch.arange(seq).expand_as(positions)
    yield ("ignores the given positions and uses 0..seq-1 for every row",
           lambda: oracle.rope(x, arange, config))
    yield ("uses the first row's positions for every row",
           lambda: oracle.rope(x, positions[:1].expand_as(positions), config))
    for base in _candidate_bases(config.base):
        yield (f"uses base {base:g} where the config says {config.base:g}",
               lambda base=base: oracle.rope(x, positions, config.replace(base=base)))
    yield ("frequency exponent is i/rotary_dim instead of 2i/rotary_dim",
           lambda: oracle.rope_with_angles(x, _float64_angles(positions, _inv_freq(config.base, half, config.rotary_dim, 1.0)), config))
    if head_dim != config.rotary_dim:
        yield ("frequency exponent divides by head_dim instead of rotary_dim",
               lambda: oracle.rope_with_angles(x, _float64_angles(positions, _inv_freq(config.base, half, head_dim)), config))
        whole = config.replace(rotary_dim=head_dim, head_dim=head_dim)
        yield ("ignores rotary_dim and rotates all head_dim dims", lambda: oracle.rope(x, positions, whole), whole)
        yield ("rotates the last rotary_dim dims instead of the first", lambda: _rotate_tail(x, positions, config))
    yield "no rotation at all (output equals input)", lambda: x.detach().to("cpu", torch.float64)
    for delta in (-1, -2, 1):
        denominator = config.rotary_dim + delta
        if denominator > 0:
            yield (f"frequency exponent divides by rotary_dim {delta:+d} = {denominator} "
                   "(an off-by-one in the frequency ladder, or a rotary fraction truncated by int())",
                   lambda denominator=denominator: oracle.rope_with_angles(
                       x, _float64_angles(positions, _inv_freq(config.base, half, denominator)), config))


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


def _scaling_hypotheses(x: torch.Tensor, positions: torch.Tensor, config: RopeConfig) -> Iterator[Hypothesis]:
    """Long-context scaling slips, for the config's rope_type.

    Other than the attention-factor ones, each is judged under the unscaled config: its
    angles are the largest any of these frequency ladders reaches, so an honest float32
    version of the slip is not refused for rounding it is entitled to.
    """
    sc, kind, af = config.scaling, config.rope_type, config.attention_factor
    loose = config.replace(scaling=None) if config.axes == 1 else config
    if af != 1.0:
        yield (f"the attention factor {af:.6g} is not applied (cos and sin unscaled)",
               lambda: oracle.rope(x, positions, config, attention_factor=1.0))
        yield (f"the attention factor is applied twice ({af:.6g}**2)",
               lambda: oracle.rope(x, positions, config, attention_factor=af * af))
    if kind != "default":
        yield (f"the {kind} scaling is ignored (unscaled frequencies)",
               lambda: oracle.rope(x, positions, config.replace(scaling=None), attention_factor=af), loose)
    if "factor" in sc and kind in ("linear", "yarn", "llama3"):
        yield (f"multiplies by factor {sc['factor']:g} where it must divide (positions stretched, not interpolated)",
               lambda: oracle.rope(x, positions, _scaled(config, factor=1 / sc["factor"]), attention_factor=af),
               _scaled(config, factor=1 / sc["factor"]))
    if kind == "llama3":
        yield ("low_freq_factor and high_freq_factor swapped (the wavelength bands exchanged)",
               lambda: oracle.rope(x, positions, _scaled(config, low_freq_factor=sc["high_freq_factor"],
                                                         high_freq_factor=sc["low_freq_factor"])), loose)
    if kind == "yarn":
        yield (f"YaRN's truncate treated as {not sc.get('truncate', True)} (correction range "
               f"{'not ' if sc.get('truncate', True) else ''}rounded to whole dims)",
               lambda: oracle.rope(x, positions, _scaled(config, truncate=not sc.get("truncate", True))), loose)
        yield ("YaRN's ramp reversed (high frequencies interpolated, low ones kept)",
               lambda: _with_inv_freq(x, positions, config, _reversed_yarn(config)), loose)
    if kind == "longrope":
        yield ("LongRoPE's long_factor and short_factor swapped",
               lambda: oracle.rope(x, positions, _scaled(config, long_factor=sc["short_factor"],
                                                         short_factor=sc["long_factor"])), loose)
        inverted = _scaled(config, long_factor=tuple(1 / f for f in sc["long_factor"]),
                           short_factor=tuple(1 / f for f in sc["short_factor"]))
        yield ("multiplies by LongRoPE's per-pair factors where it must divide",
               lambda: oracle.rope(x, positions, inverted), inverted)
    if kind in ("dynamic", "longrope"):
        seq = positions.shape[1]
        yield (f"takes the {kind} length from the sequence length ({seq}) instead of the largest position + 1",
               lambda: _with_inv_freq(x, positions, config, oracle.inv_freq(config, seq)), loose)
    if kind == "dynamic":
        yield ("static NTK (base * factor**(d/(d-2)) whatever the length), not dynamic",
               lambda: oracle.rope(x, positions, _scaled(config, rope_type="ntk", original_max_position_embeddings=None)), loose)
    if kind in ("ntk", "dynamic"):
        yield ("NTK base multiplied by the factor itself (exponent d/(d-2) missing)",
               lambda: _with_inv_freq(x, positions, config, _ntk_without_exponent(config, oracle.call_length(positions))), loose)
    if config.axes > 1:
        first_axis = positions[..., :1].expand_as(positions)
        yield ("every pair uses the first axis's positions (multi-axis positions collapsed to one)",
               lambda: oracle.rope(x, first_axis, config))
        yield ("the axes are taken in reverse order",
               lambda: oracle.rope(x, positions.flip(-1), config))


def _reversed_yarn(config: RopeConfig) -> torch.Tensor:
    ramp = torch.tensor([float(r) for r in scaling.yarn_ramp(config.scaling, config.base, config.rotary_dim)],
                        dtype=torch.float64)
    theta = oracle.inv_freq(config.replace(scaling=None))
    return theta * ramp + theta / float(config.scaling["factor"]) * (1 - ramp)


def _ntk_without_exponent(config: RopeConfig, length: int) -> torch.Tensor:
    sc = config.scaling
    s = float(sc["factor"])
    if config.rope_type == "dynamic":
        l0 = int(sc["original_max_position_embeddings"])
        s = s * max(length, l0) / l0 - (s - 1)
    return _inv_freq(config.base * s, config.rotary_dim // 2, config.rotary_dim)


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


def explain(y: torch.Tensor, x: torch.Tensor, positions: torch.Tensor, config: RopeConfig,
            lengths: tuple[int, ...] | None = None, partner: torch.Tensor | None = None, operand: str = "x") -> str:
    """One sentence naming the most likely cause of ``y`` disagreeing with the oracle.

    y, x: (batch, seq, heads, head_dim) (a packed call as one row, with the sequence
    ``lengths``); positions (batch, seq[, axes]); ``partner``: the other operand of a q/k
    call (k when ``operand`` is "q"), for cross-wiring.
    """
    out = y.detach().to("cpu", torch.float64)
    if not torch.isfinite(out).all() and torch.isfinite(x.detach().float()).all():
        return "the output has NaN or inf values for a finite input"
    hypotheses = _hypotheses(x, positions, config)
    if lengths is not None:
        hypotheses = itertools.chain(_packed_hypotheses(x, positions, config, lengths), hypotheses)
    matches = []
    for text, expected, *judged_under in hypotheses:
        try:
            ref = expected()
        except (ValueError, RuntimeError, IndexError):
            continue
        if tolerance.compare(y, x, positions, judged_under[0] if judged_under else config, expected=ref).ok:
            matches.append(text)
    if matches:
        return "the output matches " + "; or ".join(matches[:3])
    return (_cross_wired(y, x, positions, config, partner, operand) or _by_head(y, x, positions, config)
            or _by_row(y, x, positions, config, lengths) or _magnitude_or_precision(out, x, positions, config))


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
    if heads < 2:
        return ""
    right = (_pair_ratios(y, x, positions, config, oracle.rope(x, positions, config)) <= 1).flatten(0, 1).all(0).all(-1)
    if bool(right.all()) or not bool(right.any()):
        return ""
    identity = (_pair_ratios(y, x, positions, config, x.detach().to("cpu", torch.float64)) <= 1)
    unrotated = identity.flatten(0, 1).all(0).all(-1)
    wrong = [int(h) for h in (~right).nonzero()]
    if bool(right[0]) and not bool(right[1:].any()):
        how = " (they come back unrotated)" if bool(unrotated[1:].all()) else ""
        return f"only the first head is rotated correctly; heads 1..{heads - 1} are not{how}"
    return f"heads {_few(wrong)} are wrong while heads {_few([h for h in range(heads) if h not in wrong])} are right"


def _by_row(y, x, positions, config, lengths) -> str:
    """Some rows (packed: sequences) right and others not."""
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
    return f"{what} {_few(wrong)} are wrong while {what} {_few([i for i in range(len(groups)) if i not in wrong])} are right"


def _few(items: list[int]) -> str:
    return ", ".join(map(str, items[:6])) + (", ..." if len(items) > 6 else "")


def _magnitude_or_precision(out: torch.Tensor, x: torch.Tensor, positions: torch.Tensor, config: RopeConfig) -> str:
    """Fallbacks: pair norms scaled by a constant, or angle errors growing with position."""
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
    return "no simple convention explains it (not a pairing, direction, offset, base, exponent or rotary_dim slip)"
