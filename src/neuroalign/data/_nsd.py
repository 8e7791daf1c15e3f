"""Natural Scenes Dataset (NSD) layouts on disk, read lazily: subject by subject, ROI by ROI,
one session at a time.

Layout (as on the NSD S3 bucket; :func:`fetch_dataset` ``("nsd", ...)`` creates it)::

    nsddata/experiments/nsd/nsd_expdesign.mat            masterordering (30000,), subjectim (8, 10000)
    nsddata/experiments/nsd/nsd_stim_info_merged.csv     optional: per-73k-image metadata
    nsddata/ppdata/subjNN/func1pt8mm/brainmask.nii.gz
    nsddata/ppdata/subjNN/func1pt8mm/roi/<atlas>.nii.gz  integer ROI volumes (e.g. prf-visualrois)
    nsddata/freesurfer/subjNN/label/<atlas>.mgz.ctab     ROI names
    nsddata_betas/ppdata/subjNN/func1pt8mm/betas_fithrf_GLMdenoise_RR/betas_sessionKK.nii.gz
    nsddata_betas/ppdata/subjNN/func1pt8mm/betas_fithrf_GLMdenoise_RR/ncsnr.nii.gz
    nsddata_stimuli/stimuli/nsd/nsd_stimuli.hdf5         /imgBrick (73000, 425, 425, 3) uint8

Trial ``t`` of the subject (0-based, 750 per session) showed 73k-image
``subjectim[subj, masterordering[t] - 1]`` (both 1-based in the file). Betas are int16 percent
signal change × 300. Memory: one session's betas (read and masked before the next session is
opened), a block of voxels, and the outputs (repetitions and averages, or only averages with
``keep_repetitions=False``), which ``out=`` writes to ``.npy`` memory maps instead of RAM.

Images: 73k-image ``k`` (1-based) is ``/imgBrick`` row ``k - 1`` of ``nsd_stimuli.hdf5``, read one
at a time (the authors' nsdexamples ``matlab/example06_basicbetaloading.m`` l.203 reads
``h5read(stimfile,'/imgBrick',[1 1 1 id73k],[3 425 425 1])`` and permutes it to 425 x 425 x 3;
MATLAB's reversed HDF5 axes make that h5py's ``f['imgBrick'][id73k - 1]``, already height x width x
RGB).
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ..core import Responses, StimulusSet
from ..core._validation import require
from ..core.exceptions import (
    ConfigurationError,
    NeuroalignWarning,
    ShapeError,
    ValidationError,
    close_matches,
)
from ._assemble import (
    UNSET,
    Exclusions,
    check_file,
    check_image_complete,
    check_output,
    renamed_argument,
    voxel_table,
)

__all__ = ["NSD_STIMULI", "load_nsd", "nsd_ncsnr_ceiling", "nsd_trial_ids"]

#: The 73k-image brick, relative to the NSD root.
NSD_STIMULI = "nsddata_stimuli/stimuli/nsd/nsd_stimuli.hdf5"

_BETAS = "betas_fithrf_GLMdenoise_RR"
_TRIALS_PER_SESSION = 750
_SCALE = 300.0


def nsd_trial_ids(root: str | Path, subject: int) -> np.ndarray:
    """The 73k image id (1-based, NSD's convention) of every trial of ``subject`` (30000,)."""
    sio = require("scipy.io", "neuro", "reading nsd_expdesign.mat")
    path = check_file(Path(root) / "nsddata/experiments/nsd/nsd_expdesign.mat", "NSD design file")
    try:
        design = sio.loadmat(path, squeeze_me=True)
        order = np.asarray(design["masterordering"]).ravel().astype(np.int64)
        subjectim = np.atleast_2d(design["subjectim"]).astype(np.int64)
    except (KeyError, ValueError, OSError) as err:
        raise ValidationError(
            f"NSD design file {str(path)!r} is unreadable or lacks masterordering/subjectim ({err})."
        ) from err
    if not 1 <= subject <= subjectim.shape[0]:
        raise ConfigurationError(f"subject must be 1..{subjectim.shape[0]}; got {subject}.")
    return subjectim[subject - 1, order - 1]


def _session_path(betas_dir: Path, k: int) -> Path:
    for ext in (".nii.gz", ".nii", ".hdf5", ".npy"):
        p = betas_dir / f"betas_session{k:02d}{ext}"
        if p.exists():
            return p
    raise ValidationError(
        f"NSD betas for session {k} not found in {str(betas_dir)!r} (betas_session{k:02d}.nii.gz/"
        ".nii/.hdf5); fetch them with fetch_dataset('nsd', subject=..., files=['session"
        f"{k:02d}']) or pass sessions= for the sessions you have."
    )


def _read_session(path: Path, sel: np.ndarray, n_expected: int) -> np.ndarray:
    """(n_trials, n_selected) float32 from one session file; only this session is in memory."""
    name = path.name
    try:
        if name.endswith(".hdf5"):
            h5py = require("h5py", "neuro", "reading NSD .hdf5 betas")
            with h5py.File(path, "r") as f:
                dset = f["betas"]
                vol = tuple(sel.shape)
                if tuple(dset.shape[1:]) == vol[::-1]:  # stored in MATLAB (reversed) axis order
                    sel_f = sel.T
                elif tuple(dset.shape[1:]) == vol:
                    sel_f = sel
                else:
                    raise ShapeError(
                        f"{str(path)!r} holds volumes of shape {dset.shape[1:]}; the mask is {vol}."
                    )
                out = np.empty((dset.shape[0], int(sel.sum())), dtype=np.float32)
                for a in range(0, dset.shape[0], 50):
                    out[a : a + 50] = dset[a : a + 50][:, sel_f]
        elif name.endswith(".npy"):
            arr = np.load(path, mmap_mode="r")  # (n_trials, X, Y, Z)
            out = np.empty((arr.shape[0], int(sel.sum())), dtype=np.float32)
            for a in range(0, arr.shape[0], 50):
                out[a : a + 50] = arr[a : a + 50][:, sel]
        else:
            nib = require("nibabel", "neuro", "reading NSD NIfTI betas")
            img = nib.load(str(path))
            check_image_complete(img, path, "NSD betas")
            if tuple(img.shape[:3]) != tuple(sel.shape):
                raise ShapeError(
                    f"{str(path)!r} has volumes of shape {img.shape[:3]}; the brain mask / ROI file "
                    f"has {sel.shape}. Use files of one preparation (func1pt8mm or func1mm)."
                )
            proxy = img.dataobj
            out = np.empty((img.shape[3], int(sel.sum())), dtype=np.float32)
            if name.endswith(".gz"):
                data = np.asanyarray(proxy)  # gzip: one pass; this session only
                for a in range(0, img.shape[3], 50):
                    out[a : a + 50] = data[..., a : a + 50][sel].T
                del data
            else:
                for a in range(0, img.shape[3], 50):
                    out[a : a + 50] = np.asanyarray(proxy[..., a : a + 50])[sel].T
    except (ShapeError, ValidationError):
        raise
    except Exception as err:
        raise ValidationError(
            f"NSD betas {str(path)!r} could not be read ({type(err).__name__}: {err}); the file may "
            "be truncated: delete it and fetch it again."
        ) from err
    if out.shape[0] != n_expected:
        raise ShapeError(
            f"{str(path)!r} has {out.shape[0]} trials; NSD sessions have {n_expected}."
        )
    out /= _SCALE
    return out


def _roi_selection(
    root: Path, subj: str, atlas: str | None, rois: Sequence[str] | None, mask: np.ndarray
) -> tuple[np.ndarray, np.ndarray | None, dict[int, str]]:
    if atlas is None:
        if rois is not None:
            raise ConfigurationError(
                f"rois={list(rois)} needs an atlas naming them (e.g. atlas='prf-visualrois'); "
                "atlas=None reads every brain-mask voxel."
            )
        return mask, None, {}
    nib = require("nibabel", "neuro", "reading NSD ROI files")
    path = check_file(
        root / f"nsddata/ppdata/{subj}/func1pt8mm/roi/{atlas}.nii.gz", "NSD atlas (ROI) file"
    )
    values = np.rint(np.asanyarray(nib.load(str(path)).dataobj)).astype(np.int64)
    if values.shape != mask.shape:
        raise ShapeError(
            f"ROI file {str(path)!r} has shape {values.shape}; brain mask {mask.shape}."
        )
    names: dict[int, str] = {}
    ctab = root / f"nsddata/freesurfer/{subj}/label/{atlas}.mgz.ctab"
    if ctab.exists():
        for line in ctab.read_text().splitlines():
            parts = line.split()
            if len(parts) >= 2 and parts[0].isdigit():
                names[int(parts[0])] = parts[1]
    sel = mask & (values > 0)
    if rois is not None:
        lookup = {v: k for k, v in names.items()}
        unknown = [r for r in rois if r not in lookup]
        if unknown:
            raise ConfigurationError(
                f"rois {unknown} not in atlas {atlas} ({str(ctab)!r}); its ROIs are "
                f"{sorted(lookup)}." + close_matches(unknown[0], lookup)
            )
        sel &= np.isin(values, [lookup[r] for r in rois])
    return sel, values, names


def load_nsd(
    root: str | Path,
    subject: int = 1,
    *,
    atlas: str | None = "prf-visualrois",
    rois: Sequence[str] | None = None,
    sessions: Sequence[int] | None = None,
    keep_repetitions: bool = True,
    zscore: bool = False,
    out: str | Path | None = None,
    images: bool | None = None,
    roi: Any = UNSET,
    labels: Any = UNSET,
) -> tuple[StimulusSet, Responses]:
    """Read one NSD subject's single-trial betas for an atlas's ROIs, one session at a time.

    Parameters
    ----------
    root : path
        The folder holding ``nsddata/`` and ``nsddata_betas/`` (e.g. ``fetch_dataset("nsd")``).
    subject : int
        1–8.
    atlas : str or None
        ROI volume under ``func1pt8mm/roi/`` (``prf-visualrois``, ``streams``, ``floc-faces``,
        ...); its ROI names (from the ``.ctab``) become the targets' ``roi``. None reads every
        brain-mask voxel.
    rois : list of str, optional
        Only these ROIs of the atlas (e.g. ``["V1v", "V1d"]``).
    sessions : list of int, optional
        Sessions to read (1-based); default every session with a betas file. Stimuli are those shown
        in these sessions.
    keep_repetitions : bool
        Keep every trial (``repetitions`` of shape (3, n_stimuli, n_voxels)); False keeps only the
        running average (a third of the memory).
    zscore : bool
        z-score each voxel within each session (NSD's usual normalisation) before averaging.
    out : path to a ``.npy`` file, optional
        Write the outputs to disk as memory maps (outputs larger than RAM): ``out`` holds the
        repetitions (or the averages with ``keep_repetitions=False``); with repetitions the
        averages go next to it as ``<stem>.average.npy``. Both are written atomically and returned
        read-only memory-mapped; memory stays at one session's betas plus a block of voxels.
    images : bool, optional
        True: the stimuli are the images of ``nsd_stimuli.hdf5`` (lazy :class:`HDF5Image`
        references, one image read at a time; an error before any betas are read when the file
        is missing). False: the stimuli are the ids only (as texts, for your own images). None
        (default): images when the file is there, else ids with a warning (a text model would
        embed the id strings).
    roi, labels
        Old names of ``atlas`` and ``rois`` (deprecated: ``labels`` meant stimulus ids elsewhere).

    Returns
    -------
    stimuli : StimulusSet
        ids ``nsd00001`` ... (the 1-based 73k image id) in order of first presentation; images
        from ``nsd_stimuli.hdf5`` (see ``images``); metadata ``nsd_id`` (1-based) and, from
        ``nsd_stim_info_merged.csv`` when present, ``cocoId``, ``cocoSplit``, ``shared1000``.
    responses : Responses
        Percent signal change; targets ``subject``, ``roi``, ``i, j, k``; ``meta`` lists sessions.
    """
    why = "`roi` is a named group of targets; the file holding several is an atlas"
    atlas = renamed_argument("load_nsd", "roi", roi, "atlas", atlas, "prf-visualrois", why)
    why = "`labels` means stimulus ids elsewhere; these are ROI names"
    rois = renamed_argument("load_nsd", "labels", labels, "rois", rois, None, why)
    if isinstance(rois, str):
        rois = [rois]
    nib = require("nibabel", "neuro", "reading NSD data")
    root = Path(root)
    out_path = None if out is None else check_output(out, "out", ".npy")
    subj = f"subj{subject:02d}"
    brick = root / NSD_STIMULI
    if images is None:
        images = brick.is_file()
        if not images:
            warnings.warn(
                f"NSD: no {str(brick)!r}; the stimuli are the ids (nsd00001 ...) as texts, which "
                "an image model cannot take and a text model would embed as strings. Fetch "
                "nsd_stimuli.hdf5 (fetch_dataset('nsd', files=['nsd_stimuli'])) or pass "
                "images=False to say you want the ids.",
                NeuroalignWarning,
                stacklevel=2,
            )
    elif images and not brick.is_file():
        raise ConfigurationError(
            f"NSD: images=True needs {str(brick)!r} (the 73k-image brick, ~37 GB); fetch it with "
            "fetch_dataset('nsd', files=['nsd_stimuli']) or pass images=False for the ids only."
        )
    trial_ids = nsd_trial_ids(root, subject)
    mask_path = check_file(
        root / f"nsddata/ppdata/{subj}/func1pt8mm/brainmask.nii.gz", "NSD brain mask"
    )
    mask_img = nib.load(str(mask_path))
    mask = np.asanyarray(mask_img.dataobj) > 0
    sel, roi_values, roi_names = _roi_selection(root, subj, atlas, rois, mask)
    if not sel.any():
        raise ValidationError(f"the ROI selection ({atlas}, {rois}) has no voxel for {subj}.")
    betas_dir = root / f"nsddata_betas/ppdata/{subj}/func1pt8mm/{_BETAS}"
    if sessions is None:
        found = sorted(
            int(p.name[len("betas_session") :][:2]) for p in betas_dir.glob("betas_session*")
        )
        sessions = sorted(set(found))
        if not sessions:
            raise ValidationError(f"no betas_sessionKK files in {str(betas_dir)!r}.")
    sessions = [int(s) for s in sessions]
    n_sess_max = len(trial_ids) // _TRIALS_PER_SESSION
    bad = [s for s in sessions if not 1 <= s <= n_sess_max]
    if bad:
        raise ConfigurationError(f"sessions {bad} out of range 1..{n_sess_max}.")
    paths = [_session_path(betas_dir, s) for s in sessions]  # all present before any reading
    idx = np.concatenate(
        [np.arange((s - 1) * _TRIALS_PER_SESSION, s * _TRIALS_PER_SESSION) for s in sessions]
    )
    shown = trial_ids[idx]
    stim_73k, first = np.unique(shown, return_index=True)
    stim_73k = stim_73k[np.argsort(first)]  # order of first presentation
    refs = None
    if images:  # checked from the header before any betas are read
        from ._hdf5_images import hdf5_images

        refs = hdf5_images(brick, "imgBrick", stim_73k - 1)  # 1-based ids, 0-based rows
    pos = {int(v): i for i, v in enumerate(stim_73k)}
    stim_pos = np.array([pos[int(v)] for v in shown])
    rep_idx = np.zeros(len(shown), dtype=np.intp)
    seen = np.zeros(len(stim_73k), dtype=np.intp)
    for t, s in enumerate(stim_pos):
        rep_idx[t], seen[s] = seen[s], seen[s] + 1
    n_reps, n_stim, n_vox = int(seen.max()), len(stim_73k), int(sel.sum())
    counts = np.bincount(stim_pos, minlength=n_stim)
    outputs = _Outputs(out_path, keep_repetitions)
    try:
        arr, data = outputs.open((n_reps, n_stim, n_vox), (n_stim, n_vox))
        for k_i, path in enumerate(paths):
            block = _read_session(path, sel, _TRIALS_PER_SESSION)
            if zscore:
                sd = block.std(axis=0)
                sd[sd == 0] = 1.0
                block -= block.mean(axis=0)
                block /= sd
            t_sl = slice(k_i * _TRIALS_PER_SESSION, (k_i + 1) * _TRIALS_PER_SESSION)
            if keep_repetitions:
                assert arr is not None
                arr[rep_idx[t_sl], stim_pos[t_sl]] = block
            else:
                np.add.at(data, stim_pos[t_sl], block)
            del block
        _average(arr, data, counts, keep_repetitions, subj)
        arr, data = outputs.close(arr, data)
    except BaseException:
        outputs.discard()
        raise
    exclusions = Exclusions(str(betas_dir))
    targets = voxel_table(sel, mask_img.affine)
    targets.insert(0, "subject", subj)
    if roi_values is not None:
        v = roi_values[sel]
        targets.insert(1, "roi", [roi_names.get(int(x), f"{atlas}{int(x)}") for x in v])
    ids = np.array([f"nsd{int(v):05d}" for v in stim_73k])
    meta: dict[str, Any] = {
        "source": str(root),
        "subject": subj,
        "sessions": sessions,
        "kind": "fmri",
        "unit": "z" if zscore else "% signal change",
        "trial_counts": {"min": int(counts.min()), "max": int(counts.max())},
        "exclusions": exclusions.as_meta(),
        "files": outputs.files(),
    }
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", NeuroalignWarning)  # fewer reps for some: in trial_counts
        resp = Responses(
            stimulus_ids=ids,
            data=data,
            repetitions=arr if keep_repetitions else None,
            targets=targets,
            name=f"nsd-{subj}-{atlas or 'brain'}",
            meta=meta,
        )
    info = root / "nsddata/experiments/nsd/nsd_stim_info_merged.csv"
    metadata = pd.DataFrame({"nsd_id": stim_73k})
    if info.exists():
        table = pd.read_csv(info)
        cols = [c for c in ("cocoId", "cocoSplit", "shared1000") if c in table]
        if cols:
            metadata = metadata.join(table[cols].iloc[stim_73k - 1].reset_index(drop=True))
    if refs is not None:
        stimuli = StimulusSet(ids=ids, images=refs, metadata=metadata, name="nsd")
    else:
        stimuli = StimulusSet(ids=ids, texts=list(ids), metadata=metadata, name="nsd-ids")
    return stimuli, resp


def nsd_ncsnr_ceiling(
    root: str | Path, subject: int, voxels: np.ndarray, trial_counts: np.ndarray
) -> np.ndarray:
    """NSD's noise ceiling of every selected voxel for responses averaged over trials.

    ``NC = ncsnr**2 / (ncsnr**2 + (A/3 + B/2 + C/1) / (A + B + C))`` with A, B, C the numbers of
    images averaged over 3, 2 and 1 trials (``trial_counts``, one per image): the NSD data
    manual's formula (Allen et al. 2022, Methods, "Noise ceiling"), as a fraction of variance
    (the manual multiplies by 100). ``voxels`` (n, 3) are the targets' ``i, j, k`` (as
    :func:`load_nsd` gives them); ``ncsnr.nii.gz`` is read from the subject's betas folder.
    """
    nib = require("nibabel", "neuro", "reading NSD ncsnr")
    path = check_file(
        Path(root) / f"nsddata_betas/ppdata/subj{subject:02d}/func1pt8mm/{_BETAS}/ncsnr.nii.gz",
        "NSD ncsnr file",
    )
    vol = np.asanyarray(nib.load(str(path)).dataobj)
    ijk = np.asarray(voxels, dtype=np.intp)
    if ijk.ndim != 2 or ijk.shape[1] != 3 or (ijk.max(0) >= np.asarray(vol.shape[:3])).any():
        raise ShapeError(
            f"voxels must be (n, 3) indices inside {str(path)!r} (shape {vol.shape}); got "
            f"{ijk.shape}."
        )
    snr2 = np.asarray(vol[ijk[:, 0], ijk[:, 1], ijk[:, 2]], dtype=np.float64) ** 2
    counts = np.asarray(trial_counts)
    if counts.size == 0 or counts.min() < 1:
        raise ValidationError("trial_counts must hold >= 1 trial per image.")
    noise = np.mean(1.0 / counts)  # (A/3 + B/2 + C/1) / (A + B + C)
    return snr2 / (snr2 + noise)


_BLOCK_BYTES = 32 * 2**20  # repetitions read at once when averaging and checking the outputs


def _average(
    reps: np.ndarray | None, data: np.ndarray, counts: np.ndarray, keep: bool, subj: str
) -> None:
    """Fill ``data`` with the mean over repetitions (or divide the running sums by the counts),
    a block of voxels at a time, and check that every voxel is finite."""
    n_vox = data.shape[1]
    per_voxel = (reps.shape[0] if reps is not None else 1) * data.shape[0] * 4
    step = max(1, _BLOCK_BYTES // per_voxel)
    bad = 0
    for a in range(0, n_vox, step):
        sl = slice(a, a + step)
        if keep:
            assert reps is not None
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", RuntimeWarning)
                data[:, sl] = np.nanmean(reps[:, :, sl], axis=0)
        else:
            data[:, sl] /= counts[:, None]
        bad += int((~np.isfinite(data[:, sl]).all(axis=0)).sum())
    if bad:
        raise ValidationError(f"{bad} voxel(s) of {subj} have NaN betas; restrict the brain mask.")


class _Outputs:
    """The output arrays: in memory, or ``.npy`` memory maps written to hidden temporary files
    and renamed into place once complete (then reopened read-only)."""

    def __init__(self, out: Path | None, keep: bool) -> None:
        self.keep = keep
        self.paths: list[Path] = []
        if out is not None:
            self.paths = [out, out.with_name(out.stem + ".average.npy")] if keep else [out]
        self.tmps = [p.with_name(f".{p.name}.{os.getpid()}.tmp") for p in self.paths]

    def _new(self, i: int, shape: tuple[int, ...], fill: float) -> np.ndarray:
        arr: np.ndarray
        if self.paths:
            arr = np.lib.format.open_memmap(self.tmps[i], mode="w+", dtype=np.float32, shape=shape)
        else:
            arr = np.empty(shape, dtype=np.float32)
        arr[...] = fill
        return arr

    def open(
        self, rep_shape: tuple[int, ...], avg_shape: tuple[int, ...]
    ) -> tuple[np.ndarray | None, np.ndarray]:
        if self.keep:
            return self._new(0, rep_shape, np.nan), self._new(1, avg_shape, 0.0)
        return None, self._new(0, avg_shape, 0.0)

    def close(
        self, reps: np.ndarray | None, data: np.ndarray
    ) -> tuple[np.ndarray | None, np.ndarray]:
        if not self.paths:
            return reps, data
        arrays = [reps, data] if self.keep else [data]
        for a, tmp, path in zip(arrays, self.tmps, self.paths, strict=True):
            assert isinstance(a, np.memmap)
            a.flush()
            os.replace(tmp, path)
        del arrays, reps, data
        opened = [np.load(p, mmap_mode="r") for p in self.paths]
        return (opened[0], opened[1]) if self.keep else (None, opened[0])

    def discard(self) -> None:
        for tmp in self.tmps:
            tmp.unlink(missing_ok=True)

    def files(self) -> dict[str, str]:
        if not self.paths:
            return {}
        if self.keep:
            return {"repetitions": str(self.paths[0]), "data": str(self.paths[1])}
        return {"data": str(self.paths[0])}
