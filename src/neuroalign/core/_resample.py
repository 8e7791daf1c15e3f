"""Resampling features from the stimulus clock to the recording clock (fMRI TRs, M/EEG samples).

Three methods, in the registry :data:`RESAMPLERS` (name → function of
``(values, times, new_times, window, cutoff)``):

``"lanczos"``
    Lanczos-windowed sinc interpolation as in Huth et al. (2016): each new sample is a weighted
    sum of the old samples within ``window`` lobes of it, weights ``L(2·f_c·(t_k − s_j))`` with
    ``L(x) = sinc(x)·sinc(x / window)`` for ``|x| < window`` (0 beyond) and the cut-off ``f_c``
    at the new Nyquist ``1 / (2·Δt_new)`` by default. Works for irregular old times (word onsets:
    each word is an impulse). neuroalign multiplies the sum by ``2·f_c·Δs`` (``Δs`` = the median
    old spacing) so a slowly varying regularly sampled signal keeps unit gain; the output is
    therefore the Huth-lab ``lanczosinterp2D`` sum times the constant ``2·f_c·Δs``.
``"box"``
    The mean of the old samples falling in each new bin ``[t_k − Δt/2, t_k + Δt/2)`` (bins centred
    on the new times, like the Lanczos kernel), 0 where a bin holds none.
``"linear"``
    For regularly sampled signals (audio envelopes, spectrogram frames) going to M/EEG rates:
    when the new rate is lower, a zero-phase windowed-sinc low-pass at the new Nyquist (or
    ``cutoff``) first, then linear interpolation; 0 outside the old time range.

``Δt_new`` is the median spacing of ``new_times`` (which must increase).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from ._validation import check_array, check_choice
from .exceptions import ValidationError

__all__ = ["RESAMPLERS", "lanczos_kernel", "resample"]


def lanczos_kernel(x: Any, window: int = 3) -> np.ndarray:
    """The Lanczos kernel ``sinc(x)·sinc(x / window)`` on ``|x| < window``, 0 elsewhere.

    ``x`` is in units of the new sampling interval (so zeros fall on the integers).

    Examples
    --------
    >>> lanczos_kernel([0.0, 1.0, 3.5], window=3).round(6)
    array([1., 0., 0.])
    """
    x = np.asarray(x, dtype=float)
    out = np.sinc(x) * np.sinc(x / window)
    out[np.abs(x) >= window] = 0.0
    return out


def _spacing(t: np.ndarray, name: str) -> float:
    d = np.diff(t)
    if d.size == 0:
        raise ValidationError(f"{name} needs at least 2 time points to define a spacing; got 1.")
    if np.any(d <= 0):
        bad = int(np.argmax(d <= 0))
        raise ValidationError(
            f"{name} must be strictly increasing; {name}[{bad}] = {t[bad]} is followed by "
            f"{t[bad + 1]}. Sort the samples (and their values) by time first."
        )
    return float(np.median(d))


def _windowed_rows(times: np.ndarray, new_times: np.ndarray, lo_off: float, hi_off: float):
    """For each new time, the old sample indices in ``[t_k + lo_off, t_k + hi_off)``: (rows, cols)."""
    lo = np.searchsorted(times, new_times + lo_off, side="left")
    hi = np.searchsorted(times, new_times + hi_off, side="left")
    counts = hi - lo
    rows = np.repeat(np.arange(len(new_times)), counts)
    starts = np.repeat(lo - np.concatenate([[0], np.cumsum(counts)[:-1]]), counts)
    cols = np.arange(int(counts.sum())) + starts
    return rows, cols, counts


def _sparse_apply(rows, cols, weights, values, n_new):
    from scipy import sparse

    W = sparse.csr_matrix((weights, (rows, cols)), shape=(n_new, values.shape[0]))
    return np.asarray(W @ values)


def _resample_lanczos(values, times, new_times, window, cutoff, scale=True):
    dt_new = _spacing(new_times, "new_times")
    fc = 1.0 / (2.0 * dt_new) if cutoff is None else float(cutoff)
    half = window / (2.0 * fc)
    rows, cols, _ = _windowed_rows(times, new_times, -half, half)
    w = lanczos_kernel(2.0 * fc * (new_times[rows] - times[cols]), window)
    if scale:
        w = w * (2.0 * fc * (_spacing(times, "times") if len(times) > 1 else 1.0))
    return _sparse_apply(rows, cols, w, values, len(new_times))


def _resample_box(values, times, new_times, window, cutoff):
    dt_new = _spacing(new_times, "new_times")
    rows, cols, counts = _windowed_rows(times, new_times, -dt_new / 2.0, dt_new / 2.0)
    w = 1.0 / counts[rows]
    return _sparse_apply(rows, cols, w, values, len(new_times))


def _lowpass(values: np.ndarray, fs: float, fc: float) -> np.ndarray:
    """Zero-phase windowed-sinc low-pass at ``fc`` Hz (Hamming, transition ≈ fc/4), reflect edges."""
    from scipy import signal

    width = max(fc / 4.0, 1e-12)
    numtaps = int(np.ceil(3.3 * fs / width)) | 1
    numtaps = min(numtaps, 2 * (values.shape[0] // 2) - 1) if values.shape[0] > 2 else 1
    if numtaps < 3:
        return values
    taps = signal.firwin(numtaps, fc, fs=fs, window="hamming")
    pad = numtaps // 2
    padded = np.pad(values, ((pad, pad), (0, 0)), mode="reflect")
    return signal.oaconvolve(padded, taps[:, None], mode="valid", axes=0)


def _resample_linear(values, times, new_times, window, cutoff):
    dt_old = _spacing(times, "times")
    d = np.diff(times)
    if np.max(np.abs(d - dt_old)) > 0.01 * dt_old:
        raise ValidationError(
            "method='linear' needs regularly sampled times (spacing varies from "
            f"{d.min():.6g} to {d.max():.6g} s); use method='lanczos' or 'box' for irregular "
            "samples such as word onsets."
        )
    dt_new = _spacing(new_times, "new_times")
    fc = 1.0 / (2.0 * dt_new) if cutoff is None else float(cutoff)
    fs = 1.0 / dt_old
    if fc < fs / 2.0:
        values = _lowpass(values, fs, fc)
    pos = (new_times - times[0]) / dt_old
    inside = (pos >= -1e-9) & (pos <= len(times) - 1 + 1e-9)
    pos = np.clip(pos, 0, len(times) - 1)
    i0 = np.minimum(np.floor(pos).astype(int), len(times) - 2)
    f = (pos - i0)[:, None]
    out = values[i0] * (1.0 - f) + values[i0 + 1] * f
    out[~inside] = 0.0
    return out


#: name → resampler ``f(values, times, new_times, window, cutoff) -> (n_new, n_features)``
RESAMPLERS: dict[str, Callable[..., np.ndarray]] = {
    "lanczos": _resample_lanczos,
    "box": _resample_box,
    "linear": _resample_linear,
}


def resample(
    values: Any,
    times: Any,
    new_times: Any,
    method: str = "lanczos",
    *,
    window: int = 3,
    cutoff: float | None = None,
) -> np.ndarray:
    """Resample features sampled at ``times`` onto ``new_times`` (seconds).

    Parameters
    ----------
    values : array (n_samples, n_features) or (n_samples,)
        Features on the stimulus clock (one row per word, audio frame, video frame...).
    times : array (n_samples,)
        Time of each row in seconds, strictly increasing; may be irregular (word onsets) for
        ``"lanczos"`` and ``"box"``.
    new_times : array (n_new,)
        The recording's sample times (fMRI TR times, M/EEG sample times), strictly increasing.
    method : {"lanczos", "box", "linear"}
        See :data:`RESAMPLERS` and the module docstring.
    window : int
        Lanczos lobes (``"lanczos"`` only).
    cutoff : float, optional
        Low-pass cut-off in Hz for ``"lanczos"`` and ``"linear"``; default the new Nyquist
        ``1 / (2 · median spacing of new_times)``.

    Returns
    -------
    array (n_new, n_features) (1-D ``values`` count as one feature), float64 unless ``values``
    is float32.

    Examples
    --------
    >>> t = np.arange(0, 10, 0.01)
    >>> out = resample(np.ones((t.size, 1)), t, np.arange(2.0, 8.0, 2.0), "box")
    >>> out.ravel()
    array([1., 1., 1.])
    """
    check_choice(method, "method", RESAMPLERS)
    vals = check_array(values, "values", ndim=(1, 2))
    if vals.ndim == 1:
        vals = vals[:, None]
    if not np.issubdtype(vals.dtype, np.floating):
        vals = vals.astype(np.float64)
    t = check_array(times, "times", ndim=1, dtype=np.float64)
    nt = check_array(new_times, "new_times", ndim=1, dtype=np.float64)
    if t.shape[0] != vals.shape[0]:
        raise ValidationError(
            f"times has {t.shape[0]} entries but values has {vals.shape[0]} rows; give one time "
            "per row of values."
        )
    if t.shape[0] < 2 and method == "linear":
        raise ValidationError("method='linear' needs at least 2 samples in values.")
    if t.shape[0] > 1:
        _spacing(t, "times")
    if int(window) != window or window < 1:
        raise ValidationError(f"window must be a positive integer (Lanczos lobes); got {window!r}.")
    if cutoff is not None and not cutoff > 0:
        raise ValidationError(f"cutoff must be a positive frequency in Hz; got {cutoff!r}.")
    out = RESAMPLERS[method](vals, t, nt, int(window), cutoff)
    out = np.asarray(out, dtype=vals.dtype)
    return out
