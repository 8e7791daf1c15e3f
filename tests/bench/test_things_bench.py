"""``Hebart2023.<roi>-encoding`` (THINGS-fMRI) and ``Gifford2022.EEG-encoding`` (THINGS-EEG2) on
miniature trees in the releases' exact layouts (tests/data/_things_tree.py cites the authors'
files and lines), found through $NEUROALIGN_DATA like fetched data."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("torch")
pytest.importorskip("h5py")
pytest.importorskip("tables")

from typer.testing import CliRunner

from neuroalign.bench import BENCHMARKS, commitment_split, load_benchmark
from neuroalign.core import load_result
from neuroalign.core.exceptions import ConfigurationError
from neuroalign.data import compute_noise_ceiling
from tests.data._things_tree import N_TEST, write_things_eeg2, write_things_fmri

HEBART = {
    f"Hebart2023.{r}-encoding"
    for r in ("V1", "V2", "V3", "hV4", "LOC", "FFA", "OFA", "PPA", "EBA", "RSC", "TOS", "STS", "IT")
}


@pytest.fixture
def data_dir(tmp_path, monkeypatch):
    rng = np.random.default_rng(0)
    fmri = write_things_fmri(tmp_path / "things-fmri", rng, noise=0.5)
    eeg = write_things_eeg2(tmp_path / "things-eeg2", rng)
    monkeypatch.setenv("NEUROALIGN_DATA", str(tmp_path))
    return tmp_path, fmri, eeg


def test_hebart_benchmarks_are_registered_per_roi():
    assert HEBART == {b for b in BENCHMARKS if b.startswith("Hebart2023.")}
    assert "Hebart2023.VC-encoding" not in BENCHMARKS  # the refusing placeholder is gone


def test_hebart_split_and_release_ceiling(data_dir):
    _, fmri, _ = data_dir
    b = load_benchmark("Hebart2023.FFA-encoding")
    data = b.load()
    assert set(data.brain.targets["roi"]) == {"lFFA", "rFFA"}
    split = commitment_split(b, data)
    test_ids = sorted(data.stimuli.ids[split.test])
    assert test_ids == [n[:-4] for n in fmri["test_names"]] and len(test_ids) == N_TEST
    assert len(split.commit) == len(data.stimuli) - N_TEST  # every training image commits
    vox = fmri["vox"]
    ffa = (vox["lFFA"] + vox["rFFA"]).to_numpy() > 0
    expected = np.mean(np.sqrt(vox["nc_testset"].to_numpy()[ffa] / 100))  # % variance -> r
    assert data.ceiling == pytest.approx(expected, rel=1e-12)


@pytest.mark.slow
def test_bench_run_tiny_cnn_on_every_things_benchmark(data_dir, tmp_path):
    from neuroalign.cli import app

    out = tmp_path / "things.npz"
    res = CliRunner().invoke(
        app,
        [
            "bench",
            "run",
            "tiny_cnn:seed=0",
            "-b",
            "Hebart2023.*",
            "-b",
            "Gifford2022.EEG-encoding",
            "--store",
            str(tmp_path / "s"),
            "--out",
            str(out),
            "--quiet",
        ],
    )
    assert res.exit_code == 0, res.output
    t = load_result(out).table
    scores = t[t.statistic == "score"].set_index("benchmark")
    assert set(scores.index) == HEBART | {"Gifford2022.EEG-encoding"}
    assert np.isfinite(scores["value"]).all() and np.isfinite(scores["ceiling_high"]).all()
    # scored across subjects: the tree holds subject 1 only, the others are excluded and reported
    assert (scores["n"] == 1).all() and (scores["resampled"] == "subjects").all()
    assert "excluded" in res.output and "subj02" in res.output
    per_subject = t[t.statistic == "subject_score"].set_index("benchmark")
    assert set(per_subject["subject"]) == {"subj01"}
    want = np.where(per_subject.index.str.startswith("Hebart"), N_TEST, 8)
    assert (per_subject["n"] == want).all()  # each subject scored on its test images
    # the responses are linear in the pixels: a model sees it on the held-out test images
    assert scores["value"].mean() > 0.2, scores["value"]


def test_eeg_encoding_trains_on_training_images_and_ceils_from_test_repetitions(data_dir):
    _, _, (train_names, test_names, _train_eeg, test_eeg, times) = data_dir
    b = load_benchmark("Gifford2022.EEG-encoding")
    assert (b.metric, b.commit_split) == ("encoding", "groups")
    data = b.load()
    split = commitment_split(b, data)
    assert list(data.stimuli.ids[split.commit]) == train_names
    assert list(data.stimuli.ids[split.test]) == test_names
    win = (times >= 0.1 - 1e-9) & (times <= 0.3 + 1e-9)
    reps = test_eeg[..., win].transpose(1, 0, 2, 3).reshape(test_eeg.shape[1], len(test_names), -1)
    assert data.ceiling == pytest.approx(float(np.mean(compute_noise_ceiling(reps))), rel=1e-5)
    assert data.brain.n_targets == test_eeg.shape[2] * win.sum()


def test_things_benchmarks_say_how_to_fetch(tmp_path, monkeypatch):
    monkeypatch.setenv("NEUROALIGN_DATA", str(tmp_path))
    with pytest.raises(ConfigurationError, match="data fetch things-fmri"):
        load_benchmark("Hebart2023.V1-encoding").load()
    with pytest.raises(ConfigurationError, match="data fetch things-eeg2"):
        load_benchmark("Gifford2022.EEG-encoding").load()
