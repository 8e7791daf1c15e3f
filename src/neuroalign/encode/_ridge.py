"""Ridge regression with one regularisation per target chosen by cross-validation.

The kernel is written so that its cost is a few large matrix products per fold:

* one eigen-decomposition per fold, of the ``n_train × n_train`` Gram matrix ``X Xᵀ`` when there
  are fewer stimuli than features, of the ``p × p`` covariance ``Xᵀ X`` otherwise;
* for every α the held-out predictions are ``A · diag(1 / (s + α)) · B`` where ``A`` and ``B`` are
  computed once per fold (``B`` once per chunk of targets) — no solve per α or per target;
* targets are processed in chunks sized by ``memory_budget``.

Costs (float32, n stimuli, p features, t targets, k folds, a alphas), per fold:
``O(min(n,p)² max(n,p))`` for the Gram/covariance, ``O(min(n,p)³)`` for ``eigh`` and
``O(a · n_val · min(n,p) · t)`` for the predictions.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..core._backend import Backend, chunk_slices, get_backend, targets_per_chunk
from ..core._registry import lookup
from ..core._validation import check_array, check_n_samples, check_same_length
from ..core.exceptions import NeuroalignWarning, ValidationError
from ..core.metrics import SCORES

__all__ = ["DEFAULT_ALPHAS", "RidgeCVResult", "make_folds", "solve_ridge", "solve_ridge_cv"]

#: Default α grid: 11 values, 1e-2 ... 1e8 (widen it when many targets pick an edge value).
DEFAULT_ALPHAS: tuple[float, ...] = tuple(float(a) for a in np.logspace(-2, 8, 11))


@dataclass(frozen=True, eq=False)
class RidgeCVResult:
    """Output of :func:`solve_ridge_cv`.

    Attributes
    ----------
    best_alphas : array (n_targets,)
    cv_scores : array (n_alphas, n_targets)
        Score of each α for each target, averaged over folds.
    coef : array (n_features, n_targets) or None
    intercept : array (n_targets,)
    x_mean, x_scale : array (n_features,)
        Centring and scaling applied to the features before the fit.
    """

    best_alphas: np.ndarray
    cv_scores: np.ndarray
    coef: np.ndarray | None
    intercept: np.ndarray
    x_mean: np.ndarray
    x_scale: np.ndarray

    @property
    def best_scores(self) -> np.ndarray:
        """The cross-validated score of each target at its chosen α."""
        idx = np.argmax(self.cv_scores, axis=0)
        return self.cv_scores[idx, np.arange(self.cv_scores.shape[1])]


def make_folds(
    n: int, cv: int | Any = 5, groups: np.ndarray | None = None
) -> list[tuple[np.ndarray, np.ndarray]]:
    """Train/validation index pairs from ``cv``: an int (contiguous k-fold, or group k-fold when
    ``groups`` is given, so runs/sessions are never split) or a scikit-learn splitter."""
    from sklearn.model_selection import GroupKFold, KFold

    if isinstance(cv, (int, np.integer)):
        if cv < 2:
            raise ValidationError(f"cv must be >= 2 folds; got {cv}.")
        if groups is not None:
            n_groups = len(np.unique(groups))
            if n_groups < cv:
                raise ValidationError(
                    f"cv={cv} folds but groups has only {n_groups} distinct values."
                )
            splitter: Any = GroupKFold(n_splits=int(cv))
        else:
            check_n_samples(n, int(cv))
            splitter = KFold(n_splits=int(cv))
    else:
        splitter = cv
    dummy = np.zeros((n, 1))
    folds = [(np.asarray(tr), np.asarray(va)) for tr, va in splitter.split(dummy, None, groups)]
    if not folds:
        raise ValidationError(f"cv={cv!r} produced no folds.")
    return folds


def _factorise(bk: Backend, x_tr: Any) -> tuple[Any, Any, bool]:
    """Eigen-decomposition of the smaller of X Xᵀ and Xᵀ X: (eigenvalues, eigenvectors, dual)."""
    n, p = x_tr.shape
    dual = n <= p
    gram = x_tr @ x_tr.T if dual else x_tr.T @ x_tr
    s, v = bk.eigh(gram)
    return bk.clip_min(s, 0.0), v, dual


def _check_inputs(
    X: Any, Y: Any, alphas: Iterable[float]
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    X = check_array(X, "X", ndim=2, min_rows=2)
    Y = check_array(Y, "Y", ndim=(1, 2))
    if Y.ndim == 1:
        Y = Y[:, None]
    check_same_length("X rows (stimuli)", X.shape[0], "Y rows (stimuli)", Y.shape[0])
    alphas = np.sort(np.atleast_1d(np.asarray(list(alphas), dtype=np.float64)))
    if alphas.size == 0 or (alphas <= 0).any() or not np.isfinite(alphas).all():
        raise ValidationError(f"alphas must be positive and finite; got {alphas.tolist()}.")
    return X, Y, alphas


def _prepare_x(
    bk: Backend, X: np.ndarray, rows: np.ndarray | slice, fit_intercept: bool, standardize: bool
) -> tuple[Any, np.ndarray, np.ndarray]:
    x = X[rows]
    mean = x.mean(0) if fit_intercept or standardize else np.zeros(X.shape[1])
    scale = np.ones(X.shape[1])
    if standardize:
        sd = x.std(0)
        scale = np.where(sd > 0, sd, 1.0)
    return bk.asarray((x - mean) / scale), mean, scale


def solve_ridge_cv(
    X: Any,
    Y: Any,
    alphas: Iterable[float] = DEFAULT_ALPHAS,
    cv: int | str | Any = 5,
    groups: np.ndarray | None = None,
    scoring: str = "r2_score",
    fit_intercept: bool = True,
    standardize: bool = False,
    device: str | None = None,
    dtype: str = "float32",
    memory_budget: int = 2**30,
    keep_coef: bool = True,
) -> RidgeCVResult:
    """Fit ridge regression with a cross-validated α per target.

    Parameters
    ----------
    X : array (n_stimuli, n_features)
    Y : array (n_stimuli, n_targets) — may be a memory-mapped array; read chunk by chunk.
    alphas : iterable of float
        Candidate regularisation strengths.
    cv : int, "gcv" or scikit-learn splitter
        Folds for choosing α (see :func:`make_folds`), or ``"gcv"``: generalised cross-validation
        in closed form from a single decomposition of X (no folds; squared-error criterion;
        much faster, see the module docs).
    groups : array (n_stimuli,), optional
        Group labels (runs, sessions) that folds must not split.
    scoring : str
        Name of a per-target score in ``neuroalign.core.metrics.SCORES`` (``r2_score``,
        ``pearson_score``) used to pick α with k-fold CV. GCV always uses squared error.
    fit_intercept, standardize : bool
        Centre (and scale) features and centre targets with training statistics.
    device : str, optional
        ``"cpu"`` (NumPy), ``"torch"``, ``"cuda"``.
    dtype : {"float32", "float64"}
    memory_budget : int
        Bytes for one chunk of targets' intermediate arrays.
    keep_coef : bool
        Keep the ``(n_features, n_targets)`` coefficients (needed for ``predict``).

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
    X, Y, alphas = _check_inputs(X, Y, alphas)
    kwargs: dict[str, Any] = dict(
        fit_intercept=fit_intercept,
        standardize=standardize,
        device=device,
        dtype=dtype,
        memory_budget=memory_budget,
        keep_coef=keep_coef,
    )
    const = _constant_targets(Y)
    if const.any():
        return _with_constant_targets(X, Y, const, alphas, cv, groups, scoring, kwargs)
    return _solve_checked(X, Y, alphas, cv, groups, scoring, kwargs)


def _solve_checked(
    X: np.ndarray,
    Y: np.ndarray,
    alphas: np.ndarray,
    cv: int | str | Any,
    groups: np.ndarray | None,
    scoring: str,
    kwargs: dict[str, Any],
) -> RidgeCVResult:
    """:func:`solve_ridge_cv` on inputs that were already checked (no constant targets)."""
    if isinstance(cv, str):
        if cv != "gcv":
            raise ValidationError(
                f"cv={cv!r} is not supported; use an int, 'gcv' or a scikit-learn splitter."
            )
        return _solve_gcv(X, Y, alphas, **kwargs)
    cv_scores = _kfold_scores(
        X,
        Y,
        alphas,
        make_folds(X.shape[0], cv, groups),
        scoring,
        kwargs["fit_intercept"],
        kwargs["standardize"],
        kwargs["device"],
        kwargs["dtype"],
        kwargs["memory_budget"],
    )
    best = alphas[np.argmax(cv_scores, axis=0)]
    _warn_edges(best, alphas)
    coef, intercept, x_mean, x_scale = solve_ridge(X, Y, best, **kwargs)
    return RidgeCVResult(best, cv_scores, coef, intercept, x_mean, x_scale)


def _kfold_scores(
    X: np.ndarray,
    Y: np.ndarray,
    alphas: np.ndarray,
    folds: list[tuple[np.ndarray, np.ndarray]],
    scoring: str,
    fit_intercept: bool,
    standardize: bool,
    device: str | None,
    dtype: str,
    memory_budget: int,
) -> np.ndarray:
    """Score of every α for every target, averaged over folds: (n_alphas, n_targets).

    Each fold's decomposition is computed once; targets are then read chunk by chunk (one pass
    over Y), and for each chunk the training cross-products of every fold come from one product
    ``Xᵀ Y`` minus the fold's held-out part.
    """
    bk = get_backend(device, dtype)
    score_fn = lookup(SCORES, scoring, "scoring")
    n, t = Y.shape
    x_full = bk.asarray(X)
    fold_parts = []
    for tr, va in folds:
        x_tr, mean, scale = _prepare_x(bk, X, tr, fit_intercept, standardize)
        x_va = bk.asarray((X[va] - mean) / scale)
        s, v, dual = _factorise(bk, x_tr)
        # held-out predictions = A diag(1/(s+α)) B, with A: (n_val, r) fixed per fold
        a_mat = (x_va @ x_tr.T) @ v if dual else x_va @ v
        inv = 1.0 / (s[None, :] + bk.asarray(alphas)[:, None])  # (n_alphas, r)
        fold_parts.append((tr, va, bk.asarray(mean), bk.asarray(1.0 / scale), v, dual, a_mat, inv))
    p = X.shape[1]
    r_max = max(part[4].shape[1] for part in fold_parts)
    n_va_max = max(len(part[1]) for part in fold_parts)
    per_target = bk.itemsize() * (n + 2 * p + 3 * n_va_max + 2 * r_max)
    cv_scores = np.zeros((len(alphas), t))
    for sl in chunk_slices(t, targets_per_chunk(per_target, memory_budget)):
        y_all = bk.asarray(Y[:, sl])
        xty = x_full.T @ y_all  # (p, t_chunk), shared by every fold
        for tr, va, mean, inv_scale, v, dual, a_mat, inv in fold_parts:
            y_va = y_all[va]
            y_tr_sum = y_all.sum(0) - y_va.sum(0)
            y_mean = y_tr_sum / len(tr) if fit_intercept else 0.0
            if dual:
                b_mat = v.T @ (y_all[tr] - y_mean)
            else:  # (X_tr − m)ᵀ(Y_tr − ȳ) from the shared XᵀY: − X_vaᵀY_va − m·(1ᵀY_tr)
                xty_tr = xty - bk.asarray(X[va]).T @ y_va - mean[:, None] * y_tr_sum[None, :]
                b_mat = v.T @ (xty_tr * inv_scale[:, None])
            for i in range(len(alphas)):
                pred = (a_mat * inv[i]) @ b_mat + y_mean
                cv_scores[i, sl] += bk.to_numpy(score_fn(y_va, pred))
    cv_scores /= len(folds)
    return np.nan_to_num(cv_scores, nan=-np.inf)


def _solve_gcv(
    X: np.ndarray,
    Y: np.ndarray,
    alphas: np.ndarray,
    fit_intercept: bool,
    standardize: bool,
    device: str | None,
    dtype: str,
    memory_budget: int,
    keep_coef: bool,
) -> RidgeCVResult:
    """α per target by generalised cross-validation, from one decomposition of X.

    With X = U S Vᵀ (centred), Z = Uᵀ Y and shrinkage f_k = s_k² / (s_k² + α):

        RSS(α) = ‖Y‖² − ‖Z‖² + Σ_k (1 − f_k)² Z_k²,   df(α) = Σ_k f_k (+1 for the intercept)
        GCV(α) = n · RSS(α) / (n − df(α))²

    so all α for all targets cost one ``(n_alphas × r) @ (r × n_targets)`` product after Z.
    ``cv_scores`` hold ``1 − GCV / var(y)``, an estimate of out-of-sample R².
    """
    bk = get_backend(device, dtype)
    n, t = Y.shape
    x_all, mean, scale = _prepare_x(bk, X, slice(None), fit_intercept, standardize)
    s, v, dual = _factorise(bk, x_all)
    s_np = bk.to_numpy(s).astype(np.float64)
    keep = s_np > s_np.max(initial=0.0) * 1e-10 * max(x_all.shape)
    s_np = s_np[keep]
    v = v[:, bk.asarray(np.flatnonzero(keep)).long()] if bk.name == "torch" else v[:, keep]
    sigma = np.sqrt(s_np)
    # U: left singular vectors (n, r); in the primal case U = X V / σ
    u = v if dual else (x_all @ v) * bk.asarray(1.0 / sigma)
    shrink = s_np[None, :] / (s_np[None, :] + alphas[:, None])  # (n_alphas, r)
    df = shrink.sum(1) + (1.0 if fit_intercept else 0.0)
    if (df >= n).any():
        raise ValidationError(
            f"GCV is undefined when the effective degrees of freedom reach n={n} (smallest α "
            f"{alphas[0]:g} gives df={df[0]:.1f}); use larger alphas or k-fold cv."
        )
    resid_w = bk.asarray((1.0 - shrink) ** 2)  # (n_alphas, r)
    gain = sigma / (s_np[None, :] + alphas[:, None])  # coefficient factor per α: σ/(σ²+α)
    cv_scores = np.empty((len(alphas), t))
    best = np.empty(t)
    coef = (
        np.zeros((X.shape[1], t), dtype=np.float32 if dtype == "float32" else np.float64)
        if keep_coef
        else None
    )
    intercept = np.zeros(t)
    per_target = bk.itemsize() * (n + 3 * len(s_np) + X.shape[1] + len(alphas))
    for sl in chunk_slices(t, targets_per_chunk(per_target, memory_budget)):
        y = bk.asarray(Y[:, sl])
        y_mean = y.mean(0) if fit_intercept else bk.zeros((y.shape[1],))
        # with an intercept X is centred, so U ⊥ 1 and Uᵀ(Y − ȳ) = UᵀY: no centred copy of Y
        z = u.T @ y  # (r, t_chunk)
        z2 = z * z
        ss = bk.to_numpy((y * y).sum(0)).astype(np.float64)
        if fit_intercept:
            ss -= n * bk.to_numpy(y_mean).astype(np.float64) ** 2
        rss = (
            ss[None, :]
            - bk.to_numpy(z2.sum(0)).astype(np.float64)[None, :]
            + bk.to_numpy(resid_w @ z2)
        )
        gcv = n * np.clip(rss, 0.0, None) / (n - df[:, None]) ** 2
        var = ss / max(1, n - (1 if fit_intercept else 0))
        cv_scores[:, sl] = 1.0 - gcv / var[None, :]
        idx = np.argmin(gcv, axis=0)
        best[sl] = alphas[idx]
        w_np = np.zeros((X.shape[1], idx.size))
        for a in np.unique(idx):  # one matrix product per distinct α
            cols = np.flatnonzero(idx == a)
            zc = z[:, bk.asarray(cols).long()] if bk.name == "torch" else z[:, cols]
            if dual:  # w = Xᵀ U diag(1/(σ²+α)) Z
                w = x_all.T @ (v @ (bk.asarray(gain[a] / sigma)[:, None] * zc))
            else:  # w = V diag(σ/(σ²+α)) Z
                w = v @ (bk.asarray(gain[a])[:, None] * zc)
            w_np[:, cols] = bk.to_numpy(w)
        w_np /= scale[:, None]
        if coef is not None:
            coef[:, sl] = w_np
        intercept[sl] = bk.to_numpy(y_mean) - mean @ w_np
    _warn_edges(best, alphas)
    return RidgeCVResult(best, cv_scores, coef, intercept, mean, scale)


def _constant_targets(Y: np.ndarray) -> np.ndarray:
    return np.ptp(Y, axis=0) == 0


def _with_constant_targets(
    X: np.ndarray,
    Y: np.ndarray,
    const: np.ndarray,
    alphas: np.ndarray,
    cv: int | str | Any,
    groups: np.ndarray | None,
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
    t = Y.shape[1]
    sub = _solve_checked(X, Y[:, ~const], alphas, cv, groups, scoring, kwargs)
    scores = np.full((len(alphas), t), np.nan)
    scores[:, ~const] = sub.cv_scores
    best = np.full(t, np.nan)
    best[~const] = sub.best_alphas
    coef = None
    if sub.coef is not None:
        coef = np.zeros((X.shape[1], t), dtype=sub.coef.dtype)
        coef[:, ~const] = sub.coef
    intercept = Y[0].astype(np.float64).copy()
    intercept[~const] = sub.intercept
    return RidgeCVResult(best, scores, coef, intercept, sub.x_mean, sub.x_scale)


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
    memory_budget: int = 2**30,
    keep_coef: bool = True,
) -> tuple[np.ndarray | None, np.ndarray, np.ndarray, np.ndarray]:
    """Ridge fit with a given α per target (one decomposition shared by all targets).

    Returns ``(coef (n_features, n_targets) or None, intercept (n_targets,), x_mean, x_scale)``.
    """
    X = np.asarray(X)
    bk = get_backend(device, dtype)
    n, t = Y.shape
    alphas = np.broadcast_to(np.asarray(alphas, dtype=np.float64), (t,))
    x_all, mean, scale = _prepare_x(bk, X, slice(None), fit_intercept, standardize)
    s, v, dual = _factorise(bk, x_all)
    coef = (
        np.zeros((X.shape[1], t), dtype=np.float32 if dtype == "float32" else np.float64)
        if keep_coef
        else None
    )
    intercept = np.zeros(t)
    per_target = bk.itemsize() * (n + 2 * v.shape[0] + X.shape[1])
    for sl in chunk_slices(t, targets_per_chunk(per_target, memory_budget)):
        y = bk.asarray(Y[:, sl])
        y_mean = y.mean(0) if fit_intercept else bk.zeros((y.shape[1],))
        y = y - y_mean
        b_mat = v.T @ y if dual else v.T @ (x_all.T @ y)  # (r, t_chunk)
        inv = 1.0 / (s[:, None] + bk.asarray(alphas[sl])[None, :])
        w = v @ (inv * b_mat)
        w = x_all.T @ w if dual else w  # primal coefficients on the scaled features
        w_np = bk.to_numpy(w) / scale[:, None]
        if coef is not None:
            coef[:, sl] = w_np
        intercept[sl] = bk.to_numpy(y_mean) - mean @ w_np
    return coef, intercept, mean, scale
