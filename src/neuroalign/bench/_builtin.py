"""The built-in benchmarks: on data that ships (Kriegeskorte 2008, Haxby 2001, simulated) and on
public datasets once fetched (Algonauts 2019, THINGS-EEG2 RSA here; NSD and Algonauts 2023 in
``bench/nsd``, the THINGS encoding benchmarks in ``bench/things``), all registered here.

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
from ._benchmark import BENCHMARKS, Benchmark, BenchmarkData, fetched_dataset
from ._nsd import nsd_benchmarks
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

    if n_images not in ALGONAUTS2019_SETS:
        raise ConfigurationError(
            f"Algonauts 2019 image sets are {sorted(ALGONAUTS2019_SETS)}; got n_images={n_images!r}."
        )
    folder = fetched_dataset("algonauts2019") / "Training_Data" / f"{n_images}_Image_Set"
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
    # memoised per process on the files' path, size and mtime: another data folder
    # ($NEUROALIGN_DATA) or a replaced file is read again (a memo on (roi, n_images) alone kept
    # serving the first folder's RDMs, under the new folder's data fingerprint)
    stats = tuple((str(p), p.stat().st_size, p.stat().st_mtime_ns) for p in [target, *images])
    return _algonauts2019_files(roi, n_images, stats)


@functools.lru_cache(maxsize=4)
def _algonauts2019_files(
    roi: str, n_images: int, stats: tuple[tuple[str, int, int], ...]
) -> BenchmarkData:
    from ..compare import load_rdms
    from ..core import StimulusSet

    target, images = Path(stats[0][0]), [Path(s[0]) for s in stats[1:]]
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

    root = fetched_dataset("things-eeg2")
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

    out: dict[str, Any] = {}
    out.update(nsd_benchmarks())  # Allen2022.<roi>-encoding, Algonauts2023.<hemi>-encoding
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
