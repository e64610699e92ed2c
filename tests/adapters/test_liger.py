"""ropecheck.adapters.liger: Liger's fused Triton RoPE on q and k together (``signature = "qk"``).

On CPU tensors the kernel runs under Triton's interpreter (the adapter turns it on when it
imports Liger's kernel module first; ``tox -e triton-cpu`` sets ``TRITON_INTERPRET=1``).
Fixed cases against the oracle with GQA and MQA, partial rotary and large positions, every
layout of docs/contract.md §4; and Liger's two findings, pinned: it writes its result into q and k
(``inplace = true``), and its backward rotates the incoming gradient in place, which makes
the gradient wrong when that gradient tensor has another consumer (a residual).
"""

import importlib.util
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
import torch

if importlib.util.find_spec("liger_kernel") is None or importlib.util.find_spec("triton") is None:
    pytest.skip("needs liger-kernel and triton", allow_module_level=True)

from ropecheck import RopeConfig, oracle, tolerance  # noqa: E402
from ropecheck.adapters import liger  # noqa: E402
from ropecheck.adapters._kernels import interpreting  # noqa: E402
from qk_check import check_qk, make_qk  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
SPECS = ROOT / "specs"
POSITIONS = torch.tensor([[0, 1, 2, 3, 4], [7, 3, 100, 2047, 131071]])  # per-row, unsorted, large
DTYPES = [torch.float32, torch.float16]  # what the CPU run claims; bfloat16 see below

CASES = [  # q_heads, kv_heads, head_dim, rotary_dim, base
    (4, 2, 16, 16, 10000.0),  # GQA
    (4, 1, 16, 8, 500.0),  # MQA, partial
    (3, 3, 32, 32, 1e6),  # MHA, q_heads not a power of two
    (6, 2, 64, 2, 10000.0),  # one rotated pair of 64: the shape of the earlier gradient finding
]


def _config(head_dim, rotary_dim, base):
    return RopeConfig(base=base, rotary_dim=rotary_dim, pairing="half_split", head_dim=head_dim)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("q_heads, kv_heads, head_dim, rotary_dim, base", CASES)
def test_q_and_k_agree_with_the_oracle(q_heads, kv_heads, head_dim, rotary_dim, base, dtype):
    config = _config(head_dim, rotary_dim, base)
    qk = make_qk((2, 5), q_heads, kv_heads, head_dim, dtype)
    seen = check_qk(liger.rope, config, POSITIONS, qk)
    # finding (pinned): Liger rotates contiguous q and k in their own storage
    assert seen.q_written and seen.k_written


@pytest.mark.parametrize("layout", ["fused", "transposed"])
def test_views_into_a_fused_buffer_and_transposed_views(layout):
    """Views that are not contiguous in (batch, seq, heads, d) are copied by Liger first:
    right results, and nothing in the caller's tensors (v included) changes."""
    config = _config(16, 12, 10000.0)
    qk = make_qk((2, 5), 4, 2, 16, torch.float32, layout)
    before = (qk.fused if qk.fused is not None else qk.q).clone()
    seen = check_qk(liger.rope, config, POSITIONS, qk)
    assert not seen.q_written and not seen.k_written
    if qk.fused is not None:
        assert torch.equal(qk.fused, before)


def test_q_out_does_not_depend_on_k_nor_k_out_on_q():
    config = _config(16, 16, 10000.0)
    a, b = make_qk((2, 5), 4, 2, 16, seed=1), make_qk((2, 5), 4, 2, 16, seed=2)
    q_a, k_a = (t.clone() for t in liger.rope(a.q.clone(), a.k.clone(), POSITIONS, config))
    q_mix, k_mix = liger.rope(a.q.clone(), b.k.clone(), POSITIONS, config)
    assert torch.equal(q_mix, q_a)
    q_mix, k_mix = liger.rope(b.q.clone(), a.k.clone(), POSITIONS, config)
    assert torch.equal(k_mix, k_a)


def test_float64_is_exact():
    config = _config(16, 10, 10000.0)
    seen = check_qk(liger.rope, config, POSITIONS, make_qk((2, 5), 4, 2, 16, torch.float64))
    assert seen.q_ratio == 0.0 and seen.k_ratio == 0.0  # the oracle's own arithmetic on its own table


def test_bfloat16_is_not_judged_under_the_interpreter():
    """Why the CPU spec does not claim bfloat16: Liger computes in its table's dtype, and
    Triton's interpreter computes bfloat16 arithmetic on the stored bit patterns (Triton
    documents it as unsupported), so the result is garbage whatever Liger does. If this
    starts to pass, Triton fixed it: move bfloat16 into the CPU spec."""
    config = _config(16, 16, 10000.0)
    qk = make_qk((2, 5), 4, 2, 16, torch.bfloat16)
    q0 = qk.q.clone()
    q_out, _ = liger.rope(qk.q, qk.k, POSITIONS, config)  # CPU tensors: under the interpreter
    assert interpreting()
    assert not tolerance.compare(q_out, q0, POSITIONS, config).ok


# ---------------------------------------------------------------- gradients


def _grads(q_heads, kv_heads, head_dim, rotary_dim, seed=0):
    """Liger's forward and backward under autograd, float32; returns what the test needs."""
    config = _config(head_dim, rotary_dim, 10000.0)
    qk = make_qk((2, 5), q_heads, kv_heads, head_dim, seed=seed)
    q_leaf, k_leaf = qk.q.clone().requires_grad_(True), qk.k.clone().requires_grad_(True)
    q_out, k_out = liger.rope(q_leaf.clone(), k_leaf.clone(), POSITIONS, config)  # clones: Liger writes in place
    gen = torch.Generator().manual_seed(seed + 1)
    g_q, g_k = torch.randn(q_out.shape, generator=gen), torch.randn(k_out.shape, generator=gen)
    g_q0, g_k0 = g_q.clone(), g_k.clone()
    d_q, d_k = torch.autograd.grad((q_out, k_out), (q_leaf, k_leaf), (g_q, g_k))
    return config, (d_q, d_k), (g_q, g_k), (g_q0, g_k0)


@pytest.mark.parametrize("q_heads, kv_heads, head_dim, rotary_dim", [(1, 1, 64, 2), (4, 2, 16, 8), (4, 2, 16, 16)])
def test_the_gradient_is_the_inverse_rotation_of_the_upstream_gradient(q_heads, kv_heads, head_dim, rotary_dim):
    """The earlier H100 finding ("gradients" failing with rotary_dim 2 of head_dim 64,
    float32) does not reproduce as a wrong gradient: with partial and full rotary, Liger's
    gradient is the inverse rotation of the upstream gradient as it was passed in. The
    next test shows what that run saw."""
    config, grads, _, originals = _grads(q_heads, kv_heads, head_dim, rotary_dim)
    for grad, g0 in zip(grads, originals):
        expected = oracle.rope_inverse(g0, POSITIONS, config)
        result = tolerance.compare(grad, g0, POSITIONS, config, expected=expected)
        assert result.ok, result.describe()


@pytest.mark.parametrize("rotary_dim", [2, 64])
def test_finding_the_backward_rotates_the_incoming_gradient_in_place(rotary_dim):
    """Finding (liger-kernel 0.8.5): ``LigerRopeFunction.backward`` rotates ``dq``/``dk`` in
    their own storage, i.e. the caller's upstream gradient tensors are overwritten with the
    result. An engine that computes the expected gradient from that tensor after backward
    sees a wrong gradient: this is what ``gradients`` reported on the H100, partial rotary
    or not (rotary_dim 2 of 64 was only where Hypothesis shrank to)."""
    config, grads, upstream, originals = _grads(1, 1, 64, rotary_dim)
    for grad, g, g0 in zip(grads, upstream, originals):
        assert not torch.equal(g, g0)  # overwritten
        assert torch.equal(g, grad)  # with the gradient itself
        after = tolerance.compare(grad, g, POSITIONS, config, expected=oracle.rope_inverse(g, POSITIONS, config))
        assert not after.ok  # judged against the overwritten tensor, the gradient looks wrong


def test_finding_a_residual_gets_a_wrong_gradient():
    """Finding (liger-kernel 0.8.5), the consequence in a graph: for ``y = rope(x) + x`` autograd
    hands the same gradient tensor to both branches, Liger's backward overwrites it, and the
    identity branch then contributes the rotated gradient: d/dx = 2 R^-1 g instead of R^-1 g + g.
    Shapes (1, 1, 1, 4) float32, position 1, rotary_dim 4, g = (1, 0, 0, 0)."""
    config = _config(4, 4, 10000.0)
    pos = torch.tensor([[1]])
    x = torch.tensor([[[[1.0, 2.0, 3.0, 4.0]]]], requires_grad=True)
    k = torch.zeros(1, 1, 1, 4)
    q_out, _ = liger.rope(x.clone(), k, pos, config)
    g = torch.tensor([[[[1.0, 0.0, 0.0, 0.0]]]])
    (grad,) = torch.autograd.grad(q_out + x, x, g.clone())
    inverse = oracle.rope_inverse(g, pos, config)
    right = inverse + g.double()
    assert (grad.double() - 2 * inverse).abs().max() < 1e-6  # what Liger gives
    assert (grad.double() - right).abs().max() > 0.8  # the right one: off by sin(1) = 0.84 in dim 2


# ---------------------------------------------------------------- lazy import, specs


def test_importing_the_adapter_imports_neither_liger_nor_triton():
    code = "import sys, ropecheck.adapters.liger; print('liger_kernel' in sys.modules, 'triton' in sys.modules)"
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    assert done.stdout.split() == ["False", "False"]


def test_the_specs_claim_what_the_tests_show():
    cpu = tomllib.loads((SPECS / "liger-rope.toml").read_text())
    assert cpu["callable"] == "ropecheck.adapters.liger:rope"
    assert (cpu["signature"], cpu["inplace"], cpu["partial_rotary"]) == ("qk", True, True)
    assert cpu["devices"] == ["cpu", "cuda"] and "bfloat16" not in cpu["dtypes"]
    bf16 = tomllib.loads((SPECS / "liger-rope-bf16.toml").read_text())
    assert bf16["devices"] == ["cuda"] and bf16["dtypes"] == ["bfloat16"]
    assert {k: v for k, v in bf16.items() if k not in ("name", "dtypes", "devices")} == \
           {k: v for k, v in cpu.items() if k not in ("name", "dtypes", "devices")}



def test_a_release_without_the_function_is_an_adapter_mismatch(monkeypatch):
    from ropecheck.adapters import AdapterMismatch

    config = _config(4, 4, 10000.0)
    qk = make_qk((1, 1), 1, 1, 4)
    liger.rope(qk.q.clone(), qk.k.clone(), torch.tensor([[0]]), config)  # imported
    monkeypatch.delattr(sys.modules["liger_kernel.ops.rope"], "LigerRopeFunction")
    with pytest.raises(AdapterMismatch, match="liger-kernel 0.*has no attribute 'LigerRopeFunction'"):
        liger.rope(qk.q, qk.k, torch.tensor([[0]]), config)
