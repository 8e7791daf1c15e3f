import numpy as np
import pytest

from neuroalign.encode import (
    BandedRidgeEncoder,
    RidgeEncoder,
    simplex_candidates,
    solve_banded_ridge_cv,
    variance_partitioning,
)

pytestmark = pytest.mark.filterwarnings("ignore:the chosen alpha is at the edge")


def test_simplex_candidates():
    c = simplex_candidates(3, n_iter=10, seed=1)
    assert c.shape == (10, 3)
    np.testing.assert_allclose(c.sum(1), 1.0)
    np.testing.assert_allclose(c[1:4], np.eye(3))
    np.testing.assert_array_equal(c, simplex_candidates(3, n_iter=10, seed=1))


def test_banded_prefers_the_informative_space_and_beats_plain_ridge(rng):
    n = 400
    A, B = rng.normal(size=(n, 8)), rng.normal(size=(n, 200))
    Y = (
        A @ rng.normal(size=(8, 6))
        + 0.2 * B @ rng.normal(size=(200, 6)) / np.sqrt(200)
        + rng.normal(size=(n, 6))
    )
    X = np.hstack([A, B])
    tr, te = slice(0, 300), slice(300, None)
    alphas = np.logspace(-2, 5, 15)
    banded = BandedRidgeEncoder(spaces=(8, 200), alphas=alphas, n_iter=30).fit(X[tr], Y[tr])
    plain = RidgeEncoder(alphas=alphas, standardize=True).fit(X[tr], Y[tr])
    assert (banded.best_gammas_[:, 0] > 0.6).all()
    assert banded.score(X[te], Y[te]).mean() > plain.score(X[te], Y[te]).mean() + 0.02


def test_single_corner_equals_plain_ridge_on_that_space(rng):
    n = 200
    A, B = rng.normal(size=(n, 5)), rng.normal(size=(n, 30))
    Y = A @ rng.normal(size=(5, 3)) + 0.5 * rng.normal(size=(n, 3))
    alphas = np.logspace(-2, 4, 13)
    res = solve_banded_ridge_cv(
        [A, B], Y, alphas=alphas, n_iter=3, dtype="float64"
    )  # centre + corners
    np.testing.assert_allclose(res.best_gammas, [[1.0, 0.0]] * 3)
    Az = (A - A.mean(0)) / A.std(0)  # the banded solver z-scores each space on all stimuli
    ref = RidgeEncoder(alphas=alphas, dtype="float64").fit(Az, Y)
    np.testing.assert_allclose(res.best_alphas, ref.best_alphas_)
    np.testing.assert_allclose(res.coef[0] * A.std(0)[:, None], ref.coef_, rtol=1e-4, atol=1e-6)
    assert np.abs(res.coef[1]).max() < 1e-4


def test_variance_partitioning_recovers_known_unique_and_shared_variance(rng):
    n = 3000
    S, A, B = rng.normal(size=(n, 3)), rng.normal(size=(n, 4)), rng.normal(size=(n, 4))
    XA, XB = np.hstack([S, A]), np.hstack([S, B])

    def unit(v):
        return v / v.std(0)

    t = 4
    shared = unit(S @ rng.normal(size=(3, t))) * np.sqrt(0.2)
    uniq_a = unit(A @ rng.normal(size=(4, t))) * np.sqrt(0.3)
    uniq_b = unit(B @ rng.normal(size=(4, t))) * np.sqrt(0.1)
    Y = shared + uniq_a + uniq_b + rng.normal(size=(n, t)) * np.sqrt(0.4)
    vp = variance_partitioning(
        {"A": XA, "B": XB}, Y, test_size=0.3, alphas=np.logspace(-2, 4, 7), n_iter=8, cv=3
    )
    assert abs(vp["unique_A"].mean() - 0.3) < 0.05
    assert abs(vp["unique_B"].mean() - 0.1) < 0.05
    assert abs(vp["shared"].mean() - 0.2) < 0.05
    assert abs(vp["r2_all"].mean() - 0.6) < 0.05


def test_matches_himalaya_banded_ridge_with_the_same_candidates(rng):
    himalaya = pytest.importorskip("himalaya")
    from himalaya.backend import set_backend
    from himalaya.kernel_ridge import MultipleKernelRidgeCV
    from sklearn.model_selection import KFold

    set_backend("numpy")
    n = 240
    A, B = rng.normal(size=(n, 6)), rng.normal(size=(n, 20))
    A, B = (A - A.mean(0)) / A.std(0), (B - B.mean(0)) / B.std(0)
    Y = (
        A @ rng.normal(size=(6, 5))
        + B @ rng.normal(size=(20, 5)) * np.linspace(0, 1, 5)
        + rng.normal(size=(n, 5))
    )
    Y = Y - Y.mean(0)
    alphas = np.logspace(-1, 4, 11)
    cands = simplex_candidates(2, n_iter=15, seed=0)[3:]  # himalaya takes log(γ): no exact corners
    ours = solve_banded_ridge_cv(
        [A, B],
        Y,
        alphas=alphas,
        candidates=cands,
        cv=KFold(4),
        fit_intercept=False,
        scoring="neg_mse_score",
        dtype="float64",
    )
    Ks = np.stack([A @ A.T, B @ B.T])
    model = MultipleKernelRidgeCV(
        kernels="precomputed",
        solver="random_search",
        solver_params=dict(n_iter=cands, alphas=alphas, progress_bar=False),
        cv=KFold(4),
    )
    model.fit(Ks, Y)
    pred_h = np.asarray(model.predict(Ks))
    pred_o = A @ ours.coef[0] + B @ ours.coef[1] + ours.intercept
    np.testing.assert_allclose(pred_o, pred_h, rtol=1e-3, atol=1e-3 * np.abs(pred_h).max())
    assert himalaya is not None
