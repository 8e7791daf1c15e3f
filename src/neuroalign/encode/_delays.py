"""Temporal delays (FIR) for time-series encoding: stimulus features at several lags."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from ..core._validation import check_array, check_same_length
from ..core.exceptions import ValidationError

__all__ = ["make_delays"]


def make_delays(X: Any, delays: Sequence[int] = (1, 2, 3, 4), groups: Any = None) -> np.ndarray:
    """Stack copies of ``X`` shifted by each delay (samples), zero-filled, runs kept apart.

    Row ``i`` of the copy for delay ``d`` holds ``X[i - d]`` (the stimulus ``d`` samples earlier;
    negative delays look ahead), or 0 when that sample is before the start of ``i``'s run.
    This is the finite-impulse-response model of the haemodynamic (or neural) delay.

    Parameters
    ----------
    X : array (n_samples, n_features)
    delays : sequence of int
        Lags in samples, e.g. (1, 2, 3, 4) TRs for fMRI.
    groups : array (n_samples,), optional
        Run label of each sample; shifted values never cross from one run into another.

    Returns
    -------
    array (n_samples, n_features × n_delays), delays in the given order, features fastest.

    Examples
    --------
    >>> make_delays(np.arange(5.0)[:, None], delays=(0, 1), groups=[0, 0, 0, 1, 1]).T
    array([[0., 1., 2., 3., 4.],
           [0., 0., 1., 0., 3.]])
    """
    X = check_array(X, "X", ndim=2)
    n = X.shape[0]
    delays = [int(d) for d in delays]
    if not delays:
        raise ValidationError("delays is empty; give at least one lag (e.g. (1, 2, 3, 4)).")
    if max(abs(d) for d in delays) >= n:
        raise ValidationError(f"delays {delays} reach beyond the {n} samples of X.")
    g = np.zeros(n, dtype=int) if groups is None else np.asarray(groups)
    check_same_length("X rows", n, "groups", len(g))
    out = np.zeros((n, X.shape[1] * len(delays)), dtype=X.dtype)
    idx = np.arange(n)
    for k, d in enumerate(delays):
        src = idx - d
        valid = (src >= 0) & (src < n)
        valid[valid] &= g[src[valid]] == g[valid]
        out[valid, k * X.shape[1] : (k + 1) * X.shape[1]] = X[src[valid]]
    return out
