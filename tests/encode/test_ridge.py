import numpy as np
import pytest
from sklearn.linear_model import Ridge
from sklearn.metrics import r2_score
from sklearn.model_selection import GroupKFold, KFold

from neuroalign.core.exceptions import NotFittedError, ShapeError, ValidationError
from neuroalign.encode import RidgeEncoder, make_folds, solve_ridge_cv

ALPHAS = np.logspace(-2, 4, 7)

# the simulated targets include nearly pure-noise ones, which rightly pick the largest alpha
pytestmark = pytest.mark.filterwarnings("ignore:the chosen alpha is at the edge:UserWarning")


def _data(rng, n=120, p=30, t=8, noise=2.0):
    X = rng.normal(size=(n, p))
    Y = X @ rng.normal(size=(p, t)) + noise * rng.normal(size=(n, t)) * np.linspace(0.5, 20, t)
    return X, Y


@pytest.mark.parametrize("p", [30, 300])  # primal (n > p) and dual (p > n) paths
def test_cv_scores_and_coef_match_sklearn(rng, p):
    """Default: squared error over shuffled, seeded folds (KFold(5, shuffle=True, random_state=0));
    the R² of every alpha is reported too, and the R² criterion stays an option."""
    X, Y = _data(rng, p=p)
    res = solve_ridge_cv(X, Y, alphas=ALPHAS, cv=5, dtype="float64")
    mse = np.zeros((len(ALPHAS), Y.shape[1]))
    r2 = np.zeros((len(ALPHAS), Y.shape[1]))
    for tr, va in KFold(5, shuffle=True, random_state=0).split(X):
        for i, a in enumerate(ALPHAS):
            pred = Ridge(alpha=a).fit(X[tr], Y[tr]).predict(X[va])
            mse[i] -= ((Y[va] - pred) ** 2).mean(0)
            r2[i] += r2_score(Y[va], pred, multioutput="raw_values")
    np.testing.assert_allclose(res.cv_scores, mse / 5, rtol=1e-8, atol=1e-8)
    np.testing.assert_allclose(res.cv_r2, r2 / 5, rtol=1e-8, atol=1e-8)
    np.testing.assert_array_equal(res.best_alphas, ALPHAS[np.argmax(mse, axis=0)])
    by_r2 = solve_ridge_cv(X, Y, alphas=ALPHAS, cv=5, scoring="r2_score", dtype="float64")
    np.testing.assert_allclose(by_r2.cv_scores, r2 / 5, rtol=1e-8, atol=1e-8)
    np.testing.assert_array_equal(by_r2.best_alphas, ALPHAS[np.argmax(r2, axis=0)])
    for j in range(Y.shape[1]):
        ref = Ridge(alpha=res.best_alphas[j]).fit(X, Y[:, j])
        np.testing.assert_allclose(res.coef[:, j], ref.coef_, rtol=1e-7, atol=1e-9)
        assert res.intercept[j] == pytest.approx(ref.intercept_, abs=1e-8)


def test_noisier_targets_get_larger_alphas(rng):
    X, Y = _data(rng, n=200, p=40, t=8)
    enc = RidgeEncoder(alphas=np.logspace(-2, 5, 15)).fit(X, Y)
    assert enc.best_alphas_[-1] > enc.best_alphas_[0]


def test_chunking_and_float32_agree(rng):
    X, Y = _data(rng)
    full = solve_ridge_cv(X, Y, alphas=ALPHAS, dtype="float64")
    tiny = solve_ridge_cv(
        X, Y, alphas=ALPHAS, dtype="float64", memory_budget=1
    )  # one target per chunk
    np.testing.assert_allclose(full.cv_scores, tiny.cv_scores, rtol=1e-10)
    f32 = solve_ridge_cv(X, Y, alphas=ALPHAS, dtype="float32")
    np.testing.assert_allclose(f32.cv_scores, full.cv_scores, rtol=1e-5)
    np.testing.assert_allclose(f32.cv_r2, full.cv_r2, atol=1e-4)


def test_torch_backend_matches_numpy(rng):
    pytest.importorskip("torch")
    X, Y = _data(rng)
    a = RidgeEncoder(alphas=ALPHAS, dtype="float64").fit(X, Y)
    b = RidgeEncoder(alphas=ALPHAS, dtype="float64", device="torch").fit(X, Y)
    np.testing.assert_allclose(a.coef_, b.coef_, rtol=1e-8, atol=1e-10)
    np.testing.assert_allclose(a.predict(X), b.predict(X), rtol=1e-8)


def test_group_folds_never_split_runs(rng):
    groups = np.repeat(np.arange(6), 20)
    folds = make_folds(120, 3, groups)
    for tr, va in folds:
        assert not set(groups[tr]) & set(groups[va])
    X, Y = _data(rng)
    res = solve_ridge_cv(X, Y, alphas=ALPHAS, cv=3, groups=groups, dtype="float64")
    expected = np.zeros((len(ALPHAS), Y.shape[1]))
    for tr, va in GroupKFold(3).split(X, groups=groups):
        for i, a in enumerate(ALPHAS):
            expected[i] += r2_score(
                Y[va], Ridge(alpha=a).fit(X[tr], Y[tr]).predict(X[va]), multioutput="raw_values"
            )
    np.testing.assert_allclose(res.cv_r2, expected / 3, rtol=1e-8)


def test_default_folds_are_shuffled_and_seeded_contiguous_on_request():
    sorted_by_category = np.repeat(np.arange(4), 25)  # 92-image style: stimuli sorted by category
    for _tr, va in make_folds(100, 5):
        assert len(np.unique(sorted_by_category[va])) > 1  # no fold holds out one whole category
    a, b = make_folds(100, 5, seed=1), make_folds(100, 5, seed=1)
    assert all((x[1] == y[1]).all() for x, y in zip(a, b, strict=True))
    assert any((x[1] != y[1]).any() for x, y in zip(a, make_folds(100, 5, seed=2), strict=True))
    contiguous = make_folds(100, 5, shuffle=False)
    np.testing.assert_array_equal(contiguous[0][1], np.arange(20))


def test_standardize_matches_scaled_sklearn(rng):
    from sklearn.preprocessing import StandardScaler

    X, Y = _data(rng)
    X = X * np.linspace(0.1, 100, X.shape[1])
    enc = RidgeEncoder(alphas=[10.0], standardize=True, dtype="float64").fit(X, Y)
    scaler = StandardScaler().fit(X)
    ref = Ridge(alpha=10.0).fit(scaler.transform(X), Y)
    np.testing.assert_allclose(enc.predict(X), ref.predict(scaler.transform(X)), rtol=1e-8)


def test_bad_input_errors(rng):
    X, Y = _data(rng, n=20)
    Y2 = Y.copy()
    Y2[0, 1] = np.nan
    with pytest.raises(
        ValidationError, match=r"y contains 1 NaN.*1 target\(s\) affected, first: \[1\]"
    ):
        RidgeEncoder().fit(X, Y2)
    with pytest.raises(ValueError, match="inconsistent numbers of samples"):
        RidgeEncoder().fit(X[:10], Y)
    with pytest.raises(ShapeError, match="X rows"):
        solve_ridge_cv(X[:10], Y)
    with pytest.raises(ValidationError, match="too few for 10-fold"):
        RidgeEncoder(cv=10).fit(X[:15], Y[:15])
    with pytest.raises(ValidationError, match="alphas must be positive"):
        RidgeEncoder(alphas=[0.0, 1.0]).fit(X, Y)
    with pytest.raises(ValidationError, match=r"got the string '1,10' \(split it into numbers"):
        RidgeEncoder(alphas="1,10").fit(X, Y)
    with pytest.raises(ValidationError, match=r"cv must be an integer >= 2.*got -3"):
        RidgeEncoder(cv=-3).fit(X, Y)
    with pytest.raises(ValidationError, match=r"memory_budget='lots' is not a size.*'2GB'"):
        RidgeEncoder(memory_budget="lots").fit(X, Y)
    assert RidgeEncoder(alphas=[1.0], memory_budget="1MB").fit(X, Y).coef_.shape == (30, 8)
    from sklearn.exceptions import NotFittedError as SkNotFittedError

    with pytest.raises(SkNotFittedError):
        RidgeEncoder().predict(X)
    with pytest.raises(NotFittedError, match="keep_coef=False"):
        RidgeEncoder(alphas=[1.0], keep_coef=False).fit(X, Y).predict(X)
    enc = RidgeEncoder(alphas=[1.0]).fit(X, Y)
    with pytest.raises(ValueError, match="X has 5 features, but RidgeEncoder is expecting 30"):
        enc.predict(X[:, :5])


def test_alpha_at_grid_edge_is_reported(rng):
    from neuroalign.core.exceptions import NeuroalignWarning

    X = rng.normal(size=(60, 5))
    Y = X @ rng.normal(size=(5, 4))  # noise-free: every target wants the smallest alpha
    with pytest.warns(NeuroalignWarning, match=r"edge of the grid for 4 target\(s\) \(lowest, 1\)"):
        solve_ridge_cv(X, Y, alphas=[1.0, 10.0, 100.0])


def test_constant_targets_are_reported_and_the_rest_fit(rng):
    from neuroalign.core.exceptions import NeuroalignWarning

    X, Y = _data(rng, n=60)
    Y[:, 3] = 1.5
    with pytest.warns(NeuroalignWarning, match=r"1 constant target\(s\).*columns \[3\]"):
        enc = RidgeEncoder(alphas=ALPHAS).fit(X, Y)
    assert np.isnan(enc.best_alphas_[3]) and np.isfinite(np.delete(enc.best_alphas_, 3)).all()
    assert np.isnan(enc.cv_scores_[:, 3]).all()
    np.testing.assert_allclose(enc.predict(X)[:, 3], 1.5)
    ref = RidgeEncoder(alphas=ALPHAS).fit(X, np.delete(Y, 3, axis=1))
    np.testing.assert_allclose(np.delete(enc.coef_, 3, axis=1), ref.coef_, rtol=1e-5)


@pytest.mark.parametrize("n,p", [(80, 20), (40, 100)])
def test_gcv_matches_brute_force_hat_matrix(rng, n, p):
    X = rng.normal(size=(n, p))
    Y = X @ rng.normal(size=(p, 4)) + 3 * rng.normal(size=(n, 4))
    alphas = np.logspace(-1, 4, 11)
    res = solve_ridge_cv(X, Y, alphas=alphas, cv="gcv", dtype="float64")
    Xc, Yc = X - X.mean(0), Y - Y.mean(0)
    gcv = np.zeros((len(alphas), 4))
    for i, a in enumerate(alphas):
        H = Xc @ np.linalg.solve(Xc.T @ Xc + a * np.eye(p), Xc.T)
        gcv[i] = n * ((Yc - H @ Yc) ** 2).sum(0) / (n - np.trace(H) - 1) ** 2
    np.testing.assert_allclose(res.cv_scores, 1 - gcv / Yc.var(0, ddof=1), rtol=1e-7)
    np.testing.assert_array_equal(res.best_alphas, alphas[gcv.argmin(0)])
    for j in range(4):
        ref = Ridge(alpha=res.best_alphas[j]).fit(X, Y[:, j])
        np.testing.assert_allclose(res.coef[:, j], ref.coef_, rtol=1e-7, atol=1e-10)


def test_gcv_close_to_kfold_on_simulated_encoding():
    from neuroalign.core.metrics import pearson_score
    from neuroalign.data import make_responses

    rng = np.random.default_rng(3)
    n = 500
    X = rng.normal(size=(n, 200)) @ rng.normal(size=(200, 200)) / 10
    resp, _ = make_responses(
        {"f": X},
        {"roi": "f"},
        n_targets_per_roi=40,
        noise_sd=1.5,
        stimulus_ids=[f"s{i}" for i in range(n)],
        seed=0,
    )
    Y = np.asarray(resp.data)
    tr, te = slice(0, 400), slice(400, None)
    alphas = np.logspace(-1, 6, 15)
    kfold = RidgeEncoder(alphas=alphas).fit(X[tr], Y[tr])
    gcv = RidgeEncoder(alphas=alphas, cv="gcv").fit(X[tr], Y[tr])
    r_k = pearson_score(Y[te], kfold.predict(X[te]))
    r_g = pearson_score(Y[te], gcv.predict(X[te]))
    assert abs(r_k.mean() - r_g.mean()) < 0.01


@pytest.mark.parametrize("fit_intercept", [True, False])
@pytest.mark.parametrize("p", [30, 300])
def test_standardize_and_intercept_options_match_sklearn_folds(rng, fit_intercept, p):
    X, Y = _data(rng, p=p)
    X = X * np.linspace(0.1, 10, p) + 3.0
    res = solve_ridge_cv(
        X,
        Y,
        alphas=ALPHAS,
        cv=KFold(4),
        scoring="r2_score",
        standardize=True,
        fit_intercept=fit_intercept,
        dtype="float64",
    )
    expected = np.zeros((len(ALPHAS), Y.shape[1]))
    for tr, va in KFold(4).split(X):
        m, s = X[tr].mean(0), X[tr].std(0)
        for i, a in enumerate(ALPHAS):
            model = Ridge(alpha=a, fit_intercept=fit_intercept).fit((X[tr] - m) / s, Y[tr])
            expected[i] += r2_score(Y[va], model.predict((X[va] - m) / s), multioutput="raw_values")
    np.testing.assert_allclose(res.cv_scores, expected / 4, rtol=1e-7, atol=1e-9)


@pytest.mark.parametrize("n,p", [(200, 50), (80, 300)])
def test_matches_himalaya_ridgecv(rng, n, p):
    pytest.importorskip("himalaya")
    from himalaya.backend import set_backend
    from himalaya.ridge import RidgeCV as HimalayaRidgeCV

    set_backend("numpy")
    X, Y = _data(rng, n=n, p=p, t=12)
    alphas = np.logspace(-1, 5, 13)
    # the defaults: squared error over shuffled folds seeded 0 (himalaya is given the same folds)
    ours = RidgeEncoder(alphas=alphas, dtype="float64").fit(X, Y)
    folds = KFold(5, shuffle=True, random_state=0)
    theirs = HimalayaRidgeCV(alphas=alphas, cv=folds, fit_intercept=True).fit(X, Y)
    same = np.isclose(ours.best_alphas_, np.asarray(theirs.best_alphas_), rtol=1e-12, atol=0)
    assert same.mean() == 1.0  # the same alpha on 100 % of targets (himalaya's differ by an ulp)
    Xnew = rng.normal(size=(30, p))
    pred = np.asarray(theirs.predict(Xnew))
    np.testing.assert_allclose(ours.predict(Xnew), pred, rtol=1e-6, atol=1e-8 * np.abs(pred).max())


@pytest.mark.parametrize("fit_intercept", [True, False])
@pytest.mark.parametrize("p", [30, 300])  # primal and dual
def test_pearson_criterion_and_r2_match_sklearn_and_scipy(rng, fit_intercept, p):
    """scoring="pearson_score" (what bench's encoding metric uses) is computed from column sums
    of each fold's prediction; it equals scipy's Pearson r of scikit-learn's Ridge predictions
    (and the reported R² sklearn's), in float64 and within float32 rounding."""
    from scipy.stats import pearsonr

    X, Y = _data(rng, p=p)
    Y = Y + 5.0  # a mean the folds' intercepts must carry
    r = np.zeros((len(ALPHAS), Y.shape[1]))
    r2 = np.zeros((len(ALPHAS), Y.shape[1]))
    for tr, va in KFold(5, shuffle=True, random_state=0).split(X):
        for i, a in enumerate(ALPHAS):
            pred = Ridge(alpha=a, fit_intercept=fit_intercept).fit(X[tr], Y[tr]).predict(X[va])
            r[i] += [pearsonr(Y[va][:, j], pred[:, j])[0] for j in range(Y.shape[1])]
            r2[i] += r2_score(Y[va], pred, multioutput="raw_values")
    for dtype, tol in (("float64", 1e-8), ("float32", 2e-4)):
        res = solve_ridge_cv(
            X,
            Y,
            alphas=ALPHAS,
            cv=5,
            scoring="pearson_score",
            fit_intercept=fit_intercept,
            dtype=dtype,
        )
        np.testing.assert_allclose(res.cv_scores, r / 5, rtol=tol, atol=tol)
        np.testing.assert_allclose(res.cv_r2, r2 / 5, rtol=tol, atol=tol * 10)


@pytest.mark.parametrize("n,p", [(300, 60), (90, 400)])  # primal and dual (p > n) paths
def test_float32_alphas_and_scores_match_himalaya(rng, n, p):
    """In float32 (the default): the same α as himalaya on every target whose CV scores of the
    two candidates differ by more than 1e-5 relative (closer is a float32 tie, not a
    disagreement), and the CV score at the chosen α equal to himalaya's within 1e-5."""
    pytest.importorskip("himalaya")
    from himalaya.backend import set_backend
    from himalaya.ridge import RidgeCV as HimalayaRidgeCV

    set_backend("numpy")
    X, Y = _data(rng, n=n, p=p, t=40)
    X, Y = X.astype(np.float32), Y.astype(np.float32)
    alphas = np.logspace(-1, 6, 10)
    ours = RidgeEncoder(alphas=alphas).fit(X, Y)
    folds = KFold(5, shuffle=True, random_state=0)
    theirs = HimalayaRidgeCV(alphas=alphas, cv=folds, fit_intercept=True).fit(X, Y)
    scores = np.asarray(ours.cv_scores_, dtype=np.float64)
    cols = np.arange(Y.shape[1])
    mine = np.argmax(scores, axis=0)
    other = np.argmin(np.abs(np.log(alphas)[:, None] - np.log(theirs.best_alphas_)[None]), axis=0)
    best = scores[mine, cols]
    gap = (best - scores[other, cols]) / np.abs(best)
    assert ((mine == other) | (gap <= 1e-5)).all(), gap[mine != other]
    assert (mine == other).mean() >= 0.9
    theirs_score = np.asarray(theirs.cv_scores_, dtype=np.float64).ravel()
    np.testing.assert_allclose(theirs_score, best, rtol=1e-5)


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_nan_or_infinite_targets_are_refused_with_their_columns(bad):
    rng = np.random.default_rng(0)
    X = rng.standard_normal((50, 3)).astype(np.float32)
    Y = rng.standard_normal((50, 6)).astype(np.float32)
    Y[3, 2] = Y[7, 5] = bad
    with pytest.raises(ValidationError, match=r"2 NaN or infinite.*2 target\(s\).*\[2, 5\]"):
        solve_ridge_cv(X, Y, [1.0, 10.0])
