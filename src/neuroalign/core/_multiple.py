"""Multiple-comparison correction shared by the encoding and comparison engines."""

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = ["fdr_correction", "permutation_p_values"]


def fdr_correction(p_values: Any, alpha: float = 0.05) -> tuple[np.ndarray, np.ndarray]:
    """Benjamini–Hochberg false-discovery-rate correction across targets.

    Returns ``(rejected, q_values)``: which targets are significant at FDR ``alpha`` and their
    adjusted p-values (NaN p-values stay NaN and are never rejected).

    Examples
    --------
    >>> fdr_correction([0.001, 0.02, 0.03, 0.5])[1].round(3)
    array([0.004, 0.04 , 0.04 , 0.5  ])
    """
    p = np.asarray(p_values, dtype=float)
    q = np.full(p.shape, np.nan)
    ok = np.isfinite(p)
    pv = p[ok]
    if pv.size:
        order = np.argsort(pv)
        ranked = pv[order] * pv.size / np.arange(1, pv.size + 1)
        ranked = np.minimum.accumulate(ranked[::-1])[::-1]
        out = np.empty_like(pv)
        out[order] = np.minimum(ranked, 1.0)
        q[ok] = out
    return np.where(ok, q <= alpha, False), q


def permutation_p_values(null: Any, observed: Any) -> np.ndarray:
    """``(1 + #{null ≥ observed}) / (1 + n_permutations)`` per statistic: the observed labelling
    counts as one of the null's, so p is never 0. Ties count: a permutation that reproduces the
    observed value up to rounding (1e-12 relative, at least 1e-12) is not below it — a
    categorical model RDM's relabellings fell ~1e-17 short and were dropped. NaN where the
    observed statistic is not finite (a constant column has no test).

    ``null`` is ``(n_permutations, *observed.shape)``."""
    null = np.asarray(null, dtype=float)
    obs = np.asarray(observed, dtype=float)
    tol = 1e-12 * np.maximum(1.0, np.abs(np.nan_to_num(obs)))
    p = (1 + (null >= obs - tol).sum(0)) / (1 + len(null))
    return np.where(np.isfinite(obs), p, np.nan)
