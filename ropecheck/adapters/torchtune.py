"""torchtune's ``RotaryPositionalEmbeddings`` bent to docs/contract.md §1::

    rope(x: (batch, seq, heads, head_dim), positions: (batch, seq) int64, config) -> like x

``torchtune.modules.RotaryPositionalEmbeddings(dim, max_seq_len, base)`` takes x in
ropecheck's own layout and ``input_pos`` of shape (batch, seq), pairs dims ``(2i, 2i+1)``
(Meta llama's convention) and rotates the whole head: there is no partial rotary, so
``rotary_dim`` must equal ``head_dim``. It computes in float32 (``x.float()``) and casts
back. At construction it tabulates cos/sin for positions ``[0, max_seq_len)`` and looks
positions up in that table, so a position at or above ``max_seq_len`` raises
``IndexError``; the adapter sizes the table to the largest position asked for (a power of
two, at least the library's default 4096). ``torchtune`` is imported only inside the
functions.
"""

from __future__ import annotations

import functools

import torch

from ropecheck.adapters import bundled
from ropecheck.config import RopeConfig

DEFAULT_MAX_SEQ_LEN = 4096
"""torchtune's own default ``max_seq_len``."""


def table_length(largest: int) -> int:
    """The ``max_seq_len`` used when the largest position is ``largest``: a power of two
    above it, and at least 4096."""
    return max(DEFAULT_MAX_SEQ_LEN, 1 << max(0, largest).bit_length())


@functools.lru_cache(maxsize=4)
def _module(base: float, dim: int, max_seq_len: int, device: str):
    """A ``RotaryPositionalEmbeddings``; its cos/sin table is (max_seq_len, dim // 2, 2)
    float32 and never changes after construction, so modules are shared."""
    from torchtune.modules import RotaryPositionalEmbeddings

    return RotaryPositionalEmbeddings(dim, max_seq_len=max_seq_len, base=base).to(device)


@bundled("torchtune")
def rope(x: torch.Tensor, positions: torch.Tensor, config: RopeConfig) -> torch.Tensor:
    """``RotaryPositionalEmbeddings(head_dim, ...)(x, input_pos=positions)``."""
    if config.rotary_dim != x.shape[-1]:
        raise ValueError(f"torchtune rotates the whole head: rotary_dim {config.rotary_dim} "
                         f"must equal head_dim {x.shape[-1]}")
    length = table_length(int(positions.max()))
    module = _module(float(config.base), config.rotary_dim, length, str(x.device))
    return module(x, input_pos=positions)
