"""Fetchers for large public datasets: a registry (URLs, checksums, licence / terms, citation),
resumable downloads through pooch, and the data-directory rules.

Data directory: the ``data_dir`` argument, else ``$NEUROALIGN_DATA``, else ``~/neuroalign_data``;
each dataset goes to ``<data_dir>/<name>/`` in the dataset's own layout (so the readers, e.g.
:func:`load_nsd`, read it directly). Datasets whose terms must be accepted (NSD, Algonauts) show the
terms and refuse to download until ``accept_terms=True`` was passed once; the acceptance is
recorded in ``<data_dir>/<name>/.terms_accepted``. Interrupted downloads resume from the partial
``.part`` file (HTTP Range). A file with a published SHA-256 is verified; one without has its hash
recorded in ``<data_dir>/<name>/.checksums.json`` at first download and verified on later use.
``base_url`` (or ``$NEUROALIGN_MIRROR_<NAME>``) points a dataset at a mirror with the same layout.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import urllib.error
import urllib.request
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ..core._io import atomic_write_text, sha256_file
from ..core._validation import require
from ..core.exceptions import ConfigurationError, ValidationError, close_matches

__all__ = [
    "DATASETS",
    "DatasetFile",
    "RemoteDataset",
    "fetch_dataset",
    "get_data_dir",
    "list_datasets",
]

logger = logging.getLogger("neuroalign.data")


@dataclass(frozen=True)
class DatasetFile:
    """One file of a remote dataset: its path in the layout, and optionally its SHA-256 / size."""

    path: str
    sha256: str | None = None
    size: int | None = None
    subject: str | None = None  # None: shared by all subjects
    url: str | None = None  # its own download URL (figshare), used unless a mirror is given


@dataclass(frozen=True)
class RemoteDataset:
    """A registry entry: where a dataset lives and on what terms."""

    name: str
    description: str
    base_url: str
    files: tuple[DatasetFile, ...]
    licence: str
    citation: str
    size: str
    terms: str | None = None  # text that must be accepted once before downloading
    homepage: str = ""
    notes: str = ""
    subjects: tuple[str, ...] = field(default_factory=tuple)
    #: Files whose names are known only from files already on disk: ``derived(data_root)``
    #: lists them at fetch time (e.g. the Algonauts 2023 training images, named from NSD's design).
    derived: Any = None

    def select(self, subject: str | Sequence[str] | None = None) -> list[DatasetFile]:
        """Files for ``subject`` (plus the shared ones); all files when None."""
        if subject is None:
            return list(self.files)
        wanted = {subject} if isinstance(subject, str) else set(subject)
        unknown = wanted - set(self.subjects)
        if unknown:
            raise ConfigurationError(
                f"dataset {self.name!r} has no subject(s) {sorted(unknown)}; subjects are "
                f"{list(self.subjects)}." + close_matches(sorted(unknown)[0], self.subjects)
            )
        return [f for f in self.files if f.subject is None or f.subject in wanted]


# --------------------------------------------------------------------------- the registry
_NSD_TERMS = (
    "Natural Scenes Dataset (NSD) Terms and Conditions. Access to NSD requires agreeing to the NSD "
    "Data Access Agreement (https://naturalscenesdataset.org, 'Terms and Conditions'): use the data "
    "for research only, do not attempt to identify participants, do not redistribute the data, and "
    "cite the NSD data paper (Allen et al., 2022) in any publication. By accepting you confirm "
    "that you have completed the NSD Data Access Agreement form."
)
_NSD_CITATION = (
    "Allen EJ, St-Yves G, Wu Y, Breedlove JL, Prince JS, Dowdle LT, Nau M, Caron B, Pestilli F, "
    "Charest I, Hutchinson JB, Naselaris T, Kay K (2022). A massive 7T fMRI dataset to bridge "
    "cognitive neuroscience and artificial intelligence. Nat Neurosci 25:116-126. "
    "doi:10.1038/s41593-021-00962-x"
)
NSD_SESSIONS = {1: 40, 2: 40, 3: 32, 4: 30, 5: 40, 6: 32, 7: 40, 8: 30}
NSD_BETAS = "betas_fithrf_GLMdenoise_RR"
NSD_ROI_FILES = (
    "prf-visualrois",
    "floc-faces",
    "floc-places",
    "floc-bodies",
    "floc-words",
    "streams",
    "nsdgeneral",
)


def nsd_files(subjects: Sequence[int] = tuple(NSD_SESSIONS)) -> tuple[DatasetFile, ...]:
    """The NSD files the lazy reader uses: per-session betas (func1pt8mm, NIfTI), ncsnr, brain
    mask and ROI volumes per subject, and the shared experiment design, stimulus table and
    image brick (``nsd_stimuli.hdf5``)."""
    files = [
        DatasetFile("nsddata/experiments/nsd/nsd_expdesign.mat"),
        DatasetFile("nsddata/experiments/nsd/nsd_stim_info_merged.csv"),
        # the 73k images (/imgBrick, 73000 x 425 x 425 x 3 uint8, ~37 GB), read one at a time
        DatasetFile("nsddata_stimuli/stimuli/nsd/nsd_stimuli.hdf5"),
    ]
    for s in subjects:
        subj = f"subj{s:02d}"
        func = f"nsddata/ppdata/{subj}/func1pt8mm"
        files.append(DatasetFile(f"{func}/brainmask.nii.gz", subject=subj))
        files += [DatasetFile(f"{func}/roi/{r}.nii.gz", subject=subj) for r in NSD_ROI_FILES]
        files += [
            DatasetFile(f"nsddata/freesurfer/{subj}/label/{r}.mgz.ctab", subject=subj)
            for r in NSD_ROI_FILES
        ]
        betas = f"nsddata_betas/ppdata/{subj}/func1pt8mm/{NSD_BETAS}"
        files.append(DatasetFile(f"{betas}/ncsnr.nii.gz", subject=subj))
        # fsaverage ncsnr (163842 vertices per hemisphere): the Algonauts 2023 ceiling
        files += [
            DatasetFile(
                f"nsddata_betas/ppdata/{subj}/fsaverage/{NSD_BETAS}/{h}.ncsnr.mgh", subject=subj
            )
            for h in ("lh", "rh")
        ]
        files += [
            DatasetFile(f"{betas}/betas_session{k:02d}.nii.gz", subject=subj)
            for k in range(1, NSD_SESSIONS[s] + 1)
        ]
    return tuple(files)


#: Algonauts 2023: of each subject's NSD sessions (:data:`NSD_SESSIONS`), the last 3 were
#: withheld as the challenge's test split; the training split is the images of the others.
ALGONAUTS2023_TEST_SESSIONS = 3


def algonauts2023_training_trials(design: str | Path, subject: int) -> np.ndarray:
    """The 0-based 73k image index of each trial of an Algonauts 2023 subject's training
    sessions, from NSD's ``nsd_expdesign.mat``.

    The challenge's own preparation (gifale95/algonauts_2023,
    ``code/01_challenge_data_preparation/challenge_data_preparation.py`` l.54-73) takes
    ``subjectim[sub - 1, masterordering - 1] - 1`` over the subject's completed sessions (40, 40,
    32, 30, 40, 32, 40, 30), keeps the first ``completed - 3`` sessions (750 trials each) as
    training, and names the training images ``train-<i+1:04d>_nsd-<index:05d>.png`` over the
    sorted unique indices (l.350-358).
    """
    import scipy.io as sio

    d = sio.loadmat(str(design), variable_names=["masterordering", "subjectim"])
    order = np.asarray(d["masterordering"]).ravel().astype(np.int64) - 1
    subjectim = np.atleast_2d(d["subjectim"]).astype(np.int64) - 1
    n_train = (NSD_SESSIONS[subject] - ALGONAUTS2023_TEST_SESSIONS) * 750
    return subjectim[subject - 1, order[:n_train]]


def algonauts2023_training_images(data_root: str | Path) -> tuple[DatasetFile, ...]:
    """The Algonauts 2023 training images of every subject (``subjNN/training_split/
    training_images/train-NNNN_nsd-KKKKK.png``), named from NSD's experiment design (fetch it
    first: ``neuroalign data fetch nsd --files nsd_expdesign.mat``); the images are the NSD
    73k images the challenge saved as PNG."""
    design = Path(data_root) / "nsd/nsddata/experiments/nsd/nsd_expdesign.mat"
    if not design.is_file():
        raise ConfigurationError(
            f"the Algonauts 2023 training images are named from NSD's design, {str(design)!r}, "
            "which is missing; fetch it first with `neuroalign data fetch nsd --files "
            "nsd_expdesign.mat --accept-terms` (a 2 MB file), then fetch algonauts2023 again."
        )
    out = []
    for s in range(1, 9):
        uniq = np.unique(algonauts2023_training_trials(design, s))
        out += [
            DatasetFile(
                f"subj{s:02d}/training_split/training_images/train-{i + 1:04d}_nsd-{k:05d}.png",
                subject=f"subj{s:02d}",
            )
            for i, k in enumerate(uniq.tolist())
        ]
    return tuple(out)


ALGONAUTS2019_CITATION = (
    "Cichy RM, Roig G, Andonian A, Dwivedi K, Lahner B, Lascelles A, Mohsenzadeh Y, Ramakrishnan "
    "K, Oliva A (2019). The Algonauts Project: A platform for communication between the sciences "
    "of biological and artificial intelligence. arXiv:1905.05675. Data: Cichy RM, Pantazis D, "
    "Oliva A (2014), Nat Neurosci 17:455-462 (92 images); Cichy RM, Khosla A, Pantazis D, Oliva A "
    "(2016), Sci Rep 6:27755 (118 images)."
)

DATASETS: dict[str, RemoteDataset] = {
    "nsd": RemoteDataset(
        name="nsd",
        description="Natural Scenes Dataset: 7T fMRI single-trial betas (func1pt8mm, "
        f"{NSD_BETAS}) of 8 subjects x 30-40 sessions (750 trials each), ncsnr, ROIs, design",
        base_url="https://natural-scenes-dataset.s3.amazonaws.com/",
        files=nsd_files(),
        licence="NSD Terms and Conditions (research use, no redistribution)",
        citation=_NSD_CITATION,
        size="~40-60 GB per subject (betas); 1 GB per session",
        terms=_NSD_TERMS,
        homepage="https://naturalscenesdataset.org",
        notes="Betas are int16 percent signal change x 300 (the reader divides by 300).",
        subjects=tuple(f"subj{s:02d}" for s in NSD_SESSIONS),
    ),
    "things-eeg2": RemoteDataset(
        name="things-eeg2",
        description="THINGS-EEG2: 64-channel EEG of 10 subjects, 16,540 training images x 4 reps "
        "and 200 test images x 80 reps (preprocessed, 100 Hz, 17 occipito-parietal channels)",
        base_url="https://files.osf.io/v1/resources/anp5v/providers/osfstorage/",
        files=(
            *tuple(
                DatasetFile(f"preprocessed_data/sub-{s:02d}/{part}", subject=f"sub-{s:02d}")
                for s in range(1, 11)
                for part in ("preprocessed_eeg_training.npy", "preprocessed_eeg_test.npy")
            ),
            DatasetFile("image_metadata.npy"),
        ),
        licence="CC BY 4.0",
        citation="Gifford AT, Dwivedi K, Roig G, Cichy RM (2022). A large and rich EEG dataset for "
        "modeling human visual object recognition. NeuroImage 264:119754. "
        "doi:10.1016/j.neuroimage.2022.119754",
        size="~1.5 GB per subject (preprocessed)",
        homepage="https://osf.io/3jk45/",
        notes="Preprocessed .npy dicts (pickled): neuroalign reads them with read_pickled_npy "
        "(numpy objects only, the EEG memory-mapped). The images are not fetched: unzip the "
        "release's training_images and test_images (<concept>/<file>.jpg) from the OSF project "
        "into <data>/things-eeg2/. URL layout not verified offline.",
        subjects=tuple(f"sub-{s:02d}" for s in range(1, 11)),
    ),
    "things-fmri": RemoteDataset(
        name="things-fmri",
        description="THINGS-fMRI single-trial responses in table format (THINGS-data betas_csv): "
        "3 subjects, 8,640 training trials (720 concepts x 12 images, once each) + 100 test "
        "images x 12 sessions, voxel metadata with ROIs and noise ceilings",
        base_url="https://plus.figshare.com/ndownloader/files/",
        files=(
            # the authors' download command (ViCCo-Group/THINGS-data README.md l.32, commit
            # 96fe386): one zip of betas_csv/sub-0{1,2,3}_{ResponseData.h5,VoxelMetadata.csv,
            # StimulusMetadata.csv}; figshare's API lists the article's v2 file as 43635873
            # (42,955,087,212 bytes)
            DatasetFile(
                "betas_csv.zip", url="https://plus.figshare.com/ndownloader/files/36789690"
            ),
        ),
        licence="CC0 1.0",
        citation="Hebart MN, Contier O, Teichmann L, Rockter AH, Zheng CY, Kidder A, Corriveau A, "
        "Vaziri-Pashkam M, Baker CI (2023). THINGS-data, a multimodal collection of large-scale "
        "datasets for investigating object representations in human brain and behavior. eLife "
        "12:e82580. doi:10.7554/eLife.82580",
        size="~43 GB zipped for the 3 subjects (ResponseData.h5: voxels x 9,840 trials, float64; "
        "211,339 / 226,950 / 189,164 voxels)",
        homepage="https://doi.org/10.25452/figshare.plus.20492835",
        notes="Unzip betas_csv.zip in <data>/things-fmri/ (giving betas_csv/sub-XX_*), and put the "
        "THINGS object images (THINGS database, https://osf.io/jum2f) as "
        "<data>/things-fmri/images/<concept>/<file>.jpg. load_things_fmri reads the HDF5 table a "
        "block of voxels at a time. URLs not verified offline.",
        subjects=("sub-01", "sub-02", "sub-03"),
    ),
    "algonauts2019": RemoteDataset(
        name="algonauts2019",
        description="Algonauts 2019 challenge (fMRI track): EVC and IT RDMs of 15 subjects for the "
        "92-image (Cichy et al. 2014) and 118-image (Cichy et al. 2016) training sets, with the "
        "images",
        base_url="http://algonauts.csail.mit.edu/2019/",
        files=tuple(DatasetFile(f"Training_Data/{n}_Image_Set/target_fmri.mat") for n in (92, 118)),
        licence="Algonauts 2019 challenge data (research use; cite the challenge and the "
        "source studies)",
        citation=ALGONAUTS2019_CITATION,
        size="~60 MB",
        homepage="http://algonauts.csail.mit.edu/2019/",
        notes="target_fmri.mat are MATLAB v7.3 (HDF5) files with EVC_RDMs and IT_RDMs (15 "
        "subjects x n x n). The images come in the release archive: unpack its "
        "Training_Data/<n>_Image_Set/<n>images/*.jpg next to them (their sorted order is the RDM "
        "order). URL layout not verified offline; set base_url to the release link (or "
        "$NEUROALIGN_MIRROR_ALGONAUTS2019).",
    ),
    "algonauts2023": RemoteDataset(
        name="algonauts2023",
        description="Algonauts 2023 challenge: NSD-derived fsaverage responses (lh/rh) of 8 "
        "subjects to ~10,000 images each, with ROI masks",
        base_url="https://algonauts.csail.mit.edu/challenge_data/",
        files=tuple(
            DatasetFile(f"subj{s:02d}/{part}", subject=f"subj{s:02d}")
            for s in range(1, 9)
            for h in ("lh", "rh")
            for part in (
                f"training_split/training_fmri/{h}_training_fmri.npy",
                f"roi_masks/{h}.all-vertices_fsaverage_space.npy",  # challenge → fsaverage
            )
        ),
        licence="NSD Terms and Conditions (the challenge data are derived from NSD)",
        citation="Gifford AT, Lahner B, Saba-Sadiya S, Vilas MG, Lascelles A, Oliva A, Kay K, Roig "
        "G, Cichy RM (2023). The Algonauts Project 2023 Challenge: How the human brain makes sense "
        "of natural scenes. arXiv:2301.03198. " + _NSD_CITATION,
        size="~10 GB in all (fMRI ~3 GB, training images ~7 GB)",
        terms=_NSD_TERMS,
        homepage="http://algonauts.csail.mit.edu/",
        derived=algonauts2023_training_images,
        notes="The official download link is sent after a form; set base_url to the link received "
        "(or $NEUROALIGN_MIRROR_ALGONAUTS2023). URL not verified offline.",
        subjects=tuple(f"subj{s:02d}" for s in range(1, 9)),
    ),
}


# --------------------------------------------------------------------------- data directory
def get_data_dir(data_dir: str | Path | None = None) -> Path:
    """The data directory: ``data_dir``, else ``$NEUROALIGN_DATA``, else ``~/neuroalign_data``.

    Examples
    --------
    >>> get_data_dir("/tmp/x").as_posix()
    '/tmp/x'
    """
    if data_dir is not None:
        return Path(data_dir).expanduser()
    env = os.environ.get("NEUROALIGN_DATA")
    if env:
        return Path(env).expanduser()
    return Path.home() / "neuroalign_data"


def _writable_folder(folder: Path) -> Path:
    """``folder``, after checking (without creating anything) that it is or can be made a
    writable folder: a clear error before any download instead of an OSError midway."""
    hint = "pass data_dir= (CLI: --data-dir) or set $NEUROALIGN_DATA to a writable folder"
    existing = folder
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    if not existing.is_dir():
        raise ValidationError(
            f"the data folder {str(folder)!r} cannot be created: {str(existing)!r} is a file; "
            f"{hint}."
        )
    if not os.access(existing, os.W_OK | os.X_OK):
        raise ValidationError(
            f"the data folder {str(folder)!r} cannot be written: {str(existing)!r} is not "
            f"writable; {hint}."
        )
    return folder


def list_datasets() -> pd.DataFrame:
    """The registry as a table: name, size, licence, whether terms must be accepted, citation."""
    return pd.DataFrame(
        [
            {
                "name": d.name,
                "size": d.size,
                "licence": d.licence,
                "needs_terms": d.terms is not None,
                "n_files": len(d.files),
                "citation": d.citation,
                "description": d.description,
            }
            for d in DATASETS.values()
        ]
    )


def _dataset(name: str) -> RemoteDataset:
    if name not in DATASETS:
        raise ConfigurationError(
            f"unknown dataset {name!r}; available: {sorted(DATASETS)}."
            + close_matches(name, DATASETS)
        )
    return DATASETS[name]


def _check_terms(ds: RemoteDataset, folder: Path, accept_terms: bool) -> None:
    if ds.terms is None:
        return
    digest = hashlib.sha256(ds.terms.encode()).hexdigest()
    marker = folder / ".terms_accepted"
    if marker.exists() and marker.read_text().strip() == digest:
        return
    if not accept_terms:
        raise ConfigurationError(
            f"dataset {ds.name!r} may only be downloaded after accepting its terms:\n\n{ds.terms}\n\n"
            "If you agree, call again with accept_terms=True (CLI: --accept-terms); this is "
            f"recorded in {str(marker)!r} and asked only once."
        )
    folder.mkdir(parents=True, exist_ok=True)
    atomic_write_text(marker, digest)
    logger.info("terms of %s accepted (recorded in %s)", ds.name, marker)


class _ResumableDownloader:
    """A pooch downloader that keeps ``<target>.part`` and resumes it with an HTTP Range request."""

    def __init__(self, part: Path, timeout: float = 60.0, chunk: int = 1 << 20) -> None:
        self.part, self.timeout, self.chunk = part, timeout, chunk

    def __call__(self, url: str, output_file: Any, pooch: Any, check_only: bool = False) -> Any:
        if check_only:
            req = urllib.request.Request(url, method="HEAD")
            try:
                with urllib.request.urlopen(req, timeout=self.timeout):
                    return True
            except urllib.error.URLError:
                return False
        have = self.part.stat().st_size if self.part.exists() else 0
        req = urllib.request.Request(url)
        if have:
            req.add_header("Range", f"bytes={have}-")
        with urllib.request.urlopen(req, timeout=self.timeout) as resp:
            status = getattr(resp, "status", 200)
            if have and status != 206:  # server ignored the range: start again
                have = 0
            if status == 206:
                logger.info("resuming %s at byte %d", url, have)
            with open(self.part, "ab" if have else "wb") as f:
                while True:
                    block = resp.read(self.chunk)
                    if not block:
                        break
                    f.write(block)
        os.replace(self.part, output_file)
        return None


def fetch_dataset(
    name: str,
    *,
    subject: str | Sequence[str] | None = None,
    files: Sequence[str] | None = None,
    data_dir: str | Path | None = None,
    accept_terms: bool = False,
    base_url: str | None = None,
) -> Path:
    """Download (or find) a registered dataset and return its folder ``<data_dir>/<name>``.

    Parameters
    ----------
    name : str
        A key of :data:`DATASETS` (``neuroalign data list``).
    subject : str or list, optional
        Only this subject's files (plus the shared ones); default: every file.
    files : list of str, optional
        Only files whose path contains one of these strings (e.g. ``["session01", "roi/"]``).
    data_dir : path, optional
        See :func:`get_data_dir`.
    accept_terms : bool
        Accept the dataset's terms (shown in the error otherwise); needed once.
    base_url : str, optional
        A mirror with the same layout (default: the registry URL, or
        ``$NEUROALIGN_MIRROR_<NAME>``).

    Returns
    -------
    Path of the dataset folder; files keep their relative paths under it.

    Raises
    ------
    ConfigurationError
        Unknown dataset/subject, or terms not accepted.
    ValidationError
        A checksum mismatch (the bad file is deleted; the message names it) or a failed download.
    """
    pooch = require("pooch", "fetch", "downloading datasets")
    ds = _dataset(name)
    folder = _writable_folder(get_data_dir(data_dir) / ds.name)
    _check_terms(ds, folder, accept_terms)
    env = f"NEUROALIGN_MIRROR_{ds.name.upper().replace('-', '_')}"
    root = (base_url or os.environ.get(env) or ds.base_url).rstrip("/") + "/"
    mirrored = bool(base_url or os.environ.get(env))
    wanted = ds.select(subject)
    if ds.derived is not None:
        subjects = (
            set(ds.subjects)
            if subject is None
            else {subject}
            if isinstance(subject, str)
            else set(subject)
        )
        try:
            more = ds.derived(get_data_dir(data_dir))
        except ConfigurationError:
            if files is None:  # a whole fetch must get them: say what is missing
                raise
            more = ()  # a selection (files=...) of other files does not need them
        wanted += [f for f in more if f.subject is None or f.subject in subjects]
    if files is not None:
        wanted = [f for f in wanted if any(s in f.path for s in files)]
        if not wanted:
            raise ConfigurationError(
                f"no file of {ds.name!r} matches files={list(files)}; paths look like "
                f"{[f.path for f in ds.files[:3]]}."
            )
    folder.mkdir(parents=True, exist_ok=True)
    sums_path = folder / ".checksums.json"
    recorded: dict[str, str] = json.loads(sums_path.read_text()) if sums_path.exists() else {}
    for f in wanted:
        target = folder / f.path
        target.parent.mkdir(parents=True, exist_ok=True)
        known = f.sha256 or recorded.get(f.path)
        if target.exists() and known is not None and sha256_file(target) != known:
            raise ValidationError(
                f"{str(target)!r} does not match its recorded SHA-256 ({known[:12]}...); the file "
                "is corrupt or was changed. Delete it and fetch again."
            )
        if target.exists():
            continue
        url = f.url if f.url and not mirrored else root + f.path
        part = target.with_name(target.name + ".part")
        try:
            pooch.retrieve(
                url,
                known_hash=None if known is None else f"sha256:{known}",
                fname=target.name,
                path=target.parent,
                downloader=_ResumableDownloader(part),
                progressbar=False,
            )
        except ValueError as err:  # pooch: hash mismatch (the downloaded file is removed)
            part.unlink(missing_ok=True)
            raise ValidationError(
                f"checksum mismatch for {str(target)!r} downloaded from {url}: {err}. The file was "
                "deleted; fetch again (if it persists, the mirror serves a different file)."
            ) from err
        except (urllib.error.URLError, OSError) as err:
            raise ValidationError(
                f"downloading {url} to {str(target)!r} failed ({err}); run the same command again "
                f"to resume from {part.name}."
            ) from err
        if known is None:
            recorded[f.path] = sha256_file(target)
            logger.warning(
                "%s has no published checksum; recorded sha256 %s in %s",
                f.path,
                recorded[f.path],
                sums_path,
            )
            atomic_write_text(sums_path, json.dumps(recorded, indent=1, sort_keys=True))
    return folder
