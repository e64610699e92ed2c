"""A new rope_type is one new file: the toy type in ``toy/halving.py``, registered through
the package's own discovery, is validated, drawn by the strategies, computed by the oracle
and diagnosed, with no other module edited."""

from __future__ import annotations

from pathlib import Path

import mpmath
import pytest
import torch
from hypothesis import find

from ropecheck import diagnose, oracle, rope_types, scaling, strategies
from ropecheck.config import RopeConfig

TOY = "toy_halving"


@pytest.fixture
def toy():
    names = rope_types.discover(str(Path(__file__).parent / "toy"))
    assert names == [TOY]
    yield rope_types.get(TOY)
    rope_types.forget(names)


def test_the_toy_is_registered_and_validated(toy):
    assert TOY in rope_types.scaling_types()
    RopeConfig(base=10000.0, rotary_dim=8, scaling={"rope_type": TOY, "shrink": 4.0})
    with pytest.raises(ValueError, match="'shrink'"):
        RopeConfig(base=10000.0, rotary_dim=8, scaling={"rope_type": TOY})
    with pytest.raises(ValueError, match="'shrink'"):
        RopeConfig(base=10000.0, rotary_dim=8, scaling={"rope_type": TOY, "shrink": -1.0})
    with pytest.raises(ValueError, match="'factor'"):
        RopeConfig(base=10000.0, rotary_dim=8, scaling={"rope_type": TOY, "shrink": 2.0, "factor": 2.0})


def test_forgotten_toy_is_unknown():
    with pytest.raises(KeyError, match="unknown rope_type"):
        rope_types.get(TOY)
    with pytest.raises(ValueError, match="rope_type"):
        RopeConfig(base=10000.0, rotary_dim=8, scaling={"rope_type": TOY, "shrink": 4.0})


def test_the_strategies_draw_the_toy(toy):
    config = find(strategies.configs(16, scaling=(TOY,), partial=True), lambda c: c.rope_type == TOY)
    assert config.scaling["shrink"] in (2.0, 4.0, 8.0)
    assert find(strategies.scalings(TOY, 8), lambda sc: True)["rope_type"] == TOY


@pytest.mark.parametrize("base, rotary_dim, shrink", [(10000.0, 16, 4.0), (500000.0, 128, 8.0), (10.0, 6, 2.0)])
def test_the_oracle_computes_the_toy(toy, base, rotary_dim, shrink):
    sc = {"rope_type": TOY, "shrink": shrink}
    hi, lo = scaling.turns(base, rotary_dim, sc, 100)
    with mpmath.workdps(60):
        for i in range(rotary_dim // 2):
            theta = mpmath.mpf(base) ** (-mpmath.mpf(2 * i) / rotary_dim)
            expected = (theta / shrink if i % 2 else theta) / (2 * mpmath.pi)
            assert abs(mpmath.mpf(hi[i]) + mpmath.mpf(lo[i]) - expected) <= mpmath.mpf(2) ** -100 * expected
    config = RopeConfig(base=base, rotary_dim=rotary_dim, scaling=sc)
    inv = oracle.inv_freq(config)
    unscaled = oracle.inv_freq(config.replace(scaling=None))
    assert torch.equal(inv[0::2], unscaled[0::2])
    torch.testing.assert_close(inv[1::2], unscaled[1::2] / shrink, rtol=1e-15, atol=0)
    assert scaling.freq_slack_ulps(base, rotary_dim, sc, 100).tolist() == [2.0] * (rotary_dim // 2)
    assert config.attention_factor == 1.0


def test_the_diagnosis_names_the_toy_slip(toy):
    config = RopeConfig(base=10000.0, rotary_dim=16, scaling={"rope_type": TOY, "shrink": 4.0})
    x = torch.randn(1, 64, 2, 16, generator=torch.Generator().manual_seed(0))
    positions = torch.arange(64)[None] * 37
    texts = [h[0] for h in diagnose._scaling_hypotheses(x, positions, config)]
    assert texts == ["the toy_halving scaling is ignored (unscaled frequencies)",
                     "toy_halving: every pair divided by shrink 4 (not only the odd ones)"]
    every_pair = diagnose._with_inv_freq(x, positions, config, oracle.inv_freq(config.replace(scaling=None)) / 4.0)
    explanation = diagnose.explain(every_pair.to(torch.float32), x, positions, config)
    assert "every pair divided by shrink 4" in explanation, explanation
