"""A new rope_type is one new file: the toy type in ``toy/halving.py``, registered through
the package's own discovery, is validated, drawn by the strategies, computed by the oracle,
diagnosed, and proved by ``ropecheck prove`` (its own law, from its own formula), with no
other module edited."""

from __future__ import annotations

import dataclasses
import json
import sys
from pathlib import Path

import mpmath
import pytest
import torch
from hypothesis import find

from ropecheck import cli, diagnose, oracle, proofs, rope_types, scaling, strategies
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


def test_the_toy_proves_its_own_law(toy):
    toy_proofs = proofs.proofs_of([toy])
    assert [p.name for p in toy_proofs] == ["toy_halving_interpolates_odd_pairs"]
    result = proofs.run_proof(toy_proofs[0])
    assert (result.status, result.detail) == ("proved", "")


def test_ropecheck_prove_runs_the_toy_law_after_the_catalogue(toy, tmp_path, capsys):
    assert cli.main(["prove", "--json", str(tmp_path / "proofs.json")]) == 0
    out = capsys.readouterr().out
    assert "toy_halving_interpolates_odd_pairs" in out
    assert f"{len(proofs.PROOFS) + 1} of {len(proofs.PROOFS) + 1} identities proved" in out
    listed = json.loads((tmp_path / "proofs.json").read_text())["proofs"]
    assert [p["name"] for p in listed][-1] == "toy_halving_interpolates_odd_pairs"


def test_a_law_that_does_not_follow_from_the_formula_fails_with_its_residual(toy):
    # the same statement about a formula that divides every pair: the even pairs no longer agree
    halving = _toy_module()
    wrong = dataclasses.replace(halving.LAW, name="toy_wrong", check=lambda kit: _every_pair_law(kit, halving))
    result = proofs.run_proof(proofs.proofs_of([dataclasses.replace(toy, laws=(wrong,))])[0])
    assert result.status == "failed" and "theta0" in result.detail, result


def test_a_law_may_not_take_a_catalogued_name(toy):
    taken = dataclasses.replace(_toy_module().LAW, name=proofs.PROOFS[0].name)
    with pytest.raises(ValueError, match=f"law '{proofs.PROOFS[0].name}' is already a proof"):
        proofs.proofs_of([dataclasses.replace(toy, laws=(taken,))])


def _toy_module():
    return next(m for name, m in sys.modules.items() if name.endswith(".halving") and hasattr(m, "LAW"))


def _every_pair_law(kit, halving):
    """The toy's statement (odd pairs interpolated, even ones not) checked against a formula
    that divides every pair: false for pair 0."""
    shrink = kit.sp.Symbol("shrink", positive=True)
    m, _ = kit.positions()
    thetas = kit.pair_thetas(2)
    every = [theta / shrink for theta in thetas]
    per_pair = kit.sp.diag(*[kit.rotation((m / shrink if i % 2 else m) * t) for i, t in enumerate(thetas)])
    return kit.equal(kit.block_rotation(m, every), per_pair)
