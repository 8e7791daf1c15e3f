"""The benchmarks on the Natural Scenes Dataset: NSD's own ROIs (``Allen2022.<roi>-encoding``:
images from ``nsd_stimuli.hdf5``, the shared-1000 test images, ncsnr ceilings) and the Algonauts
2023 challenge's release of it (``Algonauts2023.<hemi>-encoding``, with NSD's ncsnr ceiling on the
challenge's vertices), each across NSD's 8 subjects. Registered by ``bench/builtin``."""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ..core import Responses
from ..core.exceptions import ConfigurationError
from ._benchmark import BenchmarkData, fetched_dataset

__all__ = [
    "NSD_GROUPS",
    "NSD_ROIS",
    "NSD_SUBJECTS",
    "load_algonauts2023",
    "load_nsd_roi",
    "nsd_benchmarks",
]


#: NSD benchmark ROI → (atlas under func1pt8mm/roi/, its ROI names or None for every ROI).
NSD_ROIS: dict[str, tuple[str, tuple[str, ...] | None]] = {
    "V1": ("prf-visualrois", ("V1v", "V1d")),
    "V2": ("prf-visualrois", ("V2v", "V2d")),
    "V3": ("prf-visualrois", ("V3v", "V3d")),
    "V4": ("prf-visualrois", ("hV4",)),
    "faces": ("floc-faces", None),
    "bodies": ("floc-bodies", None),
    "places": ("floc-places", None),
    "words": ("floc-words", None),
    "nsdgeneral": ("nsdgeneral", None),
}

#: The NSD subjects an ``Allen2022.*`` benchmark averages over (those fetched).
NSD_SUBJECTS = tuple(range(1, 9))

#: Group labels of NSD stimuli: the shared-1000 images (seen by all 8 subjects) score a layer;
#: the subject's own images commit it (seed 0 of the "groups" split commits "own").
NSD_GROUPS = ("own", "shared1000")


def load_nsd_roi(
    atlas: str, rois: tuple[str, ...] | None = None, subject: int = 1
) -> BenchmarkData:
    """NSD subject ``subject``: z-scored single-trial betas of an atlas's ROIs averaged over the
    trials of each image, the images (``nsd_stimuli.hdf5``, read lazily), the shared-1000 test
    split as ``groups``, and NSD's ncsnr noise ceiling as ``ceiling``.

    The ceiling is the mean over voxels of ``sqrt(NC)`` (NC: :func:`~neuroalign.data.
    nsd_ncsnr_ceiling` for the trial counts of the shared-1000 images read), the correlation a
    perfect model reaches with trial-averaged responses, in the units of the encoding score.
    """
    from ..core.exceptions import DataNotFoundError
    from ..data import load_nsd, nsd_ncsnr_ceiling, nsd_trial_ids

    root = fetched_dataset("nsd")
    subj = f"subj{int(subject):02d}"
    missing = [
        d
        for d in (f"nsddata/ppdata/{subj}/func1pt8mm", f"nsddata_betas/ppdata/{subj}/func1pt8mm")
        if not (root / d).is_dir()
    ]
    if missing:  # a subject not fetched: excluded (and reported) by a benchmark across subjects
        raise DataNotFoundError(
            f"NSD {subj}: {[str(root / d) for d in missing]} not found; fetch it with "
            f"`neuroalign data fetch nsd --subject {subj}`."
        )
    stim, resp = load_nsd(
        root,
        subject,
        atlas=atlas,
        rois=list(rois) if rois else None,
        zscore=True,
        keep_repetitions=False,
        images=True,
    )
    meta = stim.metadata
    if "shared1000" not in meta:
        raise ConfigurationError(
            "NSD: the shared-1000 test split needs nsddata/experiments/nsd/"
            "nsd_stim_info_merged.csv (column shared1000); fetch it with "
            "`neuroalign data fetch nsd`."
        )
    shared = meta["shared1000"].astype(str).str.lower().isin(["true", "1"]).to_numpy()
    if shared.all() or not shared.any():
        raise ConfigurationError(
            f"NSD subject {subject}: the sessions read hold {int(shared.sum())} shared-1000 images "
            f"of {len(shared)}; the split needs both shared and own images."
        )
    groups = np.where(shared, NSD_GROUPS[1], NSD_GROUPS[0])
    sessions = [int(k) for k in resp.meta["sessions"]]
    trials = nsd_trial_ids(root, subject).reshape(-1, 750)[np.asarray(sessions) - 1].ravel()
    ids, counts = np.unique(trials, return_counts=True)
    per_id = dict(zip(ids.tolist(), counts.tolist(), strict=True))
    test_counts = np.array([per_id[int(v)] for v in meta["nsd_id"].to_numpy()[shared]])
    targets = resp.targets
    ijk = targets[["i", "j", "k"]].to_numpy()
    nc = nsd_ncsnr_ceiling(root, subject, ijk, test_counts)
    ceiling = float(np.mean(np.sqrt(nc)))
    info = {
        "subject": subject,
        "atlas": atlas,
        "rois": list(rois) if rois else sorted(set(targets["roi"])) if "roi" in targets else [],
        "n_voxels": resp.n_targets,
        "n_test": int(shared.sum()),
        "ceiling": "ncsnr (NSD data manual), mean sqrt(NC) over voxels",
    }
    return BenchmarkData(stim, resp, groups=groups, ceiling=ceiling, info=info)


def load_algonauts2023(hemisphere: str, subject: int = 1) -> BenchmarkData:
    """Algonauts 2023 training split of one subject and hemisphere (the challenge's fsaverage
    vertices) with the training images (``training_split/training_images/train-NNNN_nsd-KKKKK
    .png``, stimulus ids = file stems), and NSD's ncsnr noise ceiling on the same vertices.

    The challenge's responses are averages over each image's trials, so they hold no
    repetitions to split. The challenge itself computes its noise ceiling from NSD's ncsnr
    (gifale95/algonauts_2023, ``code/01_challenge_data_preparation/
    challenge_data_preparation.py`` l.225-261), but only for its withheld test split
    (``test_split/noise_ceiling``), not for the training images scored here. The ceiling here
    is the same computation on the training images: ``<nsd>/nsddata_betas/ppdata/subjNN/
    fsaverage/betas_fithrf_GLMdenoise_RR/<hemi>.ncsnr.mgh`` (163842 fsaverage vertices) taken
    at the challenge's vertices (the nonzero entries of ``roi_masks/<hemi>.all-vertices_
    fsaverage_space.npy``, in order: l.172-180 of that script), each image's number of training
    trials (1-3) from NSD's ``nsd_expdesign.mat`` over the subject's training sessions
    (:func:`~neuroalign.data._fetch.algonauts2023_training_trials`), ``NC = ncsnr² / (ncsnr² +
    mean(1/trials))`` over all training images, and the ceiling = mean over vertices of
    ``sqrt(NC)`` (Pearson-r units, like the score). When one of those files is missing the
    ceiling is None (scores raw) and ``info["ceiling"]`` says which file.
    """
    import re

    from ..core import StimulusSet
    from ..core.exceptions import DataNotFoundError, ShapeError

    base = fetched_dataset("algonauts2023")
    subj_dir = base / f"subj{int(subject):02d}"
    if not subj_dir.is_dir():  # a subject not fetched: excluded by a benchmark across subjects
        raise DataNotFoundError(
            f"Algonauts 2023 subj{int(subject):02d}: {str(subj_dir)!r} not found; fetch it with "
            f"`neuroalign data fetch algonauts2023 --subject subj{int(subject):02d}`."
        )
    root = subj_dir / "training_split"
    images = sorted((root / "training_images").glob("*.png"))
    fmri = root / "training_fmri" / f"{hemisphere}_training_fmri.npy"
    if not images or not fmri.is_file():
        raise ConfigurationError(
            f"Algonauts 2023: expected {str(fmri)!r} and PNG images in "
            f"{str(root / 'training_images')!r} (the challenge's own layout)."
        )
    data = np.load(fmri, mmap_mode="r")
    if data.ndim != 2 or data.shape[0] != len(images):
        raise ShapeError(
            f"Algonauts 2023: {str(fmri)!r} has shape {data.shape}; expected ({len(images)} "
            "training images, vertices)."
        )
    stim = StimulusSet(ids=np.array([p.stem for p in images]), images=images, name="algonauts2023")
    targets = pd.DataFrame(
        {"target": [f"{hemisphere}_{i}" for i in range(data.shape[1])], "roi": hemisphere}
    )
    resp = Responses(
        stimulus_ids=stim.stimulus_ids, data=data, targets=targets, name="algonauts2023"
    )
    nsd_index = []
    for p in images:
        m = re.search(r"_nsd-(\d+)$", p.stem)
        if m is None:
            raise ConfigurationError(
                f"Algonauts 2023: image {p.name!r} is not named train-NNNN_nsd-KKKKK.png."
            )
        nsd_index.append(int(m.group(1)))
    ceiling, why = _algonauts2023_ceiling(subj_dir, int(subject), hemisphere, nsd_index, data)
    info = {
        "subject": int(subject),
        "hemisphere": hemisphere,
        "n_vertices": int(data.shape[1]),
        "ceiling": why,
    }
    return BenchmarkData(stim, resp, ceiling=ceiling, info=info)


def _algonauts2023_ceiling(
    subj_dir: Path, subject: int, hemisphere: str, nsd_index: list[int], data: np.ndarray
) -> tuple[float | None, str]:
    """(ceiling or None, how it was computed or why there is none): see
    :func:`load_algonauts2023`."""
    from ..core._validation import require
    from ..core.exceptions import ShapeError
    from ..data import get_data_dir, ncsnr_noise_ceiling
    from ..data._fetch import NSD_BETAS, algonauts2023_training_trials

    nsd = get_data_dir() / "nsd"
    mask_f = subj_dir / "roi_masks" / f"{hemisphere}.all-vertices_fsaverage_space.npy"
    ncsnr_f = (
        nsd / f"nsddata_betas/ppdata/subj{subject:02d}/fsaverage/{NSD_BETAS}/{hemisphere}.ncsnr.mgh"
    )
    design = nsd / "nsddata/experiments/nsd/nsd_expdesign.mat"
    missing = [str(f) for f in (mask_f, ncsnr_f, design) if not f.is_file()]
    if missing:
        return None, (
            f"none (scores raw): NSD's ncsnr ceiling on the challenge's vertices needs {missing}; "
            "fetch them with `neuroalign data fetch nsd --subject subjNN --files ncsnr.mgh "
            "nsd_expdesign.mat` and `neuroalign data fetch algonauts2023`"
        )
    nib = require("nibabel", "neuro", "reading NSD's fsaverage ncsnr")
    vertices = np.flatnonzero(np.load(mask_f))
    if len(vertices) != data.shape[1]:
        raise ShapeError(
            f"Algonauts 2023: {str(mask_f)!r} selects {len(vertices)} fsaverage vertices but the "
            f"training fMRI has {data.shape[1]}."
        )
    ncsnr = np.asarray(nib.load(str(ncsnr_f)).get_fdata(), dtype=np.float64).ravel()
    if ncsnr.size <= vertices.max():
        raise ShapeError(
            f"{str(ncsnr_f)!r} holds {ncsnr.size} values; the challenge's vertices reach "
            f"{int(vertices.max())} (fsaverage has 163842 per hemisphere)."
        )
    trials = algonauts2023_training_trials(design, subject)
    ids, counts = np.unique(trials, return_counts=True)
    pos = np.searchsorted(ids, nsd_index)
    bad = [k for k, q in zip(nsd_index, pos, strict=True) if q >= len(ids) or ids[q] != k]
    if bad:
        raise ConfigurationError(
            f"Algonauts 2023 subj{subject:02d}: {len(bad)} training images (e.g. nsd-{bad[0]:05d})"
            " are not among the subject's training trials in NSD's design; wrong subject folder?"
        )
    nc = ncsnr_noise_ceiling(ncsnr[vertices], counts[pos])
    n_trials = np.bincount(counts[pos], minlength=4)[1:].tolist()
    return float(np.mean(np.sqrt(nc))), (
        "NSD ncsnr on the challenge's fsaverage vertices, training trial counts "
        f"(images with 1/2/3 trials: {n_trials}), mean sqrt(NC) over vertices"
    )


def nsd_benchmarks() -> dict[str, dict[str, Any]]:
    """The NSD and Algonauts 2023 benchmark specs for ``bench/builtin`` (metric ``encoding``)."""
    from ..data import DATASETS

    out: dict[str, dict[str, Any]] = {}
    for roi, (atlas, labels) in NSD_ROIS.items():
        out[f"Allen2022.{roi}-encoding"] = dict(
            loader=functools.partial(load_nsd_roi, atlas, labels),
            version="3",  # 3: across the 8 subjects (was subject 1)
            subjects=NSD_SUBJECTS,
            commit_split="groups",
            ceiling="NSD ncsnr noise ceiling of the shared-1000 trial averages (mean sqrt(NC)), "
            "per subject; ceiled = mean over subjects of score / ceiling",
            citation=DATASETS["nsd"].citation,
            licence=DATASETS["nsd"].licence,
            description=(
                f"NSD subjects 1-8 (those fetched; the others are reported as excluded), {roi} "
                f"({atlas}"
                + (f": {', '.join(labels)}" if labels else ", every ROI")
                + "); z-scored single-trial betas averaged per image; images from "
                "nsd_stimuli.hdf5; one layer is committed on the subjects' own images (best "
                "mean over subjects) and scored on each subject's shared-1000 images; the score "
                "is the mean over subjects with a t-interval over subjects, per-subject rows "
                "kept (one subject: loader_args subject=N in a TOML)"
            ),
        )
    for hemi in ("lh", "rh"):
        out[f"Algonauts2023.{hemi}-encoding"] = dict(
            loader=functools.partial(load_algonauts2023, hemi),
            version="3",  # 3: NSD ncsnr ceiling, across subjects (was subject 1, raw)
            subjects=NSD_SUBJECTS,
            ceiling="NSD's ncsnr noise ceiling on the challenge's fsaverage vertices (the "
            "challenge's own formula, with the training images' trial counts; the challenge "
            "publishes ceilings only for its withheld test split), mean sqrt(NC) per subject; "
            "raw, with the reason in the card, when NSD's fsaverage ncsnr / design are not "
            "fetched (the responses are trial averages: no split-half ceiling exists)",
            citation=DATASETS["algonauts2023"].citation,
            licence=DATASETS["algonauts2023"].licence,
            description=f"Algonauts 2023 subjects 1-8 (those fetched), {hemi} fsaverage vertices "
            "(training split, random half of the images commits a layer, the other half scores "
            "it); mean over subjects",
        )
    return out
