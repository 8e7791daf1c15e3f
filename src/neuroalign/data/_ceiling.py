"""Noise ceilings from repeated measurements.

The ceiling of a target is the highest Pearson correlation any model can expect with the
repetition-averaged response, given the measurement noise:

    ceiling = sqrt(reliability),   reliability = var(signal) / (var(signal) + var(noise) / n_reps)

The reliability of the ``n_reps``-average is estimated by split-half correlation: the repetitions
are split into two halves, each half averaged, the halves correlated across stimuli (r_half), and
the Spearman–Brown formula projects to the full number of repetitions,
``reliability = 2 r_half / (1 + r_half)``. r_half is averaged over splits (every split when there
are few repetitions, ``n_splits`` random ones otherwise).
"""

from __future__ import annotations

import itertools
import warnings

import numpy as np

from ..core import Responses
from ..core._validation import check_array
from ..core.exceptions import ValidationError
from ..core.metrics import pearson_score

__all__ = ["compute_noise_ceiling", "split_half_reliability"]


def _splits(n_reps: int, n_splits: int, rng: np.random.Generator) -> list[np.ndarray]:
    half = n_reps // 2
    combos = itertools.combinations(range(n_reps), half)
    n_all = int(np.prod(range(n_reps - half + 1, n_reps + 1)) // np.prod(range(1, half + 1)))
    if n_all <= 2 * n_splits:
        seen, out = set(), []
        for c in combos:  # every split once (a split and its complement are the same split)
            comp = tuple(sorted(set(range(n_reps)) - set(c)))
            if n_reps % 2 == 0 and comp in seen:
                continue
            seen.add(c)
            out.append(np.array(c))
        return out
    return [np.sort(rng.permutation(n_reps)[:half]) for _ in range(n_splits)]


def split_half_reliability(
    repetitions: np.ndarray | Responses, n_splits: int = 20, seed: int = 0
) -> np.ndarray:
    """Spearman–Brown-corrected split-half reliability of the repetition average, per target.

    Parameters
    ----------
    repetitions : array of shape (n_reps, n_stimuli, n_targets[, n_times]) or Responses
        Single-trial responses; NaN marks a missing repetition (averages use those present).
    n_splits : int
        Number of random splits when there are too many to use them all.
    seed : int
        Seed of the random splits.

    Returns
    -------
    array of shape (n_targets,) or (n_targets, n_times)
        Reliability in (-inf, 1]; negative values mean no reliable signal.

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> signal = rng.normal(size=(500, 1))
    >>> reps = signal + rng.normal(size=(4, 500, 1))      # noise variance 1, 4 repetitions
    >>> float(split_half_reliability(reps)[0].round(1))     # truth: 1 / (1 + 1/4) = 0.8
    0.8
    """
    if isinstance(repetitions, Responses):
        if repetitions.repetitions is None:
            raise ValidationError(
                f"Responses {repetitions.name!r} has no repetitions; a noise ceiling needs "
                "single-trial data (repetitions of shape (n_reps, n_stimuli, n_targets))."
            )
        repetitions = repetitions.repetitions
    reps = check_array(repetitions, "repetitions", ndim=(3, 4), allow_nan=True)
    if reps.shape[0] < 2:
        raise ValidationError(
            f"split-half reliability needs >= 2 repetitions; got {reps.shape[0]}."
        )
    rng = np.random.default_rng(seed)
    splits = _splits(reps.shape[0], n_splits, rng)
    r_sum = np.zeros(reps.shape[2:])
    all_idx = np.arange(reps.shape[0])
    for a in splits:
        b = np.setdiff1d(all_idx, a)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            mean_a, mean_b = np.nanmean(reps[a], axis=0), np.nanmean(reps[b], axis=0)
        ok = np.isfinite(mean_a).all(axis=tuple(range(1, mean_a.ndim))) & np.isfinite(mean_b).all(
            axis=tuple(range(1, mean_b.ndim))
        )
        r_sum += pearson_score(mean_a[ok], mean_b[ok])
    r_half = r_sum / len(splits)
    return 2 * r_half / (1 + r_half)


def compute_noise_ceiling(
    responses: np.ndarray | Responses, n_splits: int = 20, seed: int = 0
) -> np.ndarray:
    """Per-target noise ceiling for Pearson r: ``sqrt(max(reliability, 0))`` (see module docs).

    Parameters
    ----------
    responses : Responses with repetitions, or array (n_reps, n_stimuli, n_targets[, n_times])
    n_splits, seed : see :func:`split_half_reliability`.

    Returns
    -------
    array of shape (n_targets,) or (n_targets, n_times), values in [0, 1].
    """
    rel = split_half_reliability(responses, n_splits=n_splits, seed=seed)
    return np.sqrt(np.clip(rel, 0.0, 1.0))
