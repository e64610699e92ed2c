"""``RopeType``: everything ropecheck knows about one rope_type (or multi-axis layout), in one
commented record, in the manner of PyTorch's OpInfo.

A record is data plus small functions. The functions receive what they need as arguments
(the scaling mapping, mpmath numbers, a numeric ``Ops`` namespace, a drawing or diagnosis
context): this package imports nothing from ropecheck above ``config`` level, so the oracle
(``scaling``), the strategies, the diagnosis, the tolerance model and the HF adapter read
the records instead of the records reading them.

Shared formulas are written once, with ``+ - * / **`` and the functions of an ``Ops``
namespace only, so that the same text is evaluated in mpmath (the oracle), in Python floats
(attention factors, the diagnosis) and in SymPy (``tests/unit/rope_types/test_formulas_agree.py``
compares them with ``ropecheck.proofs``).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Hashable, Iterator, Mapping
from dataclasses import dataclass
from types import SimpleNamespace
from typing import Any

import mpmath
import numpy as np


class Ops(SimpleNamespace):
    """The functions a shared formula may call besides ``+ - * / **``, for one numeric world:
    ``log, exp, sqrt, floor, ceil, min, max`` (callables), ``pi`` (a number), and
    ``number(text)``, which turns a decimal literal (or an int) into that world's number
    (mpmath: ``mpf`` at the working precision; floats: ``float``; SymPy: an exact
    ``Rational``), so that a constant such as 0.1 means the same thing in each world as it
    did before the formula was shared. (A namespace, not a dataclass: nothing to generate
    at import time.)"""


DPS = 60
"""The oracle's working precision in decimal digits (``scaling.turns``)."""

MPMATH = Ops(log=mpmath.log, exp=mpmath.exp, sqrt=mpmath.sqrt, floor=mpmath.floor, ceil=mpmath.ceil,
             min=min, max=max, pi=mpmath.pi, number=mpmath.mpf)
"""mpmath at the caller's working precision (the oracle works at 60 digits)."""

FLOATS = Ops(log=math.log, exp=math.exp, sqrt=math.sqrt, floor=math.floor, ceil=math.ceil,
             min=min, max=max, pi=math.pi, number=float)
"""Python floats (attention factors; the diagnosis's length-dependent factors)."""


def error(key: str, message: str) -> ValueError:
    """The ``ValueError`` every validation raises: it names the offending key."""
    return ValueError(f"RopeConfig.scaling[{key!r}]: {message}")


Slip = tuple
"""A diagnosis hypothesis, as ``ropecheck.diagnose`` yields them: ``(text, expected)`` or
``(text, expected, judge_config)`` with ``expected()`` the float64 output of the slip."""


@dataclass(frozen=True)
class Law:
    """A law a record proves about its own formula, run by ``ropecheck prove`` beside the
    catalogued proofs. ``check(kit)`` returns the verdict of a SymPy decision; ``kit`` is
    ``ropecheck.proofs.kit``, handed in by the prover (a record imports no SymPy, so that
    no checking process does): ``sp`` (SymPy), ``SYMPY`` (an ``Ops`` for shared formulas),
    ``equal``, ``simplifies_to_zero``, ``all_hold``, ``rotation``, ``block_rotation``,
    ``positions``, ``pair_thetas``, ``CONCRETE_DIMS`` and the method texts."""

    # Short snake_case id, unique among all proofs (``ropecheck prove`` lists it).
    name: str
    # What holds, in the notation of docs/proofs.md.
    statement: str
    # How it is decided (``kit.NORMAL_FORM_METHOD`` and where it is quantified).
    method: str
    # check(kit) -> Verdict (or bool): holds only when SymPy proves it.
    check: Callable[[Any], Any]


@dataclass(frozen=True, eq=False)
class RopeType:
    """One rope_type (``kind="scaling"``: a value of ``scaling["rope_type"]``) or one
    multi-axis layout (``kind="layout"``: a key of ``scaling`` used with rope_type
    ``"default"``). Shapes: d = rotary_dim, pairs = d // 2, pair i in [0, pairs)."""

    # The registry key: the rope_type value, or the layout's name in ``multi_axis`` specs.
    name: str
    # Sort key of the registry: ``scaling.ROPE_TYPES`` lists the scaling types in this order
    # (strategies draw ``sampled_from`` over it, so the order is part of the draws).
    rank: int
    # One line for reports and docs: what the type does to theta_i = base**(-2 i / d).
    summary: str
    # "scaling" or "layout".
    kind: str = "scaling"

    # ---- validation (``scaling.validate``) ----
    # HF ``rope_parameters`` keys the type requires (missing: ValueError naming the key).
    required: tuple[str, ...] = ()
    # Keys it also accepts; any other key is refused as unknown for this type.
    optional: tuple[str, ...] = ()
    # Checks beyond the generic number/int/bool ones: check(scaling, rotary_dim) raises
    # ``error(key, ...)``. For a layout: the check of its own key.
    check: Callable[[Mapping, int], None] | None = None
    # Whether a multi-axis layout may be given with this type (only 'default' today).
    takes_layout: bool = False

    # ---- the exact frequencies (``scaling.turns``, at 60 digits) ----
    # The part of the call length L (largest position + 1) the frequencies depend on:
    # effective_length(scaling, L) -> hashable. None: the type is not call-dependent (key 0).
    effective_length: Callable[[Mapping, int], Hashable] | None = None
    # The rescaled base: effective_base(scaling, base: mpf, d, length_key) -> mpf, called for
    # d > 2 only (at d = 2 the only frequency is base**0 = 1 whatever the base, and
    # ``scaling.effective_base`` returns the base as it is). None: the base itself.
    effective_base: Callable[[Mapping, Any, int, Hashable], Any] | None = None
    # Per-config precomputation for ``frequency``: prepare(scaling, base: float, d) -> any
    # (YaRN's ramp), computed once per config, at the working precision.
    prepare: Callable[[Mapping, float, int], Any] | None = None
    # The exact per-pair frequency from the unscaled theta_i (mpf, radians per position):
    # frequency(scaling, theta_i, i, prepared, length_key) -> mpf. None: theta_i itself.
    frequency: Callable[[Mapping, Any, int, Any, Hashable], Any] | None = None
    # The factor HF multiplies cos and sin by: attention_factor(scaling) -> float.
    # None: 1.0.
    attention_factor: Callable[[Mapping], float] | None = None

    # ---- float32 error model (``scaling.freq_slack_ulps``) ----
    # Extra float32 ulps per pair that an honest float32 evaluation of the scaling can lose,
    # beyond the unscaled ladder's: a constant, or slack(scaling, base, d, theta, scaled)
    # -> (pairs,) float64 with theta, scaled the unscaled and scaled frequencies (float64).
    slack_ulps: float | Callable[[Mapping, float, int, np.ndarray, np.ndarray], np.ndarray] = 0.0

    # ---- strategies (``strategies.scalings`` / ``strategies.axis_layouts``) ----
    # parameters(ctx, d) -> dict | None: the drawn ``rope_parameters`` (None: unscaled).
    # ``ctx`` (built by ``ropecheck.strategies``) has ``draw``, ``st`` (hypothesis.strategies),
    # ``booleans``, ``factors``, ``originals``, ``seeds``, ``integers(lo, hi)``, ``sampled(xs)``
    # and ``torch``. For a layout: the layout's keys for width d (None when d cannot hold it).
    parameters: Callable[[Any, int], dict | None] | None = None

    # ---- diagnosis (``diagnose._scaling_hypotheses``) ----
    # slips(ctx) -> iterator of ``Slip``: the ways code gets this type wrong, in the order
    # they are tried (the first that fits is named). ``ctx`` (built by ``ropecheck.diagnose``)
    # has ``x, positions, config, scaling, af, loose`` and ``rope, scaled, with_inv_freq,
    # inv_freq, unscaled_inv_freq, ladder, call_length, tensor``.
    slips: Callable[[Any], Iterator[Slip]] | None = None

    # ---- adapters ----
    # Whether ``ropecheck.adapters.hf.llama_scaled`` can build it with HF transformers.
    hf: bool = False
    # HF's dynamic NTK reads its reference length from ``max_position_embeddings``, not
    # ``original_max_position_embeddings`` (``hf_rope_parameters`` moves it).
    hf_original_is_model_length: bool = False

    # ---- evidence ----
    # Names of entries of ``ropecheck.proofs.PROOFS`` that prove its algebra.
    proofs: tuple[str, ...] = ()
    # Laws the record proves itself (``Law``): a type whose algebra no catalogued proof
    # covers brings its own, and ``ropecheck prove`` runs them after the catalogue. A type
    # needs at least one of ``proofs`` and ``laws``.
    laws: tuple[Law, ...] = ()
    # Broken implementations of it in the tests, as "module:function" under tests/
    # (``scaling_mutants``, ``mutants``): the suite must reject each.
    mutants: tuple[str, ...] = ()

    # ---- multi-axis layouts only (kind == "layout") ----
    # The ``scaling`` key that selects the layout ("mrope_section", "axes").
    layout_key: str | None = None
    # Position axes: num_axes(scaling) -> int.
    num_axes: Callable[[Mapping], int] | None = None
    # (pairs,) int: which position axis rotates each pair.
    axis_of_pair: Callable[[Mapping, int], np.ndarray] | None = None
    # k_i with e_i = 2 k_i / d; None: k_i = i.
    exponent_steps: Callable[[Mapping, int], list[int]] | None = None
    # Whether width d can hold the layout.
    fits: Callable[[int], bool] | None = None
    # The smallest width that holds it, and whether every even width above it does too
    # (what head dims ``strategies`` draws for it).
    smallest_width: int = 2
    every_wider_fits: bool = False
    # The layout of the serving-size cases (head_dim 128).
    serving: Mapping | None = None

    @property
    def unscaled(self) -> bool:
        """True when the type leaves theta_i, the base and cos/sin as they are ('default')."""
        return (self.kind == "scaling" and self.effective_base is None and self.frequency is None
                and self.attention_factor is None)

    @property
    def call_dependent(self) -> bool:
        """Whether the frequencies depend on the largest position in the call (HF's dynamic
        and LongRoPE): each chunk of a chunked call has its own oracle."""
        return self.effective_length is not None


def blend_gain(scaling: Mapping, theta: np.ndarray, scaled: np.ndarray) -> np.ndarray:
    """(pairs,): how much an absolute error dw in the weight w of a blend w theta / s +
    (1 - w) theta moves the blended frequency theta', relative to it: |1 - 1/s| theta / theta'."""
    s = float(scaling["factor"])
    return np.abs(1 - 1 / s) * theta / scaled


# ---------------------------------------------------------------- slips several types share


def slip_ignored(ctx) -> Iterator[Slip]:
    """The scaling not applied at all (the unscaled frequencies, the attention factor kept)."""
    kind = ctx.config.rope_type
    yield (f"the {kind} scaling is ignored (unscaled frequencies)",
           lambda: ctx.rope(ctx.config.replace(scaling=None), attention_factor=ctx.af), ctx.loose)


def slip_factor_multiplies(ctx) -> Iterator[Slip]:
    """theta * s where theta / s is due (positions stretched instead of interpolated)."""
    sc = ctx.scaling
    if "factor" in sc:
        inverted = ctx.scaled(factor=1 / sc["factor"])
        yield (f"multiplies by factor {sc['factor']:g} where it must divide (positions stretched, not interpolated)",
               lambda: ctx.rope(inverted, attention_factor=ctx.af), inverted)


def slip_length_from_sequence(ctx) -> Iterator[Slip]:
    """A call-dependent type fed the sequence length instead of the largest position + 1."""
    seq = ctx.positions.shape[1]
    yield (f"takes the {ctx.config.rope_type} length from the sequence length ({seq}) instead of the largest "
           "position + 1",
           lambda: ctx.with_inv_freq(ctx.inv_freq(ctx.config, seq)), ctx.loose)


def slip_axes(ctx) -> Iterator[Slip]:
    """Multi-axis positions collapsed to the first axis, or taken in reverse order."""
    positions = ctx.positions
    first_axis = positions[..., :1].expand_as(positions)
    yield ("every pair uses the first axis's positions (multi-axis positions collapsed to one)",
           lambda: ctx.rope(ctx.config, positions=first_axis))
    yield ("the axes are taken in reverse order",
           lambda: ctx.rope(ctx.config, positions=positions.flip(-1)))


def chain(*slip_makers: Callable[[Any], Iterator[Slip]]) -> Callable[[Any], Iterator[Slip]]:
    """The slips of several makers, in order."""
    def slips(ctx) -> Iterator[Slip]:
        for make in slip_makers:
            yield from make(ctx)
    return slips
