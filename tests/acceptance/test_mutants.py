"""The suite judged on code it did not write: every mutant is rejected with a message that
names the cause, every correct implementation is accepted (a false alarm is a bug too).

Runs in-process with the ``ci`` profile (what users get by default), through the acceptance
harness (tests/harness.py); the process-killing mutants are checked through the isolated
engine in ``tests/unit/engine/test_engine.py``.
"""

import pytest

from harness import MUTANTS_CLAIMS, assert_conforms, assert_rejected, verified

CORRECT = [
    ("correct_hf", {}),
    ("correct_gptj", {"pairing": "interleaved"}),
    ("correct_meta_complex", {"pairing": "interleaved", "dtypes": ["float32", "bfloat16", "float16"]}),
    ("correct_exp_ln", {}),
    ("correct_float64_angles", {}),
    ("correct_table_lookup", {"max_position": 8192}),
    ("correct_inplace", {"inplace": True}),
]


@pytest.mark.parametrize("fn, overrides", CORRECT, ids=[c[0] for c in CORRECT])
def test_correct_implementations_conform(fn, overrides):
    assert_conforms(verified("mutants", fn, **{**MUTANTS_CLAIMS, **overrides}), fn)


# (mutant, spec overrides, the property that must fail, words its message must contain)
MUTANTS = [
    ("hardcoded_base_1000", {}, "oracle_agreement", "uses base 1000"),
    ("hardcoded_base_1000", {"base": 10000.0}, "oracle_agreement", "uses base 1000"),
    ("wrong_direction", {}, "oracle_agreement", "rotates the wrong way"),
    ("interleaved_labelled_half_split", {}, "oracle_agreement", "uses pairing 'interleaved'"),
    ("off_by_one", {}, "oracle_agreement", "positions off by +1"),
    ("off_by_one", {}, "identity_at_zero", "positions off by +1"),
    ("ignores_positions", {}, "oracle_agreement", "ignores the given positions"),
    ("first_row_positions", {}, "per_row_positions", "first row's positions"),
    ("bf16_angles", {}, "oracle_agreement", "low precision"),
    ("fp16_positions", {}, "oracle_agreement", ""),
    ("exponent_i_over_d", {}, "oracle_agreement", "exponent is i/rotary_dim"),
    ("exponent_over_head_dim", {}, "oracle_agreement", "divides by head_dim"),
    ("rotates_whole_head", {}, "passthrough_untouched", "changes dims at and above rotary_dim"),
    ("rotates_whole_head", {}, "oracle_agreement", "ignores rotary_dim"),
    ("zeroes_passthrough", {}, "passthrough_untouched", "changes dims at and above rotary_dim"),
    ("scaled_output", {}, "norm_preservation", "changes the norm"),
    ("scaled_output", {}, "oracle_agreement", "norm is scaled by 1.01"),
    ("cos_sin_swapped", {}, "identity_at_zero", "position 0 is not the identity"),
    ("table_clamped_4096", {}, "oracle_agreement", "disagrees with the oracle"),
    ("chunk_relative_positions", {}, "chunked_equals_whole", "in chunks"),
    ("decode_uses_zero", {}, "chunked_equals_whole", "in chunks"),
    ("mutates_input", {}, "input_not_modified", "writes into its input x"),
    ("assumes_contiguous", {}, "memory_layout", "non-contiguous input"),
    ("returns_float32", {}, "output_contract", "returns dtype torch.float32"),
    ("returns_wrong_shape", {}, "output_contract", "returned shape"),
    ("raises_on_long_sequences", {}, "oracle_agreement", "raised RuntimeError: sequence too long"),
    ("wrong_gradient", {}, "gradients", "forward rotation"),
    ("backward_overwrites_upstream", {}, "gradients", "writes into the upstream gradient"),
    ("detaches", {}, "gradients", "detaches x from the graph"),
    ("nan_spreads", {}, "nan_locality", "changes another token"),
    ("nan_scrubbed", {}, "nan_locality", "disappeared"),
    ("nondeterministic", {}, "determinism", "different bits"),
]


@pytest.mark.parametrize("fn, overrides, prop, words", MUTANTS,
                         ids=[f"{m[0]}-{m[2]}" + ("-" + "-".join(m[1]) if m[1] else "") for m in MUTANTS])
def test_mutant_is_rejected_with_its_cause(fn, overrides, prop, words):
    result = verified("mutants", fn, (prop,), **{**MUTANTS_CLAIMS, **overrides})
    assert_rejected(result, fn, prop, words)
