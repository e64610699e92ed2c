"""ropecheck.adapters.x_transformers against the oracle and the catalogue.

Findings about the library itself (x-transformers 2.31.10), asserted, not hidden:

- its pairing is interleaved, not GPT-NeoX's halves: ``rotate_half`` rearranges
  ``'... (d r) -> ... d r', r = 2`` and the angles are repeated as (f0, f0, f1, f1, ...);
- ``RotaryEmbedding(2)`` raises ZeroDivisionError: its constructor always evaluates
  ``base *= base_rescale_factor ** (dim / (dim - 2))``. rotary_dim = 2 is valid RoPE, so
  every property fails on it and Hypothesis shrinks there first.
"""

import subprocess
import sys
from pathlib import Path

import pytest
import torch

pytest.importorskip("x_transformers")

from ropecheck import engine, variants  # noqa: E402
from ropecheck.adapters import x_transformers  # noqa: E402
from ropecheck.spec import load_spec, spec_from_mapping  # noqa: E402
from crash_findings import assert_only_the_rotary_dim_2_crash as assert_only_the_crash  # noqa: E402
from oracle_check import check_against_oracle  # noqa: E402
from harness import assert_conforms  # noqa: E402

HERE = Path(__file__).resolve().parent
SPEC = HERE.parent.parent / "specs" / "x-transformers.toml"

CASES = [  # rotary_dim, head_dim, base, positions (batch, seq)
    (16, 16, 10000.0, [[0, 1, 2, 3, 4], [0, 1, 2, 3, 4]]),  # from zero
    (8, 16, 500.0, [[5, 6, 7, 8, 9], [100, 3, 4, 4, 0]]),  # per-row offset; arbitrary, unsorted
    (4, 6, 1e6, [[131071, 0, 70000, 2, 9], [17, 18, 19, 20, 21]]),  # partial, large positions
]


@pytest.mark.parametrize("rotary_dim, head_dim, base, positions", CASES)
def test_adapter_equals_the_oracle(rotary_dim, head_dim, base, positions):
    check_against_oracle(x_transformers.rope, rotary_dim, head_dim, base, positions)


def test_shared_modules_give_no_stale_results():
    for base in (10000.0, 77.0, 10000.0):
        check_against_oracle(x_transformers.rope, 8, 8, base, [[3, 9000, 2]])


def test_importing_the_adapter_does_not_import_the_library():
    code = "import sys, ropecheck.adapters.x_transformers; print('x_transformers' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "False"


def test_finding_pairing_is_interleaved():
    from x_transformers.x_transformers import rotate_half

    assert rotate_half(torch.tensor([1.0, 2.0, 3.0, 4.0])).tolist() == [-2.0, 1.0, -4.0, 3.0]


def test_finding_rotary_dim_2_cannot_be_constructed():
    from x_transformers.x_transformers import RotaryEmbedding

    with pytest.raises(ZeroDivisionError):
        RotaryEmbedding(2)


def rope_unless_rotary_dim_2(x, positions, config):
    """The adapter, except rotary_dim == 2 (which the library cannot build) goes to
    ropecheck's reference: only to show that nothing else fails."""
    if config.rotary_dim == 2:
        return variants.interleaved(x, positions, config)
    return x_transformers.rope(x, positions, config)


@pytest.mark.slow
def test_spec_fails_only_by_the_rotary_dim_2_crash():
    result = engine.verify(load_spec(SPEC), str(SPEC), profile="ci", isolate=False)
    assert_only_the_crash(result, "x_transformers.py")


@pytest.mark.slow
def test_adapter_conforms_apart_from_rotary_dim_2():
    data = {**load_spec(SPEC).to_mapping(), "name": "x-transformers-check",
            "callable": f"{Path(__file__).stem}:rope_unless_rotary_dim_2"}
    spec = spec_from_mapping(data, origin="x-transformers.toml without rotary_dim 2", folder=str(HERE))
    result = engine.verify(spec, str(SPEC), profile="ci", isolate=False)
    assert_conforms(result, "specs/x-transformers.toml without rotary_dim 2")
