"""Stimulus features without a model, on the stimulus clock: acoustic features of audio
(``ACOUSTIC_FEATURES``: ``envelope``, ``spectrogram``, ``onsets``) and the rate of words or
phonemes (:func:`event_rate`)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from ..core import TimedEvents, TimedSignals, TimeSeries
from ..core._registry import register
from ..core.exceptions import ConfigurationError, ValidationError

__all__ = ["ACOUSTIC_FEATURES", "acoustic_features", "event_rate"]

ACOUSTIC_FEATURES: dict[str, Callable[..., tuple[np.ndarray, np.ndarray]]] = {}


@register(ACOUSTIC_FEATURES)
def envelope(x: np.ndarray, sr: float, rate: float, **_: Any) -> tuple[np.ndarray, np.ndarray]:
    """Broadband amplitude envelope: |analytic signal| averaged over frames of 1/rate s."""
    from scipy.signal import hilbert

    hop = max(1, round(sr / rate))
    amp = np.abs(hilbert(x))
    n = len(x) // hop
    env = amp[: n * hop].reshape(n, hop).mean(axis=1)
    return env[:, None], (np.arange(n) * hop + (hop - 1) / 2) / sr


@register(ACOUSTIC_FEATURES)
def spectrogram(
    x: np.ndarray, sr: float, rate: float, n_bands: int = 32, fmin: float = 50.0, **_: Any
) -> tuple[np.ndarray, np.ndarray]:
    """Log-power spectrogram pooled into ``n_bands`` log-spaced bands between ``fmin`` and
    Nyquist; frames of 2/rate s every 1/rate s (Hann window), times at their centres."""
    from scipy.signal import stft

    hop = max(1, round(sr / rate))
    f, t, z = stft(x, fs=sr, nperseg=2 * hop, noverlap=hop, boundary=None, padded=False)
    power = np.abs(z) ** 2  # (freqs, frames)
    edges = np.geomspace(fmin, sr / 2, n_bands + 1)
    band = np.clip(np.searchsorted(edges, f, side="right") - 1, -1, n_bands)
    out = np.zeros((n_bands, power.shape[1]))
    for b in range(n_bands):
        sel = band == b
        if sel.any():
            out[b] = power[sel].mean(axis=0)
    return np.log(out.T + 1e-10), t


@register(ACOUSTIC_FEATURES)
def onsets(x: np.ndarray, sr: float, rate: float, **_: Any) -> tuple[np.ndarray, np.ndarray]:
    """Acoustic edges: the half-wave rectified rise of the log envelope from frame to frame."""
    env, t = envelope(x, sr, rate)
    rise = np.diff(np.log(env[:, 0] + 1e-8), prepend=np.log(env[0, 0] + 1e-8))
    return np.maximum(rise, 0.0)[:, None], t


def acoustic_features(
    audio: TimedSignals, feature: str = "envelope", rate: float = 100.0, **options: Any
) -> TimeSeries:
    """Simple acoustic features of each run at ``rate`` frames/s (see :data:`ACOUSTIC_FEATURES`:
    ``envelope``, ``spectrogram`` (``n_bands``, ``fmin``), ``onsets``).

    Returns
    -------
    TimeSeries (n_frames, n_features), times at frame centres.

    Examples
    --------
    >>> sr = 1000.0; t = np.arange(2000) / sr
    >>> audio = TimedSignals({"r": np.sin(2 * np.pi * 50 * t) * (t < 1)}, rate=sr)
    >>> env = acoustic_features(audio, "envelope", rate=10.0)
    >>> env.data[[2, 17], 0].round(2).tolist()
    [1.0, 0.0]
    """
    if not isinstance(audio, TimedSignals) or audio.kind != "audio":
        raise ValidationError(f"audio must be TimedSignals of kind 'audio'; got {audio!r}.")
    fn = ACOUSTIC_FEATURES.get(feature)
    if fn is None:
        raise ConfigurationError(
            f"feature={feature!r} is not an acoustic feature; choose from {sorted(ACOUSTIC_FEATURES)}."
        )
    if not rate or rate <= 0 or rate > audio.rate / 2:
        raise ValidationError(
            f"rate must be positive and at most half the audio rate ({audio.rate / 2} Hz); got {rate!r}."
        )
    data, runs, times = [], [], []
    for r in audio.run_ids:
        x = np.asarray(audio[r], dtype=np.float64)
        x = x.mean(axis=1) if x.ndim == 2 else x
        vals, t = fn(x, audio.rate, rate, **options)
        data.append(vals)
        times.append(t + audio.starts[r])  # type: ignore[index]
        runs += [r] * len(t)
    return TimeSeries(
        np.concatenate(data).astype(np.float32),
        np.asarray(runs),
        np.concatenate(times),
        name=feature,
        meta={"feature": feature, "rate": rate},
    )


def event_rate(events: TimedEvents) -> TimeSeries:
    """Word rate / phoneme rate as a feature on the stimulus clock: 1 at each event's onset.

    Resampled to TRs with ``encode.resample(..., "lanczos")`` it becomes the number of events per
    TR (as in Huth et al. 2016); with ``"box"`` the fraction of events.
    """
    if not isinstance(events, TimedEvents):
        raise ValidationError(f"events must be a TimedEvents; got {type(events).__name__}.")
    return TimeSeries(
        np.ones((len(events), 1), np.float32),
        events.runs,
        events.onsets,
        name=f"{events.kind}_rate",
    )
