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


def _layout(root, rng, ext=".nii.gz"):
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
    mask = np.ones(SHAPE, np.int16)
    mask[0, 0, 0] = 0
    nib.save(nib.Nifti1Image(mask, aff), func / "brainmask.nii.gz")
    roi = np.zeros(SHAPE, np.int16)
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
    all_b = rng.integers(-3000, 3000, size=(*SHAPE, n)).astype(np.int16)
    for s in range(N_SESS):
        img = nib.Nifti1Image(all_b[..., s * 750 : (s + 1) * 750], aff)
        nib.save(img, betas / f"betas_session{s + 1:02d}{ext}")
    return subjectim[0][order[:n] - 1], all_b


@pytest.mark.parametrize("ext", [".nii.gz", ".nii"])
def test_nsd_reader_recovers_trials_rois_and_ids(tmp_path, rng, ext):
    shown, betas = _layout(tmp_path, rng, ext)
    stim, resp = load_nsd(tmp_path, 1, roi="prf-visualrois")
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
    _, avg = load_nsd(tmp_path, 1, roi="prf-visualrois", labels=["V1d"], keep_repetitions=False)
    assert avg.rois == ["V1d"] and avg.repetitions is None
    np.testing.assert_allclose(avg.data, resp.roi("V1d").data, rtol=1e-5, atol=1e-6)
    # two sessions only: fewer repetitions, read from those files
    _, two = load_nsd(tmp_path, 1, roi=None, sessions=[1, 2], out=tmp_path / "out.npy")
    assert two.n_targets == np.prod(SHAPE) - 1
    assert two.n_stimuli == len(np.unique(shown[:1500]))
    assert sum(two.meta["sessions"]) == 3
    assert isinstance(np.load(tmp_path / "out.npy", mmap_mode="r"), np.ndarray)


def test_nsd_reader_errors(tmp_path, rng):
    _layout(tmp_path, rng)
    with pytest.raises(ConfigurationError, match=r"not in prf-visualrois.*V1d"):
        load_nsd(tmp_path, 1, labels=["V4"])
    with pytest.raises(ValidationError, match=r"session 4 not found.*fetch_dataset"):
        load_nsd(tmp_path, 1, sessions=[1, 4])
    p = (
        tmp_path
        / "nsddata_betas/ppdata/subj01/func1pt8mm/betas_fithrf_GLMdenoise_RR/betas_session02.nii.gz"
    )
    p.write_bytes(p.read_bytes()[:2000])
    with pytest.raises(ValidationError, match=r"betas_session02\.nii\.gz.*truncated"):
        load_nsd(tmp_path, 1)
