"""Banded ridge: one regularisation per feature space (and per target), and variance partitioning.

A banded ridge with space weights γ (on the simplex) and overall α is an ordinary ridge on the
features ``[√γ₁ Z₁, …, √γ_m Z_m]`` (``Z_i`` the space z-scored with each fold's training
statistics): the penalty on space i's weights is α/γ_i. The γ are searched at random on the
simplex (its corners, its centre and Dirichlet(1) draws, seeded); for each γ the k-fold kernel of
:func:`solve_ridge_cv` scores every α for every target, and each target keeps its best (γ, α).
This is the random-search strategy of himalaya's banded ridge, on our kernel.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from itertools import combinations, pairwise
from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator

from ..core._progress import track
from ..core._validation import check_array, check_same_length, parse_memory_budget
from ..core.exceptions import NeuroalignWarning, ValidationError
from ..core.metrics import r2_score
from ._estimators import LinearEncoderMixin
from ._ridge import DEFAULT_ALPHAS, solve_ridge
from ._ridge_folds import _kfold_scores
from ._ridge_inputs import _check_inputs, _constant_targets, make_folds

__all__ = [
    "BandedRidgeEncoder",
    "BandedRidgeResult",
    "simplex_candidates",
    "solve_banded_ridge_cv",
    "variance_partitioning",
]


def simplex_candidates(n_spaces: int, n_iter: int = 20, seed: int = 0) -> np.ndarray:
    """Space weights to try: the simplex's corners and centre, then Dirichlet(1) draws.

    Returns an array (n_candidates, n_spaces), rows summing to 1.
    """
    if n_spaces < 1:
        raise ValidationError("need at least one feature space.")
    fixed = (
        [np.full(n_spaces, 1.0 / n_spaces), *list(np.eye(n_spaces))]
        if n_spaces > 1
        else [np.ones(1)]
    )
    rng = np.random.default_rng(seed)
    n_draws = max(0, n_iter - len(fixed)) if n_spaces > 1 else 0
    draws = rng.dirichlet(np.ones(n_spaces), size=n_draws)
    return np.vstack([*fixed, *draws])


@dataclass(frozen=True, eq=False)
class BandedRidgeResult:
    """Output of :func:`solve_banded_ridge_cv`.

    Attributes
    ----------
    best_gammas : array (n_targets, n_spaces)
        Chosen space weights (on the simplex) per target.
    best_alphas : array (n_targets,)
    best_scores : array (n_targets,)
        Cross-validated score at the chosen (γ, α).
    coef : list of arrays (n_features_i, n_targets)
        Coefficients of each space on the original (unscaled) features.
    intercept : array (n_targets,)
    candidates : array (n_candidates, n_spaces)
    """

    best_gammas: np.ndarray
    best_alphas: np.ndarray
    best_scores: np.ndarray
    coef: list[np.ndarray]
    intercept: np.ndarray
    candidates: np.ndarray


def _split(X: np.ndarray, sizes: Sequence[int]) -> list[slice]:
    bounds = np.cumsum([0, *sizes])
    if bounds[-1] != X.shape[1]:
        raise ValidationError(
            f"spaces {list(sizes)} add up to {bounds[-1]} features; X has {X.shape[1]}."
        )
    return [slice(int(a), int(b)) for a, b in pairwise(bounds)]


def solve_banded_ridge_cv(
    Xs: Sequence[Any],
    Y: Any,
    alphas: Any = DEFAULT_ALPHAS,
    n_iter: int = 20,
    cv: int | Any = 5,
    groups: np.ndarray | None = None,
    scoring: str = "neg_mse_score",
    fit_intercept: bool = True,
    device: str | None = None,
    dtype: str = "float32",
    memory_budget: int | str = 2**30,
    seed: int = 0,
    candidates: Any = None,
    standardize: bool = True,
    shuffle: bool = True,
    quiet: bool = False,
) -> BandedRidgeResult:
    """Banded ridge with (γ, α) chosen per target by cross-validation (random search on γ).

    Parameters
    ----------
    Xs : sequence of arrays (n_stimuli, n_features_i)
        The feature spaces (z-scored with the training statistics of each fold, and of all
        stimuli for the final refit, when ``standardize``).
    Y : array (n_stimuli, n_targets)
    alphas : sequence of float
    n_iter : int
        Number of space-weight candidates (corners and centre of the simplex included).
    cv, groups, scoring, fit_intercept, device, dtype, memory_budget, shuffle :
        As in :func:`solve_ridge_cv` (α and γ chosen by squared error by default).
    seed : int
        Seed of the random candidates and of the shuffled folds.
    candidates : array (n_candidates, n_spaces), optional
        Space weights to try instead of :func:`simplex_candidates` (rows are normalised to sum 1).
    standardize : bool
        z-score every feature inside each fold (default); ``False`` uses the spaces as given
        (centred only, as himalaya's kernels).
    quiet : bool
        No progress display over the candidates.

    Returns
    -------
    BandedRidgeResult
    """
    if len(Xs) < 1:
        raise ValidationError("Xs is empty; give at least one feature space.")
    mats = [check_array(x, f"Xs[{i}]", ndim=2) for i, x in enumerate(Xs)]
    for i, x in enumerate(mats):
        check_same_length(f"Xs[{i}] rows", x.shape[0], "Y rows", np.shape(Y)[0])
    X, reader, alphas = _check_inputs(np.hstack(mats), Y, alphas)
    budget = parse_memory_budget(memory_budget)
    if _constant_targets(reader, budget).any():
        raise ValidationError(
            "Y has constant target(s) (zero variance); drop them before a banded ridge."
        )
    slices = _split(X, [x.shape[1] for x in mats])
    folds = make_folds(X.shape[0], cv, groups, shuffle=shuffle, seed=seed)
    if candidates is None:
        cands = simplex_candidates(len(mats), n_iter, seed)
    else:
        cands = check_array(candidates, "candidates", ndim=2)
        if cands.shape[1] != len(mats) or (cands < 0).any() or (cands.sum(1) <= 0).any():
            raise ValidationError(
                f"candidates must be non-negative, shape (n, {len(mats)}), rows not all zero; got {cands.shape}."
            )
        cands = cands / cands.sum(1, keepdims=True)
    t = reader.t
    best_score = np.full(t, -np.inf)
    best_cand = np.zeros(t, dtype=int)
    best_alpha = np.full(t, alphas[0])
    for c in track(range(len(cands)), len(cands), "banded ridge candidates", quiet):
        # each fold z-scores with its own training statistics, then weights space i by √γ_i
        scores, _, _, _ = _kfold_scores(
            X,
            reader,
            alphas,
            folds,
            scoring,
            fit_intercept,
            standardize,
            device,
            dtype,
            budget,
            _weights(slices, cands[c]),
        )
        idx = np.argmax(scores, axis=0)
        top = scores[idx, np.arange(t)]
        better = top > best_score
        best_score[better], best_cand[better], best_alpha[better] = (
            top[better],
            c,
            alphas[idx[better]],
        )
    coef = [
        np.zeros((s.stop - s.start, t), dtype=np.float32 if dtype == "float32" else np.float64)
        for s in slices
    ]
    intercept = np.zeros(t)
    for c in np.unique(best_cand):
        cols = np.flatnonzero(best_cand == c)
        w, b, _, _ = solve_ridge(
            X,
            reader.subset(cols),
            best_alpha[cols],
            fit_intercept=fit_intercept,
            standardize=standardize,
            device=device,
            dtype=dtype,
            memory_budget=budget,
            feature_weights=_weights(slices, cands[c]),
        )
        assert w is not None  # coefficients on the original features (scaling undone)
        for k, s in enumerate(slices):
            coef[k][:, cols] = w[s]
        intercept[cols] = b
    return BandedRidgeResult(cands[best_cand], best_alpha, best_score, coef, intercept, cands)


def _weights(slices: list[slice], gamma: np.ndarray) -> np.ndarray:
    """√γ of each space repeated over its features (tiny, not zero, for a corner's absent space)."""
    return np.concatenate(
        [
            np.full(s.stop - s.start, np.sqrt(max(g, 1e-12)))
            for s, g in zip(slices, gamma, strict=True)
        ]
    )


class BandedRidgeEncoder(LinearEncoderMixin, BaseEstimator):
    """Banded ridge (one regularisation per feature space and target) as a scikit-learn estimator.

    ``X`` is the feature spaces side by side; ``spaces`` gives their widths.

    Parameters
    ----------
    spaces : sequence of int
        Number of features of each space, in column order (None: one space).
    alphas, n_iter, cv, scoring, fit_intercept, device, dtype, memory_budget, seed, standardize,
    shuffle, quiet :
        As in :func:`solve_banded_ridge_cv`.

    Attributes
    ----------
    best_gammas_ : array (n_targets, n_spaces)
    best_alphas_ : array (n_targets,)
    best_cv_scores_ : array (n_targets,)
    coef_ : array (n_features, n_targets)
    intercept_ : array (n_targets,)
    n_features_in_ : int

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> A, B = rng.normal(size=(300, 5)), rng.normal(size=(300, 40))
    >>> y = A @ rng.normal(size=(5, 2)) + 0.5 * rng.normal(size=(300, 2))   # only A matters
    >>> enc = BandedRidgeEncoder(spaces=(5, 40), alphas=np.logspace(-1, 4, 11)).fit(np.hstack([A, B]), y)
    >>> bool((enc.best_gammas_[:, 0] > 0.9).all())
    True
    """

    def __init__(
        self,
        spaces: Sequence[int] | None = None,
        alphas: Any = DEFAULT_ALPHAS,
        n_iter: int = 20,
        cv: Any = 5,
        scoring: str = "neg_mse_score",
        fit_intercept: bool = True,
        device: str | None = None,
        dtype: str = "float32",
        memory_budget: int | str = 2**30,
        seed: int = 0,
        standardize: bool = True,
        shuffle: bool = True,
        quiet: bool = False,
    ) -> None:
        self.spaces = spaces
        self.alphas = alphas
        self.n_iter = n_iter
        self.cv = cv
        self.scoring = scoring
        self.fit_intercept = fit_intercept
        self.device = device
        self.dtype = dtype
        self.memory_budget = memory_budget
        self.seed = seed
        self.standardize = standardize
        self.shuffle = shuffle
        self.quiet = quiet

    def fit(self, X: Any, y: Any, groups: np.ndarray | None = None) -> BandedRidgeEncoder:
        """Choose (γ, α) per target by cross-validation and refit."""
        X, Y = self._validate_fit(X, y)
        sizes = list(self.spaces) if self.spaces is not None else [X.shape[1]]
        slices = _split(X, sizes)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", NeuroalignWarning)  # per-candidate edge notices
            res = solve_banded_ridge_cv(
                [X[:, s] for s in slices],
                Y,
                alphas=self.alphas,
                n_iter=self.n_iter,
                cv=self.cv,
                groups=groups,
                scoring=self.scoring,
                fit_intercept=self.fit_intercept,
                device=self.device,
                dtype=self.dtype,
                memory_budget=self.memory_budget,
                seed=self.seed,
                standardize=self.standardize,
                shuffle=self.shuffle,
                quiet=self.quiet,
            )
        self.best_gammas_ = res.best_gammas
        self.best_alphas_ = res.best_alphas
        self.best_cv_scores_ = res.best_scores
        self.coef_ = np.vstack(res.coef)
        self.intercept_ = res.intercept
        return self


def variance_partitioning(
    spaces: Mapping[str, Any],
    Y: Any,
    test_size: float = 0.2,
    seed: int = 0,
    **params: Any,
) -> pd.DataFrame:
    """Unique and shared variance of each feature space, per target, on held-out stimuli.

    Fits a banded ridge on every subset of the spaces (all of them, and all but one); with
    ``R²(S)`` the test-set R² of subset S:

    * ``unique[i] = R²(all) − R²(all \\ {i})``
    * ``shared = R²(all) − Σ_i unique[i]`` (variance explained that no single space claims alone)

    For two spaces A, B this is the classic partition: unique A, unique B and A∩B.

    Parameters
    ----------
    spaces : mapping of str to array (n_stimuli, n_features_i)
    Y : array (n_stimuli, n_targets)
    test_size, seed :
        The held-out split (as in :func:`~neuroalign.encode.train_test_ids`).
    **params :
        Passed to :func:`solve_banded_ridge_cv` (``alphas``, ``n_iter``, ``cv``, ...).

    Returns
    -------
    DataFrame
        One row per target: ``r2_all``, ``r2_without_<space>``, ``unique_<space>``, ``shared``.
    """
    names = list(spaces)
    if len(names) < 2:
        raise ValidationError(f"variance partitioning needs >= 2 feature spaces; got {names}.")
    Y = check_array(Y, "Y", ndim=2)
    n = Y.shape[0]
    rng = np.random.default_rng(seed)
    perm = rng.permutation(n)
    n_test = max(2, round(test_size * n))
    te, tr = np.sort(perm[:n_test]), np.sort(perm[n_test:])

    def test_r2(subset: tuple[str, ...]) -> np.ndarray:
        mats = [np.asarray(spaces[s]) for s in subset]
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", NeuroalignWarning)
            res = solve_banded_ridge_cv([m[tr] for m in mats], Y[tr], **params)
        pred = sum(m[te] @ w for m, w in zip(mats, res.coef, strict=True)) + res.intercept
        return r2_score(Y[te], pred)

    out = pd.DataFrame({"r2_all": test_r2(tuple(names))})
    for leave in combinations(names, len(names) - 1):
        missing = next(s for s in names if s not in leave)
        out[f"r2_without_{missing}"] = test_r2(leave)
        out[f"unique_{missing}"] = out["r2_all"] - out[f"r2_without_{missing}"]
    out["shared"] = out["r2_all"] - out[[f"unique_{s}" for s in names]].sum(axis=1)
    return out
