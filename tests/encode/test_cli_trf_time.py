"""``neuroalign trf-over-time``: time-series files in, r per window (.npz + .csv + HTML) out."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("typer")

from typer.testing import CliRunner

from neuroalign.cli import app
from neuroalign.core import TimeSeries, load_result, save_timeseries

runner = CliRunner()


def test_trf_over_time_writes_windows(tmp_path):
    rng = np.random.default_rng(0)
    env, brain = {}, {}
    for r in ("run1", "run2", "run3", "run4"):
        e = rng.standard_normal((800, 1))
        b = np.hstack([np.roll(e, 5, 0), rng.standard_normal((800, 2))])
        b[400:, 0] = rng.standard_normal(400)  # encoded in the first 4 s only
        env[r], brain[r] = e, b + 0.3 * rng.standard_normal(b.shape)
    s = save_timeseries(TimeSeries.from_runs(env, rate=100.0), tmp_path / "env.npz")
    y = save_timeseries(TimeSeries.from_runs(brain, rate=100.0), tmp_path / "brain.npz")
    args = ["trf-over-time", "--stimulus", str(s), "--responses", str(y), "--tmin", "-0.1"]
    args += [
        "--window",
        "2",
        "--out",
        str(tmp_path / "w.npz"),
        "--report",
        str(tmp_path / "w.html"),
    ]
    res = runner.invoke(app, args)
    assert res.exit_code == 0, res.output
    result = load_result(tmp_path / "w.npz")
    assert result.kind == "encoding.trf_over_time"
    r = result.table["value"].to_numpy()
    assert result.table["time"].tolist() == pytest.approx([1.0, 3.0, 5.0, 7.0])
    assert np.all(r[:2] > 0.8) and np.all(np.abs(r[2:]) < 0.2), r
    assert (tmp_path / "w.csv").is_file() and "<html" in (tmp_path / "w.html").read_text().lower()


def test_trf_over_time_needs_inputs(tmp_path):
    res = runner.invoke(app, ["trf-over-time", "--out", str(tmp_path / "x.npz")])
    assert res.exit_code != 0 and "--speech-sample" in res.output
