"""ropecheck.adapters.lucidrains (rotary-embedding-torch) against the oracle and the catalogue.

Findings about the library itself (rotary-embedding-torch 0.9.1), asserted, not hidden:

- ``RotaryEmbedding(dim=2)`` raises ZeroDivisionError: its constructor always evaluates
  ``theta *= theta_rescale_factor ** (dim / (dim - 2))``. rotary_dim = 2 is valid RoPE
  (one pair), so every property fails on it and Hypothesis shrinks there first.
- ``rotate_queries_or_keys`` forms positions in the input's dtype
  (``get_seq_pos(..., dtype=t.dtype)``): in bfloat16 position 257 becomes 256 and
  131071 becomes 131072 (float16: above 2048).
"""

import subprocess
import sys
from pathlib import Path

import pytest
import torch

pytest.importorskip("rotary_embedding_torch")

from ropecheck import engine, variants  # noqa: E402
from ropecheck.adapters import lucidrains  # noqa: E402
from ropecheck.spec import load_spec, spec_from_mapping  # noqa: E402
from crash_findings import assert_only_the_rotary_dim_2_crash as assert_only_the_crash  # noqa: E402
from crash_findings import half_precision_positions  # noqa: E402
from oracle_check import check_against_oracle  # noqa: E402
from harness import assert_conforms  # noqa: E402

HERE = Path(__file__).resolve().parent
SPECS = HERE.parent.parent / "specs"
ADAPTERS = {"rope": lucidrains.rope, "rotate_queries_or_keys": lucidrains.rotate_queries_or_keys}

CASES = [  # rotary_dim, head_dim, base, positions (batch, seq)
    (16, 16, 10000.0, [[0, 1, 2, 3, 4], [0, 1, 2, 3, 4]]),  # from zero
    (8, 16, 500.0, [[5, 6, 7, 8, 9], [100, 3, 4, 4, 0]]),  # per-row offset; arbitrary, unsorted
    (4, 6, 1e6, [[131071, 0, 70000, 2, 9], [17, 18, 19, 20, 21]]),  # partial, large positions
]


@pytest.mark.parametrize("adapter", sorted(ADAPTERS))
@pytest.mark.parametrize("rotary_dim, head_dim, base, positions", CASES)
def test_adapter_equals_the_oracle(adapter, rotary_dim, head_dim, base, positions):
    check_against_oracle(ADAPTERS[adapter], rotary_dim, head_dim, base, positions)


def test_shared_modules_give_no_stale_results():
    for base in (10000.0, 77.0, 10000.0):  # a cached module is reused for the third call
        check_against_oracle(lucidrains.rope, 8, 8, base, [[3, 9000, 2]])


def test_importing_the_adapter_does_not_import_the_library():
    code = "import sys, ropecheck.adapters.lucidrains; print('rotary_embedding_torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "False"


def test_finding_rotary_dim_2_cannot_be_constructed():
    from rotary_embedding_torch import RotaryEmbedding

    with pytest.raises(ZeroDivisionError):
        RotaryEmbedding(dim=2)


def test_finding_rotate_queries_or_keys_forms_bfloat16_positions():
    """Position 257 in bfloat16 is rotated as 256; the angles-from-forward adapter is right."""
    positions = [[257]]
    check_against_oracle(lucidrains.rope, 8, 8, 10000.0, positions, dtype=torch.bfloat16)
    check_against_oracle(lucidrains.rotate_queries_or_keys, 8, 8, 10000.0, positions, dtype=torch.float32)
    with pytest.raises(AssertionError):
        check_against_oracle(lucidrains.rotate_queries_or_keys, 8, 8, 10000.0, positions, dtype=torch.bfloat16)
    check_against_oracle(lucidrains.rotate_queries_or_keys, 8, 8, 10000.0, [[256]], dtype=torch.bfloat16)


def rope_unless_rotary_dim_2(x, positions, config):
    """``lucidrains.rope``, except rotary_dim == 2 (which the library cannot build) goes to
    ropecheck's reference: only to show that nothing else fails."""
    if config.rotary_dim == 2:
        return variants.interleaved(x, positions, config)
    return lucidrains.rope(x, positions, config)


def rotate_queries_unless_rotary_dim_2(x, positions, config):
    """``lucidrains.rotate_queries_or_keys``, with rotary_dim == 2 handled as above."""
    if config.rotary_dim == 2:
        return variants.interleaved(x, positions, config)
    return lucidrains.rotate_queries_or_keys(x, positions, config)


def verify_without_rotary_dim_2(spec_file, attribute):
    path = SPECS / spec_file
    data = {**load_spec(path).to_mapping(), "name": f"{attribute}-check", "callable": f"{Path(__file__).stem}:{attribute}"}
    spec = spec_from_mapping(data, origin=f"{spec_file} without rotary_dim 2", folder=str(HERE))
    return engine.verify(spec, str(path), profile="ci", isolate=False)


def assert_only_the_rotary_dim_2_crash(result, also=lambda p: False):
    assert_only_the_crash(result, "rotary_embedding_torch.py", also)


@pytest.mark.slow
@pytest.mark.parametrize("spec_file", ["lucidrains-rotary.toml", "lucidrains-rotate-queries.toml"])
def test_spec_fails_only_by_the_rotary_dim_2_crash(spec_file):
    path = SPECS / spec_file
    # rotate_queries_or_keys also forms positions in the input's dtype (the finding of
    # test_finding_rotate_queries_or_keys_forms_bfloat16_positions); its search may meet that first
    also = half_precision_positions if spec_file == "lucidrains-rotate-queries.toml" else (lambda p: False)
    assert_only_the_rotary_dim_2_crash(engine.verify(load_spec(path), str(path), profile="ci", isolate=False), also)


@pytest.mark.slow
def test_forward_adapter_conforms_apart_from_rotary_dim_2():
    result = verify_without_rotary_dim_2("lucidrains-rotary.toml", "rope_unless_rotary_dim_2")
    assert_conforms(result, "specs/lucidrains-rotary.toml without rotary_dim 2")


@pytest.mark.slow
def test_rotate_queries_fails_apart_from_rotary_dim_2_only_in_half_precision():
    """Finding: with rotary_dim 2 set aside, every failure of ``rotate_queries_or_keys``
    is a bfloat16/float16 case, from positions formed in the input dtype."""
    result = verify_without_rotary_dim_2("lucidrains-rotate-queries.toml", "rotate_queries_unless_rotary_dim_2")
    failed = {p.name: p for p in result.properties if p.status == "failed"}
    assert "oracle_agreement" in failed, [(p.name, p.status) for p in result.properties]
    assert "positions off by" in failed["oracle_agreement"].message, failed["oracle_agreement"].message
    for p in result.properties:
        assert p.status in ("passed", "failed", "skipped"), (p.name, p.status, p.message)
    for p in failed.values():
        assert "dtype=bfloat16" in p.counterexample or "dtype=float16" in p.counterexample, (p.name, p.counterexample)
