"""The benchmark's packed q/k subject: HF-style RoPE (``kernel_mutants.qk_hf_rotate_half``)
called on a packed batch as one row, so that its own cost is the x form's and what the
benchmark measures is ropecheck's cost per form."""

from kernel_mutants import qk_hf_rotate_half


def qk_packed(q, k, positions, config, *, cu_seqlens):
    """q: (total_tokens, q_heads, head_dim); k: (total_tokens, kv_heads, head_dim);
    positions: (total_tokens,) int64. Returns (q_out, k_out)."""
    q_out, k_out = qk_hf_rotate_half(q[None], k[None], positions[None], config)
    return q_out[0], k_out[0]
