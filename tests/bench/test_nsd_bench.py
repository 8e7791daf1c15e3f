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


def _write_subject(root, rng, subject, shown, bricks):
    """One subject's func1pt8mm ROIs, labels, session-1 betas (linear in the pixels of the
    images ``shown`` (73k ids, 1-based, in trial order) + noise) and ncsnr; returns the ncsnr."""
    subj = f"subj{subject:02d}"
    aff = np.diag([1.8, 1.8, 1.8, 1])
    func = root / f"nsddata/ppdata/{subj}/func1pt8mm"
    (func / "roi").mkdir(parents=True)
    nib.save(nib.Nifti1Image(np.ones(SHAPE, np.int16), aff), func / "brainmask.nii.gz")
    lab = root / f"nsddata/freesurfer/{subj}/label"
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
    feats = bricks[shown - 1].reshape(len(shown), -1).astype(np.float64)
    feats = (feats - feats.mean(0)) / (feats.std(0) + 1e-6)
    w = rng.normal(size=(feats.shape[1], n_vox)) / np.sqrt(feats.shape[1])
    signal = feats @ w
    betas = (signal + rng.normal(size=signal.shape)) * 300
    bdir = root / f"nsddata_betas/ppdata/{subj}/func1pt8mm/betas_fithrf_GLMdenoise_RR"
    bdir.mkdir(parents=True)
    vol = np.clip(betas, -32768, 32767).astype(np.int16).T.reshape(*SHAPE, len(shown))
    nib.save(nib.Nifti1Image(vol, aff), bdir / "betas_session01.nii.gz")
    ncsnr = rng.uniform(0.2, 1.5, SHAPE).astype(np.float32)
    nib.save(nib.Nifti1Image(ncsnr, aff), bdir / "ncsnr.nii.gz")
    return ncsnr


def write_nsd_tree(root, rng, side=24, subjects=(1,)):
    """The miniature tree; returns (subject 1's 73k ids shown, in trial order; the shared-1000
    ids; the image brick; subject 1's ncsnr). Further ``subjects`` see the same shared images
    (as in NSD) and 190 other images each, in the same ``masterordering``."""
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
    ncsnr = _write_subject(root, rng, 1, shown, bricks)
    shared = np.array(sorted(shared_ids))
    own = np.setdiff1d(np.arange(1, N_IMAGES + 1), shared)
    for s in subjects:
        if s == 1:
            continue
        ims = np.concatenate([shared, rng.permutation(own)[: N_SHOWN - len(shared)]])
        subjectim[s - 1, :N_SHOWN] = rng.permutation(ims)
        _write_subject(root, rng, s, subjectim[s - 1][order[:750] - 1], bricks)
    sio.savemat(exp / "nsd_expdesign.mat", {"masterordering": order, "subjectim": subjectim})
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


# --------------------------------------------------------------------------- across subjects


@pytest.fixture
def nsd_two_subjects(tmp_path, monkeypatch):
    rng = np.random.default_rng(1)
    write_nsd_tree(tmp_path / "nsd", rng, subjects=(1, 2))
    monkeypatch.setenv("NEUROALIGN_DATA", str(tmp_path))
    return tmp_path / "nsd"


def _one_subject(b, subject):
    """The same benchmark restricted to one subject (what a user would run per subject)."""
    import dataclasses

    return dataclasses.replace(b, loader=functools.partial(b.loader, subject=subject), subjects=())


def test_nsd_across_subjects_is_the_mean_of_the_per_subject_scores(nsd_two_subjects, tmp_path):
    from scipy import stats

    from neuroalign.report import leaderboard_table, write_leaderboard

    b = load_benchmark("Allen2022.V1-encoding")
    model = {"m": functools.partial(tiny_cnn, seed=0)}
    layers = ["conv1", "conv2", "conv3"]
    with pytest.warns(UserWarning, match=r"6 of 8 subjects excluded.*subj03"):
        res = run(model, b, layers=layers, store=tmp_path / "s", quiet=True)
    t = res.table
    # each subject on its own, computed separately (own store: nothing shared with the run)
    alone = {
        s: run(model, _one_subject(b, s), layers=layers, store=tmp_path / f"a{s}", quiet=True)
        for s in (1, 2)
    }
    curve = {
        s: a.table[(a.table.statistic == "layer_score")].set_index(["layer", "split"])["value"]
        for s, a in alone.items()
    }
    mean_curve = t[t.statistic == "layer_score"].set_index(["layer", "split"])["value"]
    assert len(mean_curve) == 2 * len(layers)  # commit + test per layer, subjects averaged
    np.testing.assert_allclose(
        mean_curve.sort_index(), ((curve[1] + curve[2]) / 2).sort_index(), rtol=1e-12
    )
    commit = (curve[1] + curve[2]).xs("commit", level="split")
    committed = commit.index[int(np.argmax(commit.to_numpy()))]
    score = t[t.statistic == "score"].iloc[0]
    assert score["layer"] == committed and score["subject"] == "" and score["n"] == 2
    per = [curve[s][(committed, "test")] for s in (1, 2)]
    assert score["value"] == pytest.approx(np.mean(per), rel=1e-12)
    half = stats.t.ppf(0.975, 1) * np.std(per, ddof=1) / np.sqrt(2)
    assert (score["ci_low"], score["ci_high"]) == pytest.approx(
        (np.mean(per) - half, np.mean(per) + half), rel=1e-12
    )
    # per-subject rows: each subject's own number and ceiling, and the ceiled mean
    sub = t[t.statistic == "subject_score"].set_index("subject")
    assert list(sub.index) == ["subj01", "subj02"]
    ceilings = {
        s: alone[s].table.query("statistic == 'score'")["ceiling_high"].iloc[0] for s in (1, 2)
    }
    for s in (1, 2):
        assert sub.loc[f"subj0{s}", "value"] == pytest.approx(per[s - 1], rel=1e-12)
        assert sub.loc[f"subj0{s}", "ceiling_high"] == pytest.approx(ceilings[s], rel=1e-12)
    assert ceilings[1] != pytest.approx(ceilings[2])  # the subjects really differ
    ceiled = t[t.statistic == "ceiled"]["value"].iloc[0]
    assert ceiled == pytest.approx(np.mean([per[i] / ceilings[i + 1] for i in (0, 1)]), rel=1e-12)
    # the excluded subjects are reported with their reason, the scored ones listed
    info = res.params["data_info"]["Allen2022.V1-encoding"]
    assert info["subjects"] == ["subj01", "subj02"]
    assert sorted(info["excluded_subjects"]) == [f"subj0{k}" for k in range(3, 9)]
    assert "subj03" in info["excluded_subjects"]["subj03"]
    # one leaderboard row per model x benchmark, from the across-subject rows
    board = leaderboard_table(res)
    assert len(board) == 1 and board["raw"].iloc[0] == pytest.approx(np.mean(per), rel=1e-12)
    page = write_leaderboard(res, tmp_path / "board.html").read_text()
    assert "excluded_subjects" in page and "subj08" in page  # on the benchmark's card
    # the store: one cell per subject x layer, distinct keys, all served on a re-run
    assert len(set(t[t.statistic == "subject_layer_score"]["cell"])) == 2 * len(layers)
    again = run(model, b, layers=layers, store=tmp_path / "s", quiet=True)
    assert again.params["timing"]["n_cells_computed"] == 0
    pd.testing.assert_frame_equal(again.table, t, check_exact=True)


def test_nsd_with_no_subject_fetched_says_which_are_missing(nsd_two_subjects):
    import shutil

    for s in (1, 2):
        shutil.rmtree(nsd_two_subjects / f"nsddata_betas/ppdata/subj0{s}")
    b = load_benchmark("Allen2022.V1-encoding")
    with pytest.raises(ConfigurationError, match=r"none of the subjects.*subj01.*subj02.*fetch"):
        b.load_subjects()


@pytest.mark.slow
def test_nsd_across_subjects_on_dask_equals_serial(nsd_two_subjects, tmp_path):
    pytest.importorskip("distributed")
    model = {"m": functools.partial(tiny_cnn, seed=0)}
    serial = run(
        model, "Allen2022.V1-encoding", layers=["conv1", "conv2"], store=tmp_path / "a", quiet=True
    )
    dask = run(
        model,
        "Allen2022.V1-encoding",
        layers=["conv1", "conv2"],
        store=tmp_path / "b",
        executor="dask",
        n_workers=2,
        quiet=True,
    )
    pd.testing.assert_frame_equal(dask.table, serial.table, check_exact=True)
