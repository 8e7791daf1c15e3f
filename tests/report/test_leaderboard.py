"""Leaderboard, benchmark figures, brain maps and HTML escaping, checked in headless Chromium."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

pytest.importorskip("matplotlib")

from neuroalign.core import Result, make_table
from neuroalign.report import (
    RawHTML,
    ReportSection,
    html_format,
    leaderboard_table,
    plot_bench_layers,
    plot_benchmark_scatter,
    plot_brain_map,
    save_figure,
    scores_to_nifti,
    write_leaderboard,
    write_report,
)
from tests.browser import console_errors, probe_page

EVIL_MODEL = '<script>document.body.setAttribute("data-pwned","model")</script>'
EVIL_LAYER = "<img src=x onerror=\"document.body.setAttribute('data-pwned','layer')\">"
EVIL_STIM = "<img src=y onerror=\"document.body.setAttribute('data-pwned','stim')\">"


def _bench_result(models=("alpha", "beta", "gamma"), layer_names=("l1", "l2", "l3")):
    """A bench.sweep result with known scores: model k scores 0.1·(k+1) on A, 0.3 − 0.1·k on B."""
    rows = []
    benches = {"Toy2024.A-rsa": (0.5, 0.8), "Toy2024.B-encoding": (np.nan, np.nan)}
    for k, m in enumerate(models):
        for b, (lo, hi) in benches.items():
            base = 0.1 * (k + 1) if b.endswith("rsa") else 0.3 - 0.1 * k
            for i, ly in enumerate(layer_names):
                for split in ("commit", "test", "all"):
                    rows.append(
                        dict(
                            model=m,
                            benchmark=b,
                            layer=ly,
                            split=split,
                            statistic="layer_score",
                            value=base * (i + 1) / 3,
                            ceiling_low=lo,
                            ceiling_high=hi,
                            committed=i == 2,
                            ci_low=base * (i + 1) / 3 - 0.05,
                            ci_high=base * (i + 1) / 3 + 0.05,
                        )
                    )
            common = dict(
                model=m,
                benchmark=b,
                layer=layer_names[-1],
                split="test",
                ceiling_low=lo,
                ceiling_high=hi,
                committed=True,
                cell="c" * 16,
                env="e" * 12,
            )
            rows.append({**common, "statistic": "score", "value": base})
            rows.append(
                {**common, "statistic": "ceiled", "value": base / hi if hi == hi else np.nan}
            )
    table = make_table(rows, analysis="bench")
    cards = {
        b: {
            "id": b,
            "version": "1",
            "metric": b.rsplit("-", 1)[1],
            "citation": "<b>cite</b>",
            "description": EVIL_STIM,
            "licence": EVIL_MODEL,
            "data_source": EVIL_LAYER,
            "data_status": "fetched",
            "n_stimuli": 92,
            "n_subjects": 4,
            "n_stimuli_scored": 90,
            "n_subjects_scored": 4,
            "url": "javascript:alert(document.domain)"
            if b.endswith("rsa")
            else "https://example.org/data?a=1&b=2",
        }
        for b in benches
    }
    arrays = {
        "targets/alpha/Toy2024.B-encoding": np.linspace(-0.5, 0.9, 6),
        "mask/Toy2024.B-encoding": np.ones((3, 2, 1), bool),
        "affine/Toy2024.B-encoding": np.diag([3.0, 3.0, 3.0, 1.0]),
    }
    return Result(
        table, "bench.sweep", arrays, {"benchmarks": cards, "aggregation": "mean of ceiled"}
    )


def _dom(chromium: str, page: Path, script: str = "") -> tuple[str, str]:
    """The DOM after load (and after ``script`` ran), and Chromium's log."""
    with tempfile.TemporaryDirectory() as tmp:
        copy = Path(tmp) / "page.html"
        copy.write_text(
            page.read_text(encoding="utf-8").replace(
                "</body>",
                f"<script>window.addEventListener('load',function(){{{script}}});</script></body>",
            ),
            encoding="utf-8",
        )
        cmd = [
            chromium,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--no-first-run",
            f"--user-data-dir={Path(tmp) / 'profile'}",
            "--enable-logging=stderr",
            "--v=0",
            "--virtual-time-budget=5000",
            "--dump-dom",
            copy.as_uri(),
        ]
        res = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
        shutil.rmtree(Path(tmp) / "profile", ignore_errors=True)
    return res.stdout, res.stderr


# --------------------------------------------------------------------------- leaderboard
def test_leaderboard_table_has_one_row_per_model_and_benchmark():
    board = leaderboard_table(_bench_result())
    assert len(board) == 6
    row = board.set_index(["model", "benchmark"]).loc[("beta", "Toy2024.A-rsa")]
    assert row["raw"] == pytest.approx(0.2) and row["ceiled"] == pytest.approx(0.25)
    assert row["committed_layer"] == "l3" and row["env"] == "e" * 12
    assert np.isnan(
        board.set_index(["model", "benchmark"]).loc[("beta", "Toy2024.B-encoding"), "ceiled"]
    )


def test_leaderboard_writes_csv_and_json(tmp_path):
    page = write_leaderboard(_bench_result(), tmp_path / "lb.html")
    csv = pd.read_csv(tmp_path / "lb.csv")
    records = json.loads((tmp_path / "lb.json").read_text())
    assert len(csv) == len(records) == 6
    text = page.read_text()
    assert 'download="lb.csv"' in text and "mean of ceiled" in text
    assert text.count("<img") == 1 + 2 + 1 + 1  # bars, 2 curves, 1 brain map, 1 scatter


def test_leaderboard_cards_are_linked_escaped_and_complete(tmp_path):
    """One card per benchmark, linked from its column header; every card text escaped; only
    http(s) URLs become links; the scored count is shown next to the declared one."""
    text = write_leaderboard(_bench_result(), tmp_path / "lb.html").read_text()
    cards = re.findall(r'<section class="card" id="([^"]+)"><h3>([^<]+)</h3>', text)
    assert [h for _, h in cards] == ["Toy2024.A-rsa", "Toy2024.B-encoding"]
    for anchor, _ in cards:
        assert f'<a class="card-link" href="#{anchor}">' in text
    body = text.split("<h2>Benchmarks</h2>", 1)[1]
    for label in ("dataset", "data", "stimuli", "subjects", "metric", "ceiling method"):
        assert f"<dt>{label}</dt>" in body
    assert "<dd>90 scored (92 declared)</dd>" in body and "<dd>4</dd>" in body
    assert "&lt;b&gt;cite&lt;/b&gt;" in body and "<script>document" not in body
    assert "<img src=x" not in body and "&lt;img src=x" in body  # data_source escaped
    assert 'href="javascript:' not in text and "javascript:alert(document.domain)" in body
    assert '<a href="https://example.org/data?a=1&amp;b=2" rel="noopener">' in body
    new = _bench_result()
    old_cards = {"Toy2024.A-rsa": {"id": "Toy2024.A-rsa", "metric": "rsa"}}
    old = Result(new.table, new.kind, dict(new.arrays), {**new.params, "benchmarks": old_cards})
    text = write_leaderboard(old, tmp_path / "old.html").read_text()
    assert "No card was recorded with this result." in text  # B has none
    assert "<dd>not recorded</dd>" in text  # A's card predates data cards


@pytest.mark.browser
def test_leaderboard_sorts_renders_and_has_no_console_errors(tmp_path, chromium):
    page = write_leaderboard(_bench_result(), tmp_path / "lb.html")
    probe, log = probe_page(chromium, page)
    assert probe["errors"] == [] and console_errors(log) == []
    assert probe["n_images"] == 5 and probe["broken"] == []
    # click the "average" header twice and the first benchmark once; record the model order
    script = (
        "var t=document.getElementById('leaderboard');var h=t.querySelector('th[data-col=\"2\"]');"
        "function order(){return Array.prototype.map.call(t.tBodies[0].rows,function(r){return r.cells[1].textContent;}).join(',');}"
        "var out=[order()];h.click();out.push(order());h.click();out.push(order());"
        "var f=document.getElementById('filter');f.value='ga';f.dispatchEvent(new Event('input'));"
        "out.push(Array.prototype.filter.call(t.tBodies[0].rows,function(r){return r.style.display!=='none';}).length);"
        "var d=document.createElement('div');d.id='__orders';d.textContent=JSON.stringify(out);document.body.appendChild(d);"
    )
    dom, log = _dom(chromium, page, script)
    orders = json.loads(
        re.search(r'<div id="__orders">(.*?)</div>', dom).group(1).replace("&quot;", '"')
    )
    # averages (only benchmark A has a ceiling): alpha 0.125, beta 0.25, gamma 0.375
    # rows start ranked by the average; the first click sorts high → low, the second low → high
    assert orders[0] == orders[1] == "gamma,beta,alpha" and orders[2] == "alpha,beta,gamma"
    assert orders[3] == 1
    assert console_errors(log) == []


# --------------------------------------------------------------------------- escaping
def _hostile_report(tmp_path: Path) -> Path:
    table = pd.DataFrame({"stimulus": [EVIL_STIM], "layer": [EVIL_LAYER], "value": [0.5]})
    sec = ReportSection(
        EVIL_MODEL,
        [f"model {EVIL_MODEL} layer {EVIL_LAYER}", html_format("best: <b>{}</b>", EVIL_LAYER)],
        tables=[(table, EVIL_STIM)],
    )
    return write_report(
        tmp_path / "r.html", EVIL_MODEL, [sec], {"model": EVIL_MODEL}, intro=f"stimulus {EVIL_STIM}"
    )


def test_report_escapes_every_user_text(tmp_path):
    text = _hostile_report(tmp_path).read_text()
    assert "<script>document" not in text and "<img src=x" not in text and "<img src=y" not in text
    assert (
        "&lt;script&gt;" in text and "<b>&lt;img src=x" in text
    )  # the opt-in keeps its own markup
    assert RawHTML("<i>x</i>") == "<i>x</i>"


@pytest.mark.browser
def test_hostile_ids_do_not_run_in_chromium(tmp_path, chromium):
    pages = [_hostile_report(tmp_path)]
    res = _bench_result(models=(EVIL_MODEL, EVIL_STIM, "ok"), layer_names=(EVIL_LAYER, "l2", "l3"))
    pages.append(write_leaderboard(res, tmp_path / "lb.html", title=EVIL_MODEL))
    for page in pages:
        dom, log = _dom(chromium, page)
        assert "data-pwned" not in dom.split("<body", 1)[1].split(">", 1)[0], page.name
        assert "document.body.setAttribute" in dom  # shown as text
        assert console_errors(log) == []


# --------------------------------------------------------------------------- figures
def test_bench_figures_render(tmp_path):
    res = _bench_result()
    for fig in (
        res.plot(),
        plot_bench_layers(res, "Toy2024.A-rsa"),
        plot_benchmark_scatter(res, "Toy2024.A-rsa", "Toy2024.B-encoding"),
    ):
        save_figure(fig, tmp_path / "f.png")
        assert (tmp_path / "f.png").stat().st_size > 5000
    ax = plot_bench_layers(res, "Toy2024.A-rsa").axes[0]
    lines = [ln for ln in ax.get_lines() if ln.get_label() == "beta"]
    np.testing.assert_allclose(lines[0].get_ydata(), [0.2 / 3, 0.4 / 3, 0.2])
    with pytest.raises(ValueError, match="benchmarks"):
        plot_bench_layers(res, "Nope.x-rsa")


def test_brain_map_matches_nilearn_unmask(tmp_path):
    nib = pytest.importorskip("nibabel")
    from nilearn.masking import unmask

    rng = np.random.default_rng(0)
    mask = rng.random((5, 4, 3)) > 0.5
    affine = np.array([[2.0, 0, 0, -10], [0, 2.0, 0, 4], [0, 0, 3.0, 1], [0, 0, 0, 1]])
    values = rng.normal(size=int(mask.sum())).astype(np.float32)
    img = scores_to_nifti(values, mask, affine, tmp_path / "map.nii.gz")
    back = nib.load(tmp_path / "map.nii.gz")
    np.testing.assert_array_equal(back.affine, affine)
    want = unmask(values, nib.Nifti1Image(mask.astype(np.uint8), affine)).get_fdata()
    got = back.get_fdata()
    np.testing.assert_array_equal(got[mask], want[mask])
    assert np.isnan(got[~mask]).all() and img.shape == mask.shape
    with pytest.raises(ValueError, match="voxels"):
        scores_to_nifti(values[:-1], mask, affine)
    save_figure(plot_brain_map(values, mask, affine, title="m"), tmp_path / "m.png")
