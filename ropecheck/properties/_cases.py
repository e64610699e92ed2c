"""Cases in a spec's form: the draws and fixed cases the properties start from."""

from __future__ import annotations

from hypothesis import strategies as st

from ropecheck.spec import Spec
from ropecheck.strategies import RopeCase, boundary_cases, rope_cases, serving_cases


def _spec_options(spec: Spec) -> dict:
    return dict(dtypes=spec.dtypes, pairing=spec.pairing, base=spec.base,
                partial=spec.partial_rotary, max_position=spec.max_position,
                scaling=tuple(t for t in spec.scaling if t != "default"), multi_axis=spec.multi_axis,
                qk=spec.signature == "qk", packed=spec.packed, consecutive=spec.positions == "consecutive")


def cases(spec: Spec, **overrides) -> st.SearchStrategy[RopeCase]:
    """RopeCases restricted to what ``spec`` claims, in its form (signature, packed, positions)."""
    options = _spec_options(spec)
    options.update(overrides)
    return rope_cases(**options)


def boundary_examples(spec: Spec) -> list[RopeCase]:
    """The fixed boundary cases (``strategies.boundary_cases``) in ``spec``'s form."""
    return boundary_cases(**_spec_options(spec))


def serving_examples(spec: Spec, kinds: tuple[str, ...] = ("prefill", "decode", "partial")) -> list[RopeCase]:
    """The serving-size cases (``strategies.serving_cases``) of ``kinds`` in ``spec``'s form."""
    found = serving_cases(**_spec_options(spec))
    return [case for kind in kinds for case in found.get(kind, ())]


def serving_prefill(spec: Spec) -> RopeCase | None:
    """The first serving-size prefill (None when the spec leaves none)."""
    found = serving_examples(spec, ("prefill",))
    return found[0] if found else None


def flat_positions(case: RopeCase) -> list[int]:
    """Every position of a case, multi-axis ones included."""
    return case.make_positions().flatten().tolist()
