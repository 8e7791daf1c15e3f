"""Decoding continuous speech (or any timed stimulus) from M/EEG by segments.

:func:`aligned_windows` cuts the same windows (run, start, length) from the recording and from the
stimulus features (``align_runs`` checks runs and spans first): each window gives an epoch
(n_channels, n_times) of the recording and the stimulus features of its frames, averaged into one
embedding. :func:`decode_segments` trains a decoder (the CLIP-loss :class:`ContrastiveDecoder`
by default) on the windows of the training runs and identifies the windows of the test runs among
each other (top-k segment retrieval, as in speech-perception decoding from M/EEG, Défossez et al.
2023), returning :func:`identification`'s ``Result``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..core import Result, TimeSeries, align_runs
from ..core.exceptions import ValidationError
from ._retrieval import identification

__all__ = ["Windows", "aligned_windows", "decode_segments"]


@dataclass(frozen=True, eq=False)
class Windows:
    """Aligned windows of a recording and a stimulus.

    Attributes
    ----------
    ids : array (n_windows,) of str
        ``"<run>@<start in seconds>"``.
    runs : array (n_windows,) of str
    starts : array (n_windows,)
        Start time of each window (seconds).
    brain : array (n_windows, n_channels, n_times)
        The recording in each window.
    stimulus : array (n_windows, n_features)
        The stimulus features of the frames inside each window, averaged.
    """

    ids: np.ndarray
    runs: np.ndarray
    starts: np.ndarray
    brain: np.ndarray
    stimulus: np.ndarray


def aligned_windows(
    brain: TimeSeries,
    stimulus: TimeSeries,
    length: float = 3.0,
    step: float | None = None,
    *,
    tolerance: float | None = None,
) -> Windows:
    """Cut windows of ``length`` seconds every ``step`` seconds (default: ``length``, no overlap)
    from both, run by run.

    Parameters
    ----------
    brain : TimeSeries (n_samples, n_channels)
        The recording, regularly sampled within each run.
    stimulus : TimeSeries (n_frames, n_features)
        Features on the stimulus clock (audio-model frames, envelope ...).
    length, step : float
        Seconds.
    tolerance : float, optional
        Seconds by which the runs' first / last times may differ (default: ``length``).

    Returns
    -------
    Windows
        Only windows that fit inside the recording; a window without any stimulus frame is an
        error naming it.
    """
    if not length or length <= 0:
        raise ValidationError(f"length must be positive seconds; got {length!r}.")
    step = float(length if step is None else step)
    if step <= 0:
        raise ValidationError(f"step must be positive seconds; got {step!r}.")
    brain, stimulus = align_runs(
        brain, stimulus, on="span", tolerance=float(length if tolerance is None else tolerance)
    )
    ids, runs, starts, epochs, embeds = [], [], [], [], []
    for r in brain.run_ids:
        t = brain.run_times(r)
        if len(t) < 2:
            raise ValidationError(f"run {r!r} of the recording has fewer than 2 samples.")
        dt = float(np.median(np.diff(t)))
        if np.max(np.abs(np.diff(t) - dt)) > 0.01 * dt:
            raise ValidationError(
                f"run {r!r} of the recording is not regularly sampled (steps {np.diff(t).min():.4g}"
                f"–{np.diff(t).max():.4g} s); resample it first."
            )
        n_times = round(length / dt)
        data = np.asarray(brain.run_data(r))
        st, sx = stimulus.run_times(r), np.asarray(stimulus.run_data(r))
        s = t[0]
        while True:
            i0 = int(np.searchsorted(t, s - dt / 2))
            if i0 + n_times > len(t):
                break
            inside = (st >= s) & (st < s + length)
            if not inside.any():
                raise ValidationError(
                    f"the window {r!r} at {s:.3f}–{s + length:.3f} s holds no stimulus frame; "
                    "the stimulus features do not cover the recording there."
                )
            ids.append(f"{r}@{s:.3f}")
            runs.append(r)
            starts.append(s)
            epochs.append(data[i0 : i0 + n_times].T)
            embeds.append(sx[inside].mean(axis=0))
            s += step
    if not ids:
        raise ValidationError(
            f"no window of {length} s fits in any run (runs of {[brain.span(r) for r in brain.run_ids]} s)."
        )
    return Windows(
        np.asarray(ids),
        np.asarray(runs),
        np.asarray(starts),
        np.stack(epochs).astype(np.float32),
        np.stack(embeds).astype(np.float32),
    )


def decode_segments(
    brain: TimeSeries,
    stimulus: TimeSeries,
    test_runs: Sequence[str],
    *,
    length: float = 3.0,
    step: float | None = None,
    decoder: Any = None,
    k: int | Sequence[int] = (1, 5),
    model: str = "",
    layer: str = "",
) -> Result:
    """Train a decoder on the windows of the training runs; identify each test window's stimulus
    among all test windows (top-k, rank, 2-AFC; chance levels in the table).

    Parameters
    ----------
    brain, stimulus, length, step :
        As in :func:`aligned_windows`.
    test_runs : sequence of str
        Runs whose windows are decoded and retrieved (never seen in training).
    decoder : estimator, optional
        ``fit(X, E)`` / ``predict(X)`` with X (n_windows, n_channels, n_times) (default:
        ``ContrastiveDecoder(brain_module="conv")``).
    k : int or sequence of int
    model, layer : str
        Labels for the table.

    Returns
    -------
    Result of :func:`identification` (``kind="retrieval"``), ``params`` with the windows.
    """
    test = [str(r) for r in test_runs]
    unknown = sorted(set(test) - set(brain.run_ids))
    if not test or unknown:
        raise ValidationError(
            f"test_runs must name runs of the recording {list(brain.run_ids)}; got {list(test_runs)}."
        )
    win = aligned_windows(brain, stimulus, length, step)
    is_test = np.isin(win.runs, test)
    if is_test.all():
        raise ValidationError("every run is a test run; leave at least one run for training.")
    if decoder is None:
        from ._contrastive import ContrastiveDecoder

        decoder = ContrastiveDecoder(brain_module="conv")
    decoder.fit(win.brain[~is_test], win.stimulus[~is_test])
    predicted = decoder.predict(win.brain[is_test])
    res = identification(
        predicted,
        win.stimulus[is_test],
        query_ids=win.ids[is_test],
        candidate_ids=win.ids[is_test],
        k=k,
        model=model,
        layer=layer,
    )
    params = {
        **dict(res.params),
        "length": float(length),
        "step": float(length if step is None else step),
        "test_runs": test,
        "n_train_windows": int((~is_test).sum()),
        "n_test_windows": int(is_test.sum()),
    }
    return Result(res.table, res.kind, dict(res.arrays), params)
