"""Generic array files (``.npy``, ``.npz``, ``.mat``, ``.h5``/``.hdf5``, ``.csv``/``.tsv``) read with a
small declared schema: which array holds the data, which the stimulus ids, how the axes are laid out.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ..core import Responses, StimulusSet
from ..core._validation import check_choice, require
from ..core.exceptions import ShapeError, ValidationError, close_matches
from ._assemble import Exclusions, check_file, finite_targets, stimulus_set_for, trials_to_responses

__all__ = ["ArraySchema", "load_array_file"]

_SUFFIXES = (".npy", ".npz", ".mat", ".h5", ".hdf5", ".csv", ".tsv")
_LAYOUTS = ("stimulus", "trial", "repetition")


@dataclass(frozen=True)
class ArraySchema:
    """Where the pieces of a response array file are, and how its axes are laid out.

    Parameters
    ----------
    data : str
        Key of the response array (npz/mat key, HDF5 dataset path). Ignored for ``.npy`` (the file
        is the array) and CSV (every column not named below is a target).
    stimulus_ids : str or sequence of str
        Key of the stimulus-id array (CSV: column name), or the ids themselves.
    layout : ``"stimulus"``, ``"trial"`` or ``"repetition"``
        ``stimulus``: data is ``(n_stimuli, n_targets[, n_times])``, one id per row (ids unique).
        ``trial``: data is ``(n_trials, n_targets[, n_times])``, one id per trial (ids repeat;
        trials of one stimulus become repetitions).
        ``repetition``: data is ``(n_reps, n_stimuli, n_targets[, n_times])``, NaN for missing trials.
    roi : str, optional
        Key of an ``(n_targets,)`` array of ROI labels.
    times : str, optional
        Key of an ``(n_times,)`` array of time points (s).
    target_axis_first : bool
        The file stores targets before stimuli (``(n_targets, n_stimuli...)``, MATLAB style); the
        two axes are swapped on reading.

    Examples
    --------
    >>> ArraySchema(data="betas", stimulus_ids="stim", layout="trial").layout
    'trial'
    """

    data: str = "data"
    stimulus_ids: str | Sequence[str] = "stimulus_ids"
    layout: str = "stimulus"
    roi: str | None = None
    times: str | None = None
    target_axis_first: bool = False

    def __post_init__(self) -> None:
        check_choice(self.layout, "layout", _LAYOUTS)


class _Store:
    """Uniform key access over npz / mat / h5 files."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.h5: Any = None
        suffix = path.suffix.lower()
        try:
            if suffix == ".npz":
                self.z = np.load(path, allow_pickle=False)
                self.keys = list(self.z.keys())
            elif suffix == ".mat":
                self._open_mat()
            else:
                self._open_h5()
        except ValidationError:
            raise
        except Exception as err:
            raise ValidationError(
                f"{str(path)!r} could not be read as {suffix} ({type(err).__name__}: {err}); the "
                "file may be truncated or corrupt."
            ) from err

    def _open_mat(self) -> None:
        sio = require("scipy.io", "neuro", "reading .mat files")
        try:
            self.z = sio.loadmat(self.path, squeeze_me=True)
            self.keys = [k for k in self.z if not k.startswith("__")]
        except NotImplementedError:  # MATLAB v7.3 files are HDF5
            self._open_h5()

    def _open_h5(self) -> None:
        h5py = require("h5py", "neuro", "reading HDF5 files")
        self.h5 = h5py.File(self.path, "r")
        found: list[str] = []
        self.h5.visititems(lambda n, o: found.append(n) if isinstance(o, h5py.Dataset) else None)
        self.keys = found

    def get(self, key: str, what: str) -> np.ndarray:
        if key not in self.keys:
            raise ValidationError(
                f"{str(self.path)!r} has no {what} array {key!r}; it has {self.keys[:20]}."
                + close_matches(key, self.keys)
            )
        arr = self.h5[key][()] if self.h5 is not None else self.z[key]
        arr = np.asarray(arr)
        if arr.dtype.kind == "S":
            arr = arr.astype(str)
        return arr

    def close(self) -> None:
        if self.h5 is not None:
            self.h5.close()
        elif hasattr(self.z, "close"):
            self.z.close()


def load_array_file(
    path: str | Path,
    schema: ArraySchema | None = None,
    *,
    stimuli: StimulusSet | None = None,
    subject: str | None = None,
    name: str | None = None,
) -> tuple[StimulusSet, Responses]:
    """Read responses from a plain array file described by ``schema``.

    Parameters
    ----------
    path : path to ``.npy``, ``.npz``, ``.mat`` (v5 or v7.3), ``.h5``/``.hdf5``, ``.csv``/``.tsv``
    schema : ArraySchema, optional
        Default ``ArraySchema()``: arrays ``data`` and ``stimulus_ids``, one row per stimulus. For
        ``.npy`` pass the ids in ``schema.stimulus_ids``. For CSV, ``stimulus_ids`` names the id
        column and every other numeric column is a target (``roi`` / ``times`` do not apply).
    stimuli : StimulusSet, optional
        Stimulus ids absent from it raise.

    Returns
    -------
    (StimulusSet, Responses)
        Targets that are NaN anywhere are excluded and reported (``meta["exclusions"]``).
    """
    schema = schema or ArraySchema()
    p = check_file(path, "response file", _SUFFIXES)
    suffix = p.suffix.lower()
    roi = times = None
    if suffix in (".csv", ".tsv"):
        data, ids, columns = _read_table(p, schema)
    else:
        columns = None
        if suffix == ".npy":
            try:
                data = np.load(p, mmap_mode="r", allow_pickle=False)
            except Exception as err:
                raise ValidationError(
                    f"{str(p)!r} is not a readable .npy file ({err}); it may be truncated."
                ) from err
            if isinstance(schema.stimulus_ids, str):
                raise ValidationError(
                    f"{str(p)!r} is a bare .npy array: pass the ids as "
                    "ArraySchema(stimulus_ids=[...]) (one per stimulus or trial)."
                )
            ids = np.asarray([str(i) for i in schema.stimulus_ids])
        else:
            store = _Store(p)
            try:
                data = store.get(schema.data, "data")
                ids = (
                    store.get(schema.stimulus_ids, "stimulus id").astype(str).ravel()
                    if isinstance(schema.stimulus_ids, str)
                    else np.asarray([str(i) for i in schema.stimulus_ids])
                )
                roi = (
                    None if schema.roi is None else store.get(schema.roi, "roi").astype(str).ravel()
                )
                times = None if schema.times is None else store.get(schema.times, "times").ravel()
            finally:
                store.close()
    data = np.asarray(data)
    if schema.target_axis_first:
        data = np.swapaxes(data, 0, 1) if schema.layout != "repetition" else np.swapaxes(data, 1, 2)
    stim_axis = 1 if schema.layout == "repetition" else 0
    want_ndim = (3, 4) if schema.layout == "repetition" else (2, 3)
    if data.ndim not in want_ndim:
        raise ShapeError(
            f"{str(p)!r}: layout={schema.layout!r} needs a {' or '.join(map(str, want_ndim))}-D "
            f"array; {schema.data!r} has shape {data.shape}."
        )
    if len(ids) != data.shape[stim_axis]:
        raise ShapeError(
            f"{str(p)!r}: {len(ids)} stimulus ids but the data has {data.shape[stim_axis]} "
            f"{'trials' if schema.layout == 'trial' else 'stimuli'} (shape {data.shape}, axis "
            f"{stim_axis}); set target_axis_first=True if the file stores targets first."
        )
    n_targets = data.shape[stim_axis + 1]
    targets = pd.DataFrame(
        {"target": columns if columns is not None else [f"t{i}" for i in range(n_targets)]}
    )
    if roi is not None:
        if len(roi) != n_targets:
            raise ShapeError(f"{str(p)!r}: roi has {len(roi)} labels for {n_targets} targets.")
        targets["roi"] = roi
    if subject is not None:
        targets.insert(0, "subject", subject)
    exclusions = Exclusions(str(p))
    trials = data.reshape(-1, *data.shape[2:]) if schema.layout == "repetition" else data
    keep = (
        finite_targets(np.asarray(trials, dtype=np.float64), exclusions, "targets")
        if schema.layout != "repetition"
        else _finite_rep_targets(data, exclusions)
    )
    if not keep.any():
        raise ValidationError(f"{str(p)!r}: every target has NaN or infinite values.")
    meta: dict[str, Any] = {"source": str(p), "kind": "array", "schema": schema.layout}
    if schema.layout == "trial":
        resp = trials_to_responses(
            np.asarray(data)[:, keep],
            ids,
            targets=targets[keep].reset_index(drop=True),
            times=times,
            name=name or p.name,
            meta=meta,
            exclusions=exclusions,
            dtype=np.float64,
        )
    else:
        sel = (
            (slice(None), keep) if schema.layout == "stimulus" else (slice(None), slice(None), keep)
        )
        arr = np.asarray(data, dtype=np.float64)[sel]
        meta["exclusions"] = exclusions.as_meta()
        resp = Responses(
            stimulus_ids=ids,
            data=arr if schema.layout == "stimulus" else None,
            repetitions=arr if schema.layout == "repetition" else None,
            targets=targets[keep].reset_index(drop=True),
            times=times,
            name=name or p.name,
            meta=meta,
        )
    return stimulus_set_for(resp.stimulus_ids, stimuli, str(p)), resp


def _finite_rep_targets(data: np.ndarray, exclusions: Exclusions) -> np.ndarray:
    """Targets usable in a repetition array: NaN may mark whole missing trials only."""
    arr = np.asarray(data, dtype=np.float64)
    flat = arr.reshape(arr.shape[0], arr.shape[1], arr.shape[2], -1)
    nan: np.ndarray = ~np.isfinite(flat)
    missing_trial = np.asarray(nan.all(axis=(2, 3)))  # (n_reps, n_stimuli): whole trial missing
    bad = nan & ~missing_trial[:, :, None, None]
    all_bad = nan.all(axis=(0, 1, 3))
    some_bad = bad.any(axis=(0, 1, 3)) & ~all_bad
    exclusions.add(
        "targets", int(all_bad.sum()), "NaN or inf in every trial", np.flatnonzero(all_bad)
    )
    exclusions.add(
        "targets", int(some_bad.sum()), "NaN or inf in some trials", np.flatnonzero(some_bad)
    )
    return np.asarray(~(all_bad | some_bad))


def _read_table(p: Path, schema: ArraySchema) -> tuple[np.ndarray, np.ndarray, list[str]]:
    try:
        table = pd.read_csv(p, sep="\t" if p.suffix.lower() == ".tsv" else ",")
    except Exception as err:
        raise ValidationError(f"{str(p)!r} is not a readable table ({err}).") from err
    id_col = schema.stimulus_ids if isinstance(schema.stimulus_ids, str) else None
    if id_col is None or id_col not in table:
        raise ValidationError(
            f"{str(p)!r} has no stimulus id column {id_col!r}; columns are {list(table.columns)[:20]}."
            " Set ArraySchema(stimulus_ids='<column>')."
        )
    if schema.layout == "repetition":
        raise ValidationError(
            f"{str(p)!r}: a table holds one row per stimulus or per trial; use layout='stimulus' "
            "or 'trial'."
        )
    values = table.drop(columns=[id_col])
    non_numeric = [c for c in values.columns if not pd.api.types.is_numeric_dtype(values[c])]
    if non_numeric:
        raise ValidationError(
            f"{str(p)!r}: columns {non_numeric[:5]} are not numeric; every column other than "
            f"{id_col!r} must be a target."
        )
    return (
        values.to_numpy(dtype=np.float64),
        table[id_col].astype(str).to_numpy(),
        [str(c) for c in values.columns],
    )
