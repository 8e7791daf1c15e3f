"""Miniature THINGS-fMRI and THINGS-EEG2 trees in the releases' exact layouts (names, columns,
dtypes, shapes, order), shared by the reader tests (tests/data/test_things.py) and the benchmark
tests (tests/bench/test_things_bench.py).

THINGS-fMRI (ViCCo-Group/THINGS-data @5e0ecca): ``betas_csv/sub-XX_ResponseData.h5`` is a pandas
DataFrame written with ``to_hdf`` (fixed format, key ``ResponseData``): rows = voxels, columns
``voxel_id`` then the trials 0 .. n-1 (``MRI/thingsmri/dataset.py`` l.102-110,
``MRI/notebooks/fmri_usage.ipynb`` l.89, l.306, l.731), float64; ``sub-XX_StimulusMetadata.csv``
with ``trial_type, session, run, subject_id, trial_id, stimulus, concept`` (l.659);
``sub-XX_VoxelMetadata.csv`` with ``voxel_id, subject_id, voxel_x, voxel_y, voxel_z,
nc_singletrial, nc_testset, splithalf_uncorrected, splithalf_corrected, prf-eccentricity,
prf-polarangle, prf-rsquared, prf-size``, the 0/1 ROI columns and ``glasser-*`` columns (l.546).
``nc_testset`` / ``nc_singletrial`` follow ``MRI/thingsmri/anc.py`` l.23-52 (``kknc``: each
repetition z-scored over the test images, 100 * ncsnr² / (ncsnr² + 1/n), n = 12 / 1, l.93).
Here: 12 concepts, 6 training images each (one trial), 10 test images x 12 sessions.

THINGS-EEG2 (gifale95/eeg_encoding @f0c03bf): ``preprocessed_data/sub-NN/
preprocessed_eeg_{training,test}.npy`` = ``np.save`` of a dict ``preprocessed_eeg_data`` (images x
repetitions x channels x times, float64), ``ch_names``, ``times``
(``02_eeg_preprocessing/preprocessing_utils.py`` l.224-238, l.252-277); rows in the sorted order
of ``training_images/<NNNNN_concept>/<file>`` / ``test_images/...`` (``get_stimuli_train.m``
l.5-19).
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
from PIL import Image

from neuroalign.data import THINGS_FMRI_ROIS

N_CONCEPTS, N_TRAIN_PER, N_TEST, N_SESSIONS = 12, 6, 10, 12
SIDE = 16
GLASSER = ("glasser-V1", "glasser-MST", "glasser-V2")


def _image(rng, side=SIDE):
    """A smooth random RGB image and its pixels as features."""
    yy, xx = np.mgrid[0:side, 0:side]
    f = rng.normal(size=(3, 3))
    base = 128 + 60 * np.sin(xx * f[0, 0] / 3 + f[0, 1]) * np.cos(yy * f[1, 0] / 3 + f[1, 1])
    return np.clip(base[..., None] + 40 * f[2], 0, 255).astype(np.uint8)


def kknc(data: np.ndarray, n: int) -> np.ndarray:
    """The authors' noise ceiling (anc.py l.23-52), written here from its formula: ``data``
    (targets, repetitions, observations), each repetition z-scored over observations."""
    z = (data - data.mean(-1, keepdims=True)) / data.std(-1, keepdims=True)
    noisesd = np.sqrt(np.mean(np.var(z, axis=-2, ddof=1), axis=-1))
    sigsd = np.sqrt(np.clip(1 - noisesd**2, 0.0, None))
    ncsnr = sigsd / noisesd
    return 100 * ((ncsnr**2) / ((ncsnr**2) + (1 / n)))


def write_things_fmri(root, rng, subject=1, n_voxels=116, noise=1.0):
    """The miniature betas_csv tree + images; returns a dict with the truth."""
    betas = root / "betas_csv"
    betas.mkdir(parents=True)
    concepts = [f"concept{c:02d}" for c in range(N_CONCEPTS)]
    train = [(c, f"{c}_{k + 1:02d}b.jpg") for c in concepts for k in range(N_TRAIN_PER)]
    test = [(concepts[i], f"{concepts[i]}_{N_TRAIN_PER + 1:02d}s.jpg") for i in range(N_TEST)]
    pixels = {}
    for c, fname in train + test:
        img = _image(rng)
        (root / "images" / c).mkdir(parents=True, exist_ok=True)
        Image.fromarray(img).save(root / "images" / c / fname, quality=95)
        pixels[fname] = np.asarray(Image.open(root / "images" / c / fname), dtype=np.float64)
    # trials: every session shows its share of training images once and every test image once
    order = []
    train_perm = rng.permutation(len(train))
    per_session = np.array_split(train_perm, N_SESSIONS)
    for s in range(N_SESSIONS):
        items = [("train", *train[i]) for i in per_session[s]] + [("test", *t) for t in test]
        items = [items[i] for i in rng.permutation(len(items))]
        half = len(items) // 2
        for k, (kind, c, fname) in enumerate(items):
            order.append((kind, s + 1, 1 + (k >= half), c, fname))
    stim = pd.DataFrame(
        {
            "trial_type": [o[0] for o in order],
            "session": [o[1] for o in order],
            "run": [o[2] for o in order],
            "subject_id": subject,
            "trial_id": np.arange(len(order)),
            "stimulus": [o[4] for o in order],
            "concept": [o[3] for o in order],
        }
    )
    stim.to_csv(betas / f"sub-{subject:02d}_StimulusMetadata.csv", index=False)
    # responses: linear in the image's pixels + noise + a per-session offset per voxel
    feats = np.stack([pixels[f].ravel() for f in stim["stimulus"]])
    feats = (feats - feats.mean(0)) / (feats.std(0) + 1e-6)
    w = rng.normal(size=(feats.shape[1], n_voxels)) / np.sqrt(feats.shape[1])
    offset = rng.normal(size=(N_SESSIONS, n_voxels)) * 0.5
    values = feats @ w + noise * rng.normal(size=(len(stim), n_voxels))
    values += offset[stim["session"].to_numpy() - 1]
    values *= rng.uniform(0.05, 0.2, n_voxels)  # the release's scale (betas of ~0.1)
    frame = pd.DataFrame(values.T)  # rows = voxels, columns = trials 0 .. n-1
    frame.insert(0, "voxel_id", np.arange(n_voxels))
    with warnings.catch_warnings():  # pandas pickles the mixed column labels, as in the release
        warnings.simplefilter("ignore")
        frame.to_hdf(betas / f"sub-{subject:02d}_ResponseData.h5", key="ResponseData")
    # voxel metadata: the release's column order; ROI k marks voxels v with v % 29 == k
    test_trials = stim.index[stim.trial_type == "test"].to_numpy()
    names = stim["stimulus"].to_numpy()[test_trials]
    test_names = sorted(set(names))
    reps = np.stack(
        [
            values[test_trials][stim["session"].to_numpy()[test_trials] == s + 1][
                np.argsort(names[stim["session"].to_numpy()[test_trials] == s + 1])
            ]
            for s in range(N_SESSIONS)
        ]
    )  # sessions x test images (sorted) x voxels
    vox = pd.DataFrame(
        {
            "voxel_id": np.arange(n_voxels),
            "subject_id": subject,
            "voxel_x": np.arange(n_voxels) % 7,
            "voxel_y": np.arange(n_voxels) // 7 % 5,
            "voxel_z": np.arange(n_voxels) // 35,
            "nc_singletrial": kknc(reps.transpose(2, 0, 1), 1),
            "nc_testset": kknc(reps.transpose(2, 0, 1), 12),
            "splithalf_uncorrected": rng.uniform(-0.1, 0.3, n_voxels),
            "splithalf_corrected": rng.uniform(-0.1, 0.5, n_voxels),
            "prf-eccentricity": rng.uniform(0, 10, n_voxels),
            "prf-polarangle": rng.uniform(0, 360, n_voxels),
            "prf-rsquared": rng.uniform(0, 1, n_voxels),
            "prf-size": rng.uniform(0, 5, n_voxels),
        }
    )
    for k, roi in enumerate(THINGS_FMRI_ROIS):
        vox[roi] = (np.arange(n_voxels) % len(THINGS_FMRI_ROIS) == k).astype(np.int64)
    vox.loc[0, "IT"] = 1  # voxel 0: in V1 and in IT
    for k, g in enumerate(GLASSER):
        vox[g] = (np.arange(n_voxels) % 3 == k).astype(np.int64)
    vox.to_csv(betas / f"sub-{subject:02d}_VoxelMetadata.csv", index=False)
    return {
        "stim": stim,
        "values": values,
        "vox": vox,
        "test_names": test_names,
        "test_reps": reps,
        "h5": betas / f"sub-{subject:02d}_ResponseData.h5",
    }


def write_things_eeg2(root, rng, subject=1, n_train_concepts=20, n_test=8, n_ch=3, n_t=20):
    """The miniature THINGS-EEG2 tree (training 10 images per concept x 4 repetitions, test
    ``n_test`` images x 8 repetitions); returns (train names, test names, train EEG, test EEG,
    times)."""
    ch_names = ["O1", "Oz", "O2", "PO7", "PO8"][:n_ch]
    times = np.round(np.linspace(-0.2, 0.75, n_t), 4)  # 0.05 s steps
    out = {}
    for part, n_concepts, per in (("training", n_train_concepts, 10), ("test", n_test, 1)):
        names, feats = [], []
        for c in range(n_concepts):
            folder = root / f"{part}_images" / f"{c + 1:05d}_{part}{c}"
            folder.mkdir(parents=True)
            for k in range(per):
                img = _image(rng)
                name = f"{part}{c}_{k + 1:02d}{'b' if part == 'training' else 's'}"
                Image.fromarray(img).save(folder / f"{name}.jpg", quality=95)
                names.append(name)
                feats.append(np.asarray(Image.open(folder / f"{name}.jpg"), float).ravel())
        out[part] = (names, np.stack(feats))
    allf = np.concatenate([out["training"][1], out["test"][1]])
    mu, sd = allf.mean(0), allf.std(0) + 1e-6
    w = rng.normal(size=(allf.shape[1], n_ch * n_t)) / np.sqrt(allf.shape[1])
    eegs = {}
    d = root / "preprocessed_data" / f"sub-{subject:02d}"
    d.mkdir(parents=True)
    for part, n_rep in (("training", 4), ("test", 8)):
        names, f = out[part]
        signal = (((f - mu) / sd) @ w).reshape(len(names), 1, n_ch, n_t)
        eeg = signal + 2.0 * rng.standard_normal((len(names), n_rep, n_ch, n_t))
        payload = {"preprocessed_eeg_data": eeg, "ch_names": ch_names, "times": times}
        np.save(d / f"preprocessed_eeg_{part}.npy", payload)
        eegs[part] = eeg
    return out["training"][0], out["test"][0], eegs["training"], eegs["test"], times
