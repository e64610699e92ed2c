"""``RopeConfig``: the frozen, validated description of one RoPE convention.

This is the third argument of every implementation under test (docs/contract.md §1)::

    rope(x: (batch, seq, heads, head_dim), positions: (batch, seq) int64, config) -> like x
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Iterator

from ropecheck.scaling import attention_factor, num_axes
from ropecheck.scaling import validate as validate_scaling

PAIRINGS = ("interleaved", "half_split")


class FrozenMapping(Mapping):
    """A read-only, hashable copy of a mapping (used for ``config.scaling``)."""

    __slots__ = ("_data",)

    def __init__(self, data: Mapping[str, Any]):
        self._data = dict(data)

    def __getitem__(self, key: str) -> Any:
        return self._data[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._data)

    def __len__(self) -> int:
        return len(self._data)

    def __hash__(self) -> int:
        return hash(tuple(sorted((k, _hashable(v)) for k, v in self._data.items())))

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Mapping) and dict(self._data) == dict(other)

    def __repr__(self) -> str:
        return repr(self._data)


def _hashable(value: Any) -> Any:
    if isinstance(value, (list, tuple)):
        return tuple(_hashable(v) for v in value)
    if isinstance(value, Mapping):
        return tuple(sorted((k, _hashable(v)) for k, v in value.items()))
    return value


@dataclass(frozen=True)
class RopeConfig:
    """One RoPE convention.

    Attributes:
        base: theta, the base of the geometric frequency ladder
            ``inv_freq[i] = base ** (-2 i / rotary_dim)``; 10000.0 in the RoFormer paper.
        rotary_dim: how many leading dims of each head are rotated (even). Dims at and
            above it pass through unchanged.
        pairing: ``"interleaved"`` rotates pairs ``(2i, 2i+1)`` (RoFormer, Meta llama,
            GPT-J); ``"half_split"`` rotates pairs ``(i, i + rotary_dim/2)`` (GPT-NeoX,
            HF ``rotate_half``).
        scaling: ``None`` or a mapping with HF ``rope_parameters`` key names
            (``rope_type``, ``factor``, ...), validated by ``ropecheck.scaling``; the
            multi-axis keys ``mrope_section`` / ``axes`` live here too. Stored read-only.
        head_dim: optional; when given, ``rotary_dim <= head_dim`` is checked here.
            ropecheck always sets it when it calls an implementation.
    """

    base: float = 10000.0
    rotary_dim: int = 128
    pairing: str = "half_split"
    scaling: Mapping[str, Any] | None = None
    head_dim: int | None = field(default=None)

    def __post_init__(self) -> None:
        _check_base(self.base)
        _check_rotary_dim(self.rotary_dim, self.head_dim)
        if self.pairing not in PAIRINGS:
            raise ValueError(
                f"RopeConfig.pairing: expected one of {PAIRINGS}, got {self.pairing!r}"
            )
        object.__setattr__(self, "base", float(self.base))
        if self.scaling is not None:
            if not isinstance(self.scaling, Mapping):
                raise ValueError(
                    "RopeConfig.scaling: expected None or a mapping of HF rope_parameters, "
                    f"got {type(self.scaling).__name__}"
                )
            validate_scaling(self.scaling, self.rotary_dim, self.base)
            object.__setattr__(self, "scaling", FrozenMapping(self.scaling))

    @property
    def rope_type(self) -> str:
        """``"default"`` when unscaled, else ``scaling["rope_type"]``."""
        if not self.scaling:
            return "default"
        return str(self.scaling.get("rope_type", "default"))

    @property
    def attention_factor(self) -> float:
        """What cos and sin are multiplied by (YaRN, LongRoPE); 1.0 otherwise."""
        return attention_factor(self.scaling)

    @property
    def axes(self) -> int:
        """Position axes: 1, or 2+ for multi-axis RoPE (positions (batch, seq, axes))."""
        return num_axes(self.scaling)

    def replace(self, **changes: Any) -> "RopeConfig":
        """A copy with some fields changed (validated again)."""
        fields = dict(
            base=self.base,
            rotary_dim=self.rotary_dim,
            pairing=self.pairing,
            scaling=None if self.scaling is None else dict(self.scaling),
            head_dim=self.head_dim,
        )
        fields.update(changes)
        return RopeConfig(**fields)


def _check_base(base: Any) -> None:
    if isinstance(base, bool) or not isinstance(base, (int, float)):
        raise ValueError(f"RopeConfig.base: expected a positive float, got {base!r}")
    if not math.isfinite(base) or base <= 0:
        raise ValueError(f"RopeConfig.base: must be positive and finite, got {base!r}")
    if base == 1.0:
        raise ValueError("RopeConfig.base: 1.0 gives every pair the same frequency; expected base > 0, != 1")


def _check_rotary_dim(rotary_dim: Any, head_dim: Any) -> None:
    if isinstance(rotary_dim, bool) or not isinstance(rotary_dim, int):
        raise ValueError(f"RopeConfig.rotary_dim: expected an int, got {rotary_dim!r}")
    if rotary_dim <= 0 or rotary_dim % 2:
        raise ValueError(
            f"RopeConfig.rotary_dim: must be a positive even number (dims are rotated in pairs), got {rotary_dim}"
        )
    if head_dim is None:
        return
    if isinstance(head_dim, bool) or not isinstance(head_dim, int) or head_dim <= 0:
        raise ValueError(f"RopeConfig.head_dim: expected a positive int or None, got {head_dim!r}")
    if rotary_dim > head_dim:
        raise ValueError(
            f"RopeConfig.rotary_dim: {rotary_dim} is larger than head_dim {head_dim}; expected rotary_dim <= head_dim"
        )
