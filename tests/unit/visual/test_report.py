"""``ropecheck report``: the page, its figures, the precision horizon, the decay bound."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("matplotlib", reason="the report needs matplotlib (ropecheck[plots])")

from ropecheck import cli  # noqa: E402
from ropecheck.variants import VARIANTS  # noqa: E402
from ropecheck.visual import build, data  # noqa: E402

from harness import ROOT as REPO
from harness import built_once
RESULTS = REPO / "results"
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def _build_report(folder: Path) -> None:
    code = cli.main(["report", "--out", str(folder / "report"), "--results", str(RESULTS), "--specs", str(REPO / "specs")])
    assert code == 0


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    """The page of the committed results, built once for the run (the tests only read it)."""
    return built_once(tmp_path_factory, "report", _build_report) / "report"


def _is_png(path: Path) -> bool:
    return path.is_file() and path.stat().st_size > len(PNG_MAGIC) and path.read_bytes()[:8] == PNG_MAGIC


@pytest.mark.slow
def test_every_image_of_both_pages_is_a_png(report):
    page = (report / "index.html").read_text(encoding="utf-8")
    md = (report / "report.md").read_text(encoding="utf-8")
    html_imgs = re.findall(r'<img src="([^"]+)"', page)
    md_imgs = re.findall(r"!\[[^\]]*\]\(([^)]+)\)", md)
    assert len(html_imgs) >= 9 and sorted(html_imgs) == sorted(md_imgs)
    for src in html_imgs:
        assert not re.match(r"[a-z]+://", src) and _is_png(report / src), src
    assert "http://" not in page and "https://" not in page  # nothing fetched from a network
    assert not any(p.name.startswith(".report.") for p in report.parent.iterdir())  # temp folder moved away


@pytest.mark.slow
def test_conformance_matrix_lists_the_implementations(report):
    page = (report / "index.html").read_text(encoding="utf-8")
    import pandas as pd

    names = set(pd.read_csv(RESULTS / "conformance.csv")["implementation"])
    for name in names:
        assert f"<td>{name}</td>" in page, name
    assert 'class="FAILED"' in page and "counterexample:" in page
    assert "<script>" not in page.split("<body>")[1].split("<script>")[0]  # table text is escaped


@pytest.mark.slow
def test_horizon_table_has_every_variant_and_dtype(report):
    page = (report / "index.html").read_text(encoding="utf-8")
    for name in VARIANTS:
        for dtype in data.PRECISION_DTYPES:
            assert re.search(rf"<tr><td>{re.escape(name)}</td><td>{dtype}</td><td>[^<]+</td>", page), (name, dtype)


@pytest.mark.slow
def test_the_page_leads_with_a_summary_and_folds_each_failure_group(report):
    import pandas as pd

    page = (report / "index.html").read_text(encoding="utf-8")
    table = pd.read_csv(RESULTS / "conformance.csv", keep_default_na=False)
    sections = re.findall(r'<section id="([^"]+)">', page)
    assert sections[:3] == ["summary", "conformance", "failures"]
    summary = page.split('<section id="summary">')[1].split("</section>")[0]
    verdicts = data.verdicts(table)
    assert f"{sum(v.conforms for v in verdicts)} of {len(verdicts)} implementations" in summary
    for v in verdicts:
        if not v.conforms:  # one line each, naming the cause
            assert re.search(rf"<li[^>]*>✗ {re.escape(v.implementation)} \({re.escape(v.version)}\): [^<]+</li>", summary)
    failures = page.split('<section id="failures">')[1].split("</section>")[0]
    groups = data.failure_groups(table)
    assert 0 < len(groups) < len(data.conformance_failures(table))  # grouped, not one block per row
    assert failures.count("<details><summary>") == len(groups)
    assert "<details" not in summary
    grid = page.split('<section id="conformance">')[1].split("</section>")[0]
    for prop in set(table["property"]):  # every property has its column, spelled out in its title and the legend
        assert f'<th title="{prop}">{data.abbreviation(prop)}</th>' in grid and f"= {prop}" in grid


@pytest.mark.slow
def test_every_implementation_of_the_table_is_measured_or_says_why_not(report):
    import pandas as pd

    page = (report / "index.html").read_text(encoding="utf-8")
    precision = page.split('<section id="precision">')[1].split("</section>")[0]
    names = data.table_implementations(pd.read_csv(RESULTS / "conformance.csv", keep_default_na=False))
    assert names
    for name in names:
        measured = re.search(rf"<tr><td>{re.escape(name)}</td><td>(float64|float32|bfloat16|float16)</td>", precision)
        assert measured or f"<li>{name}: " in precision, name
    assert '<img src="figures/precision_table.png"' in precision or "<li>" in precision


def test_horizons_measured_live():
    """Every built-in stays within tolerance to 2**24 in every dtype (their angles are float32);
    angles formed in bfloat16 fall out early, float32 angles do not."""
    table = data.horizon_table(data.precision_sweep(positions=[0, 1, 16, 256, 4096, 2 ** 16, 2 ** 24]))
    assert len(table) == (len(VARIANTS) + 1) * len(data.PRECISION_DTYPES)
    builtin = table[table["implementation"].isin(list(VARIANTS))]
    assert builtin["complete"].all() and (builtin["horizon"] == 2 ** 24).all()
    illus = table[table["implementation"] == data.ILLUSTRATION].set_index("dtype")
    assert illus.loc["bfloat16", "horizon"] < illus.loc["float32", "horizon"]
    assert not illus.loc["bfloat16", "complete"] and illus.loc["float32", "complete"]


def test_horizon_on_synthetic_ratios():
    pos = [0, 1, 2, 4, 8, 16]
    assert data.horizon(pos, [0.1, 0.2, 0.5, 0.9, 1.5, 0.3]) == data.Horizon(4, False)
    assert data.horizon(pos, [0.1] * 6) == data.Horizon(16, True)
    assert data.horizon(pos, [0.1, 1.0, float("nan"), 0.1, 0.1, 0.1]) == data.Horizon(1, False)  # NaN fails
    assert data.horizon(pos, [2.0] * 6).position == -1
    assert data.Horizon(2 ** 24, True).describe() == "≥ 2**24"


@pytest.mark.parametrize("head_dim,base", [(64, 10000.0), (128, 10000.0), (256, 500000.0)])
def test_decay_bound_starts_at_one_and_decays(head_dim, base):
    r = np.arange(0, 5001)
    bound = data.decay_bound(r, head_dim, base)
    assert bound[0] == pytest.approx(1.0, abs=1e-12)
    assert np.all(bound <= 1.0 + 1e-12)
    assert bound[4000:5000].mean() < bound[1:100].mean()


def test_attention_rows_sum_to_one_and_repeated_vectors_are_toeplitz():
    probs = data.attention_example()
    assert probs.shape == (4, len(data.SENTENCE), len(data.SENTENCE))
    np.testing.assert_allclose(probs.sum(-1), 1.0, atol=1e-12)
    s = data.repeated_vector_scores(n=12)
    for offset in range(-11, 12):
        diag = np.diagonal(s, offset)
        np.testing.assert_allclose(diag, diag[0], atol=1e-9)


def test_missing_tables_are_said_plainly(tmp_path):
    conf = build.conformance_section(tmp_path, data.read_table(tmp_path, data.CONFORMANCE))
    bench = build.bench_section(tmp_path, tmp_path / "figures")
    texts = [b.text for b in conf.blocks + bench.blocks]
    assert any("no " in t and "conformance.csv table here" in t for t in texts)
    hint = next(t for t in texts if "conformance.csv table here" in t)  # names the commands that write it
    assert f"--conformance {tmp_path / 'conformance.csv'}" in hint and "ropecheck conformance-table" in hint
    assert any("cuda/bench.csv table here" in t for t in texts) and any("cpu/bench_quick.csv table here" in t for t in texts)


def test_out_naming_an_existing_file_is_a_usage_error(tmp_path, capsys):
    target = tmp_path / "taken"
    target.write_text("x")
    assert cli.main(["report", "--out", str(target)]) == 2
    assert "--out" in capsys.readouterr().err
    assert target.read_text() == "x"


def test_importing_ropecheck_does_not_import_matplotlib():
    import sys

    code = ("import sys, ropecheck, ropecheck.cli, ropecheck.visual, ropecheck.visual.data, ropecheck.visual.page; "
            "sys.exit('matplotlib' in sys.modules)")
    assert subprocess.run([sys.executable, "-c", code], timeout=60).returncode == 0


CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking"]


def _images_loaded(page: Path, profile: Path) -> tuple[int, int]:
    """(images that loaded in headless Chromium, <img> tags in the page); skips without Chromium."""
    browser = shutil.which("chromium") or shutil.which("chromium-browser")
    if browser is None:
        pytest.skip("no chromium or chromium-browser on PATH (Debian: apt-get install chromium)")
    n_img = len(re.findall(r"<img ", page.read_text(encoding="utf-8")))
    done = subprocess.run(
        [browser, *CHROMIUM_FLAGS, f"--user-data-dir={profile}", "--dump-dom",
         "--virtual-time-budget=5000", page.as_uri()],
        capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr[-2000:]
    found = re.search(r'data-images-ok="(\d+)"', done.stdout)
    assert found, "the page's image-count script did not run: " + done.stdout[:500]
    return int(found.group(1)), n_img


@pytest.mark.slow
def test_every_image_loads_in_headless_chromium(report, tmp_path):
    loaded, n_img = _images_loaded(report / "index.html", tmp_path / "profile")
    assert n_img >= 9 and loaded == n_img, f"{loaded} of {n_img} images loaded"


@pytest.mark.slow
def test_the_chromium_check_sees_a_missing_image(report, tmp_path):
    broken = tmp_path / "broken"
    shutil.copytree(report, broken)
    (broken / "figures" / "decay.png").unlink()
    loaded, n_img = _images_loaded(broken / "index.html", tmp_path / "profile")
    assert loaded == n_img - 1, f"{loaded} of {n_img} images loaded with one deleted"


@pytest.mark.slow
def test_the_page_fits_1400_px_in_headless_chromium(report, tmp_path):
    """No sideways scrolling at 1,400 px: neither the page nor any table scrolls."""
    browser = shutil.which("chromium") or shutil.which("chromium-browser")
    if browser is None:
        pytest.skip("no chromium or chromium-browser on PATH (Debian: apt-get install chromium)")
    done = subprocess.run(
        [browser, *CHROMIUM_FLAGS, f"--user-data-dir={tmp_path / 'profile'}", "--dump-dom", "--window-size=1400,2000",
         "--virtual-time-budget=5000", (report / "index.html").as_uri()],
        capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr[-2000:]
    width = re.search(r'data-scroll-width="(\d+)"', done.stdout)
    tables = re.search(r'data-scrolling-tables="(\d+)"', done.stdout)
    assert width and tables, "the page's measuring script did not run: " + done.stdout[:500]
    assert int(width.group(1)) <= 1400 and int(tables.group(1)) == 0, (width.group(1), tables.group(1))
