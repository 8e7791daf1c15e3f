"""``neuroalign decode`` end to end (labels, over time, features) and the decoding figures."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

pytest.importorskip("typer")
pytest.importorskip("matplotlib")
from typer.testing import CliRunner

from neuroalign.cli import app
from neuroalign.core import Activations, Responses, save_activations, save_responses
from neuroalign.data import make_decoding_problem, make_epochs
from neuroalign.decode import decode, decode_over_time, temporal_generalization
from neuroalign.report import plot_result

runner = CliRunner()


@pytest.fixture(scope="module")
def sim():
    return make_epochs(60, 8, 40, snr=1.0, seed=0)


def test_cli_labels_over_time_and_static(tmp_path, sim):
    path = tmp_path / "r.npz"
    np.savez(path, data=sim.epochs, condition=sim.labels, run=sim.groups, times=sim.times)
    res = runner.invoke(
        app,
        [
            "decode",
            "--responses",
            str(path),
            "--labels",
            "condition",
            "--over-time",
            "--groups",
            "run",
            "--cv",
            "5",
            "--out",
            str(tmp_path / "ot"),
        ],
    )
    assert res.exit_code == 0, res.output
    assert "peak accuracy" in res.output
    t = pd.read_csv(tmp_path / "ot" / "decoding.csv")
    np.testing.assert_allclose(t["time"], sim.times)
    assert (tmp_path / "ot" / "decoding.png").stat().st_size > 1000
    res = runner.invoke(
        app,
        [
            "decode",
            "--responses",
            str(path),
            "--labels",
            "condition",
            "--out",
            str(tmp_path / "s"),
            "--report",
            str(tmp_path / "s.html"),
            "--quiet",
        ],
    )
    assert res.exit_code == 0, res.output
    assert set(pd.read_csv(tmp_path / "s" / "decoding.csv")["scoring"]) >= {"accuracy", "roc_auc"}
    # the Result itself is saved (a report can be made of it later) and the report written now
    from neuroalign.core import load_result

    saved = load_result(tmp_path / "s" / "decoding.npz")
    assert saved.kind == "decoding.classic" and len(saved.table) == len(
        pd.read_csv(tmp_path / "s" / "decoding.csv")
    )
    assert "<img" in (tmp_path / "s.html").read_text()


def test_cli_features_and_errors(tmp_path):
    p = make_decoding_problem(100, 4, 30, noise=0.3, seed=0)
    save_responses(Responses(p.stimulus_ids, data=p.responses[0]), tmp_path / "r.npz")
    save_activations(
        Activations("sim:latents", p.stimulus_ids, {"z": p.latents}), tmp_path / "f.npz"
    )
    res = runner.invoke(
        app,
        [
            "decode",
            "--responses",
            str(tmp_path / "r.npz"),
            "--features",
            str(tmp_path / "f.npz"),
            "--out",
            str(tmp_path / "e"),
        ],
    )
    assert res.exit_code == 0, res.output
    t = pd.read_csv(tmp_path / "e" / "decoding.csv").set_index("scoring")
    assert t.loc["top1", "value"] > 0.5 and t.loc["top1", "chance"] == pytest.approx(0.05)
    res = runner.invoke(app, ["decode", "--responses", str(tmp_path / "r.npz"), "--labels", "nope"])
    assert res.exit_code == 1 and "no array 'nope'" in res.output
    res = runner.invoke(app, ["decode", "--responses", str(tmp_path / "r.npz")])
    assert res.exit_code == 1 and "exactly one of" in res.output


def test_figures(sim):
    r = decode_over_time(
        sim.epochs,
        sim.labels,
        times=sim.times,
        cv=3,
        n_permutations=19,
        scoring=["accuracy", "roc_auc"],
    )
    fig = r.plot()
    ax = fig.axes[0]
    assert len(ax.get_lines()) >= 4  # two scorings + their chance lines
    np.testing.assert_allclose(ax.get_lines()[0].get_ydata(), r.arrays["scores"][0])
    g = temporal_generalization(sim.epochs[:, :, ::4], sim.labels, cv=3)
    img = plot_result(g).axes[0].get_images()[0]
    np.testing.assert_allclose(img.get_array(), g.arrays["scores"][0])
    c = decode(sim.epochs.mean(-1), sim.labels, estimator="lda", cv=3)
    im = c.plot().axes[0].get_images()[0].get_array()
    conf = c.arrays["confusion"]
    np.testing.assert_allclose(im, conf / conf.sum(1, keepdims=True))
