"""Naming the cause of a disagreement with the oracle.

When an output fails, ropecheck asks which *other* convention it does match: the other
pairing, the opposite rotation, positions shifted by one or ignored, another base, the
frequency exponent over the wrong dimension, the wrong dims rotated, a scaled output, or
angles formed in low precision. The first explanation under the same tolerance model is
named in the report; when none fits, the report says so.
"""

from __future__ import annotations

import math
from typing import Callable, Iterator

import torch

from ropecheck import oracle, tolerance
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
    yield (f"uses pairing {other!r} where the spec claims {config.pairing!r}",
           lambda: oracle.rope(x, positions, config.replace(pairing=other)))
    yield ("rotates the wrong way (by -m*theta: sin sign flipped)",
           lambda: oracle.rope_with_angles(x, -true_angles(), config))
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


def _candidate_bases(base: float) -> list[float]:
    out = [b for b in COMMON_BASES if not math.isclose(b, base, rel_tol=1e-9)]
    out += [base * 10, base / 10]
    out += [b for b in (float(int(base)), float(round(base))) if b != base and b > 1 and b not in out]
    return out


def _rotate_tail(x: torch.Tensor, positions: torch.Tensor, config: RopeConfig) -> torch.Tensor:
    x64 = x.detach().to("cpu", torch.float64)
    tail = x64[..., -config.rotary_dim:]
    out = x64.clone()
    out[..., -config.rotary_dim:] = oracle.rope(tail, positions, config.replace(head_dim=config.rotary_dim))
    return out


def explain(y: torch.Tensor, x: torch.Tensor, positions: torch.Tensor, config: RopeConfig) -> str:
    """One sentence naming the most likely cause of ``y`` disagreeing with the oracle."""
    out = y.detach().to("cpu", torch.float64)
    if not torch.isfinite(out).all() and torch.isfinite(x.detach().float()).all():
        return "the output has NaN or inf values for a finite input"
    matches = []
    for text, expected, *judged_under in _hypotheses(x, positions, config):
        try:
            ref = expected()
        except (ValueError, RuntimeError, IndexError):
            continue
        if tolerance.compare(y, x, positions, judged_under[0] if judged_under else config, expected=ref).ok:
            matches.append(text)
    if matches:
        return "the output matches " + "; or ".join(matches[:3])
    return _magnitude_or_precision(out, x, positions, config)


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
