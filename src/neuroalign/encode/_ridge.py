"""Ridge regression with one regularisation per target chosen by cross-validation.

The kernel is written so that its cost is a few large matrix products per fold:

* one eigen-decomposition per fold, of the ``n_train × n_train`` Gram matrix ``Z Zᵀ`` when there
  are fewer training stimuli than features (dual), of the ``p × p`` covariance ``Zᵀ Z`` otherwise
  (primal), where ``Z`` are the fold's centred (and scaled) training features;
* for every α the held-out predictions are ``A · diag(1 / (s + α)) · B`` where ``A`` is computed
  once per fold and ``B`` once per chunk of targets — no solve per α or per target; in the primal
  case ``B`` comes from one product ``Xᵀ Y`` shared by all folds;
* the default criterion (squared error) needs only ``‖A D_α B − (Y_val − ȳ)‖²`` per target: one
  GEMM and one fused sum of squares per α, in float32;
* targets are read chunk by chunk (sized by ``memory_budget``), so ``Y`` may be memory-mapped, and
  row/column subsets of ``Y`` are read through :class:`TargetReader` without copying ``Y``.

Costs (n stimuli, p features, t targets, k folds, a alphas, r = min(n_train, p)):
``k · (r² · max(n_train, p) + r³)`` for the decompositions, ``n·p·t`` for ``XᵀY``,
``k · (r² + n_val·r) · t`` for ``B`` and ``a · n · r · t`` for the predictions (the dominant term).
Memory: the features (one float32 copy per fold while it is decomposed), ``k · (r² + n_val·r)``
floats for the fold factors and the target chunk (``memory_budget``).
"""

from __future__ import annotations

import warnings
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..core._backend import Backend, chunk_slices, get_backend, targets_per_chunk
from ..core._registry import lookup
from ..core._validation import parse_memory_budget
from ..core.exceptions import NeuroalignWarning, ValidationError
from ..core.metrics import SCORES
from ._ridge_inputs import (
    _DTYPES,
    _MAX_CHUNK,
    TargetReader,
    _check_inputs,
    _constant_targets,
    _prepare_x,
    _scaled_rows,
    make_folds,
)

__all__ = [
    "DEFAULT_ALPHAS",
    "RidgeCVResult",
    "solve_ridge",
    "solve_ridge_cv",
]

#: Default α grid: 11 values, 1e-2 ... 1e8 (widen it when many targets pick an edge value).
DEFAULT_ALPHAS: tuple[float, ...] = tuple(float(a) for a in np.logspace(-2, 8, 11))


@dataclass(frozen=True, eq=False)
class RidgeCVResult:
    """Output of :func:`solve_ridge_cv`.

    Attributes
    ----------
    best_alphas : array (n_targets,)
    cv_scores : array (n_alphas, n_targets)
        The selection criterion (``scoring``) of each α for each target, averaged over folds.
    coef : array (n_features, n_targets) or None
    intercept : array (n_targets,)
    x_mean, x_scale : array (n_features,)
        Centring and scaling applied to the features before the fit.
    cv_r2 : array (n_alphas, n_targets) or None
        Cross-validated R² of each α (k-fold: averaged over folds; GCV: ``1 − GCV / var``),
        whatever the selection criterion; comparable across targets and layers.
    """

    best_alphas: np.ndarray
    cv_scores: np.ndarray
    coef: np.ndarray | None
    intercept: np.ndarray
    x_mean: np.ndarray
    x_scale: np.ndarray
    cv_r2: np.ndarray | None = None

    @property
    def best_scores(self) -> np.ndarray:
        """The cross-validated criterion of each target at its chosen α (NaN for skipped ones)."""
        return _at_best(self.cv_scores, self.best_alphas_index)

    @property
    def best_alphas_index(self) -> np.ndarray:
        """Index of each target's chosen α in the grid (-1 for skipped, constant targets)."""
        filled = np.where(np.isnan(self.cv_scores), -np.inf, self.cv_scores)
        idx = np.argmax(filled, axis=0)
        return np.where(np.isnan(self.best_alphas), -1, idx)

    @property
    def best_r2(self) -> np.ndarray:
        """Cross-validated R² of each target at its chosen α."""
        if self.cv_r2 is None:
            return np.full(self.best_alphas.shape, np.nan)
        return _at_best(self.cv_r2, self.best_alphas_index)


def _at_best(values: np.ndarray, idx: np.ndarray) -> np.ndarray:
    out = values[np.maximum(idx, 0), np.arange(values.shape[1])].astype(np.float64)
    out[idx < 0] = np.nan
    return out


_BLAS: list[Any] = []
_ONE_THREAD: list[bool] = [False]  # True while BLAS is already held to one thread (fold pool)


def _blas_controller() -> Any:
    if not _BLAS:
        from threadpoolctl import ThreadpoolController

        _BLAS.append(ThreadpoolController())
    return _BLAS[0]


def _eigh(bk: Backend, gram: Any) -> tuple[Any, Any]:
    """``bk.eigh``; with NumPy, on one BLAS thread. LAPACK's symmetric eigensolver is a chain of
    small BLAS-2 calls that threads barely speed up and that busy-waiting threads slow down
    pathologically on a shared machine (1024 × 1024 float32: 0.6 s on one thread, 13-25 s on two
    while other processes compete for the cores)."""
    if bk.name != "numpy" or _ONE_THREAD[0]:
        return bk.eigh(gram)
    with _blas_controller().limit(limits=1, user_api="blas"):
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
    mean: np.ndarray
    mean_b: Any
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


def solve_ridge_cv(
    X: Any,
    Y: Any,
    alphas: Iterable[float] = DEFAULT_ALPHAS,
    cv: int | str | Any = 5,
    groups: np.ndarray | None = None,
    scoring: str = "neg_mse_score",
    fit_intercept: bool = True,
    standardize: bool = False,
    device: str | None = None,
    dtype: str = "float32",
    memory_budget: int | str = 2**30,
    keep_coef: bool = True,
    shuffle: bool = True,
    seed: int | None = 0,
    feature_weights: np.ndarray | None = None,
) -> RidgeCVResult:
    """Fit ridge regression with a cross-validated α per target.

    Parameters
    ----------
    X : array (n_stimuli, n_features)
    Y : array (n_stimuli, n_targets) or TargetReader
        May be memory-mapped: it is read chunk by chunk and never copied whole.
    alphas : iterable of float
        Candidate regularisation strengths.
    cv : int, "gcv" or scikit-learn splitter
        Folds for choosing α (see :func:`make_folds`), or ``"gcv"``: generalised cross-validation
        in closed form from a single decomposition of X (no folds; squared-error criterion).
    groups : array (n_stimuli,), optional
        Group labels (runs, sessions) that folds must not split.
    scoring : str
        Criterion that picks α with k-fold CV: a per-target score in
        ``neuroalign.core.metrics.SCORES``. The default ``"neg_mse_score"`` (squared error
        averaged over folds) is himalaya's and scikit-learn's; ``"r2_score"`` (R² averaged over
        folds) and ``"pearson_score"`` are options. GCV always uses squared error.
    fit_intercept, standardize : bool
        Centre (and scale) features and centre targets with each fold's training statistics.
    device : str, optional
        ``"cpu"`` (NumPy), ``"torch"``, ``"cuda"``.
    dtype : {"float32", "float64"}
    memory_budget : int or str
        Bytes (or ``"2GB"``) for one chunk of targets' intermediate arrays.
    keep_coef : bool
        Keep the ``(n_features, n_targets)`` coefficients (needed for ``predict``).
    shuffle, seed :
        With an int ``cv`` and no ``groups``: shuffled k-fold with this seed (default), or
        contiguous folds with ``shuffle=False``.
    feature_weights : array (n_features,), optional
        Multiply the (standardised) features by these weights before the fit (banded ridge).

    Returns
    -------
    RidgeCVResult
        Constant targets (zero variance) are excluded from fitting and reported with a warning:
        their scores and α are NaN, their coefficients 0 and their intercept the constant.

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(100, 20)); W = rng.normal(size=(20, 3))
    >>> res = solve_ridge_cv(X, X @ W + 3 * rng.normal(size=(100, 3)), alphas=np.logspace(-2, 4, 7))
    >>> res.best_alphas.tolist(), res.coef.shape
    ([10.0, 10.0, 10.0], (20, 3))
    """
    X, reader, alphas = _check_inputs(X, Y, alphas)
    if not (isinstance(cv, str) and cv == "gcv"):
        lookup(SCORES, scoring, "scoring")
        folds = _folds_for(X.shape[0], cv, groups, shuffle, seed)
    else:
        folds = None
    kwargs: dict[str, Any] = dict(
        fit_intercept=fit_intercept,
        standardize=standardize,
        device=device,
        dtype=dtype,
        memory_budget=parse_memory_budget(memory_budget),
        keep_coef=keep_coef,
        feature_weights=feature_weights,
    )
    const = _constant_targets(reader, kwargs["memory_budget"])
    if const.any():
        return _with_constant_targets(X, reader, const, alphas, folds, scoring, kwargs)
    return _solve_checked(X, reader, alphas, folds, scoring, kwargs)


def _folds_for(
    n: int, cv: Any, groups: Any, shuffle: bool, seed: int | None
) -> list[tuple[np.ndarray, np.ndarray]]:
    if isinstance(cv, str):
        raise ValidationError(
            f"cv={cv!r} is not supported; use an integer >= 2, 'gcv' or a scikit-learn splitter."
        )
    return make_folds(n, cv, groups, shuffle=shuffle, seed=seed)


def _solve_checked(
    X: np.ndarray,
    reader: TargetReader,
    alphas: np.ndarray,
    folds: list[tuple[np.ndarray, np.ndarray]] | None,
    scoring: str,
    kwargs: dict[str, Any],
) -> RidgeCVResult:
    """:func:`solve_ridge_cv` on inputs that were already checked (no constant targets)."""
    if folds is None:
        return _solve_gcv(X, reader, alphas, **kwargs)
    cv_scores, cv_r2, full = _kfold_scores(
        X,
        reader,
        alphas,
        folds,
        scoring,
        kwargs["fit_intercept"],
        kwargs["standardize"],
        kwargs["device"],
        kwargs["dtype"],
        kwargs["memory_budget"],
        kwargs["feature_weights"],
        refit=True,
    )
    best = alphas[np.argmax(cv_scores, axis=0)]
    _warn_edges(best, alphas)
    coef, intercept, x_mean, x_scale = _solve_ridge(X, reader, best, full=full, **kwargs)
    return RidgeCVResult(best, cv_scores, coef, intercept, x_mean, x_scale, cv_r2)


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
    return _Fold(tr, va, s, v, a, mean, bk.asarray(mean), bk.asarray(1.0 / scale), dual)


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
    with _blas_controller().limit(limits=1, user_api="blas"):
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
) -> tuple[np.ndarray, np.ndarray, _Full | None]:
    """Criterion and R² of every α for every target, averaged over folds: 2 × (n_alphas, n_targets),
    and with ``refit`` the decomposition of all rows when it was computed beside the folds'
    (see :func:`_all_fold_factors`), else ``None``.

    Each fold's decomposition is computed once; targets are then read chunk by chunk (one pass
    over Y). In the primal case the fold's training cross-products come from one shared
    ``Xᵀ Y``: with ``Z = (X − m) / s`` (fold statistics) and ``Z_val = A Vᵀ``,
    ``B = Vᵀ Z_trᵀ Y_tr = Vᵀ (XᵀY − m 1ᵀY) / s − Aᵀ Y_val``.
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
    x_full = bk.asarray(X) if primal else None
    p = X.shape[1]
    r_max = max(f.a.shape[1] for f in parts)
    n_va_max = max(len(f.va) for f in parts)
    per_target = bk.itemsize() * (2 * n + 2 * p + 3 * n_va_max + 2 * r_max)
    crit = np.zeros((len(alphas), t))
    r2 = np.zeros((len(alphas), t))
    inv_all = [1.0 / (f.s[None, :] + bk.asarray(alphas)[:, None]) for f in parts]
    step = min(_MAX_CHUNK, targets_per_chunk(per_target, memory_budget))
    for sl in chunk_slices(t, step):
        y = bk.asarray(reader.read(sl, _DTYPES[dtype]))
        y_sum = y.sum(0)
        xty = x_full.T @ y if x_full is not None else None  # (p, t_chunk), shared by the folds
        for f, inv in zip(parts, inv_all, strict=True):
            y_va = y[_idx(bk, f.va)]
            n_va, n_tr = len(f.va), len(f.tr)
            y_mean = (y_sum - y_va.sum(0)) / n_tr if fit_intercept else None
            if f.dual:
                y_tr = y[_idx(bk, f.tr)]
                b_mat = f.v.T @ (y_tr - y_mean if y_mean is not None else y_tr)
                del y_tr
            else:
                zty = (xty - f.mean_b[:, None] * y_sum[None, :]) * f.inv_scale[:, None]
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
    crit /= len(folds)
    r2 /= len(folds)
    return np.nan_to_num(crit, nan=-np.inf), r2, full


def _idx(bk: Backend, idx: np.ndarray) -> Any:
    return bk.asarray(idx).long() if bk.name == "torch" else idx


def _solve_gcv(
    X: np.ndarray,
    reader: TargetReader,
    alphas: np.ndarray,
    fit_intercept: bool,
    standardize: bool,
    device: str | None,
    dtype: str,
    memory_budget: int,
    keep_coef: bool,
    feature_weights: np.ndarray | None = None,
) -> RidgeCVResult:
    """α per target by generalised cross-validation, from one decomposition of X.

    With X = U S Vᵀ (centred), Z = Uᵀ Y and shrinkage f_k = s_k² / (s_k² + α):

        RSS(α) = ‖Y‖² − ‖Z‖² + Σ_k (1 − f_k)² Z_k²,   df(α) = Σ_k f_k (+1 for the intercept)
        GCV(α) = n · RSS(α) / (n − df(α))²

    so all α for all targets cost one ``(n_alphas × r) @ (r × n_targets)`` product after Z, and
    the coefficients one product with each target's own shrinkage.
    ``cv_scores`` hold ``1 − GCV / var(y)``, an estimate of out-of-sample R².
    """
    bk = get_backend(device, dtype)
    n, t = reader.n, reader.t
    x_all, mean, scale = _prepare_x(bk, X, slice(None), fit_intercept, standardize, feature_weights)
    s, v, dual = _factorise(bk, x_all)
    s_np = bk.to_numpy(s).astype(np.float64)
    keep = s_np > s_np.max(initial=0.0) * 1e-10 * max(x_all.shape)
    s_np = s_np[keep]
    v = v[:, _idx(bk, np.flatnonzero(keep))]
    sigma = np.sqrt(s_np)
    # U: left singular vectors (n, r); in the primal case U = X V / σ
    if dual:
        u = v
    else:
        u = x_all @ v
        u *= bk.asarray(1.0 / sigma)
    shrink = s_np[None, :] / (s_np[None, :] + alphas[:, None])  # (n_alphas, r)
    df = shrink.sum(1) + (1.0 if fit_intercept else 0.0)
    if (df >= n).any():
        raise ValidationError(
            f"GCV is undefined when the effective degrees of freedom reach n={n} (smallest α "
            f"{alphas[0]:g} gives df={df[0]:.1f}); use larger alphas or k-fold cv."
        )
    resid_w = bk.asarray((1.0 - shrink) ** 2)  # (n_alphas, r)
    cv_scores = np.empty((len(alphas), t))
    best = np.empty(t)
    coef = np.zeros((X.shape[1], t), dtype=_DTYPES[dtype]) if keep_coef else None
    intercept = np.zeros(t)
    sigma_b = bk.asarray(sigma)
    per_target = bk.itemsize() * (n + 4 * len(s_np) + X.shape[1] + len(alphas))
    step = min(4 * _MAX_CHUNK, targets_per_chunk(per_target, memory_budget))
    for sl in chunk_slices(t, step):
        y = bk.asarray(reader.read(sl, _DTYPES[dtype]))
        y_mean = y.mean(0) if fit_intercept else bk.zeros((y.shape[1],))
        # with an intercept X is centred, so U ⊥ 1 and Uᵀ(Y − ȳ) = UᵀY: no centred copy of Y
        z = u.T @ y  # (r, t_chunk)
        z2 = z * z
        ss = bk.to_numpy(_sumsq(bk, y)).astype(np.float64)
        if fit_intercept:
            ss -= n * bk.to_numpy(y_mean).astype(np.float64) ** 2
        rss = (
            ss[None, :]
            - bk.to_numpy(z2.sum(0)).astype(np.float64)[None, :]
            + bk.to_numpy(resid_w @ z2).astype(np.float64)
        )
        del z2
        gcv = n * np.clip(rss, 0.0, None) / (n - df[:, None]) ** 2
        var = ss / max(1, n - (1 if fit_intercept else 0))
        with np.errstate(divide="ignore", invalid="ignore"):
            cv_scores[:, sl] = 1.0 - gcv / var[None, :]
        idx = np.argmin(gcv, axis=0)
        best[sl] = alphas[idx]
        # each target's own shrinkage: 1/(σ²+α_j) on every component, in one product
        g = bk.asarray(1.0 / (s_np[:, None] + alphas[idx][None, :])) * z
        w = x_all.T @ (v @ g) if dual else v @ (sigma_b[:, None] * g)
        w_np = bk.to_numpy(w).astype(np.float64)
        w_np /= scale[:, None]  # in place: one float64 (p, t_chunk) array, not two
        del g, w
        if coef is not None:
            coef[:, sl] = w_np
        intercept[sl] = bk.to_numpy(y_mean) - mean @ w_np
    _warn_edges(best, alphas)
    return RidgeCVResult(best, cv_scores, coef, intercept, mean, scale, cv_scores.copy())


def _with_constant_targets(
    X: np.ndarray,
    reader: TargetReader,
    const: np.ndarray,
    alphas: np.ndarray,
    folds: list[tuple[np.ndarray, np.ndarray]] | None,
    scoring: str,
    kwargs: dict[str, Any],
) -> RidgeCVResult:
    """Fit the non-constant targets; report the constant ones (NaN scores and α, zero coef)."""
    if const.all():
        raise ValidationError("every target in Y is constant; there is nothing to fit.")
    idx = np.flatnonzero(const)
    warnings.warn(
        f"Y has {idx.size} constant target(s) (zero variance across stimuli), columns "
        f"{idx[:10].tolist()}{' ...' if idx.size > 10 else ''}: excluded from the fit; their "
        "scores and alphas are NaN.",
        NeuroalignWarning,
        stacklevel=3,
    )
    t = reader.t
    sub = _solve_checked(X, reader.subset(np.flatnonzero(~const)), alphas, folds, scoring, kwargs)
    scores = np.full((len(alphas), t), np.nan)
    scores[:, ~const] = sub.cv_scores
    r2 = np.full((len(alphas), t), np.nan)
    if sub.cv_r2 is not None:
        r2[:, ~const] = sub.cv_r2
    best = np.full(t, np.nan)
    best[~const] = sub.best_alphas
    coef = None
    if sub.coef is not None:
        coef = np.zeros((X.shape[1], t), dtype=sub.coef.dtype)
        coef[:, ~const] = sub.coef
    intercept = reader.first_row()
    intercept[~const] = sub.intercept
    return RidgeCVResult(best, scores, coef, intercept, sub.x_mean, sub.x_scale, r2)


def _warn_edges(best: np.ndarray, alphas: np.ndarray) -> None:
    best = best[np.isfinite(best)]
    if len(alphas) < 3 or best.size == 0:
        return
    low, high = int((best == alphas[0]).sum()), int((best == alphas[-1]).sum())
    if low + high > 0.05 * best.size:
        warnings.warn(
            f"the chosen alpha is at the edge of the grid for {low} target(s) (lowest, {alphas[0]:g}) "
            f"and {high} (highest, {alphas[-1]:g}) of {best.size}; widen alphas. (Targets with no "
            "predictable signal pick the highest alpha.)",
            NeuroalignWarning,
            stacklevel=3,
        )


def solve_ridge(
    X: Any,
    Y: Any,
    alphas: np.ndarray,
    fit_intercept: bool = True,
    standardize: bool = False,
    device: str | None = None,
    dtype: str = "float32",
    memory_budget: int | str = 2**30,
    keep_coef: bool = True,
    feature_weights: np.ndarray | None = None,
) -> tuple[np.ndarray | None, np.ndarray, np.ndarray, np.ndarray]:
    """Ridge fit with a given α per target (one decomposition shared by all targets).

    ``Y`` is an array (n_stimuli, n_targets) or a :class:`TargetReader`. Returns
    ``(coef (n_features, n_targets) or None, intercept (n_targets,), x_mean, x_scale)``.
    """
    return _solve_ridge(
        X,
        Y,
        alphas,
        fit_intercept=fit_intercept,
        standardize=standardize,
        device=device,
        dtype=dtype,
        memory_budget=memory_budget,
        keep_coef=keep_coef,
        feature_weights=feature_weights,
    )


def _solve_ridge(
    X: Any,
    Y: Any,
    alphas: np.ndarray,
    fit_intercept: bool = True,
    standardize: bool = False,
    device: str | None = None,
    dtype: str = "float32",
    memory_budget: int | str = 2**30,
    keep_coef: bool = True,
    feature_weights: np.ndarray | None = None,
    full: _Full | None = None,
) -> tuple[np.ndarray | None, np.ndarray, np.ndarray, np.ndarray]:
    """:func:`solve_ridge`, with the decomposition of all rows given when already computed
    (``full``, from :func:`_all_fold_factors`; the same arithmetic as computing it here)."""
    X = np.asarray(X)
    reader = Y if isinstance(Y, TargetReader) else TargetReader(np.asarray(Y))
    bk = get_backend(device, dtype)
    n, t = reader.n, reader.t
    alphas = np.broadcast_to(np.asarray(alphas, dtype=np.float64), (t,))
    if full is None:
        full = _full_factors(bk, X, fit_intercept, standardize, feature_weights)
    x_all, mean, scale, s, v, dual = full.x, full.mean, full.scale, full.s, full.v, full.dual
    coef = np.zeros((X.shape[1], t), dtype=_DTYPES[dtype]) if keep_coef else None
    intercept = np.zeros(t)
    per_target = bk.itemsize() * (n + 2 * v.shape[0] + X.shape[1])
    step = min(4 * _MAX_CHUNK, targets_per_chunk(per_target, parse_memory_budget(memory_budget)))
    for sl in chunk_slices(t, step):
        y = bk.asarray(reader.read(sl, _DTYPES[dtype]))
        y_mean = y.mean(0) if fit_intercept else bk.zeros((y.shape[1],))
        if fit_intercept:
            y -= y_mean
        b_mat = v.T @ y if dual else v.T @ (x_all.T @ y)  # (r, t_chunk)
        inv = 1.0 / (s[:, None] + bk.asarray(alphas[sl])[None, :])
        w = v @ (inv * b_mat)
        w = x_all.T @ w if dual else w  # primal coefficients on the scaled features
        w_np = bk.to_numpy(w).astype(np.float64)
        w_np /= scale[:, None]  # in place: one float64 (p, t_chunk) array, not two
        if coef is not None:
            coef[:, sl] = w_np
        intercept[sl] = bk.to_numpy(y_mean) - mean @ w_np
    return coef, intercept, mean, scale
