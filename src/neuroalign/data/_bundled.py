"""Small real recordings that ship with neuroalign (no download): the Haxby et al. (2001) fMRI
slice, EEGLAB's sample EEG epochs and the 96 face/house stimulus photographs.

Converted from their public sources by ``scripts/vendor_brain_data.py``; licences and citations
sit next to the files in ``data/_files/`` and on the returned objects.
"""

from __future__ import annotations

import io
import itertools
import warnings
from dataclasses import dataclass
from importlib import resources
from typing import Any

import numpy as np
import pandas as pd

from ..core import Responses, StimulusSet
from ..core._validation import check_choice, require
from ..core.exceptions import NeuroalignWarning
from ._assemble import Exclusions, trials_to_responses, voxel_table

__all__ = [
    "EEGLAB_CITATION",
    "FACE_HOUSE_CITATION",
    "HAXBY2001_CITATION",
    "EEGLABSample",
    "FaceHouseImages",
    "Haxby2001Slice",
    "load_eeglab_sample",
    "load_face_house_images",
    "load_haxby2001_slice",
]

HAXBY2001_CITATION = (
    "Haxby JV, Gobbini MI, Furey ML, Ishai A, Schouten JL, Pietrini P (2001). Distributed and "
    "overlapping representations of faces and objects in ventral temporal cortex. Science "
    "293(5539):2425-2430. doi:10.1126/science.1063736. Slice from the PyMVPA example data "
    "(Hanke M et al. 2009, Neuroinformatics 7:37-53), CC BY-SA 3.0."
)
EEGLAB_CITATION = (
    "Delorme A, Makeig S (2004). EEGLAB: an open source toolbox for analysis of single-trial EEG "
    "dynamics including independent component analysis. J Neurosci Methods 134(1):9-21. "
    "doi:10.1016/j.jneumeth.2003.10.009. Sample data from the EEGLAB repository (BSD-2)."
)
FACE_HOUSE_CITATION = (
    "Stimuli of Haxby JV et al. (2001), Science 293:2425-2430, CC BY-SA 3.0; files from the "
    "NeuroTechX eeg-notebooks repository (eegnb/stimuli/visual/face_house)."
)


def _files() -> Any:
    return resources.files("neuroalign.data") / "_files"


def _load_npz(name: str) -> dict[str, np.ndarray]:
    with resources.as_file(_files() / name) as path, np.load(path, allow_pickle=False) as z:
        return {k: z[k] for k in z.files}


def _licence(name: str) -> str:
    return (_files() / name).read_text()


# --------------------------------------------------------------------------- Haxby 2001
@dataclass(frozen=True, eq=False)
class Haxby2001Slice:
    """One subject of Haxby et al. (2001): the posterior half of one axial slice (530 voxels).

    Attributes
    ----------
    bold : array (1452, 530) float32
        Every volume (TR 2.5 s) of the 12 runs, in-mask voxels only (raw scanner units).
    labels : array (1452,) of str
        Category of each volume: ``rest`` or one of the 8 categories (face, house, cat, bottle,
        scissors, shoe, chair, scrambledpix).
    runs : array (1452,) of int
        Run (0–11) of each volume.
    voxels : DataFrame (530 rows)
        ``i, j, k`` (voxel indices in the mask grid) and ``x, y, z`` (mm).
    mask : array (40, 20, 1) bool
        The voxel mask; ``affine`` maps voxel indices to mm.
    citation, licence : str
    """

    bold: np.ndarray
    labels: np.ndarray
    runs: np.ndarray
    voxels: pd.DataFrame
    mask: np.ndarray
    affine: np.ndarray
    tr: float
    citation: str
    licence: str

    @property
    def categories(self) -> list[str]:
        """The 8 stimulus categories (``rest`` excluded), in label-code order."""
        return [c for c in pd.unique(self.labels) if c != "rest"]

    def standardized(self, method: str = "rest") -> np.ndarray:
        """The volumes z-scored per run and voxel: against the run's ``rest`` volumes (PyMVPA's
        ``zscore(ds, param_est=('targets', ['rest']))``) or against all volumes of the run
        (``method="run"``, nilearn's ``standardize`` with runs)."""
        check_choice(method, "method", ("rest", "run"))
        out = np.empty_like(self.bold)
        for r in np.unique(self.runs):
            sel = self.runs == r
            ref = self.bold[sel & (self.labels == "rest")] if method == "rest" else self.bold[sel]
            sd = ref.std(axis=0)
            sd[sd == 0] = 1.0
            out[sel] = (self.bold[sel] - ref.mean(axis=0)) / sd
        return out

    def samples(self, standardize: str = "rest") -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Decoding samples: every non-rest volume as one sample.

        Returns ``X`` (n_volumes, 530) standardised per run (see :meth:`standardized`), ``y``
        category names and ``runs`` (use them as groups for leave-one-run-out cross-validation).
        """
        keep = self.labels != "rest"
        return self.standardized(standardize)[keep], self.labels[keep], self.runs[keep]

    def responses(self, standardize: str = "rest") -> tuple[StimulusSet, Responses]:
        """Category responses for RSA / encoding: the 8 categories × 530 voxels.

        Each run's block of a category (9 volumes) is averaged into one trial, so each category has
        12 repetitions (one per run): ``repetitions`` has shape (12, 8, 530) and noise ceilings can
        be computed. Stimulus ids are the category names (a text StimulusSet).
        """
        X = self.standardized(standardize)
        keep = self.labels != "rest"
        trials, ids = [], []
        for r in np.unique(self.runs):
            for cat in self.categories:
                sel = keep & (self.runs == r) & (self.labels == cat)
                trials.append(X[sel].mean(axis=0))
                ids.append(cat)
        resp = trials_to_responses(
            np.stack(trials),
            ids,
            targets=self.voxels.assign(roi="posterior VT slice"),
            name="haxby2001_slice",
            meta={"source": "haxby2001_slice.npz", "standardize": standardize, "kind": "fmri"},
        )
        stim = StimulusSet(
            ids=resp.stimulus_ids, texts=list(resp.stimulus_ids), name="haxby2001 categories"
        )
        return stim, resp


def load_haxby2001_slice() -> Haxby2001Slice:
    """Load the bundled Haxby et al. (2001) fMRI slice (one subject, 12 runs, 8 categories).

    Examples
    --------
    >>> h = load_haxby2001_slice()
    >>> h.bold.shape, len(h.categories), len(set(h.runs.tolist()))
    ((1452, 530), 8, 12)
    >>> stim, resp = h.responses()
    >>> resp.repetitions.shape
    (12, 8, 530)
    """
    z = _load_npz("haxby2001_slice.npz")
    names = z["label_names"].astype(str)
    mask, affine = z["mask"].astype(bool), z["affine"]
    voxels = voxel_table(mask, affine)
    return Haxby2001Slice(
        bold=z["bold"].astype(np.float32),
        labels=names[z["labels"].astype(int)],
        runs=z["runs"].astype(int),
        voxels=voxels,
        mask=mask,
        affine=affine,
        tr=float(z["tr"]),
        citation=HAXBY2001_CITATION,
        licence=_licence("haxby2001_slice.LICENSE"),
    )


# --------------------------------------------------------------------------- EEGLAB sample
@dataclass(frozen=True, eq=False)
class EEGLABSample:
    """EEGLAB's sample data set: 80 epochs of 32-channel EEG (128 Hz, −1 to 2 s) around the onset of
    a square shown at one of two positions (a visual attention task).

    Attributes
    ----------
    epochs : array (80, 32, 384) float32, µV
    times : array (384,) s
    sfreq : float
    channels : DataFrame (32 rows): ``channel``, ``ch_type`` (eeg / eog), ``x, y, z``
    events : DataFrame (80 rows): ``event_type`` (time-locking event), ``position`` (1 or 2),
        ``rt`` (s after onset; NaN when no response in the epoch)
    citation, licence : str
    """

    epochs: np.ndarray
    times: np.ndarray
    sfreq: float
    channels: pd.DataFrame
    events: pd.DataFrame
    citation: str
    licence: str

    def responses(self, picks: str = "eeg") -> tuple[StimulusSet, Responses]:
        """Time-resolved responses per square position: stimulus ids ``square_pos1`` /
        ``square_pos2``, every epoch a repetition, data in µV. With ``picks="eeg"`` the EOG
        channels are left out and listed in ``meta["exclusions"]``."""
        check_choice(picks, "picks", ("eeg", "all"))
        is_eeg = (self.channels["ch_type"] == "eeg").to_numpy()
        sel = is_eeg if picks == "eeg" else np.ones_like(is_eeg)
        exclusions = Exclusions("eeglab_sample.npz")
        left = self.channels[~sel]
        for kind, names in left.groupby("ch_type", sort=False)["channel"]:
            reason = f"{kind} channel, not selected by picks={picks!r}"
            exclusions.add("channels", len(names), reason, names.tolist(), keep=None)
        ids = [f"square_pos{p}" for p in self.events["position"]]
        resp = trials_to_responses(
            self.epochs[:, sel],
            ids,
            order=sorted(set(ids)),
            targets=self.channels[sel].reset_index(drop=True),
            times=self.times,
            name="eeglab_sample",
            meta={"source": "eeglab_sample.npz", "unit": "uV", "kind": "meeg"},
            exclusions=exclusions,
        )
        stim = StimulusSet(
            ids=resp.stimulus_ids,
            texts=["square at position 1", "square at position 2"],
            name="eeglab squares",
        )
        return stim, resp

    def to_mne(self) -> Any:
        """The epochs as an ``mne.EpochsArray`` (volts; events coded 1 / 2 by position)."""
        mne = require("mne", "neuro", "EEGLABSample.to_mne")
        info = mne.create_info(
            self.channels["channel"].tolist(), self.sfreq, self.channels["ch_type"].tolist()
        )
        pos = self.events["position"].to_numpy(dtype=int)
        onsets = np.arange(len(pos)) * len(self.times) + round(-self.times[0] * self.sfreq)
        events = np.c_[onsets, np.zeros_like(pos), pos]
        return mne.EpochsArray(
            self.epochs.astype(np.float64) * 1e-6,
            info,
            events,
            tmin=float(self.times[0]),
            event_id={"square/pos1": 1, "square/pos2": 2},
            verbose="error",
        )


def load_eeglab_sample() -> EEGLABSample:
    """Load the bundled EEGLAB sample epochs (80 epochs, 32 channels).

    Examples
    --------
    >>> d = load_eeglab_sample()
    >>> d.epochs.shape, d.events["position"].value_counts().sort_index().tolist()
    ((80, 32, 384), [40, 40])
    """
    z = _load_npz("eeglab_sample.npz")
    data = (z["data"].astype(np.float32) * z["scale"].astype(np.float32)[None, :, None]).astype(
        np.float32
    )
    names = z["channels"].astype(str)
    xyz = z["ch_xyz"]
    channels = pd.DataFrame(
        {
            "channel": names,
            "ch_type": ["eog" if n.upper().startswith("EOG") else "eeg" for n in names],
            "x": xyz[:, 0],
            "y": xyz[:, 1],
            "z": xyz[:, 2],
        }
    )
    events = pd.DataFrame(
        {
            "event_type": z["event_type"].astype(str),
            "position": z["position"].astype(int),
            "rt": z["rt"],
        }
    )
    return EEGLABSample(
        epochs=data,
        times=z["times"],
        sfreq=float(z["sfreq"]),
        channels=channels,
        events=events,
        citation=EEGLAB_CITATION,
        licence=_licence("eeglab_sample.LICENSE"),
    )


# --------------------------------------------------------------------------- face / house images
@dataclass(frozen=True, eq=False)
class FaceHouseImages:
    """96 grayscale photographs (48 faces of 12 people, 48 houses of 12 houses), 256 × 256 px.

    Attributes
    ----------
    stimuli : StimulusSet
        ids ``face_Don_3`` / ``house_house3.4`` ..., images (96, 256, 256) uint8; metadata
        ``category`` (face / house), ``identity`` and the original ``filename``.
    citation, licence : str
    """

    stimuli: StimulusSet
    citation: str
    licence: str


def load_face_house_images() -> FaceHouseImages:
    """Load the bundled face and house stimulus photographs.

    Examples
    --------
    >>> d = load_face_house_images()
    >>> d.stimuli.images.shape, d.stimuli.metadata["category"].value_counts().tolist()
    ((96, 256, 256), [48, 48])
    """
    pil = require("PIL.Image", "torch", "decoding the bundled JPEG images")
    z = _load_npz("face_house_images.npz")
    blob, off = z["jpeg"], z["offsets"]
    images = []
    for a, b in itertools.pairwise(off):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", NeuroalignWarning)
            with pil.open(io.BytesIO(blob[a:b].tobytes())) as im:
                images.append(np.asarray(im.convert("L")))
    names = z["filename"].astype(str)
    category = z["category"].astype(str)
    ids = [f"{c}_{n.rsplit('.', 1)[0]}" for c, n in zip(category, names, strict=True)]
    meta = pd.DataFrame(
        {"category": category, "identity": z["identity"].astype(str), "filename": names}
    )
    stimuli = StimulusSet(
        ids=np.asarray(ids), images=np.stack(images), metadata=meta, name="face_house"
    )
    return FaceHouseImages(stimuli, FACE_HOUSE_CITATION, _licence("face_house_images.LICENSE"))
