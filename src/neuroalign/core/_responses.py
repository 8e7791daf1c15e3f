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
        May be a memory map larger than RAM: a floating-point array is kept as it is and read a
        block of targets at a time for the average and the checks (memory: the average plus a
        block); integer arrays are converted to float64 in memory.
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
        data = self.data
        if data is None and reps is None:
            raise ValidationError("Responses needs data or repetitions; got neither.")
        if reps is not None:  # one pass over blocks of targets: missing trials (+ the average)
            averaged = _scan_repetitions(reps, average=data is None)
            data = averaged if data is None else data
        data = check_array(data, "data", ndim=(2, 3), allow_nan=True)
        if not np.issubdtype(data.dtype, np.floating):
            data = data.astype(np.float64)
        _check_finite_blocks(data, "data")
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


# Working memory of one block when scanning (possibly memory-mapped) arrays: repetitions and data
# are read a block of targets at a time, so checks and averages never hold a full-size temporary.
_BLOCK_BYTES = 32 * 2**20


def _target_blocks(arr: np.ndarray, axis: int) -> list[slice]:
    """Consecutive slices over ``arr``'s target axis, each about ``_BLOCK_BYTES`` of ``arr``."""
    n = arr.shape[axis]
    per_target = max(1, arr.nbytes // max(1, n))
    step = max(1, _BLOCK_BYTES // per_target)
    return [slice(a, min(n, a + step)) for a in range(0, n, step)]


def _scan_repetitions(reps: np.ndarray, *, average: bool) -> np.ndarray | None:
    """Check NaN marks whole missing trials (and every stimulus keeps one), block by block over
    targets, and return the mean over available repetitions when ``average``.

    Memory: one block of targets (``_BLOCK_BYTES`` of ``reps``) plus the output; ``reps`` may be a
    memory map larger than RAM.
    """
    n_reps, n_stim = reps.shape[:2]
    any_nan = np.zeros((n_reps, n_stim), dtype=bool)
    all_nan = np.ones((n_reps, n_stim), dtype=bool)
    out = np.empty(reps.shape[1:], dtype=reps.dtype) if average else None
    for sl in _target_blocks(reps, axis=2):
        block = np.asarray(reps[:, :, sl])
        nan = np.isnan(block)
        flat = nan.reshape(n_reps, n_stim, -1)
        any_nan |= flat.any(axis=2)
        all_nan &= flat.all(axis=2)
        if out is not None:
            if nan.any():
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore", RuntimeWarning)
                    out[:, sl] = np.nanmean(block, axis=0)
            else:
                out[:, sl] = block.mean(axis=0)
        del block, nan, flat
    _report_missing(any_nan, all_nan)
    return out


def _report_missing(any_nan: np.ndarray, all_nan: np.ndarray) -> None:
    """NaN in repetitions must mark whole missing trials, and every stimulus needs one trial."""
    if not any_nan.any():
        return
    partial = any_nan & ~all_nan
    if partial.any():
        r, s = np.argwhere(partial)[0]
        raise ValidationError(
            f"repetitions has NaN in only some targets of repetition {r}, stimulus {s}; NaN may only "
            "mark a whole missing repetition. Exclude NaN targets (e.g. with a brain mask) first."
        )
    none_left = all_nan.all(axis=0)
    if none_left.any():
        raise ValidationError(
            f"{int(none_left.sum())} stimulus(es) have no repetition at all (all NaN), first at "
            f"positions {np.flatnonzero(none_left)[:5].tolist()}; drop them from the stimulus ids."
        )
    n_missing = int(all_nan.sum())
    warnings.warn(
        f"repetitions: {n_missing} missing (stimulus, repetition) trial(s) marked by NaN; "
        "averages and ceilings use the repetitions present.",
        NeuroalignWarning,
        stacklevel=5,
    )


def _check_finite_blocks(data: np.ndarray, name: str) -> None:
    """:func:`check_finite` of ``data`` (n_stimuli, n_targets[, n_times]), a block of targets at a
    time; the error counts the non-finite values and names the first affected targets."""
    n_bad, bad_targets = 0, []
    for sl in _target_blocks(data, axis=1):
        finite = np.isfinite(np.asarray(data[:, sl]))
        if not finite.all():
            n_bad += int((~finite).sum())
            per_target = finite.reshape(finite.shape[0], finite.shape[1], -1).all(axis=(0, 2))
            bad_targets.extend((sl.start + np.flatnonzero(~per_target)).tolist())
    if n_bad:
        raise ValidationError(
            f"{name} contains {n_bad} NaN or infinite value(s) (shape {data.shape}); "
            f"{len(bad_targets)} target(s) affected, first: {bad_targets[:5]}. Drop or impute them "
            "before this step (e.g. exclude NaN voxels with a mask)."
        )


def _readonly(arr: np.ndarray | None) -> np.ndarray | None:
    if arr is None or isinstance(arr, np.memmap):
        return arr
    view = arr.view()
    view.setflags(write=False)
    return view
