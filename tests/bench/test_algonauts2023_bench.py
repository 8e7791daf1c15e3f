"""Algonauts 2023 benchmarks on a miniature tree in the challenge's layout, with NSD's files for
the ceiling.

Layout (gifale95/algonauts_2023 ``code/01_challenge_data_preparation/
challenge_data_preparation.py``): ``subjNN/training_split/training_fmri/<hemi>_training_fmri.npy``
(float32, training images x challenge vertices, l.196-203), ``subjNN/training_split/
training_images/train-<i+1:04d>_nsd-<0-based 73k index:05d>.png`` over the sorted unique training
images (l.350-358), ``subjNN/roi_masks/<hemi>.all-vertices_fsaverage_space.npy`` (163842 ints,
nonzero at the challenge's vertices, l.172-180); training = the trials of the first
``completed - 3`` sessions (l.54-73). NSD: ``nsddata/experiments/nsd/nsd_expdesign.mat``
(1-based ``masterordering`` and ``subjectim``) and ``nsddata_betas/ppdata/subjNN/fsaverage/
betas_fithrf_GLMdenoise_RR/<hemi>.ncsnr.mgh`` (163842 vertices, l.228-236). Here the subject
has 4 "completed" sessions (so 1 training session of 750 trials) instead of 40, and 350 small
training images.
"""

from __future__ import annotations

import functools

import numpy as np
import pytest
import scipy.io as sio

pytest.importorskip("torch")
nib = pytest.importorskip("nibabel")
PIL = pytest.importorskip("PIL.Image")

from neuroalign.bench import load_benchmark, run, tiny_cnn  # noqa: E402
from neuroalign.core.exceptions import ConfigurationError  # noqa: E402

N_FSAVERAGE = 163842
N_VERTICES = 40
SIDE = 16


def write_tree(data, rng):
    """The miniature tree; returns {hemi: (vertices, ncsnr at them)} and the trial counts of
    the training images (sorted by 0-based 73k index)."""
    # 350 training images: 150 with 3 trials, 100 with 2, 100 with 1 (750 trials: 1 session)
    counts = np.repeat([3, 2, 1], [150, 100, 100])
    positions = np.repeat(np.arange(1, 351), counts)  # 1-based positions in subjectim
    order = np.ones(30000, dtype=np.int64)
    order[:750] = positions[rng.permutation(750)]
    order[750:] = rng.integers(351, 10001, 30000 - 750)  # later (test) sessions: other images
    subjectim = np.tile(np.arange(1, 10001), (8, 1))
    ids73k = rng.permutation(73000)[:10000] + 1
    subjectim[0] = ids73k  # subject 1's 10k images (1-based 73k ids)
    exp = data / "nsd/nsddata/experiments/nsd"
    exp.mkdir(parents=True)
    sio.savemat(exp / "nsd_expdesign.mat", {"masterordering": order, "subjectim": subjectim})
    index0 = ids73k[:350] - 1  # 0-based, as the challenge names them
    sort = np.argsort(index0)
    root = data / "algonauts2023/subj01"
    img_dir = root / "training_split/training_images"
    img_dir.mkdir(parents=True)
    pixels = rng.integers(0, 256, (350, SIDE, SIDE, 3), dtype=np.uint8)
    for i, k in enumerate(index0[sort]):
        PIL.fromarray(pixels[sort[i]]).save(img_dir / f"train-{i + 1:04d}_nsd-{k:05d}.png")
    (root / "training_split/training_fmri").mkdir(parents=True)
    (root / "roi_masks").mkdir()
    feats = pixels[sort].reshape(350, -1).astype(np.float64)
    feats = (feats - feats.mean(0)) / feats.std(0)
    truth = {}
    ncsnr_dir = data / "nsd/nsddata_betas/ppdata/subj01/fsaverage/betas_fithrf_GLMdenoise_RR"
    ncsnr_dir.mkdir(parents=True)
    for hemi in ("lh", "rh"):
        y = feats @ rng.normal(size=(feats.shape[1], N_VERTICES)) / 30 + rng.normal(
            size=(350, N_VERTICES)
        )
        np.save(root / f"training_split/training_fmri/{hemi}_training_fmri.npy", y.astype("f4"))
        mask = np.zeros(N_FSAVERAGE, dtype=np.int64)
        vertices = np.sort(rng.choice(N_FSAVERAGE, N_VERTICES, replace=False))
        mask[vertices] = rng.integers(1, 3, N_VERTICES)  # nsdgeneral + RSC: 1 or 2
        np.save(root / f"roi_masks/{hemi}.all-vertices_fsaverage_space.npy", mask)
        ncsnr = rng.uniform(0.0, 1.2, N_FSAVERAGE).astype(np.float32)
        nib.save(
            nib.MGHImage(ncsnr.reshape(N_FSAVERAGE, 1, 1), np.eye(4)),
            ncsnr_dir / f"{hemi}.ncsnr.mgh",
        )
        truth[hemi] = (vertices, ncsnr[vertices].astype(np.float64))
    return truth, counts[sort], index0[sort]


@pytest.fixture
def tree(tmp_path, monkeypatch):
    import neuroalign.data._fetch as fetch

    # 4 "completed" sessions for every subject: the last 3 are the test split, 1 trains
    monkeypatch.setitem(fetch.NSD_SESSIONS, 1, 4)
    monkeypatch.setenv("NEUROALIGN_DATA", str(tmp_path))
    return (tmp_path, *write_tree(tmp_path, np.random.default_rng(0)))


def test_algonauts2023_ncsnr_ceiling_on_the_challenge_vertices(tree, tmp_path):
    _data, truth, counts, _ = tree
    b = load_benchmark("Algonauts2023.lh-encoding")
    data = b.load()
    _vertices, snr = truth["lh"]
    noise = np.mean(1.0 / counts)  # (A/3 + B/2 + C/1) / (A + B + C), the challenge's norm_term
    expected = np.mean(np.sqrt(snr**2 / (snr**2 + noise)))
    assert data.ceiling == pytest.approx(expected, rel=1e-9)
    assert "1/2/3 trials: [100, 100, 150]" in data.info["ceiling"]
    with pytest.warns(UserWarning, match=r"7 of 8 subjects excluded"):
        res = run(
            {"m": functools.partial(tiny_cnn, seed=0)},
            b,
            layers=["conv2"],
            store=tmp_path / "s",
            quiet=True,
        )
    t = res.table
    score = t[t.statistic == "score"].iloc[0]
    ceiled = t[t.statistic == "ceiled"]["value"].iloc[0]
    assert score["ceiling_high"] == pytest.approx(expected, rel=1e-9)
    assert np.isfinite(ceiled) and ceiled == pytest.approx(score["value"] / expected, rel=1e-9)


def test_algonauts2023_without_nsd_files_is_raw_and_says_why(tree):
    data_dir, *_ = tree
    f = data_dir / "nsd/nsddata_betas/ppdata/subj01/fsaverage/betas_fithrf_GLMdenoise_RR"
    (f / "rh.ncsnr.mgh").unlink()
    data = load_benchmark("Algonauts2023.rh-encoding").load()
    assert data.ceiling is None
    assert "rh.ncsnr.mgh" in data.info["ceiling"] and "raw" in data.info["ceiling"]


def test_algonauts2023_fetch_list_names_the_training_images(tree):
    from neuroalign.data import DATASETS, fetch_dataset
    from neuroalign.data._fetch import algonauts2023_training_images

    data_dir, _truth, _counts, index0 = tree
    listed = [f.path for f in algonauts2023_training_images(data_dir) if f.subject == "subj01"]
    on_disk = sorted(
        p.relative_to(data_dir / "algonauts2023").as_posix()
        for p in (data_dir / "algonauts2023/subj01/training_split/training_images").glob("*.png")
    )
    assert listed == on_disk and len(listed) == len(index0)
    assert DATASETS["algonauts2023"].derived is algonauts2023_training_images
    paths = [f.path for f in DATASETS["algonauts2023"].files]
    assert "subj01/roi_masks/lh.all-vertices_fsaverage_space.npy" in paths
    nsd = [f.path for f in DATASETS["nsd"].files]
    assert "nsddata_betas/ppdata/subj01/fsaverage/betas_fithrf_GLMdenoise_RR/lh.ncsnr.mgh" in nsd
    # without NSD's design a whole fetch says what to fetch first (before any download)
    (data_dir / "nsd/nsddata/experiments/nsd/nsd_expdesign.mat").unlink()
    with pytest.raises(ConfigurationError, match=r"nsd_expdesign\.mat"):
        fetch_dataset("algonauts2023", accept_terms=True, base_url="http://127.0.0.1:9/")
