"""``READOUTS`` (ridge, factorised, attention by name) and ``compare_readouts``: every readout on
the same cross-validation folds, in one :class:`~neuroalign.core.Result` table."""

from __future__ import annotations

import inspect
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from ..core import Result, make_table
from ..core._progress import track
from ..core._registry import lookup, register
from ..core._validation import check_array
from ..core.exceptions import ShapeError, ValidationError
from ..core.metrics import pearson_score
from ._attention import AttentionReadout
from ._estimators import RidgeEncoder
from ._factorized import FactorizedReadout
from ._torch_fit import check_responses

__all__ = ["READOUTS", "attention", "compare_readouts", "factorized", "ridge"]

#: Readouts by name: ``READOUTS[name](**params)`` → an unfitted estimator taking the layer's
#: features as they are (maps, tokens or 2-D) in ``fit(X, y)`` / ``predict(X)``.
READOUTS: dict[str, Callable[..., Any]] = {}


def _flatten(X: Any) -> np.ndarray:
    X = np.asarray(X)
    return X.reshape(len(X), -1)


@register(READOUTS)
def ridge(**params: Any) -> Any:
    """:class:`RidgeEncoder` on the flattened features (α per target by cross-validation)."""
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import FunctionTransformer

    return make_pipeline(FunctionTransformer(_flatten), RidgeEncoder(**params))


@register(READOUTS)
def factorized(**params: Any) -> FactorizedReadout:
    """:class:`FactorizedReadout` (spatial mask × feature weights per target)."""
    return FactorizedReadout(**params)


@register(READOUTS)
def attention(**params: Any) -> AttentionReadout:
    """:class:`AttentionReadout` (learned queries over tokens; one per ROI when ``rois`` given)."""
    return AttentionReadout(**params)


def _folds(n: int, cv: Any, seed: int) -> list[tuple[np.ndarray, np.ndarray]]:
    from sklearn.model_selection import KFold

    if isinstance(cv, (int, np.integer)):
        if cv < 2 or n < 2 * cv:
            raise ValidationError(
                f"cv={cv} folds need cv >= 2 and at least {2 * cv} stimuli; got {n}."
            )
        return list(KFold(int(cv), shuffle=True, random_state=seed).split(np.arange(n)))
    if hasattr(cv, "split"):
        return list(cv.split(np.arange(n)))
    folds = [(np.asarray(a), np.asarray(b)) for a, b in cv]
    if not folds:
        raise ValidationError("cv gave no folds; pass an int, a splitter or (train, test) pairs.")
    return folds


def compare_readouts(
    features: Any,
    responses: Any,
    readouts: Sequence[str] = ("ridge", "factorized", "attention"),
    cv: Any = 5,
    params: Mapping[str, Mapping[str, Any]] | None = None,
    rois: Any = None,
    ceiling: Any = None,
    per_target: bool = False,
    seed: int = 0,
    model: str = "",
    layer: str = "",
    quiet: bool = False,
) -> Result:
    """Fit each readout on the same folds and score it on the held-out stimuli (Pearson r).

    Parameters
    ----------
    features : array (n_stimuli, ...)
        One layer's features: maps (n, C, H, W), tokens (n, T, D) or 2-D; every readout gets the
        same array (ridge flattens it).
    responses : array (n_stimuli, n_targets)
    readouts : sequence of str
        Keys of :data:`READOUTS`.
    cv : int, scikit-learn splitter or sequence of (train, test) index pairs
        An int gives shuffled k-fold seeded by ``seed``.
    params : mapping, optional
        Per readout, the estimator's parameters (``{"factorized": {"max_epochs": 20}}``).
    rois : array (n_targets,), optional
        ROI label per target: one table row per ROI, and one attention query per ROI.
    ceiling : array (n_targets,), optional
        Per-target noise ceiling of Pearson r, averaged into ``ceiling_high``.
    per_target : bool
        Also add one row per target (``aggregate="none"``).
    seed : int
    model, layer : str
        Labels for the table.
    quiet : bool

    Returns
    -------
    Result
        ``kind="encoding.readouts"``; one row per readout (``method``) × roi with the mean over
        folds of the mean test r (``value``), its SE over folds (``se``), ``n`` targets, extra
        columns ``n_folds`` and ``fit_seconds``; ``arrays[f"{readout}/scores"]`` holds the
        per-fold per-target r (n_folds, n_targets), ``arrays["test_fold"]`` each stimulus's fold.
    """
    X = np.asarray(features)
    if X.ndim < 2:
        raise ShapeError(f"features must have a stimulus axis and features; got shape {X.shape}.")
    Y, _ = check_responses(responses, len(X), "responses")
    V = Y.shape[1]
    params = dict(params or {})
    unknown = sorted(set(params) - set(readouts))
    if unknown:
        raise ValidationError(
            f"params given for {unknown}, which are not in readouts={list(readouts)}."
        )
    factories = {name: lookup(READOUTS, name, "readout") for name in readouts}
    labels = np.full(V, "all") if rois is None else np.asarray(rois).astype(str)
    if labels.shape != (V,):
        raise ShapeError(f"rois must have one label per target ({V}); got shape {labels.shape}.")
    ceil = None if ceiling is None else check_array(ceiling, "ceiling", ndim=1)
    if ceil is not None and len(ceil) != V:
        raise ShapeError(f"ceiling has {len(ceil)} values; expected one per target ({V}).")
    folds = _folds(len(X), cv, seed)
    test_fold = np.full(len(X), -1)
    for k, (_, te) in enumerate(folds):
        test_fold[te] = k
    scores = {name: np.full((len(folds), V), np.nan) for name in readouts}
    seconds = dict.fromkeys(readouts, 0.0)
    jobs = [(k, name) for k in range(len(folds)) for name in readouts]
    for k, name in track(jobs, len(jobs), "compare readouts", quiet):
        tr, te = folds[k]
        est = factories[name](**params.get(name, {}))
        fit_kw = {"rois": labels} if rois is not None and _takes(est.fit, "rois") else {}
        t0 = time.perf_counter()
        est.fit(X[tr], Y[tr], **fit_kw)
        seconds[name] += time.perf_counter() - t0
        pred = np.asarray(est.predict(X[te]), dtype=np.float64).reshape(len(te), V)
        scores[name][k] = pearson_score(Y[te].astype(np.float64), pred)
    rows = []
    for name in readouts:
        per_fold = scores[name]
        for roi in pd.unique(labels):
            sel = labels == roi
            fold_means = np.nanmean(per_fold[:, sel], axis=1)
            rows.append(
                {
                    "roi": roi,
                    "method": name,
                    "aggregate": "mean",
                    "value": fold_means.mean(),
                    "se": fold_means.std(ddof=1) / np.sqrt(len(folds))
                    if len(folds) > 1
                    else np.nan,
                    "ceiling_high": np.nan if ceil is None else ceil[sel].mean(),
                    "n": int(sel.sum()),
                }
            )
        if per_target:
            for v in range(V):
                rows.append(
                    {
                        "roi": labels[v],
                        "target": str(v),
                        "method": name,
                        "aggregate": "none",
                        "value": np.nanmean(per_fold[:, v]),
                        "ceiling_high": np.nan if ceil is None else ceil[v],
                        "n": 1,
                    }
                )
    table = make_table(
        rows,
        analysis="encoding",
        model=model,
        layer=layer,
        statistic="score",
        scoring="pearson",
        split="test",
        resampled="none",
    )
    table["n_folds"] = len(folds)
    table["fit_seconds"] = table["method"].map(seconds)
    arrays: dict[str, np.ndarray] = {f"{name}/scores": s for name, s in scores.items()}
    arrays["test_fold"] = test_fold
    return Result(
        table,
        kind="encoding.readouts",
        arrays=arrays,
        params={
            "readouts": list(readouts),
            "cv": repr(cv),
            "seed": seed,
            "params": {k: dict(v) for k, v in params.items()},
        },
    )


def _takes(fn: Callable[..., Any], name: str) -> bool:
    return name in inspect.signature(fn).parameters
