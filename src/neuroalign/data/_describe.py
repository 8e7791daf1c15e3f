"""``describe_data(path)``: a summary of any supported file or layout (``neuroalign data info``)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from ..core import Responses
from ..core._validation import require
from ..core.exceptions import ValidationError
from ._assemble import check_file, check_image_complete

__all__ = ["describe_data", "summarize_responses"]


def summarize_responses(resp: Responses) -> dict[str, Any]:
    """n stimuli, targets, times, repetitions, ROIs and exclusions of a :class:`Responses`."""
    assert resp.targets is not None
    out: dict[str, Any] = {
        "name": resp.name,
        "n_stimuli": resp.n_stimuli,
        "n_targets": resp.n_targets,
        "n_times": int(resp.times.shape[0]) if resp.times is not None else 0,
        "n_reps": resp.n_reps,
        "rois": resp.rois,
        "target_columns": list(resp.targets.columns),
        "first_stimuli": resp.stimulus_ids[:5].tolist(),
    }
    if resp.times is not None:
        out["time_range_s"] = [float(resp.times[0]), float(resp.times[-1])]
    if "exclusions" in resp.meta:
        out["exclusions"] = resp.meta["exclusions"]
    return out


def describe_data(path: str | Path) -> dict[str, Any]:
    """Read ``path`` with the matching reader and summarise it.

    Files: NIfTI (header: shape, voxel size, volumes), GIFTI / MGH, M/EEG (FIF, EEGLAB, BrainVision,
    EDF/BDF), NWB, ``.npz`` written by ``save_responses`` or with ``data`` + ``stimulus_ids``,
    ``.mat`` / ``.h5`` / CSV in the default :class:`ArraySchema`. Folders: an NSD layout (subjects,
    sessions found) or a BIDS dataset (subjects, datatypes).
    """
    p = Path(path).expanduser()
    if p.is_dir():
        return _describe_dir(p)
    check_file(p, "data file")
    name = p.name.lower()
    info: dict[str, Any] = {"path": str(p), "bytes": p.stat().st_size}
    if name.endswith((".nii", ".nii.gz", ".mgz", ".mgh")):
        nib = require("nibabel", "neuro", "describing NIfTI files")
        try:
            img = nib.load(str(p))
        except Exception as err:
            raise ValidationError(f"{str(p)!r} is not a readable NIfTI/MGH file ({err}).") from err
        check_image_complete(img, p, "volume file")
        info.update(
            kind="volume",
            shape=list(img.shape),
            n_volumes=int(img.shape[3]) if len(img.shape) == 4 else 1,
            voxel_size=[float(z) for z in img.header.get_zooms()[:3]],
            dtype=str(img.get_data_dtype()),
            hint="read with load_fmri(path, stimulus_ids, mask=... or atlas=...)",
        )
        return info
    if name.endswith(".gii"):
        nib = require("nibabel", "neuro", "describing GIFTI files")
        try:
            img = nib.load(str(p))
        except Exception as err:  # nibabel's XML parser raises several types
            raise ValidationError(
                f"{str(p)!r} is not a readable GIFTI file ({type(err).__name__}: {err})."
            ) from err
        info.update(
            kind="surface",
            n_arrays=len(img.darrays),
            n_vertices=int(np.asarray(img.darrays[0].data).shape[0]) if img.darrays else 0,
        )
        return info
    if name.endswith((".fif", ".fif.gz", ".set", ".vhdr", ".edf", ".bdf")):
        from ._meeg import load_meeg

        _, resp = load_meeg(p)
        info.update(kind="meeg", **summarize_responses(resp))
        return info
    if name.endswith(".nwb"):
        from ._spikes import load_nwb_spikes

        _, resp = load_nwb_spikes(p)
        info.update(kind="spikes", **summarize_responses(resp))
        return info
    if name.endswith(".npz"):
        from ..core._io import open_npz

        with open_npz(p, "data") as z:
            keys = set(z.files)
        if "data" in keys or "repetitions" in keys:
            from ..core import load_responses

            resp = load_responses(p)
            info.update(kind="responses", **summarize_responses(resp))
            return info
        info.update(kind="npz", arrays=sorted(keys))
        return info
    if name.endswith((".mat", ".h5", ".hdf5", ".csv", ".tsv", ".npy")):
        from ._generic import ArraySchema, load_array_file

        if name.endswith(".npy"):
            try:
                arr = np.load(p, mmap_mode="r", allow_pickle=False)
            except (OSError, ValueError, EOFError) as err:
                raise ValidationError(
                    f"{str(p)!r} is not a readable .npy array; it may be truncated or corrupt "
                    f"({type(err).__name__}: {err})."
                ) from err
            info.update(kind="array", shape=list(arr.shape), dtype=str(arr.dtype))
            return info
        _, resp = load_array_file(p, ArraySchema())
        info.update(kind="array", **summarize_responses(resp))
        return info
    raise ValidationError(
        f"{str(p)!r}: unsupported file type; supported: NIfTI, GIFTI, MGH, FIF, EEGLAB .set, "
        "BrainVision .vhdr, EDF/BDF, NWB, .npz/.npy/.mat/.h5/.csv, NSD or BIDS folders."
    )


def _describe_dir(p: Path) -> dict[str, Any]:
    if (p / "nsddata").is_dir():
        subjects = {}
        for d in sorted((p / "nsddata_betas/ppdata").glob("subj*")):
            betas = d / "func1pt8mm/betas_fithrf_GLMdenoise_RR"
            subjects[d.name] = len(list(betas.glob("betas_session*")))
        return {
            "path": str(p),
            "kind": "nsd",
            "sessions_per_subject": subjects,
            "design": (p / "nsddata/experiments/nsd/nsd_expdesign.mat").exists(),
            "hint": "read with load_nsd(path, subject, atlas=..., rois=...)",
        }
    if (p / "dataset_description.json").exists():
        subs = sorted(d.name for d in p.glob("sub-*") if d.is_dir())
        types = sorted(
            {
                d.name
                for s in p.glob("sub-*")
                for d in s.rglob("*")
                if d.is_dir() and d.name in ("eeg", "meg", "ieeg", "func", "anat")
            }
        )
        return {"path": str(p), "kind": "bids", "subjects": subs, "datatypes": types}
    raise ValidationError(
        f"{str(p)!r} is a folder but neither an NSD layout (nsddata/) nor a BIDS dataset "
        "(dataset_description.json)."
    )
