"""``align_runs``: the ``align`` of timed data — the same runs in the same order, and per run the
same clock (or, with ``on="span"``, the same stretch of time). A difference is an error that lists
each run and how it differs; nothing is ever truncated to make two sides fit."""

from __future__ import annotations

import warnings
from typing import Any, Literal

import numpy as np

from ._ids import describe_mismatch
from ._timed import TimedEvents, TimeSeries
from ._validation import check_choice
from .exceptions import NeuroalignWarning, StimulusMismatchError, ValidationError

__all__ = ["align_runs"]


def _run_ids(x: Any, name: str) -> tuple[str, ...]:
    ids = getattr(x, "run_ids", None)
    if ids is None:
        raise ValidationError(
            f"{name} must be a TimeSeries, TimedEvents or TimedSignals; got {type(x).__name__}."
        )
    return tuple(ids)


def _span(x: Any, run: str) -> tuple[float, float]:
    if isinstance(x, TimeSeries):
        return x.span(run)
    if isinstance(x, TimedEvents):
        return 0.0, float(x.durations[run])  # type: ignore[index]
    start = float(x.starts[run])
    return start, start + x.duration(run)


def _describe_clock(x: Any, run: str) -> str:
    if isinstance(x, TimeSeries):
        t = x.run_times(run)
        step = f", step {np.median(np.diff(t)):.4g} s" if len(t) > 1 else ""
        return f"{len(t)} samples {t[0]:.4g}–{t[-1]:.4g} s{step}"
    a, b = _span(x, run)
    return f"{a:.4g}–{b:.4g} s"


def align_runs(
    a: Any,
    b: Any,
    *,
    how: Literal["exact", "inner"] = "exact",
    on: Literal["time", "span"] = "time",
    tolerance: float | None = None,
) -> tuple[Any, Any]:
    """Put two timed containers in the same run order, checking that their clocks agree.

    Parameters
    ----------
    a, b : TimeSeries, TimedEvents or TimedSignals
        E.g. model features and brain responses.
    how : {"exact", "inner"}
        ``"exact"``: both must hold the same runs, else
        :class:`~neuroalign.core.exceptions.StimulusMismatchError` lists the runs missing on each
        side; ``"inner"``: keep the common runs and warn which were dropped.
    on : {"time", "span"}
        ``"time"``: per run, the same number of samples at the same times (within
        ``tolerance``, default 1e-6 s) — the join of features already on the recording's clock;
        ``a`` and ``b`` must then be :class:`TimeSeries`. ``"span"``: per run, the two cover the
        same stretch of time (first and last times within ``tolerance`` seconds, default 1e-6 s)
        — the check before resampling a stimulus's features to the recording's clock.
    tolerance : float, optional
        Seconds.

    Returns
    -------
    (a, b) restricted to the kept runs, both in ``a``'s run order.

    Raises
    ------
    StimulusMismatchError
        Listing each run whose clocks differ and how (samples, first–last time, step). Never
        truncates one side to fit the other.

    Examples
    --------
    >>> x = TimeSeries.from_runs({"r2": np.ones((2, 1)), "r1": np.ones((3, 1))}, rate=1.0)
    >>> y = TimeSeries.from_runs({"r1": np.zeros((3, 4)), "r2": np.zeros((2, 4))}, rate=1.0)
    >>> x2, y2 = align_runs(x, y)
    >>> y2.run_ids
    ('r2', 'r1')
    """
    check_choice(how, "how", ("exact", "inner"))
    check_choice(on, "on", ("time", "span"))
    tol = 1e-6 if tolerance is None else float(tolerance)
    if not np.isfinite(tol) or tol < 0:
        raise ValidationError(f"tolerance must be a number of seconds >= 0; got {tolerance!r}.")
    ids_a, ids_b = _run_ids(a, "a"), _run_ids(b, "b")
    name_a = f"{type(a).__name__} {getattr(a, 'name', '') or ''}".strip()
    name_b = f"{type(b).__name__} {getattr(b, 'name', '') or ''}".strip()
    if name_a == name_b:
        name_a, name_b = f"{name_a} (first)", f"{name_b} (second)"
    common = [r for r in ids_a if r in set(ids_b)]
    if set(ids_a) != set(ids_b):
        listing = describe_mismatch(name_a, ids_a, name_b, ids_b)
        if how == "exact":
            raise StimulusMismatchError(
                f"{name_a} and {name_b} do not hold the same runs: {listing}. Select the common "
                "runs first, or call align_runs(..., how='inner')."
            )
        if not common:
            raise StimulusMismatchError(f"{name_a} and {name_b} share no run ({listing}).")
        warnings.warn(
            f"align_runs(how='inner') kept {len(common)} common runs; dropped {listing}.",
            NeuroalignWarning,
            stacklevel=2,
        )
    if on == "time" and not (isinstance(a, TimeSeries) and isinstance(b, TimeSeries)):
        raise ValidationError(
            "align_runs(on='time') joins two TimeSeries sample by sample; for events or signals "
            "against a recording use on='span' (then resample to the recording's clock)."
        )
    differ = []
    for r in common:
        if on == "time":
            ta, tb = a.run_times(r), b.run_times(r)
            same = len(ta) == len(tb) and bool(np.all(np.abs(ta - tb) <= tol))
        else:
            (a0, a1), (b0, b1) = _span(a, r), _span(b, r)
            same = abs(a0 - b0) <= tol and abs(a1 - b1) <= tol
        if not same:
            differ.append(
                f"run {r!r}: {name_a} {_describe_clock(a, r)} vs {name_b} {_describe_clock(b, r)}"
            )
    if differ:
        what = "sample times" if on == "time" else f"time spans (tolerance {tol:g} s)"
        raise StimulusMismatchError(
            f"{name_a} and {name_b} differ in the {what} of {len(differ)} run(s):\n  "
            + "\n  ".join(differ[:20])
            + ("\n  ..." if len(differ) > 20 else "")
            + "\nNothing is truncated to make them fit: "
            + (
                "resample one side to the other's clock first."
                if on == "time"
                else "check that each run's stimulus and recording are the same run, trim the "
                "recording to the stimulus explicitly, or widen tolerance=."
            )
        )
    return a.select_runs(common), b.select_runs(common)
