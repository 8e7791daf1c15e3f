"""Closed-form linear classifiers fit at every time point at once, as batched tensor solves.

Data are stacked over time as ``Xt`` ``(n_times, n_samples, n_features)``. Each solver returns
weights ``W`` ``(n_times, n_features, n_outputs)`` and intercepts ``b`` ``(n_times, n_outputs)`` in
the units of the input (any standardisation is folded into ``W`` and ``b``), so that the decision
values of test data ``Xs`` at any time are ``Xs @ W[t] + b[t]``. One batched factorisation per fold
replaces ``n_times`` separate scikit-learn fits; the cost is ``2·T·n·F²`` FLOPs for the Gram
matrices plus ``T·F³/3`` for the Cholesky factors (the dual form, ``T·n²·F`` and ``T·n³/3``, is used
when ``F > n``).

Outputs follow scikit-learn: two classes give one output (evidence for class 1, predicted when
``> 0``); ``K > 2`` classes give ``K`` outputs (predicted class: the argmax).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from ..core._backend import Backend
from ..core._registry import register
from ._checks import check_alpha, check_shrinkage

__all__ = ["TIME_ESTIMATORS", "lda", "ledoit_wolf_cov", "predict_classes", "ridge", "ridge_targets"]

#: Batched closed-form classifiers: ``fn(xb, Xt, yi, n_classes, offset=None, **params) -> (W, b)``.
#: ``Xt`` arrives centred (``offset``, ``(F,)``: the vector the caller subtracted from every
#: sample, kept in float64); the decision values ``Xt @ W + b`` must equal those of the fit on
#: the uncentred data up to a constant common to every sample and class, so that every score
#: (argmax, per-class ROC AUC) is the same.
TIME_ESTIMATORS: dict[str, Callable[..., tuple[Any, Any]]] = {}


def _t(a: Any) -> Any:
    return a.swapaxes(-1, -2)


def _eye(xb: Backend, n: int) -> Any:
    return xb.asarray(np.eye(n))


def _solve_spd(xb: Backend, a: Any, b: Any) -> Any:
    """Solve ``a x = b`` for a batch of symmetric positive-definite ``a`` (one factorisation)."""
    if xb.name == "numpy":
        return np.linalg.solve(a, b)
    torch = __import__("torch")
    return torch.cholesky_solve(b, torch.linalg.cholesky(a))


def ridge_targets(yi: np.ndarray, n_classes: int) -> np.ndarray:
    """±1 targets of a ridge classifier: ``(n, 1)`` for two classes, ``(n, K)`` one-vs-rest."""
    if n_classes == 2:
        return (2.0 * (yi == 1) - 1.0)[:, None]
    return 2.0 * (yi[:, None] == np.arange(n_classes)) - 1.0


def _standardize_stats(xb: Backend, Xt: Any, standardize: bool) -> tuple[Any, Any]:
    m = Xt.mean(1, keepdims=True)
    if not standardize:
        return m, None
    var = ((Xt - m) ** 2).mean(1, keepdims=True)
    sd = xb.sqrt(var)
    sd = sd + (sd == 0) * 1.0  # scikit-learn's StandardScaler leaves constant features unscaled
    return m, sd


@register(TIME_ESTIMATORS)
def ridge(
    xb: Backend,
    Xt: Any,
    yi: np.ndarray,
    n_classes: int,
    *,
    alpha: float = 1.0,
    standardize: bool = True,
    Y: np.ndarray | None = None,
    offset: np.ndarray | None = None,
) -> tuple[Any, Any]:
    """Ridge classifier at every time point: ``W = (ZᵀZ + αI)⁻¹ Zᵀ(Y − Ȳ)`` with ``Z`` the
    (optionally z-scored) centred data: scikit-learn's
    ``make_pipeline(StandardScaler(), RidgeClassifier(alpha))`` in closed form.

    ``Y`` ``(n, M)`` overrides the ±1 targets (several label permutations solved with the same
    factorisation, as extra columns). ``offset`` is not needed: the intercept absorbs a shift.
    """
    alpha = check_alpha(alpha)
    if Y is None:
        Y = ridge_targets(yi, n_classes)
    m, sd = _standardize_stats(xb, Xt, standardize)
    Z = Xt - m
    if sd is not None:
        Z = Z / sd
    ybar = Y.mean(0)
    Yc = xb.asarray(Y - ybar)
    n, f = Z.shape[1], Z.shape[2]
    if f <= n:
        W = _solve_spd(xb, _t(Z) @ Z + alpha * _eye(xb, f), _t(Z) @ Yc)
    else:  # dual: (ZZᵀ + αI)⁻¹ Y, then Zᵀ
        W = _t(Z) @ _solve_spd(xb, Z @ _t(Z) + alpha * _eye(xb, n), Yc)
    if sd is not None:
        W = W / _t(sd)
    b = xb.asarray(ybar) - (m @ W)[:, 0, :]
    return W, b


@register(TIME_ESTIMATORS)
def lda(
    xb: Backend,
    Xt: Any,
    yi: np.ndarray,
    n_classes: int,
    *,
    shrinkage: float | str = 0.1,
    standardize: bool = False,
    offset: np.ndarray | None = None,
) -> tuple[Any, Any]:
    """Linear discriminant analysis with a shrunk pooled covariance at every time point:
    ``Σ = (1 − λ) Σ_w + λ tr(Σ_w)/F · I`` with ``Σ_w = Σ_k p_k Σ_k`` (class priors ``p_k``),
    ``w_k = Σ⁻¹ μ_k``, ``b_k = −½ μ_kᵀ w_k + log p_k``: scikit-learn's
    ``LinearDiscriminantAnalysis(solver="lsqr", shrinkage=λ)`` in closed form. With
    ``shrinkage="auto"`` each class covariance is shrunk by its own Ledoit–Wolf λ (see
    :func:`ledoit_wolf_cov`) before pooling, as scikit-learn does.

    On data centred by ``offset`` c, the class scores of raw (not standardised) class means move
    by ``−xᵀΣ⁻¹c`` + a constant (two classes: their difference does not move); ``Σ⁻¹c`` is added
    back to every class's weights,
    so the decision values are scikit-learn's on the raw data up to the constant ``½ cᵀΣ⁻¹c``.
    """
    shrinkage = check_shrinkage(shrinkage)
    m, sd = _standardize_stats(xb, Xt, standardize)
    Z = Xt if sd is None else (Xt - m) / sd
    f = Z.shape[2]
    priors = np.bincount(yi, minlength=n_classes) / len(yi)
    means, cov = [], 0.0
    for k in range(n_classes):
        Zk = Z[:, yi == k, :]
        mu = Zk.mean(1, keepdims=True)
        D = Zk - mu
        if shrinkage == "auto":
            cov = cov + priors[k] * ledoit_wolf_cov(xb, D)
        else:
            cov = cov + priors[k] * (_t(D) @ D) / Zk.shape[1]
        means.append(mu)
    M = _t(_cat(xb, means))  # (T, F, K)
    if shrinkage != "auto":
        lam = float(shrinkage)
        trace = (cov * _eye(xb, f)).sum((-2, -1), keepdims=True) / f
        cov = (1 - lam) * cov + lam * trace * _eye(xb, f)
    W = _solve_spd(xb, cov, M)  # (T, F, K)
    b = -0.5 * (M * W).sum(1) + xb.asarray(np.log(priors))
    if offset is not None and sd is None and n_classes > 2 and np.any(offset):
        # raw class means (standardised ones are centred on the training mean: no shift)
        c = xb.asarray(np.broadcast_to(np.asarray(offset), (W.shape[0], 1, f)))  # (T, 1, F)
        W = W + _solve_spd(xb, cov, _t(c))  # Σ⁻¹c: common to every class
    if n_classes == 2:
        W, b = W[..., 1:] - W[..., :1], b[..., 1:] - b[..., :1]
    if sd is not None:
        W = W / _t(sd)
        b = b - (m @ W)[:, 0, :]
    return W, b


def ledoit_wolf_cov(xb: Backend, D: Any) -> Any:
    """Ledoit–Wolf shrunk covariance of centred samples ``D`` ``(T, n, F)`` at every time point,
    estimated on z-scored features and scaled back (scikit-learn's LDA ``shrinkage="auto"``).

    With ``X`` the z-scored samples and ``C = XᵀX/n``, ``μ = tr(C)/F``: the optimal weight of
    ``μI`` is ``λ = min(β, δ)/δ`` with ``δ = ||C − μI||²_F / F`` and
    ``β = (Σ_i ||x_i||⁴ / n − ||C||²_F) / (F n)`` (Ledoit & Wolf 2004, J. Multivar. Anal. 88:365).
    """
    n, f = D.shape[1], D.shape[2]
    sd = xb.sqrt((D * D).mean(1, keepdims=True))
    sd = sd + (sd == 0) * 1.0
    X = D / sd
    C = _t(X) @ X / n
    eye = _eye(xb, f)
    mu = (C * eye).sum((-2, -1), keepdims=True) / f
    sq = (C * C).sum((-2, -1), keepdims=True)
    beta_ = ((X * X).sum(-1) ** 2).sum(-1)[:, None, None]
    beta = (beta_ / n - sq) / (f * n)
    delta = ((C - mu * eye) ** 2).sum((-2, -1), keepdims=True) / f
    beta = beta * (beta <= delta) + delta * (beta > delta)
    lam = beta / (delta + (delta == 0) * 1.0)
    return _t(sd) * ((1 - lam) * C + lam * mu * eye) * sd


def _cat(xb: Backend, parts: list[Any]) -> Any:
    if xb.name == "numpy":
        return np.concatenate(parts, axis=1)
    return __import__("torch").cat(parts, dim=1)


def predict_classes(decision: np.ndarray) -> np.ndarray:
    """Class indices from decision values ``(..., n, K)`` (one output: ``> 0`` means class 1)."""
    if decision.shape[-1] == 1:
        return (decision[..., 0] > 0).astype(np.int64)
    return decision.argmax(-1)
