"""Multiple-comparison correction shared by the encoding and comparison engines."""

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = ["fdr_correction"]


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
