"""NSD benchmarks on a miniature NSD tree written here in the release's layout, with a small
image brick.

Layout (NSD data manual; the authors' nsdexamples ``matlab/example06_basicbetaloading.m``):
``nsddata/experiments/nsd/nsd_expdesign.mat`` (``masterordering`` (30000,), ``subjectim``
(8, 10000), both 1-based), ``nsd_stim_info_merged.csv`` (one row per 73k image, ``shared1000``),
``nsddata/ppdata/subj01/func1pt8mm/{brainmask,roi/<atlas>}.nii.gz`` with
``nsddata/freesurfer/subj01/label/<atlas>.mgz.ctab``, ``nsddata_betas/.../
betas_fithrf_GLMdenoise_RR/{betas_sessionNN,ncsnr}.nii.gz`` (int16 betas x 300) and
``nsddata_stimuli/stimuli/nsd/nsd_stimuli.hdf5`` whose ``/imgBrick`` holds the images, read one at
a time (example06 l.203: ``h5read(stimfile,'/imgBrick',[1 1 1 id73k],[3 425 425 1])``, i.e.
h5py's ``imgBrick[id73k - 1]`` as height x width x RGB). Here the brick holds N_IMAGES small images
instead of 73 000 of 425 x 425.
"""

from __future__ import annotations

import functools
import json
import tracemalloc

import numpy as np
import pandas as pd
import pytest
import scipy.io as sio

pytest.importorskip("torch")
nib = pytest.importorskip("nibabel")
h5py = pytest.importorskip("h5py")

from neuroalign.bench import commitment_split, load_benchmark, run, tiny_cnn  # noqa: E402
from neuroalign.core.exceptions import ConfigurationError  # noqa: E402

SHAPE = (6, 5, 4)
N_IMAGES = 400  # rows of the synthetic brick (73 000 in the release)
N_SHOWN = 250  # distinct images of subject 1's one session, 3 trials each
ATLASES = {
    "prf-visualrois": ["V1v", "V1d", "V2v", "V2d", "V3v", "V3d", "hV4"],
    "floc-faces": ["OFA", "FFA-1", "FFA-2", "mTL-faces", "aTL-faces"],
    "floc-bodies": ["EBA", "FBA-1", "FBA-2", "mTL-bodies"],
    "floc-places": ["OPA", "PPA", "RSC"],
    "floc-words": ["OWFA", "VWFA-1", "VWFA-2", "mfs-words", "mTL-words"],
    "nsdgeneral": ["nsdgeneral"],
}


def write_nsd_tree(root, rng, side=24):
    """The miniature tree; returns (the 73k ids shown, in trial order; the shared-1000 ids)."""
    subjectim = np.tile(np.arange(1, 10001), (8, 1)) % N_IMAGES + 1
    subjectim[0, :N_SHOWN] = rng.permutation(N_IMAGES)[:N_SHOWN] + 1
    order = np.ones(30000, dtype=np.int64)
    order[:750] = np.tile(np.arange(1, N_SHOWN + 1), 3)[rng.permutation(750)]
    exp = root / "nsddata/experiments/nsd"
    exp.mkdir(parents=True)
    sio.savemat(exp / "nsd_expdesign.mat", {"masterordering": order, "subjectim": subjectim})
    shared_ids = set((subjectim[0, :N_SHOWN][rng.permutation(N_SHOWN)[:60]]).tolist())
    pd.DataFrame(
        {
            "Unnamed: 0": np.arange(N_IMAGES),
            "cocoId": rng.integers(1, 500000, N_IMAGES),
            "cocoSplit": "train2017",
            "nsdId": np.arange(N_IMAGES),
            "shared1000": [k + 1 in shared_ids for k in range(N_IMAGES)],
        }
    ).to_csv(exp / "nsd_stim_info_merged.csv", index=False)
    aff = np.diag([1.8, 1.8, 1.8, 1])
    func = root / "nsddata/ppdata/subj01/func1pt8mm"
    (func / "roi").mkdir(parents=True)
    nib.save(nib.Nifti1Image(np.ones(SHAPE, np.int16), aff), func / "brainmask.nii.gz")
    lab = root / "nsddata/freesurfer/subj01/label"
    lab.mkdir(parents=True)
    n_vox = int(np.prod(SHAPE))
    for atlas, names in ATLASES.items():
        values = (np.arange(n_vox) % (len(names) + 1)).reshape(SHAPE).astype(np.int16)
        values[values == 0] = -1  # NSD marks voxels outside every ROI with -1 / 0
        nib.save(nib.Nifti1Image(values, aff), func / f"roi/{atlas}.nii.gz")
        ctab = "0 Unknown 0 0 0 0\n" + "".join(
            f"{k + 1} {n} {k} {k} {k} 0\n" for k, n in enumerate(names)
        )
        (lab / f"{atlas}.mgz.ctab").write_text(ctab)
    # images: smooth random fields; betas: a linear function of the pixels + noise
    stim_dir = root / "nsddata_stimuli/stimuli/nsd"
    stim_dir.mkdir(parents=True)
    yy, xx = np.mgrid[0:side, 0:side]
    bricks = np.empty((N_IMAGES, side, side, 3), np.uint8)
    for k in range(N_IMAGES):
        f = rng.normal(size=(3, 3))
        base = 128 + 60 * np.sin(xx * f[0, 0] / 3 + f[0, 1]) * np.cos(yy * f[1, 0] / 3 + f[1, 1])
        bricks[k] = np.clip(base[..., None] + 40 * f[2], 0, 255).astype(np.uint8)
    with h5py.File(stim_dir / "nsd_stimuli.hdf5", "w") as f:
        f.create_dataset("imgBrick", data=bricks, chunks=(1, side, side, 3))
    shown = subjectim[0][order[:750] - 1]
    feats = bricks[shown - 1].reshape(750, -1).astype(np.float64)
    feats = (feats - feats.mean(0)) / (feats.std(0) + 1e-6)
    w = rng.normal(size=(feats.shape[1], n_vox)) / np.sqrt(feats.shape[1])
    signal = feats @ w
    betas = (signal + rng.normal(size=signal.shape)) * 300
    bdir = root / "nsddata_betas/ppdata/subj01/func1pt8mm/betas_fithrf_GLMdenoise_RR"
    bdir.mkdir(parents=True)
    vol = np.clip(betas, -32768, 32767).astype(np.int16).T.reshape(*SHAPE, 750)
    nib.save(nib.Nifti1Image(vol, aff), bdir / "betas_session01.nii.gz")
    ncsnr = rng.uniform(0.2, 1.5, SHAPE).astype(np.float32)
    nib.save(nib.Nifti1Image(ncsnr, aff), bdir / "ncsnr.nii.gz")
    return shown, shared_ids, bricks, ncsnr


@pytest.fixture
def nsd_tree(tmp_path, monkeypatch):
    rng = np.random.default_rng(0)
    out = write_nsd_tree(tmp_path / "nsd", rng)
    monkeypatch.setenv("NEUROALIGN_DATA", str(tmp_path))
    return (tmp_path / "nsd", *out)


def test_nsd_benchmark_images_split_and_ncsnr_ceiling(nsd_tree):
    import warnings

    _root, shown, shared_ids, bricks, ncsnr = nsd_tree
    b = load_benchmark("Allen2022.V1-encoding")
    with warnings.catch_warnings():
        warnings.simplefilter("error", FutureWarning)  # no deprecated arguments passed
        data = b.load()
    stim = data.stimuli
    assert stim.kind == "image" and len(stim) == N_SHOWN
    k = int(stim.ids[0][3:])
    assert stim.ids[0] == f"nsd{shown[0]:05d}" and k == shown[0]
    np.testing.assert_array_equal(stim.load_image(0), bricks[k - 1])  # 1-based id, 0-based row
    assert set(data.brain.targets["roi"]) == {"V1v", "V1d"}
    split = commitment_split(b, data)
    test_ids = {int(s[3:]) for s in stim.ids[split.test]}
    assert test_ids == shared_ids  # the shared-1000 images score; the subject's own commit
    # NSD's ncsnr ceiling: every shared image here has 3 trials -> NC = snr^2 / (snr^2 + 1/3)
    t = data.brain.targets
    snr = ncsnr[t["i"], t["j"], t["k"]].astype(np.float64)
    assert data.ceiling == pytest.approx(np.mean(np.sqrt(snr**2 / (snr**2 + 1 / 3))), rel=1e-9)


def test_nsd_images_are_read_one_at_a_time(nsd_tree):
    from neuroalign.data import load_nsd

    root, _shown, _shared, bricks, _ = nsd_tree
    stim, _ = load_nsd(root, 1, atlas="nsdgeneral", keep_repetitions=False, images=True)
    tracemalloc.start()
    for i in range(len(stim)):
        assert stim.load_image(i).shape == bricks.shape[1:]
    assert len(stim.fingerprint) == 64  # hashes every image's pixels, one at a time
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    shown_bytes = len(stim) * bricks[0].nbytes  # 432 KB; the brick itself is 691 KB
    assert peak < shown_bytes / 3, (peak, shown_bytes)


def test_nsd_without_the_brick_refuses_before_reading_betas(nsd_tree):
    root, *_ = nsd_tree
    (root / "nsddata_stimuli/stimuli/nsd/nsd_stimuli.hdf5").unlink()
    with pytest.raises(ConfigurationError, match=r"nsd_stimuli\.hdf5"):
        load_benchmark("Allen2022.V1-encoding").load()


def test_every_nsd_benchmark_scores_an_image_model(nsd_tree, tmp_path):
    bids = [b for b in load_benchmark.__globals__["BENCHMARKS"] if b.startswith("Allen2022.")]
    assert {
        "Allen2022.V1-encoding",
        "Allen2022.V2-encoding",
        "Allen2022.V3-encoding",
        "Allen2022.V4-encoding",
        "Allen2022.faces-encoding",
        "Allen2022.bodies-encoding",
        "Allen2022.places-encoding",
        "Allen2022.words-encoding",
        "Allen2022.nsdgeneral-encoding",
    } == set(bids)
    res = run({"m": functools.partial(tiny_cnn, seed=0)}, bids, store=tmp_path / "s", quiet=True)
    t = res.table
    scores = t[t.statistic == "score"].set_index("benchmark")
    assert set(scores.index) == set(bids)
    assert np.isfinite(scores["value"]).all() and np.isfinite(scores["ceiling_high"]).all()
    assert (scores["value"] > 0.05).all()  # the betas are linear in the pixels: a model sees it


@pytest.mark.slow
def test_cli_bench_run_efficientnet_on_synthetic_nsd(nsd_tree, tmp_path):
    pytest.importorskip("efficientnet_lite_pytorch")
    from typer.testing import CliRunner

    from neuroalign.cli import app

    out = tmp_path / "nsd.npz"
    res = CliRunner().invoke(
        app,
        [
            "bench",
            "run",
            "efficientnet_lite:lite0",
            "-b",
            "Allen2022.*",
            "--layers",
            "_blocks.15",
            "--reduce",
            "avgpool",
            "--out",
            str(out),
            "--store",
            str(tmp_path / "s"),
        ],
    )
    assert res.exit_code == 0, res.output
    from neuroalign.core import load_result

    t = load_result(out).table
    scores = t[t.statistic == "score"]
    assert len(scores) == 9 and np.isfinite(scores["value"]).all()
    json.dumps(scores["value"].tolist())
