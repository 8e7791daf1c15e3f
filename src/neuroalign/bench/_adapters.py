"""The few calls bench makes into encode / compare whose result shapes are being reworked.

Kept in one file so that a change of those APIs (``RSAResult`` → ``Result``, estimator scoring
defaults) is followed here and nowhere else. Each function returns plain numbers.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd

from ..core import RDMs

__all__ = ["fit_ridge", "rsa_with_intervals"]


def rsa_with_intervals(
    model: np.ndarray, brain: RDMs, method: str, n_boot: int, over: str, seed: int
) -> dict[str, Any]:
    """``compare.bootstrap_rsa`` of one condensed model RDM with the brain RDMs: value, interval,
    SE and ceilings as a dict of schema columns (``n_boot=0``: no interval)."""
    from ..compare import bootstrap_rsa, compare_rdms, rdm_noise_ceiling

    d = np.asarray(brain.dissimilarities)
    if n_boot <= 0:
        low, high = rdm_noise_ceiling(d, method) if d.shape[0] > 1 else (np.nan, np.nan)
        return {
            "value": float(np.mean(compare_rdms(model, d, method))),
            "ceiling_low": float(low),
            "ceiling_high": float(high),
            "resampled": "none",
        }
    models = RDMs(model[None], brain.stimulus_ids, pd.DataFrame({"layer": ["layer"]}))
    res = bootstrap_rsa(models, brain, method=method, n_boot=n_boot, over=over, seed=seed)  # type: ignore[arg-type]
    row = res.table.iloc[0]  # RSAResult.table today; Result.table after the schema change
    return {
        "value": float(row["value"]),
        "ci_low": float(row["ci_low"]),
        "ci_high": float(row["ci_high"]),
        "se": float(row["se"]),
        "ceiling_low": float(row["ceiling_low"]),
        "ceiling_high": float(row["ceiling_high"]),
        "resampled": over,
    }


def fit_ridge(
    X: np.ndarray, Y: np.ndarray, alphas: Any, cv: int, device: str | None
) -> tuple[np.ndarray, Callable[[np.ndarray], np.ndarray]]:
    """Fit ``encode.RidgeEncoder`` (α per target by ``cv``-fold CV on Pearson r) and return the
    per-target CV score at the chosen α and the predict function."""
    from ..encode import DEFAULT_ALPHAS, RidgeEncoder

    enc = RidgeEncoder(
        alphas=DEFAULT_ALPHAS if alphas is None else np.asarray(alphas, dtype=float),
        cv=cv,
        scoring="pearson_score",
        device=device,
    ).fit(X, Y)
    return np.asarray(enc.best_cv_scores_), enc.predict
