"""Long-context scaling and multi-axis RoPE: a correct independent implementation of every
rope_type conforms, and each broken scaling is rejected with its cause named.

In-process, profile ``ci`` (what users get by default; ``dev`` for one subtle mutant, see SUBTLE),
through the acceptance harness (tests/harness.py). The mutants live in ``tests/scaling_mutants.py``.
"""

import pytest

from harness import assert_conforms, assert_rejected, verified
from ropecheck.scaling import ROPE_TYPES

SCALED = [t for t in ROPE_TYPES if t != "default"]
CLAIMS = {"pairing": "half_split", "base": "any", "dtypes": ["float64", "float32", "bfloat16", "float16"],
          "devices": ["cpu"], "partial_rotary": True, "scaling": SCALED}
"""What the implementations of scaling_mutants.py claim unless a test says otherwise."""


@pytest.mark.parametrize("pairing", ["half_split", "interleaved"])
def test_correct_scaled_rope_conforms_for_every_rope_type(pairing):
    result = verified("scaling_mutants", "correct_scaled", **{**CLAIMS, "pairing": pairing})
    assert_conforms(result, f"correct_scaled ({pairing})")


@pytest.mark.parametrize("rope_type", SCALED)
def test_each_rope_type_alone_conforms(rope_type):
    result = verified("scaling_mutants", "correct_scaled", ("oracle_agreement", "chunked_equals_whole"),
                      **{**CLAIMS, "scaling": [rope_type]})
    assert_conforms(result, f"correct_scaled ({rope_type} alone)")


@pytest.mark.parametrize("multi_axis", [["mrope"], ["axial"], ["mrope", "axial"]])
def test_correct_multi_axis_conforms(multi_axis):
    result = verified("scaling_mutants", "correct_multi_axis", **{**CLAIMS, "multi_axis": multi_axis, "scaling": []})
    assert_conforms(result, f"correct_multi_axis ({', '.join(multi_axis)})")


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
    result = verified("scaling_mutants", fn, (prop,), SUBTLE.get(fn, "ci"), **{**CLAIMS, "scaling": types})
    p = assert_rejected(result, fn, prop, words, alone=True, reproducible=False)
    assert "rope_type" in p.counterexample and "reproduce" not in p.message


def test_multi_axis_collapsed_to_one_axis_is_rejected():
    result = verified("scaling_mutants", "multi_axis_first_axis_only", ("oracle_agreement", "relative_position"),
                      **{**CLAIMS, "multi_axis": ["mrope", "axial"], "scaling": []})
    assert_rejected(result, "multi_axis_first_axis_only", "oracle_agreement", "first axis", reproducible=False)
