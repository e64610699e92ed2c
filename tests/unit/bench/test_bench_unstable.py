"""Benchmarks that refuse noise (issue 15, point 6): the copy yardstick is timed
interleaved with each implementation, round by round; rows whose spread or roofline
fraction is impossible are marked unstable, and ``compare`` does not judge them; plots
carry q1..q3 error bars for every swept shape. Structure only: nothing here asserts a
duration or a speed."""

import numpy as np
import pytest

from ropecheck import cli
from ropecheck.bench import child, stats, sweep, table, timing
from ropecheck.bench.workload import pairs

SHAPE = dict(device="cpu", dtype="float32", kind="prefill", batch=1, seq=128, heads=8, kv_heads=8, head_dim=64,
             tokens=128, pass_="fwd", bytes=sweep.Shape("prefill", 1, 128, 8, 8, 64).bytes_moved("float32"))


def test_interleaved_times_every_call_once_per_round_in_order():
    calls, order = [], []
    fns = [(label, lambda label=label: calls.append(label)) for label in ("copy", "a", "b")]
    fake = iter(range(1, 1000))
    samples = timing.interleaved(fns, rounds=4, clock=lambda fn: (fn(), next(fake))[1], warmup=1, log=order)
    assert order == [(r, label) for r in range(4) for label in ("copy", "a", "b")]
    assert calls == ["copy", "a", "b"] * 5, "one warm-up round, then the rounds, interleaved"
    assert samples == {"copy": [1, 4, 7, 10], "a": [2, 5, 8, 11], "b": [3, 6, 9, 12]}


def test_the_child_times_copy_and_implementation_alternately_per_round():
    job = {"device": "cpu", "quick": True, "passes": ["fwd"], "dtypes": ["float32"], "rounds": 3,
           "targets": ["half-split"]}
    copy, work = [p for p in pairs(job, "cpu") if p[1].shape.kind == "decode"][0]
    assert copy.implementation == "copy" and (copy.shape, copy.dtype, copy.backward) == (work.shape, work.dtype, False)
    samples, order, timers, calls = child.time_pair(copy, work, job)
    assert order == [(r, label) for r in range(3) for label in ("copy", "impl")]
    assert len(samples["copy"]) == len(samples["impl"]) == 3 and min(calls.values()) >= 1
    assert timers == {"copy": "perf_counter", "impl": "perf_counter"}


def rows(name: str, samples: list[float], copy: list[float], **shape) -> list[dict]:
    """The two rows one child writes for a workload: the copy's and the implementation's."""
    info = {**SHAPE, **shape}
    return [{**info, "implementation": "copy", "samples_s": copy, "timer": "perf_counter"},
            {**info, "implementation": name, "samples_s": samples, "timer": "perf_counter", "copy_samples_s": copy,
             "copy_timer": "perf_counter"}]


def planted() -> list[dict]:
    copy = [1e-4, 1.02e-4, 0.99e-4, 1.01e-4, 1e-4, 1.03e-4]
    return (rows("steady", [2e-3, 2.02e-3, 1.98e-3, 2.01e-3, 2e-3, 2.03e-3], copy)
            + rows("too-fast", [3.5e-7, 3.6e-7, 3.4e-7, 3.5e-7, 3.5e-7, 3.6e-7], copy)  # 285x faster than a copy
            + rows("wild", [1e-3, 9e-3, 1e-3, 8e-3, 2e-3, 9e-3], copy))  # IQR far above the median


def test_the_table_marks_impossible_rows_unstable_with_the_reason():
    df = table.build(planted(), "cpu").set_index("implementation")
    assert {"unstable", "why_unstable", "copy_samples_s"} <= set(df.columns)
    assert not df.loc["steady", "unstable"] and df.loc["steady", "why_unstable"] == ""
    assert df.loc["too-fast", "unstable"] and "faster than a copy of the same bytes" in df.loc["too-fast", "why_unstable"]
    assert df.loc["too-fast", "roofline_fraction"] > stats.MAX_ROOFLINE_FRACTION
    assert df.loc["wild", "unstable"] and "IQR" in df.loc["wild", "why_unstable"]
    assert df.loc["copy", "rounds"] == 18, "the copy row pools the copy samples of every child"


def test_a_copy_that_gets_faster_with_more_bytes_is_unstable():
    small = rows("impl", [2e-3] * 5, [1e-3, 1.01e-3, 0.99e-3, 1e-3, 1e-3])
    large = rows("impl", [8e-3] * 5, [1e-5, 1.01e-5, 0.99e-5, 1e-5, 1e-5], seq=512, tokens=512,
                 bytes=sweep.Shape("prefill", 1, 512, 8, 8, 64).bytes_moved("float32"))
    df = table.build(small + large, "cpu")
    assert df["unstable"].all(), df[["implementation", "seq", "why_unstable"]]
    assert df["why_unstable"].str.contains("copy not monotone in size").all()
    fine = rows("impl", [8e-3] * 5, [4e-3, 4.01e-3, 3.99e-3, 4e-3, 4e-3], seq=512, tokens=512,
                bytes=sweep.Shape("prefill", 1, 512, 8, 8, 64).bytes_moved("float32"))
    assert not table.build(small + fine, "cpu")["unstable"].any()


def test_compare_does_not_judge_unstable_rows_nor_count_them(tmp_path, capsys):
    base = table.build(planted(), "cpu")
    slow = [dict(r, samples_s=[2 * t for t in r["samples_s"]]) if r["implementation"] != "copy" else r
            for r in planted()]  # every implementation twice as slow
    new = table.build(slow, "cpu")
    deltas = stats.compare(base, new).set_index("implementation")
    assert deltas.loc["too-fast", "verdict"] == "unstable, not judged" and not deltas.loc["too-fast", "regression"]
    assert deltas.loc["wild", "verdict"] == "unstable, not judged" and np.isnan(deltas.loc["wild", "p_value"])
    assert deltas.loc["steady", "verdict"] == "slower" and deltas.loc["steady", "regression"]
    base.to_csv(tmp_path / "base.csv", index=False)
    new.to_csv(tmp_path / "new.csv", index=False)
    assert cli.main(["compare", str(tmp_path / "base.csv"), str(tmp_path / "new.csv")]) == 1
    out, err = capsys.readouterr()
    assert out.count("unstable, not judged") == 2, out
    assert "1 significant slowdown(s)" in out and "in 1 judged rows; 2 unstable row(s) not judged (of 3)" in out
    assert "compare: 2 row(s) unstable, not judged" in err


def test_compare_marks_rows_of_an_older_table_without_the_column(tmp_path):
    old = table.build(planted(), "cpu").drop(columns=["unstable", "why_unstable", "copy_samples_s"])
    deltas = stats.compare(old, old).set_index("implementation")
    assert deltas.loc["too-fast", "verdict"] == "unstable, not judged"
    assert deltas.loc["steady", "verdict"] == "not slower"


def test_bench_warns_about_unstable_rows(capsys):
    from ropecheck.commands import bench
    from ropecheck.render.text import printable

    bench._warn_unstable(table.build(planted(), "cpu"), printable)
    err = capsys.readouterr().err
    assert "bench: unstable: too-fast float32 prefill b1s128h8kv8d64 fwd: roofline_fraction" in err
    assert "bench: 2 of 4 rows unstable" in err


def test_plots_have_q1_q3_error_bars_for_every_swept_shape(tmp_path, monkeypatch):
    pytest.importorskip("matplotlib")
    import matplotlib.axes

    from ropecheck.bench import plot

    decode = dict(kind="decode", batch=16, seq=1, heads=32, kv_heads=8, head_dim=128, tokens=16,
                  bytes=sweep.Shape("decode", 16, 1, 32, 8, 128).bytes_moved("float32"))
    gqa = dict(seq=512, tokens=512, kv_heads=2, bytes=sweep.Shape("prefill", 1, 512, 8, 2, 64).bytes_moved("float32"))
    spread = [1e-3, 1.2e-3, 1.1e-3, 0.9e-3, 1.3e-3]
    frame = table.build(rows("impl", spread, spread) + rows("impl", spread, spread, **decode)
                        + rows("impl", spread, spread, **gqa), "cpu")
    drawn = []
    original = matplotlib.axes.Axes.errorbar

    def record(self, x, y, yerr=None, **kw):
        drawn.append((kw.get("label"), list(x), list(y), np.asarray(yerr)))
        return original(self, x, y, yerr=yerr, **kw)

    monkeypatch.setattr(matplotlib.axes.Axes, "errorbar", record)
    paths = plot.throughput_plots(frame, tmp_path)
    assert [p.name for p in paths] == ["throughput_cpu_float32_fwd.png"] and paths[0].exists()
    by_label = {label: (x, y, yerr) for label, x, y, yerr in drawn}
    assert set(by_label) == {"copy (roofline)", "impl"}
    x, y, yerr = by_label["impl"]
    assert sorted(x) == sorted(frame.loc[frame.implementation == "impl", "bytes"]), "every swept shape, decode and GQA too"
    rowsof = frame[frame.implementation == "impl"].sort_values("bytes")
    assert yerr.shape == (2, 3) and (yerr > 0).all()
    assert np.allclose(np.asarray(y) - yerr[0], rowsof["bytes"] / rowsof["q3_s"] / 1e9)
    assert np.allclose(np.asarray(y) + yerr[1], rowsof["bytes"] / rowsof["q1_s"] / 1e9)
