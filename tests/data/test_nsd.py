"""The lazy NSD reader on a miniature NSD layout written here (known betas, design and ROIs)."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.io as sio

from neuroalign.core.exceptions import ConfigurationError, ValidationError

nib = pytest.importorskip("nibabel")
from neuroalign.data import load_nsd  # noqa: E402

SHAPE = (4, 3, 2)
N_SESS = 3


def _layout(root, rng, ext=".nii.gz", shape=SHAPE):
    subjectim = np.tile(np.arange(1, 10001), (8, 1))
    subjectim[0] = rng.permutation(73000)[:10000] + 1
    order = np.zeros(30000, dtype=np.int64)
    n = N_SESS * 750  # 750 distinct images in the first 3 sessions, each shown 3 times
    order[:n] = np.tile(np.arange(1, 751), 3)[rng.permutation(n)]
    order[n:] = 1
    exp = root / "nsddata/experiments/nsd"
    exp.mkdir(parents=True)
    sio.savemat(exp / "nsd_expdesign.mat", {"masterordering": order, "subjectim": subjectim})
    func = root / "nsddata/ppdata/subj01/func1pt8mm"
    (func / "roi").mkdir(parents=True)
    aff = np.diag([1.8, 1.8, 1.8, 1])
    mask = np.ones(shape, np.int16)
    mask[0, 0, 0] = 0
    nib.save(nib.Nifti1Image(mask, aff), func / "brainmask.nii.gz")
    roi = np.zeros(shape, np.int16)
    roi[1, :, 0], roi[2, 0, :] = 1, 2
    roi[0, 0, 0] = 1  # outside the brain mask: not read
    nib.save(nib.Nifti1Image(roi, aff), func / "roi/prf-visualrois.nii.gz")
    lab = root / "nsddata/freesurfer/subj01/label"
    lab.mkdir(parents=True)
    (lab / "prf-visualrois.mgz.ctab").write_text(
        "0 Unknown 0 0 0 0\n1 V1v 1 1 1 0\n2 V1d 2 2 2 0\n"
    )
    betas = root / "nsddata_betas/ppdata/subj01/func1pt8mm/betas_fithrf_GLMdenoise_RR"
    betas.mkdir(parents=True)
    all_b = rng.integers(-3000, 3000, size=(*shape, n)).astype(np.int16)
    for s in range(N_SESS):
        img = nib.Nifti1Image(all_b[..., s * 750 : (s + 1) * 750], aff)
        nib.save(img, betas / f"betas_session{s + 1:02d}{ext}")
    return subjectim[0][order[:n] - 1], all_b


@pytest.mark.parametrize("ext", [".nii.gz", ".nii"])
def test_nsd_reader_recovers_trials_rois_and_ids(tmp_path, rng, ext):
    shown, betas = _layout(tmp_path, rng, ext)
    stim, resp = load_nsd(tmp_path, 1, atlas="prf-visualrois")
    assert len(stim) == 750 and resp.n_reps == 3
    assert sorted(set(resp.rois)) == ["V1d", "V1v"] and resp.n_targets == 3 + 2
    # stimulus 0 is the first image shown; its three trials in order
    first = shown[0]
    assert stim.ids[0] == f"nsd{first:05d}"
    trials = np.flatnonzero(shown == first)
    t = resp.targets.iloc[0]
    expect = betas[t["i"], t["j"], t["k"], trials] / 300.0
    np.testing.assert_allclose(resp.repetitions[:, 0, 0], expect, rtol=1e-6)
    np.testing.assert_allclose(resp.data[0, 0], expect.mean(), rtol=1e-5)
    _, avg = load_nsd(tmp_path, 1, rois=["V1d"], keep_repetitions=False)
    assert avg.rois == ["V1d"] and avg.repetitions is None
    np.testing.assert_allclose(avg.data, resp.roi("V1d").data, rtol=1e-5, atol=1e-6)
    # two sessions only: fewer repetitions, read from those files
    _, two = load_nsd(tmp_path, 1, atlas=None, sessions=[1, 2], out=tmp_path / "out.npy")
    assert two.n_targets == np.prod(SHAPE) - 1
    assert two.n_stimuli == len(np.unique(shown[:1500]))
    assert sum(two.meta["sessions"]) == 3
    on_disk = np.load(tmp_path / "out.npy", mmap_mode="r")
    np.testing.assert_array_equal(on_disk, two.repetitions)
    np.testing.assert_array_equal(np.load(tmp_path / "out.average.npy"), two.data)
    assert two.meta["files"]["data"] == str(tmp_path / "out.average.npy")
    assert not list(tmp_path.glob(".*.tmp"))


def test_nsd_reader_errors(tmp_path, rng):
    _layout(tmp_path, rng)
    with pytest.raises(ConfigurationError, match=r"rois \['V4'\] not in atlas prf-visualrois.*V1d"):
        load_nsd(tmp_path, 1, rois=["V4"])
    with pytest.raises(ConfigurationError, match="needs an atlas"):
        load_nsd(tmp_path, 1, atlas=None, rois=["V1d"])
    with pytest.raises(ValidationError, match=r"out .*the folder .*nowhere.* does not exist"):
        load_nsd(tmp_path, 1, out=tmp_path / "nowhere" / "x.npy")
    with pytest.raises(ValidationError, match=r"out .* must end with '\.npy'"):
        load_nsd(tmp_path, 1, out=tmp_path / "x.npz")
    with pytest.raises(ValidationError, match=r"session 4 not found.*fetch_dataset"):
        load_nsd(tmp_path, 1, sessions=[1, 4])
    p = (
        tmp_path
        / "nsddata_betas/ppdata/subj01/func1pt8mm/betas_fithrf_GLMdenoise_RR/betas_session02.nii.gz"
    )
    p.write_bytes(p.read_bytes()[:2000])
    with pytest.raises(ValidationError, match=r"betas_session02\.nii\.gz.*truncated"):
        load_nsd(tmp_path, 1)


def test_nsd_old_keywords_warn_and_still_work(tmp_path, rng):
    """``labels`` meant ROI names here but stimulus ids in load_fmri: now ``rois`` (and the ROI
    file is the ``atlas``); the old keywords warn, saying what to write, and give the same data."""
    _layout(tmp_path, rng)
    _, new = load_nsd(tmp_path, 1, atlas="prf-visualrois", rois=["V1d"], keep_repetitions=False)
    with pytest.warns(FutureWarning, match=r"load_nsd\(labels=\.\.\.\) is deprecated.*rois="):
        _, old = load_nsd(tmp_path, 1, labels=["V1d"], keep_repetitions=False)
    np.testing.assert_array_equal(old.data, new.data)
    with pytest.warns(FutureWarning, match=r"load_nsd\(roi=\.\.\.\).*atlas="):
        _, old = load_nsd(tmp_path, 1, roi=None, keep_repetitions=False)
    assert old.n_targets == np.prod(SHAPE) - 1
    with pytest.raises(ConfigurationError, match="both rois= and its old name labels="):
        load_nsd(tmp_path, 1, rois=["V1d"], labels=["V1v"])


def _file_backed(arr):
    while arr is not None:
        if isinstance(arr, np.memmap):
            return True
        arr = getattr(arr, "base", None)
    return False


def test_nsd_out_is_memory_mapped_in_bounded_memory(tmp_path, rng, monkeypatch):
    """With ``out=`` neither the repetitions nor the averages are held in memory: the peak is one
    session's betas plus a block, well under the 7.8 MB of averages (the old reader kept those in
    RAM, plus full-size NaN/finite masks)."""
    import tracemalloc

    from neuroalign.core import _responses
    from neuroalign.data import _nsd

    monkeypatch.setattr(_nsd, "_BLOCK_BYTES", 2**20)  # block budgets far below the outputs
    monkeypatch.setattr(_responses, "_BLOCK_BYTES", 2**20)
    shape = (26, 26, 4)  # 2704 voxels x 750 images x 3 repetitions
    _layout(tmp_path, rng, ".nii", shape=shape)
    n_vox = np.prod(shape) - 1
    avg_bytes = 750 * n_vox * 4
    tracemalloc.start()
    try:
        _, resp = load_nsd(tmp_path, 1, atlas=None, out=tmp_path / "subj01.npy")
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    session_bytes = 750 * n_vox * 4  # one session's float32 betas, read before the next
    assert peak < session_bytes + 0.35 * avg_bytes, f"peak {peak / 2**20:.1f} MiB"
    for arr in (resp.data, resp.repetitions):
        assert _file_backed(arr)
        assert not arr.flags.writeable
    _, ram = load_nsd(tmp_path, 1, atlas=None)
    np.testing.assert_allclose(resp.data, ram.data, rtol=1e-6)
    np.testing.assert_array_equal(resp.repetitions, ram.repetitions)
