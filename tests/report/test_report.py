import base64
import re

import numpy as np
import pandas as pd
import pytest

pytest.importorskip("matplotlib")

from neuroalign.report import (
    ReportSection,
    plot_layer_profile,
    plot_rdms,
    save_figure,
    write_report,
)
from tests.browser import console_errors, probe_page
from tests.conftest import find_chromium


def _table():
    return pd.DataFrame(
        {
            "layer": ["a", "b", "c"] * 2,
            "target": ["hIT"] * 3 + ["mIT"] * 3,
            "value": [0.1, 0.3, 0.2, 0.2, 0.1, 0.0],
            "ci_low": [0.0, 0.2, 0.1, 0.1, 0.0, -0.1],
            "ci_high": [0.2, 0.4, 0.3, 0.3, 0.2, 0.1],
            "ceiling_low": [0.4] * 3 + [np.nan] * 3,
            "ceiling_high": [0.6] * 3 + [np.nan] * 3,
        }
    )


@pytest.fixture
def report(tmp_path):
    fig = plot_layer_profile(_table())
    save_figure(fig, tmp_path / "profile.png")
    fig = plot_rdms({"x": np.random.default_rng(0).random((6, 6)) + np.eye(6)})
    save_figure(fig, tmp_path / "rdms.png")
    sec = ReportSection(
        "Results <&>",
        ["text"],
        [(tmp_path / "profile.png", "profile"), (tmp_path / "rdms.png", "rdms")],
        [(_table(), "a table")],
    )
    return write_report(
        tmp_path / "report.html", "Test report", [sec], {"alpha": 1}, {"numpy": np.__version__}
    )


def test_report_is_self_contained_with_every_figure(report):
    text = report.read_text()
    imgs = re.findall(r'src="data:image/png;base64,([^"]+)"', text)
    assert len(imgs) == 2
    for b64 in imgs:
        assert base64.b64decode(b64)[:8] == b"\x89PNG\r\n\x1a\n"
    assert "Results &lt;&amp;&gt;" in text  # headings are escaped
    assert "&quot;alpha&quot;: 1" in text and "numpy" in text
    assert "<script" not in text
    assert not list(report.parent.glob("*.tmp"))  # atomic writes leave no temporary files


@pytest.mark.browser
def test_report_opens_in_headless_chromium(report):
    chromium = find_chromium()
    if chromium is None:
        pytest.skip("no Chromium binary found")
    result, log = probe_page(chromium, report)
    assert result["n_images"] == 2
    assert result["broken"] == []
    assert result["errors"] == []
    assert console_errors(log) == []


def test_plot_errors_name_missing_columns():
    from neuroalign.core.exceptions import ValidationError

    with pytest.raises(ValidationError, match="lacks column"):
        plot_layer_profile(pd.DataFrame({"x": [1]}))
