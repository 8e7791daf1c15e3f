"""``RidgeEncoder``: a scikit-learn estimator over :func:`solve_ridge_cv`."""

from __future__ import annotations

from typing import Any

import numpy as np
from sklearn.base import BaseEstimator, RegressorMixin

from ..core._registry import lookup
from ..core._validation import check_array
from ..core.exceptions import NotFittedError, ShapeError
from ..core.metrics import SCORES
from ._ridge import DEFAULT_ALPHAS, solve_ridge_cv

__all__ = ["RidgeEncoder"]


class RidgeEncoder(RegressorMixin, BaseEstimator):
    """Voxelwise ridge regression with one α per target chosen by cross-validation.

    Parameters
    ----------
    alphas : sequence of float
        Candidate regularisation strengths.
    cv : int, "gcv" or scikit-learn splitter
        Folds used to choose α (pass ``groups`` to ``fit`` so runs/sessions are not split), or
        ``"gcv"`` for closed-form generalised cross-validation (fastest).
    scoring : str
        Per-target score used to choose α (``"r2_score"`` or ``"pearson_score"``).
    fit_intercept, standardize : bool
    device : str or None
        ``"cpu"``/``None`` (NumPy), ``"torch"``, ``"cuda"``.
    dtype : {"float32", "float64"}
    memory_budget : int
        Bytes per chunk of targets.
    keep_coef : bool
        Keep ``coef_`` (needed by ``predict``); ``False`` saves memory for very many targets.

    Attributes
    ----------
    best_alphas_ : array (n_targets,)
    cv_scores_ : array (n_alphas, n_targets)
    coef_ : array (n_features, n_targets)
    intercept_ : array (n_targets,)
    n_features_in_ : int

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(80, 20)); Y = X @ rng.normal(size=(20, 2)) + 3 * rng.normal(size=(80, 2))
    >>> enc = RidgeEncoder(alphas=np.logspace(-2, 4, 7)).fit(X[:60], Y[:60])
    >>> enc.best_alphas_, enc.score(X[60:], Y[60:], scoring="pearson_score").round(2)
    (array([10., 10.]), array([0.91, 0.85]))
    """

    def __init__(
        self,
        alphas: Any = DEFAULT_ALPHAS,
        cv: Any = 5,
        scoring: str = "r2_score",
        fit_intercept: bool = True,
        standardize: bool = False,
        device: str | None = None,
        dtype: str = "float32",
        memory_budget: int = 2**30,
        keep_coef: bool = True,
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

    def fit(self, X: Any, Y: Any, groups: np.ndarray | None = None) -> RidgeEncoder:
        """Choose α per target by cross-validation, then refit on all of ``X``, ``Y``."""
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
        )
        self.best_alphas_ = res.best_alphas
        self.cv_scores_ = res.cv_scores
        self.coef_ = res.coef
        self.intercept_ = res.intercept
        self.n_features_in_ = int(np.asarray(X).shape[1])
        self._y_1d = np.asarray(Y).ndim == 1
        return self

    @property
    def best_cv_scores_(self) -> np.ndarray:
        """Cross-validated score of each target at its chosen α (training data only)."""
        self._check_fitted()
        return self.cv_scores_[
            np.argmax(self.cv_scores_, axis=0), np.arange(self.cv_scores_.shape[1])
        ]

    def _check_fitted(self) -> None:
        if not hasattr(self, "coef_"):
            raise NotFittedError("This RidgeEncoder is not fitted yet; call fit(X, Y) first.")
        if self.coef_ is None:
            raise NotFittedError(
                "This RidgeEncoder was fitted with keep_coef=False; refit to predict."
            )

    def predict(self, X: Any) -> np.ndarray:
        """Predicted responses, shape (n_stimuli, n_targets)."""
        self._check_fitted()
        X = check_array(X, "X", ndim=2)
        if X.shape[1] != self.n_features_in_:
            raise ShapeError(
                f"X has {X.shape[1]} features but the encoder was fitted on {self.n_features_in_}."
            )
        pred = X @ self.coef_ + self.intercept_
        return pred[:, 0] if self._y_1d else pred

    def score(
        self, X: Any, Y: Any, sample_weight: Any = None, scoring: str | None = None
    ) -> np.ndarray:  # type: ignore[override]
        """Per-target score of the predictions (an array of shape (n_targets,), not a mean).

        ``scoring`` defaults to the estimator's ``scoring``; ``"pearson_score"`` gives Pearson r.
        """
        fn = lookup(SCORES, scoring or self.scoring, "scoring")
        pred = self.predict(X)
        Y = check_array(Y, "Y", ndim=(1, 2))
        if Y.ndim == 1:
            return fn(Y[:, None], pred[:, None])
        return fn(Y, pred)
