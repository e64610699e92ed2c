"""Benchmark shapes and the byte model.

One benchmark call applies the implementation to q (``heads`` heads) and to k
(``kv_heads`` heads, fewer under GQA) at the same positions. Bytes moved, the fewest a
RoPE must move: q and k read once and written once, plus the int64 positions read once
(cos/sin computed on the fly or read from a small cached table are not counted; a table
the size of the input would double the reads, and shows as a lower fraction of roofline).
Forward+backward also reads dL/dy and writes dL/dx for q and k.
"""

from __future__ import annotations

from dataclasses import dataclass

DTYPE_BYTES = {"float64": 8, "float32": 4, "bfloat16": 2, "float16": 2}


@dataclass(frozen=True)
class Shape:
    kind: str  # "prefill" or "decode"
    batch: int
    seq: int
    heads: int
    kv_heads: int
    head_dim: int

    @property
    def tokens(self) -> int:
        return self.batch * self.seq

    def elements(self) -> int:
        """Elements of q plus k."""
        return self.tokens * (self.heads + self.kv_heads) * self.head_dim

    def bytes_moved(self, dtype: str, backward: bool = False) -> int:
        passes = 2 if backward else 1
        return passes * 2 * self.elements() * DTYPE_BYTES[dtype] + 8 * self.tokens


def prefill_shapes(quick: bool = False) -> list[Shape]:
    """Tokens 128..32K per batch, heads 8..64, head_dim 64/128/256, GQA where kv_heads < heads."""
    if quick:
        return [Shape("prefill", 1, 128, 8, 8, 64), Shape("prefill", 1, 512, 8, 2, 128), Shape("prefill", 2, 1024, 8, 8, 128)]
    shapes = []
    for seq in (128, 512, 2048, 8192, 32768):
        shapes.append(Shape("prefill", 1, seq, 32, 32, 128))
        shapes.append(Shape("prefill", 1, seq, 32, 8, 128))  # GQA (llama-3 8B)
    shapes += [Shape("prefill", 1, 4096, 8, 8, 64), Shape("prefill", 1, 4096, 64, 8, 128),
               Shape("prefill", 1, 4096, 16, 16, 256), Shape("prefill", 4, 2048, 32, 8, 128)]
    return shapes


def decode_shapes(quick: bool = False) -> list[Shape]:
    """One new token per sequence, batch 1..256."""
    batches = (1, 16) if quick else (1, 8, 64, 256)
    return [Shape("decode", b, 1, 32, 8, 128) for b in batches]


def sweep(quick: bool = False, device: str = "cpu") -> list[Shape]:
    """The shapes to time. The full CPU sweep stops at 8K tokens (32K on CPU takes minutes)."""
    shapes = prefill_shapes(quick) + decode_shapes(quick)
    if device == "cpu" and not quick:
        shapes = [s for s in shapes if s.tokens * (s.heads + s.kv_heads) <= 2048 * 64]
    return shapes


def dtypes(quick: bool = False) -> tuple[str, ...]:
    return ("float32", "bfloat16") if quick else ("float32", "bfloat16", "float16")


def backward_dtypes(device: str) -> tuple[str, ...]:
    """Forward is timed in every dtype, forward+backward in the training dtype only:
    bfloat16 on a GPU, float32 on a CPU."""
    return ("bfloat16",) if device == "cuda" else ("float32",)
