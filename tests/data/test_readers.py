"""Readers recover known values, ids, repetitions and ROI labels from small files written here."""

from __future__ import annotations

from datetime import UTC

import numpy as np
import pandas as pd
import pytest

from neuroalign import StimulusSet
from neuroalign.core.exceptions import (
    NeuroalignWarning,
    ShapeError,
    StimulusMismatchError,
    ValidationError,
)
from neuroalign.data import (
    ArraySchema,
    load_array_file,
    load_fmri,
    load_nwb_spikes,
    load_surface,
)

nib = pytest.importorskip("nibabel")

TRIALS = ["a", "b", "c", "a", "b", "c", "a", "b"]  # a, b: 3 reps; c: 2 reps


def _volumes(rng, shape=(4, 5, 3), n=8):
    data = rng.normal(size=(*shape, n)).astype(np.float32)
    affine = np.diag([2.0, 2.0, 2.5, 1.0])
    affine[:3, 3] = [-4, -5, 1]
    return data, affine


def test_nifti_with_atlas_recovers_values_reps_and_rois(tmp_path, rng):
    data, affine = _volumes(rng)
    atlas = np.zeros(data.shape[:3], np.int16)
    atlas[1:3, 1:4, 1] = 1
    atlas[0, 0, 0] = 2
    nib.save(nib.Nifti1Image(data, affine), tmp_path / "betas.nii.gz")
    nib.save(nib.Nifti1Image(atlas, affine), tmp_path / "atlas.nii.gz")
    pd.DataFrame({"stimulus_id": TRIALS, "run": 1}).to_csv(
        tmp_path / "ev.tsv", sep="\t", index=False
    )
    stim, resp = load_fmri(
        tmp_path / "betas.nii.gz",
        tmp_path / "ev.tsv",
        atlas=tmp_path / "atlas.nii.gz",
        atlas_labels={1: "FFA", 2: "PPA"},
        subject="s1",
    )
    assert stim.ids.tolist() == ["a", "b", "c"]
    assert resp.n_reps == 3 and resp.n_targets == 7
    assert sorted(resp.rois) == ["FFA", "PPA"]
    t = resp.targets
    ppa = t.index[t["roi"] == "PPA"][0]
    assert (t.loc[ppa, ["i", "j", "k"]].tolist(), t.loc[ppa, ["x", "y", "z"]].tolist()) == (
        [0, 0, 0],
        [-4, -5, 1],
    )
    # repetition k of stimulus b is its k-th trial: volumes 1, 4, 7
    i, j, k = t.loc[0, ["i", "j", "k"]]
    np.testing.assert_allclose(resp.repetitions[:, 1, 0], data[i, j, k, [1, 4, 7]])
    assert np.isnan(resp.repetitions[2, 2]).all()  # c has only two trials
    np.testing.assert_allclose(resp.data[2, 0], data[i, j, k, [2, 5]].mean(), rtol=1e-6)
    assert resp.meta["trial_counts"] == {"a": 3, "b": 3, "c": 2}
    assert (t["subject"] == "s1").all()


def test_nifti_mask_equals_nilearn_masker(tmp_path, rng):
    maskers = pytest.importorskip("nilearn.maskers")
    data, affine = _volumes(rng, shape=(6, 5, 4))
    mask = rng.random(data.shape[:3]) > 0.5
    img, mimg = nib.Nifti1Image(data, affine), nib.Nifti1Image(mask.astype(np.uint8), affine)
    nib.save(img, tmp_path / "b.nii")  # uncompressed: read chunk by chunk from a memory map
    _, resp = load_fmri(tmp_path / "b.nii", [f"s{i}" for i in range(len(TRIALS))], mask=mimg)
    ref = maskers.NiftiMasker(mask_img=mimg, standardize=None).fit_transform(img)
    np.testing.assert_allclose(resp.data, ref, rtol=1e-6)


def test_nifti_bad_inputs_name_the_file(tmp_path, rng):
    data, affine = _volumes(rng)
    nib.save(nib.Nifti1Image(data, affine), tmp_path / "b.nii.gz")
    nib.save(nib.Nifti1Image(np.ones((4, 5, 2), np.uint8), affine), tmp_path / "m.nii.gz")
    with pytest.raises(ShapeError, match=r"m\.nii\.gz.*shape \(4, 5, 2\).*resample"):
        load_fmri(tmp_path / "b.nii.gz", TRIALS, mask=tmp_path / "m.nii.gz")
    with pytest.raises(ShapeError, match="one stimulus id per volume"):
        load_fmri(tmp_path / "b.nii.gz", TRIALS[:-1])
    shown = StimulusSet(ids=["a", "b"], texts=["a", "b"])
    with pytest.raises(StimulusMismatchError, match=r"b\.nii\.gz.*'c'"):
        load_fmri(tmp_path / "b.nii.gz", TRIALS, stimuli=shown)
    raw = (tmp_path / "b.nii.gz").read_bytes()
    (tmp_path / "cut.nii.gz").write_bytes(raw[: len(raw) // 2])
    with pytest.raises(ValidationError, match=r"cut\.nii\.gz.*(truncated|corrupt)"):
        load_fmri(tmp_path / "cut.nii.gz", TRIALS)


def test_nan_voxels_are_excluded_and_reported(tmp_path, rng):
    data, affine = _volumes(rng)
    data[0, 0, 0] = np.nan  # NaN in every trial
    data[1, 0, 0, 3] = np.nan  # NaN in one trial
    with pytest.warns(NeuroalignWarning, match="excluded 1 voxels"):
        _, resp = load_fmri(nib.Nifti1Image(data, affine), TRIALS)
    assert resp.n_targets == data[..., 0].size - 2
    reasons = {r["reason"]: r["count"] for r in resp.meta["exclusions"]}
    assert reasons == {"NaN or inf in every trial": 1, "NaN or inf in some trials": 1}


def test_surface_gifti_and_labels(tmp_path, rng):
    n_vert = 12
    vals = {h: rng.normal(size=(len(TRIALS), n_vert)).astype(np.float32) for h in ("lh", "rh")}
    paths = {}
    for h, v in vals.items():
        img = nib.gifti.GiftiImage(darrays=[nib.gifti.GiftiDataArray(row) for row in v])
        paths[h] = tmp_path / f"{h}.func.gii"
        nib.save(img, paths[h])
    lab = np.zeros(n_vert, int)
    lab[:4], lab[6:8] = 1, 2
    _stim, resp = load_surface(
        paths, TRIALS, atlas={"lh": lab, "rh": lab}, atlas_labels={1: "V1", 2: "V2"}
    )
    assert resp.n_targets == 12 and resp.rois == ["V1", "V2"]
    t = resp.targets
    col = t.index[(t["hemi"] == "rh") & (t["vertex"] == 7)][0]
    np.testing.assert_allclose(resp.repetitions[:2, 0, col], vals["rh"][[0, 3], 7])
    with pytest.raises(ShapeError, match=r"atlas\['lh'\] has 5 labels.*12 vertices"):
        load_surface(paths, TRIALS, atlas={"lh": lab[:5]})
    with pytest.warns(FutureWarning, match=r"load_surface\(rois=\.\.\.\).*atlas="):
        _, old = load_surface(paths, TRIALS, rois={"lh": lab, "rh": lab})
    assert old.n_targets == resp.n_targets


@pytest.mark.parametrize("suffix", [".npz", ".mat", ".h5", ".csv", ".npy"])
def test_generic_files_trial_layout(tmp_path, rng, suffix):
    X = rng.normal(size=(len(TRIALS), 4))
    ids = np.array(TRIALS)
    path = tmp_path / f"r{suffix}"
    schema = ArraySchema(data="betas", stimulus_ids="stim", layout="trial")
    if suffix == ".npz":
        np.savez(path, betas=X, stim=ids)
    elif suffix == ".mat":
        import scipy.io as sio

        sio.savemat(path, {"betas": X, "stim": ids})
    elif suffix == ".h5":
        h5py = pytest.importorskip("h5py")
        with h5py.File(path, "w") as f:
            f["group/betas"] = X
            f["stim"] = ids.astype("S")
        schema = ArraySchema(data="group/betas", stimulus_ids="stim", layout="trial")
    elif suffix == ".csv":
        pd.DataFrame(X, columns=list("pqrs")).assign(stim=ids).to_csv(path, index=False)
    else:
        np.save(path, X)
        schema = ArraySchema(stimulus_ids=TRIALS, layout="trial")
    stim, resp = load_array_file(path, schema)
    assert stim.ids.tolist() == ["a", "b", "c"] and resp.n_reps == 3
    np.testing.assert_allclose(resp.repetitions[:, 0], X[[0, 3, 6]])
    np.testing.assert_allclose(resp.data[2], X[[2, 5]].mean(0))


def test_generic_repetition_layout_with_roi_and_errors(tmp_path, rng):
    reps = rng.normal(size=(3, 5, 4, 6))
    reps[2, 1] = np.nan  # a missing trial
    np.savez(
        tmp_path / "r.npz",
        data=reps,
        stimulus_ids=list("vwxyz"),
        roi=["A", "A", "B", "B"],
        times=np.arange(6) / 10,
    )
    schema = ArraySchema(layout="repetition", roi="roi", times="times")
    _, resp = load_array_file(tmp_path / "r.npz", schema)
    assert resp.rois == ["A", "B"] and resp.is_timeseries and resp.n_reps == 3
    np.testing.assert_allclose(resp.data[1], reps[:2, 1].mean(0))
    with pytest.raises(ValidationError, match=r"no data array 'dta'.*Did you mean 'data'"):
        load_array_file(tmp_path / "r.npz", ArraySchema(data="dta"))
    with pytest.raises(ShapeError, match="target_axis_first"):
        np.savez(tmp_path / "s.npz", data=rng.normal(size=(4, 5)), stimulus_ids=list("vwxyz"))
        load_array_file(tmp_path / "s.npz")
    _, ok = load_array_file(tmp_path / "s.npz", ArraySchema(target_axis_first=True))
    assert ok.data.shape == (5, 4)


def test_nwb_spike_counts_and_rates(tmp_path):
    pynwb = pytest.importorskip("pynwb")
    from datetime import datetime

    nwb = pynwb.NWBFile("test", "id1", datetime(2024, 1, 1, tzinfo=UTC))
    nwb.add_trial_column("stimulus_id", "image shown")
    onsets = [0.0, 1.0, 2.0, 3.0]
    for t, s in zip(onsets, ["x", "y", "x", "y"], strict=False):
        nwb.add_trial(start_time=t, stop_time=t + 0.8, stimulus_id=s)
    nwb.add_unit_column("location", "area")
    nwb.add_unit(spike_times=[0.05, 0.1, 0.49, 0.5, 1.2, 2.3, 2.31, 2.32, 3.9], location="IT")
    nwb.add_unit(spike_times=[1.01, 1.02, 3.4], location="V4")
    with pynwb.NWBHDF5IO(tmp_path / "s.nwb", "w") as io:
        io.write(nwb)
    stim, resp = load_nwb_spikes(tmp_path / "s.nwb", window=(0.0, 0.5), rate=False)
    assert stim.ids.tolist() == ["x", "y"] and resp.targets["location"].tolist() == ["IT", "V4"]
    # unit 0: trial x@0 -> 0.05, 0.1, 0.49 (0.5 is outside [0, 0.5)); x@2 -> 3; y@1 -> 1; y@3 -> 0
    np.testing.assert_array_equal(resp.repetitions[:, 0, 0], [3, 3])
    np.testing.assert_array_equal(resp.repetitions[:, 1, 0], [1, 0])
    np.testing.assert_array_equal(resp.repetitions[:, 1, 1], [2, 1])
    _, rates = load_nwb_spikes(tmp_path / "s.nwb", window=(0.0, 0.5), bin_size=0.25)
    assert rates.is_timeseries and rates.times.tolist() == [0.125, 0.375]
    np.testing.assert_array_equal(rates.repetitions[0, 0, 0], [2 / 0.25, 1 / 0.25])
    _, whole = load_nwb_spikes(tmp_path / "s.nwb", window=None, rate=False)
    np.testing.assert_array_equal(whole.repetitions[:, 0, 0], [4, 3])  # 0.5 is inside [0, 0.8)
    with pytest.raises(ValidationError, match="no intervals table 'presentations'"):
        load_nwb_spikes(tmp_path / "s.nwb", intervals="presentations")


# --------------------------------------------------------------------------- single-trial GLM
@pytest.mark.parametrize("method", ["lsa", "lss"])
def test_single_trial_betas_recover_known_amplitudes(rng, method):
    pytest.importorskip("nilearn")
    from nilearn.glm.first_level import make_first_level_design_matrix

    from neuroalign.data import estimate_single_trial_betas

    t_r, n_scans = 2.0, 120
    onsets = np.arange(8.0, 220.0, 18.0)
    stim_ids = np.array(["a", "b", "c"] * 4)[: len(onsets)]
    amp = {"a": 1.0, "b": 2.0, "c": -1.5}
    per_trial = np.array([amp[s] for s in stim_ids])
    if method == "lsa":
        per_trial = per_trial + rng.normal(scale=0.5, size=len(onsets))  # trial-specific truth
    ev = pd.DataFrame({"onset": onsets, "duration": 1.0, "trial_type": stim_ids})
    frame = np.arange(n_scans) * t_r
    dm = make_first_level_design_matrix(
        frame,
        ev.assign(trial_type=[f"t{i}" for i in range(len(onsets))]),
        hrf_model="glover",
        drift_model=None,
    )
    signal = dm[[f"t{i}" for i in range(len(onsets))]].to_numpy() @ per_trial
    gains = np.array([1.0, 0.5, 2.0, -1.0, 0.0, 3.0, 1.5, 0.25])
    vol = (gains[:, None] * signal[None, :]).reshape(2, 2, 2, n_scans) + 100.0
    img = nib.Nifti1Image(vol.astype(np.float32), np.eye(4))
    betas, trials = estimate_single_trial_betas([img], [ev], t_r, method=method, drift_model=None)
    assert trials["stimulus_id"].tolist() == stim_ids.tolist()
    _stim, resp = load_fmri(betas, trials["stimulus_id"])
    est = resp.repetitions  # (4, 3, 8)
    truth = per_trial.reshape(4, 3)[:, :, None] * gains[None, None, :]
    np.testing.assert_allclose(est, truth, atol=1e-3)
