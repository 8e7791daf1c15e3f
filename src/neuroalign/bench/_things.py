"""The THINGS encoding benchmarks: ``Hebart2023.<roi>-encoding`` (THINGS-fMRI) and
``Gifford2022.EEG-encoding`` (THINGS-EEG2), on the releases' own train / test splits.

A layer is committed on the training images (ridge, α by 5-fold CV) and scored on the test
images (mean Pearson r over targets of the test predictions). The split is the benchmark's
``groups``: :data:`THINGS_GROUPS` names the training group so that it sorts first, the group that
seed 0 of the ``groups`` commitment split commits (as ``NSD_GROUPS``).
"""

from __future__ import annotations

import functools
from typing import Any

import numpy as np

from ..core import Responses, StimulusSet
from ..data._things import THINGS_FMRI_SUBJECTS
from ._benchmark import BenchmarkData

__all__ = ["THINGS_FMRI_BENCH_ROIS", "THINGS_GROUPS", "things_benchmarks"]

#: Group labels of the releases' split: ``fit`` (training images, commit) and ``test`` (score).
THINGS_GROUPS = ("fit", "test")

#: Benchmark ROI → the release's VoxelMetadata ROI columns (both hemispheres where split).
THINGS_FMRI_BENCH_ROIS: dict[str, tuple[str, ...]] = {
    "V1": ("V1",),
    "V2": ("V2",),
    "V3": ("V3",),
    "hV4": ("hV4",),
    "LOC": ("lLOC", "rLOC"),
    "FFA": ("lFFA", "rFFA"),
    "OFA": ("lOFA", "rOFA"),
    "PPA": ("lPPA", "rPPA"),
    "EBA": ("lEBA", "rEBA"),
    "RSC": ("lRSC", "rRSC"),
    "TOS": ("lTOS", "rTOS"),
    "STS": ("lSTS", "rSTS"),
    "IT": ("IT",),
}

#: Post-stimulus window (seconds, inclusive) of the EEG encoding targets (as the RSA benchmark).
THINGS_EEG2_ENCODING_WINDOW = (0.1, 0.3)


def load_things_fmri_roi(columns: tuple[str, ...], subject: int = 1) -> BenchmarkData:
    """THINGS-fMRI subject ``subject``, the voxels of the ROI ``columns``: per-session z-scored
    single-trial responses averaged per image, the images, the release's test split as groups and
    its noise ceiling.

    The ceiling is the mean over the voxels of ``sqrt(nc_testset / 100)``: the release's
    per-voxel NSD noise ceiling of the 12-trial test average (% variance explainable) in Pearson-r
    units, the units of the encoding score (as ``load_nsd_roi``'s ``sqrt(NC)``).
    """
    from ..data import load_things_fmri, things_fmri_noise_ceiling
    from ._benchmark import fetched_dataset

    stim, resp = load_things_fmri(
        fetched_dataset("things-fmri"), subject, rois=list(columns), zscore=True
    )
    groups = np.where(stim.metadata["trial_type"].to_numpy() == "test", *THINGS_GROUPS[::-1])
    assert resp.targets is not None
    ceiling = float(np.mean(things_fmri_noise_ceiling(resp.targets["nc_testset"])))
    info = {
        "subject": subject,
        "rois": list(columns),
        "n_voxels": resp.n_targets,
        "n_train": int((groups == THINGS_GROUPS[0]).sum()),
        "n_test": int((groups == THINGS_GROUPS[1]).sum()),
        "ceiling": "release nc_testset (NSD formula, 12 trials), mean sqrt(nc/100) over voxels",
    }
    return BenchmarkData(stim, resp, groups=groups, ceiling=ceiling, info=info)


def load_things_eeg2_encoding(
    subject: int = 1, window: tuple[float, float] = THINGS_EEG2_ENCODING_WINDOW
) -> BenchmarkData:
    """THINGS-EEG2 subject ``subject``: the 16 540 training images (4 repetitions averaged) and the
    200 test images (80 repetitions averaged); targets are the channels x samples in ``window``.

    The ceiling is the mean over targets of :func:`~neuroalign.data.compute_noise_ceiling` of the
    test repetitions: split-half correlation over the 200 test images (20 random halves of the 80
    repetitions, seed 0), Spearman–Brown-corrected to 80 repetitions, square root (Pearson-r
    units).
    """
    from ..data import compute_noise_ceiling, load_things_eeg2
    from ._benchmark import fetched_dataset

    root = fetched_dataset("things-eeg2")
    train_stim, train = load_things_eeg2(root, subject, "training", window=window)
    test_stim, test = load_things_eeg2(root, subject, "test", window=window, keep_repetitions=True)
    assert test.repetitions is not None and train.targets is not None
    ceiling = float(np.mean(compute_noise_ceiling(np.asarray(test.repetitions))))
    stim = StimulusSet(
        ids=np.concatenate([train_stim.ids, test_stim.ids]),
        images=[*train_stim.images, *test_stim.images],  # type: ignore[misc]
        metadata=_stack_meta(train_stim, test_stim),
        name=f"things-eeg2-sub-{subject:02d}",
    )
    resp = Responses(
        stimulus_ids=stim.ids,
        data=np.concatenate([np.asarray(train.data), np.asarray(test.data)]),
        targets=train.targets,
        name=stim.name,
        meta={"subject": subject, "window_s": list(window)},
    )
    groups = np.repeat(THINGS_GROUPS, [len(train_stim), len(test_stim)])
    info = {
        "subject": subject,
        "n_train": len(train_stim),
        "n_test": len(test_stim),
        "n_targets": resp.n_targets,
        "window_s": list(window),
        "ceiling": "split-half (20 random halves of the 80 test repetitions), Spearman-Brown, "
        "sqrt; mean over channel x sample targets",
    }
    return BenchmarkData(stim, resp, groups=groups, ceiling=ceiling, info=info)


def _stack_meta(*sets: StimulusSet) -> Any:
    import pandas as pd

    return pd.concat([s.metadata.reset_index(drop=True) for s in sets], ignore_index=True)


def things_benchmarks() -> dict[str, dict[str, Any]]:
    """The THINGS benchmark specs for ``_fetched_benchmarks`` (metric ``encoding``)."""
    from ..data import DATASETS

    fmri, eeg = DATASETS["things-fmri"], DATASETS["things-eeg2"]
    out: dict[str, dict[str, Any]] = {}
    for roi, columns in THINGS_FMRI_BENCH_ROIS.items():
        out[f"Hebart2023.{roi}-encoding"] = dict(
            loader=functools.partial(load_things_fmri_roi, columns),
            subjects=THINGS_FMRI_SUBJECTS,
            version="2",  # 2: across the 3 subjects (was subject 1)
            commit_split="groups",
            ceiling="the release's per-voxel noise ceiling of the 12-trial test average "
            "(nc_testset, NSD formula), mean sqrt(nc_testset / 100) over voxels",
            citation=fmri.citation,
            licence=fmri.licence,
            description=(
                f"THINGS-fMRI subjects 1-3 (those fetched; the others are reported as excluded), "
                f"{roi} ({' + '.join(columns)} of VoxelMetadata.csv); "
                "single-trial responses z-scored per session, averaged per image; a layer is "
                "committed on the 8 640 training images (one trial each) and scored on the 100 "
                "test images (12 trials each), per subject, then averaged over subjects; images "
                "<data>/things-fmri/images/<concept>/<file>"
            ),
        )
    lo, hi = THINGS_EEG2_ENCODING_WINDOW
    out["Gifford2022.EEG-encoding"] = dict(
        loader=load_things_eeg2_encoding,
        subjects=tuple(range(1, 11)),
        version="2",  # 2: across the 10 subjects (was subject 1)
        commit_split="groups",
        ceiling="split-half noise ceiling of the 80 test repetitions (20 random halves, "
        "Spearman-Brown to 80), mean over targets",
        citation=eeg.citation,
        licence=eeg.licence,
        description=(
            f"THINGS-EEG2 subjects 1-10 (those fetched; the others are reported as excluded); "
            f"targets: 17 channels x the samples in {lo}-{hi} s of the "
            "repetition-averaged EEG; a layer is committed on the 16 540 training images (4 "
            "repetitions) and scored on the 200 test images (80 repetitions); images "
            "training_images/ and test_images/ (<concept>/<file>) unpacked into "
            "<data>/things-eeg2/; scored per subject, then averaged over subjects"
        ),
    )
    return out
