"""Noise ceilings from repeated measurements.

The ceiling of a target is the highest Pearson correlation any model can expect with the
repetition-averaged response, given the measurement noise:

    ceiling = sqrt(reliability),   reliability = var(signal) / (var(signal) + var(noise) / n_reps)

The reliability of the ``n_reps``-average is estimated by split-half correlation: the repetitions
are split into two halves, each half averaged, the halves correlated across stimuli (r_half), and
the Spearman–Brown formula projects to the full number of repetitions,
``reliability = 2 r_half / (1 + r_half)``. r_half is averaged over splits (every split when there
are few repetitions, ``n_splits`` random ones otherwise).

NSD's noise-ceiling signal-to-noise ratio (Allen et al. 2022, Nature Neuroscience, Methods
"Noise ceiling") estimates the same quantity from the variance across repetitions:

    noise_var  = mean over stimuli of the across-repetition variance (ddof=1),
    signal_var = max(total variance of the trials − noise_var, 0),
    ncsnr      = sqrt(signal_var) / sqrt(noise_var),
    NC(n)      = ncsnr² / (ncsnr² + 1/n)        (fraction of variance; NSD reports 100 × NC)

for responses averaged over ``n`` repetitions; with a different number of repetitions per stimulus,
``1/n`` is the mean of ``1/n_i`` over stimuli. ``NC`` is a ceiling on R² (variance explained);
the matching ceiling on Pearson r is ``sqrt(NC)``. NSD z-scores the betas of each session first
(so the total variance is 1); do that before calling when sessions differ in scale.

RDM noise ceilings (lower and upper bounds on an RDM similarity, as rsatoolbox defines them) live
with the RSA engine: :func:`neuroalign.compare.rdm_noise_ceiling`.
"""

from __future__ import annotations

import itertools
import warnings

import numpy as np

from ..core import Responses
from ..core._validation import check_array
from ..core.exceptions import ValidationError
from ..core.metrics import pearson_score

__all__ = [
    "compute_ncsnr",
    "compute_noise_ceiling",
    "ncsnr_noise_ceiling",
    "split_half_reliability",
]


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
        With unequal counts the correction goes from the halves' mean ``1/count`` to the full
        average's, ``mean(1/n_i)`` over every stimulus (equal counts: ``2r / (1 + r)``).
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
    # repetitions present per stimulus (a repetition is missing for a whole stimulus)
    present = np.isfinite(reps).all(axis=tuple(range(2, reps.ndim)))  # (n_reps, n_stimuli)
    inv_half = 0.0  # mean over the scored stimuli of the halves' 1/count
    for a in splits:
        b = np.setdiff1d(all_idx, a)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            mean_a, mean_b = np.nanmean(reps[a], axis=0), np.nanmean(reps[b], axis=0)
        ok = np.isfinite(mean_a).all(axis=tuple(range(1, mean_a.ndim))) & np.isfinite(mean_b).all(
            axis=tuple(range(1, mean_b.ndim))
        )
        r_sum += pearson_score(mean_a[ok], mean_b[ok])
        n_a, n_b = present[a][:, ok].sum(0), present[b][:, ok].sum(0)
        inv_half += float(np.mean(0.5 / np.maximum(n_a, 1) + 0.5 / np.maximum(n_b, 1)))
    r_half = r_sum / len(splits)
    # Spearman–Brown from the halves' average count to the full data's, as 1/count averaged
    # over stimuli (the noise variance of a mean of n repetitions is σ²/n): with r_half =
    # σs² / (σs² + σe²·h), h the halves' mean 1/count, the full average's reliability is
    # r / (r + (1 − r)·k) with k = mean(1/n_i) / h. Equal counts: k = 1/2, 2r / (1 + r). With
    # unequal ones the halves only see stimuli repeated at least twice, and the plain formula
    # overstated the reliability of data where most stimuli were seen once (0.81 for 0.72).
    n_i = present.sum(0)
    k = float(np.mean(1.0 / n_i[n_i > 0])) / (inv_half / len(splits))
    return r_half / (r_half + (1 - r_half) * k)


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


def _reps_of(repetitions: np.ndarray | Responses) -> np.ndarray:
    if isinstance(repetitions, Responses):
        if repetitions.repetitions is None:
            raise ValidationError(
                f"Responses {repetitions.name!r} has no repetitions; ncsnr needs single trials."
            )
        repetitions = repetitions.repetitions
    return check_array(repetitions, "repetitions", ndim=(3, 4), allow_nan=True)


def compute_ncsnr(repetitions: np.ndarray | Responses) -> np.ndarray:
    """NSD's noise-ceiling SNR per target (see the module docs for the formula).

    Parameters
    ----------
    repetitions : array (n_reps, n_stimuli, n_targets[, n_times]) or Responses
        NaN marks missing repetitions; stimuli with fewer than 2 repetitions do not enter the
        noise estimate (they still enter the total variance).

    Returns
    -------
    array (n_targets[, n_times]), values >= 0

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> reps = rng.normal(size=(2000, 1)) * 0.5 + rng.normal(size=(3, 2000, 1))  # SNR 0.5
    >>> float(compute_ncsnr(reps)[0].round(1))
    0.5
    """
    reps = _reps_of(repetitions)
    present = np.isfinite(reps).all(axis=tuple(range(2, reps.ndim)))  # (n_reps, n_stimuli)
    n_per = present.sum(axis=0)
    multi = n_per >= 2
    if not multi.any():
        raise ValidationError("ncsnr needs at least one stimulus with >= 2 repetitions; got none.")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        noise_var = np.nanmean(np.nanvar(reps[:, multi], axis=0, ddof=1), axis=0)
        total_var = np.nanvar(reps.reshape(-1, *reps.shape[2:]), axis=0, ddof=1)
    signal_var = np.clip(total_var - noise_var, 0.0, None)
    with np.errstate(divide="ignore", invalid="ignore"):
        out = np.sqrt(signal_var) / np.sqrt(noise_var)
    # no noise: infinite SNR if the stimuli differ, undefined (NaN) for a constant target — a
    # constant voxel is not a perfectly reliable one (split-half reliability is NaN for it too)
    return np.where(noise_var > 0, out, np.where(signal_var > 0, np.inf, np.nan))


def ncsnr_noise_ceiling(ncsnr: np.ndarray | float, n_avg: int | np.ndarray = 1) -> np.ndarray:
    """Fraction of variance explainable in responses averaged over ``n_avg`` repetitions (NSD).

    Parameters
    ----------
    ncsnr : array or float
        From :func:`compute_ncsnr` (or NSD's ``ncsnr`` files).
    n_avg : int or array of int (n_stimuli,)
        Repetitions averaged per stimulus; with an array, ``1/n`` is averaged over stimuli.

    Returns
    -------
    array like ``ncsnr``: ``ncsnr² / (ncsnr² + mean(1/n_avg))`` in [0, 1] (× 100 = NSD's %).

    Examples
    --------
    >>> float(ncsnr_noise_ceiling(1.0, n_avg=3))   # 1 / (1 + 1/3)
    0.75
    """
    n = np.atleast_1d(np.asarray(n_avg, dtype=float))
    if (n < 1).any():
        raise ValidationError(f"n_avg must be >= 1; got {np.asarray(n_avg)}.")
    inv = float(np.mean(1.0 / n))
    snr2 = np.square(np.asarray(ncsnr, dtype=float))
    return np.where(np.isinf(snr2), 1.0, snr2 / (snr2 + inv))
