"""``Responses``: brain recordings as stimulus × target (× time), with repetitions and a targets table."""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

import numpy as np
import pandas as pd

from ._ids import positions
from ._validation import check_array, check_ids, check_same_length, require
from .exceptions import NeuroalignWarning, ShapeError, ValidationError, close_matches

__all__ = ["Responses"]


@dataclass(frozen=True, eq=False)
class Responses:
    """Brain responses to a set of stimuli.

    Parameters
    ----------
    data : array, shape (n_stimuli, n_targets) or (n_stimuli, n_targets, n_times), optional
        Responses averaged over repetitions. Computed from ``repetitions`` (mean over available
        repetitions) when omitted. Must be finite.
    stimulus_ids : sequence of str
        Unique ids, one per row of ``data``.
    repetitions : array, shape (n_reps, n_stimuli, n_targets[, n_times]), optional
        Single-trial responses. NaN marks a repetition a stimulus does not have (whole slices only).
    targets : pandas.DataFrame, optional
        One row per target (voxel, vertex, channel, neuron) with columns such as ``roi``,
        ``subject``, coordinates. Defaults to a ``target`` column ``t0, t1, ...``.
    times : array, shape (n_times,), optional
        Time of each sample (seconds) for time-resolved data.
    name : str
        A short name used in reports.
    meta : mapping
        Free-form, pass-through information.

    Examples
    --------
    >>> import numpy as np
    >>> from neuroalign import Responses
    >>> reps = np.random.default_rng(0).normal(size=(2, 5, 3))
    >>> r = Responses(stimulus_ids=list("abcde"), repetitions=reps)
    >>> r.data.shape, r.n_reps
    ((5, 3), 2)
    """

    stimulus_ids: np.ndarray
    data: np.ndarray | None = None
    repetitions: np.ndarray | None = None
    targets: pd.DataFrame | None = None
    times: np.ndarray | None = None
    name: str = "responses"
    meta: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        ids = check_ids(self.stimulus_ids, "stimulus_ids")
        object.__setattr__(self, "stimulus_ids", ids)
        reps = self.repetitions
        if reps is not None:
            reps = check_array(reps, "repetitions", ndim=(3, 4), allow_nan=True)
            if not np.issubdtype(reps.dtype, np.floating):
                reps = reps.astype(np.float64)
            if reps.shape[1] != len(ids):
                raise ShapeError(
                    f"repetitions must be (n_reps, n_stimuli, n_targets[, n_times]) with n_stimuli="
                    f"{len(ids)}; got shape {reps.shape}."
                )
            _check_missing_reps(reps)
        data = self.data
        if data is None:
            if reps is None:
                raise ValidationError("Responses needs data or repetitions; got neither.")
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", RuntimeWarning)
                data = np.nanmean(reps, axis=0)
        data = check_array(data, "data", ndim=(2, 3))
        if not np.issubdtype(data.dtype, np.floating):
            data = data.astype(np.float64)
        check_same_length("stimulus_ids", len(ids), "data rows", data.shape[0])
        if reps is not None and reps.shape[1:] != data.shape:
            raise ShapeError(
                f"repetitions has per-repetition shape {reps.shape[1:]} but data has shape {data.shape}."
            )
        n_targets = data.shape[1]
        targets = self.targets
        if targets is None:
            targets = pd.DataFrame({"target": [f"t{i}" for i in range(n_targets)]})
        targets = pd.DataFrame(targets).reset_index(drop=True)
        check_same_length("data targets (axis 1)", n_targets, "targets rows", len(targets))
        times = self.times
        if data.ndim == 3:
            if times is None:
                times = np.arange(data.shape[2], dtype=float)
            times = check_array(times, "times", ndim=1)
            check_same_length("data time points (axis 2)", data.shape[2], "times", len(times))
        elif times is not None:
            raise ShapeError(
                f"times given but data is 2-D {data.shape}; time-resolved data is 3-D."
            )
        # read-only views: the caller's arrays stay writable, ours cannot change under us
        data, reps, times = (_readonly(a) for a in (data, reps, times))
        object.__setattr__(self, "data", data)
        object.__setattr__(self, "repetitions", reps)
        object.__setattr__(self, "targets", targets)
        object.__setattr__(self, "times", times)
        object.__setattr__(self, "meta", MappingProxyType(dict(self.meta)))

    # ------------------------------------------------------------------ basics
    @property
    def n_stimuli(self) -> int:
        return len(self.stimulus_ids)

    @property
    def n_targets(self) -> int:
        assert self.data is not None
        return int(self.data.shape[1])

    @property
    def n_reps(self) -> int:
        return 0 if self.repetitions is None else int(self.repetitions.shape[0])

    @property
    def is_timeseries(self) -> bool:
        assert self.data is not None
        return self.data.ndim == 3

    @property
    def rois(self) -> list[str]:
        """ROI names in order of first appearance (empty when ``targets`` has no ``roi`` column)."""
        assert self.targets is not None
        if "roi" not in self.targets:
            return []
        return list(pd.unique(self.targets["roi"].astype(str)))

    def __repr__(self) -> str:
        assert self.data is not None
        return (
            f"Responses(name={self.name!r}, data={self.data.shape}, n_reps={self.n_reps}, "
            f"rois={self.rois[:6]})"
        )

    # ------------------------------------------------------------------ subsets
    def select(self, ids: Sequence[Any]) -> Responses:
        """The responses to the given stimulus ids, in that order."""
        return self.take(positions(self.stimulus_ids, ids, f"Responses {self.name!r}"))

    def take(self, idx: Sequence[int] | np.ndarray) -> Responses:
        """The responses to the stimuli at positions ``idx``."""
        idx = np.asarray(idx, dtype=np.intp)
        assert self.data is not None
        return Responses(
            stimulus_ids=self.stimulus_ids[idx],
            data=self.data[idx],
            repetitions=None if self.repetitions is None else self.repetitions[:, idx],
            targets=self.targets,
            times=self.times,
            name=self.name,
            meta=self.meta,
        )

    def select_targets(self, mask: Sequence[bool] | np.ndarray) -> Responses:
        """The targets where ``mask`` is true (a boolean array over targets, or target positions)."""
        assert self.data is not None and self.targets is not None
        idx = np.asarray(mask)
        if idx.dtype == bool:
            check_same_length("mask", len(idx), "targets", self.n_targets)
            idx = np.flatnonzero(idx)
        return Responses(
            stimulus_ids=self.stimulus_ids,
            data=self.data[:, idx],
            repetitions=None if self.repetitions is None else self.repetitions[:, :, idx],
            targets=self.targets.iloc[idx],
            times=self.times,
            name=self.name,
            meta=self.meta,
        )

    def roi(self, name: str) -> Responses:
        """The targets of one ROI (needs a ``roi`` column in ``targets``)."""
        assert self.targets is not None
        rois = self.rois
        if name not in rois:
            raise ValidationError(
                f"roi {name!r} is not in Responses {self.name!r}; available: {rois}."
                + close_matches(name, rois)
            )
        return self.select_targets((self.targets["roi"].astype(str) == name).to_numpy())

    # ------------------------------------------------------------------ export
    def to_pandas(self) -> pd.DataFrame:
        """Long table: one row per stimulus × target (× time) with the target columns."""
        assert self.data is not None and self.targets is not None
        t = self.data.shape[1]
        idx = pd.MultiIndex.from_product(
            [self.stimulus_ids, range(t)] + ([self.times] if self.is_timeseries else []),
            names=["stimulus_id", "target_index"] + (["time"] if self.is_timeseries else []),
        )
        df = pd.DataFrame({"value": self.data.reshape(-1)}, index=idx).reset_index()
        return df.join(self.targets, on="target_index")

    def to_xarray(self) -> Any:
        """An ``xarray.DataArray`` with dims ``(stimulus_id, target[, time])`` and target coords."""
        xr = require("xarray", "io", "Responses.to_xarray")
        assert self.data is not None and self.targets is not None
        dims = ["stimulus_id", "target"] + (["time"] if self.is_timeseries else [])
        coords: dict[str, Any] = {
            "stimulus_id": self.stimulus_ids,
            "target": np.arange(self.n_targets),
        }
        for col in self.targets.columns:
            coords[f"target_{col}" if col == "target" else col] = (
                "target",
                self.targets[col].to_numpy(),
            )
        if self.is_timeseries:
            coords["time"] = self.times
        return xr.DataArray(np.asarray(self.data), dims=dims, coords=coords, name=self.name)


def _check_missing_reps(reps: np.ndarray) -> None:
    """NaN in repetitions must mark whole missing trials, and every stimulus needs one trial."""
    nan = np.isnan(reps)
    if not nan.any():
        return
    per_trial = nan.reshape(reps.shape[0], reps.shape[1], -1)
    partial = per_trial.any(axis=2) & ~per_trial.all(axis=2)
    if partial.any():
        r, s = np.argwhere(partial)[0]
        raise ValidationError(
            f"repetitions has NaN in only some targets of repetition {r}, stimulus {s}; NaN may only "
            "mark a whole missing repetition. Exclude NaN targets (e.g. with a brain mask) first."
        )
    none_left = per_trial.all(axis=2).all(axis=0)
    if none_left.any():
        raise ValidationError(
            f"{int(none_left.sum())} stimulus(es) have no repetition at all (all NaN), first at "
            f"positions {np.flatnonzero(none_left)[:5].tolist()}; drop them from the stimulus ids."
        )
    n_missing = int(per_trial.all(axis=2).sum())
    warnings.warn(
        f"repetitions: {n_missing} missing (stimulus, repetition) trial(s) marked by NaN; "
        "averages and ceilings use the repetitions present.",
        NeuroalignWarning,
        stacklevel=4,
    )


def _readonly(arr: np.ndarray | None) -> np.ndarray | None:
    if arr is None or isinstance(arr, np.memmap):
        return arr
    view = arr.view()
    view.setflags(write=False)
    return view
