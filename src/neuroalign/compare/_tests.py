"""Inference on RSA results: pairwise model comparisons, tests against the noise ceiling, and
stimulus-permutation tests of an RSA value."""

from __future__ import annotations

import warnings
from itertools import combinations
from typing import Any

import numpy as np
import pandas as pd

from ..core import RDMs, Result, fdr_correction, make_table
from ..core._multiple import permutation_p_values
from ..core._progress import track
from ..core._rdms import condensed_index, n_stimuli_from_pairs
from ..core._registry import lookup
from ..core._validation import check_array
from ..core.exceptions import NeuroalignWarning, ShapeError, ValidationError
from ._similarity import SIMILARITIES, check_same_stimuli
from ._subjects import pool_subjects, rdm_labels, roi_label

__all__ = ["compare_models", "rsa_permutation_test"]


def _two_sided_p(diff_samples: np.ndarray) -> float:
    """Bootstrap p-value of "difference = 0": twice the smaller tail, with the +1 correction."""
    d = diff_samples[np.isfinite(diff_samples)]
    if d.size == 0:
        return float("nan")
    tail = min((d <= 0).sum(), (d >= 0).sum())
    return float(min(1.0, 2 * (tail + 1) / (d.size + 1)))


def _model_names(table: Any, label: str | None) -> list[str]:
    """Names of the compared models: the ``label`` column (default ``layer``)."""
    label = label or "layer"
    if label not in table:
        extras = [
            c
            for c in table.columns
            if table[c].dtype.kind in "OSUT" or pd.api.types.is_string_dtype(table[c])
            if table[c].astype(str).nunique() == len(table) > 0
        ]
        raise ValidationError(
            f"label={label!r} is not a column of the result table; name the models with one of "
            f"{extras}."
        )
    names = table[label].astype(str).tolist()
    if len(set(names)) != len(names):
        raise ValidationError(
            f"label={label!r} does not name the models uniquely ({names}); pick another column."
        )
    return names


def compare_models(result: Result, label: str | None = None, ci: float = 0.95) -> Result:
    """Pairwise model comparisons and comparisons with the lower noise ceiling, from the bootstrap.

    For every pair of models (and every model against the lower bound of the noise ceiling) the
    difference of their values is computed on each bootstrap sample; the table reports the
    difference, its percentile interval, a two-sided bootstrap p-value and the Benjamini–Hochberg
    q-value across all comparisons in the table.

    Parameters
    ----------
    result : Result
        From :func:`bootstrap_rsa` (kind ``"rsa.bootstrap"``).
    label : str, optional
        Table column naming the models (default ``layer``: layer or model RDM name).
    ci : float
        Interval coverage.

    Returns
    -------
    Result
        ``kind="rsa.model_tests"``: one row per comparison; ``layer`` and the extra column
        ``layer_other`` name the two model RDMs (layers or model RDM names), ``value`` the difference of
        their RSA values, ``ci_low``/``ci_high``/``se`` from the bootstrap, ``p_value`` two-sided,
        extra column ``q_value`` (FDR). The lower ceiling appears as ``"noise ceiling (lower)"``.
    """
    if not isinstance(result, Result) or not result.kind.startswith("rsa.bootstrap"):
        raise ValidationError(
            f"compare_models needs the Result of bootstrap_rsa; got "
            f"{getattr(result, 'kind', type(result).__name__)!r}."
        )
    if not 0.0 < float(ci) < 1.0:
        raise ValidationError(f"ci must be in (0, 1), e.g. 0.95; got {ci!r}.")
    table = result.table
    samples = np.asarray(result.arrays["samples"])
    ceiling_samples = np.asarray(result.arrays["ceiling_samples"])
    names = _model_names(table, label)
    side = "layer"  # the compared things are model RDMs: named in layer / layer_other
    alpha = (1 - ci) / 2
    rows = []

    def add(a: str, b: str, diff: np.ndarray, point: float) -> None:
        with np.errstate(invalid="ignore"):
            rows.append(
                {
                    side: a,
                    f"{side}_other": b,
                    "value": point,
                    "ci_low": float(np.nanquantile(diff, alpha)),
                    "ci_high": float(np.nanquantile(diff, 1 - alpha)),
                    "se": float(np.nanstd(diff, ddof=1)),
                    "p_value": _two_sided_p(diff),
                }
            )

    values = table["value"].to_numpy()
    for i, j in combinations(range(len(names)), 2):
        add(names[i], names[j], samples[:, i] - samples[:, j], float(values[i] - values[j]))
    if np.isfinite(ceiling_samples[:, 0]).any():
        low = ceiling_samples[:, 0]
        point = float(table["ceiling_low"].iloc[0])
        for i, name in enumerate(names):
            add(name, "noise ceiling (lower)", samples[:, i] - low, float(values[i] - point))
    first = table.iloc[0]
    out = make_table(
        rows,
        analysis="rsa",
        roi=first["roi"],
        statistic="difference",
        method=first["method"],
        metric=first["metric"],
        n=first["n"],
        resampled=first["resampled"],
    )
    out["model"] = first["model"]
    out["q_value"] = fdr_correction(out["p_value"].to_numpy())[1] if len(out) else []
    return Result(out, "rsa.model_tests", {}, {"ci": ci, "label": label or side})


def rsa_permutation_test(
    model: RDMs | np.ndarray,
    data: RDMs | np.ndarray,
    method: str = "spearman",
    n_permutations: int = 1000,
    seed: int = 0,
    quiet: bool = False,
) -> Result:
    """Permutation test of the RSA value: stimulus labels of the model RDM are shuffled.

    Returns
    -------
    Result
        ``kind="rsa.permutation"``: one row, ``value`` = mean similarity of the model RDM with the
        data RDMs, ``p_value`` one-sided (``(1 + #{null >= value}) / (1 + n_permutations)``),
        extra column ``n_permutations``; ``arrays["null"]`` the permutation distribution.
    """
    fn = lookup(SIMILARITIES, method, "RDM similarity")
    if (
        isinstance(n_permutations, bool)
        or not isinstance(n_permutations, (int, np.integer))
        or n_permutations < 1
    ):
        raise ValidationError(
            f"n_permutations must be an integer >= 1 (1000 or more for p < 0.01); "
            f"got {n_permutations!r}."
        )
    check_same_stimuli(model, data)
    m = (
        model.dissimilarities
        if isinstance(model, RDMs)
        else np.atleast_2d(check_array(model, "model", ndim=(1, 2), dtype=np.float64))
    )
    d = (  # one RDM per subject: sessions pooled within subject, as in bootstrap_rsa
        pool_subjects(data).rdms.dissimilarities
        if isinstance(data, RDMs)
        else np.atleast_2d(check_array(data, "data", ndim=(1, 2), dtype=np.float64))
    )
    if m.shape[0] != 1:
        raise ValidationError(f"give one model RDM; got {m.shape[0]}.")
    if m.shape[1] != d.shape[1]:
        raise ShapeError(
            f"the model RDM has {m.shape[1]} pairs and the data RDMs {d.shape[1]}: they must be "
            "over the same stimuli, in the same order (pass RDMs to have their ids checked)."
        )
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
            for p in track(
                (rng.permutation(n) for _ in range(n_permutations)),
                n_permutations,
                "permutations",
                quiet,
            )
        ]
    )
    null = fn(perms, d).mean(1)
    p_value = float(permutation_p_values(null, value))  # ties with the observed value count
    if not np.isfinite(value):  # a constant RDM: no similarity, so no test (p NaN)
        warnings.warn(
            "the RSA value is undefined (a constant model or data RDM): its p-value is NaN.",
            NeuroalignWarning,
            stacklevel=2,
        )
    table = make_table(
        [{"value": value, "p_value": p_value}],
        analysis="rsa",
        statistic="similarity",
        method=method,
        metric=getattr(data, "metric", ""),
        aggregate="mean",
        split="all",
        n=d.shape[0],
        resampled="none",
        n_permutations=n_permutations,
        roi=roi_label(data) if isinstance(data, RDMs) else "",
    )
    if isinstance(model, RDMs):
        labels = rdm_labels(model)
        for col in ("layer", "model"):
            if col in labels:
                table[col] = str(labels[col].iloc[0])
    return Result(table, "rsa.permutation", {"null": null}, {"seed": seed, "method": method})
