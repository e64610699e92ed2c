"""Long-context scaling and multi-axis RoPE: a correct independent implementation of every
rope_type conforms, and each broken scaling is rejected with its cause named.

In-process, profile ``ci`` (what users get by default; ``dev`` for one subtle mutant, see SUBTLE). The mutants live in
``scaling_mutants.py``.
"""

import functools
import json
from pathlib import Path

import pytest

from ropecheck import engine
from ropecheck.scaling import ROPE_TYPES
from ropecheck.spec import spec_from_mapping

SCALED = [t for t in ROPE_TYPES if t != "default"]


def make_spec(fn: str, **overrides):
    mapping = {"name": fn, "callable": f"scaling_mutants:{fn}", "pairing": "half_split", "base": "any",
               "dtypes": ["float64", "float32", "bfloat16", "float16"], "devices": ["cpu"], "partial_rotary": True,
               "scaling": SCALED}
    mapping.update(overrides)
    return spec_from_mapping(mapping, origin=f"tests/scaling_mutants.py:{fn}", folder=str(Path(__file__).parent))


@functools.lru_cache(maxsize=None)
def _verify(fn: str, overrides_json: str, names: tuple[str, ...] | None, profile: str):
    return engine.verify(make_spec(fn, **json.loads(overrides_json)), fn, profile=profile, isolate=False,
                         names=None if names is None else list(names))


def verify(fn: str, names=None, profile="ci", **overrides):
    return _verify(fn, json.dumps(overrides, sort_keys=True), None if names is None else tuple(names), profile)


@pytest.mark.parametrize("pairing", ["half_split", "interleaved"])
def test_correct_scaled_rope_conforms_for_every_rope_type(pairing):
    result = verify("correct_scaled", pairing=pairing)
    failures = [(p.name, p.message, p.counterexample) for p in result.properties if p.status != "passed"
                and not (p.status == "skipped")]
    assert result.conforms, failures


@pytest.mark.parametrize("rope_type", SCALED)
def test_each_rope_type_alone_conforms(rope_type):
    result = verify("correct_scaled", names=("oracle_agreement", "chunked_equals_whole"), scaling=[rope_type])
    assert result.conforms, [(p.name, p.message) for p in result.properties if p.status == "failed"]


@pytest.mark.parametrize("multi_axis", [["mrope"], ["axial"], ["mrope", "axial"]])
def test_correct_multi_axis_conforms(multi_axis):
    result = verify("correct_multi_axis", multi_axis=multi_axis, scaling=[])
    assert result.conforms, [(p.name, p.message, p.counterexample) for p in result.properties if p.status == "failed"]


# (mutant, the rope_types its spec claims, property that must fail, words the report must contain)
# Ignoring YaRN's truncate only moves the few ramp pairs by a fraction of a step, and only
# when truncate is true: the ci profile's 100 examples met such a case or not depending on
# which other test modules were imported (the derandomised search is not stable across
# them), so that mutant is searched with the dev profile (400 examples).
SUBTLE = {"yarn_ignores_truncate": "dev"}
MUTANTS = [
    ("linear_multiplies", ["linear"], "oracle_agreement", "multiplies by factor"),
    ("ntk_without_exponent", ["ntk"], "oracle_agreement", "exponent d/(d-2) missing"),
    ("dynamic_is_static", ["dynamic"], "oracle_agreement", "static NTK"),
    ("dynamic_length_from_seq", ["dynamic"], "oracle_agreement", "from the sequence length"),
    ("yarn_no_attention_factor", ["yarn"], "oracle_agreement", "attention factor"),
    ("yarn_no_attention_factor", ["yarn"], "norm_preservation", "attention factor"),
    ("yarn_attention_factor_twice", ["yarn"], "oracle_agreement", "applied twice"),
    ("yarn_attention_factor_on_cos_only", ["yarn"], "norm_preservation", "changes the norm"),
    ("yarn_ramp_reversed", ["yarn"], "oracle_agreement", "ramp reversed"),
    ("yarn_ignores_truncate", ["yarn"], "oracle_agreement", "truncate"),
    ("llama3_bands_swapped", ["llama3"], "oracle_agreement", "swapped"),
    ("longrope_factors_swapped", ["longrope"], "oracle_agreement", "long_factor and short_factor swapped"),
    ("longrope_multiplies", ["longrope"], "oracle_agreement", "multiplies by LongRoPE"),
]


@pytest.mark.parametrize("fn, types, prop, words", MUTANTS, ids=[f"{m[0]}-{m[2]}" for m in MUTANTS])
def test_broken_scaling_is_rejected_with_its_cause(fn, types, prop, words):
    result = verify(fn, names=(prop,), profile=SUBTLE.get(fn, "ci"), scaling=types)
    (p,) = result.properties
    assert p.status == "failed", f"{fn}: {prop} {p.status}: {p.message}"
    assert words in p.message, f"{fn}: the report does not name the cause ({words!r}): {p.message}"
    assert "rope_type" in p.counterexample and "reproduce" not in p.message


def test_multi_axis_collapsed_to_one_axis_is_rejected():
    result = verify("multi_axis_first_axis_only", names=("oracle_agreement", "relative_position"),
                    multi_axis=["mrope", "axial"], scaling=[])
    failed = {p.name: p.message for p in result.properties if p.status == "failed"}
    assert "oracle_agreement" in failed, failed
    assert "first axis" in failed["oracle_agreement"], failed
