"""Float32 ridge on data whose means are large against their spread (raw BOLD near 1 000 that
moves by a few units, non-negative features): the default dtype must give the float64 answer.

Before the solvers centred their products, float32 k-fold picked another α for 1 % of targets
with features near 5 and targets near 1 000, and for 88 % with features near 50 and targets near
10⁴; GCV for 83 % already at 5 / 1 000 (coefficients off by 40-250 %), and GCV with more features
than stimuli picked the smallest α for 40 % of targets even without offsets.
"""

import numpy as np
import pytest
from sklearn.linear_model import Ridge

from neuroalign.encode import BandedRidgeEncoder, solve_ridge_cv

ALPHAS = np.logspace(-1, 5, 13)

pytestmark = pytest.mark.filterwarnings("ignore:the chosen alpha is at the edge:UserWarning")


def _offset_data(n: int, p: int, x_offset: float, y_offset: float, t: int = 120):
    rng = np.random.default_rng(1)
    X = rng.standard_normal((n, p))
    Y = X @ (rng.standard_normal((p, t)) * 0.05) + rng.standard_normal((n, t))
    # the float32 data are the data: both fits see the same rounded values
    return (X + x_offset).astype(np.float32), (Y + y_offset).astype(np.float32)


def _check_same_fit(r32, r64, X, Y):
    np.testing.assert_array_equal(r32.best_alphas, r64.best_alphas)
    scale = np.abs(r64.coef).max()
    np.testing.assert_allclose(r32.coef, r64.coef, rtol=0, atol=2e-5 * scale)
    np.testing.assert_allclose(r32.cv_scores, r64.cv_scores, rtol=1e-4, atol=1e-4)
    # the float64 reference itself: scikit-learn's Ridge at the chosen α of a few targets
    # (standardize=False, so scikit-learn's α and ours are the same penalty)
    for j in (0, 7, 60):
        ref = Ridge(alpha=r64.best_alphas[j]).fit(X.astype(np.float64), Y[:, j].astype(np.float64))
        np.testing.assert_allclose(r64.coef[:, j], ref.coef_, rtol=1e-7, atol=1e-9 * scale)


@pytest.mark.parametrize("cv", [5, "gcv"])
@pytest.mark.parametrize("n,p", [(400, 60), (150, 300)])  # primal and dual paths
@pytest.mark.parametrize("x_offset,y_offset", [(0.0, 0.0), (5.0, 1e3), (50.0, 1e4)])
def test_float32_ignores_large_means(cv, n, p, x_offset, y_offset):
    X, Y = _offset_data(n, p, x_offset, y_offset)
    r32 = solve_ridge_cv(X, Y, alphas=ALPHAS, cv=cv, dtype="float32")
    r64 = solve_ridge_cv(
        X.astype(np.float64), Y.astype(np.float64), alphas=ALPHAS, cv=cv, dtype="float64"
    )
    _check_same_fit(r32, r64, X, Y)


@pytest.mark.parametrize("cv", [5, "gcv"])
def test_float32_torch_ignores_large_means(cv):
    pytest.importorskip("torch")
    X, Y = _offset_data(400, 60, 5.0, 1e3)
    r32 = solve_ridge_cv(X, Y, alphas=ALPHAS, cv=cv, dtype="float32", device="torch")
    r64 = solve_ridge_cv(
        X.astype(np.float64), Y.astype(np.float64), alphas=ALPHAS, cv=cv, dtype="float64"
    )
    _check_same_fit(r32, r64, X, Y)


@pytest.mark.parametrize("scoring", ["pearson_score", "r2_score"])
def test_float32_kfold_scorings_ignore_large_means(scoring):
    X, Y = _offset_data(400, 60, 5.0, 1e3)
    kw = dict(alphas=ALPHAS, cv=5, scoring=scoring)
    r32 = solve_ridge_cv(X, Y, dtype="float32", **kw)
    r64 = solve_ridge_cv(X.astype(np.float64), Y.astype(np.float64), dtype="float64", **kw)
    np.testing.assert_array_equal(r32.best_alphas, r64.best_alphas)
    np.testing.assert_allclose(r32.cv_scores, r64.cv_scores, rtol=1e-4, atol=1e-5)


def test_standardize_without_intercept_ignores_feature_means():
    """Features centred and scaled but targets not (no intercept): the fold products still
    come from centred features."""
    X, Y = _offset_data(400, 60, 50.0, 0.0)
    kw = dict(alphas=ALPHAS, cv=5, fit_intercept=False, standardize=True)
    r32 = solve_ridge_cv(X, Y, dtype="float32", **kw)
    r64 = solve_ridge_cv(X.astype(np.float64), Y.astype(np.float64), dtype="float64", **kw)
    np.testing.assert_array_equal(r32.best_alphas, r64.best_alphas)
    np.testing.assert_allclose(r32.cv_scores, r64.cv_scores, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("cv", [5, "gcv"])
def test_float32_is_shift_invariant(cv):
    """Ground truth without a float64 run: with an intercept, adding constants to the features
    and the targets changes nothing but the intercept (up to the rounding of the shifted data)."""
    X, Y = _offset_data(400, 60, 0.0, 0.0)
    base = solve_ridge_cv(X, Y, alphas=ALPHAS, cv=cv)
    moved = solve_ridge_cv(X + np.float32(20), Y + np.float32(3000), alphas=ALPHAS, cv=cv)
    np.testing.assert_array_equal(moved.best_alphas, base.best_alphas)
    np.testing.assert_allclose(moved.coef, base.coef, rtol=0, atol=1e-3 * np.abs(base.coef).max())


def test_banded_float32_ignores_large_means():
    X, Y = _offset_data(400, 60, 5.0, 1e3, t=40)
    kw = dict(spaces=[30, 30], n_iter=4, alphas=ALPHAS, quiet=True)
    e32 = BandedRidgeEncoder(dtype="float32", **kw).fit(X, Y)
    e64 = BandedRidgeEncoder(dtype="float64", **kw).fit(X.astype(np.float64), Y.astype(np.float64))
    scale = np.abs(e64.coef_).max()
    np.testing.assert_allclose(e32.coef_, e64.coef_, rtol=0, atol=1e-4 * scale)
