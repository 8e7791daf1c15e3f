"""THINGS-fMRI and THINGS-EEG2 readers on miniature trees in the releases' exact layouts
(tests/data/_things_tree.py cites the authors' files and lines), compared with the authors' own
way of reading them (pandas ``read_hdf`` + column selection by StimulusMetadata index, numpy
``load(allow_pickle=True)``)."""

from __future__ import annotations

import os
import pickle
import tracemalloc
import warnings

import numpy as np
import pandas as pd
import pytest

pytest.importorskip("h5py")
pytest.importorskip("tables")  # pandas' HDF5 writer: the release's ResponseData.h5 format

from neuroalign.core import align
from neuroalign.core.exceptions import ConfigurationError, ValidationError
from neuroalign.data import (
    compute_noise_ceiling,
    load_things_eeg2,
    load_things_fmri,
    read_pickled_npy,
    things_fmri_noise_ceiling,
)
from tests.data._things_tree import (
    N_SESSIONS,
    N_TEST,
    write_things_eeg2,
    write_things_fmri,
)


@pytest.fixture(scope="module")
def fmri(tmp_path_factory):
    root = tmp_path_factory.mktemp("things") / "things-fmri"
    truth = write_things_fmri(root, np.random.default_rng(0))
    return root, truth


def _authors_average(truth, voxels, zscore=False):
    """Per-image averages the authors' way: ``pd.read_hdf`` (rows voxels, columns trials), the
    columns of each stimulus selected by StimulusMetadata index and averaged."""
    responses = pd.read_hdf(truth["h5"]).drop(columns="voxel_id")
    stim = truth["stim"]
    if zscore:
        for s in stim["session"].unique():
            cols = stim.index[stim.session == s]
            block = responses[cols]
            responses[cols] = block.sub(block.mean(axis=1), axis=0).div(
                block.std(axis=1, ddof=0), axis=0
            )
    stems = stim["stimulus"].str.replace(".jpg", "", regex=False)
    out = {
        name: responses[idx].mean(axis=1).to_numpy()[voxels]
        for name, idx in stems.groupby(stems).groups.items()
    }
    return out


def test_averages_split_and_ids_equal_the_authors_reading(fmri):
    root, truth = fmri
    stim, resp = load_things_fmri(root, 1, rois=["V1", "lFFA", "rFFA"])
    vox = truth["vox"]
    voxels = np.flatnonzero(vox[["V1", "lFFA", "rFFA"]].to_numpy().any(axis=1))
    peer = _authors_average(truth, voxels)
    assert list(stim.ids) == sorted(peer) and list(resp.stimulus_ids) == list(stim.ids)
    expected = np.stack([peer[i] for i in stim.ids])
    np.testing.assert_allclose(resp.data, expected, rtol=1e-6, atol=1e-7)  # float32 of float64
    assert resp.data.dtype == np.float32
    # the release's test split: 10 images of 12 trials; every training image once
    meta = stim.metadata
    is_test = meta["trial_type"] == "test"
    assert sorted(stim.ids[is_test.to_numpy()]) == [n[:-4] for n in truth["test_names"]]
    assert (meta.loc[is_test, "n_trials"] == N_SESSIONS).all()
    assert (meta.loc[~is_test, "n_trials"] == 1).all() and is_test.sum() == N_TEST
    # images referenced as <images>/<concept>/<file>, not loaded
    k = list(stim.ids).index("concept03_02b")
    assert stim.images[k] == root / "images" / "concept03" / "concept03_02b.jpg"
    assert stim.load_image(k).shape == (16, 16, 3)
    # targets: voxel ids, ROI labels, the release's reliability columns; the ids join by align
    t = resp.targets
    assert t["voxel_id"].tolist() == voxels.tolist()
    assert set(t["roi"]) == {"V1", "lFFA", "rFFA"}
    np.testing.assert_allclose(t["nc_testset"], vox["nc_testset"].to_numpy()[voxels])
    shuffled = resp.take(np.random.default_rng(1).permutation(resp.n_stimuli))
    _, r2 = align(stim, shuffled)
    np.testing.assert_array_equal(r2.data, resp.data)


def test_zscore_per_session_equals_pandas(fmri):
    root, truth = fmri
    stim, resp = load_things_fmri(root, 1, rois=["hV4"], zscore=True, memory_budget=4096)
    voxels = np.flatnonzero(truth["vox"]["hV4"].to_numpy() == 1)
    peer = _authors_average(truth, voxels, zscore=True)
    np.testing.assert_allclose(resp.data, np.stack([peer[i] for i in stim.ids]), atol=2e-6)


def test_roi_selection_overlap_and_default(fmri):
    root, truth = fmri
    vox = truth["vox"]
    _, r = load_things_fmri(root, 1, rois=["IT", "V1"])
    assert r.targets.loc[r.targets.voxel_id == 0, "roi"].item() == "IT"  # first listed wins
    _, r = load_things_fmri(root, 1, rois=["V1", "IT"])
    assert r.targets.loc[r.targets.voxel_id == 0, "roi"].item() == "V1"
    assert set(r.targets["voxel_id"]) == set(np.flatnonzero(vox[["V1", "IT"]].any(axis=1)))
    _, r = load_things_fmri(root, 1, rois=["glasser-V2"])
    assert set(r.targets["voxel_id"]) == set(np.flatnonzero(vox["glasser-V2"] == 1))
    _, r = load_things_fmri(root, 1)  # every ROI column of the release, no glasser areas
    from neuroalign.data import THINGS_FMRI_ROIS

    assert set(r.targets["voxel_id"]) == set(
        np.flatnonzero(vox[list(THINGS_FMRI_ROIS)].any(axis=1))
    )


def test_nc_testset_in_r_units_matches_the_split_half_ceiling(fmri):
    """The release's nc_testset (NSD formula, % variance of the 12-trial average) converted with
    sqrt(nc/100) is the ceiling on Pearson r our split-half estimator measures on the same test
    repetitions (independent estimators: within 0.08 on the mean of 116 voxels)."""
    _, truth = fmri
    ours = things_fmri_noise_ceiling(truth["vox"]["nc_testset"])
    split_half = compute_noise_ceiling(truth["test_reps"], n_splits=50)
    assert 0.2 < ours.mean() < 0.95  # the synthetic voxels are reliable but not perfect
    assert abs(ours.mean() - split_half.mean()) < 0.08, (ours.mean(), split_half.mean())
    assert abs(ours.mean() - np.sqrt(truth["vox"]["nc_testset"] / 100).mean()) < 1e-12


def test_errors_name_the_problem(fmri, tmp_path):
    root, _ = fmri
    with pytest.raises(ConfigurationError, match=r"subject must be one of \[1, 2, 3\]"):
        load_things_fmri(root, 4, rois=["V1"])
    with pytest.raises(ConfigurationError, match=r"sub-02_ResponseData\.h5"):
        load_things_fmri(root, 2, rois=["V1"])
    with pytest.raises(ConfigurationError, match=r"hV4"):
        load_things_fmri(root, 1, rois=["V4"])
    with pytest.raises(ConfigurationError, match="images folder"):
        load_things_fmri(root, 1, rois=["V1"], images=tmp_path / "nowhere")
    # another subject's files under subject 1's names
    import shutil

    other = tmp_path / "other"
    shutil.copytree(root, other)
    csv = other / "betas_csv" / "sub-01_StimulusMetadata.csv"
    t = pd.read_csv(csv)
    t["subject_id"] = 2
    t.to_csv(csv, index=False)
    with pytest.raises(ConfigurationError, match="another subject"):
        load_things_fmri(other, 1, rois=["V1"])
    # a missing image is listed before any response is read
    (other / "images" / "concept05" / "concept05_03b.jpg").unlink()
    t["subject_id"] = 1
    t.to_csv(csv, index=False)
    with pytest.raises(ConfigurationError, match="concept05_03b"):
        load_things_fmri(other, 1, rois=["V1"])


def test_trial_columns_must_follow_the_stimulus_table(fmri, tmp_path):
    root, truth = fmri
    import shutil

    other = tmp_path / "cols"
    shutil.copytree(root, other)
    frame = pd.read_hdf(truth["h5"]).drop(columns=0)  # one trial column less
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # pandas' PerformanceWarning on the mixed labels
        frame.to_hdf(other / "betas_csv" / "sub-01_ResponseData.h5", key="ResponseData", mode="w")
    with pytest.raises(ValidationError, match="column k must be its row k"):
        load_things_fmri(other, 1, rois=["V1"])


def test_responses_are_read_a_block_of_voxels_at_a_time(tmp_path):
    root = tmp_path / "things-fmri"
    truth = write_things_fmri(root, np.random.default_rng(2), n_voxels=3000)
    table = truth["values"].nbytes  # 3000 voxels x 192 trials float64 = 4.6 MB
    rois = ["glasser-V1", "glasser-MST", "glasser-V2"]  # every voxel
    load_things_fmri(root, 1, rois=["V1"])  # imports and caches outside the measurement
    peaks = {}
    for budget in ("256KB", "1GB"):
        tracemalloc.start()
        _, resp = load_things_fmri(root, 1, rois=rois, memory_budget=budget)
        peaks[budget] = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        assert resp.n_targets == 3000
    # 256 KB blocks: the float32 averages (1 MB), the metadata tables and one block of rows
    assert peaks["256KB"] < 0.75 * table, (peaks, table)
    assert peaks["1GB"] > table  # one block of every voxel holds the whole table


# --------------------------------------------------------------------------- THINGS-EEG2


@pytest.fixture(scope="module")
def eeg(tmp_path_factory):
    root = tmp_path_factory.mktemp("eeg") / "things-eeg2"
    return root, write_things_eeg2(root, np.random.default_rng(0))


def test_pickled_npy_equals_numpy_load_and_stays_on_disk(eeg):
    root, _ = eeg
    path = root / "preprocessed_data/sub-01/preprocessed_eeg_training.npy"
    ref = np.load(path, allow_pickle=True).item()
    d = read_pickled_npy(path, mmap_threshold=1024)
    assert isinstance(d["preprocessed_eeg_data"], np.memmap)
    np.testing.assert_array_equal(d["preprocessed_eeg_data"], ref["preprocessed_eeg_data"])
    np.testing.assert_array_equal(d["times"], ref["times"])
    assert d["ch_names"] == ref["ch_names"]


def test_pickled_npy_refuses_code(tmp_path):
    class Evil:
        def __reduce__(self):
            return (os.system, ("echo unsafe",))

    p = tmp_path / "evil.npy"
    np.save(p, np.array({"x": Evil()}, dtype=object), allow_pickle=True)
    with pytest.raises(ValidationError, match="only numpy arrays"):
        read_pickled_npy(p)
    with open(tmp_path / "raw.pkl", "wb") as f:
        pickle.dump([1], f)
    with pytest.raises(ValidationError, match=r"not a \.npy file"):
        read_pickled_npy(tmp_path / "raw.pkl")


@pytest.mark.parametrize("partition", ["training", "test"])
def test_things_eeg2_partitions_average_the_window(eeg, partition):
    root, (train_names, test_names, train_eeg, test_eeg, times) = eeg
    names, raw = (train_names, train_eeg) if partition == "training" else (test_names, test_eeg)
    stim, resp = load_things_eeg2(root, 1, partition, window=(0.1, 0.3), keep_repetitions=True)
    assert list(stim.ids) == names  # sorted <concept>/<file> = the EEG row order
    win = (times >= 0.1 - 1e-9) & (times <= 0.3 + 1e-9)
    expected = raw[..., win].mean(axis=1).reshape(len(names), -1)  # channel-major targets
    np.testing.assert_allclose(resp.data, expected, rtol=1e-5, atol=1e-6)
    assert resp.repetitions.shape == (raw.shape[1], len(names), raw.shape[2] * win.sum())
    t = resp.targets
    assert t["channel"].tolist()[: win.sum()] == ["O1"] * int(win.sum())
    np.testing.assert_allclose(t["time"].to_numpy()[: win.sum()], times[win])
    assert stim.metadata["partition"].eq(partition).all()


def test_things_eeg2_errors(eeg, tmp_path):
    root, _ = eeg
    with pytest.raises(ConfigurationError, match="partition must be one of"):
        load_things_eeg2(root, 1, "train")
    with pytest.raises(ConfigurationError, match="sub-02"):
        load_things_eeg2(root, 2, "test")
    with pytest.raises(ConfigurationError, match=r"1\.\.10"):
        load_things_eeg2(root, 11, "test")


def test_things_fmri_fetch_uses_the_authors_link_unless_mirrored(tmp_path, monkeypatch):
    pooch = pytest.importorskip("pooch")
    from neuroalign.data import fetch_dataset

    urls = []

    def fake_retrieve(url, known_hash, fname, path, **kw):
        urls.append(url)
        (path / fname).write_bytes(b"zip")

    monkeypatch.setattr(pooch, "retrieve", fake_retrieve)
    fetch_dataset("things-fmri", data_dir=tmp_path / "a")
    assert urls == ["https://plus.figshare.com/ndownloader/files/36789690"]
    fetch_dataset("things-fmri", data_dir=tmp_path / "b", base_url="http://mirror/x")
    assert urls[1] == "http://mirror/x/betas_csv.zip"


def test_trial_columns_labelled_by_strings_read_the_same(fmri, tmp_path):
    root, truth = fmri
    import shutil

    other = tmp_path / "strcols"
    shutil.copytree(root, other)
    frame = pd.read_hdf(truth["h5"])
    frame.columns = [str(c) for c in frame.columns]  # a writer that labelled trials "0", "1", ...
    frame.to_hdf(other / "betas_csv" / "sub-01_ResponseData.h5", key="ResponseData", mode="w")
    _, a = load_things_fmri(root, 1, rois=["V2"])
    _, b = load_things_fmri(other, 1, rois=["V2"])
    np.testing.assert_array_equal(a.data, b.data)
