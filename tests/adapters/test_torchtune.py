"""ropecheck.adapters.torchtune against the oracle and the catalogue.

Finding about the library (torchtune 0.6.1): ``max_seq_len`` is documented as "if
exceeded the cached freqs will be recomputed", but a position at or above it raises
IndexError (the forward indexes the cos/sin table); the adapter sizes the table.
"""

import subprocess
import sys
from pathlib import Path

import pytest
import torch

pytest.importorskip("torchtune")

from ropecheck import RopeConfig, engine  # noqa: E402
from ropecheck.adapters import torchtune  # noqa: E402
from ropecheck.spec import load_spec  # noqa: E402
from oracle_check import check_against_oracle  # noqa: E402
from harness import assert_conforms  # noqa: E402

SPEC = Path(__file__).resolve().parents[2] / "specs" / "torchtune.toml"

CASES = [  # head_dim (= rotary_dim), base, positions (batch, seq)
    (16, 10000.0, [[0, 1, 2, 3, 4], [0, 1, 2, 3, 4]]),  # from zero
    (8, 500.0, [[5, 6, 7, 8, 9], [100, 3, 4, 4, 0]]),  # per-row offset; arbitrary, unsorted
    (6, 1e6, [[131071, 0, 70000, 2, 9], [17, 18, 19, 20, 21]]),  # large positions
]


@pytest.mark.parametrize("head_dim, base, positions", CASES)
def test_adapter_equals_the_oracle(head_dim, base, positions):
    check_against_oracle(torchtune.rope, head_dim, head_dim, base, positions)


def test_table_grows_with_positions_without_stale_results():
    for positions in ([[3, 7]], [[70000, 131071]], [[3, 7]]):
        check_against_oracle(torchtune.rope, 8, 8, 10000.0, positions)
    assert torchtune.table_length(0) == torchtune.table_length(4095) == 4096
    assert torchtune.table_length(4096) == 8192 and torchtune.table_length(131071) == 131072


def test_partial_rotary_is_refused():
    config = RopeConfig(rotary_dim=4, pairing="interleaved", head_dim=8)
    with pytest.raises(ValueError, match="rotary_dim 4 must equal head_dim 8"):
        torchtune.rope(torch.zeros(1, 2, 1, 8), torch.zeros(1, 2, dtype=torch.int64), config)


def test_importing_the_adapter_does_not_import_the_library():
    code = "import sys, ropecheck.adapters.torchtune; print('torchtune' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "False"


def test_finding_positions_beyond_max_seq_len_raise():
    from torchtune.modules import RotaryPositionalEmbeddings

    module = RotaryPositionalEmbeddings(8, max_seq_len=16)
    with pytest.raises(IndexError):
        module(torch.zeros(1, 1, 1, 8), input_pos=torch.tensor([[16]]))


@pytest.mark.slow
def test_spec_conforms():
    result = engine.verify(load_spec(SPEC), str(SPEC), profile="ci", isolate=False)
    assert_conforms(result, "specs/torchtune.toml")
