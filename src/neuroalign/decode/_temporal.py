"""Time-resolved decoding of M/EEG epochs ``(n_epochs, n_channels, n_times)``.

:func:`decode_over_time` trains and tests a classifier at every time sample (or sliding window);
:func:`temporal_generalization` trains at every time and tests at every time. Closed-form
classifiers (``"ridge"``, ``"lda"``: see ``_batched``) are fit at all time points at once with one
batched factorisation per fold; label permutations of the ridge classifier share that factorisation
(they are extra right-hand sides). Any scikit-learn classifier works through a generic path that
fits one clone per time point.
"""

from __future__ import annotations

import contextlib
from collections.abc import Sequence
from typing import Any

import numpy as np

from ..core import Result, make_table
from ..core._backend import Backend, centre, chunk_slices, get_backend
from ..core._progress import track
from ..core._registry import lookup
from ..core._threads import one_blas_thread
from ..core._validation import check_same_length, parse_memory_budget
from ..core.exceptions import ValidationError
from ._batched import TIME_ESTIMATORS, predict_classes, ridge_targets
from ._checks import (
    check_alpha,
    check_counts,
    check_epochs,
    check_labels,
    check_shrinkage,
    make_cv,
)
from ._classic import decision_values, permutation_blocks, permute_within
from ._clusters import permutation_cluster_test
from ._scoring import chance_level, get_scorer

__all__ = ["decode_over_time", "temporal_generalization", "time_features"]


def time_features(
    epochs: np.ndarray, times: np.ndarray, window: int | None = None, step: int = 1
) -> tuple[np.ndarray, np.ndarray]:
    """Stack epochs over time: ``Xt`` ``(n_steps, n_epochs, n_features)`` and the step times.

    Without ``window`` each time sample is one step with ``n_channels`` features; with
    ``window = w`` each step concatenates ``w`` consecutive samples (``n_channels · w`` features),
    steps are ``step`` samples apart, and the step's time is the mean of its window's times.
    """
    if window is None or window == 1:
        return np.ascontiguousarray(epochs[:, :, ::step].transpose(2, 0, 1)), times[::step]
    if not 1 <= window <= epochs.shape[2]:
        raise ValidationError(
            f"window={window} samples must be between 1 and n_times={epochs.shape[2]}."
        )
    view = np.lib.stride_tricks.sliding_window_view(epochs, window, axis=2)[:, :, ::step]
    Xt = view.transpose(2, 0, 1, 3).reshape(view.shape[2], len(epochs), -1)
    tw = np.lib.stride_tricks.sliding_window_view(times, window)[::step].mean(1)
    return np.ascontiguousarray(Xt), tw


def _generalize(xb: Backend, Xtest: Any, W: Any, b: Any) -> Any:
    """Decision values ``(T_train, T_test, n, M)`` of every train-time model at every test time,
    as one GEMM ``(T_test·n, F) @ (F, T_train·M)``."""
    t_tr, f, m = W.shape
    t_te, n, _ = Xtest.shape
    if xb.name == "numpy":
        Wf = W.transpose(1, 0, 2).reshape(f, t_tr * m)
    else:
        Wf = W.permute(1, 0, 2).reshape(f, t_tr * m)
    D = (Xtest.reshape(t_te * n, f) @ Wf).reshape(t_te, n, t_tr, m) + b.reshape(1, 1, t_tr, m)
    return D.transpose(2, 0, 1, 3) if xb.name == "numpy" else D.permute(2, 0, 1, 3)


def _fold_batched(
    xb: Backend,
    Xt: np.ndarray,
    yi: np.ndarray,
    k: int,
    train: np.ndarray,
    test: np.ndarray,
    name: str,
    params: dict,
    generalize: bool,
    Y: np.ndarray | None = None,
) -> np.ndarray:
    fn = lookup(TIME_ESTIMATORS, name, "time-resolved estimator")
    extra = {"Y": Y} if Y is not None else {}
    with _one_blas_thread(xb):
        W, b = fn(xb, Xt[:, train], yi[train], k, **params, **extra)
    Xte = Xt[:, test]
    D = _generalize(xb, Xte, W, b) if generalize else Xte @ W + b[:, None, :]
    return xb.to_numpy(D).astype(np.float64)


def _one_blas_thread(xb: Backend) -> Any:
    """NumPy runs a batched matmul as one BLAS call per (small) matrix; OpenBLAS starting its
    threads for each 64 × 64 product costs far more than the product (100× on a loaded machine),
    so the batched fits run with one BLAS thread. Torch batches natively and is left alone."""
    if xb.name != "numpy":
        return contextlib.nullcontext()
    return one_blas_thread()


def _fold_generic(
    Xt: np.ndarray,
    yi: np.ndarray,
    train: np.ndarray,
    test: np.ndarray,
    estimator: Any,
    generalize: bool,
) -> tuple[np.ndarray, np.ndarray]:
    from sklearn.base import clone

    preds, decs = [], []
    for t in range(len(Xt)):
        est = clone(estimator).fit(Xt[t][train], yi[train])
        tests = range(len(Xt)) if generalize else [t]
        preds.append([np.asarray(est.predict(Xt[u][test])) for u in tests])
        decs.append([decision_values(est, Xt[u][test]) for u in tests])
    pred, dec = np.array(preds), np.array(decs)
    return (pred, dec) if generalize else (pred[:, 0], dec[:, 0])


def _scores(y: np.ndarray, pred: np.ndarray, dec: np.ndarray, scorers: Sequence[str]) -> np.ndarray:
    return np.stack([get_scorer(s)(y, pred, dec) for s in scorers])


def _cv_run(
    xb: Backend,
    Xt: np.ndarray,
    yi: np.ndarray,
    k: int,
    splits: list,
    estimator: Any,
    params: dict,
    scorers: Sequence[str],
    generalize: bool,
) -> np.ndarray:
    """Scores ``(n_folds, n_scorings, T[, T])`` of one labelling."""
    out = []
    for train, test in splits:
        if isinstance(estimator, str):
            dec = _fold_batched(xb, Xt, yi, k, train, test, estimator, params, generalize)
            pred = predict_classes(dec)
        else:
            pred, dec = _fold_generic(Xt, yi, train, test, estimator, generalize)
        out.append(_scores(yi[test], pred, dec, scorers))
    return np.stack(out)


def _null_ridge(
    xb: Backend,
    Xt: np.ndarray,
    perms: np.ndarray,
    k: int,
    splits: list,
    params: dict,
    scorer: str,
    generalize: bool,
    memory_budget: int,
) -> np.ndarray:
    """Mean-over-folds scores of every permuted labelling ``perms`` ``(P, n)`` with the ridge
    classifier: all permutations are right-hand sides of one factorisation per fold."""
    n_out = 1 if k == 2 else k
    t = len(Xt)
    per_perm = 8 * (t * t if generalize else t) * max(len(s[1]) for s in splits) * n_out
    size = max(1, memory_budget // max(1, per_perm))
    null = np.zeros((len(perms), *((t, t) if generalize else (t,))))
    for train, test in splits:
        for sl in chunk_slices(len(perms), size):
            Y = np.concatenate([ridge_targets(p[train], k) for p in perms[sl]], axis=1)
            dec = _fold_batched(
                xb, Xt, perms[sl][0], k, train, test, "ridge", params, generalize, Y
            )
            dec = dec.reshape(*dec.shape[:-1], sl.stop - sl.start, n_out)
            dec = np.moveaxis(dec, -2, 0)
            for j, p in enumerate(perms[sl]):
                null[sl.start + j] += get_scorer(scorer)(p[test], predict_classes(dec[j]), dec[j])
    return null / len(splits)


def _run(
    epochs: Any,
    y: Any,
    times: Any,
    *,
    estimator: Any,
    cv: Any,
    groups: Any,
    scoring: str | Sequence[str],
    window: int | None,
    step: int,
    alpha: float,
    shrinkage: float | str,
    standardize: bool,
    n_permutations: int,
    cluster_alpha: float,
    seed: int,
    device: str | None,
    dtype: str,
    memory_budget: int | str,
    quiet: bool,
    generalize: bool,
) -> tuple[dict[str, Any], dict[str, Any]]:
    alpha, shrinkage = check_alpha(alpha), check_shrinkage(shrinkage)
    check_counts(n_permutations, step=step, window=window, cluster_alpha=cluster_alpha)
    X = check_epochs(epochs)
    y, classes = check_labels(y, len(X))
    times = np.arange(X.shape[2], dtype=float) if times is None else np.asarray(times, float)
    check_same_length("times", len(times), "epochs (time axis)", X.shape[2])
    scorers = [scoring] if isinstance(scoring, str) else list(scoring)
    for s in scorers:
        get_scorer(s)
    budget = parse_memory_budget(memory_budget)
    yi = np.searchsorted(classes, y)
    groups = None if groups is None else np.asarray(groups)
    splits = make_cv(cv, yi, groups, seed)
    if isinstance(estimator, str):
        lookup(TIME_ESTIMATORS, estimator, "time-resolved estimator")
        params = (
            {"alpha": alpha, "standardize": standardize}
            if estimator == "ridge"
            else {"shrinkage": shrinkage, "standardize": standardize}
        )
        name = estimator
    else:
        from sklearn.base import clone

        estimator, params, name = clone(estimator), {}, type(estimator).__name__
    xb = get_backend(device, dtype)
    Xt, t_steps = time_features(X, times, window, step)
    k = len(classes)
    fit_params: dict[str, Any] = dict(params)
    if isinstance(estimator, str):
        # decision values X·W + b of data far from zero (raw MEG/EEG channels, not baselined)
        # cancel two large numbers (float32: 2-4 % of their spread); the estimators' decisions
        # on centred data equal the raw ones up to a constant (TIME_ESTIMATORS), and any
        # reference point will do, so taking it over all samples leaks nothing
        Xt, offset = centre(Xt, (0, 1))
        fit_params = {**params, "offset": offset}
        Xt = xb.asarray(Xt)  # converted (and moved to the device) once, not per fold
    # checked before any fit: splits whose test sets do not allow a valid exchange raise
    blocks = permutation_blocks(splits, groups, len(yi)) if n_permutations else None
    fold = _cv_run(xb, Xt, yi, k, splits, estimator, fit_params, scorers, generalize)
    out: dict[str, Any] = {
        "fold_scores": fold,
        "scores": fold.mean(0),
        "times": t_steps,
        "classes": classes.astype(str),
        "chance": [chance_level(s, yi) for s in scorers],
    }
    if n_permutations:
        rng = np.random.default_rng(seed)
        perms = np.stack([permute_within(yi, blocks, rng) for _ in range(n_permutations)])
        if estimator == "ridge":
            null = _null_ridge(xb, Xt, perms, k, splits, fit_params, scorers[0], generalize, budget)
        else:
            null = np.stack(
                [
                    _cv_run(xb, Xt, p, k, splits, estimator, fit_params, scorers[:1], generalize)[
                        :, 0
                    ].mean(0)
                    for p in track(perms, n_permutations, "permutations", quiet)
                ]
            )
        stats = permutation_cluster_test(out["scores"][0], null, out["chance"][0], cluster_alpha)
        out.update(null=null, **{f"cluster_{key}": v for key, v in stats.items()})
    meta = {
        "estimator": name,
        "params": params,
        "n_splits": len(splits),
        "window": window,
        "step": step,
        "scorers": scorers,
        "n_epochs": len(X),
        "n_permutations": n_permutations,
        "cluster_alpha": cluster_alpha,
        "seed": seed,
        "device": xb.device,
        "dtype": dtype,
    }
    return out, meta


def _cluster_p(out: dict[str, Any]) -> np.ndarray | None:
    if "cluster_labels" not in out:
        return None
    p = np.concatenate([[1.0], out["cluster_p_values"]])
    return p[out["cluster_labels"]]


_DOC_PARAMS = """
    Parameters
    ----------
    epochs : array (n_epochs, n_channels, n_times)
    y : array (n_epochs,)
        Labels; every class needs at least as many epochs as folds.
    times : array (n_times,), optional
        Seconds of each sample (default: sample indices).
    estimator : {"ridge", "lda"} or scikit-learn classifier
        ``"ridge"``: ``StandardScaler`` + ``RidgeClassifier(alpha)``; ``"lda"``: LDA with shrinkage
        ``shrinkage`` (both batched over time). An estimator instance is cloned and fit per time.
    cv : int, "loro", splitter or list of (train, test), optional
        Default: ``"loro"`` with groups, else stratified 5-fold (shuffled with ``seed``).
    groups : array (n_epochs,), optional
    scoring : str or sequence of str
        accuracy, balanced_accuracy, roc_auc.
    window, step : int
        Sliding windows of ``window`` samples (channels × samples features) every ``step`` samples.
    alpha, shrinkage, standardize : ridge penalty (>= 0); LDA shrinkage (a weight in [0, 1],
        ``None`` for none, or ``"auto"``, Ledoit–Wolf per class); z-scoring per time and channel.
        Other values raise ``ValidationError`` before any fitting.
    n_permutations : int
        Label permutations (within test folds and groups) for pointwise and cluster-corrected p-values of the
        first scoring; ridge permutations share each fold's factorisation.
    cluster_alpha : float
        Pointwise level forming clusters.
    seed : int
    device : str, optional
        ``"cpu"`` (NumPy), ``"torch"``, ``"cuda"``.
    dtype : {"float64", "float32"}
        float64 by default: these solves are small, and float64 keeps every decision on the same
        side of the boundary as scikit-learn (identical accuracies).
    memory_budget : int or str
        Bound on the permutation decision buffers.
    quiet : bool
"""


def decode_over_time(
    epochs: Any,
    y: Any,
    *,
    times: Any = None,
    estimator: Any = "ridge",
    cv: Any = None,
    groups: Any = None,
    scoring: str | Sequence[str] = "accuracy",
    window: int | None = None,
    step: int = 1,
    alpha: float = 1.0,
    shrinkage: float | str = 0.1,
    standardize: bool = True,
    n_permutations: int = 0,
    cluster_alpha: float = 0.05,
    seed: int = 0,
    device: str | None = None,
    dtype: str = "float64",
    memory_budget: int | str = "1GB",
    subject: str = "",
    roi: str = "",
    quiet: bool = False,
) -> Result:
    out, meta = _run(
        epochs,
        y,
        times=times,
        estimator=estimator,
        cv=cv,
        groups=groups,
        scoring=scoring,
        window=window,
        step=step,
        alpha=alpha,
        shrinkage=shrinkage,
        standardize=standardize,
        n_permutations=n_permutations,
        cluster_alpha=cluster_alpha,
        seed=seed,
        device=device,
        dtype=dtype,
        memory_budget=memory_budget,
        quiet=quiet,
        generalize=False,
    )
    cp = _cluster_p(out)
    rows = []
    for j, s in enumerate(meta["scorers"]):
        f = out["fold_scores"][:, j]
        se = f.std(0, ddof=1) / np.sqrt(len(f)) if len(f) > 1 else np.full(f.shape[1], np.nan)
        for i, t in enumerate(out["times"]):
            rows.append(
                {
                    "time": t,
                    "scoring": s,
                    "value": out["scores"][j, i],
                    "se": se[i],
                    "chance": out["chance"][j],
                    "p_value": cp[i] if cp is not None and j == 0 else np.nan,
                }
            )
    return _result(rows, out, meta, "decoding.over_time", subject, roi)


decode_over_time.__doc__ = (
    """Decode labels at every time sample (or sliding window) of epochs.
"""
    + _DOC_PARAMS
    + """
    Returns
    -------
    Result
        kind ``"decoding.over_time"``: one row per time × scoring (``value`` = mean over folds,
        ``se`` over folds, ``chance``, ``p_value`` = cluster-corrected p of the cluster holding
        that time, 1 outside clusters, when ``n_permutations``); arrays ``scores``
        (n_scorings, n_steps), ``fold_scores``, ``times`` and, with permutations, ``null``,
        ``cluster_labels``, ``cluster_p_values``, ``cluster_pointwise_p``.

    Examples
    --------
    >>> from neuroalign.data import make_epochs
    >>> sim = make_epochs(80, 16, 40, snr=1.0, seed=0)
    >>> r = decode_over_time(sim.epochs, sim.labels, times=sim.times, cv=4)
    >>> s = r.arrays["scores"][0]
    >>> bool(s[sim.informative].mean() > s[~sim.informative].mean() + 0.2)
    True
"""
)


def temporal_generalization(
    epochs: Any,
    y: Any,
    *,
    times: Any = None,
    estimator: Any = "ridge",
    cv: Any = None,
    groups: Any = None,
    scoring: str | Sequence[str] = "accuracy",
    window: int | None = None,
    step: int = 1,
    alpha: float = 1.0,
    shrinkage: float | str = 0.1,
    standardize: bool = True,
    n_permutations: int = 0,
    cluster_alpha: float = 0.05,
    seed: int = 0,
    device: str | None = None,
    dtype: str = "float64",
    memory_budget: int | str = "1GB",
    subject: str = "",
    roi: str = "",
    quiet: bool = False,
) -> Result:
    out, meta = _run(
        epochs,
        y,
        times=times,
        estimator=estimator,
        cv=cv,
        groups=groups,
        scoring=scoring,
        window=window,
        step=step,
        alpha=alpha,
        shrinkage=shrinkage,
        standardize=standardize,
        n_permutations=n_permutations,
        cluster_alpha=cluster_alpha,
        seed=seed,
        device=device,
        dtype=dtype,
        memory_budget=memory_budget,
        quiet=quiet,
        generalize=True,
    )
    cp = _cluster_p(out)
    t = out["times"]
    rows = []
    for j, s in enumerate(meta["scorers"]):
        for a in range(len(t)):
            for i in range(len(t)):
                rows.append(
                    {
                        "train_time": t[a],
                        "time": t[i],
                        "scoring": s,
                        "value": out["scores"][j, a, i],
                        "chance": out["chance"][j],
                        "p_value": cp[a, i] if cp is not None and j == 0 else np.nan,
                    }
                )
    return _result(rows, out, meta, "decoding.generalization", subject, roi)


temporal_generalization.__doc__ = (
    """Train a decoder at every time and test it at every time (King & Dehaene 2014).
"""
    + _DOC_PARAMS
    + """
    Returns
    -------
    Result
        kind ``"decoding.generalization"``: one row per train time × test time × scoring
        (``train_time``, ``time``); arrays ``scores`` (n_scorings, n_train_times, n_times),
        ``fold_scores``, ``times`` and, with permutations, the 2-D cluster statistics.
"""
)


def _result(
    rows: list[dict], out: dict[str, Any], meta: dict[str, Any], kind: str, subject: str, roi: str
) -> Result:
    table = make_table(
        rows,
        analysis="decoding",
        method=meta["estimator"],
        statistic="score",
        split="cv",
        subject=subject,
        roi=roi,
        n=meta["n_epochs"],
        resampled="none",
    )
    arrays = {k: np.asarray(v) for k, v in out.items() if k != "chance"}
    meta = {**meta, "chance": out["chance"]}
    return Result(table, kind=kind, arrays=arrays, params=meta)
