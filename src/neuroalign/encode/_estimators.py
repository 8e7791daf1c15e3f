"""``RidgeEncoder``: a scikit-learn estimator over :func:`solve_ridge_cv`."""

from __future__ import annotations

from typing import Any, cast

import numpy as np
from sklearn.base import BaseEstimator, RegressorMixin
from sklearn.utils.validation import check_is_fitted, validate_data

from ..core._backend import chunk_slices
from ..core._registry import lookup
from ..core._validation import check_array, check_finite, check_not_strings, parse_memory_budget
from ..core.exceptions import NotFittedError, ValidationError
from ..core.metrics import SCORES
from ._ridge import DEFAULT_ALPHAS, solve_ridge_cv
from ._ridge_inputs import check_alphas

__all__ = ["LinearEncoderMixin", "RidgeEncoder"]


def check_finite_chunked(arr: np.ndarray, name: str, axis_name: str = "target") -> None:
    """:func:`~neuroalign.core._validation.check_finite` over column chunks of a 2-D array, so
    that a large (memory-mapped) array never gets a full-size boolean temporary."""
    if arr.ndim < 2 or arr.size <= 1 << 22:
        check_finite(arr, name, axis_name=axis_name)
        return
    step = max(1, (1 << 22) // max(1, arr.shape[0]))
    bad, n_bad = [], 0
    for sl in chunk_slices(arr.shape[1], step):
        finite = np.isfinite(arr[:, sl])
        if not finite.all():
            n_bad += int((~finite).sum())
            bad.append(np.flatnonzero(~finite.all(0)) + sl.start)
    if bad:
        cols = np.concatenate(bad)
        raise ValidationError(
            f"{name} contains {n_bad} NaN or infinite value(s) (shape {arr.shape}); "
            f"{cols.size} {axis_name}(s) affected, first: {cols[:5].tolist()}. "
            "Drop or impute them before this step (e.g. exclude NaN voxels with a mask)."
        )


class LinearEncoderMixin(RegressorMixin):
    """What every linear encoder shares: the input contract of ``fit``, ``predict`` from
    ``coef_``/``intercept_``, ``score`` (one float: mean R² over targets, as scikit-learn),
    ``score_targets`` (one score per target) and multi-output tags."""

    def __sklearn_tags__(self) -> Any:
        tags = super().__sklearn_tags__()
        tags.target_tags.multi_output = True
        tags.target_tags.single_output = True
        return tags

    def _validate_fit(self, X: Any, y: Any) -> tuple[np.ndarray, np.ndarray]:
        # our NaN check first (its message names the offending columns), then scikit-learn's
        # input contract (sparse, complex, empty, object dtype, y=None), then the solver's checks
        check_not_strings(X, "X (the features)")
        check_not_strings(y, "y (the responses)")
        for name, arr in (("X", X), ("y", y)):
            if isinstance(arr, np.ndarray) and np.issubdtype(arr.dtype, np.floating):
                check_finite_chunked(arr, name, axis_name="target" if name == "y" else "feature")
        self._check_params()
        X, Y = validate_data(
            self,
            X,
            y,
            multi_output=True,
            y_numeric=True,
            ensure_all_finite=False,
            dtype=[np.float32, np.float64],
            ensure_min_samples=2,
        )
        self._y_1d = np.asarray(Y).ndim == 1
        return X, Y

    def _check_params(self) -> None:
        """Check the constructor parameters before any work (scikit-learn validates in fit)."""
        if hasattr(self, "alphas"):
            check_alphas(self.alphas)
        if hasattr(self, "memory_budget"):
            parse_memory_budget(self.memory_budget)
        if hasattr(self, "scoring"):
            lookup(SCORES, self.scoring, "scoring")

    def _check_fitted(self) -> None:
        check_is_fitted(self)

    def predict(self, X: Any) -> np.ndarray:
        """Predicted responses, shape (n_stimuli, n_targets)."""
        self._check_fitted()
        check_not_strings(X, "X (the features)")
        X = validate_data(
            self, X, reset=False, ensure_all_finite=False, dtype=[np.float32, np.float64]
        )
        X = check_array(X, "X", ndim=2)
        pred = X @ self.coef_ + self.intercept_  # type: ignore[attr-defined]
        return pred[:, 0] if self._y_1d else pred

    def score(self, X: Any, y: Any, sample_weight: Any = None) -> float:
        """One float: R² averaged over targets (scikit-learn's ``RegressorMixin.score`` with
        ``multioutput="uniform_average"``), so ``cross_val_score`` and grid searches work.

        Targets whose R² is undefined (constant in ``y``) are left out of the mean. Per-target
        scores: :meth:`score_targets`. ``sample_weight`` is not supported (must be None).
        """
        return float(np.nanmean(self.score_targets(X, y, sample_weight=sample_weight)))

    def score_targets(
        self, X: Any, y: Any, scoring: str = "r2_score", sample_weight: Any = None
    ) -> np.ndarray:
        """One score per target, shape (n_targets,) (``(1,)`` for 1-D ``y``).

        ``scoring`` names a per-target score in ``neuroalign.core.metrics.SCORES``
        (``"r2_score"``, ``"pearson_score"``, ``"neg_mse_score"``).
        """
        if sample_weight is not None:
            raise ValidationError(f"{type(self).__name__}.score does not support sample_weight.")
        fn = lookup(SCORES, scoring, "scoring")
        pred = np.asarray(self.predict(X))
        Y = check_array(y, "y", ndim=(1, 2))
        if Y.ndim == 1:
            Y, pred = Y[:, None], pred.reshape(-1, 1)
        return np.asarray(fn(Y, pred), dtype=np.float64)


class RidgeEncoder(LinearEncoderMixin, BaseEstimator):
    """Voxelwise ridge regression with one α per target chosen by cross-validation.

    Parameters
    ----------
    alphas : sequence of float
        Candidate regularisation strengths.
    cv : int, "gcv" or scikit-learn splitter
        Folds used to choose α: an int gives shuffled k-fold (seeded by ``seed``; contiguous
        with ``shuffle=False``; group k-fold when ``groups`` is passed to ``fit`` so runs/sessions
        are not split), or ``"gcv"`` for closed-form generalised cross-validation (fastest).
    scoring : str
        Criterion that chooses α: ``"neg_mse_score"`` (squared error averaged over folds, the
        default, as himalaya and scikit-learn), ``"r2_score"`` or ``"pearson_score"``.
    fit_intercept, standardize : bool
    device : str or None
        ``"cpu"``/``None`` (NumPy), ``"torch"``, ``"cuda"``.
    dtype : {"float32", "float64"}
    memory_budget : int or str
        Bytes per chunk of targets (``2**30`` or ``"1GB"``).
    keep_coef : bool
        Keep ``coef_`` (needed by ``predict``); ``False`` saves memory for very many targets.
    shuffle : bool
        Shuffle before splitting into folds (int ``cv`` without groups).
    seed : int or None
        Seed of the shuffled folds.

    Attributes
    ----------
    best_alphas_ : array (n_targets,)
    cv_scores_ : array (n_alphas, n_targets)
        The selection criterion of each α, averaged over folds.
    cv_r2_ : array (n_alphas, n_targets)
        Cross-validated R² of each α (whatever the criterion).
    coef_ : array (n_features, n_targets)
    intercept_ : array (n_targets,)
    n_features_in_ : int

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(80, 20)); Y = X @ rng.normal(size=(20, 2)) + 3 * rng.normal(size=(80, 2))
    >>> enc = RidgeEncoder(alphas=np.logspace(-2, 4, 7)).fit(X[:60], Y[:60])
    >>> enc.best_alphas_, enc.score_targets(X[60:], Y[60:], scoring="pearson_score").round(2)
    (array([10., 10.]), array([0.91, 0.85]))
    >>> round(enc.score(X[60:], Y[60:]), 2)  # one float: mean R² over targets
    0.76
    """

    def __init__(
        self,
        alphas: Any = DEFAULT_ALPHAS,
        cv: Any = 5,
        scoring: str = "neg_mse_score",
        fit_intercept: bool = True,
        standardize: bool = False,
        device: str | None = None,
        dtype: str = "float32",
        memory_budget: int | str = 2**30,
        keep_coef: bool = True,
        shuffle: bool = True,
        seed: int | None = 0,
    ) -> None:
        self.alphas = alphas
        self.cv = cv
        self.scoring = scoring
        self.fit_intercept = fit_intercept
        self.standardize = standardize
        self.device = device
        self.dtype = dtype
        self.memory_budget = memory_budget
        self.keep_coef = keep_coef
        self.shuffle = shuffle
        self.seed = seed

    def fit(self, X: Any, y: Any, groups: np.ndarray | None = None) -> RidgeEncoder:
        """Choose α per target by cross-validation, then refit on all of ``X``, ``y``.

        ``X`` (n_stimuli, n_features); ``y`` (n_stimuli,) or (n_stimuli, n_targets): the responses
        (Y elsewhere; ``y`` keeps scikit-learn's keyword), possibly
        memory-mapped; ``groups`` (n_stimuli,) labels runs/sessions that folds must not split.
        """
        X, Y = self._validate_fit(X, y)
        res = solve_ridge_cv(
            X,
            Y,
            alphas=self.alphas,
            cv=self.cv,
            groups=groups,
            scoring=self.scoring,
            fit_intercept=self.fit_intercept,
            standardize=self.standardize,
            device=self.device,
            dtype=self.dtype,
            memory_budget=self.memory_budget,
            keep_coef=self.keep_coef,
            shuffle=self.shuffle,
            seed=self.seed,
        )
        self.best_alphas_ = res.best_alphas
        self.cv_scores_ = res.cv_scores
        self.cv_r2_ = res.cv_r2
        self.coef_ = res.coef
        self.intercept_ = res.intercept
        return self

    @property
    def best_cv_scores_(self) -> np.ndarray:
        """Cross-validated criterion of each target at its chosen α (training data only)."""
        check_is_fitted(self)
        return self._at_best(self.cv_scores_)

    @property
    def best_cv_r2_(self) -> np.ndarray:
        """Cross-validated R² of each target at its chosen α (training data only)."""
        check_is_fitted(self)
        return self._at_best(cast(np.ndarray, self.cv_r2_))

    def _at_best(self, values: np.ndarray) -> np.ndarray:
        idx = np.argmax(np.where(np.isnan(self.cv_scores_), -np.inf, self.cv_scores_), axis=0)
        out = values[idx, np.arange(values.shape[1])].astype(np.float64)
        out[np.isnan(self.best_alphas_)] = np.nan
        return out

    def _check_fitted(self) -> None:
        check_is_fitted(self)
        if self.coef_ is None:
            raise NotFittedError(
                "This RidgeEncoder was fitted with keep_coef=False; refit to predict."
            )
