"""ropecheck.adapters.fla: fla-core's Triton rotary kernel on packed batches (``packed = true``,
``positions = "consecutive"``), alone and as the ``RotaryEmbedding`` module on q and k.

On CPU tensors the kernel runs under Triton's interpreter (the adapter turns it on). The
batches have an empty sequence, a one-token sequence and a sequence longer than the
kernel's 128-token tile, offsets up to 131000, GQA for q and k. Two findings are pinned:
a packed batch without tokens raises, and a ``cu_seqlens`` buffer updated in place is
chunked as in the previous call.
"""

import importlib.util
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
import torch

if importlib.util.find_spec("fla") is None or importlib.util.find_spec("triton") is None:
    pytest.skip("needs fla-core and triton", allow_module_level=True)

from ropecheck import RopeConfig, oracle, tolerance  # noqa: E402
from ropecheck.adapters import fla  # noqa: E402
from ropecheck.adapters._kernels import sequence_offsets  # noqa: E402
from qk_check import check_qk, make_qk, packed_batch  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
SPECS = ROOT / "specs"
DTYPES = [torch.float32, torch.bfloat16, torch.float16]
ADAPTERS = {"half_split": fla.packed_half_split, "interleaved": fla.packed_interleaved}

BATCHES = [  # lengths, offsets (one per sequence)
    ([3, 0, 1, 130], [5, 7, 100, 131000]),  # empty, one token, past a 128-token tile, large offset
    ([1], [0]),
    ([4, 4, 0], [0, 9, 3]),  # a trailing empty sequence: its cu_seqlens start is total_tokens
]


def _x(total, heads, head_dim, dtype, seed=0):
    return torch.randn(total, heads, head_dim, generator=torch.Generator().manual_seed(seed)).to(dtype)


def _judge(y, x, positions, config):
    assert (y.shape, y.dtype) == (x.shape, x.dtype)
    result = tolerance.compare(y[None], x[None], positions[None], config)
    assert result.ok, result.describe()
    return result


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("pairing", sorted(ADAPTERS))
@pytest.mark.parametrize("lengths, offsets", BATCHES)
def test_packed_x_agrees_with_the_oracle(lengths, offsets, pairing, dtype):
    cu, positions = packed_batch(lengths, offsets)
    config = RopeConfig(base=10000.0, rotary_dim=6, pairing=pairing, head_dim=10)  # partial
    x = _x(len(positions), 3, 10, dtype)
    before = x.clone()
    y = ADAPTERS[pairing](x, positions, config, cu_seqlens=cu)
    _judge(y, x, positions, config)
    assert torch.equal(x, before), "wrote into x"
    assert torch.equal(y[..., 6:], x[..., 6:])


@pytest.mark.parametrize("pairing", sorted(ADAPTERS))
def test_whole_head_and_another_base(pairing):
    cu, positions = packed_batch([5, 2], [2047, 0])
    config = RopeConfig(base=500000.0, rotary_dim=64, pairing=pairing, head_dim=64)
    x = _x(7, 2, 64, torch.float32)
    _judge(ADAPTERS[pairing](x, positions, config, cu_seqlens=cu), x, positions, config)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("layout", ["separate", "fused"])
@pytest.mark.parametrize("q_heads, kv_heads", [(4, 2), (4, 1), (2, 2)])
def test_qk_module_agrees_with_the_oracle(q_heads, kv_heads, layout, dtype):
    """``RotaryEmbedding`` with its own float32 table: within the model at 131000 too."""
    lengths, offsets = BATCHES[0]
    cu, positions = packed_batch(lengths, offsets)
    config = RopeConfig(base=10000.0, rotary_dim=8, pairing="half_split", head_dim=16)
    qk = make_qk((len(positions),), q_heads, kv_heads, 16, dtype, layout)
    seen = check_qk(fla.qk_packed, config, positions, qk, packed_cu=cu)
    assert not seen.q_written and not seen.k_written


def test_qk_out_does_not_depend_on_the_other():
    cu, positions = packed_batch([3, 4], [0, 10])
    config = RopeConfig(rotary_dim=16, pairing="half_split", head_dim=16)
    a, b = make_qk((7,), 4, 2, 16, seed=1), make_qk((7,), 4, 2, 16, seed=2)
    q_a, k_a = fla.qk_packed(a.q, a.k, positions, config, cu_seqlens=cu)
    assert torch.equal(fla.qk_packed(a.q, b.k, positions, config, cu_seqlens=cu)[0], q_a)
    assert torch.equal(fla.qk_packed(b.q, a.k, positions, config, cu_seqlens=cu)[1], k_a)


@pytest.mark.parametrize("pairing", sorted(ADAPTERS))
def test_gradients_are_the_inverse_rotation(pairing):
    cu, positions = packed_batch([3, 0, 5], [4, 0, 1000])
    config = RopeConfig(rotary_dim=6, pairing=pairing, head_dim=10)
    x = _x(8, 2, 10, torch.float32).requires_grad_(True)
    y = ADAPTERS[pairing](x, positions, config, cu_seqlens=cu)
    g = torch.randn(y.shape, generator=torch.Generator().manual_seed(5))
    g0 = g.clone()
    (grad,) = torch.autograd.grad(y, x, g)
    assert torch.equal(g, g0), "backward wrote into the upstream gradient"
    expected = oracle.rope_inverse(g[None], positions[None], config)
    result = tolerance.compare(grad[None], g[None], positions[None], config, expected=expected)
    assert result.ok, result.describe()


def test_sequence_offsets_are_the_first_position_of_each_sequence():
    cu, positions = packed_batch([2, 0, 1, 0], [5, 9, 70, 3])
    assert sequence_offsets(positions, cu).tolist() == [5, 0, 70, 0]  # empty sequences: 0
    assert sequence_offsets(torch.zeros(0, dtype=torch.int64), torch.tensor([0, 0], dtype=torch.int32)).tolist() == [0]


# ---------------------------------------------------------------- findings (fla-core 0.6.0)


@pytest.mark.parametrize("pairing", sorted(ADAPTERS))
def test_finding_a_packed_batch_without_tokens_raises(pairing):
    """Finding: with total_tokens 0 (every sequence empty) the tile is
    ``BT = next_power_of_2(cdiv(0, n_sm)) = 0`` and ``prepare_chunk_indices`` divides by it:
    ``RuntimeError: ZeroDivisionError`` on CPU tensors (an unbatched ``(B, 0, H, D)`` x fails the
    same way in ``triton.cdiv(0, 0)``). Shapes: x (1, 0, 3, 10), cu_seqlens [0, 0]."""
    config = RopeConfig(rotary_dim=6, pairing=pairing, head_dim=10)
    with pytest.raises((RuntimeError, ZeroDivisionError), match="ZeroDivisionError|division"):
        ADAPTERS[pairing](torch.zeros(0, 3, 10), torch.zeros(0, dtype=torch.int64), config,
                          cu_seqlens=torch.tensor([0, 0], dtype=torch.int32))


def test_finding_cu_seqlens_updated_in_place_is_chunked_as_before():
    """Finding: ``rotary_embedding`` memoises its chunk indices by the identity of ``cu_seqlens``
    (``fla.utils.tensor_cache``). A cu_seqlens buffer that is updated in place between calls (a
    static buffer, as CUDA-graph replay keeps) is chunked by the previous lengths: here 162 of
    300 tokens come back as zeros, without an error. Lengths [10, 290] then [290, 10], float32,
    head_dim 2, positions from 0; the first call's chunks (1 + 3 of 128 tokens on CPU) cover
    only 128 tokens of the new 290-token sequence."""
    config = RopeConfig(rotary_dim=2, pairing="half_split", head_dim=2)
    x = _x(300, 1, 2, torch.float32)
    cu, positions = packed_batch([10, 290], [0, 0])
    _judge(fla.packed_half_split(x, positions, config, cu_seqlens=cu), x, positions, config)
    new_cu, new_positions = packed_batch([290, 10], [0, 0])
    cu.copy_(new_cu)  # same tensor, new lengths
    stale = fla.packed_half_split(x, new_positions, config, cu_seqlens=cu)
    fresh = fla.packed_half_split(x, new_positions, config, cu_seqlens=new_cu)
    _judge(fresh, x, new_positions, config)
    zero_rows = (stale == 0).all(-1).all(-1)
    assert zero_rows.nonzero().flatten().tolist() == list(range(128, 290))
    assert not tolerance.compare(stale[None], x[None], new_positions[None], config).ok


# ---------------------------------------------------------------- lazy import, specs


def test_importing_the_adapter_imports_neither_fla_nor_triton():
    code = "import sys, ropecheck.adapters.fla; print('fla' in sys.modules, 'triton' in sys.modules)"
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    assert done.stdout.split() == ["False", "False"]


@pytest.mark.parametrize("name, callable_, pairing, signature", [
    ("fla-rotary-packed", "packed_half_split", "half_split", "x"),
    ("fla-rotary-packed-interleaved", "packed_interleaved", "interleaved", "x"),
    ("fla-rotary-qk-packed", "qk_packed", "half_split", "qk"),
])
def test_the_specs_claim_what_the_tests_show(name, callable_, pairing, signature):
    spec = tomllib.loads((SPECS / f"{name}.toml").read_text())
    assert spec["callable"] == f"ropecheck.adapters.fla:{callable_}" and spec["pairing"] == pairing
    assert spec.get("signature", "x") == signature
    assert (spec["packed"], spec["positions"], spec["partial_rotary"]) == (True, "consecutive", True)
    assert spec["dtypes"] == ["float32", "bfloat16", "float16"] and spec["devices"] == ["cpu", "cuda"]


def test_a_release_without_the_kernel_function_is_an_adapter_mismatch(monkeypatch):
    """fla renaming ``rotary_embedding`` is ropecheck's failure (AdapterMismatch), not fla's."""
    from ropecheck.adapters import AdapterMismatch

    cu, positions = packed_batch([2], [0])
    config = RopeConfig(rotary_dim=2, pairing="half_split", head_dim=2)
    fla.packed_half_split(torch.ones(2, 1, 2), positions, config, cu_seqlens=cu)  # imported
    monkeypatch.delattr(sys.modules["fla.modules.rotary.ops"], "rotary_embedding")
    with pytest.raises(AdapterMismatch, match="fla-core 0.*has no attribute 'rotary_embedding'"):
        fla.packed_half_split(torch.ones(2, 1, 2), positions, config, cu_seqlens=cu)
