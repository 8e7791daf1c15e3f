"""The decompositions ridge needs and the k-fold α loop (see :mod:`._ridge` for the method).

- :func:`_all_fold_factors`: each fold's eigen-decomposition and held-out factor ``A``, folds in
  parallel on one BLAS thread each when ``memory_budget`` holds a second fold's temporaries, and
  the decomposition of all rows for the final fit (:func:`_full_factors`) as one more job;
- :func:`_kfold_scores`: one pass over the targets, chunk by chunk, scoring every α of every fold
  (``A · diag(1/(s + α)) · B`` and column sums; Pearson r from three sums);
- :func:`_factorise`, :func:`_eigh` and the column reductions shared with GCV and the final fit.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from ..core._backend import Backend, centre, chunk_slices, get_backend, targets_per_chunk
from ..core._registry import lookup
from ..core._threads import one_blas_thread
from ..core.metrics import SCORES
from ._ridge_inputs import (
    _DTYPES,
    _MAX_CHUNK,
    TargetReader,
    _prepare_x,
    _scaled_rows,
)

_ONE_THREAD: list[bool] = [False]  # True while BLAS is already held to one thread (fold pool)


def _eigh(bk: Backend, gram: Any) -> tuple[Any, Any]:
    """``bk.eigh``; with NumPy, on one BLAS thread. LAPACK's symmetric eigensolver is a chain of
    small BLAS-2 calls that threads barely speed up and that busy-waiting threads slow down
    pathologically on a shared machine (1024 × 1024 float32: 0.6 s on one thread, 13-25 s on two
    while other processes compete for the cores)."""
    if bk.name != "numpy" or _ONE_THREAD[0]:
        return bk.eigh(gram)
    with one_blas_thread():
        return bk.eigh(gram)


def _fold_workers(bk: Backend, n_folds: int, per_fold: int, memory_budget: int) -> int:
    """Folds factorised at once: one per core with NumPy (each on one BLAS thread), else 1.
    Each fold in flight holds its own temporaries (``per_fold`` bytes: the standardised training
    and validation rows, the Gram matrix and its eigenvectors), so every fold beyond the first
    counts against ``memory_budget``: with a budget that cannot hold a second fold's, the folds
    run one after another and the peak stays that of one fold."""
    import os

    if bk.name != "numpy":
        return 1
    extra = memory_budget // max(per_fold, 1)  # folds beyond the first that fit the budget
    return int(max(1, min(n_folds, os.cpu_count() or 1, 1 + extra)))


def _fold_bytes(bk: Backend, X: np.ndarray, folds: list[tuple[np.ndarray, np.ndarray]]) -> int:
    """Temporaries of one fold's factorisation: Z_tr, Z_va, the Gram matrix and V, and A."""
    n_tr = max(len(tr) for tr, _ in folds)
    n_va = max(len(va) for _, va in folds)
    p = X.shape[1]
    r = min(n_tr, p)
    return bk.itemsize() * ((n_tr + n_va) * p + 2 * r * r + n_va * r)


def _factorise(bk: Backend, z: Any) -> tuple[Any, Any, bool]:
    """Eigen-decomposition of the smaller of Z Zᵀ and Zᵀ Z: (eigenvalues, eigenvectors, dual)."""
    n, p = z.shape
    dual = n <= p
    gram = z @ z.T if dual else z.T @ z
    s, v = _eigh(bk, gram)
    del gram
    return bk.clip_min(s, 0.0), v, dual


def _sumsq(bk: Backend, a: Any) -> Any:
    """Column sums of squares without a temporary."""
    if bk.name == "numpy":
        return np.einsum("ij,ij->j", a, a)
    return a.norm(dim=0) ** 2  # torch


def _centre_columns(bk: Backend, y: Any) -> np.ndarray:
    """Subtract each column's mean from ``y`` in place; return the means (float64, NumPy).

    The solvers work on centred targets: sums of squares and cross-products of raw targets
    whose mean is large against their spread (fMRI signal near 1 000 that moves by 10) lose
    every significant digit in float32 when the mean is taken out afterwards. The mean is
    accumulated in float64 and taken out twice: the float32 rounding of a mean near 10⁴ (5e-4)
    is left in the first difference, the second takes it to the rounding of the spread."""
    total = np.zeros(y.shape[1])
    for _ in range(2):
        if bk.name == "numpy":
            m = y.mean(0, dtype=np.float64)
        else:
            m = bk.to_numpy(y.mean(0, dtype=_torch_float64()))
        y -= bk.asarray(m)
        total += m
    return total


def _torch_float64() -> Any:
    import torch

    return torch.float64


def _coldot(bk: Backend, a: Any, b: Any) -> Any:
    """Column sums of ``a * b`` without a temporary (NumPy)."""
    if bk.name == "numpy":
        return np.einsum("ij,ij->j", a, b)
    return (a * b).sum(0)  # torch


@dataclass(eq=False)
class _Fold:
    tr: np.ndarray
    va: np.ndarray
    s: Any
    v: Any
    a: Any
    mean: np.ndarray  # as _prepare_x subtracted it: rounded to the backend's dtype (float64)
    inv_scale: Any
    dual: bool


@dataclass(eq=False)
class _Full:
    """The decomposition of all rows for the final fit: scaled X, its moments, eigenpairs."""

    x: Any
    mean: np.ndarray
    scale: np.ndarray
    s: Any
    v: Any
    dual: bool

    def nbytes(self, bk: Backend) -> int:
        return bk.itemsize() * (int(np.prod(self.x.shape)) + int(np.prod(self.v.shape)))


def _full_factors(
    bk: Backend,
    X: np.ndarray,
    fit_intercept: bool,
    standardize: bool,
    weights: np.ndarray | None,
) -> _Full:
    x_all, mean, scale = _prepare_x(bk, X, slice(None), fit_intercept, standardize, weights)
    s, v, dual = _factorise(bk, x_all)
    return _Full(x_all, mean, scale, s, v, dual)


def _coef_chunk(
    bk: Backend, full: _Full, y: Any, y_mean: np.ndarray, alphas: np.ndarray, zty: Any = None
) -> tuple[np.ndarray, np.ndarray]:
    """Coefficients (float64 ``(p, t_chunk)``, on the original features) and intercepts of one
    chunk of targets ``y`` (centred when there is an intercept; ``y_mean`` their means), each
    with its own α. ``zty``: ``x_allᵀ y`` when the caller already has it (primal case)."""
    if full.dual:
        b_mat = full.v.T @ y
    else:
        b_mat = full.v.T @ (full.x.T @ y if zty is None else zty)  # (r, t_chunk)
    inv = 1.0 / (full.s[:, None] + bk.asarray(alphas)[None, :])
    w = full.v @ (inv * b_mat)
    w = full.x.T @ w if full.dual else w  # primal coefficients on the scaled features
    w_np = bk.to_numpy(w).astype(np.float64)
    w_np /= full.scale[:, None]  # in place: one float64 (p, t_chunk) array, not two
    return w_np, y_mean - full.mean @ w_np


def _fold_factors(
    bk: Backend,
    X: np.ndarray,
    tr: np.ndarray,
    va: np.ndarray,
    fit_intercept: bool,
    standardize: bool,
    weights: np.ndarray | None,
) -> _Fold:
    z_tr, mean, scale = _prepare_x(bk, X, tr, fit_intercept, standardize, weights)
    s, v, dual = _factorise(bk, z_tr)
    z_va = _scaled_rows(bk, X, va, mean, scale)
    a = (z_va @ z_tr.T) @ v if dual else z_va @ v  # held-out predictions = A diag(1/(s+α)) B
    del z_tr, z_va
    used = mean.astype(_DTYPES[bk.dtype]).astype(np.float64)
    return _Fold(tr, va, s, v, a, used, bk.asarray(1.0 / scale), dual)


def _all_fold_factors(
    bk: Backend,
    X: np.ndarray,
    folds: list[tuple[np.ndarray, np.ndarray]],
    fit_intercept: bool,
    standardize: bool,
    weights: np.ndarray | None,
    memory_budget: int,
    refit: bool = False,
) -> tuple[list[_Fold], _Full | None]:
    """:func:`_fold_factors` of every fold. With NumPy on several cores the folds run on one
    thread each with BLAS held to one thread: the eigensolver barely uses a second BLAS thread
    (see :func:`_eigh`), so decomposing two folds at once nearly halves the time of this phase.
    Each fold's arithmetic is the same as when run alone.

    With ``refit`` and folds in parallel, the decomposition of all rows that the final fit needs
    (:func:`_full_factors`) is one more job of the same pool, started first: five folds on two
    workers leave one idle in their last round, which the refit's eigh then fills. Returned as
    the second item (``None`` when the folds run one after another: the final fit then
    decomposes on its own, after the α loop, so its copy of X is not held during it)."""
    workers = _fold_workers(bk, len(folds), _fold_bytes(bk, X, folds), memory_budget)

    def one(fold: tuple[np.ndarray, np.ndarray] | None) -> _Fold | _Full:
        if fold is None:
            return _full_factors(bk, X, fit_intercept, standardize, weights)
        return _fold_factors(bk, X, fold[0], fold[1], fit_intercept, standardize, weights)

    if workers < 2:
        return [one(f) for f in folds], None  # type: ignore[misc]
    from concurrent.futures import ThreadPoolExecutor

    jobs: list[tuple[np.ndarray, np.ndarray] | None] = ([None] if refit else []) + list(folds)
    with one_blas_thread():
        _ONE_THREAD[0] = True
        try:
            with ThreadPoolExecutor(workers) as pool:
                done = list(pool.map(one, jobs))
        finally:
            _ONE_THREAD[0] = False
    full = done.pop(0) if refit else None
    return done, full  # type: ignore[return-value]


def _kfold_scores(
    X: np.ndarray,
    reader: TargetReader,
    alphas: np.ndarray,
    folds: list[tuple[np.ndarray, np.ndarray]],
    scoring: str,
    fit_intercept: bool,
    standardize: bool,
    device: str | None,
    dtype: str,
    memory_budget: int,
    weights: np.ndarray | None = None,
    refit: bool = False,
    keep_coef: bool = True,
) -> tuple[np.ndarray, np.ndarray, _Full | None, tuple[np.ndarray | None, np.ndarray] | None]:
    """Criterion and R² of every α for every target, averaged over folds: 2 × (n_alphas, n_targets),
    and with ``refit`` the decomposition of all rows when it was computed beside the folds'
    (see :func:`_all_fold_factors`), else ``None``, and then the final fit too:
    ``(coef or None, intercept)`` at each target's best α, else ``None``.

    The final fit is done chunk by chunk inside the same pass: a chunk's CV scores are complete
    once every fold has scored it, so its α is known while its targets and their cross-product
    with the features are still at hand (Y is read once, and ``Xᵀ Y`` computed once).

    Each fold's decomposition is computed once; targets are then read chunk by chunk (one pass
    over Y). In the primal case the fold's training cross-products come from one shared
    product of the centred features ``X_c = X − m̄`` (m̄: the mean of all rows) and the targets
    (centred too with an intercept): with ``Z = (X − m) / s`` (fold statistics),
    ``δ = m − m̄`` and ``Z_val = A Vᵀ``, ``B = Vᵀ Z_trᵀ Y_tr = Vᵀ (X_cᵀY − δ 1ᵀY) / s − Aᵀ Y_val``.
    Both centrings keep the products at the scale of the data's spread, not of its mean: from
    raw ``XᵀY`` the difference lost every digit in float32 when features and targets have
    large means (features near 5, targets near 1 000 moved 1 % of the chosen α).
    """
    bk = get_backend(device, dtype)
    score_fn = lookup(SCORES, scoring, "scoring")
    fast = scoring in ("neg_mse_score", "r2_score")
    # Pearson r from column sums of the prediction (3 passes, no temporaries) instead of
    # pearson_score's ~8 passes and 5 temporaries of (n_val, t) per α
    pearson = scoring == "pearson_score" and score_fn is SCORES["pearson_score"]
    n, t = reader.n, reader.t
    parts, full = _all_fold_factors(
        bk, X, folds, fit_intercept, standardize, weights, memory_budget, refit
    )
    if full is not None:  # held through the α loop: its bytes come out of the chunks' budget
        memory_budget = max(memory_budget - full.nbytes(bk), memory_budget // 4)
    primal = any(not f.dual for f in parts)
    centred = fit_intercept or standardize  # as _prepare_x centres the folds' features
    x_full, m_all = _centred_features(bk, X, centred) if primal else (None, None)
    p = X.shape[1]
    r_max = max(f.a.shape[1] for f in parts)
    n_va_max = max(len(f.va) for f in parts)
    per_target = bk.itemsize() * (2 * n + 2 * p + 3 * n_va_max + 2 * r_max)
    crit = np.zeros((len(alphas), t))
    r2 = np.zeros((len(alphas), t))
    coef: np.ndarray | None = None
    intercept = np.zeros(t)
    inv_scale_full = None
    if full is not None:  # the final fit in the same pass
        per_target += 8 * p + bk.itemsize() * r_max  # the chunk's float64 coefficients and B
        coef = np.zeros((p, t), dtype=_DTYPES[dtype]) if keep_coef else None
        # the final fit's x_allᵀ y from the shared product: x_all = x_full / scale (same mean)
        inv_scale_full = bk.asarray(1.0 / full.scale) if x_full is not None else None
    inv_all = [1.0 / (f.s[None, :] + bk.asarray(alphas)[:, None]) for f in parts]
    # each primal fold's mean − the mean of all rows (small): the shift of its shared product
    mean_shifts = [bk.asarray(f.mean - m_all) if m_all is not None else None for f in parts]
    step = min(_MAX_CHUNK, targets_per_chunk(per_target, memory_budget))
    for sl in chunk_slices(t, step):
        y = bk.asarray(reader.read(sl, _DTYPES[dtype]))
        # every fold centres its training targets: shift-invariant from here
        y_mean_all = _centre_columns(bk, y) if fit_intercept else np.zeros(y.shape[1])
        y_sum = y.sum(0)
        xty = x_full.T @ y if x_full is not None else None  # (p, t_chunk), shared by the folds
        for f, inv, mean_shift in zip(parts, inv_all, mean_shifts, strict=True):
            y_va = y[_idx(bk, f.va)]
            n_va, n_tr = len(f.va), len(f.tr)
            y_mean = (y_sum - y_va.sum(0)) / n_tr if fit_intercept else None
            if f.dual:
                y_tr = y[_idx(bk, f.tr)]
                b_mat = f.v.T @ (y_tr - y_mean if y_mean is not None else y_tr)
                del y_tr
            else:
                assert xty is not None and mean_shift is not None  # primal: x_full is there
                zty = (xty - mean_shift[:, None] * y_sum[None, :]) * f.inv_scale[:, None]
                b_mat = f.v.T @ zty - f.a.T @ y_va
                del zty
            resid = y_va - y_mean if y_mean is not None else y_va
            c = y_va - y_va.mean(0)
            sst = bk.to_numpy(_sumsq(bk, c)).astype(np.float64)
            if pearson:  # residual target = c + shift (shift: validation mean − training mean)
                shift = bk.to_numpy(resid.mean(0)).astype(np.float64)
            with np.errstate(divide="ignore", invalid="ignore"):
                for i in range(len(alphas)):
                    pred = (f.a * inv[i]) @ b_mat
                    if pearson:
                        s_p = bk.to_numpy(pred.sum(0)).astype(np.float64)
                        s_pp = bk.to_numpy(_sumsq(bk, pred)).astype(np.float64)
                        s_pc = bk.to_numpy(_coldot(bk, c, pred)).astype(np.float64)
                        den = sst * (s_pp - s_p * s_p / n_va)  # constant prediction: r = NaN
                        crit[i, sl] += np.where(den > 0, s_pc / np.sqrt(np.abs(den)), np.nan)
                        # Σ (pred − resid)² with resid = c + shift, Σ c = 0
                        sse = s_pp - 2.0 * (s_pc + shift * s_p) + sst + n_va * shift * shift
                    elif fast:
                        pred -= resid  # pred − (y_val − ȳ): the residual, in place
                        sse = bk.to_numpy(_sumsq(bk, pred)).astype(np.float64)
                        crit[i, sl] += -sse / n_va if scoring == "neg_mse_score" else 1 - sse / sst
                    else:
                        if y_mean is not None:
                            pred += y_mean
                        crit[i, sl] += bk.to_numpy(score_fn(y_va, pred)).astype(np.float64)
                        pred -= y_va
                        sse = bk.to_numpy(_sumsq(bk, pred)).astype(np.float64)
                    r2[i, sl] += 1.0 - sse / sst
            del pred, b_mat, resid, y_va, c
        if full is not None:
            best = np.argmax(np.nan_to_num(crit[:, sl] / len(folds), nan=-np.inf), axis=0)
            zty = xty * inv_scale_full[:, None] if inv_scale_full is not None else None
            w_np, intercept[sl] = _coef_chunk(bk, full, y, y_mean_all, alphas[best], zty)
            if coef is not None:
                coef[:, sl] = w_np
            del w_np, zty
    crit /= len(folds)
    r2 /= len(folds)
    fit = (coef, intercept) if full is not None else None
    return np.nan_to_num(crit, nan=-np.inf), r2, full, fit


def _centred_features(bk: Backend, X: np.ndarray, centred: bool) -> tuple[Any, np.ndarray]:
    """``X − m̄`` in the backend (m̄: the mean of all rows when the folds centre their features,
    else 0, as the folds' own means are then) and m̄ (float64)."""
    x = np.asarray(X, dtype=_DTYPES[bk.dtype])
    if not centred:
        return bk.asarray(x), np.zeros(X.shape[1])
    # the mean of the converted rows, as _prepare_x takes it (the final fit's x_all shares it)
    x_c, m_all = centre(x, 0)
    return bk.asarray(x_c), m_all


def _idx(bk: Backend, idx: np.ndarray) -> Any:
    return bk.asarray(idx).long() if bk.name == "torch" else idx
