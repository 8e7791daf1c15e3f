"""``cross_validate_trf``: leave-one-epoch-out scores of a temporal response function, one
:class:`~neuroalign.core.Result` (kind ``encoding.trf``)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from ..core import Result, make_table
from ..core._progress import track
from ..core.exceptions import ValidationError
from ._trf import ReceptiveField, _pearson

__all__ = ["cross_validate_trf"]


def cross_validate_trf(
    X: Sequence[Any],
    y: Sequence[Any],
    tmin: float,
    tmax: float,
    sfreq: float,
    alpha: Any = None,
    *,
    model: str = "",
    layer: str = "",
    target_names: Sequence[str] | None = None,
    feature_names: Sequence[str] | None = None,
    direction: str = "forward",
    dtype: str = "float32",
    quiet: bool = False,
) -> Result:
    """Per-target Pearson r of a TRF predicting each held-out epoch from the others.

    For each epoch (trial, run) in turn, a :class:`ReceptiveField` is fit on the other epochs (a
    grid ``alpha`` is chosen per target by an inner leave-one-epoch-out CV among them) and
    predicts the held-out epoch; r is computed on its rows ``valid_samples_``. A last fit on all
    epochs gives the coefficients that are stored.

    Parameters
    ----------
    X, y : sequences of arrays
        One array per epoch: X ``(n_times_e, n_features)``, y ``(n_times_e[, n_targets])``. For a
        backward model X is the brain and y the stimulus (use negative lags).
    tmin, tmax, sfreq, alpha, dtype
        As :class:`ReceptiveField`.
    model, layer : str
        Labels of the feature set in the table (e.g. ``"spectrogram"``).
    target_names, feature_names : sequences of str, optional
    direction : {"forward", "backward"}
        Stored in the table's ``method`` column (``trf`` or ``trf_backward``).
    quiet : bool
        No progress bar over the held-out epochs (shown by default in a terminal).

    Returns
    -------
    Result
        kind ``"encoding.trf"``; table: one row per target (``statistic="score"``,
        ``scoring="pearson"``, ``split="cv"``, ``value`` the mean r over held-out epochs, ``se``
        its standard error, ``n`` the epochs) plus one ``aggregate="mean"`` row; arrays:
        ``coef`` (n_targets, n_features, n_delays), ``delays`` (samples), ``lags`` (s),
        ``fold_scores`` (n_epochs, n_targets), ``alpha`` (n_targets,).
    """
    if direction not in ("forward", "backward"):
        raise ValidationError(f"direction={direction!r}; choose 'forward' or 'backward'.")
    if not isinstance(X, (list, tuple)) or not isinstance(y, (list, tuple)):
        raise ValidationError("X and y must be lists of per-epoch arrays (one per trial/run).")
    if len(X) < 3 or len(X) != len(y):
        raise ValidationError(
            f"cross_validate_trf needs ≥ 3 epochs in X and as many in y; got {len(X)} and {len(y)}."
        )
    ys = [np.asarray(e)[:, None] if np.ndim(e) == 1 else np.asarray(e) for e in y]
    n_targets = ys[0].shape[1]
    names = list(target_names) if target_names is not None else [str(i) for i in range(n_targets)]
    if len(names) != n_targets:
        raise ValidationError(f"target_names has {len(names)} names for {n_targets} targets.")
    grid = alpha is None or np.ndim(alpha) > 0

    def make(n_train: int) -> ReceptiveField:
        a = alpha if not grid or n_train >= 2 else float(np.median(alpha))
        return ReceptiveField(tmin, tmax, sfreq, alpha=a, scoring="corrcoef", dtype=dtype)

    fold = np.zeros((len(X), n_targets))
    for k in track(range(len(X)), len(X), "TRF, leave one epoch out", quiet):
        train = [i for i in range(len(X)) if i != k]
        rf = make(len(train)).fit([X[i] for i in train], [ys[i] for i in train])
        vs = rf.valid_samples_
        pred = np.asarray(rf.predict([X[k]])[0]).reshape(len(ys[k]), -1)
        fold[k] = _pearson(ys[k][vs].astype(np.float64), pred[vs])
    final = make(len(X)).fit(list(X), ys)
    mean = fold.mean(0)
    se = fold.std(0, ddof=1) / np.sqrt(len(X))
    method = "trf" if direction == "forward" else "trf_backward"
    rows = [
        {"target": names[j], "value": mean[j], "se": se[j], "n": len(X), "aggregate": "none"}
        for j in range(n_targets)
    ]
    rows.append({"target": "", "value": float(mean.mean()), "n": n_targets, "aggregate": "mean"})
    table = make_table(
        rows,
        analysis="encoding",
        model=model,
        layer=layer,
        roi="all",
        statistic="score",
        scoring="pearson",
        method=method,
        split="cv",
        resampled="none",
    )
    coef = final.coef_ if final.coef_.ndim == 3 else final.coef_[None]
    return Result(
        table,
        kind="encoding.trf",
        arrays={
            "coef": coef.astype(np.float32),
            "delays": final.delays_,
            "lags": final.delays_ / float(sfreq),
            "fold_scores": fold,
            "alpha": np.broadcast_to(final.alpha_, (n_targets,)).astype(float),
        },
        params={
            "tmin": tmin,
            "tmax": tmax,
            "sfreq": sfreq,
            "direction": direction,
            "n_epochs": len(X),
            "feature_names": list(feature_names) if feature_names is not None else [],
            "target_names": names,
            "cv": "leave-one-epoch-out",
        },
    )
