"""RDM files: rsatoolbox .mat structs, .npy/.npz stacks, rsatoolbox HDF5, our .npz."""

import numpy as np
import pandas as pd
import pytest
from scipy.io import savemat
from scipy.spatial.distance import squareform

from neuroalign import RDMs
from neuroalign.compare import bootstrap_rsa, load_rdms, save_rdms
from neuroalign.core.exceptions import ShapeError, ValidationError
from neuroalign.data import load_kriegeskorte92


def test_rsatoolbox_matlab_structs_of_the_92_images(shared_data):
    k92 = load_kriegeskorte92()
    brain = load_rdms(shared_data / "kriegeskorte92" / "92_brainRDMs.mat")
    assert brain.n_rdms == 8 and brain.n_stimuli == 92 and not brain.meta["ids_in_file"]
    d = brain.descriptors
    assert d["subject"].nunique() == 4 and sorted(d["session"].unique()) == [1, 2]
    assert set(d["roi"]) == {"hIT"} and d["name"].iloc[0] == "hIT | BE | Session: 1"
    # the bundled copy was converted from the same file (subject-major order)
    order = np.lexsort(
        (d["session"].to_numpy(), d["subject"].map(list(pd.unique(d["subject"])).index))
    )
    np.testing.assert_allclose(
        brain.dissimilarities[order], k92.human_it.dissimilarities, atol=1e-6
    )
    models = load_rdms(shared_data / "kriegeskorte92" / "92_modelRDMs.mat")
    assert models.descriptors["name"].tolist() == k92.models.descriptors["model"].tolist()
    np.testing.assert_allclose(models.dissimilarities, k92.models.dissimilarities)
    # sessions of a subject are pooled: 4 subjects
    brain = load_rdms(
        shared_data / "kriegeskorte92" / "92_brainRDMs.mat", stimulus_ids=k92.stimuli.ids
    )
    res = bootstrap_rsa(k92.models, brain, n_boot=20, quiet=True)
    assert res.table["n"].iloc[0] == 4


def test_hdf5_written_by_rsatoolbox(tmp_path, rng):
    rsatoolbox = pytest.importorskip("rsatoolbox")
    vecs = rng.random((3, 10))
    theirs = rsatoolbox.rdm.RDMs(
        vecs,
        dissimilarity_measure="crossnobis",
        rdm_descriptors={"subject": ["a", "b", "c"], "session": [1, 1, 2]},
        pattern_descriptors={"stim": [f"im{i}" for i in range(5)]},
    )
    theirs.save(str(tmp_path / "r.h5"), file_type="hdf5", overwrite=True)
    ours = load_rdms(tmp_path / "r.h5")
    np.testing.assert_array_equal(ours.dissimilarities, theirs.get_vectors())
    assert ours.stimulus_ids.tolist() == [f"im{i}" for i in range(5)] and ours.meta["ids_in_file"]
    assert ours.metric == "crossnobis"
    assert ours.descriptors["subject"].tolist() == ["a", "b", "c"]
    assert ours.descriptors["session"].tolist() == [1, 1, 2]
    with pytest.raises(ValidationError, match="pattern_descriptor='nope' is not in the file"):
        load_rdms(tmp_path / "r.h5", pattern_descriptor="nope")


def test_npy_square_and_condensed_stacks(tmp_path, rng):
    vecs = rng.random((4, 15))
    square = np.stack([squareform(v) for v in vecs])
    np.save(tmp_path / "sq.npy", square)
    np.save(tmp_path / "one.npy", square[0])
    np.save(tmp_path / "cond.npy", vecs)
    np.testing.assert_array_equal(load_rdms(tmp_path / "sq.npy").dissimilarities, vecs)
    np.testing.assert_array_equal(load_rdms(tmp_path / "one.npy").dissimilarities, vecs[:1])
    got = load_rdms(tmp_path / "cond.npy", stimulus_ids=list("abcdef"))
    np.testing.assert_array_equal(got.dissimilarities, vecs)
    assert got.stimulus_ids.tolist() == list("abcdef")
    assert load_rdms(tmp_path / "sq.npy").descriptors["subject"].tolist() == [0, 1, 2, 3]


def test_algonauts_style_files_with_one_array_per_roi(tmp_path, rng):
    evc = np.stack([squareform(v) for v in rng.random((3, 10))])
    it = np.stack([squareform(v) for v in rng.random((3, 10))])
    for path in (tmp_path / "rdms.mat", tmp_path / "rdms.npz"):
        if path.suffix == ".mat":
            savemat(path, {"EVC_RDMs": evc, "IT_RDMs": it})
        else:
            np.savez(path, EVC_RDMs=evc, IT_RDMs=it)
        got = load_rdms(path)
        assert (
            got.n_rdms == 6
            and got.descriptors["variable"].tolist() == ["EVC_RDMs"] * 3 + ["IT_RDMs"] * 3
        )
        np.testing.assert_allclose(got.square()[3], it[0])


def test_our_npz_round_trip(tmp_path, rng):
    rdms = RDMs(
        rng.random((2, 6)),
        ["w", "x", "y", "z"],
        pd.DataFrame({"subject": ["s1", "s2"], "roi": ["IT", "IT"]}),
        metric="euclidean",
        meta={"roi": "IT"},
    )
    back = load_rdms(save_rdms(rdms, tmp_path / "r"))
    np.testing.assert_array_equal(back.dissimilarities, rdms.dissimilarities)
    assert back.stimulus_ids.tolist() == ["w", "x", "y", "z"] and back.metric == "euclidean"
    pd.testing.assert_frame_equal(back.descriptors, rdms.descriptors, check_dtype=False)
    assert back.meta["roi"] == "IT"


def test_bad_rdm_files_are_clear_errors(tmp_path, rng):
    (tmp_path / "r.txt").write_text("1 2 3")
    with pytest.raises(ValidationError, match=r"use \.mat, \.npy, \.npz or \.h5"):
        load_rdms(tmp_path / "r.txt")
    with pytest.raises(ValidationError, match="does not exist"):
        load_rdms(tmp_path / "missing.npy")
    np.save(tmp_path / "bad.npy", rng.random((2, 7)))
    with pytest.raises(ShapeError, match="neither square RDMs"):
        load_rdms(tmp_path / "bad.npy")
    asym = rng.random((2, 4, 4))
    np.save(tmp_path / "asym.npy", asym)
    with pytest.raises(ValidationError, match="must be symmetric"):
        load_rdms(tmp_path / "asym.npy")
    np.save(tmp_path / "ok.npy", rng.random((1, 6)))
    with pytest.raises(ShapeError, match="stimulus_ids has 3 ids but the RDMs"):
        load_rdms(tmp_path / "ok.npy", stimulus_ids=["a", "b", "c"])
    (tmp_path / "trunc.npz").write_bytes(b"PK\x03\x04 truncated")
    with pytest.raises(ValidationError, match="cannot read RDMs"):
        load_rdms(tmp_path / "trunc.npz")


def _write_matlab_v73(path, variables):
    """A MATLAB v7.3 file as MATLAB writes it: HDF5 behind a 512-byte text userblock, each array
    stored column-major (so HDF5 sees the axes reversed) and tagged with ``MATLAB_class``."""
    h5py = pytest.importorskip("h5py")
    with h5py.File(path, "w", userblock_size=512) as f:
        for name, value in variables.items():
            ds = f.create_dataset(name, data=np.ascontiguousarray(np.asarray(value).T))
            ds.attrs["MATLAB_class"] = np.bytes_("double")
    header = b"MATLAB 7.3 MAT-file, Platform: GLNXA64, Created on: Mon Jan  1 00:00:00 2019 HDF5 schema 1.00 ."
    header = header.ljust(116, b" ") + b"\x00" * 8 + b"\x00\x02" + b"IM"
    with open(path, "r+b") as fh:
        fh.write(header.ljust(512, b"\x00"))


@pytest.mark.parametrize("version", ["v7", "v7.3"])
def test_algonauts2019_target_fmri_one_roi_per_variable(tmp_path, rng, version):
    # Algonauts 2019 Testing/<92|118>/target_fmri.mat: EVC_RDMs and IT_RDMs, 15 subjects x n x n
    # in MATLAB's order; participants read the v7.3 release as np.transpose(h5py dataset)
    # (dnn-hvs/Algonauts-Challange, Testing/test.py l.11) and took target['EVC_RDMs'][subject].
    n, k = 12, 15
    evc = np.stack([squareform(v) for v in rng.random((k, n * (n - 1) // 2))])
    it = np.stack([squareform(v) for v in rng.random((k, n * (n - 1) // 2))])
    path = tmp_path / "target_fmri.mat"
    if version == "v7":
        savemat(path, {"EVC_RDMs": evc, "IT_RDMs": it})
    else:
        _write_matlab_v73(path, {"EVC_RDMs": evc, "IT_RDMs": it})
        assert path.read_bytes()[:10] == b"MATLAB 7.3"
    got = load_rdms(path)
    assert got.n_rdms == 2 * k
    assert got.descriptors["roi"].tolist() == ["EVC"] * k + ["IT"] * k
    assert got.descriptors["subject"].tolist() == list(range(k)) * 2
    # the peers' plain reads of the same file
    if version == "v7":
        from scipy.io import loadmat

        plain = loadmat(path)
        ref = {r: plain[f"{r}_RDMs"] for r in ("EVC", "IT")}
    else:
        import h5py

        with h5py.File(path, "r") as f:
            ref = {r: np.transpose(f[f"{r}_RDMs"][()]) for r in ("EVC", "IT")}
    for roi in ("EVC", "IT"):
        mine = got.subset((got.descriptors["roi"] == roi).to_numpy())
        np.testing.assert_array_equal(mine.square(), ref[roi])
    from neuroalign.compare._tables import _by_roi

    assert sorted(_by_roi(got)) == ["EVC", "IT"]


def test_matlab_v73_without_rdm_arrays_is_a_clear_error(tmp_path):
    path = tmp_path / "x.mat"
    _write_matlab_v73(path, {"scalar": np.array([[1.0]])})
    with pytest.raises(ValidationError, match=r"v7\.3 .* without numeric RDM arrays"):
        load_rdms(path)
