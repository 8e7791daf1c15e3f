"""THINGS-fMRI single-trial responses and THINGS-EEG2 preprocessed EEG, read from their releases'
own layouts.

**THINGS-fMRI** (Hebart et al. 2023, eLife, "THINGS-data"): the table-format single-trial
responses (figshare ``betas_csv.zip``, doi:10.25452/figshare.plus.20492835) unpack to
``betas_csv/sub-XX_{ResponseData.h5, VoxelMetadata.csv, StimulusMetadata.csv}``. The authors load
them with ``pd.read_hdf`` / ``pd.read_csv`` (ViCCo-Group/THINGS-data @5e0ecca,
``MRI/thingsmri/dataset.py`` l.102-110; ``MRI/notebooks/fmri_usage.ipynb`` l.306):

- ``ResponseData.h5``: one pandas DataFrame (HDF5 "fixed" format, key ``ResponseData``) whose rows
  are voxels (in ``VoxelMetadata`` order) and whose columns are ``voxel_id`` then one column per
  trial, labelled 0 .. n_trials-1 = the rows of ``StimulusMetadata`` ("Rows are voxels, columns
  are trials", fmri_usage.ipynb l.89; the authors select test trials with
  ``responses[stimdata.query('trial_type == "test"').index]``, l.731). Subject 1: 211 339 voxels x
  9 840 trials (animacy_size.ipynb l.135). In the file the trial columns are the DataFrame's float
  block, ``ResponseData/block0_values`` of shape (n_voxels, n_trials), which is read here with
  h5py a block of voxels at a time (never the whole 8-16 GB table);
- ``StimulusMetadata.csv``: ``trial_type`` (``train`` / ``test``; catch trials are not in the
  table, l.697), ``session``, ``run``, ``subject_id``, ``trial_id``, ``stimulus`` (the image file
  name, ``dog_12s.jpg``), ``concept`` (l.659); 8 640 ``train`` trials (each image once) and 1 200
  ``test`` trials (100 images x 12 sessions);
- ``VoxelMetadata.csv``: ``voxel_id``, ``subject_id``, ``voxel_x/y/z``, the reliabilities
  ``nc_singletrial``, ``nc_testset``, ``splithalf_uncorrected``, ``splithalf_corrected``, pRF
  parameters, then one 0/1 column per ROI (``V1`` ... ``IT``, :data:`THINGS_FMRI_ROIS`) and per
  Glasser area (``glasser-V1`` ...) (l.546; ROI masks as ``voxdata[roi].astype(bool)``,
  working_with_rois.ipynb l.1110). ``nc_testset`` is the NSD noise ceiling of the 12-trial test
  average in percent of variance (``MRI/thingsmri/anc.py`` l.23-52: ``100 * ncsnr**2 / (ncsnr**2
  + 1/n)``, computed for ``ns = [1, 12]`` at l.93; "Noise ceiling [%]", working_with_rois.ipynb
  l.1218).

The images are the THINGS object images, ``<images>/<concept>/<stimulus>`` (the volumetric
release's ``conditions.tsv`` names them ``dog/dog_12s.jpg``, fmri_usage.ipynb l.909).

**THINGS-EEG2** (Gifford et al. 2022, NeuroImage): ``preprocessed_data/sub-NN/
preprocessed_eeg_{training,test}.npy`` are ``numpy.save`` of a dict with ``preprocessed_eeg_data``
(images x repetitions x channels x times, float64; training 16 540 x 4, test 200 x 80; 17
occipito-parietal channels, 100 samples at 100 Hz from -0.2 s), ``ch_names`` and ``times``
(gifale95/eeg_encoding @f0c03bf, ``02_eeg_preprocessing/preprocessing_utils.py`` l.224-238 and
l.252-277). Row ``i`` is image condition ``i + 1`` (l.254-262); condition ``(c - 1) * 10 + n`` is
image ``n`` of concept folder ``c`` in sorted order (``00_data_collection/train/utils/
get_stimuli_train.m`` l.5-19; the feature extraction lists the images sorted,
``03_dnn_feature_maps_extraction/extract_feature_maps_alexnet.py`` l.107-111): the sorted
``<partition>_images/<concept>/<file>`` paths are the EEG rows. The pickled dicts are read with
:func:`read_pickled_npy` (no code runs, the EEG stays memory-mapped).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ..core import Responses, StimulusSet
from ..core._validation import parse_memory_budget, require
from ..core.exceptions import (
    ConfigurationError,
    DataNotFoundError,
    ShapeError,
    ValidationError,
    close_matches,
)
from ._pickled_npy import read_pickled_npy, unpickle_numpy

__all__ = [
    "THINGS_EEG2_PARTITIONS",
    "THINGS_FMRI_ROIS",
    "load_things_eeg2",
    "load_things_fmri",
    "things_fmri_noise_ceiling",
]

#: The ROI columns of the release's ``VoxelMetadata.csv`` (0/1 per voxel; fmri_usage.ipynb l.546):
#: pRF-mapped early areas, then category-selective regions per hemisphere, then IT.
THINGS_FMRI_ROIS = (
    *("V1", "V2", "V3", "hV4", "VO1", "VO2", "LO1 (prf)", "LO2 (prf)", "TO1", "TO2", "V3b"),
    *("V3a", "lEBA", "rEBA", "lFFA", "rFFA", "lOFA", "rOFA", "lSTS", "rSTS", "lPPA", "rPPA"),
    *("lRSC", "rRSC", "lTOS", "rTOS", "lLOC", "rLOC", "IT"),
)
THINGS_FMRI_SUBJECTS = (1, 2, 3)
#: Per-voxel reliability columns of ``VoxelMetadata.csv`` carried into the targets table.
THINGS_FMRI_RELIABILITY = (
    "nc_singletrial",
    "nc_testset",
    "splithalf_uncorrected",
    "splithalf_corrected",
)
#: THINGS-EEG2 partition → its image folder.
THINGS_EEG2_PARTITIONS = {"training": "training_images", "test": "test_images"}
_IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png")
_CHUNK_BYTES = 64 << 20


def things_fmri_noise_ceiling(nc_testset: Any) -> np.ndarray:
    """The release's ``nc_testset`` (percent of variance of the 12-trial test average a perfect
    model explains, NSD's formula) as a ceiling on Pearson r: ``sqrt(nc_testset / 100)``, the
    units of the encoding score (as NSD's ``sqrt(NC)``).

    Examples
    --------
    >>> things_fmri_noise_ceiling([0.0, 25.0, 100.0]).tolist()
    [0.0, 0.5, 1.0]
    """
    nc = np.asarray(nc_testset, dtype=np.float64)
    return np.sqrt(np.clip(nc, 0.0, 100.0) / 100.0)


# --------------------------------------------------------------------------- THINGS-fMRI


def _fmri_files(root: Path, subject: int) -> dict[str, Path]:
    betas = root / "betas_csv" if (root / "betas_csv").is_dir() else root
    files = {
        part: betas / f"sub-{subject:02d}_{part}"
        for part in ("ResponseData.h5", "VoxelMetadata.csv", "StimulusMetadata.csv")
    }
    missing = [str(p) for p in files.values() if not p.is_file()]
    if missing:  # this subject's files (a benchmark across subjects excludes and reports it)
        raise DataNotFoundError(
            f"THINGS-fMRI subject {subject}: missing {missing}. Unpack the release's "
            "betas_csv.zip (figshare doi:10.25452/figshare.plus.20492835; `neuroalign data fetch "
            f"things-fmri`) so that {str(root / 'betas_csv')!r} holds "
            "sub-XX_{ResponseData.h5,VoxelMetadata.csv,StimulusMetadata.csv}."
        )
    return files


def _decode_items(ds: Any, what: str) -> list[Any]:
    """The column labels of one pandas block: integers, strings, or pandas' pickled object
    index (read with the restricted unpickler: no code runs)."""
    raw = ds[()]
    if raw.dtype.kind in "iu":
        return [int(v) for v in raw]
    if raw.dtype.kind == "S":
        return [v.decode("utf-8") for v in raw]
    if raw.dtype.kind == "O" and len(raw) == 1:  # VLArray of one pickled object Index
        obj = unpickle_numpy(np.asarray(raw[0], dtype=np.uint8).tobytes(), what)
        return [v.item() if isinstance(v, np.generic) else v for v in np.asarray(obj).ravel()]
    raise ValidationError(f"{what}: column labels of dtype {raw.dtype} are not understood.")


def _response_blocks(f: Any, path: Path, n_trials: int) -> tuple[Any, Any, int]:
    """(the trial values dataset (n_voxels, n_trials), the dataset holding voxel_id, its column)
    of the pandas DataFrame in ``ResponseData.h5``."""
    groups = [k for k in f if f[k].attrs.get("pandas_type", b"") in (b"frame", "frame")]
    key = "ResponseData" if "ResponseData" in groups else (groups[0] if len(groups) == 1 else None)
    if key is None:
        raise ValidationError(
            f"{str(path)!r} holds no single pandas DataFrame (top-level groups {list(f)}); the "
            "release's file is one DataFrame written by pandas (key 'ResponseData')."
        )
    g = f[key]
    trial_block = voxel_ds = None
    voxel_col = -1
    for i in range(int(g.attrs.get("nblocks", 0))):
        items = _decode_items(g[f"block{i}_items"], f"{path}:{key}/block{i}_items")
        values = g[f"block{i}_values"]
        if "voxel_id" in items:
            voxel_ds, voxel_col = values, items.index("voxel_id")
            items = [v for v in items if v != "voxel_id"]
            if items:
                raise ValidationError(
                    f"{str(path)!r}: voxel_id shares a block with {len(items)} other columns; "
                    "the release stores the trials as their own float block."
                )
        elif items:
            items = [int(v) if isinstance(v, str) and v.isdigit() else v for v in items]
            if trial_block is not None:
                raise ValidationError(
                    f"{str(path)!r}: the trial columns are split over several blocks."
                )
            if items != list(range(n_trials)):
                raise ValidationError(
                    f"{str(path)!r}: the trial columns are labelled {items[:3]}...{items[-2:]} "
                    f"({len(items)} columns); StimulusMetadata.csv has {n_trials} rows, and "
                    "column k must be its row k (labels 0 .. n_trials-1)."
                )
            trial_block = values
    if trial_block is None or voxel_ds is None:
        raise ValidationError(
            f"{str(path)!r}: expected a voxel_id column and one block of trial columns."
        )
    return trial_block, voxel_ds, voxel_col


def _roi_labels(vox: pd.DataFrame, rois: list[str], path: Path) -> np.ndarray:
    """Each voxel's ROI: the first of ``rois`` whose 0/1 column marks it, "" for none."""
    unknown = [r for r in rois if r not in vox.columns]
    if unknown:
        known = [c for c in vox.columns if c in THINGS_FMRI_ROIS or c.startswith("glasser-")]
        raise ConfigurationError(
            f"rois {unknown} are not columns of {str(path)!r}; its ROI columns are "
            f"{[c for c in known if not c.startswith('glasser-')]} and {sum(c.startswith('glasser-') for c in known)} "
            "'glasser-*' areas." + close_matches(unknown[0], known)
        )
    label = np.full(len(vox), "", dtype=object)
    for r in reversed(rois):  # the first listed ROI wins where ROIs overlap
        label[vox[r].fillna(0).to_numpy().astype(bool)] = r
    return label


def load_things_fmri(
    root: str | Path,
    subject: int = 1,
    rois: list[str] | tuple[str, ...] | None = None,
    *,
    images: str | Path | None = None,
    zscore: bool = False,
    memory_budget: int | str = "512MB",
) -> tuple[StimulusSet, Responses]:
    """THINGS-fMRI single-trial responses of one subject, averaged per image, with the images.

    Parameters
    ----------
    root : path
        The folder holding ``betas_csv/`` (or ``betas_csv`` itself): the release's
        ``sub-XX_ResponseData.h5``, ``sub-XX_VoxelMetadata.csv``, ``sub-XX_StimulusMetadata.csv``.
    subject : {1, 2, 3}
    rois : list of str, optional
        ROI columns of ``VoxelMetadata.csv`` (``"V1"``, ``"lFFA"``, ``"glasser-V4"``, ...); the
        voxels marked in any of them are read. Default: every ROI of :data:`THINGS_FMRI_ROIS`.
        A voxel in several is labelled with the first listed.
    images : path, optional
        The THINGS object images, ``<images>/<concept>/<file>`` (default ``<root>/images``).
        Referenced by path, read only when a model needs them; every file must exist.
    zscore : bool
        z-score each voxel over the trials of each session before averaging (off: the release's
        values, as the authors' notebooks use them).
    memory_budget : int or str
        Bytes of single-trial rows read at once (e.g. ``"512MB"``): voxels are read from the HDF5
        table a block at a time, the averages kept as float32.

    Returns
    -------
    stimuli : StimulusSet
        One image per distinct ``stimulus`` (``train`` images once, ``test`` images averaged over
        their 12 trials); ids are the file stems (``dog_12s``), sorted; metadata ``concept``,
        ``trial_type`` (``train`` / ``test``: the release's test split), ``n_trials``.
    responses : Responses
        ``(n_images, n_voxels)`` float32 trial averages; targets ``target``, ``voxel_id``,
        ``roi``, ``subject``, ``voxel_x/y/z`` and the release's reliability columns
        (``nc_testset``: % variance, see :func:`things_fmri_noise_ceiling`).

    Memory: the averages (n_images x n_voxels x 4 bytes: 8 740 images x 5 000 voxels = 175 MB)
    plus ``memory_budget``. The HDF5 table is never loaded whole.
    """
    h5py = require("h5py", "neuro", "reading THINGS-fMRI ResponseData.h5")
    if subject not in THINGS_FMRI_SUBJECTS:
        raise ConfigurationError(
            f"THINGS-fMRI subject must be one of {list(THINGS_FMRI_SUBJECTS)}; got {subject!r}."
        )
    budget = parse_memory_budget(memory_budget)
    root = Path(root).expanduser()
    files = _fmri_files(root, subject)
    stim_path, vox_path = files["StimulusMetadata.csv"], files["VoxelMetadata.csv"]
    trials = pd.read_csv(stim_path)
    need = {"trial_type", "session", "stimulus", "concept"}
    if not need <= set(trials.columns):
        raise ValidationError(
            f"{str(stim_path)!r} lacks columns {sorted(need - set(trials.columns))}; the release's "
            "StimulusMetadata.csv has trial_type, session, run, subject_id, trial_id, stimulus, "
            "concept."
        )
    if "subject_id" in trials and (trials["subject_id"].astype(int) != subject).any():
        raise ConfigurationError(
            f"{str(stim_path)!r} holds subject_id {sorted(set(trials['subject_id']))}, not "
            f"{subject}: the files of another subject are under this name."
        )
    vox = pd.read_csv(vox_path)
    roi_list = list(rois) if rois is not None else [r for r in THINGS_FMRI_ROIS if r in vox]
    if not roi_list:
        raise ConfigurationError(
            f"{str(vox_path)!r} has none of the ROI columns {THINGS_FMRI_ROIS}."
        )
    label = _roi_labels(vox, roi_list, vox_path)
    sel = np.flatnonzero(label != "")
    if sel.size == 0:
        raise ValidationError(f"THINGS-fMRI subject {subject}: no voxel in rois {roi_list}.")

    # the images: one per distinct stimulus file, referenced by path
    kind = trials["trial_type"].astype(str).to_numpy()
    kept = np.flatnonzero(np.isin(kind, ("train", "test")))
    stimulus = trials["stimulus"].astype(str).to_numpy()[kept]
    stems = np.array([Path(s).stem for s in stimulus])
    ids, first, inverse, counts = np.unique(
        stems, return_index=True, return_inverse=True, return_counts=True
    )
    concept = trials["concept"].astype(str).to_numpy()[kept]
    per_image = pd.Series(concept).groupby(inverse).nunique()
    if (per_image > 1).any():
        bad = ids[per_image.to_numpy() > 1][:3].tolist()
        raise ValidationError(f"{str(stim_path)!r}: images {bad} are listed under two concepts.")
    img_root = Path(images).expanduser() if images is not None else root / "images"
    paths = [img_root / concept[k] / stimulus[k] for k in first]
    if not img_root.is_dir():
        raise ConfigurationError(
            f"THINGS-fMRI: the images folder {str(img_root)!r} does not exist; put the THINGS "
            "object images there as <concept>/<file>.jpg (THINGS database, osf.io/jum2f) or pass "
            "images=."
        )
    missing = [str(p) for p in paths if not p.is_file()]
    if missing:
        raise ConfigurationError(
            f"THINGS-fMRI: {len(missing)} of {len(paths)} images are missing under "
            f"{str(img_root)!r}, e.g. {missing[:3]}; the folder must hold <concept>/<file>."
        )
    test = (
        pd.Series(kind[kept])
        .groupby(inverse)
        .agg(lambda s: "test" if (s == "test").any() else "train")
    )

    # the responses: blocks of voxels, each trial column averaged into its image
    from scipy import sparse

    n_trials = len(trials)
    avg = sparse.csr_matrix(
        (1.0 / counts[inverse], (inverse, np.arange(len(kept)))), shape=(len(ids), len(kept))
    )
    sessions = trials["session"].to_numpy()[kept]
    session_cols = [np.flatnonzero(sessions == s) for s in np.unique(sessions)]
    out = np.empty((len(ids), sel.size), dtype=np.float32)
    with h5py.File(files["ResponseData.h5"], "r") as f:
        block, voxel_ds, voxel_col = _response_blocks(f, files["ResponseData.h5"], n_trials)
        if block.shape != (len(vox), n_trials):
            raise ShapeError(
                f"{str(files['ResponseData.h5'])!r} holds {block.shape[0]} voxels x "
                f"{block.shape[1]} trials; VoxelMetadata.csv has {len(vox)} voxels and "
                f"StimulusMetadata.csv {n_trials} trials."
            )
        stored_ids = np.asarray(voxel_ds[:, voxel_col])[sel]
        if "voxel_id" in vox and not np.array_equal(stored_ids, vox["voxel_id"].to_numpy()[sel]):
            raise ValidationError(
                f"the voxel_id column of {str(files['ResponseData.h5'])!r} does not follow "
                f"{str(vox_path)!r}: the two files are not of the same release."
            )
        step = max(1, budget // max(1, 3 * n_trials * block.dtype.itemsize))
        for lo in range(0, sel.size, step):
            rows = np.asarray(block[sel[lo : lo + step]], dtype=np.float64)[:, kept]
            if zscore:
                for cols in session_cols:
                    x = rows[:, cols]
                    sd = x.std(axis=1, keepdims=True)
                    rows[:, cols] = (x - x.mean(axis=1, keepdims=True)) / np.where(sd > 0, sd, 1)
            out[:, lo : lo + step] = np.asarray(avg @ rows.T, dtype=np.float32)
    if not np.isfinite(out).all():
        bad = int((~np.isfinite(out).all(axis=0)).sum())
        raise ValidationError(
            f"THINGS-fMRI subject {subject}: {bad} voxel(s) of rois {roi_list} have non-finite "
            "responses."
        )
    name = f"things-fmri-sub-{subject:02d}"
    stim = StimulusSet(
        ids=ids,
        images=paths,
        metadata=pd.DataFrame(
            {
                "concept": concept[first],
                "trial_type": test.to_numpy(),
                "n_trials": counts,
            }
        ),
        name=name,
    )
    extra = [c for c in ("voxel_x", "voxel_y", "voxel_z", *THINGS_FMRI_RELIABILITY) if c in vox]
    targets = pd.DataFrame(
        {
            "target": [f"sub-{subject:02d}_vox{v}" for v in stored_ids],
            "voxel_id": stored_ids,
            "roi": label[sel].astype(str),
            "subject": f"sub-{subject:02d}",
        }
    )
    targets = pd.concat([targets, vox[extra].iloc[sel].reset_index(drop=True)], axis=1)
    meta = {
        "subject": subject,
        "rois": roi_list,
        "zscore": bool(zscore),
        "n_trials": len(kept),
        "n_trials_excluded": int(n_trials - len(kept)),
        "unit": "z" if zscore else "release units (single-trial betas)",
        "files": {k: str(v) for k, v in files.items()},
    }
    resp = Responses(stimulus_ids=ids, data=out, targets=targets, name=name, meta=meta)
    return stim, resp


# --------------------------------------------------------------------------- THINGS-EEG2


def load_things_eeg2(
    root: str | Path,
    subject: int = 1,
    partition: str = "test",
    *,
    window: tuple[float, float] | None = None,
    keep_repetitions: bool = False,
) -> tuple[StimulusSet, Responses]:
    """THINGS-EEG2 preprocessed EEG of one subject and partition, with the images.

    Parameters
    ----------
    root : path
        The dataset folder: ``preprocessed_data/sub-NN/preprocessed_eeg_<partition>.npy`` and
        ``<partition>_images/<concept>/<file>`` (the release's layout).
    subject : int
        1 .. 10.
    partition : {"training", "test"}
        16 540 images x 4 repetitions, or 200 images x 80 repetitions.
    window : (float, float), optional
        Keep the samples with ``window[0] <= time <= window[1]`` (seconds, ±1 µs); default all.
    keep_repetitions : bool
        Also return the single trials (``Responses.repetitions``, float32), e.g. for a noise
        ceiling.

    Returns
    -------
    stimuli : StimulusSet
        The sorted ``<concept>/<file>`` images (the EEG row order); ids are the file stems;
        metadata ``concept`` (the numbered folder), ``partition``.
    responses : Responses
        ``(n_images, n_channels * n_times)`` float32 repetition averages; one target per channel
        and sample (channel-major), targets ``target`` (``Oz@150ms``), ``channel``, ``time``,
        ``roi`` (``"EEG"``), ``subject``.

    Memory and cost: the EEG stays memory-mapped (:func:`read_pickled_npy`); it is read once, 64
    MB of images at a time (training: 16 540 x 4 x 17 x 100 float64 = 0.9 GB read from disk), and
    only the averages (and the repetitions if asked) of the kept samples are held, as float32.
    """
    if partition not in THINGS_EEG2_PARTITIONS:
        raise ConfigurationError(
            f"THINGS-EEG2 partition must be one of {list(THINGS_EEG2_PARTITIONS)}; got "
            f"{partition!r}." + close_matches(str(partition), THINGS_EEG2_PARTITIONS)
        )
    if not 1 <= int(subject) <= 10:
        raise ConfigurationError(f"THINGS-EEG2 subject must be 1..10; got {subject!r}.")
    root = Path(root).expanduser()
    path = root / "preprocessed_data" / f"sub-{subject:02d}" / f"preprocessed_eeg_{partition}.npy"
    if not path.is_file():  # this subject's file (a benchmark across subjects excludes it)
        raise DataNotFoundError(
            f"THINGS-EEG2: {str(path)!r} is missing; fetch it with `neuroalign data fetch "
            "things-eeg2`."
        )
    img_root = root / THINGS_EEG2_PARTITIONS[partition]
    images = sorted(
        p for p in img_root.glob("*/*") if p.is_file() and p.suffix.lower() in _IMAGE_SUFFIXES
    )
    if not images:
        raise ConfigurationError(
            f"THINGS-EEG2: no images in {str(img_root)!r}; unpack the release's "
            f"{THINGS_EEG2_PARTITIONS[partition]} (<concept>/<file>.jpg) there."
        )
    d = read_pickled_npy(path)
    if not isinstance(d, dict) or not {"preprocessed_eeg_data", "ch_names", "times"} <= set(d):
        raise ValidationError(
            f"{str(path)!r} is not the release's dict of preprocessed_eeg_data, ch_names, times."
        )
    eeg, times, channels = d["preprocessed_eeg_data"], np.asarray(d["times"], float), d["ch_names"]
    if (
        eeg.ndim != 4
        or eeg.shape[0] != len(images)
        or eeg.shape[2] != len(channels)
        or eeg.shape[3] != len(times)
    ):
        raise ShapeError(
            f"THINGS-EEG2: {str(path)!r} holds data of shape {eeg.shape} with "
            f"{len(channels)} channels and {len(times)} times; expected ({len(images)} images, "
            "repetitions, channels, times)."
        )
    win = np.ones(len(times), bool)
    if window is not None:
        lo, hi = window
        win = (times >= lo - 1e-6) & (times <= hi + 1e-6)  # float time grids: 1 µs slack
        if not win.any():
            raise ValidationError(f"THINGS-EEG2: no samples of {str(path)!r} in {window} s.")
    n_img, n_rep, n_ch, _ = eeg.shape
    n_t = int(win.sum())
    data = np.empty((n_img, n_ch * n_t), dtype=np.float32)
    reps = np.empty((n_rep, n_img, n_ch * n_t), dtype=np.float32) if keep_repetitions else None
    step = max(1, _CHUNK_BYTES // int(np.prod(eeg.shape[1:]) * eeg.dtype.itemsize))
    for i in range(0, n_img, step):
        x = np.asarray(eeg[i : i + step])[..., win]  # images x reps x channels x kept times
        data[i : i + step] = x.mean(axis=1).reshape(len(x), -1)
        if reps is not None:
            reps[:, i : i + step] = x.transpose(1, 0, 2, 3).reshape(n_rep, len(x), -1)
    ids = np.array([p.stem for p in images])
    if len(set(ids)) != len(ids):
        raise ValidationError(f"THINGS-EEG2: image file names in {str(img_root)!r} repeat.")
    ch = np.repeat(np.asarray(channels, dtype=str), n_t)
    tt = np.tile(times[win], n_ch)
    targets = pd.DataFrame(
        {
            "target": [f"{c}@{round(t * 1000)}ms" for c, t in zip(ch, tt, strict=True)],
            "channel": ch,
            "time": tt,
            "roi": "EEG",
            "subject": f"sub-{subject:02d}",
        }
    )
    name = f"things-eeg2-sub-{subject:02d}-{partition}"
    stim = StimulusSet(
        ids=ids,
        images=images,
        metadata=pd.DataFrame({"concept": [p.parent.name for p in images], "partition": partition}),
        name=name,
    )
    meta = {"subject": subject, "partition": partition, "window_s": window, "file": str(path)}
    resp = Responses(
        stimulus_ids=ids, data=data, repetitions=reps, targets=targets, name=name, meta=meta
    )
    return stim, resp
