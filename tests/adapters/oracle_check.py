"""The fixed-case check every adapter test shares: the adapter on a seeded
x: (batch, seq, 3, head_dim) returns x's shape and dtype and equals the oracle within the model."""

import torch

from ropecheck import RopeConfig, tolerance


def check_against_oracle(fn, rotary_dim, head_dim, base, positions, pairing="interleaved", dtype=torch.float32):
    """Run ``fn(x, positions, config)`` and assert it; returns ``(x, y)`` for further checks."""
    pos = torch.tensor(positions)
    x = torch.randn(*pos.shape, 3, head_dim, generator=torch.Generator().manual_seed(head_dim)).to(dtype)
    config = RopeConfig(base=base, rotary_dim=rotary_dim, pairing=pairing, head_dim=head_dim)
    y = fn(x, pos, config)
    assert y.shape == x.shape and y.dtype == x.dtype
    result = tolerance.compare(y, x, pos, config)
    assert result.ok, result.describe()
    return x, y
