"""lucidrains' ``rotary-embedding-torch`` bent to docs/contract.md §1::

    rope(x: (batch, seq, heads, head_dim), positions: (batch, seq) int64, config) -> like x

``RotaryEmbedding(dim=rotary_dim, theta=base)`` pairs dims ``(2i, 2i+1)`` (its
``rotate_half`` is the interleaved one) and rotates only the first ``rotary_dim`` dims.
Its own entry point, ``rotate_queries_or_keys(t, seq_dim, offset)``, rotates positions
``offset, offset + 1, ...`` of one sequence; per-row, arbitrary positions are not its
API. Two adapters:

- ``rope`` asks the module for the angles of any positions, ``rotary(positions)`` (its
  ``forward``), and applies them with the library's ``apply_rotary_emb``;
- ``rotate_queries_or_keys`` calls the entry point itself, once per run of consecutive
  positions of a row, with ``offset`` = the run's first position.

``rotary_embedding_torch`` is imported only inside the functions.
"""

from __future__ import annotations

import functools

import torch

from ropecheck.adapters import bundled
from ropecheck.config import RopeConfig


@functools.lru_cache(maxsize=32)
def _rotary(base: float, rotary_dim: int, device: str):
    """A ``RotaryEmbedding`` for ``rope``. Only its ``forward`` without ``seq_len`` is
    used, which never reads or writes the module's position cache, so sharing is safe."""
    from rotary_embedding_torch import RotaryEmbedding

    return RotaryEmbedding(dim=rotary_dim, theta=base).to(device)


@bundled("rotary-embedding-torch")
def rope(x: torch.Tensor, positions: torch.Tensor, config: RopeConfig) -> torch.Tensor:
    """``apply_rotary_emb(rotary(positions), x)``: angles for every (row, token).

    ``rotary(positions)`` gives freqs of shape (batch, seq, rotary_dim), each angle twice
    (f0, f0, f1, f1, ...), formed in float32; they broadcast over heads as
    (batch, seq, 1, rotary_dim). Dims at and above rotary_dim pass through.
    """
    from rotary_embedding_torch import apply_rotary_emb

    rotary = _rotary(float(config.base), config.rotary_dim, str(x.device))
    freqs = rotary(positions.to(torch.float32))  # (batch, seq, rotary_dim)
    return apply_rotary_emb(freqs[:, :, None, :], x)


def _runs(row: list[int]) -> list[tuple[int, int]]:
    """[start, stop) index ranges of ``row`` over which positions go up by one."""
    cuts = [i for i in range(1, len(row)) if row[i] != row[i - 1] + 1]
    bounds = [0, *cuts, len(row)]
    return list(zip(bounds[:-1], bounds[1:]))


@bundled("rotary-embedding-torch")
def rotate_queries_or_keys(x: torch.Tensor, positions: torch.Tensor, config: RopeConfig) -> torch.Tensor:
    """The library's entry point, ``rotary.rotate_queries_or_keys(t, seq_dim=-3, offset=p0)``.

    Called on each run of consecutive positions of each row: t is (1, run, heads,
    head_dim), seq before heads. A fresh module per call, so the module's own position
    cache (filled by calls with offset 0) cannot leak between unrelated calls.
    """
    from rotary_embedding_torch import RotaryEmbedding

    rotary = RotaryEmbedding(dim=config.rotary_dim, theta=float(config.base)).to(x.device)
    rows = []
    for b, row in enumerate(positions.tolist()):
        pieces = [rotary.rotate_queries_or_keys(x[b : b + 1, i:j], seq_dim=-3, offset=row[i])
                  for i, j in _runs(row)]
        rows.append(torch.cat(pieces, dim=1))
    return torch.cat(rows, dim=0)
