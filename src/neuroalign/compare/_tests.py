"""Inference on RSA results: pairwise model comparisons, tests against the noise ceiling, and
stimulus-permutation tests of an RSA value."""

from __future__ import annotations

from itertools import combinations

import numpy as np
import pandas as pd

from ..core import RDMs, fdr_correction
from ..core._rdms import condensed_index
from ..core._registry import lookup
from ..core.exceptions import ValidationError
from ._inference import RSAResult
from ._similarity import SIMILARITIES, check_same_stimuli

__all__ = ["compare_models", "rsa_permutation_test"]


def _two_sided_p(diff_samples: np.ndarray) -> float:
    """Bootstrap p-value of "difference = 0": twice the smaller tail, with the +1 correction."""
    d = diff_samples[np.isfinite(diff_samples)]
    if d.size == 0:
        return float("nan")
    tail = min((d <= 0).sum(), (d >= 0).sum())
    return float(min(1.0, 2 * (tail + 1) / (d.size + 1)))


def compare_models(result: RSAResult, label: str | None = None, ci: float = 0.95) -> pd.DataFrame:
    """Pairwise model comparisons and comparisons with the lower noise ceiling, from the bootstrap.

    For every pair of models (and every model against the lower bound of the noise ceiling) the
    difference of their values is computed on each bootstrap sample; the table reports the
    difference, its percentile interval, a two-sided bootstrap p-value and the Benjamini–Hochberg
    q-value across all comparisons in the table.

    Parameters
    ----------
    result : RSAResult
        From :func:`bootstrap_rsa`.
    label : str, optional
        Descriptor column naming the models (default: the first descriptor column).
    ci : float
        Interval coverage.
    """
    samples = result.samples
    table = result.table
    label = label or str(table.columns[0])
    names = table[label].astype(str).tolist()
    alpha = (1 - ci) / 2
    rows = []

    def add(a: str, b: str, diff: np.ndarray, point: float) -> None:
        rows.append(
            {
                "model_a": a,
                "model_b": b,
                "difference": point,
                "ci_low": float(np.nanquantile(diff, alpha)),
                "ci_high": float(np.nanquantile(diff, 1 - alpha)),
                "p_value": _two_sided_p(diff),
            }
        )

    values = table["value"].to_numpy()
    for i, j in combinations(range(len(names)), 2):
        add(names[i], names[j], samples[:, i] - samples[:, j], float(values[i] - values[j]))
    if np.isfinite(result.ceiling_samples[:, 0]).any():
        low = result.ceiling_samples[:, 0]
        point = float(table["ceiling_low"].iloc[0])
        for i, name in enumerate(names):
            add(name, "noise ceiling (lower)", samples[:, i] - low, float(values[i] - point))
    out = pd.DataFrame(rows)
    out["q_value"] = fdr_correction(out["p_value"].to_numpy())[1]
    return out


def rsa_permutation_test(
    model: RDMs | np.ndarray,
    data: RDMs | np.ndarray,
    method: str = "spearman",
    n_permutations: int = 1000,
    seed: int = 0,
) -> tuple[float, float, np.ndarray]:
    """Permutation test of the RSA value: stimulus labels of the model RDM are shuffled.

    Returns ``(value, p_value, null)``, value = mean similarity of the model RDM with the data
    RDMs, p one-sided (``(1 + #{null >= value}) / (1 + n_permutations)``).
    """
    fn = lookup(SIMILARITIES, method, "RDM similarity")
    check_same_stimuli(model, data)
    m = (
        model.dissimilarities
        if isinstance(model, RDMs)
        else np.atleast_2d(np.asarray(model, dtype=float))
    )
    d = (
        data.dissimilarities
        if isinstance(data, RDMs)
        else np.atleast_2d(np.asarray(data, dtype=float))
    )
    if m.shape[0] != 1:
        raise ValidationError(f"give one model RDM; got {m.shape[0]}.")
    from ..core._rdms import n_stimuli_from_pairs

    n = n_stimuli_from_pairs(m.shape[1])
    rows, cols = condensed_index(n)
    square = np.zeros((n, n))
    square[rows, cols] = m[0]
    square = square + square.T
    value = float(fn(m, d).mean())
    rng = np.random.default_rng(seed)
    perms = np.stack(
        [
            square[np.ix_(p, p)][rows, cols]
            for p in (rng.permutation(n) for _ in range(n_permutations))
        ]
    )
    null = fn(perms, d).mean(1)
    p_value = float((1 + (null >= value).sum()) / (1 + n_permutations))
    return value, p_value, null
