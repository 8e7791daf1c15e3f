"""``reconstruct_over_time``: time-resolved stimulus reconstruction — a backward temporal response
function (brain → stimulus, e.g. the speech envelope) cross-validated across epochs in sliding
windows of the recording (``over="time"``) or over windows of lags (``over="lag"``), one
:class:`~neuroalign.core.Result` (kind ``encoding.trf_over_time``) with r per window."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from ..core import Result, make_table
from ..core._progress import track
from ..core._validation import check_choice
from ..core.exceptions import ValidationError
from ._trf_cv import cross_validate_trf

__all__ = ["RECONSTRUCTION_WINDOWS", "reconstruct_over_time"]

# a window: (centre in s, brain epochs, stimulus epochs, tmin, tmax)
_Window = tuple[float, list[np.ndarray], list[np.ndarray], float, float]


def _time_windows(
    X: list[np.ndarray],
    y: list[np.ndarray],
    sfreq: float,
    tmin: float,
    tmax: float,
    width: float,
    step: float,
) -> list[_Window]:
    """Windows ``[a, a + width)`` s from each epoch's start, over the shortest epoch; the same
    lags ``tmin..tmax`` in each (lags do not reach outside a window)."""
    n_min = min(len(e) for e in X)
    size, hop = round(width * sfreq), round(step * sfreq)
    n_lags = round((tmax - tmin) * sfreq) + 1
    if size <= n_lags:
        raise ValidationError(
            f"window={width} s ({size} samples) must be longer than the lags {tmin}–{tmax} s "
            f"({n_lags} samples); widen the window or narrow the lags."
        )
    if size > n_min:
        raise ValidationError(
            f"window={width} s ({size} samples) is longer than the shortest epoch ({n_min} "
            "samples); use a shorter window."
        )
    return [
        (
            (a + size / 2) / sfreq,
            [e[a : a + size] for e in X],
            [e[a : a + size] for e in y],
            tmin,
            tmax,
        )
        for a in range(0, n_min - size + 1, hop)
    ]


def _lag_windows(
    X: list[np.ndarray],
    y: list[np.ndarray],
    sfreq: float,
    tmin: float,
    tmax: float,
    width: float,
    step: float,
) -> list[_Window]:
    """Lag windows ``[l, l + width]`` s stepping from ``tmin`` while ``l + width <= tmax``; each
    uses the whole epochs. The window's "time" is its centre lag."""
    size, hop = round(width * sfreq), max(1, round(step * sfreq))
    lo, hi = round(tmin * sfreq), round(tmax * sfreq)
    if size < 0 or lo + size > hi:
        raise ValidationError(
            f"window={width} s must fit within the lags {tmin}–{tmax} s for over='lag'."
        )
    return [
        ((a + size / 2) / sfreq, X, y, a / sfreq, (a + size) / sfreq)
        for a in range(lo, hi - size + 1, hop)
    ]


#: How windows are made: ``"time"`` (stretches of the recording) or ``"lag"`` (ranges of lags).
RECONSTRUCTION_WINDOWS: dict[str, Callable[..., list[_Window]]] = {
    "time": _time_windows,
    "lag": _lag_windows,
}


def reconstruct_over_time(
    brain: Sequence[Any],
    stimulus: Sequence[Any],
    sfreq: float,
    *,
    tmin: float = -0.25,
    tmax: float = 0.0,
    alpha: Any = 1e3,
    over: str = "time",
    window: float = 10.0,
    step: float | None = None,
    model: str = "",
    layer: str = "",
    target_names: Sequence[str] | None = None,
    quiet: bool = False,
) -> Result:
    """Stimulus reconstruction accuracy over time (or over lags), leave-one-epoch-out.

    For each window a backward TRF (:func:`~neuroalign.encode.cross_validate_trf`,
    ``direction="backward"``) is fit on all epochs but one, cropped to the window, and
    reconstructs the held-out epoch's stimulus in that window; r is averaged over held-out epochs.

    Parameters
    ----------
    brain : sequence of arrays
        One (n_times_e, n_channels) array per epoch (trial, run; ≥ 3).
    stimulus : sequence of arrays
        One (n_times_e[, n_features]) array per epoch on the same clock (e.g. the envelope).
    sfreq : float
        Samples per second of both.
    tmin, tmax : float
        Lags in seconds (negative: the brain after the stimulus, as for backward models).
    alpha : float or sequence of float
        Ridge penalty; a grid is chosen per feature by inner CV (slower).
    over : {"time", "lag"}
        ``"time"``: windows of ``window`` s of the recording (from each epoch's start, up to the
        shortest epoch), lags ``tmin..tmax`` in each; ``"lag"``: windows of ``window`` s of lags
        within ``tmin..tmax``, each fit on the whole epochs. See :data:`RECONSTRUCTION_WINDOWS`.
    window, step : float
        Window width and step in seconds (default step = width: no overlap).
    model, layer, target_names :
        Labels in the table.
    quiet : bool
        No progress bar over the windows (shown by default in a terminal).

    Returns
    -------
    Result
        kind ``"encoding.trf_over_time"``; table: one row per window and stimulus feature
        (``time`` the window's centre in s — a time in the recording, or a lag for
        ``over="lag"`` —, ``value`` the mean held-out r, ``se`` over epochs, ``n`` the epochs,
        ``scoring="pearson"``, ``method="trf_backward"``, ``split="cv"``); arrays ``fold_scores``
        (n_windows, n_epochs, n_features), ``window_start`` and ``window_stop`` (s);
        ``params["over"]``.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> env = [rng.normal(size=(400, 1)) for _ in range(4)]
    >>> brain = [np.hstack([e, rng.normal(size=(400, 2))]) for e in env]
    >>> res = reconstruct_over_time(brain, env, 100.0, tmin=-0.05, tmax=0.0, window=2.0)
    >>> res.table["time"].tolist(), bool((res.table["value"] > 0.9).all())
    ([1.0, 3.0], True)
    """
    check_choice(over, "over", RECONSTRUCTION_WINDOWS)
    if not isinstance(brain, (list, tuple)) or not isinstance(stimulus, (list, tuple)):
        raise ValidationError("brain and stimulus must be lists of per-epoch arrays.")
    if len(brain) < 3 or len(brain) != len(stimulus):
        raise ValidationError(
            f"reconstruct_over_time needs ≥ 3 epochs in brain and as many in stimulus; got "
            f"{len(brain)} and {len(stimulus)}."
        )
    X = [np.asarray(e) for e in brain]
    y = [np.asarray(e)[:, None] if np.ndim(e) == 1 else np.asarray(e) for e in stimulus]
    for k, (a, b) in enumerate(zip(X, y, strict=True)):
        if a.ndim != 2 or len(a) != len(b):
            raise ValidationError(
                f"epoch {k}: brain {a.shape} and stimulus {b.shape} must be (n_times, ...) with "
                "the same n_times (one clock)."
            )
    if not sfreq > 0 or not window > 0 or (step is not None and not step > 0):
        raise ValidationError(
            f"sfreq, window and step must be positive; got {sfreq!r}, {window!r}, {step!r}."
        )
    if tmin > tmax:
        raise ValidationError(f"tmin ({tmin}) must be <= tmax ({tmax}).")
    windows = RECONSTRUCTION_WINDOWS[over](
        X, y, float(sfreq), tmin, tmax, float(window), float(step or window)
    )
    rows, folds, starts, stops = [], [], [], []
    for centre, xs, ys, lo, hi in track(windows, len(windows), f"windows over {over}", quiet):
        res = cross_validate_trf(
            xs,
            ys,
            lo,
            hi,
            sfreq,
            alpha,
            direction="backward",
            target_names=target_names,
            quiet=True,
        )
        per = res.table[res.table["aggregate"] == "none"]
        for target, value, se in zip(per["target"], per["value"], per["se"], strict=True):
            rows.append({"target": target, "time": centre, "value": value, "se": se, "n": len(X)})
        folds.append(res.arrays["fold_scores"])
        starts.append(centre - window / 2)
        stops.append(centre + window / 2)
    table = make_table(
        rows,
        analysis="encoding",
        model=model,
        layer=layer,
        roi="all",
        statistic="score",
        scoring="pearson",
        method="trf_backward",
        split="cv",
        resampled="none",
    )
    return Result(
        table,
        kind="encoding.trf_over_time",
        arrays={
            "fold_scores": np.stack(folds),
            "window_start": np.asarray(starts),
            "window_stop": np.asarray(stops),
        },
        params={
            "over": over,
            "tmin": tmin,
            "tmax": tmax,
            "window": window,
            "step": step or window,
            "sfreq": sfreq,
            "alpha": alpha if np.ndim(alpha) == 0 else list(np.ravel(alpha)),
            "n_epochs": len(X),
            "cv": "leave-one-epoch-out",
        },
    )
