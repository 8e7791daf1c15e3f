"""Cluster-based permutation statistics over time (1-D) and over train × test time (2-D).

Two tests share one cluster machinery (:func:`find_clusters` labels contiguous supra-threshold
samples, face-connected in 2-D; a cluster's mass is the sum of the statistic above chance inside
it; the family-wise null is the largest cluster mass of each permutation, Maris & Oostenveld 2007):

- within one subject, :func:`permutation_cluster_test` takes observed scores and the scores of the
  same decoder after label permutations; the cluster-forming threshold at each sample is the
  ``1 − cluster_alpha`` quantile of its own null (Stelzer et al. 2013);
- across subjects, :func:`cluster_test_subjects` tests ``score − chance`` with a one-sample t
  statistic and random sign flips (exact enumeration when ``2^n_subjects`` is small).
"""

from __future__ import annotations

from typing import Any

import numpy as np
from scipy import ndimage, stats

from ..core._validation import check_array
from ..core.exceptions import ValidationError
from ._checks import check_counts

__all__ = ["cluster_test_subjects", "find_clusters", "permutation_cluster_test"]


def find_clusters(mask: np.ndarray) -> tuple[np.ndarray, int]:
    """Label contiguous ``True`` samples of a 1-D or 2-D mask: ``(labels, n_clusters)``, 0 = none."""
    labels, n = ndimage.label(mask)
    return labels, int(n)


def _masses(stat: np.ndarray, mask: np.ndarray) -> np.ndarray:
    labels, n = find_clusters(mask)
    if n == 0:
        return np.zeros(0)
    return np.asarray(ndimage.sum_labels(stat, labels, index=np.arange(1, n + 1)))


def _max_mass(stat: np.ndarray, mask: np.ndarray) -> float:
    m = _masses(stat, mask)
    return float(m.max()) if m.size else 0.0


def permutation_cluster_test(
    observed: Any, null: Any, chance: float, cluster_alpha: float = 0.05
) -> dict[str, np.ndarray]:
    """Cluster test of decoding scores against label-permutation nulls (one subject).

    Parameters
    ----------
    observed : array (n_times,) or (n_train_times, n_times)
    null : array (n_permutations, *observed.shape)
        The same scores after permuting the labels.
    chance : float
        The scoring's chance level (reported with the result; cluster masses are measured from
        the permutation null's mean at each sample, which is where chance lies for the decoder
        and the class counts actually used).
    cluster_alpha : float
        Pointwise level that forms clusters.

    Returns
    -------
    dict with ``labels`` (cluster id per sample, 0 outside clusters), ``masses`` and ``p_values``
    (one per cluster: the fraction of the ``1 + n_permutations`` labellings, the observed one
    included, whose largest cluster mass reaches ``mass``), ``pointwise_p`` and ``threshold``
    (per sample, the ``1 − cluster_alpha`` quantile over all labellings).
    """
    check_counts(cluster_alpha=cluster_alpha)
    observed = np.asarray(observed, float)
    null = np.asarray(null, float)
    if null.ndim != observed.ndim + 1 or null.shape[1:] != observed.shape or len(null) < 1:
        raise ValidationError(
            f"null must have shape (n_permutations, *{observed.shape}); got {null.shape}."
        )
    # The observed labelling is one of 1 + P exchangeable labellings and every one is treated
    # alike: thresholds come from all of them (a labelling left out of its own threshold would be
    # favoured), and p counts the observed maximum as part of the null.
    everything = np.concatenate([observed[None], null])
    threshold = np.quantile(everything, 1 - cluster_alpha, axis=0)
    pointwise = (everything >= observed - 1e-12).sum(0) / len(everything)
    mask = observed > threshold
    labels, _ = find_clusters(mask)
    # masses from the null's own mean at each sample, not from ``chance``: a class-balanced
    # decoder's label-permutation null sits below the majority-class rate (75/25 classes: null
    # accuracy 0.53 against "chance" 0.75), so masses from chance came out negative and no
    # cluster could be found however strong the decoding
    centre = everything.mean(0)
    masses = _masses(observed - centre, mask)
    max_null = np.array([_max_mass(z - centre, z > threshold) for z in everything])
    p = (max_null[:, None] >= masses[None, :] - 1e-12).sum(0) / len(everything)
    return {
        "labels": labels,
        "masses": masses,
        "p_values": p,
        "pointwise_p": pointwise,
        "threshold": threshold,
        "null_max_mass": max_null,
    }


def cluster_test_subjects(
    scores: Any,
    chance: float,
    *,
    n_permutations: int = 1000,
    cluster_alpha: float = 0.05,
    seed: int = 0,
) -> dict[str, np.ndarray]:
    """One-sided group-level cluster test of decoding scores above chance (sign flips).

    Parameters
    ----------
    scores : array (n_subjects, n_times) or (n_subjects, n_train_times, n_times)
    chance : float
    n_permutations : int
        Random sign flips (the identity included); when ``2^n_subjects <= n_permutations`` every
        flip is enumerated.
    cluster_alpha : float
        Clusters are formed where ``t > t_{1−cluster_alpha, n_subjects−1}``.
    seed : int

    Returns
    -------
    dict with ``t`` (observed t per sample), ``labels``, ``masses`` (sum of t in each cluster),
    ``p_values`` and ``threshold``.
    """
    check_counts(n_permutations, cluster_alpha=cluster_alpha)
    x = check_array(scores, "scores", ndim=(2, 3)) - chance
    n = len(x)
    if n < 3:
        raise ValidationError(f"scores has {n} subject(s); a group test needs at least 3.")
    if n <= 20 and 2**n <= n_permutations:
        signs = 1 - 2 * ((np.arange(2**n)[:, None] >> np.arange(n)) & 1)
    else:
        rng = np.random.default_rng(seed)
        signs = rng.choice([-1, 1], size=(n_permutations, n))
        signs[0] = 1
    threshold = float(stats.t.ppf(1 - cluster_alpha, n - 1))

    def tstat(s: np.ndarray) -> np.ndarray:
        xs = np.tensordot(s, x, axes=(-1, 0)) if s.ndim == 2 else x
        xx = np.tensordot(s * s, x * x, axes=(-1, 0)) if s.ndim == 2 else x * x
        mean = xs / n
        var = (xx - n * mean**2) / (n - 1)
        return mean / np.sqrt(np.maximum(var, 1e-300) / n)

    t_obs = tstat(np.ones((1, n)))[0]
    t_null = tstat(signs.astype(float))
    mask = t_obs > threshold
    labels, _ = find_clusters(mask)
    masses = _masses(t_obs, mask)
    max_null = np.array([_max_mass(t, t > threshold) for t in t_null])
    # the identity flip is part of the null (row 0 or the enumeration), so p = #{>=} / n_flips
    p = (max_null[:, None] >= masses[None, :] - 1e-12).sum(0) / len(t_null)
    return {"t": t_obs, "labels": labels, "masses": masses, "p_values": p, "threshold": threshold}
