"""Long-context scaling and multi-axis layouts: validation and exact frequencies.

``config.scaling`` uses HF ``rope_parameters`` key names (CONTRACT §1). The reference
semantics are those of HF transformers' ``modeling_rope_utils.py`` (what checkpoints are
trained against), computed here exactly with mpmath instead of in float32. With rotary
dim d, pair i, exponent e_i = 2i/d, the unscaled frequency is theta_i = base**(-e_i):

- ``linear`` (position interpolation): theta_i / factor.
- ``ntk`` (static NTK-aware; not an HF rope_type): base' = base * factor**(d/(d-2)).
- ``dynamic`` (HF's dynamic NTK): with L = the largest position in the call + 1 and
  L0 = ``original_max_position_embeddings`` (HF's ``config.max_position_embeddings``),
  base' = base * (factor * max(L, L0) / L0 - (factor - 1))**(d/(d-2)).
- ``yarn``: a ramp between beta_fast and beta_slow (defaults 32 and 1) blends theta_i
  (high frequencies) with theta_i / factor (low ones); ``truncate`` (default true) floors
  and ceils the correction range; cos and sin are multiplied by the attention factor:
  ``attention_factor`` if given, else the mscale ratio when ``mscale`` and
  ``mscale_all_dim`` are both given, else 0.1 ln(factor) + 1.
- ``llama3``: wavelengths 2 pi / theta_i above L0 / low_freq_factor are divided by factor,
  below L0 / high_freq_factor kept, and smoothly interpolated between.
- ``longrope``: theta_i / long_factor[i] when L > L0, else theta_i / short_factor[i]; the
  attention factor is ``attention_factor`` if given, else sqrt(1 + ln(factor) / ln(L0))
  for factor > 1 (factor defaults to 1: HF falls back to a ratio of model lengths that a
  RopeConfig does not carry).

For ``ntk`` and ``dynamic`` with d = 2 the only frequency is base'**0 = 1 whatever the
base, so the scaling is a no-op there (HF divides by d - 2 = 0).

Multi-axis RoPE (positions of shape (batch, seq, axes), see the README's adapter notes):

- ``mrope_section`` (HF, Qwen2-VL's M-RoPE): a list of pair counts summing to d/2;
  pair i in section k is rotated by the position on axis k (t, h, w).
- ``axes`` (ropecheck's name for seed 000's appendix): A axes; each group of 2A dims has
  A consecutive pairs sharing one frequency, pair i rotated by the position on axis
  i mod A with frequency base**(-2 (i div A) A / d).
"""

from __future__ import annotations

import functools
import math
from collections.abc import Mapping
from typing import Any

import mpmath
import numpy as np

ROPE_TYPES = ("default", "linear", "ntk", "dynamic", "yarn", "llama3", "longrope")
CALL_DEPENDENT = ("dynamic", "longrope")
"""Types whose frequencies depend on the largest position in the call (as HF defines it)."""

_REQUIRED = {
    "default": (),
    "linear": ("factor",),
    "ntk": ("factor",),
    "dynamic": ("factor", "original_max_position_embeddings"),
    "yarn": ("factor", "original_max_position_embeddings"),
    "llama3": ("factor", "low_freq_factor", "high_freq_factor", "original_max_position_embeddings"),
    "longrope": ("short_factor", "long_factor", "original_max_position_embeddings"),
}
_OPTIONAL = {
    "yarn": ("beta_fast", "beta_slow", "truncate", "attention_factor", "mscale", "mscale_all_dim"),
    "longrope": ("factor", "attention_factor"),
}
_ALWAYS = ("rope_type", "rope_theta", "mrope_section", "axes")
_DPS = 60


def _err(key: str, message: str) -> ValueError:
    return ValueError(f"RopeConfig.scaling[{key!r}]: {message}")


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
    if rope_type not in ROPE_TYPES:
        raise _err("rope_type", f"expected one of {ROPE_TYPES}, got {rope_type!r}")
    for key in _REQUIRED[rope_type]:
        if key not in scaling:
            raise _err(key, f"missing: rope_type {rope_type!r} requires {list(_REQUIRED[rope_type])}")
    allowed = set(_ALWAYS) | set(_REQUIRED[rope_type]) | set(_OPTIONAL.get(rope_type, ()))
    for key in scaling:
        if key not in allowed:
            raise _err(key, f"unknown for rope_type {rope_type!r}; expected keys among {sorted(allowed)}")
    for key in ("factor", "low_freq_factor", "high_freq_factor", "beta_fast", "beta_slow",
                "attention_factor", "mscale", "mscale_all_dim"):
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
    if rope_type == "llama3" and scaling["low_freq_factor"] == scaling["high_freq_factor"]:
        raise _err("high_freq_factor", "equals low_freq_factor (the smoothing divides by their difference)")
    if rope_type == "longrope":
        for key in ("short_factor", "long_factor"):
            factors = scaling[key]
            if not isinstance(factors, (list, tuple)) or len(factors) != rotary_dim // 2 or not all(
                    isinstance(f, (int, float)) and not isinstance(f, bool) and f > 0 for f in factors):
                raise _err(key, f"expected {rotary_dim // 2} positive numbers (rotary_dim / 2), got {factors!r}")
    _validate_axes(scaling, rotary_dim, rope_type)


def _validate_axes(scaling: Mapping, rotary_dim: int, rope_type: str) -> None:
    if "mrope_section" in scaling and "axes" in scaling:
        raise _err("axes", "give either mrope_section or axes, not both")
    if ("mrope_section" in scaling or "axes" in scaling) and rope_type != "default":
        raise _err("rope_type", "multi-axis layouts are checked with rope_type 'default' only")
    if "mrope_section" in scaling:
        section = scaling["mrope_section"]
        if (not isinstance(section, (list, tuple)) or len(section) < 2
                or not all(isinstance(s, int) and not isinstance(s, bool) and s >= 1 for s in section)
                or sum(section) != rotary_dim // 2):
            raise _err("mrope_section", f"expected >= 2 positive ints summing to rotary_dim / 2 = {rotary_dim // 2}, "
                                        f"got {section!r}")
    if "axes" in scaling:
        axes = scaling["axes"]
        if isinstance(axes, bool) or not isinstance(axes, int) or axes < 2 or rotary_dim % (2 * axes):
            raise _err("axes", f"expected an int >= 2 dividing rotary_dim / 2 = {rotary_dim // 2}, got {axes!r}")


# ---------------------------------------------------------------- layout of pairs over axes


def num_axes(scaling: Mapping | None) -> int:
    """1 for ordinary RoPE; the number of position axes for a multi-axis layout."""
    if not scaling:
        return 1
    if "mrope_section" in scaling:
        return len(scaling["mrope_section"])
    return int(scaling.get("axes", 1))


def axis_of_pair(scaling: Mapping | None, rotary_dim: int) -> np.ndarray:
    """(rotary_dim // 2,) int: which position axis rotates each pair."""
    pairs = rotary_dim // 2
    if scaling and "mrope_section" in scaling:
        return np.repeat(np.arange(len(scaling["mrope_section"])), scaling["mrope_section"])
    if scaling and "axes" in scaling:
        return np.arange(pairs) % int(scaling["axes"])
    return np.zeros(pairs, dtype=np.int64)


def exponent_steps(scaling: Mapping | None, rotary_dim: int) -> list[int]:
    """k_i with e_i = 2 k_i / d (``exponents``): i, or (i div A) A for ``axes = A``."""
    pairs = rotary_dim // 2
    if scaling and "axes" in scaling:
        a = int(scaling["axes"])
        return [(i // a) * a for i in range(pairs)]
    return list(range(pairs))


def exponents(scaling: Mapping | None, rotary_dim: int) -> list[mpmath.mpf]:
    """e_i with theta_i = base**(-e_i): 2i/d, or 2 (i div A) A / d for ``axes = A``."""
    return [mpmath.mpf(2 * k) / rotary_dim for k in exponent_steps(scaling, rotary_dim)]


# ---------------------------------------------------------------- exact frequencies


def effective_length(rope_type: str, scaling: Mapping, length: int) -> int | str:
    """The part of the call's length (largest position + 1) the frequencies depend on."""
    if rope_type == "dynamic":
        return max(length, int(scaling["original_max_position_embeddings"]))
    if rope_type == "longrope":
        return "long" if length > int(scaling["original_max_position_embeddings"]) else "short"
    return 0


def effective_base(rope_type: str, scaling: Mapping, base: float, rotary_dim: int, length_key) -> mpmath.mpf:
    """The base after NTK-style rescaling (the base itself for other types)."""
    b = mpmath.mpf(base)
    if rope_type not in ("ntk", "dynamic") or rotary_dim == 2:
        return b
    s = mpmath.mpf(scaling["factor"])
    if rope_type == "dynamic":
        s = s * length_key / int(scaling["original_max_position_embeddings"]) - (s - 1)
    return b * s ** (mpmath.mpf(rotary_dim) / (rotary_dim - 2))


def _yarn_range(scaling: Mapping, base: mpmath.mpf, d: int) -> tuple[mpmath.mpf, mpmath.mpf]:
    l0 = int(scaling["original_max_position_embeddings"])
    fast = scaling.get("beta_fast") or 32
    slow = scaling.get("beta_slow") or 1

    def correction_dim(rotations):
        return d * mpmath.log(l0 / (mpmath.mpf(rotations) * 2 * mpmath.pi)) / (2 * mpmath.log(base))

    low, high = correction_dim(fast), correction_dim(slow)
    if scaling.get("truncate", True):
        low, high = mpmath.floor(low), mpmath.ceil(high)
    low, high = max(low, mpmath.mpf(0)), min(high, mpmath.mpf(d - 1))
    if low == high:
        high += mpmath.mpf("0.001")
    return low, high


def yarn_ramp(scaling: Mapping, base: float, rotary_dim: int) -> list[mpmath.mpf]:
    """Per pair, the weight of the interpolated (theta / factor) frequency: 0 keeps theta."""
    with mpmath.workdps(_DPS):
        low, high = _yarn_range(scaling, mpmath.mpf(base), rotary_dim)
        return [min(max((i - low) / (high - low), mpmath.mpf(0)), mpmath.mpf(1)) for i in range(rotary_dim // 2)]


def _scaled(rope_type: str, scaling: Mapping, theta: mpmath.mpf, i: int, ramp, length_key) -> mpmath.mpf:
    if rope_type == "linear":
        return theta / mpmath.mpf(scaling["factor"])
    if rope_type == "yarn":
        s = mpmath.mpf(scaling["factor"])
        return theta / s * ramp[i] + theta * (1 - ramp[i])
    if rope_type == "llama3":
        s, l0 = mpmath.mpf(scaling["factor"]), mpmath.mpf(scaling["original_max_position_embeddings"])
        lf, hf = mpmath.mpf(scaling["low_freq_factor"]), mpmath.mpf(scaling["high_freq_factor"])
        wavelen = 2 * mpmath.pi / theta  # in HF's order of tests (it matters only if hf < lf)
        if wavelen > l0 / lf:
            return theta / s
        if l0 / hf <= wavelen:
            smooth = (l0 / wavelen - lf) / (hf - lf)
            return (1 - smooth) * theta / s + smooth * theta
        return theta
    if rope_type == "longrope":
        factors = scaling["long_factor" if length_key == "long" else "short_factor"]
        return theta / mpmath.mpf(factors[i])
    return theta


@functools.lru_cache(maxsize=512)
def _turns_cached(base: float, rotary_dim: int, scaling_key, length_key) -> tuple[np.ndarray, np.ndarray]:
    scaling = dict(scaling_key) if scaling_key else {}
    rope_type = scaling.get("rope_type", "default")
    with mpmath.workdps(_DPS):
        b = effective_base(rope_type, scaling, base, rotary_dim, length_key)
        ramp = yarn_ramp(scaling, base, rotary_dim) if rope_type == "yarn" else None
        two_pi = 2 * mpmath.pi
        # theta_i = b ** (-2 k_i / d) = r ** k_i with r = b ** (-2 / d): one power, then a
        # product per step (each rounded at 60 digits: far below the double-double's 32)
        r = b ** (mpmath.mpf(-2) / rotary_dim)
        power, k_now = mpmath.mpf(1), 0
        hi, lo = [], []
        for i, k in enumerate(exponent_steps(scaling, rotary_dim)):
            while k_now < k:
                power, k_now = power * r, k_now + 1
            turns = _scaled(rope_type, scaling, power, i, ramp, length_key) / two_pi
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

    ``length`` is the largest position in the call + 1 (used by dynamic and longrope only).
    """
    rope_type = (scaling or {}).get("rope_type", "default")
    length_key = effective_length(rope_type, scaling, length) if scaling else 0
    return _turns_cached(float(base), int(rotary_dim), _key(scaling), length_key)


def attention_factor(scaling: Mapping | None) -> float:
    """The factor HF multiplies cos and sin by (1.0 for most types)."""
    if not scaling:
        return 1.0
    rope_type = scaling.get("rope_type", "default")
    given = scaling.get("attention_factor")
    if rope_type == "yarn":
        if given is not None:
            return float(given)
        s = float(scaling["factor"])
        mscale, mscale_all = scaling.get("mscale"), scaling.get("mscale_all_dim")
        if mscale and mscale_all:
            return _mscale(s, mscale) / _mscale(s, mscale_all)
        return _mscale(s, 1.0)
    if rope_type == "longrope":
        if given is not None:
            return float(given)
        s = float(scaling.get("factor", 1.0))
        l0 = int(scaling["original_max_position_embeddings"])
        return 1.0 if s <= 1.0 else math.sqrt(1 + math.log(s) / math.log(l0))
    return 1.0


def _mscale(scale: float, mscale: float) -> float:
    return 1.0 if scale <= 1 else 0.1 * mscale * math.log(scale) + 1.0


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
    rope_type = scaling.get("rope_type", "default")
    if rope_type in ("default", "ntk", "dynamic"):
        return np.zeros(pairs)
    if rope_type in ("linear", "longrope"):
        return np.full(pairs, 2.0)
    hi, lo = _turns_cached(base, rotary_dim, scaling_key, length_key)
    scaled = (hi + lo) * 2 * math.pi
    theta = np.array([float(mpmath.mpf(base) ** (-e)) for e in exponents(scaling, rotary_dim)])
    s = float(scaling["factor"])
    gain = np.abs(1 - 1 / s) * theta / scaled
    if rope_type == "yarn":
        low, high = (float(v) for v in _yarn_range(scaling, mpmath.mpf(base), rotary_dim))
        weight_ulps = 2.0 + (np.arange(pairs) + abs(low) + abs(high)) / max(high - low, 1e-3)
        return 4.0 + gain * weight_ulps
    lf, hf = float(scaling["low_freq_factor"]), float(scaling["high_freq_factor"])
    weight_ulps = 2.0 + (4 * max(abs(lf), abs(hf)) + abs(lf)) / abs(hf - lf)
    return 4.0 + gain * weight_ulps
