"""Diagnosis names the cause of each boundary bug (``tests/boundary_mutants.py``).

Each mutant is called on a small input chosen so that it is wrong there (a position past
its table, a width whose float product truncates, a float64 input, ...), and
``diagnose.explain`` must name its cause. ``EXPECTED_CAUSE`` holds the phrase each
explanation must contain; it is also what an end-to-end check through ``ropecheck verify``
(``oracle_agreement``) can expect. Correct implementations are never explained as a bug,
and a failure at position 0, where every rotation is the identity, is not blamed on a
rotation convention.
"""

from __future__ import annotations

import boundary_mutants as bm
import pytest
import torch

from ropecheck import diagnose, oracle, properties, tolerance
from ropecheck.config import RopeConfig
from ropecheck.strategies import RopeCase

from harness import EXPECTED_CAUSE  # noqa: E402 - the phrases, shared with tests/acceptance/test_boundaries.py

# Positions rounded through float32 are off by at most 1 below 2**25 (2 below 2**26): the
# tolerance model allows float32 angle error that grows with the position (about 10 times
# one position's angle there), so no output of this mutant can fail; the diagnosis still
# names it when asked (see test_positions_rounded_to_float32_are_named).
WITHIN_TOLERANCE = {"positions_float32"}

SKIPPED = {"cache_dtype_sticky", "cache_length_frozen", "cache_ignores_base",  # call history: not one call
           "float32_and_int_truncation"}  # two bugs at once


def _rows(*starts: int, seq: int) -> torch.Tensor:
    return torch.stack([torch.arange(s, s + seq) for s in starts])


# mutant -> (head_dim, rotary_dim, pairing, dtype, heads, positions (batch, seq))
CASES = {
    "rotary_width_int_truncation": (98, 64, "half_split", torch.float32, 2, _rows(100, seq=6)),
    "rotary_width_even_floor": (98, 64, "half_split", torch.float32, 2, _rows(100, seq=6)),
    "rotary_width_round_two_decimals": (192, 64, "half_split", torch.float32, 1, _rows(100, seq=6)),
    "positions_int16": (32, 32, "half_split", torch.float32, 2, _rows(32760, seq=16)),
    "positions_float16": (32, 32, "half_split", torch.float32, 2, _rows(2040, seq=16)),
    "table_2048_clamped": (32, 32, "half_split", torch.float32, 2, _rows(2040, seq=16)),
    "table_4096_modulo": (32, 32, "half_split", torch.float32, 2, _rows(4090, seq=16)),
    "table_32768_clamped": (32, 32, "half_split", torch.float32, 2, _rows(32760, seq=16)),
    "tile_positions_lost_64": (16, 16, "half_split", torch.float32, 1, _rows(7, 300, seq=80)),
    "tile_positions_lost_128": (16, 16, "half_split", torch.float32, 1, _rows(7, seq=140)),
    "sin_sign_flipped_past_2048": (32, 32, "half_split", torch.float32, 2, _rows(2040, seq=16)),
    "half_split_table_interleaved_rotation": (32, 32, "interleaved", torch.float32, 2, _rows(5, seq=8)),
    "output_pairs_deinterleaved": (32, 32, "interleaved", torch.float32, 2, _rows(5, seq=8)),
    "all_ones_frequency_ladder": (32, 32, "half_split", torch.float32, 2, _rows(1, seq=8)),
    "first_head_only": (32, 32, "half_split", torch.float32, 4, _rows(1, 50, seq=8)),
    "decode_rows_take_row0_positions": (32, 32, "half_split", torch.float32, 2, torch.tensor([[5], [90], [700]])),
    "last_pair_sign_flipped": (16, 16, "half_split", torch.float32, 2, _rows(3000, seq=8)),
    "float64_computed_in_float32": (96, 64, "half_split", torch.float64, 2, _rows(3, seq=8)),
    "cos_table_float16": (32, 32, "half_split", torch.float32, 2, _rows(100, seq=8)),
    "angles_float16": (32, 32, "half_split", torch.float32, 2, _rows(100, seq=8)),
}


def run(fn, head_dim, rotary_dim, pairing, dtype, heads, positions, base=10000.0):
    """(y, x, positions, config) for ``fn`` on a fixed random input."""
    config = RopeConfig(base=base, rotary_dim=rotary_dim, pairing=pairing, head_dim=head_dim)
    gen = torch.Generator().manual_seed(12)
    b, s = positions.shape
    x = torch.randn(b, s, heads, head_dim, generator=gen, dtype=torch.float64).to(dtype)
    bm.reset_caches()
    y = fn(x.clone(), positions.clone(), config)
    return y, x, positions, config


def test_every_single_call_mutant_has_a_case():
    assert set(bm.MUTANTS) - SKIPPED - WITHIN_TOLERANCE == set(CASES) == set(EXPECTED_CAUSE)


def test_positions_rounded_to_float32_are_within_tolerance_and_named():
    y, x, positions, config = run(bm.positions_float32, 32, 32, "half_split", torch.float64, 2, _rows(2**24 - 4, seq=10))
    assert tolerance.compare(y, x, positions, config).ok  # why it is in WITHIN_TOLERANCE
    # what the diagnosis says when such an output is judged by a model without that slack
    hypotheses = dict(h[:2] for h in diagnose._hypotheses(x, positions, config))
    expected = hypotheses["positions rounded to float32 (positions cast to float32 before the angle is formed: "
                          "low precision)"]()
    assert (expected - y.double()).abs().max() < 1e-7  # float64 angles near 2**24 err by ~1e-9


@pytest.mark.parametrize("name", sorted(CASES))
def test_mutant_cause_is_named(name):
    y, x, positions, config = run(getattr(bm, name), *CASES[name])
    assert not tolerance.compare(y, x, positions, config).ok, f"{name} is not wrong on its case"
    text = diagnose.explain(y, x, positions, config)
    assert EXPECTED_CAUSE[name] in text, f"{name}: {text}"


@pytest.mark.parametrize("name", sorted(bm.CORRECT))
@pytest.mark.parametrize("case", ["positions_int16", "table_4096_modulo", "float64_computed_in_float32",
                                  "rotary_width_int_truncation", "half_split_table_interleaved_rotation"])
def test_correct_implementations_are_not_blamed(name, case):
    y, x, positions, config = run(getattr(bm, name), *CASES[case])
    assert tolerance.compare(y, x, positions, config).ok
    text = diagnose.explain(y, x, positions, config)
    assert "matches the oracle" in text, text


def test_positions_past_float16_max_are_named_as_overflow():
    y, x, positions, config = run(bm.positions_float16, 32, 32, "half_split", torch.float32, 2, _rows(65500, seq=30))
    text = diagnose.explain(y, x, positions, config)
    assert "65520" in text and "positions rounded to float16" in text, text


def test_int16_wrap_is_not_called_the_wrong_direction():
    y, x, positions, config = run(bm.positions_int16, 32, 32, "half_split", torch.float32, 2, _rows(32768, seq=1))
    text = diagnose.explain(y, x, positions, config)
    assert text.index("wrap at 2**15") < text.find("wrong way") if "wrong way" in text else "wrap at 2**15" in text, text


def test_float64_in_float32_at_position_zero_is_not_a_rotary_dim_slip():
    zeros = torch.zeros(1, 8, dtype=torch.int64)
    y, x, positions, config = run(bm.float64_computed_in_float32, 96, 64, "half_split", torch.float64, 2, zeros)
    text = diagnose.explain(y, x, positions, config)
    assert "computed in float32" in text and "rotary_dim" not in text, text


def test_a_failure_at_position_zero_is_not_blamed_on_a_rotation():
    config = RopeConfig(rotary_dim=16, head_dim=32)
    x = torch.randn(1, 4, 2, 32, generator=torch.Generator().manual_seed(3))
    positions = torch.zeros(1, 4, dtype=torch.int64)
    y = x.clone()
    y[..., 20] += 0.5  # a pass-through dim changed: no rotation explains this
    text = diagnose.explain(y, x, positions, config)
    assert "do not distinguish" in text, text
    for rotation in ("rotary_dim", "pairing", "wrong way", "base", "exponent", "positions off", "width"):
        assert rotation not in text, text


def test_the_table_size_is_named_for_every_common_size():
    for rows in (2048, 8192, 131072):
        positions = _rows(rows - 3, seq=8)
        config = RopeConfig(rotary_dim=32, head_dim=32)
        x = torch.randn(1, 8, 2, 32, generator=torch.Generator().manual_seed(5))
        clamped = bm._rope(x, positions, config, pos=positions.clamp(max=rows - 1))
        assert f"clamped to {rows - 1}" in diagnose.explain(clamped, x, positions, config)
        wrapped = bm._rope(x, positions, config, pos=positions % rows)
        assert f"modulo {rows}" in diagnose.explain(wrapped, x, positions, config)


def test_rows_rotated_at_another_rows_positions_are_named():
    def shifted_rows(x, positions, config):  # row r rotated at row r - 1's positions (row 0 right)
        return bm._rope(x, positions, config, pos=positions[[0, 0, 1]])
    text = diagnose.explain(*run(shifted_rows, 32, 32, "half_split", torch.float32, 2, _rows(3, 40, 900, seq=4)))
    assert "row 1 is rotated at row 0's positions; row 2 is rotated at row 1's positions" in text, text


def test_float64_in_float32_and_a_second_bug_are_both_named():
    y, x, positions, config = run(bm.float32_and_int_truncation, 98, 64, "half_split", torch.float64, 2, _rows(100, seq=6))
    text = diagnose.explain(y, x, positions, config)
    assert "computed in float32" in text and EXPECTED_CAUSE["rotary_width_int_truncation"] in text, text


def test_wrong_way_past_a_threshold_is_suggested_when_every_position_is_past_it():
    y, x, positions, config = run(bm.sin_sign_flipped_past_2048, 32, 32, "half_split", torch.float32, 2, _rows(2048, seq=4))
    text = diagnose.explain(y, x, positions, config)
    assert EXPECTED_CAUSE["sin_sign_flipped_past_2048"] in text and "may rotate" in text, text


def _poisoned(fn, pairing, positions, dim, dtype="float32"):
    """nan_locality on ``fn`` with a NaN injected at token (0, 0), head 0, ``dim``."""
    config = RopeConfig(rotary_dim=32, pairing=pairing, head_dim=32)
    case = RopeCase(batch=1, seq=len(positions), heads=2, head_dim=32, dtype=dtype, config=config,
                    positions=(tuple(positions),), seed=4,
                    setup=properties.Poison(where=(0, 0, 0, dim), value="nan", operand=0))
    bm.reset_caches()
    return properties._nan_locality(properties.Subject(fn, None, "cpu"), case)


def test_nan_locality_blames_a_non_finite_clean_output_not_the_injected_nan():
    with pytest.raises(properties.PropertyFailed) as failed:
        _poisoned(bm.positions_float16, "half_split", range(65510, 65530), dim=3)
    cause = failed.value.full_cause()
    assert "before any NaN was injected" in cause and "65520" in cause and "float32 input" in cause, cause
    assert "overflow to inf in float16" in cause and "changes another token" not in cause, cause


def test_nan_locality_says_a_moved_nan_is_a_permuted_output():
    with pytest.raises(properties.PropertyFailed) as failed:
        _poisoned(bm.output_pairs_deinterleaved, "interleaved", range(5, 9), dim=2)
    cause = failed.value.full_cause()
    assert "injected at dim 2 came out at dim 1, dim 17 of the same token" in cause, cause
    assert "the output is permuted" in cause and "disappeared" not in cause, cause


def test_nan_locality_passes_a_correct_implementation():
    assert _poisoned(bm.x_lookup_table_per_call, "half_split", range(5, 9), dim=2) is None


if __name__ == "__main__":  # print every explanation (for working on the diagnosis)
    for name in sorted(CASES):
        print(f"{name}: {diagnose.explain(*run(getattr(bm, name), *CASES[name]))}")


def test_the_explanation_reads_as_a_sentence_whatever_the_causes_grammar():
    """Causes are verb phrases ("rotates the wrong way") or noun phrases ("positions off by
    +1"): the explanation never glues one onto "the output matches"."""
    assert diagnose._likely(["rotates the wrong way"]) == "likely cause: rotates the wrong way"
    assert diagnose._likely(["positions off by +1 (uses m+1)", "uses base 1000"]) == (
        "likely causes (each fits the output): positions off by +1 (uses m+1); or uses base 1000")
    config = RopeConfig(base=10000.0, rotary_dim=8, pairing="half_split", head_dim=8)
    x = torch.randn(1, 4, 1, 8, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    positions = torch.arange(4)[None] + 3
    backwards = oracle.rope(x, -positions, config)
    assert diagnose.explain(backwards, x, positions, config).startswith("likely cause: rotates the wrong way")
