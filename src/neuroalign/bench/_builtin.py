"""The built-in benchmarks: on data that ships (Kriegeskorte 2008, Haxby 2001, simulated) and on
public datasets once fetched (NSD, Algonauts 2023, THINGS-EEG2, THINGS-fMRI).

Each loader is a module-level function (picklable for Dask workers), memoised per process (the
bundled data never change within a version); the registry holds ``functools.partial`` factories,
so listing benchmarks loads nothing.
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from scipy.spatial.distance import pdist

from ..core import RDMs, Responses
from ..core.exceptions import ConfigurationError
from ._benchmark import BENCHMARKS, Benchmark, BenchmarkData
from ._things import things_benchmarks

__all__ = ["SIMULATED_ROIS"]

# --------------------------------------------------------------------------- Kriegeskorte 2008


@functools.lru_cache(maxsize=4)
def load_kriegeskorte2008(roi: str) -> BenchmarkData:
    """The 92 images with human-IT RDMs (4 subjects; each subject's 2 sessions averaged) or the
    monkey-IT RDM (one animal)."""
    from ..data import load_kriegeskorte92

    d = load_kriegeskorte92()
    if roi == "hIT":
        rdms = d.human_it
        assert rdms.descriptors is not None
        subj = np.asarray(rdms.descriptors["subject"]).astype(str)
        order = list(pd.unique(subj))
        vecs = np.stack([np.asarray(rdms.dissimilarities)[subj == s].mean(0) for s in order])
        brain = RDMs(
            vecs, rdms.stimulus_ids, pd.DataFrame({"subject": order}), metric="correlation"
        )
    else:
        brain = d.monkey_it
    info = {"n_subjects": brain.n_rdms, "n_stimuli": len(d.stimuli), "categories": 6}
    return BenchmarkData(d.stimuli, brain, info=info)


def _kriegeskorte(roi: str) -> Benchmark:
    from ..data import KRIEGESKORTE92_CITATION

    human = roi == "hIT"
    return Benchmark(
        id=f"Kriegeskorte2008.{roi}-rsa",
        loader=functools.partial(load_kriegeskorte2008, roi),
        metric="rsa",
        version="1",
        metric_params={"method": "spearman", "metric": "correlation", "n_boot": 100},
        commit_split="stimuli",
        ceiling="subject-RDM noise ceiling (lower: leave-one-subject-out, upper: all subjects)"
        if human
        else "none (one animal's RDM): scores are raw",
        citation=KRIEGESKORTE92_CITATION,
        licence="MIT (rsatoolbox demo data)",
        description=(
            "92 object images; "
            + (
                "human IT fMRI, 4 subjects (sessions averaged), 316 voxels"
                if human
                else "monkey IT, 674 neurons (Kiani et al. 2007)"
            )
            + "; Spearman RSA of correlation-distance RDMs."
        ),
    )


# --------------------------------------------------------------------------- Algonauts 2019

#: Image-set size → the Algonauts 2019 training set (and its source study).
ALGONAUTS2019_SETS = {92: "Cichy et al. 2014", 118: "Cichy et al. 2016"}


def _natural_key(path: Path) -> tuple[Any, ...]:
    """Sort ``image_2`` before ``image_10`` (and ``image_02`` before ``image_10``)."""
    import re

    return tuple(int(t) if t.isdigit() else t for t in re.split(r"(\d+)", path.name))


@functools.lru_cache(maxsize=4)
def load_algonauts2019(roi: str, n_images: int = 92) -> BenchmarkData:
    """Algonauts 2019 fMRI RDMs (15 subjects) of one ROI (``EVC`` or ``IT``) and one training
    image set (92 or 118 images), with the images.

    Reads the release's ``<data>/algonauts2019/Training_Data/<n>_Image_Set/target_fmri.mat``
    (MATLAB v7.3: ``EVC_RDMs`` and ``IT_RDMs``, subjects x n x n in MATLAB's order; the challenge's
    own evaluation reads them with ``np.transpose`` of each h5py dataset and iterates subjects on
    the first axis, as in dnn-hvs/Algonauts-Challange ``Testing/test.py`` l.11-17) through
    :func:`neuroalign.compare.load_rdms`, and the images ``<n>images/*.jpg`` next to it, in natural
    sort order (``image_01`` ... ``image_92``: the RDM order). Stimulus ids are the file stems.
    """
    from ..compare import load_rdms
    from ..core import StimulusSet

    if n_images not in ALGONAUTS2019_SETS:
        raise ConfigurationError(
            f"Algonauts 2019 image sets are {sorted(ALGONAUTS2019_SETS)}; got n_images={n_images!r}."
        )
    folder = _fetched("algonauts2019") / "Training_Data" / f"{n_images}_Image_Set"
    target = folder / "target_fmri.mat"
    img_dir = folder / f"{n_images}images"
    images = sorted(
        (p for p in img_dir.glob("*") if p.suffix.lower() in (".jpg", ".jpeg", ".png")),
        key=_natural_key,
    )
    if not target.is_file():
        raise ConfigurationError(
            f"Algonauts 2019: {str(target)!r} is missing; fetch it with "
            "`neuroalign data fetch algonauts2019`."
        )
    if len(images) != n_images:
        raise ConfigurationError(
            f"Algonauts 2019: expected {n_images} images in {str(img_dir)!r}, found "
            f"{len(images)}; unpack the release's {n_images}images/ folder there."
        )
    stim = StimulusSet(
        ids=np.array([p.stem for p in images]), images=images, name=f"algonauts2019-{n_images}"
    )
    rdms = load_rdms(target, stimulus_ids=stim.stimulus_ids, metric="correlation")
    assert rdms.descriptors is not None
    rois = rdms.descriptors["roi"].astype(str).to_numpy()
    if roi not in rois:
        raise ConfigurationError(
            f"Algonauts 2019: {str(target)!r} has ROIs {sorted(set(rois))}, not {roi!r}."
        )
    brain = rdms.subset(rois == roi)
    info = {"n_subjects": brain.n_rdms, "n_stimuli": n_images, "image_set": n_images}
    return BenchmarkData(stim, brain, info=info)


def _algonauts2019(roi: str, n_images: int) -> Benchmark:
    from ..data import DATASETS

    return Benchmark(
        id=f"Algonauts2019.{roi}{n_images}-rsa",
        loader=functools.partial(load_algonauts2019, roi, n_images),
        metric="rsa",
        version="1",
        metric_params={"method": "spearman", "metric": "correlation", "n_boot": 100},
        commit_split="stimuli",
        ceiling="subject-RDM noise ceiling (lower: leave-one-subject-out, upper: all subjects)",
        citation=DATASETS["algonauts2019"].citation,
        licence=DATASETS["algonauts2019"].licence,
        description=(
            f"Algonauts 2019 fMRI track, {n_images}-image training set "
            f"({ALGONAUTS2019_SETS[n_images]}); {roi} RDMs of 15 subjects; Spearman RSA of "
            "correlation-distance RDMs, mean over subjects (the challenge reports the mean "
            "squared Spearman r over subjects instead)."
        ),
    )


# --------------------------------------------------------------------------- Haxby 2001


@functools.lru_cache(maxsize=1)
def load_haxby2001_vt() -> BenchmarkData:
    """Face/house photographs (labels: category, groups: identity) with the ceiling = the VT
    slice's own face-vs-house accuracy (standardised logistic regression, leave-one-run-out)."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import LeaveOneGroupOut, cross_val_score
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    from ..data import load_face_house_images, load_haxby2001_slice

    images = load_face_house_images()
    h = load_haxby2001_slice()
    X, y, runs = h.samples()
    keep = np.isin(y, ["face", "house"])
    clf = make_pipeline(StandardScaler(), LogisticRegression(C=1.0, max_iter=2000))
    acc = cross_val_score(clf, X[keep], y[keep], groups=runs[keep], cv=LeaveOneGroupOut())
    meta = images.stimuli.metadata
    return BenchmarkData(
        images.stimuli,
        None,
        labels=meta["category"].to_numpy(),
        groups=(meta["category"] + "/" + meta["identity"]).to_numpy(),
        ceiling=float(np.mean(acc)),
        volume=(h.mask, h.affine),
        info={"brain_accuracy": float(np.mean(acc)), "brain_runs": 12, "n_voxels": X.shape[1]},
    )


def haxby2001_decoding() -> Benchmark:
    """The retired ``Haxby2001.VT-decoding`` benchmark (not registered), kept as an example of the
    ``decoding`` metric.

    It cannot rank models: face vs house photographs are separated perfectly by any network's
    features (measured: a random tiny CNN, a random EfficientNet-Lite0 and the ImageNet-trained
    EfficientNet-Lite0 all read out 1.0 accuracy at ``_blocks.4``; ceiled 1.07 > 1), while the
    ceiling is the brain's own accuracy on different pictures (the VT slice's runs), so the
    ratio is not bounded by 1 either. Register it yourself (``register_benchmark(
    haxby2001_decoding())``) to try the decoding metric on bundled data.
    """
    from ..data import FACE_HOUSE_CITATION, HAXBY2001_CITATION

    return Benchmark(
        id="Haxby2001.VT-decoding",
        loader=load_haxby2001_vt,
        metric="decoding",
        version="1",
        commit_split="groups",
        ceiling="the VT slice's own face-vs-house accuracy (leave-one-run-out)",
        citation=HAXBY2001_CITATION + " Stimuli: " + FACE_HOUSE_CITATION,
        licence="CC BY-SA 3.0",
        description=(
            "Face vs house decoding. The brain (posterior VT slice, one subject) separates the two "
            "categories with the ceiling accuracy; a model layer is scored by the accuracy of a "
            "linear read-out of the same distinction from its features of the face/house "
            "photographs, trained on half the identities and tested on the others. The images are "
            "from the same categories, not the same pictures: this benchmark compares category "
            "information, not stimulus-by-stimulus responses."
        ),
    )


# --------------------------------------------------------------------------- simulated

#: Simulated ROI → the layer of ``tiny_cnn(seed=0)`` that drives it.
SIMULATED_ROIS = {"early": "conv1", "mid": "conv2", "late": "conv3"}


@functools.lru_cache(maxsize=2)
def _simulated_all(seed: int = 0) -> tuple[Any, Responses]:
    from ..data import make_responses, make_shape_images
    from ..extract import extract
    from ..extract._tiny import tiny_cnn

    stimuli = make_shape_images(n_stimuli=120, image_size=32, seed=seed)
    feats = extract(tiny_cnn(seed=seed), stimuli, layers=list(SIMULATED_ROIS.values()), quiet=True)
    resp, truth = make_responses(
        feats,
        SIMULATED_ROIS,
        n_targets_per_roi=24,
        n_reps=4,
        noise_sd=(0.5, 1.0),
        n_components=6,
        seed=seed,
    )
    return stimuli, resp, truth  # type: ignore[return-value]


@functools.lru_cache(maxsize=8)
def load_simulated(roi: str, seed: int = 0) -> BenchmarkData:
    """Shape images and one simulated ROI driven by a known layer of ``tiny_cnn(seed)``.

    The targets are laid out in a small volume (4 × 3 × 2 voxels, 3 mm) so brain maps can be
    drawn; ``info`` holds the true source layer and the true mean noise ceiling.
    """
    stimuli, resp, truth = _simulated_all(seed)  # type: ignore[misc]
    sub = resp.roi(roi)
    mask = np.ones((4, 3, 2), dtype=bool)
    affine = np.diag([3.0, 3.0, 3.0, 1.0])
    rois = resp.targets["roi"].astype(str).to_numpy()
    info = {
        "true_model": f"tiny_cnn:seed={seed},width=8",
        "true_layer": SIMULATED_ROIS[roi],
        "true_ceiling": float(np.mean(truth.noise_ceiling[rois == roi])),
        "n_targets": sub.n_targets,
    }
    return BenchmarkData(stimuli, sub, volume=(mask, affine), info=info)


def _simulated(roi: str) -> Benchmark:
    return Benchmark(
        id=f"Simulated.{roi}-encoding",
        loader=functools.partial(load_simulated, roi),
        metric="encoding",
        version="1",
        metric_params={"alphas": [0.1, 1.0, 10.0, 100.0, 1000.0, 1e4], "cv": 5},
        ceiling="split-half noise ceiling of the repetitions (true ceiling in the card)",
        citation="neuroalign simulation (make_shape_images + make_responses)",
        licence="BSD-3 (generated)",
        description=(
            f"120 shape images; {roi} ROI (24 targets, 4 repetitions) linear in the top 6 "
            f"principal components of tiny_cnn(seed=0).{SIMULATED_ROIS[roi]}: that model and "
            "layer are the known answer."
        ),
    )


# --------------------------------------------------------------------------- fetched datasets


def _fetched(name: str) -> Path:
    from ..data import get_data_dir

    root = get_data_dir() / name
    if not root.is_dir():
        raise ConfigurationError(
            f"this benchmark needs the {name!r} dataset, not found at {str(root)!r}; fetch it with "
            f"`neuroalign data fetch {name}` (or set $NEUROALIGN_DATA)."
        )
    return root


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

    root = _fetched("nsd")
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

    base = _fetched("algonauts2023")
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


#: Post-stimulus window (seconds, inclusive) averaged into one EEG pattern per test image.
THINGS_EEG2_WINDOW = (0.1, 0.3)


def load_things_eeg2(subjects: tuple[int, ...] = tuple(range(1, 11))) -> BenchmarkData:
    """THINGS-EEG2 test split: one correlation-distance RDM per subject over the 200 test images.

    Reads the release's preprocessed files ``<data>/things-eeg2/preprocessed_data/sub-NN/
    preprocessed_eeg_test.npy``: a pickled dict (the dataset's own format) with
    ``preprocessed_eeg_data`` (images × repetitions × channels × times), ``ch_names`` and
    ``times`` (seconds), read with :func:`~neuroalign.data.read_pickled_npy` (numpy objects only,
    the EEG memory-mapped). Each subject's pattern of an image is its EEG averaged over the
    repetitions and over the samples with ``0.1 <= time <= 0.3`` s (±1 µs for float grids) (:data:`THINGS_EEG2_WINDOW`),
    one value per channel; the RDM is 1 − Pearson r between the images' channel patterns.

    Stimuli: the release's test images, ``<data>/things-eeg2/test_images/<concept>/<file>``
    (``.jpg``/``.jpeg``/``.png``; download and unpack them there, ``neuroalign data fetch`` fetches
    only the EEG and ``image_metadata.npy``). They are taken in sorted order of
    ``<concept>/<file>``, the order of the EEG rows (the concept folders are numbered,
    ``00001_aircraft_carrier`` ...). Stimulus ids are the file stems.
    """
    from ..core import StimulusSet
    from ..data import read_pickled_npy

    root = _fetched("things-eeg2")
    img_root = root / "test_images"
    images = sorted(
        p
        for p in img_root.glob("*/*")
        if p.is_file() and p.suffix.lower() in (".jpg", ".jpeg", ".png")
    )
    if not images:
        raise ConfigurationError(
            f"THINGS-EEG2: no test images in {str(img_root)!r}; unpack the release's test_images "
            "(<concept>/<file>.jpg) there."
        )
    files = [
        root / "preprocessed_data" / f"sub-{s:02d}" / "preprocessed_eeg_test.npy" for s in subjects
    ]
    missing = [str(f) for f in files if not f.is_file()]
    if missing:
        raise ConfigurationError(
            f"THINGS-EEG2: missing {missing}; fetch it with `neuroalign data fetch things-eeg2`."
        )
    lo, hi = THINGS_EEG2_WINDOW
    vecs = []
    for f in files:
        d = read_pickled_npy(f)  # the release's pickled dict: no code runs, the EEG memory-mapped
        eeg = d["preprocessed_eeg_data"]
        times = np.asarray(d["times"], dtype=np.float64)
        if eeg.ndim != 4 or eeg.shape[0] != len(images) or eeg.shape[3] != len(times):
            raise ConfigurationError(
                f"THINGS-EEG2: {str(f)!r} holds data of shape {eeg.shape} with {len(times)} "
                f"times; expected ({len(images)} images, repetitions, channels, times)."
            )
        win = (times >= lo - 1e-6) & (times <= hi + 1e-6)  # float time grids: 1 µs slack
        if not win.any():
            raise ConfigurationError(
                f"THINGS-EEG2: no samples of {str(f)!r} in the window {lo}-{hi} s."
            )
        patterns = np.asarray(eeg[:, :, :, win], np.float64).mean(axis=(1, 3))  # images × channels
        vecs.append(pdist(patterns, "correlation"))
    stim = StimulusSet(ids=np.array([p.stem for p in images]), images=images, name="things-eeg2")
    brain = RDMs(
        np.stack(vecs),
        stim.stimulus_ids,
        pd.DataFrame({"subject": [f"sub-{s:02d}" for s in subjects]}),
        metric="correlation",
    )
    info = {"n_subjects": len(subjects), "n_stimuli": len(images), "window_s": [lo, hi]}
    return BenchmarkData(stim, brain, info=info)


def _things_eeg2() -> Benchmark:
    from ..data import DATASETS

    return Benchmark(
        id="Gifford2022.EEG-rsa",
        loader=load_things_eeg2,
        metric="rsa",
        version="1",
        metric_params={"method": "spearman", "metric": "correlation", "n_boot": 100},
        commit_split="stimuli",
        ceiling="subject-RDM noise ceiling (lower: leave-one-subject-out, upper: all subjects)",
        citation=DATASETS["things-eeg2"].citation,
        licence=DATASETS["things-eeg2"].licence,
        description=(
            "THINGS-EEG2 test split (after `neuroalign data fetch things-eeg2` and unpacking the "
            "test images): 200 object images, 10 subjects; 80 repetitions averaged, mean over "
            "0.1-0.3 s per channel; Spearman RSA of correlation-distance RDMs."
        ),
    )


def _fetched_benchmarks() -> dict[str, Any]:
    from ..data import DATASETS

    out: dict[str, Any] = {}
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
    out.update(things_benchmarks())  # Hebart2023.<roi>-encoding, Gifford2022.EEG-encoding
    return out


def _fetched_benchmark(bid: str) -> Benchmark:
    spec = {
        "ceiling": "split-half noise ceiling of the repetitions",
        "version": "2",
        **_fetched_benchmarks()[bid],
    }
    return Benchmark(id=bid, metric="encoding", metric_params={"cv": 5}, **spec)


def _register_builtins() -> None:
    for roi in ("hIT", "mIT"):
        BENCHMARKS[f"Kriegeskorte2008.{roi}-rsa"] = functools.partial(_kriegeskorte, roi)
    BENCHMARKS["Gifford2022.EEG-rsa"] = _things_eeg2
    for n_images in ALGONAUTS2019_SETS:
        for roi in ("EVC", "IT"):
            BENCHMARKS[f"Algonauts2019.{roi}{n_images}-rsa"] = functools.partial(
                _algonauts2019, roi, n_images
            )
    for roi in SIMULATED_ROIS:
        BENCHMARKS[f"Simulated.{roi}-encoding"] = functools.partial(_simulated, roi)
    for bid in _fetched_benchmarks():
        BENCHMARKS[bid] = functools.partial(_fetched_benchmark, bid)


_register_builtins()
