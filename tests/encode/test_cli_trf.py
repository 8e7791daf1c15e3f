"""``neuroalign trf``: time-series files in, a Result (.npz + .csv) and an HTML report out."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("typer")

from typer.testing import CliRunner

from neuroalign.cli import app
from neuroalign.core import TimeSeries, load_result, save_timeseries

runner = CliRunner()


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("trf")
    rng = np.random.default_rng(0)
    kernel = np.array([0.0, 1.0, 0.6, 0.2])
    stim, resp = {}, {}
    for r in ("run1", "run2", "run3", "run4"):
        x = rng.standard_normal((400, 2))
        y = np.stack([np.convolve(x[:, 0], kernel)[:400], np.convolve(x[:, 1], -kernel)[:400]], 1)
        stim[r], resp[r] = x, y + 0.5 * rng.standard_normal(y.shape)
    s = save_timeseries(TimeSeries.from_runs(stim, rate=100.0), tmp / "stim.npz")
    y = save_timeseries(TimeSeries.from_runs(resp, rate=100.0), tmp / "resp.npz")
    return s, y, tmp


def test_trf_writes_result_table_and_report(files):
    s, y, tmp = files
    args = ["trf", "--tmin", "0", "--tmax", "0.05", "--stimulus", str(s), "--responses", str(y)]
    args += [
        "--alphas",
        "0.1,10,1000",
        "--out",
        str(tmp / "t.npz"),
        "--report",
        str(tmp / "t.html"),
    ]
    res = runner.invoke(app, args)
    assert res.exit_code == 0, res.output
    result = load_result(tmp / "t.npz")
    assert result.kind == "encoding.trf"
    rows = result.table[result.table["aggregate"] == "none"]
    assert rows["scoring"].eq("pearson").all() and rows["method"].eq("trf").all()
    assert (rows["value"] > 0.7).all()  # the planted kernels predict well
    coef = result.arrays["coef"]
    assert coef.shape == (2, 2, 6)
    np.testing.assert_allclose(coef[0, 0, :4], [0.0, 1.0, 0.6, 0.2], atol=0.1)
    assert (tmp / "t.csv").exists() and "<html" in (tmp / "t.html").read_text().lower()


def test_trf_mismatched_runs_is_one_line(files, tmp_path):
    s = files[0]
    other = save_timeseries(
        TimeSeries.from_runs({"x": np.zeros((400, 1)), "z": np.zeros((400, 1))}, rate=100.0),
        tmp_path / "o.npz",
    )
    res = runner.invoke(
        app,
        [
            "trf",
            "--tmin",
            "0",
            "--tmax",
            "0.05",
            "--stimulus",
            str(s),
            "--responses",
            str(other),
            "--out",
            str(tmp_path / "x.npz"),
        ],
    )
    lines = [ln for ln in res.output.splitlines() if ln.strip()]
    assert res.exit_code == 1 and len(lines) == 1 and "runs" in lines[0]
    assert not (tmp_path / "x.npz").exists()


@pytest.mark.realdata
@pytest.mark.slow
def test_trf_speech_sample_backward(shared_data, tmp_path):
    pytest.importorskip("h5py")
    folder = shared_data / "naplib_speech"
    if not folder.is_dir():
        pytest.skip("naplib_speech is not in ../shared/data")
    args = ["trf", "--speech-sample", str(folder), "--features", "envelope", "--direction"]
    args += ["backward", "--tmin", "-0.25", "--tmax", "0", "--alphas", "10,1000,100000"]
    res = runner.invoke(app, [*args, "--out", str(tmp_path / "b.npz")])
    assert res.exit_code == 0, res.output
    result = load_result(tmp_path / "b.npz")
    rows = result.table[result.table["aggregate"] == "none"]
    assert rows["method"].eq("trf_backward").all() and len(rows) == 1
    assert rows["value"].iloc[0] > 0.7  # measured 0.858 in docs/naturalistic.md
