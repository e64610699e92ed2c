"""Hypothesis settings profiles: ``ci`` (fast, derandomised), ``dev``, ``thorough``.

Select one with ``ropecheck verify --profile P``, ``pytest --hypothesis-profile P`` or the
``HYPOTHESIS_PROFILE`` environment variable of the project's own tests.
"""

from __future__ import annotations

from hypothesis import HealthCheck, Phase, settings

# The explain phase (which input parts matter) costs more than the search on failing
# implementations and its notes do not reach ropecheck's reports: left out.
_PHASES = (Phase.explicit, Phase.reuse, Phase.generate, Phase.target, Phase.shrink)
_COMMON = dict(deadline=None, print_blob=True, phases=_PHASES,
               suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much])

PROFILES = {
    # Same examples on every run, so CI is repeatable; a few minutes for the whole suite.
    "ci": dict(max_examples=25, derandomize=True, **_COMMON),
    "dev": dict(max_examples=100, **_COMMON),
    # Nightly: many examples, still no deadline (CPU tensors vary in time on shared machines).
    "thorough": dict(max_examples=1000, **_COMMON),
}


SERVING_SIZES = ("dev", "thorough")
"""Profiles whose properties also check their fixed serving-size cases (``Property.serving``:
thousands of tokens, 32 heads, head_dim 128; seconds each, so not ``ci``)."""


def register() -> None:
    """Register every profile with Hypothesis (idempotent)."""
    for name, options in PROFILES.items():
        settings.register_profile(name, **options)


def get(name: str) -> settings:
    """The settings of profile ``name``; ValueError naming the choices otherwise."""
    register()
    if name not in PROFILES:
        raise ValueError(f"unknown profile {name!r}; expected one of {', '.join(PROFILES)}")
    return settings.get_profile(name)
