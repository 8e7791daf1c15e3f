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
from ._ridge_folds import (
    _centre_columns,
    _coef_chunk,
    _factorise,
    _Full,
    _full_factors,
    _idx,
    _kfold_scores,
    _sumsq,
)
from ._ridge_inputs import (
    _DTYPES,
    _MAX_CHUNK,
    TargetReader,
    _check_inputs,
    _constant_targets,
    _prepare_x,
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
    cv_scores, cv_r2, full, fit = _kfold_scores(
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
        keep_coef=kwargs["keep_coef"],
    )
    best = alphas[np.argmax(cv_scores, axis=0)]
    _warn_edges(best, alphas)
    if full is None or fit is None:  # folds decomposed one at a time: the refit decomposes now
        coef, intercept, x_mean, x_scale = solve_ridge(X, reader, best, **kwargs)
    else:  # fitted inside the k-fold pass (see _kfold_scores)
        (coef, intercept), x_mean, x_scale = fit, full.mean, full.scale
    return RidgeCVResult(best, cv_scores, coef, intercept, x_mean, x_scale, cv_r2)


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
    # eigenvalues below the dtype's rounding of the Gram matrix are noise: with an intercept the
    # centred rows' Gram matrix has a null direction (1) that float32 gives a small eigenvalue
    rel = max(1e-10, float(np.finfo(np.float32 if dtype == "float32" else np.float64).eps))
    keep = s_np > s_np.max(initial=0.0) * rel * max(x_all.shape)
    dropped = v[:, _idx(bk, np.flatnonzero(~keep))] if dual and not keep.all() else None
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
        # centred in place: ‖Y‖² − n ȳ² and Uᵀ Y (U ⊥ 1 only up to rounding) lose every digit
        # in float32 when the targets' mean is large against their spread
        y_mean = _centre_columns(bk, y) if fit_intercept else np.zeros(y.shape[1])
        z = u.T @ y  # (r, t_chunk)
        z2 = z * z
        ss = bk.to_numpy(_sumsq(bk, y)).astype(np.float64)
        # the part of Y no α fits: ‖Y‖² − ‖Z‖² in the primal case; in the dual one the
        # eigenvectors are a basis of all n rows, so it is the dropped directions' share, summed
        # directly (the difference is rounding alone there, and at small α the whole RSS)
        if dual:
            outside = 0.0 if dropped is None else bk.to_numpy(_sumsq(bk, dropped.T @ y))
        else:
            outside = ss - bk.to_numpy(z2.sum(0)).astype(np.float64)
        rss = np.asarray(outside, dtype=np.float64)[None, :] + bk.to_numpy(resid_w @ z2).astype(
            np.float64
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
        intercept[sl] = y_mean - mean @ w_np
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
    X = np.asarray(X)
    bk = get_backend(device, dtype)
    full = _full_factors(bk, X, fit_intercept, standardize, feature_weights)
    return _fit_with(bk, X, Y, alphas, full, fit_intercept, dtype, memory_budget, keep_coef)


def _fit_with(
    bk: Backend,
    X: np.ndarray,
    Y: Any,
    alphas: np.ndarray,
    full: _Full,
    fit_intercept: bool,
    dtype: str,
    memory_budget: int | str,
    keep_coef: bool,
) -> tuple[np.ndarray | None, np.ndarray, np.ndarray, np.ndarray]:
    """:func:`solve_ridge` given the decomposition of all rows (``full``: computed there, or
    beside the folds' by :func:`._ridge_folds._all_fold_factors`; the same arithmetic)."""
    reader = Y if isinstance(Y, TargetReader) else TargetReader(np.asarray(Y))
    n, t = reader.n, reader.t
    alphas = np.broadcast_to(np.asarray(alphas, dtype=np.float64), (t,))
    coef = np.zeros((X.shape[1], t), dtype=_DTYPES[dtype]) if keep_coef else None
    intercept = np.zeros(t)
    per_target = bk.itemsize() * (n + 2 * full.v.shape[0] + X.shape[1])
    step = min(4 * _MAX_CHUNK, targets_per_chunk(per_target, parse_memory_budget(memory_budget)))
    for sl in chunk_slices(t, step):
        y = bk.asarray(reader.read(sl, _DTYPES[dtype]))
        y_mean = _centre_columns(bk, y) if fit_intercept else np.zeros(y.shape[1])
        w_np, intercept[sl] = _coef_chunk(bk, full, y, y_mean, alphas[sl])
        if coef is not None:
            coef[:, sl] = w_np
    return coef, intercept, full.mean, full.scale
