"""HF transformers' scaled RoPE (linear, dynamic, yarn, llama3, longrope) and Qwen2-VL's
M-RoPE against the oracle.

Fixed cases per rope_type, one finding pinned (HF's dynamic NTK divides by rotary_dim - 2,
so head_dim 2 cannot be built), and the property suite: for ``hf-llama-scaled`` every
failure must be that finding, and with it filtered out of the drawn cases every property
holds; ``hf-qwen2-vl-mrope`` conforms.
"""

from pathlib import Path

import pytest
import torch
from hypothesis import given, settings

pytest.importorskip("transformers")

from ropecheck import RopeConfig, engine, properties, tolerance  # noqa: E402
from ropecheck.adapters import hf, qwen2_vl  # noqa: E402
from ropecheck.spec import load_spec  # noqa: E402
from harness import assert_conforms  # noqa: E402

SPECS = Path(__file__).resolve().parents[2] / "specs"
POSITIONS = torch.tensor([[0, 1, 2, 3, 4], [7, 3, 100, 5000, 131071]])
SCALINGS = [
    {"rope_type": "linear", "factor": 4.0},
    {"rope_type": "dynamic", "factor": 4.0, "original_max_position_embeddings": 2048},
    {"rope_type": "yarn", "factor": 16.0, "original_max_position_embeddings": 4096},
    {"rope_type": "yarn", "factor": 40.0, "original_max_position_embeddings": 4096, "beta_fast": 32.0,
     "beta_slow": 1.0, "mscale": 1.0, "mscale_all_dim": 0.707, "truncate": False},
    {"rope_type": "llama3", "factor": 8.0, "low_freq_factor": 1.0, "high_freq_factor": 4.0,
     "original_max_position_embeddings": 8192},
    {"rope_type": "longrope", "original_max_position_embeddings": 4096, "factor": 32.0,
     "short_factor": [1.0 + i / 32 for i in range(32)], "long_factor": [1.0 + i for i in range(32)]},
]


@pytest.mark.parametrize("scaling", SCALINGS, ids=[s["rope_type"] for s in SCALINGS])
@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16])
def test_llama_scaled_agrees_with_the_oracle(scaling, dtype):
    config = RopeConfig(base=500000.0, rotary_dim=64, head_dim=64, scaling=scaling)
    x = torch.randn(2, 5, 3, 64, generator=torch.Generator().manual_seed(0)).to(dtype)
    y = hf.llama_scaled(x, POSITIONS, config)
    result = tolerance.compare(y, x, POSITIONS, config)
    assert result.ok, f"HF {scaling['rope_type']} disagrees with the oracle: {result.describe()}"


def test_dynamic_ntk_with_rotary_dim_2_is_hfs_division_by_zero():
    """The finding: HF's ``base * (...) ** (dim / (dim - 2))`` at dim 2 (the oracle's answer
    there is the unscaled rotation: the only frequency is base'**0 = 1)."""
    config = RopeConfig(rotary_dim=2, head_dim=2, scaling=SCALINGS[1])
    with pytest.raises(ZeroDivisionError):
        hf.llama_scaled(torch.ones(1, 1, 1, 2), torch.zeros(1, 1, dtype=torch.int64), config)


def _the_finding(p) -> bool:
    return (p.message.startswith("raised ZeroDivisionError") and "modeling_rope_utils.py" in p.message
            and "rotary_dim=2 " in p.counterexample and "'dynamic'" in p.counterexample)


def test_hf_llama_scaled_fails_only_with_the_rotary_dim_2_finding():
    result = engine.verify(load_spec(SPECS / "hf-llama-scaled.toml"), "hf-llama-scaled", profile="ci", isolate=False)
    for p in result.properties:
        assert p.status in ("passed", "skipped") or _the_finding(p), (p.name, p.status, p.message, p.counterexample)


@pytest.mark.parametrize("name", ["oracle_agreement", "relative_position", "chunked_equals_whole", "gradients"])
def test_hf_llama_scaled_holds_every_property_apart_from_the_finding(name):
    spec = load_spec(SPECS / "hf-llama-scaled.toml")
    subject = properties.Subject(hf.llama_scaled, spec, "cpu")
    prop = properties.BY_NAME[name]
    not_the_finding = prop.strategy(spec).filter(lambda c: not (c.config.rope_type == "dynamic" and c.config.rotary_dim == 2))

    @settings(max_examples=25, deadline=None, database=None, derandomize=True)
    @given(not_the_finding)
    def holds(case):
        prop.check(subject, case)

    holds()


def test_qwen2_vl_mrope_agrees_with_the_oracle():
    config = RopeConfig(base=1000000.0, rotary_dim=128, head_dim=128, scaling={"mrope_section": [16, 24, 24]})
    x = torch.randn(2, 5, 2, 128, generator=torch.Generator().manual_seed(1))
    t = POSITIONS
    positions = torch.stack([t, t // 7, t % 13], dim=-1)  # (batch, seq, 3): distinct t, h, w
    result = tolerance.compare(qwen2_vl.mrope(x, positions, config), x, positions, config)
    assert result.ok, result.describe()


@pytest.mark.slow  # tox -e conformance verifies specs/hf-qwen2-vl-mrope.toml itself
def test_qwen2_vl_mrope_conforms():
    result = engine.verify(load_spec(SPECS / "hf-qwen2-vl-mrope.toml"), "hf-qwen2-vl-mrope", profile="ci", isolate=False)
    assert_conforms(result, "specs/hf-qwen2-vl-mrope.toml")
