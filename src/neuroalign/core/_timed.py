"""Timed data: continuous stimuli and signals on a clock, grouped in runs, and their one join.

- :class:`TimedEvents` — words or phonemes with onset and offset times (read from TSV or Praat
  TextGrid files), each in a run;
- :class:`TimedSignals` — audio waveforms or video frames at a fixed rate, one array per run;
- :class:`TimeSeries` — rows on a clock (model features on the stimulus clock, fMRI TRs, M/EEG
  samples): a run id and a time per row, data ``(n_samples, n_columns)``;
- their join, :func:`~neuroalign.core.align_runs` (``_align_runs``), and files
  (``save_timeseries`` / ``load_timeseries`` in ``_timed_io``).

Every container is frozen and holds read-only arrays (as :class:`~neuroalign.core.Responses`).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any

import numpy as np
import pandas as pd

from ._ids import describe_mismatch, positions
from ._validation import check_array, check_choice, check_ids, check_same_length, require
from .exceptions import ShapeError, StimulusMismatchError, ValidationError

__all__ = ["TimeSeries", "TimedEvents", "TimedSignals"]


def _ro(arr: np.ndarray) -> np.ndarray:
    view = arr.view()
    view.setflags(write=False)
    return view


def _as_str(values: Any) -> np.ndarray:
    """A 1-D array of str (without a Python loop when it already is one)."""
    arr = np.asarray(values)
    if arr.dtype.kind == "U":
        return arr
    return np.asarray([str(v) for v in arr.ravel()], dtype=object).astype(str).reshape(arr.shape)


def _run_order(runs: np.ndarray) -> tuple[str, ...]:
    """Run ids in order of first appearance."""
    return tuple(str(r) for r in pd.unique(pd.Series(runs, dtype=object)))


# ---------------------------------------------------------------------------------- events
@dataclass(frozen=True, eq=False)
class TimedEvents:
    """Words or phonemes with onset and offset times (seconds from their run's start).

    Parameters
    ----------
    runs : sequence of str, length n_events
        The run of each event.
    onsets, offsets : arrays (n_events,)
        Times in seconds; ``offset >= onset``. Events are kept sorted by onset within each run
        (runs in order of first appearance).
    labels : sequence of str, length n_events
        The word or phoneme.
    kind : str
        ``"words"``, ``"phonemes"`` or any name.
    durations : mapping run → seconds, optional
        Length of each run's stimulus (default: its last offset).

    Examples
    --------
    >>> ev = TimedEvents(["r1", "r1", "r2"], [0.0, 0.4, 0.1], [0.3, 0.9, 0.5], ["once", "upon", "a"])
    >>> ev.run_ids, ev.in_run("r1").labels.tolist()
    (('r1', 'r2'), ['once', 'upon'])
    """

    runs: np.ndarray
    onsets: np.ndarray
    offsets: np.ndarray
    labels: np.ndarray
    kind: str = "words"
    durations: Mapping[str, float] | None = None

    def __post_init__(self) -> None:
        runs = _as_str(self.runs)
        onsets = check_array(self.onsets, "onsets", ndim=1, dtype=np.float64)
        offsets = check_array(self.offsets, "offsets", ndim=1, dtype=np.float64)
        labels = np.asarray([str(w) for w in self.labels], dtype=object).astype(str)
        if runs.ndim != 1 or labels.ndim != 1:
            raise ShapeError("runs and labels must be 1-D (one entry per event).")
        check_same_length("runs", len(runs), "onsets", len(onsets))
        check_same_length("onsets", len(onsets), "offsets", len(offsets))
        check_same_length("onsets", len(onsets), "labels", len(labels))
        if len(runs) == 0:
            raise ValidationError(f"TimedEvents ({self.kind}) holds no event.")
        bad = np.flatnonzero(offsets < onsets)
        if bad.size:
            i = int(bad[0])
            raise ValidationError(
                f"{bad.size} event(s) end before they start, first {labels[i]!r} in run "
                f"{runs[i]!r}: onset {onsets[i]} > offset {offsets[i]}."
            )
        order_runs = _run_order(runs)
        rank = {r: k for k, r in enumerate(order_runs)}
        order = np.lexsort((onsets, np.array([rank[r] for r in runs])))
        durations = {}
        given = dict(self.durations or {})
        unknown = sorted(set(given) - set(order_runs))
        if unknown:
            raise StimulusMismatchError(f"durations names run(s) {unknown} that hold no event.")
        for r in order_runs:
            last = float(offsets[runs == r].max())
            d = float(given.get(r, last))
            if d < last:
                raise ValidationError(
                    f"durations[{r!r}] = {d} s but run {r!r} has an event ending at {last} s."
                )
            durations[r] = d
        object.__setattr__(self, "runs", _ro(runs[order]))
        object.__setattr__(self, "onsets", _ro(onsets[order]))
        object.__setattr__(self, "offsets", _ro(offsets[order]))
        object.__setattr__(self, "labels", _ro(labels[order]))
        object.__setattr__(self, "durations", MappingProxyType(durations))

    # ------------------------------------------------------------------ views
    @property
    def run_ids(self) -> tuple[str, ...]:
        """Run ids in order."""
        return tuple(self.durations or {})

    def __len__(self) -> int:
        return len(self.onsets)

    def __repr__(self) -> str:
        return (
            f"TimedEvents(kind={self.kind!r}, n_events={len(self)}, runs={list(self.run_ids)[:6]})"
        )

    def in_run(self, run: str) -> TimedEvents:
        """The events of one run."""
        return self.select_runs([run])

    def select_runs(self, runs: Sequence[str]) -> TimedEvents:
        """The events of ``runs``, in that order; an unknown run is an error listing the known."""
        runs = [str(r) for r in runs]
        positions(np.asarray(self.run_ids), runs, "the event runs")
        idx = np.concatenate([np.flatnonzero(self.runs == r) for r in runs])
        return TimedEvents(
            self.runs[idx],
            self.onsets[idx],
            self.offsets[idx],
            self.labels[idx],
            self.kind,
            {r: self.durations[r] for r in runs},  # type: ignore[index]
        )

    def to_frame(self) -> pd.DataFrame:
        """A new DataFrame with columns ``run, onset, offset, text``."""
        return pd.DataFrame(
            {"run": self.runs, "onset": self.onsets, "offset": self.offsets, "text": self.labels}
        )

    def texts(self, run: str) -> tuple[str, np.ndarray]:
        """One run's labels joined by spaces, and each label's character span ``(n, 2)``
        (start, end exclusive) in that text: the word-in-context spans of ``extract``."""
        words = self.labels[self.runs == run]
        if words.size == 0:
            positions(np.asarray(self.run_ids), [run], "the event runs")
        starts, pos = [], 0
        for w in words:
            starts.append(pos)
            pos += len(w) + 1
        starts_a = np.asarray(starts, dtype=np.int64)
        ends = starts_a + np.fromiter((len(w) for w in words), np.int64, len(words))
        return " ".join(words), np.stack([starts_a, ends], axis=1)

    # ------------------------------------------------------------------ readers
    @classmethod
    def from_frame(
        cls,
        table: pd.DataFrame,
        *,
        run: str | None = None,
        kind: str = "words",
        columns: Mapping[str, str] | None = None,
        durations: Mapping[str, float] | None = None,
    ) -> TimedEvents:
        """From a table with ``onset`` and ``text`` (or ``word``/``phoneme``/``label``) columns,
        ``offset`` (or ``duration``) and ``run`` (or one ``run=`` for the whole table).
        ``columns`` renames the table's columns first (``{"start": "onset"}``)."""
        df = pd.DataFrame(table).rename(columns=dict(columns or {}))
        if "text" not in df:
            for alt in ("word", "phoneme", "label", "trial_type"):
                if alt in df:
                    df = df.rename(columns={alt: "text"})
                    break
        if "offset" not in df and "duration" in df:
            df["offset"] = pd.to_numeric(df["onset"]) + pd.to_numeric(df["duration"])
        if run is not None:
            df["run"] = str(run)
        missing = [c for c in ("run", "onset", "offset", "text") if c not in df]
        if missing:
            raise ValidationError(
                f"an events table needs the columns run, onset, offset (or duration) and text "
                f"(or word/phoneme/label); missing {missing}, it has {list(df.columns)}. Name the "
                "run with run=..., or rename columns with columns={'old': 'new'}."
            )
        return cls(
            df["run"].to_numpy(),
            pd.to_numeric(df["onset"]).to_numpy(),
            pd.to_numeric(df["offset"]).to_numpy(),
            df["text"].astype(str).to_numpy(),
            kind,
            durations,
        )

    @classmethod
    def read_tsv(
        cls,
        path: str | Path,
        *,
        run: str | None = None,
        kind: str = "words",
        columns: Mapping[str, str] | None = None,
        durations: Mapping[str, float] | None = None,
    ) -> TimedEvents:
        """From a tab-separated file (BIDS ``events.tsv`` style; see :meth:`from_frame`).
        ``run`` defaults to the file's stem when the table has no ``run`` column."""
        path = Path(path)
        if not path.is_file():
            raise ValidationError(f"events file {str(path)!r} does not exist.")
        df = pd.read_csv(path, sep="\t", keep_default_na=False, na_values=["n/a", ""])
        if run is None and "run" not in df.columns:
            run = path.stem
        return cls.from_frame(df, run=run, kind=kind, columns=columns, durations=durations)

    @classmethod
    def read_textgrid(
        cls,
        path: str | Path,
        *,
        tier: str = "words",
        run: str | None = None,
        kind: str | None = None,
        skip: Iterable[str] = ("", "sp", "sil", "<sil>", "{SL}", "{LG}"),
    ) -> TimedEvents:
        """From a Praat TextGrid (read by ``praatio``): the intervals of ``tier`` whose label is
        not in ``skip`` (silences). ``run`` defaults to the file's stem; the run's duration is
        the TextGrid's end time."""
        textgrid = require("praatio.textgrid", "naturalistic", "reading Praat TextGrid files")
        path = Path(path)
        if not path.is_file():
            raise ValidationError(f"TextGrid file {str(path)!r} does not exist.")
        tg = textgrid.openTextgrid(str(path), includeEmptyIntervals=False)
        if tier not in tg.tierNames:
            raise ValidationError(
                f"{str(path)!r} has no tier {tier!r}; its tiers are {list(tg.tierNames)}."
            )
        skip = {s.strip() for s in skip}
        entries = [e for e in tg.getTier(tier).entries if e.label.strip() not in skip]
        if not entries:
            raise ValidationError(f"tier {tier!r} of {str(path)!r} has no labelled interval.")
        run = str(run if run is not None else path.stem)
        return cls(
            [run] * len(entries),
            [float(e.start) for e in entries],
            [float(e.end) for e in entries],
            [e.label.strip() for e in entries],
            kind or tier,
            {run: float(tg.maxTimestamp)},
        )

    @classmethod
    def concat(cls, parts: Sequence[TimedEvents]) -> TimedEvents:
        """Several runs' events in one container (each run in one part only)."""
        if not parts:
            raise ValidationError("concat needs at least one TimedEvents.")
        seen: dict[str, int] = {}
        for k, p in enumerate(parts):
            for r in p.run_ids:
                if r in seen:
                    raise ValidationError(f"run {r!r} is in parts {seen[r]} and {k}.")
                seen[r] = k
        return cls(
            np.concatenate([p.runs for p in parts]),
            np.concatenate([p.onsets for p in parts]),
            np.concatenate([p.offsets for p in parts]),
            np.concatenate([p.labels for p in parts]),
            parts[0].kind,
            {r: d for p in parts for r, d in (p.durations or {}).items()},
        )


# ---------------------------------------------------------------------------------- signals
_SIGNAL_NDIM = {"audio": (1, 2), "video": (3, 4), "signal": (1, 2, 3, 4)}


@dataclass(frozen=True, eq=False)
class TimedSignals:
    """Audio waveforms or video frames at a fixed rate, one array per run (axis 0 is time).

    Parameters
    ----------
    data : mapping run id → array
        ``audio``: (n_samples,) or (n_samples, n_channels); ``video``: (n_frames, height, width
        [, channels]).
    rate : float
        Samples (or frames) per second.
    kind : {"audio", "video", "signal"}
    starts : mapping run → seconds, optional
        Time of each run's first sample (default 0).

    Examples
    --------
    >>> s = TimedSignals({"r1": np.zeros(16000)}, rate=16000.0)
    >>> s.duration("r1"), s.times("r1")[:2].tolist()
    (1.0, [0.0, 6.25e-05])
    """

    data: Mapping[str, np.ndarray]
    rate: float
    kind: str = "audio"
    starts: Mapping[str, float] | None = None

    def __post_init__(self) -> None:
        check_choice(self.kind, "kind", tuple(_SIGNAL_NDIM))
        if not isinstance(self.data, Mapping) or not self.data:
            raise ValidationError(
                f"TimedSignals.data must be a non-empty mapping run id → array; got "
                f"{type(self.data).__name__}."
            )
        rate = float(self.rate)
        if not np.isfinite(rate) or rate <= 0:
            raise ValidationError(
                f"rate must be a positive number of samples/s; got {self.rate!r}."
            )
        check_ids(list(self.data), "run ids")
        arrays = {}
        for r, a in self.data.items():
            a = check_array(a, f"data[{r!r}]", ndim=_SIGNAL_NDIM[self.kind], min_rows=1)
            arrays[str(r)] = _ro(a)
        starts = {r: float(dict(self.starts or {}).get(r, 0.0)) for r in arrays}
        unknown = sorted(set(dict(self.starts or {})) - set(arrays))
        if unknown:
            raise StimulusMismatchError(f"starts names run(s) {unknown} that are not in data.")
        object.__setattr__(self, "rate", rate)
        object.__setattr__(self, "data", MappingProxyType(arrays))
        object.__setattr__(self, "starts", MappingProxyType(starts))

    @property
    def run_ids(self) -> tuple[str, ...]:
        return tuple(self.data)

    def __repr__(self) -> str:
        return f"TimedSignals(kind={self.kind!r}, rate={self.rate}, runs={list(self.run_ids)[:6]})"

    def n_samples(self, run: str) -> int:
        return int(self[run].shape[0])

    def duration(self, run: str) -> float:
        """Seconds covered by ``run`` (samples / rate)."""
        return self.n_samples(run) / self.rate

    def times(self, run: str) -> np.ndarray:
        """Time of each sample of ``run`` (seconds)."""
        return self.starts[run] + np.arange(self.n_samples(run)) / self.rate  # type: ignore[index]

    def __getitem__(self, run: str) -> np.ndarray:
        if run not in self.data:
            positions(np.asarray(self.run_ids), [run], "the signal runs")
        return self.data[run]

    def select_runs(self, runs: Sequence[str]) -> TimedSignals:
        runs = [str(r) for r in runs]
        positions(np.asarray(self.run_ids), runs, "the signal runs")
        return TimedSignals(
            {r: self.data[r] for r in runs},
            self.rate,
            self.kind,
            {r: self.starts[r] for r in runs},  # type: ignore[index]
        )


# ---------------------------------------------------------------------------------- series
@dataclass(frozen=True, eq=False)
class TimeSeries:
    """Rows on a clock, grouped in runs: model features per word / frame, or responses per TR /
    sample.

    Parameters
    ----------
    data : array (n_samples, n_columns)
        Features (columns: model units) or responses (columns: targets).
    runs : sequence of str, length n_samples
        Each row's run; a run's rows are contiguous.
    times : array (n_samples,)
        Each row's time (seconds from its run's start); non-decreasing within a run.
    targets : DataFrame, optional
        One row per column of ``data`` (voxel coordinates, roi ...) for responses.
    name : str
    meta : mapping

    Examples
    --------
    >>> ts = TimeSeries.from_runs({"r1": np.ones((3, 2)), "r2": np.zeros((2, 2))}, rate=0.5)
    >>> ts.run_ids, ts.run_times("r2").tolist()
    (('r1', 'r2'), [0.0, 2.0])
    """

    data: np.ndarray
    runs: np.ndarray
    times: np.ndarray
    targets: pd.DataFrame | None = None
    name: str = "timeseries"
    meta: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        data = check_array(self.data, "data", ndim=2)
        runs = _as_str(self.runs)
        times = check_array(self.times, "times", ndim=1, dtype=np.float64)
        check_same_length("data rows", data.shape[0], "runs", len(runs))
        check_same_length("data rows", data.shape[0], "times", len(times))
        if data.shape[0] == 0:
            raise ValidationError(f"TimeSeries {self.name!r} has no row.")
        starts = np.flatnonzero(np.r_[True, runs[1:] != runs[:-1]])
        order = runs[starts]
        if len(set(order)) != len(order):
            split = sorted({r for r in order if (order == r).sum() > 1})
            raise ValidationError(
                f"the rows of run(s) {split} are not contiguous; sort the rows by run first."
            )
        same_run = runs[1:] == runs[:-1]
        back = np.flatnonzero(same_run & (np.diff(times) < 0))
        if back.size:
            i = int(back[0]) + 1
            raise ValidationError(
                f"times go backwards within run {runs[i]!r} (row {i}: {times[i - 1]} → {times[i]}); "
                "rows of a run must be in time order."
            )
        targets = self.targets
        if targets is not None:
            targets = pd.DataFrame(targets).reset_index(drop=True)
            check_same_length("data columns", data.shape[1], "targets rows", len(targets))
        bounds = np.r_[starts, len(runs)]
        slices = {
            str(r): slice(int(a), int(b))
            for r, a, b in zip(order, bounds[:-1], bounds[1:], strict=True)
        }
        object.__setattr__(self, "data", data if isinstance(data, np.memmap) else _ro(data))
        object.__setattr__(self, "runs", _ro(runs))
        object.__setattr__(self, "times", _ro(times))
        object.__setattr__(self, "targets", targets)
        object.__setattr__(self, "meta", MappingProxyType(dict(self.meta)))
        object.__setattr__(self, "_slices", MappingProxyType(slices))

    @classmethod
    def from_runs(
        cls,
        data: Mapping[str, Any],
        *,
        rate: float | None = None,
        times: Mapping[str, Any] | None = None,
        start: float = 0.0,
        **kwargs: Any,
    ) -> TimeSeries:
        """From one array per run, timed by a ``rate`` (row ``i`` at ``start + i / rate``) or by
        explicit ``times`` per run."""
        if (rate is None) == (times is None):
            raise ValidationError("give exactly one of rate= (samples/s) or times= (per run).")
        arrays = {str(r): check_array(a, f"data[{r!r}]", ndim=2) for r, a in data.items()}
        if not arrays:
            raise ValidationError("from_runs needs at least one run.")
        if times is not None:
            t = {str(r): np.asarray(v, dtype=np.float64) for r, v in times.items()}
            if set(t) != set(arrays):
                raise StimulusMismatchError(
                    "times and data name different runs: "
                    + describe_mismatch("data", list(arrays), "times", list(t))
                )
        else:
            if not rate or rate <= 0:
                raise ValidationError(f"rate must be positive; got {rate!r}.")
            t = {r: start + np.arange(len(a)) / float(rate) for r, a in arrays.items()}
        for r in arrays:
            check_same_length(f"data[{r!r}] rows", len(arrays[r]), f"times[{r!r}]", len(t[r]))
        return cls(
            np.concatenate(list(arrays.values())),
            np.concatenate([[r] * len(a) for r, a in arrays.items()]),
            np.concatenate([t[r] for r in arrays]),
            **kwargs,
        )

    # ------------------------------------------------------------------ views
    @property
    def run_ids(self) -> tuple[str, ...]:
        return tuple(self._slices)  # type: ignore[attr-defined]

    @property
    def n_samples(self) -> int:
        return int(self.data.shape[0])

    @property
    def n_columns(self) -> int:
        return int(self.data.shape[1])

    @property
    def groups(self) -> np.ndarray:
        """An integer run code per row (for run-aware cross-validation and delays)."""
        codes = {r: k for k, r in enumerate(self.run_ids)}
        return np.fromiter((codes[r] for r in self.runs), np.int64, len(self.runs))

    def __repr__(self) -> str:
        return (
            f"TimeSeries(name={self.name!r}, data={self.data.shape}, "
            f"runs={list(self.run_ids)[:6]}{' ...' if len(self.run_ids) > 6 else ''})"
        )

    def run_slice(self, run: str) -> slice:
        if run not in self._slices:  # type: ignore[attr-defined]
            positions(np.asarray(self.run_ids), [run], f"the runs of {self.name!r}")
        return self._slices[run]  # type: ignore[attr-defined,no-any-return]

    def run_data(self, run: str) -> np.ndarray:
        return self.data[self.run_slice(run)]

    def run_times(self, run: str) -> np.ndarray:
        return self.times[self.run_slice(run)]

    def span(self, run: str) -> tuple[float, float]:
        """First and last time of ``run``."""
        t = self.run_times(run)
        return float(t[0]), float(t[-1])

    def select_runs(self, runs: Sequence[str]) -> TimeSeries:
        """The rows of ``runs``, in that order (an unknown run is an error listing the known)."""
        runs = [str(r) for r in runs]
        if tuple(runs) == self.run_ids:
            return self
        positions(np.asarray(self.run_ids), runs, f"the runs of {self.name!r}")
        idx = np.concatenate([np.arange(self.n_samples)[self.run_slice(r)] for r in runs])
        return self.replace(self.data[idx], runs=self.runs[idx], times=self.times[idx])

    def replace(self, data: Any, **changes: Any) -> TimeSeries:
        """A copy with new ``data`` (same runs/times unless given; targets dropped when the
        number of columns changes)."""
        data = np.asarray(data)
        targets = self.targets if data.ndim == 2 and data.shape[1] == self.n_columns else None
        kw: dict[str, Any] = dict(
            runs=self.runs, times=self.times, targets=targets, name=self.name, meta=self.meta
        )
        kw.update(changes)
        return TimeSeries(data, **kw)
