"""The report's inputs: a conformance table of the user's implementations (summary, grid,
failure groups) and their precision horizon, measured live in a checking process."""

from __future__ import annotations

import os
import re

import pandas as pd

from ropecheck.conformance_table import COLUMNS
from ropecheck.visual import build, data, page

USER_MODULE = '''
import os
import torch


def rope(x, positions, config):
    """half-split RoPE with its angles formed in x's dtype (a user's slip)."""
    with open(os.environ["MINE_PID_FILE"], "a") as f:
        f.write(f"{os.getpid()}\\n")
    d = config.rotary_dim
    inv = 1.0 / (config.base ** (torch.arange(0, d, 2, dtype=torch.float64) / d))
    theta = positions.to(x.dtype)[..., None] * inv.to(x.dtype)
    emb = torch.cat((theta, theta), dim=-1)[:, :, None, :]
    half = d // 2
    rot = torch.cat((-x[..., half:d], x[..., :half]), dim=-1)
    return x * torch.cos(emb) + rot * torch.sin(emb)
'''


def _spec(folder, name, callable_ref, dtypes=("float32", "bfloat16")):
    (folder / f"{name}.toml").write_text(
        f'name = "{name}"\ncallable = "{callable_ref}"\npairing = "half_split"\nbase = "any"\n'
        f'dtypes = {list(dtypes)!r}\ndevices = ["cpu"]\n'.replace("'", '"'))


def test_a_users_implementation_is_measured_live_in_a_checking_process(tmp_path, monkeypatch):
    (tmp_path / "mine.py").write_text(USER_MODULE)
    _spec(tmp_path, "mine", "mine:rope")
    _spec(tmp_path, "broken", "no_such_module_q:rope")
    pids = tmp_path / "pids"
    monkeypatch.setenv("MINE_PID_FILE", str(pids))
    measured = data.implementation_sweeps(["mine", "broken", "nowhere"], specs=tmp_path,
                                          positions=[0, 1, 16, 256, 4096, 65536])
    assert {int(p) for p in pids.read_text().split()} - {os.getpid()}  # called, never in this process
    assert str(os.getpid()) not in pids.read_text().split()
    h = data.horizon_table(measured.sweep).set_index("dtype")
    assert set(h.index) == {"float32", "bfloat16"} and set(h["implementation"]) == {"mine"}
    assert not h.loc["bfloat16", "complete"] and h.loc["bfloat16", "horizon"] < 4096
    assert h.loc["float32", "complete"] and h.loc["float32", "horizon"] == 65536
    assert "no_such_module_q" in measured.notes["broken"] and "nowhere" in measured.notes


def _table(rows) -> pd.DataFrame:
    base = dict.fromkeys(COLUMNS, "")
    return pd.DataFrame([{**base, **r} for r in rows], columns=COLUMNS)


def test_summary_grid_and_failure_groups_of_a_users_table(tmp_path):
    rows = []
    for dtype in ("float32", "bfloat16"):
        for prop in ("oracle_agreement", "determinism", "gradients"):
            rows.append(dict(implementation="good", version="good==1", device="cpu", dtype=dtype, property=prop,
                             status="skipped" if prop == "gradients" and dtype == "bfloat16" else "passed"))
            rows.append(dict(implementation="bad", version="bad==2", device="cpu", dtype=dtype, property=prop,
                             status="failed", counterexample="RopeCase(...)",
                             message=("raised ValueError: nope (at /a/long/path/bad.py:7)" if prop != "oracle_agreement"
                                      else f"disagrees with the oracle: the output matches something in {dtype}")))
    rows.append(dict(implementation="bad", version="bad==2", device="cpu", dtype="all", property="nan_locality",
                     status="passed"))
    (tmp_path / "conformance.csv").write_text(_table(rows).to_csv(index=False))
    table = data.read_table(tmp_path, data.CONFORMANCE)

    props, header, grid = data.conformance_grid(table)
    assert header == ["implementation", "version", "device", "dtypes"] + [data.abbreviation(p) for p in props]
    bad = next(r for r in grid if r[0] == "bad")
    assert bad[3] == "f32\u00a0bf16\u00a0all" and bad[4 + props.index("nan_locality")].text == "passed"
    assert bad[4 + props.index("oracle_agreement")].status == "FAILED"
    assert "bfloat16: FAILED" in bad[4 + props.index("oracle_agreement")].title
    good = next(r for r in grid if r[0] == "good")
    assert good[4 + props.index("gradients")].text == "passed" and good[4 + props.index("nan_locality")].text == "–"

    groups = data.failure_groups(table)
    assert [(g.cause, g.rows) for g in groups] == [
        ("raised ValueError: nope (at /a/long/path/bad.py:7)", 4), ("disagrees with the oracle", 2)]
    assert len(groups[1].messages) == 2  # one group, both dtypes' explanations kept

    horizons = data.horizon_table(pd.DataFrame(
        [("good", "float32", p, 0.1, 0.0) for p in (0, 1, 2)] + [("bad", "bfloat16", p, r, 0.0)
                                                               for p, r in ((0, 0.1), (1, 0.5), (2, 3.0))],
        columns=["implementation", "dtype", "position", "worst_ratio", "worst_error"]))
    sections = [build.summary_section(tmp_path, table, horizons, data.Measured(pd.DataFrame(), {"gone": "why"})),
                build.conformance_section(tmp_path, table), build.failures_section(tmp_path, table)]
    html = page.to_html("t", "i", sections)
    summary = html.split('<section id="summary">')[1].split("</section>")[0]
    assert "1 of 2 implementations" in summary
    assert '<li class="fails">✗ bad (bad==2): raised ValueError: nope (at bad.py:7) — 2 properties' in summary
    assert "and 1 other cause" in summary and "✓ conform: good (good==1)" in summary
    assert "✗ bad bfloat16: horizon 1" in summary and "Not measured: gone" in summary
    failures = html.split('<section id="failures">')[1].split("</section>")[0]
    assert failures.count("<details><summary>") == 2 and failures.count("counterexample:") == 3  # one per distinct message
    assert re.search(r"<details><summary>bad \(bad==2\): disagrees with the oracle — 2 row\(s\)", failures)
    md = page.to_markdown("t", "i", sections)
    assert md.count("<details><summary>") == 2 and re.search(r"\| orac \|", md)


def test_the_report_without_a_table_says_which_commands_make_one(tmp_path):
    sec = build.summary_section(tmp_path, None, None, None)
    assert "ropecheck verify TARGET --conformance" in sec.blocks[0].text


def _oracle(x, positions, config):
    from ropecheck import oracle

    return oracle.rope(x.double(), positions, config).to(x.dtype)


def _qk(q, k, positions, config):
    return _oracle(q, positions, config), _oracle(k, positions, config)


def _packed(x, positions, config, cu_seqlens):
    return _oracle(x[None], positions[None], config)[0]


def test_the_sweep_calls_each_form_and_stops_below_max_position():
    from ropecheck import precision
    from ropecheck.spec import spec_from_mapping

    base = {"callable": "m:f", "pairing": "half_split", "base": "any", "dtypes": ["float32"], "devices": ["cpu"],
            "max_position": 300}
    for name, fn, extra in (("qk", _qk, {"signature": "qk"}), ("packed", _packed, {"packed": True})):
        spec = spec_from_mapping({**base, "name": name, **extra}, origin="test")
        rows = precision.spec_sweep(fn, spec, positions=[0, 1, 256, 299, 300, 4096])
        assert [r["position"] for r in rows] == [0, 1, 256, 299], name
        assert all(r["worst_ratio"] <= 1 for r in rows) and not any(r["message"] for r in rows), name
    broken = spec_from_mapping({**base, "name": "b"}, origin="test")
    rows = precision.spec_sweep(lambda x, p, c: x[..., :2], broken, positions=[0, 1])
    assert rows == [dict(dtype="float32", position=None, worst_ratio=None, worst_error=None,
                         message=rows[0]["message"])] and "shape" in rows[0]["message"]
