"""``RidgeEncoder``: a scikit-learn estimator over :func:`solve_ridge_cv`."""

from __future__ import annotations

from typing import Any

import numpy as np
from sklearn.base import BaseEstimator, RegressorMixin
from sklearn.utils.validation import check_is_fitted, validate_data

from ..core._registry import lookup
from ..core._validation import check_array, check_finite
from ..core.exceptions import NotFittedError, ValidationError
from ..core.metrics import SCORES
from ._ridge import DEFAULT_ALPHAS, solve_ridge_cv

__all__ = ["LinearEncoderMixin", "RidgeEncoder"]


class LinearEncoderMixin(RegressorMixin):
    """What every linear encoder shares: the input contract of ``fit``, ``predict`` from
    ``coef_``/``intercept_``, a per-target ``score``, and multi-output tags."""

    scoring: str = "r2_score"

    def __sklearn_tags__(self) -> Any:
        tags = super().__sklearn_tags__()
        tags.target_tags.multi_output = True
        tags.target_tags.single_output = True
        return tags

    def _validate_fit(self, X: Any, y: Any) -> tuple[np.ndarray, np.ndarray]:
        # our NaN check first (its message names the offending columns), then scikit-learn's
        # input contract (sparse, complex, empty, object dtype, y=None), then the solver's checks
        for name, arr in (("X", X), ("y", y)):
            if isinstance(arr, np.ndarray) and np.issubdtype(arr.dtype, np.floating):
                check_finite(arr, name, axis_name="target" if name == "y" else "feature")
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

    def _check_fitted(self) -> None:
        check_is_fitted(self)

    def predict(self, X: Any) -> np.ndarray:
        """Predicted responses, shape (n_stimuli, n_targets)."""
        self._check_fitted()
        X = validate_data(
            self, X, reset=False, ensure_all_finite=False, dtype=[np.float32, np.float64]
        )
        X = check_array(X, "X", ndim=2)
        pred = X @ self.coef_ + self.intercept_  # type: ignore[attr-defined]
        return pred[:, 0] if self._y_1d else pred

    def score(  # type: ignore[override]
        self, X: Any, y: Any, sample_weight: Any = None, scoring: str | None = None
    ) -> np.ndarray | float:
        """Score of the predictions: per target for 2-D ``y`` (an array of shape (n_targets,),
        not a mean), a float for 1-D ``y`` (as scikit-learn's regressors).

        ``scoring`` defaults to the estimator's ``scoring``; ``"pearson_score"`` gives Pearson r.
        ``sample_weight`` is not supported (must be None).
        """
        if sample_weight is not None:
            raise ValidationError(f"{type(self).__name__}.score does not support sample_weight.")
        fn = lookup(SCORES, scoring or self.scoring, "scoring")
        pred = self.predict(X)
        Y = check_array(y, "y", ndim=(1, 2))
        if Y.ndim == 1:
            return float(fn(Y[:, None], np.asarray(pred).reshape(-1, 1))[0])
        return fn(Y, pred)


class RidgeEncoder(LinearEncoderMixin, BaseEstimator):
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
        )
        self.best_alphas_ = res.best_alphas
        self.cv_scores_ = res.cv_scores
        self.coef_ = res.coef
        self.intercept_ = res.intercept
        return self

    @property
    def best_cv_scores_(self) -> np.ndarray:
        """Cross-validated score of each target at its chosen α (training data only)."""
        self._check_fitted()
        return self.cv_scores_[
            np.argmax(self.cv_scores_, axis=0), np.arange(self.cv_scores_.shape[1])
        ]

    def _check_fitted(self) -> None:
        check_is_fitted(self)
        if self.coef_ is None:
            raise NotFittedError(
                "This RidgeEncoder was fitted with keep_coef=False; refit to predict."
            )
