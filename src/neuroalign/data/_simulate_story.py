"""``make_story_experiment``: a simulated story-listening fMRI experiment with known answers.

Words arrive at random times (a Poisson-like stream, ``words_per_second`` on average) in each
run; every word has a feature vector in each of ``n_layers`` "language-model layers" (adjacent
layers correlated by ``layer_correlation``, as in real networks). Each voxel is driven by one
planted layer through its own linear weights; the drive (the sum of the words' features in
bins of ``1 / fine_rate`` s) is convolved with a gamma haemodynamic response peaking at the
voxel's planted delay (a whole number of TRs), read out at each TR and mixed with Gaussian noise
of a known level. So the best layer and the best FIR delay of every voxel are known.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from types import MappingProxyType

import numpy as np
import pandas as pd
from scipy.signal import fftconvolve

from ..core import TimedEvents, TimeSeries
from ..core._validation import check_positive
from ..core.exceptions import ValidationError

__all__ = ["StoryExperiment", "make_story_experiment"]


@dataclass(frozen=True, eq=False)
class StoryExperiment:
    """What :func:`make_story_experiment` returns.

    Attributes
    ----------
    events : TimedEvents
        The words with their onsets and offsets, one run per story.
    features : mapping layer → TimeSeries (n_words, n_features)
        Each layer's features per word, at the word's onset (the stimulus clock).
    responses : TimeSeries (n_runs × n_trs, n_targets)
        BOLD per TR (times: TR onsets); ``targets`` has ``layer``, ``delay`` (TRs) and ``snr``.
    layer : array (n_targets,) of int
        The planted layer of each voxel (index into ``layer_names``).
    delay : array (n_targets,) of int
        The planted haemodynamic peak of each voxel, in TRs.
    layer_names : tuple of str
    tr : float
    """

    events: TimedEvents
    features: Mapping[str, TimeSeries]
    responses: TimeSeries
    layer: np.ndarray
    delay: np.ndarray
    layer_names: tuple[str, ...]
    tr: float


def _gamma_hrf(t: np.ndarray, peak: float, shape: float) -> np.ndarray:
    """Gamma density with its mode at ``peak`` seconds (scale = peak / (shape − 1)), unit sum."""
    scale = peak / (shape - 1.0)
    h = np.where(t > 0, t ** (shape - 1.0) * np.exp(-np.maximum(t, 0) / scale), 0.0)
    return h / h.sum()


def make_story_experiment(
    n_runs: int = 4,
    n_trs: int = 150,
    n_targets: int = 200,
    n_layers: int = 4,
    n_features: int = 16,
    *,
    tr: float = 2.0,
    words_per_second: float = 2.5,
    delays: Sequence[int] = (2, 3, 4),
    layer_correlation: float = 0.5,
    snr: float = 1.0,
    hrf_shape: float = 12.0,
    fine_rate: float = 10.0,
    seed: int = 0,
) -> StoryExperiment:
    """Simulate a story-listening fMRI experiment with known layer tuning and delays.

    Parameters
    ----------
    n_runs, n_trs : int
        Stories and TRs per story.
    n_targets : int
        Voxels, spread evenly over the layers and delays (shuffled).
    n_layers, n_features : int
        Feature spaces ("layers") and features per layer.
    tr : float
        Seconds per TR.
    words_per_second : float
        Mean word rate; gaps between onsets are exponential (at least 0.1 s).
    delays : sequence of int
        Haemodynamic peaks to plant, in TRs.
    layer_correlation : float
        Correlation between the features of adjacent layers (0 ≤ ρ < 1).
    snr : float
        Standard deviation of the signal over that of the noise, per voxel.
    hrf_shape : float
        Shape of the gamma HRF (larger: narrower around its peak).
    fine_rate : float
        Rate (Hz) at which the word drive is binned and convolved before sampling at TRs.
    seed : int

    Returns
    -------
    StoryExperiment

    Examples
    --------
    >>> exp = make_story_experiment(n_runs=2, n_trs=40, n_targets=6, seed=0)
    >>> exp.responses.data.shape, exp.layer_names[:2], sorted(set(exp.delay.tolist()))
    ((80, 6), ('layer0', 'layer1'), [2, 3, 4])
    """
    for name, v in (("n_runs", n_runs), ("n_trs", n_trs), ("n_targets", n_targets)):
        if isinstance(v, bool) or not isinstance(v, int) or v < 1:
            raise ValidationError(f"{name} must be a positive integer; got {v!r}.")
    if n_layers < 1 or n_features < 1:
        raise ValidationError(
            f"n_layers and n_features must be >= 1; got {n_layers}, {n_features}."
        )
    check_positive(tr, "tr")
    check_positive(words_per_second, "words_per_second")
    check_positive(snr, "snr")
    if not 0 <= layer_correlation < 1:
        raise ValidationError(f"layer_correlation must be in [0, 1); got {layer_correlation}.")
    delays = [int(d) for d in delays]
    if not delays or min(delays) < 1:
        raise ValidationError(f"delays must be positive numbers of TRs; got {delays}.")
    rng = np.random.default_rng(seed)
    names = tuple(f"layer{i}" for i in range(n_layers))
    layer = np.resize(np.arange(n_layers), n_targets)
    delay = np.resize(delays, n_targets)
    perm = rng.permutation(n_targets)
    layer, delay = layer[perm], np.asarray(delay)[rng.permutation(n_targets)]
    weights = rng.normal(size=(n_features, n_targets)) / np.sqrt(n_features)

    duration = n_trs * tr
    run_ids = [f"story{r + 1}" for r in range(n_runs)]
    fine_t = np.arange(round(duration * fine_rate)) / fine_rate
    hrf = {
        d: _gamma_hrf(np.arange(0, 3 * max(delays) * tr, 1 / fine_rate), d * tr, hrf_shape)
        for d in delays
    }
    tr_index = np.round(np.arange(n_trs) * tr * fine_rate).astype(int)
    ev_runs, onsets, feats = [], [], {n: [] for n in names}
    bold = []
    for run in run_ids:
        gaps = np.maximum(
            rng.exponential(1 / words_per_second, size=int(duration * words_per_second * 2) + 10),
            0.1,
        )
        t = 0.25 + np.cumsum(gaps) - gaps[0]
        t = t[t < duration - 0.5]
        n_words = len(t)
        prev = rng.normal(size=(n_words, n_features))
        per_layer = []
        for i in range(n_layers):
            if i:
                prev = layer_correlation * prev + np.sqrt(1 - layer_correlation**2) * rng.normal(
                    size=(n_words, n_features)
                )
            per_layer.append(prev.astype(np.float32))
            feats[names[i]].append(per_layer[-1])
        bins = np.minimum((t * fine_rate).astype(int), len(fine_t) - 1)
        y = np.zeros((n_trs, n_targets))
        for i in range(n_layers):
            drive = np.zeros((len(fine_t), n_features))
            np.add.at(drive, bins, per_layer[i])
            for d in delays:
                cols = np.flatnonzero((layer == i) & (delay == d))
                if cols.size == 0:
                    continue
                conv = fftconvolve(drive, hrf[d][:, None], axes=0)[: len(fine_t)]
                y[:, cols] = conv[tr_index] @ weights[:, cols]
        bold.append(y)
        ev_runs += [run] * n_words
        onsets.append(t)
    signal = np.concatenate(bold)
    signal /= signal.std(axis=0, keepdims=True)
    data = signal + rng.normal(size=signal.shape) / snr
    onsets_all = np.concatenate(onsets)
    events = TimedEvents(
        ev_runs,
        onsets_all,
        onsets_all + 0.2,
        [f"w{i % 997}" for i in range(len(onsets_all))],
        "words",
        {r: duration for r in run_ids},
    )
    features = {
        n: TimeSeries(np.concatenate(feats[n]), events.runs, events.onsets, name=n) for n in names
    }
    targets = pd.DataFrame(
        {
            "target": [f"v{i}" for i in range(n_targets)],
            "layer": [names[i] for i in layer],
            "delay": delay,
            "snr": snr,
        }
    )
    responses = TimeSeries(
        data.astype(np.float32),
        np.repeat(run_ids, n_trs),
        np.tile(np.arange(n_trs) * tr, n_runs),
        targets=targets,
        name="bold",
        meta={"tr": tr},
    )
    return StoryExperiment(
        events, MappingProxyType(features), responses, layer, np.asarray(delay), names, float(tr)
    )
