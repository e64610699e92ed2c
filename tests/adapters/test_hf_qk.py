"""ropecheck.adapters.hf ``llama_qk`` and ``gpt_neox_qk``: HF's ``apply_rotary_pos_emb(q, k, cos, sin)``
on q and k together (``signature = "qk"``) with GQA, against the oracle.

The tables are ropecheck's exact ones, so what is judged is the models' rotation code:
Llama's (whole head) and GPT-NeoX's (rotates the first ``cos.shape[-1]`` dims and passes
the rest through itself).
"""

import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
import torch

pytest.importorskip("transformers")

from ropecheck import RopeConfig  # noqa: E402
from ropecheck.adapters import hf  # noqa: E402
from qk_check import check_qk, make_qk  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
POSITIONS = torch.tensor([[0, 1, 2, 3, 4], [7, 3, 100, 2047, 131071]])
DTYPES = [torch.float64, torch.float32, torch.bfloat16, torch.float16]

CASES = [  # adapter, q_heads, kv_heads, head_dim, rotary_dim, base
    (hf.llama_qk, 4, 2, 16, 16, 10000.0),  # GQA
    (hf.llama_qk, 8, 1, 64, 64, 500000.0),  # MQA, Llama 3's base
    (hf.gpt_neox_qk, 4, 2, 16, 4, 10000.0),  # rotary_pct 0.25, as in Pythia
    (hf.gpt_neox_qk, 6, 3, 214, 14, 10000.0),  # the fraction HF's own table truncates: exact here
    (hf.gpt_neox_qk, 2, 2, 32, 32, 1e6),  # MHA, whole head
]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("fn, q_heads, kv_heads, head_dim, rotary_dim, base", CASES)
def test_q_and_k_agree_with_the_oracle(fn, q_heads, kv_heads, head_dim, rotary_dim, base, dtype):
    config = RopeConfig(base=base, rotary_dim=rotary_dim, pairing="half_split", head_dim=head_dim)
    seen = check_qk(fn, config, POSITIONS, make_qk((2, 5), q_heads, kv_heads, head_dim, dtype))
    assert not seen.q_written and not seen.k_written


@pytest.mark.parametrize("layout", ["fused", "transposed"])
@pytest.mark.parametrize("fn, rotary_dim", [(hf.llama_qk, 16), (hf.gpt_neox_qk, 8)])
def test_views_into_a_fused_buffer_and_transposed_views(fn, rotary_dim, layout):
    config = RopeConfig(rotary_dim=rotary_dim, pairing="half_split", head_dim=16)
    qk = make_qk((2, 5), 4, 2, 16, torch.float32, layout)
    seen = check_qk(fn, config, POSITIONS, qk)
    assert not seen.q_written and not seen.k_written


@pytest.mark.parametrize("fn", [hf.llama_qk, hf.gpt_neox_qk])
def test_q_out_does_not_depend_on_k_nor_k_out_on_q(fn):
    config = RopeConfig(rotary_dim=16, pairing="half_split", head_dim=16)
    a, b = make_qk((2, 5), 4, 2, 16, seed=1), make_qk((2, 5), 4, 2, 16, seed=2)
    q_a, k_a = fn(a.q, a.k, POSITIONS, config)
    assert torch.equal(fn(a.q, b.k, POSITIONS, config)[0], q_a)
    assert torch.equal(fn(b.q, a.k, POSITIONS, config)[1], k_a)


def test_llama_refuses_partial_rotary():
    config = RopeConfig(rotary_dim=8, pairing="half_split", head_dim=16)
    qk = make_qk((2, 5), 4, 2, 16)
    with pytest.raises(ValueError, match="rotates the whole head"):
        hf.llama_qk(qk.q, qk.k, POSITIONS, config)


def test_gradients_are_the_inverse_rotation():
    from ropecheck import oracle, tolerance

    config = RopeConfig(rotary_dim=6, pairing="half_split", head_dim=16)
    qk = make_qk((2, 5), 4, 2, 16)
    q, k = qk.q.requires_grad_(True), qk.k.requires_grad_(True)
    q_out, k_out = hf.gpt_neox_qk(q, k, POSITIONS, config)
    g_q, g_k = torch.randn_like(q_out), torch.randn_like(k_out)
    for grad, g in zip(torch.autograd.grad((q_out, k_out), (q, k), (g_q, g_k)), (g_q, g_k)):
        result = tolerance.compare(grad, g, POSITIONS, config, expected=oracle.rope_inverse(g, POSITIONS, config))
        assert result.ok, result.describe()


def test_importing_the_adapters_does_not_import_transformers():
    code = "import ropecheck.adapters.hf, sys; print('transformers' in sys.modules)"
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "False"


@pytest.mark.parametrize("name, callable_, partial", [("hf-llama-qk", "llama_qk", False),
                                                      ("hf-gpt-neox-qk", "gpt_neox_qk", True)])
def test_the_specs_claim_what_the_tests_show(name, callable_, partial):
    spec = tomllib.loads((ROOT / "specs" / f"{name}.toml").read_text())
    assert spec["callable"] == f"ropecheck.adapters.hf:{callable_}" and spec["signature"] == "qk"
    assert spec.get("partial_rotary", False) is partial and not spec.get("inplace", False)
    assert spec["dtypes"] == ["float64", "float32", "bfloat16", "float16"]
