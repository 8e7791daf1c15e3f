"""fMRI readers: NIfTI volumes with a mask or atlas, surface data (GIFTI / FreeSurfer), and
single-trial betas estimated from time series with nilearn's first-level GLM (LSA or LSS).

Every reader returns ``(StimulusSet, Responses)``: one volume (or surface map) per trial, the
trial's stimulus id from ``stimulus_ids`` (a sequence, a table or a text/TSV/CSV file), trials of
one stimulus kept
as repetitions, and a targets table (``roi``, voxel indices ``i, j, k`` and world coordinates
``x, y, z`` in mm; or ``hemi``, ``vertex`` for surfaces). Voxels that are NaN in any trial are
excluded and reported (``Responses.meta["exclusions"]``).
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ..core import Responses, StimulusSet
from ..core._validation import check_choice, require
from ..core.exceptions import ShapeError, ValidationError
from ._assemble import (
    UNSET,
    Exclusions,
    check_file,
    check_image_complete,
    finite_targets,
    renamed_argument,
    stimulus_set_for,
    trials_to_responses,
    voxel_table,
)
from ._trial_ids import read_stimulus_ids

__all__ = ["estimate_single_trial_betas", "load_fmri", "load_surface"]

_NIFTI = (".nii", ".nii.gz", ".img", ".hdr", ".mgz", ".mgh")


def _nib() -> Any:
    return require("nibabel", "neuro", "reading NIfTI/GIFTI files")


def _load_img(img: Any, what: str) -> tuple[Any, str]:
    """A nibabel image and a printable name, from a path or an image object."""
    nib = _nib()
    if isinstance(img, (str, Path)):
        path = check_file(img, what, _NIFTI)
        try:
            loaded = nib.load(str(path))
        except Exception as err:  # nibabel raises several types for corrupt files
            raise ValidationError(
                f"{what} {str(path)!r} could not be read as a neuroimaging volume ({err}); the file "
                "may be truncated or corrupt: download or export it again."
            ) from err
        check_image_complete(loaded, path, what)
        return loaded, str(path)
    if hasattr(img, "dataobj") and hasattr(img, "affine"):
        name = img.get_filename() if hasattr(img, "get_filename") else None
        return img, str(name or f"<in-memory {what}>")
    raise ValidationError(
        f"{what} must be a path to a NIfTI file or a nibabel image; got {type(img).__name__}."
    )


def _atlas_names(values: np.ndarray, atlas_labels: Any) -> dict[int, str]:
    names: dict[int, str] = {}
    if atlas_labels is None:
        return {int(v): f"roi{int(v)}" for v in values}
    if isinstance(atlas_labels, (str, Path)):
        path = check_file(atlas_labels, "atlas_labels file", (".tsv", ".csv", ".txt", ".ctab"))
        rows = [ln.split() for ln in path.read_text().splitlines() if ln.strip()]
        rows = [r for r in rows if r[0].lstrip("-").isdigit()]  # skip headers / comments
        mapping: Mapping[int, str] = {int(r[0]): r[1] for r in rows}
    elif isinstance(atlas_labels, Mapping):
        mapping = {int(k): str(v) for k, v in atlas_labels.items()}
    else:
        mapping = dict(enumerate(str(v) for v in atlas_labels))
    for v in values:
        names[int(v)] = mapping.get(int(v), f"roi{int(v)}")
    return names


def _targets_from_mask(
    img_shape: tuple[int, ...],
    affine: np.ndarray,
    mask: Any,
    atlas: Any,
    atlas_labels: Any,
    source: str,
    affine_tol: float = 1e-3,
) -> tuple[np.ndarray, pd.DataFrame]:
    """Boolean 3-D selection and the targets table (roi, i, j, k, x, y, z)."""
    sel = np.ones(img_shape, dtype=bool)
    roi = None
    for what, spec in (("mask", mask), ("atlas", atlas)):
        if spec is None:
            continue
        m_img, m_name = _load_img(spec, what)
        if len(m_img.shape) not in (3, 4) or (len(m_img.shape) == 4 and m_img.shape[3] != 1):
            raise ShapeError(
                f"{what} {m_name!r} must be one 3-D volume; got shape {tuple(m_img.shape)} (a "
                f"{len(m_img.shape)}-D image). Pass the {what} file, not the data."
            )
        if tuple(m_img.shape[:3]) != tuple(img_shape):
            raise ShapeError(
                f"{what} {m_name!r} has shape {tuple(m_img.shape)} but {source!r} has volumes of "
                f"shape {tuple(img_shape)}; resample the {what} to the data first (e.g. "
                "nilearn.image.resample_to_img(mask, data, interpolation='nearest'))."
            )
        if not np.allclose(m_img.affine, affine, atol=affine_tol):
            raise ShapeError(
                f"{what} {m_name!r} and {source!r} have different affines (voxel-to-world "
                f"transforms):\n{np.round(m_img.affine, 3)}\nvs\n{np.round(affine, 3)}; they are "
                "not in the same space. Resample the mask to the data."
            )
        arr = np.asanyarray(m_img.dataobj)
        arr = arr.reshape(arr.shape[:3])
        if what == "mask":
            sel &= arr > 0
        else:
            roi = np.rint(arr).astype(np.int64)
            sel &= roi > 0
    if not sel.any():
        raise ValidationError(
            f"the mask/atlas selects no voxel of {source!r}; check that it is the right file."
        )
    table = voxel_table(sel, affine)
    if roi is not None:
        values = roi[sel]
        names = _atlas_names(np.unique(values), atlas_labels)
        table.insert(0, "roi", [names[int(v)] for v in values])
        table.insert(1, "roi_value", values)
    return sel, table


def _read_masked(img: Any, sel: np.ndarray, chunk: int = 64) -> np.ndarray:
    """Masked trials (n_trials, n_voxels) float32, reading ``chunk`` volumes at a time."""
    shape = img.shape
    n = shape[3] if len(shape) == 4 else 1
    out = np.empty((n, int(sel.sum())), dtype=np.float32)
    proxy = img.dataobj
    if len(shape) == 3:
        out[0] = np.asanyarray(proxy)[sel]
        return out
    fname = img.get_filename() if hasattr(img, "get_filename") else None
    if fname and str(fname).endswith(".gz"):  # gzip cannot seek: one pass over the whole file
        data = np.asanyarray(proxy)
        for a in range(0, n, chunk):
            out[a : a + chunk] = np.moveaxis(data[..., a : a + chunk][sel], 0, 1)
        return out
    for a in range(0, n, chunk):  # memory-mapped or in-memory: chunk by chunk
        block = np.asanyarray(proxy[..., a : a + chunk])
        out[a : a + chunk] = np.moveaxis(block[sel], 0, 1)
    return out


def load_fmri(
    img: Any,
    stimulus_ids: Sequence[Any] | str | Path | pd.DataFrame | None = None,
    *,
    mask: Any = None,
    atlas: Any = None,
    atlas_labels: Any = None,
    stimuli: StimulusSet | None = None,
    stimulus_column: str | int | None = None,
    subject: str | None = None,
    name: str | None = None,
    labels: Any = UNSET,
) -> tuple[StimulusSet, Responses]:
    """Read per-trial fMRI response estimates (betas) from NIfTI volumes.

    Parameters
    ----------
    img : path, nibabel image or list of them
        A 4-D image with one volume per trial (or a list of 3-D / 4-D images, concatenated).
    stimulus_ids : sequence of str, DataFrame or path to a TSV/CSV/text file
        The stimulus id of each volume (one row per volume, in order): ids, an events table, or a
        file. A text file without a header (e.g. PyMVPA's ``attributes.txt``: ``<label> <run>``
        per line, separated by spaces) has numbered columns; its ids are column 0 unless
        ``stimulus_column`` says otherwise.
    mask : path or image, optional
        A 3-D mask on the same grid (shape and affine) as ``img``; voxels > 0 are read.
    atlas : path or image, optional
        A 3-D integer label image on the same grid; every voxel with a label > 0 is read and its
        label becomes the target's ``roi`` (combined with ``mask`` when both are given).
    atlas_labels : mapping, sequence or path, optional
        Names of atlas values: ``{value: name}``, a list indexed by value, or a lookup-table file
        with lines ``value name ...`` (FreeSurfer ``.ctab`` / TSV).
    stimuli : StimulusSet, optional
        The stimuli shown; ids in ``stimulus_ids`` absent from it raise. Default: a text set of
        the ids.
    stimulus_column : str or int, optional
        Column of the events table with the stimulus ids (a position for a headerless file).
    subject : str, optional
        Added as a ``subject`` column of the targets table.
    name : str, optional
        Name of the Responses (default: the file name).
    labels
        Old name of ``stimulus_ids`` (deprecated: ``labels`` meant ROI names elsewhere).

    Returns
    -------
    stimuli : StimulusSet
        In the order of first appearance in ``stimulus_ids``.
    responses : Responses
        ``data`` (n_stimuli, n_voxels), ``repetitions`` (n_reps, n_stimuli, n_voxels), targets with
        ``roi`` (atlas), ``i, j, k`` and ``x, y, z`` (mm).
    """
    stimulus_ids = _resolve_ids("load_fmri", stimulus_ids, labels)
    images = list(img) if isinstance(img, (list, tuple)) else [img]
    loaded = [_load_img(im, "img") for im in images]
    first, source = loaded[0]
    if len(first.shape) not in (3, 4):
        raise ShapeError(f"img {source!r} must be 3-D or 4-D; got shape {first.shape}.")
    sel, table = _targets_from_mask(
        tuple(first.shape[:3]), first.affine, mask, atlas, atlas_labels, source
    )
    parts = []
    for im, nm in loaded:
        if tuple(im.shape[:3]) != tuple(first.shape[:3]):
            raise ShapeError(
                f"img {nm!r} has volumes of shape {im.shape[:3]}, unlike {source!r} "
                f"{first.shape[:3]}; all images must share one grid."
            )
        try:
            parts.append(_read_masked(im, sel))
        except (OSError, EOFError, ValueError) as err:
            raise ValidationError(
                f"img {nm!r} could not be read ({err}); the file may be truncated or corrupt: "
                "download or export it again."
            ) from err
    trials = np.concatenate(parts) if len(parts) > 1 else parts[0]
    ids, _events = read_stimulus_ids(stimulus_ids, trials.shape[0], source, stimulus_column)
    exclusions = Exclusions(source)
    keep = finite_targets(trials, exclusions, "voxels")
    if not keep.any():
        raise ValidationError(f"every voxel of {source!r} is NaN or infinite in some trial.")
    if not keep.all():
        trials, table = trials[:, keep], table[keep].reset_index(drop=True)
    if subject is not None:
        table.insert(0, "subject", subject)
    resp = trials_to_responses(
        trials,
        ids,
        targets=table,
        name=name or Path(source).name,
        meta={"source": source, "affine": np.asarray(first.affine).tolist(), "kind": "fmri"},
        exclusions=exclusions,
    )
    stim = stimulus_set_for(resp.stimulus_ids, stimuli, source)
    return stim, resp


def _resolve_ids(func: str, stimulus_ids: Any, labels: Any) -> Any:
    why = "`labels` meant stimulus ids here but ROI names elsewhere; one word, one meaning"
    stimulus_ids = renamed_argument(func, "labels", labels, "stimulus_ids", stimulus_ids, None, why)
    if stimulus_ids is None:
        raise ValidationError(
            f"{func} needs stimulus_ids: the stimulus id of each trial (a list, a DataFrame, or a "
            "TSV/CSV/text events file)."
        )
    return stimulus_ids


# --------------------------------------------------------------------------- surfaces
def _read_surface(path: Any) -> tuple[np.ndarray, str]:
    """(n_trials, n_vertices) from a GIFTI (.gii, one data array per trial) or .mgh/.mgz file."""
    nib = _nib()
    if isinstance(path, np.ndarray):
        return np.asarray(path, dtype=np.float32), "<array>"
    p = check_file(path, "surface file", (".gii", ".mgh", ".mgz"))
    try:
        im = nib.load(str(p))
    except Exception as err:
        raise ValidationError(
            f"surface file {str(p)!r} could not be read ({err}); it may be truncated or corrupt."
        ) from err
    check_image_complete(im, p, "surface file")
    if p.name.endswith(".gii"):
        arrays = [np.asarray(d.data, dtype=np.float32).ravel() for d in im.darrays]
        if not arrays:
            raise ValidationError(f"GIFTI file {str(p)!r} has no data arrays.")
        return np.stack(arrays), str(p)
    data = np.asanyarray(im.dataobj).astype(np.float32)
    return data.reshape(data.shape[0], -1).T, str(p)  # (n_vertices, 1, 1, n_trials)


def load_surface(
    surfaces: Mapping[str, Any],
    stimulus_ids: Sequence[Any] | str | Path | pd.DataFrame | None = None,
    *,
    atlas: Mapping[str, Any] | None = None,
    atlas_labels: Mapping[int, str] | Sequence[str] | None = None,
    stimuli: StimulusSet | None = None,
    stimulus_column: str | int | None = None,
    subject: str | None = None,
    name: str | None = None,
    labels: Any = UNSET,
    rois: Any = UNSET,
    roi_names: Any = UNSET,
) -> tuple[StimulusSet, Responses]:
    """Read per-trial responses on the cortical surface (GIFTI ``.func.gii`` or FreeSurfer ``.mgh``).

    Parameters
    ----------
    surfaces : mapping hemisphere -> path (or array (n_trials, n_vertices))
        e.g. ``{"lh": "lh.betas.func.gii", "rh": "rh.betas.func.gii"}`` (fsaverage or native).
        In a GIFTI file each data array is one trial.
    stimulus_ids : the stimulus id of each trial (see :func:`load_fmri`).
    atlas : mapping hemisphere -> integer label array (n_vertices,) or FreeSurfer ``.annot`` /
        ``.label.gii`` path, optional
        Vertices with label > 0 are kept and labelled (their ROI); without it every vertex is kept.
    atlas_labels : names of label values (mapping or list indexed by value); ``.annot`` files
        carry their own names.
    labels, rois, roi_names : old names of ``stimulus_ids``, ``atlas`` and ``atlas_labels``
        (deprecated).

    Returns
    -------
    (StimulusSet, Responses) with targets ``hemi``, ``vertex`` (and ``roi``).
    """
    stimulus_ids = _resolve_ids("load_surface", stimulus_ids, labels)
    why = "a `roi` is one named group of targets; label arrays defining several are an atlas"
    atlas = renamed_argument("load_surface", "rois", rois, "atlas", atlas, None, why)
    why = "names of atlas values, as in load_fmri"
    atlas_labels = renamed_argument(
        "load_surface", "roi_names", roi_names, "atlas_labels", atlas_labels, None, why
    )
    nib = _nib()
    blocks, tables, source = [], [], ""
    exclusions_src = []
    for hemi, spec in surfaces.items():
        data, src = _read_surface(spec)
        exclusions_src.append(src)
        source = source or src
        n_vert = data.shape[1]
        keep = np.ones(n_vert, dtype=bool)
        table = pd.DataFrame({"hemi": hemi, "vertex": np.arange(n_vert)})
        if atlas is not None and hemi in atlas:
            spec_roi = atlas[hemi]
            names: Mapping[int, str] | None = None
            if isinstance(spec_roi, (str, Path)):
                p = check_file(spec_roi, f"atlas[{hemi!r}]", (".annot", ".gii"))
                if p.name.endswith(".annot"):
                    lab, _, nm = nib.freesurfer.read_annot(str(p))
                    names = {
                        i: n.decode() if isinstance(n, bytes) else str(n) for i, n in enumerate(nm)
                    }
                    values = np.asarray(lab)
                else:
                    values = np.asarray(nib.load(str(p)).darrays[0].data).ravel()
            else:
                values = np.asarray(spec_roi).ravel()
            if len(values) != n_vert:
                raise ShapeError(
                    f"atlas[{hemi!r}] has {len(values)} labels but the {hemi} surface data "
                    f"{src!r} has {n_vert} vertices; use labels on the same surface mesh."
                )
            values = np.rint(values).astype(np.int64)
            keep = values > 0
            if names is None:
                names = _atlas_names(np.unique(values[keep]), atlas_labels)
            table["roi"] = [names.get(int(v), f"roi{int(v)}") for v in values]
        blocks.append(data[:, keep])
        tables.append(table[keep])
    n_trials = {b.shape[0] for b in blocks}
    if len(n_trials) != 1:
        raise ShapeError(
            f"the hemispheres have different numbers of trials {sorted(n_trials)} "
            f"({exclusions_src}); they must come from the same runs."
        )
    trials = np.concatenate(blocks, axis=1)
    targets = pd.concat(tables, ignore_index=True)
    ids, _ = read_stimulus_ids(stimulus_ids, trials.shape[0], source, stimulus_column)
    exclusions = Exclusions(source)
    keep = finite_targets(trials, exclusions, "vertices")
    trials, targets = trials[:, keep], targets[keep].reset_index(drop=True)
    if subject is not None:
        targets.insert(0, "subject", subject)
    resp = trials_to_responses(
        trials,
        ids,
        targets=targets,
        name=name or Path(source).name,
        meta={"source": exclusions_src, "kind": "surface"},
        exclusions=exclusions,
    )
    return stimulus_set_for(resp.stimulus_ids, stimuli, source), resp


# --------------------------------------------------------------------------- single-trial GLM
def estimate_single_trial_betas(
    run_imgs: Sequence[Any],
    events: Sequence[Any],
    t_r: float,
    *,
    method: str = "lss",
    mask: Any = None,
    stimulus_column: str = "trial_type",
    hrf_model: str = "glover",
    drift_model: str = "cosine",
    high_pass: float = 0.01,
    confounds: Sequence[Any] | None = None,
) -> tuple[Any, pd.DataFrame]:
    """One beta map per trial from fMRI time series, with nilearn's first-level GLM.

    Parameters
    ----------
    run_imgs : list of 4-D images (paths or nibabel), one per run
    events : list of events tables (DataFrame or TSV path), one per run, with ``onset``,
        ``duration`` and ``stimulus_column`` (the stimulus id of each trial)
    t_r : float
        Repetition time in seconds.
    method : ``"lss"`` or ``"lsa"``
        Least-squares-all: one GLM per run with one regressor per trial. Least-squares-separate
        (Mumford et al. 2012): one GLM per trial with that trial as one regressor and every other
        trial of the run in one regressor per stimulus id; more robust when trials overlap in time.
    mask : optional brain mask passed to the GLM.

    Returns
    -------
    betas : nibabel image (x, y, z, n_trials)
        Trials in run order then onset order.
    trials : DataFrame
        One row per trial: ``run``, ``onset``, ``stimulus_id`` (pass as ``stimulus_ids`` to
        :func:`load_fmri`).
    """
    check_choice(method, "method", ("lss", "lsa"))
    glm = require("nilearn.glm.first_level", "neuro", "single-trial GLM estimation")
    image = require("nilearn.image", "neuro", "single-trial GLM estimation")
    if len(run_imgs) != len(events):
        raise ValidationError(
            f"run_imgs has {len(run_imgs)} runs but events has {len(events)} tables; pass one "
            "events table per run."
        )
    kw_base: dict[str, Any] = {
        "t_r": t_r,
        "hrf_model": hrf_model,
        "drift_model": drift_model,
        "high_pass": high_pass,
        "mask_img": mask if mask is not None else False,
        "minimize_memory": True,
        "signal_scaling": False,
    }
    maps: list[Any] = []
    rows: list[pd.DataFrame] = []
    with warnings.catch_warnings():  # nilearn notes that our mask (or none) is used: expected
        warnings.filterwarnings("ignore", message=".*Generation of a mask has been requested.*")
        for run, (img, ev) in enumerate(zip(run_imgs, events, strict=True)):
            _fit_run(glm, run, img, ev, stimulus_column, method, confounds, maps, rows, kw_base)
    return image.concat_imgs(maps), pd.concat(rows, ignore_index=True)


def _fit_run(
    glm: Any,
    run: int,
    img: Any,
    ev: Any,
    stimulus_column: str,
    method: str,
    confounds: Sequence[Any] | None,
    maps: list[Any],
    rows: list[pd.DataFrame],
    kw: dict[str, Any],
) -> None:
    """Fit one run's GLM(s) and append its trial maps and trial table."""
    table = pd.read_csv(ev, sep="\t") if isinstance(ev, (str, Path)) else pd.DataFrame(ev)
    missing = {"onset", "duration", stimulus_column} - set(table.columns)
    if missing:
        raise ValidationError(
            f"events of run {run} lack column(s) {sorted(missing)}; columns are "
            f"{list(table.columns)}."
        )
    table = table.sort_values("onset").reset_index(drop=True)
    trial_names = [f"trial{i:05d}" for i in range(len(table))]
    conf = None if confounds is None else confounds[run]
    if method == "lsa":
        ev_lsa = table[["onset", "duration"]].assign(trial_type=trial_names)
        model = glm.FirstLevelModel(**kw).fit(img, events=ev_lsa, confounds=conf)
        maps += [model.compute_contrast(t, output_type="effect_size") for t in trial_names]
    else:
        for i, t in enumerate(trial_names):
            types = ["other_" + str(s) for s in table[stimulus_column]]
            types[i] = t
            ev_lss = table[["onset", "duration"]].assign(trial_type=types)
            model = glm.FirstLevelModel(**kw).fit(img, events=ev_lss, confounds=conf)
            maps.append(model.compute_contrast(t, output_type="effect_size"))
    rows.append(
        pd.DataFrame(
            {"run": run, "onset": table["onset"], "stimulus_id": table[stimulus_column].astype(str)}
        )
    )
