"""What the adapters of fused kernels share: Triton on CPU tensors, and per-sequence offsets.

Triton has no CPU backend; its interpreter (``TRITON_INTERPRET=1``) runs the same kernel
source with numpy on CPU tensors, program by program. It must be on when ``triton.jit``
decorates the kernel, i.e. when the library's module is imported: ``import_for`` turns it
on when it imports a module for CPU tensors first in a process. A process that imported
the module for CUDA first runs the compiled kernel and cannot take CPU tensors.
"""

from __future__ import annotations

import importlib
import os
import sys
from types import ModuleType

import torch

_TRUE = ("1", "true", "on", "yes")


def interpreting() -> bool:
    """Whether Triton's interpreter is on: Triton's own reading of ``TRITON_INTERPRET`` once
    triton is imported, the usual true spellings before."""
    triton = sys.modules.get("triton")
    knobs = getattr(triton, "knobs", None)
    if knobs is not None:
        return bool(knobs.runtime.interpret)
    return os.environ.get("TRITON_INTERPRET", "").strip().lower() in _TRUE


def import_for(module: str, device: torch.device) -> ModuleType:
    """Import ``module`` (one that defines Triton kernels) for tensors on ``device``.

    For CPU tensors, Triton's interpreter is turned on first if the module is not imported
    yet; a module imported without it raises ``RuntimeError`` (its kernels are compiled
    for a GPU and Triton would fail with "0 active drivers").
    """
    cpu = torch.device(device).type == "cpu"
    if cpu and module not in sys.modules and not interpreting():
        os.environ["TRITON_INTERPRET"] = "1"
    loaded = importlib.import_module(module)
    if cpu and not interpreting():
        raise RuntimeError(f"{module} was imported without Triton's interpreter, so its kernels cannot take "
                           "CPU tensors; set TRITON_INTERPRET=1 before triton is imported")
    return loaded


def one_config_under_interpreter(kernel) -> None:
    """Under the interpreter, let a ``triton.autotune``d kernel keep only its first config.

    The autotuner times every config with a GPU benchmarker, which the interpreter lacks
    (Triton raises "0 active drivers"); the configs differ only in ``num_warps`` and
    ``num_stages``, which the interpreter ignores, so every config computes the same
    thing there. Does nothing on a GPU.
    """
    if interpreting() and len(getattr(kernel, "configs", ())) > 1:
        kernel.configs = kernel.configs[:1]


def sequence_offsets(positions: torch.Tensor, cu_seqlens: torch.Tensor) -> torch.Tensor:
    """Each packed sequence's first position (docs/contract.md §4, ``positions = "consecutive"``).

    Args:
        positions: ``(total_tokens,)`` int64, each sequence ``offset, offset + 1, ...``.
        cu_seqlens: int32 ``(num_seqs + 1,)``, starting at 0.
    Returns:
        int64 ``(num_seqs,)`` on positions' device: ``positions[cu_seqlens[:-1]]``, and 0
        for an empty sequence (which has no first position).
    """
    starts = cu_seqlens[:-1].long()
    lengths = cu_seqlens[1:].long() - starts
    if positions.numel() == 0:
        return torch.zeros_like(starts)
    first = positions[starts.clamp(max=positions.numel() - 1)]
    return torch.where(lengths > 0, first, torch.zeros_like(first))


def table_rows(positions: torch.Tensor) -> int:
    """Rows a position-indexed table needs: the largest position + 1 (at least 1)."""
    return int(positions.max()) + 1 if positions.numel() else 1
