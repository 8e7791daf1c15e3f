"""The bundled real recordings: contents, a decoding sanity check, and equality with the originals."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from neuroalign.core.exceptions import NeuroalignWarning
from neuroalign.data import (
    load_eeglab_sample,
    load_face_house_images,
    load_haxby2001_slice,
    split_half_reliability,
)


def test_haxby_slice_contents():
    h = load_haxby2001_slice()
    assert h.bold.shape == (1452, 530) and h.mask.sum() == 530
    assert sorted(h.categories) == sorted(
        ["face", "house", "cat", "bottle", "scissors", "shoe", "chair", "scrambledpix"]
    )
    counts = {c: int((h.labels == c).sum()) for c in h.categories}
    assert set(counts.values()) == {108} and (h.labels == "rest").sum() == 588
    assert "Science" in h.citation and "Attribution-Share Alike 3.0" in h.licence
    stim, resp = h.responses()
    assert resp.repetitions.shape == (12, 8, 530) and stim.ids.tolist() == h.categories
    # category responses replicate across runs (real signal): median voxel reliability clearly > 0
    assert np.median(split_half_reliability(resp)) > 0.3


@pytest.mark.slow
def test_haxby_leave_one_run_out_decoding():
    """Sanity check that labels, volumes and runs are aligned (a shift would drop to chance).

    Takes ~20 s on 2 cores (folds on two processes: liblinear is single-threaded). Recipe
    (PyMVPA's tutorial): every non-rest volume is a sample; voxels z-scored per run against that
    run's rest volumes; linear SVM (C=1); leave-one-run-out (12 folds).
    """
    from sklearn.model_selection import LeaveOneGroupOut, cross_val_score
    from sklearn.svm import LinearSVC

    X, y, runs = load_haxby2001_slice().samples(standardize="rest")
    clf = LinearSVC(C=1.0, dual=False)  # primal solver: deterministic, converges
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # liblinear convergence chatter
        acc8 = cross_val_score(clf, X, y, groups=runs, cv=LeaveOneGroupOut(), n_jobs=2).mean()
        fh = np.isin(y, ["face", "house"])
        acc2 = cross_val_score(
            clf, X[fh], y[fh], groups=runs[fh], cv=LeaveOneGroupOut(), n_jobs=2
        ).mean()
    assert abs(acc8 - 0.62) <= 0.05, acc8  # chance 0.125
    assert abs(acc2 - 0.93) <= 0.05, acc2  # chance 0.5


def test_eeglab_sample_contents_and_responses():
    d = load_eeglab_sample()
    assert d.epochs.shape == (80, 32, 384) and d.sfreq == 128.0
    assert d.times[0] == -1.0 and abs(d.times[-1] - 1.9921875) < 1e-9
    assert d.events["position"].value_counts().to_dict() == {1: 40, 2: 40}
    assert d.events["rt"].between(0.1, 2.0).sum() == 75  # 75 of 80 epochs contain a response
    with pytest.warns(NeuroalignWarning, match=r"excluded 2 channels \(eog"):
        stim, resp = d.responses()
    assert stim.ids.tolist() == ["square_pos1", "square_pos2"]
    assert resp.repetitions.shape == (40, 2, 30, 384)  # the two EOG channels left out, and listed
    assert [r["items"] for r in resp.meta["exclusions"]] == [["EOG1", "EOG2"]]
    assert d.responses(picks="all")[1].meta["exclusions"] == []
    # a visual evoked response: occipital channels deflect more after onset than before
    occ = resp.targets["channel"].isin(["O1", "O2", "Oz"]).to_numpy()
    before = np.abs(resp.data[:, occ][..., resp.times < 0]).mean()
    after = np.abs(resp.data[:, occ][..., (resp.times > 0.05) & (resp.times < 0.4)]).mean()
    assert after > 1.5 * before
    assert "BSD 2-Clause" in d.licence and "EEGLAB" in d.citation


def test_eeglab_sample_to_mne_roundtrip():
    pytest.importorskip("mne")
    from neuroalign.data import load_meeg

    d = load_eeglab_sample()
    ep = d.to_mne()
    _, resp = load_meeg(
        ep, stimulus_map={"square/pos1": "square_pos1", "square/pos2": "square_pos2"}
    )
    _, ref = d.responses()
    np.testing.assert_allclose(
        resp.select(ref.stimulus_ids).data * 1e6, ref.data, rtol=1e-4, atol=1e-4
    )


def test_face_house_images():
    d = load_face_house_images()
    s = d.stimuli
    assert s.images.shape == (96, 256, 256) and s.images.dtype == np.uint8
    assert s.metadata.groupby("category")["identity"].nunique().to_dict() == {
        "face": 12,
        "house": 12,
    }
    assert s.ids[0].startswith("face_") and s.load_image(0).shape == (256, 256, 3)
    assert "Attribution-Share Alike" in d.licence


# --------------------------------------------------------------------------- against the originals
@pytest.mark.realdata
def test_vendored_haxby_equals_original(shared_data):
    nib = pytest.importorskip("nibabel")
    src = shared_data / "haxby2001_slice"
    h = load_haxby2001_slice()
    bold = nib.load(src / "bold.nii.gz")
    mask = np.asanyarray(nib.load(src / "mask.nii.gz").dataobj) > 0
    np.testing.assert_array_equal(h.bold, np.asanyarray(bold.dataobj)[mask].T)
    np.testing.assert_array_equal(h.affine, bold.affine)
    literal = np.loadtxt(src / "attributes_literal.txt", dtype=str)
    np.testing.assert_array_equal(h.labels, literal[:, 0])
    np.testing.assert_array_equal(h.runs, literal[:, 1].astype(int))
    # and the fMRI reader reads the original file identically
    from neuroalign.data import load_fmri

    labels = [f"vol{i}" for i in range(bold.shape[3])]
    _, resp = load_fmri(src / "bold.nii.gz", labels, mask=src / "mask.nii.gz")
    np.testing.assert_array_equal(resp.data, h.bold)


@pytest.mark.realdata
def test_vendored_eeglab_equals_original(shared_data):
    mne = pytest.importorskip("mne")
    d = load_eeglab_sample()
    ep = mne.read_epochs_eeglab(
        shared_data / "eeglab_sample" / "eeglab_data_epochs_ica.set", verbose="error"
    )
    ref = ep.get_data() * 1e6
    step = np.abs(ref).max(axis=(0, 2)) / 32767
    assert (np.abs(d.epochs - ref) <= step[None, :, None] * 0.51 + 1e-4).all()
    assert d.channels["channel"].tolist() == ep.ch_names
    np.testing.assert_allclose(d.times, ep.times)


@pytest.mark.realdata
def test_vendored_faces_match_originals(shared_data):
    from PIL import Image

    d = load_face_house_images()
    meta = d.stimuli.metadata
    for i in (0, 50, 95):
        folder = "faces" if meta["category"].iloc[i] == "face" else "houses"
        with Image.open(
            shared_data / "face_house_images" / folder / meta["filename"].iloc[i]
        ) as im:
            ref = np.asarray(im.convert("L").resize((256, 256), Image.Resampling.LANCZOS), float)
        assert np.abs(d.stimuli.images[i] - ref).mean() < 2.0  # JPEG q92 re-encoding
