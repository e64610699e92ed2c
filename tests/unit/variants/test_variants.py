"""Every variant equals the oracle (half-split after the permutation), under Hypothesis."""

import pytest
import torch
from hypothesis import given, target

from ropecheck import oracle, strategies, tolerance, variants

NAMES = sorted(variants.VARIANTS)


@pytest.mark.parametrize("name", NAMES)
@given(data=strategies.st.data())
def test_variant_equals_oracle(name, data):
    fn, pairing = variants.VARIANTS[name]
    case = data.draw(strategies.rope_cases(pairing=pairing, partial=True), label="case")
    x, pos = case.make_x(), case.make_positions()
    before = x.clone()
    y = fn(x, pos, case.config)
    assert y.shape == x.shape and y.dtype == x.dtype and y.device == x.device, (
        f"{name} returned {tuple(y.shape)} {y.dtype} {y.device} for {tuple(x.shape)} {x.dtype} {x.device}")
    assert torch.equal(x, before), f"{name} wrote into its input"
    result = tolerance.compare(y, x, pos, case.config)
    target(result.worst_ratio, label="error / allowed")
    assert result.ok, f"{name} disagrees with the oracle: {result.describe()}\n{case.repro()}"


@given(case=strategies.rope_cases(pairing="interleaved", partial=True, dtypes=("float64", "float32")))
def test_half_split_is_interleaved_under_the_permutation(case):
    x_inter, pos, config = case.make_x(), case.make_positions(), case.config
    perm = oracle.half_split_permutation(config.rotary_dim)
    x_half = x_inter.clone()
    x_half[..., perm] = x_inter[..., : config.rotary_dim]
    y_half = variants.half_split(x_half, pos, config.replace(pairing="half_split"))
    y_back = y_half.clone()
    y_back[..., : config.rotary_dim] = y_half[..., perm]
    y_inter = variants.interleaved(x_inter, pos, config)
    gap = (y_back - y_inter).abs().max().item()
    assert gap <= 1e-5 * max(1.0, x_inter.abs().max().item()), f"permuted half-split differs by {gap:.3g}\n{case.repro()}"


@pytest.mark.parametrize("name", NAMES)
def test_variants_accept_non_contiguous_inputs(name):
    fn, pairing = variants.VARIANTS[name]
    config = variants.RopeConfig(rotary_dim=16, pairing=pairing, head_dim=16)
    base = torch.randn(2, 4, 3, 16, dtype=torch.float64)
    x = base.transpose(1, 2).contiguous().transpose(1, 2)  # same values, other strides
    pos = torch.tensor([[5, 6, 7, 8], [0, 9, 3, 100]])
    assert not x.is_contiguous()
    assert torch.allclose(fn(x, pos, config), fn(base, pos, config), atol=0, rtol=0)


def test_dense_matrix_builds_its_matrices_in_bounded_blocks_with_the_same_result(monkeypatch):
    """R is (batch, block, rotary_dim, rotary_dim) for blocks of at most DENSE_CHUNK_BYTES,
    and the blocks change nothing: the same bits as one block of the whole sequence, or
    blocks of one position (a slicing mistake at a block edge would show here)."""
    config = variants.RopeConfig(rotary_dim=64, pairing="interleaved", head_dim=80)
    x = torch.randn(2, 600, 3, 80, generator=torch.Generator().manual_seed(7))
    pos = torch.randint(0, 1 << 17, (2, 600), generator=torch.Generator().manual_seed(8))
    built = []
    zeros = torch.zeros

    def recording_zeros(*shape, **kwargs):
        matrices = zeros(*shape, **kwargs)
        built.append(matrices.numel() * matrices.element_size())
        return matrices

    monkeypatch.setattr(torch, "zeros", recording_zeros)
    blocked = variants.dense_matrix(x, pos, config)
    per_position = 2 * 64 * 64 * 4  # bytes of R for one position of both rows
    assert max(built) <= variants.DENSE_CHUNK_BYTES and len(built) == -(-600 // (variants.DENSE_CHUNK_BYTES // per_position)), built
    monkeypatch.setattr(torch, "zeros", zeros)
    monkeypatch.setattr(variants, "DENSE_CHUNK_BYTES", 1 << 40)
    whole = variants.dense_matrix(x, pos, config)
    monkeypatch.setattr(variants, "DENSE_CHUNK_BYTES", 1)
    one_by_one = variants.dense_matrix(x[:, :37], pos[:, :37], config)
    assert torch.equal(blocked, whole), (blocked - whole).abs().max()
    assert torch.equal(one_by_one, whole[:, :37]), (one_by_one - whole[:, :37]).abs().max()
    assert torch.equal(blocked[..., 64:], x[..., 64:]), "the pass-through dims changed"
