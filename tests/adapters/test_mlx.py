"""ropecheck.adapters.mlx (``mx.fast.rope`` on MLX's CPU device) against the oracle and the catalogue."""

import subprocess
import sys
from pathlib import Path

import pytest
import torch

pytest.importorskip("mlx.core")

from ropecheck import engine  # noqa: E402
from ropecheck.adapters import mlx  # noqa: E402
from ropecheck.spec import load_spec  # noqa: E402
from oracle_check import check_against_oracle  # noqa: E402
from harness import assert_conforms  # noqa: E402

SPECS = Path(__file__).resolve().parents[2] / "specs"
ADAPTERS = {"interleaved": mlx.traditional, "half_split": mlx.half_split}

CASES = [  # rotary_dim, head_dim, base, positions (batch, seq)
    (16, 16, 10000.0, [[0, 1, 2, 3, 4], [0, 1, 2, 3, 4]]),  # from zero: one call
    (8, 16, 500.0, [[5, 6, 7, 8, 9], [100, 101, 102, 103, 104]]),  # per-row offsets: one call
    (8, 16, 500.0, [[5, 6, 7, 8, 9], [100, 3, 4, 4, 0]]),  # arbitrary, unsorted: per run
    (4, 6, 1e6, [[131071, 0, 70000, 2, 9], [17, 18, 19, 20, 21]]),  # partial, large positions
]


def check_mlx(pairing, rotary_dim, head_dim, base, positions, dtype=torch.float32):
    """The shared oracle check, and the pass-through dims come back exact."""
    x, y = check_against_oracle(ADAPTERS[pairing], rotary_dim, head_dim, base, positions, pairing, dtype)
    assert torch.equal(y[..., rotary_dim:], x[..., rotary_dim:])


@pytest.mark.parametrize("pairing", sorted(ADAPTERS))
@pytest.mark.parametrize("rotary_dim, head_dim, base, positions", CASES)
def test_adapter_equals_the_oracle(pairing, rotary_dim, head_dim, base, positions):
    check_mlx(pairing, rotary_dim, head_dim, base, positions)


@pytest.mark.parametrize("dtype", [torch.float64, torch.bfloat16, torch.float16])
def test_dtypes_survive_the_round_trip(dtype):
    """float64 must not pass through float32 (mx.array's default for float64 arrays)."""
    check_mlx("interleaved", 6, 16, 10000.0, [[0, 1, 9]], dtype)


def test_importing_the_adapter_does_not_import_the_library():
    code = "import sys, ropecheck.adapters.mlx; print('mlx' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "False"


@pytest.mark.slow
@pytest.mark.parametrize("spec_file", ["mlx-traditional.toml", "mlx-half-split.toml"])
def test_spec_conforms(spec_file):
    path = SPECS / spec_file
    result = engine.verify(load_spec(path), str(path), profile="ci", isolate=False)
    assert_conforms(result, f"specs/{spec_file}")
