"""Every result a report: any Result, a folder of them or several in one report; Result.plot
saves or returns its figure; each kind's figure passes the text checks; the pages do not overflow
sideways in Chromium (screenshots kept as artifacts, copied to ``$NEUROALIGN_SCREENS``)."""

from __future__ import annotations

import re
import warnings

import pytest

pytest.importorskip("matplotlib")

from typer.testing import CliRunner

from neuroalign.cli import app
from neuroalign.core.exceptions import ValidationError
from neuroalign.report import write_result_report
from tests.browser import console_errors, run_in_page, screenshot
from tests.report._boards import make_board
from tests.report._results import make_results
from tests.report.test_figure_checks import MEASURE, _keep, drawn_texts, overlaps

#: The report's figures are saved at 120 dpi and shown at most this wide (body 1100 px − padding).
REPORT_DPI, REPORT_WIDTH = 120, 1068


@pytest.fixture(scope="module")
def results():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return make_results()


def test_plot_returns_the_figure_and_saves_it(results, tmp_path):
    res = results["encoding.sweep"]
    fig = res.plot(tmp_path / "sweep.png")
    assert hasattr(fig, "savefig") and (tmp_path / "sweep.png").read_bytes()[:4] == b"\x89PNG"
    res.plot(tmp_path / "sweep.svg")
    assert (tmp_path / "sweep.svg").read_text().lstrip().startswith("<?xml")
    with pytest.raises(ValidationError, match="suffix"):
        res.plot(tmp_path / "sweep.nope")
    assert not (tmp_path / "sweep.nope").exists()


@pytest.mark.parametrize(
    "kind",
    [
        "encoding.sweep",
        "cka.table",
        "rsa.table",
        "decoding.classic",
        "decoding.over_time",
        "decoding.generalization",
        "retrieval.identification",
    ],
)
def test_each_kind_figure_has_readable_unoverlapping_text(results, kind):
    fig = results[kind].plot()
    texts = drawn_texts(fig, REPORT_DPI)
    assert overlaps(texts) == [], kind
    scale = min(1.0, REPORT_WIDTH / (fig.get_figwidth() * REPORT_DPI))
    assert min(px for _, _, px in texts) * scale >= 8.0, kind


def test_report_of_a_folder_and_of_several_results(results, tmp_path):
    folder = tmp_path / "results"
    folder.mkdir()
    for kind in ("encoding.sweep", "cka.table"):
        results[kind].save(folder / f"{kind}.npz")
    (folder / "not-a-result.npz").write_bytes(b"PK\x05\x06" + b"\0" * 18)  # an empty zip
    results["rsa.table"].save(tmp_path / "rsa.npz")
    page = write_result_report([folder, tmp_path / "rsa.npz"], tmp_path / "all.html")
    text = page.read_text()
    assert len(re.findall(r"<h2>", text)) >= 3 and text.count("<img") == 3
    assert "not-a-result.npz" in text  # said to be skipped, not silently dropped
    runner = CliRunner()
    out = tmp_path / "cli.html"
    res = runner.invoke(app, ["report", str(folder), str(tmp_path / "rsa.npz"), "--out", str(out)])
    assert res.exit_code == 0, res.output
    assert out.read_text().count("<img") == 3
    res = runner.invoke(app, ["report", str(tmp_path / "empty"), "--out", str(out)])
    assert res.exit_code == 1 and "does not exist" in res.output
    with pytest.raises(ValidationError, match="not a neuroalign result"):
        write_result_report(tmp_path / "results" / "not-a-result.npz", tmp_path / "x.html")


@pytest.mark.slow
@pytest.mark.browser
def test_reports_of_every_kind_fit_the_page_in_chromium(results, chromium, tmp_path_factory):
    out_dir = tmp_path_factory.mktemp("report-screens")
    pages = {
        kind: write_result_report(res, out_dir / f"report-{kind}.html")
        for kind, res in results.items()
    }
    pages["bench.sweep"] = write_result_report(make_board(4), out_dir / "report-bench.sweep.html")
    pages["several"] = write_result_report(list(results.values()), out_dir / "report-several.html")
    for kind, page in pages.items():
        m, log = run_in_page(chromium, page, MEASURE)
        assert console_errors(log) == [], kind
        assert m["scrollWidth"] <= m["clientWidth"], f"{kind}: the page scrolls sideways"
        assert all(t["scrolls"] for t in m["tables"]), f"{kind}: a table outside a scroll box"
        png = screenshot(
            chromium, page, out_dir / f"report-{kind}.png", 1280, min(m["height"], 4000)
        )
        _keep(png, f"report-{kind}.png")
