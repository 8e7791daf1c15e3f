"""Spiking data: NWB units + stimulus intervals → spike counts or rates per stimulus window.

A trial's response of a unit is the number of its spikes in ``[onset + window[0], onset +
window[1])`` (half-open, so a spike on a boundary counts once), divided by the window length for
rates (spikes/s). With ``bin_size`` the window is cut into bins and the responses get a time axis
(bin centres relative to onset).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ..core import Responses, StimulusSet
from ..core._validation import require
from ..core.exceptions import ValidationError
from ._assemble import Exclusions, check_file, stimulus_set_for, trials_to_responses

__all__ = ["bin_spikes", "load_nwb_spikes"]


def bin_spikes(
    spike_times: Sequence[np.ndarray],
    onsets: np.ndarray,
    window: tuple[float, float] | np.ndarray,
    bin_size: float | None = None,
) -> tuple[np.ndarray, np.ndarray | None]:
    """Spike counts of every unit in a window around every onset.

    Parameters
    ----------
    spike_times : list of arrays, one per unit (seconds)
    onsets : array (n_trials,) in seconds
    window : (start, stop) relative to onset, or array (n_trials, 2) of absolute (start, stop)
    bin_size : float, optional
        Bins of this width (s) inside the window (relative windows only).

    Returns
    -------
    counts : array (n_trials, n_units) or (n_trials, n_units, n_bins), float64
    bin_centres : array (n_bins,) relative to onset, or None

    Examples
    --------
    >>> import numpy as np
    >>> c, _ = bin_spikes([np.array([0.1, 0.2, 1.05, 1.3])], np.array([0.0, 1.0]), (0.0, 0.25))
    >>> c[:, 0].tolist()
    [2.0, 1.0]
    """
    onsets = np.asarray(onsets, dtype=float)
    win = np.asarray(window, dtype=float)
    centres = None
    if win.ndim == 2:
        if bin_size is not None:
            raise ValidationError("bin_size needs a relative window (start, stop), not per trial.")
        if win.shape != (len(onsets), 2):
            raise ValidationError(f"per-trial windows must be (n_trials, 2); got {win.shape}.")
        edges = win  # absolute (start, stop) per trial
    else:
        if win.shape != (2,) or win[1] <= win[0]:
            raise ValidationError(f"window must be (start, stop) with stop > start; got {window}.")
        rel = win
        if bin_size is not None:
            n_bins = int(np.floor((win[1] - win[0]) / bin_size + 1e-9))
            if n_bins < 1:
                raise ValidationError(f"bin_size={bin_size} is longer than the window {window}.")
            rel = win[0] + bin_size * np.arange(n_bins + 1)
            centres = (rel[:-1] + rel[1:]) / 2
        edges = onsets[:, None] + rel[None, :]  # (n_trials, n_edges)
    out = np.empty((len(onsets), len(spike_times), edges.shape[1] - 1), dtype=np.float64)
    for u, st in enumerate(spike_times):
        st = np.sort(np.asarray(st, dtype=float))
        out[:, u, :] = np.diff(np.searchsorted(st, edges, side="left"), axis=1)  # [start, stop)
    if bin_size is None:
        return out[:, :, 0], None
    return out, centres


def load_nwb_spikes(
    path: str | Path,
    *,
    intervals: str = "trials",
    stimulus_column: str = "stimulus_id",
    window: tuple[float, float] | None = (0.0, 0.5),
    bin_size: float | None = None,
    rate: bool = True,
    stimuli: StimulusSet | None = None,
    subject: str | None = None,
    name: str | None = None,
) -> tuple[StimulusSet, Responses]:
    """Read spike-sorted units from an NWB file as responses per stimulus presentation.

    Parameters
    ----------
    path : path to an ``.nwb`` file (HDF5)
    intervals : str
        The intervals table with one row per stimulus presentation: ``"trials"`` or the name of a
        table in ``nwbfile.intervals`` (e.g. ``"presentations"``). It needs ``start_time`` and
        ``stimulus_column``.
    stimulus_column : str
        Column holding the stimulus id of each presentation.
    window : (start, stop) in s relative to ``start_time``, or None
        Counting window; None counts from each row's ``start_time`` to its ``stop_time``.
    bin_size : float, optional
        Bin the window (s) to get time-resolved responses (``Responses.times`` = bin centres).
    rate : bool
        Divide counts by the window (or bin) length: spikes per second.

    Returns
    -------
    (StimulusSet, Responses)
        Presentations of one stimulus are repetitions; targets are the units (``unit_id`` plus
        the units table's scalar columns such as ``location`` / ``quality``).
    """
    pynwb = require("pynwb", "neuro", "reading NWB files")
    p = check_file(path, "NWB file", (".nwb",))
    try:
        io = pynwb.NWBHDF5IO(str(p), mode="r")
        nwb = io.read()
    except Exception as err:  # h5py/hdmf raise many types for broken files
        raise ValidationError(
            f"NWB file {str(p)!r} could not be read ({type(err).__name__}: {err}); it may be "
            "truncated or corrupt."
        ) from err
    try:
        if nwb.units is None or len(nwb.units) == 0:
            raise ValidationError(f"NWB file {str(p)!r} has no units table (no spike-sorted data).")
        table = _intervals_table(nwb, intervals, str(p))
        if stimulus_column not in table:
            raise ValidationError(
                f"intervals {intervals!r} of {str(p)!r} has no column {stimulus_column!r}; "
                f"columns are {list(table.columns)}. Pass stimulus_column=."
            )
        units = nwb.units
        spike_times = [np.asarray(units["spike_times"][i]) for i in range(len(units))]
        unit_ids = np.asarray(units.id[:])
        targets = pd.DataFrame({"unit_id": unit_ids})
        for col in units.colnames:
            if col in (
                "spike_times",
                "obs_intervals",
                "electrodes",
                "waveform_mean",
                "waveform_sd",
            ):
                continue
            values = units[col][:]
            if np.ndim(values) == 1 and len(values) == len(unit_ids):
                targets[col] = [v.decode() if isinstance(v, bytes) else v for v in values]
    finally:
        io.close()
    onsets = table["start_time"].to_numpy(dtype=float)
    if window is None:
        if bin_size is not None:
            raise ValidationError("bin_size needs a relative window=(start, stop).")
        abs_win = table[["start_time", "stop_time"]].to_numpy(dtype=float)
        counts, centres = bin_spikes(spike_times, onsets, abs_win)
        length = (abs_win[:, 1] - abs_win[:, 0])[:, None]
    else:
        counts, centres = bin_spikes(spike_times, onsets, window, bin_size)
        length = np.asarray(bin_size if bin_size is not None else window[1] - window[0])
    values = counts / length if rate else counts
    labels = table[stimulus_column]
    exclusions = Exclusions(str(p))
    keep = labels.notna().to_numpy()
    exclusions.add("presentations", int((~keep).sum()), "no stimulus id", np.flatnonzero(~keep))
    if subject is not None:
        targets.insert(0, "subject", subject)
    resp = trials_to_responses(
        values[keep],
        labels[keep].astype(str).to_numpy(),
        targets=targets,
        times=centres,
        name=name or p.name,
        meta={
            "source": str(p),
            "kind": "spikes",
            "unit": "spikes/s" if rate else "spikes",
            "window": None if window is None else list(window),
            "bin_size": bin_size,
        },
        exclusions=exclusions,
        dtype=np.float64,
    )
    return stimulus_set_for(resp.stimulus_ids, stimuli, str(p)), resp


def _intervals_table(nwb: Any, intervals: str, source: str) -> pd.DataFrame:
    if intervals == "trials" and nwb.trials is not None:
        table = nwb.trials.to_dataframe()
    elif nwb.intervals is not None and intervals in nwb.intervals:
        table = nwb.intervals[intervals].to_dataframe()
    else:
        have = (["trials"] if nwb.trials is not None else []) + list(nwb.intervals or [])
        raise ValidationError(
            f"NWB file {source!r} has no intervals table {intervals!r}; tables found: {have}."
        )
    if len(table) == 0:
        raise ValidationError(f"intervals {intervals!r} of {source!r} is empty.")
    return table.reset_index(drop=True)
