"""The regression test: large and significant slowdowns only; machine drift is not one."""

import numpy as np
import pandas as pd
import pytest

from ropecheck.bench import stats


def table(medians: dict[str, float], copy: float = 1e-3, n: int = 30, seed: int = 0, noise: float = 0.08) -> pd.DataFrame:
    """A bench table with lognormal noise around the given medians."""
    rng = np.random.default_rng(seed)
    rows = []
    for name, median in {**medians, "copy": copy}.items():
        samples = median * rng.lognormal(0.0, noise, n)
        rows.append(dict(implementation=name, device="cpu", dtype="float32", kind="prefill", batch=1, seq=512,
                         heads=8, kv_heads=8, head_dim=128, **{"pass": "fwd"}, median_s=float(np.median(samples)),
                         samples_s=" ".join(map(str, samples))))
    df = pd.DataFrame(rows)
    df["copy_median_s"] = float(df.loc[df.implementation == "copy", "median_s"].iloc[0])
    return df


def test_identical_code_reruns_are_not_flagged():
    impls = {f"impl{i}": 2e-3 * (1 + i / 10) for i in range(20)}
    flagged = 0
    for seed in range(10):
        deltas = stats.compare(table(impls, seed=seed), table(impls, seed=100 + seed))
        flagged += int(deltas["regression"].sum())
    assert flagged == 0, f"{flagged} false alarms in 10 reruns of 20 identical rows"


def test_a_uniformly_slower_machine_is_not_a_regression():
    impls = {"a": 2e-3, "b": 3e-3}
    slow_machine = table({k: v * 1.3 for k, v in impls.items()}, copy=1.3e-3, seed=7)
    deltas = stats.compare(table(impls), slow_machine)
    assert not deltas["regression"].any(), deltas
    assert (deltas["raw_ratio"] > 1.2).all(), "the raw times did get slower"


@pytest.mark.parametrize("factor", [1.5, 2.0])
def test_a_real_slowdown_is_flagged(factor):
    deltas = stats.compare(table({"a": 2e-3, "b": 3e-3}), table({"a": 2e-3, "b": 3e-3 * factor}, seed=3))
    flagged = deltas.set_index("implementation")["regression"]
    assert flagged["b"] and not flagged["a"], deltas


def test_a_small_slowdown_below_the_minimum_effect_is_not_flagged():
    deltas = stats.compare(table({"a": 2e-3}, noise=0.01, n=200), table({"a": 2e-3 * 1.03}, noise=0.01, n=200, seed=5))
    assert deltas["p_value"].iloc[0] < 1e-6, "3% is detectable with this little noise"
    assert not deltas["regression"].iloc[0], "but it is below the 5% minimum effect"


def test_holm_is_monotone_and_capped():
    adjusted = stats.holm(np.array([0.01, 0.04, 0.03, 0.5]))
    assert list(adjusted) == pytest.approx([0.04, 0.09, 0.09, 0.5])
    assert stats.holm(np.array([0.6, 0.9])).max() <= 1.0


def test_summary():
    s = stats.summary([1.0, 2.0, 3.0, 4.0, 100.0])
    assert s["median_s"] == 3.0 and s["q1_s"] == 2.0 and s["q3_s"] == 4.0 and s["rounds"] == 5
