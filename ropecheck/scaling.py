"""Long-context scaling and multi-axis layouts: validation and exact frequencies.

``config.scaling`` uses HF ``rope_parameters`` key names (docs/contract.md §1). The reference
semantics are those of HF transformers' ``modeling_rope_utils.py`` (what checkpoints are
trained against), computed here exactly with mpmath instead of in float32. With rotary
dim d, pair i, exponent e_i = 2i/d, the unscaled frequency is theta_i = base**(-e_i):

Each rope_type is one record in ``ropecheck.rope_types`` (``linear``, ``ntk``, ``dynamic``,
``yarn``, ``llama3``, ``longrope``: one module each, with its formulas and their maths);
this module validates a parameter set and evaluates the records exactly:

- ``validate``: the record's required and optional keys and its checks;
- ``turns``: theta_i from the (possibly rescaled, ``effective_base``) base as powers of one
  ratio, then the record's per-pair ``frequency``, at 60 digits, as double-doubles;
- ``attention_factor``, ``freq_slack_ulps``: the record's attention factor and float32 slack.

For ``ntk`` and ``dynamic`` with d = 2 the only frequency is base'**0 = 1 whatever the
base, so the scaling is a no-op there (HF divides by d - 2 = 0).

Multi-axis RoPE (positions of shape (batch, seq, axes), docs/contract.md §4.4) is
a layout record used with rope_type 'default': ``mrope_section`` (``rope_types/mrope.py``,
Qwen2-VL's M-RoPE: pair i in section k rotated by the position on axis k) and ``axes``
(``rope_types/axial.py``, pair i on axis i mod A, frequency
base**(-2 (i div A) A / d)).
"""

from __future__ import annotations

import functools
import math
from collections.abc import Mapping
from typing import Any

import mpmath
import numpy as np

from ropecheck import rope_types
from ropecheck.rope_types import DPS as _DPS
from ropecheck.rope_types import error as _err
from ropecheck.rope_types import yarn as _yarn
from ropecheck.rope_types.default import pair_inv_freq

ROPE_TYPES = rope_types.scaling_types()
"""The rope_type values, 'default' first (one record each in ``ropecheck.rope_types``)."""
CALL_DEPENDENT = tuple(name for name in ROPE_TYPES if rope_types.get(name).call_dependent)
"""Types whose frequencies depend on the largest position in the call (as HF defines it)."""

_NUMBER_KEYS = ("factor", "low_freq_factor", "high_freq_factor", "beta_fast", "beta_slow",
                "attention_factor", "mscale", "mscale_all_dim")
"""Keys checked as finite numbers (positive, but for the two mscales) wherever they appear."""


def _record(scaling: Mapping | None) -> rope_types.RopeType:
    return rope_types.get((scaling or {}).get("rope_type", "default"))


def layout_of(scaling: Mapping | None) -> rope_types.RopeType | None:
    """The record of the multi-axis layout ``scaling`` selects, if any."""
    if scaling:
        for layout in rope_types.layouts():
            if layout.layout_key in scaling:
                return layout
    return None


def _number(scaling: Mapping, key: str, positive: bool = True) -> float:
    value = scaling[key]
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise _err(key, f"expected a finite number, got {value!r}")
    if positive and value <= 0:
        raise _err(key, f"expected a positive number, got {value!r}")
    return float(value)


def validate(scaling: Mapping[str, Any], rotary_dim: int, base: float) -> None:
    """Raise ``ValueError`` naming the key when ``scaling`` is not a valid parameter set."""
    rope_type = scaling.get("rope_type", "default")
    known = rope_types.scaling_types()
    if rope_type not in known:
        raise _err("rope_type", f"expected one of {known}, got {rope_type!r}")
    record = rope_types.get(rope_type)
    for key in record.required:
        if key not in scaling:
            raise _err(key, f"missing: rope_type {rope_type!r} requires {list(record.required)}")
    always = ("rope_type", "rope_theta") + tuple(layout.layout_key for layout in rope_types.layouts())
    allowed = set(always) | set(record.required) | set(record.optional)
    for key in scaling:
        if key not in allowed:
            raise _err(key, f"unknown for rope_type {rope_type!r}; expected keys among {sorted(allowed)}")
    for key in _NUMBER_KEYS:
        if key in scaling:
            _number(scaling, key, positive=key not in ("mscale", "mscale_all_dim"))
    if "original_max_position_embeddings" in scaling:
        value = scaling["original_max_position_embeddings"]
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise _err("original_max_position_embeddings", f"expected a positive int, got {value!r}")
    if "rope_theta" in scaling and float(scaling["rope_theta"]) != base:
        raise _err("rope_theta", f"{scaling['rope_theta']!r} disagrees with RopeConfig.base {base!r}")
    if "truncate" in scaling and not isinstance(scaling["truncate"], bool):
        raise _err("truncate", f"expected true or false, got {scaling['truncate']!r}")
    if record.check is not None:
        record.check(scaling, rotary_dim)
    _validate_axes(scaling, rotary_dim, record)


def _validate_axes(scaling: Mapping, rotary_dim: int, record: rope_types.RopeType) -> None:
    given = [layout for layout in rope_types.layouts() if layout.layout_key in scaling]
    if len(given) > 1:
        raise _err(given[-1].layout_key, f"give either {' or '.join(g.layout_key for g in given)}, not both")
    if given and not record.takes_layout:
        raise _err("rope_type", "multi-axis layouts are checked with rope_type 'default' only")
    for layout in given:
        layout.check(scaling, rotary_dim)


# ---------------------------------------------------------------- layout of pairs over axes


def num_axes(scaling: Mapping | None) -> int:
    """1 for ordinary RoPE; the number of position axes for a multi-axis layout."""
    layout = layout_of(scaling)
    return 1 if layout is None else layout.num_axes(scaling)


def axis_of_pair(scaling: Mapping | None, rotary_dim: int) -> np.ndarray:
    """(rotary_dim // 2,) int: which position axis rotates each pair."""
    layout = layout_of(scaling)
    if layout is None:
        return np.zeros(rotary_dim // 2, dtype=np.int64)
    return layout.axis_of_pair(scaling, rotary_dim)


def exponent_steps(scaling: Mapping | None, rotary_dim: int) -> list[int]:
    """k_i with e_i = 2 k_i / d (``exponents``): i, or (i div A) A for ``axes = A``."""
    layout = layout_of(scaling)
    if layout is None or layout.exponent_steps is None:
        return list(range(rotary_dim // 2))
    return layout.exponent_steps(scaling, rotary_dim)


def exponents(scaling: Mapping | None, rotary_dim: int) -> list[mpmath.mpf]:
    """e_i with theta_i = base**(-e_i): 2i/d, or 2 (i div A) A / d for ``axes = A``."""
    return [mpmath.mpf(2 * k) / rotary_dim for k in exponent_steps(scaling, rotary_dim)]


# ---------------------------------------------------------------- exact frequencies


def effective_length(rope_type: str, scaling: Mapping, length: int) -> int | str:
    """The part of the call's length (largest position + 1) the frequencies depend on
    (0 for the types that do not depend on it)."""
    record = rope_types.get(rope_type)
    return 0 if record.effective_length is None else record.effective_length(scaling, length)


def effective_base(rope_type: str, scaling: Mapping, base: float, rotary_dim: int, length_key) -> mpmath.mpf:
    """The base after NTK-style rescaling (the base itself for other types, and for d = 2,
    where the only frequency is base**0 = 1 whatever the base)."""
    b = mpmath.mpf(base)
    record = rope_types.get(rope_type)
    if record.effective_base is None or rotary_dim == 2:
        return b
    return record.effective_base(scaling, b, rotary_dim, length_key)


def yarn_ramp(scaling: Mapping, base: float, rotary_dim: int) -> list[mpmath.mpf]:
    """Per pair, the weight of the interpolated (theta / factor) frequency: 0 keeps theta."""
    return _yarn.ramp_at_oracle_precision(scaling, base, rotary_dim)


@functools.lru_cache(maxsize=512)
def _turns_cached(base: float, rotary_dim: int, scaling_key, length_key) -> tuple[np.ndarray, np.ndarray]:
    scaling = dict(scaling_key) if scaling_key else {}
    rope_type = scaling.get("rope_type", "default")
    record = rope_types.get(rope_type)
    with mpmath.workdps(_DPS):
        b = effective_base(rope_type, scaling, base, rotary_dim, length_key)
        prepared = record.prepare(scaling, base, rotary_dim) if record.prepare is not None else None
        two_pi = 2 * mpmath.pi
        # theta_i = b ** (-2 k_i / d) = r ** k_i with r = b ** (-2 / d): one power, then a
        # product per step (each rounded at 60 digits: far below the double-double's 32)
        r = b ** (mpmath.mpf(-2) / rotary_dim)
        power, k_now = mpmath.mpf(1), 0
        hi, lo = [], []
        for i, k in enumerate(exponent_steps(scaling, rotary_dim)):
            while k_now < k:
                power, k_now = power * r, k_now + 1
            scaled = power if record.frequency is None else record.frequency(scaling, power, i, prepared, length_key)
            turns = scaled / two_pi
            h = float(turns)
            hi.append(h)
            lo.append(float(turns - mpmath.mpf(h)))
    return np.array(hi), np.array(lo)


def _key(scaling: Mapping | None):
    if not scaling:
        return ()
    return tuple(sorted((k, tuple(v) if isinstance(v, (list, tuple)) else v) for k, v in scaling.items()))


def turns(base: float, rotary_dim: int, scaling: Mapping | None, length: int) -> tuple[np.ndarray, np.ndarray]:
    """Frequencies in turns per position as double-doubles ``hi + lo``, shape (rotary_dim // 2,).

    ``length`` is the largest position in the call + 1 (used by the call-dependent types only).
    """
    rope_type = (scaling or {}).get("rope_type", "default")
    length_key = effective_length(rope_type, scaling, length) if scaling else 0
    return _turns_cached(float(base), int(rotary_dim), _key(scaling), length_key)


def attention_factor(scaling: Mapping | None) -> float:
    """The factor HF multiplies cos and sin by (1.0 for most types)."""
    if not scaling:
        return 1.0
    record = _record(scaling)
    return 1.0 if record.attention_factor is None else record.attention_factor(scaling)


# ---------------------------------------------------------------- float32 error model


def freq_slack_ulps(base: float, rotary_dim: int, scaling: Mapping | None, length: int) -> np.ndarray:
    """Per pair, the extra float32 ulps (relative to the scaled frequency) that an honest
    float32 evaluation of the scaling formula can lose, beyond the unscaled ladder's.

    A blend of theta and theta / s (YaRN's ramp, Llama 3's smoothing) computed with a
    weight w that carries an absolute error dw moves the frequency by
    (1 - 1/s) theta dw, which relative to the blended frequency is amplified by
    theta / theta'. Returns float64 (rotary_dim // 2,), in units of float32 eps.
    """
    rope_type = (scaling or {}).get("rope_type", "default")
    length_key = effective_length(rope_type, scaling, length) if scaling else 0
    return _slack_cached(float(base), int(rotary_dim), _key(scaling), length_key)


@functools.lru_cache(maxsize=512)
def _slack_cached(base: float, rotary_dim: int, scaling_key, length_key) -> np.ndarray:
    scaling = dict(scaling_key)
    pairs = rotary_dim // 2
    slack = _record(scaling).slack_ulps
    if not callable(slack):
        return np.full(pairs, float(slack)) if slack else np.zeros(pairs)
    hi, lo = _turns_cached(base, rotary_dim, scaling_key, length_key)
    scaled = (hi + lo) * 2 * math.pi
    theta = np.array([float(pair_inv_freq(mpmath.mpf(base), mpmath.mpf(k), rotary_dim))
                      for k in exponent_steps(scaling, rotary_dim)])
    return slack(scaling, base, rotary_dim, theta, scaled)
