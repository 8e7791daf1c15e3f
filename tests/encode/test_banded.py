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
    assert banded.score(X[te], Y[te]) > plain.score(X[te], Y[te]) + 0.02


def test_one_space_equals_plain_ridge_standardized_inside_each_fold(rng):
    """The banded solver z-scores with each fold's training statistics (not all stimuli's), so
    with one space it is exactly RidgeEncoder(standardize=True): same criterion, alpha, coef."""
    n = 120
    A = rng.normal(size=(n, 6)) * np.linspace(0.5, 30, 6) + 5.0
    A[:40] *= 3.0  # fold statistics differ from the statistics of all stimuli
    Y = A @ rng.normal(size=(6, 4)) + 40 * rng.normal(size=(n, 4))
    alphas = np.logspace(-2, 4, 13)
    res = solve_banded_ridge_cv([A], Y, alphas=alphas, n_iter=1, dtype="float64", quiet=True)
    ref = RidgeEncoder(alphas=alphas, standardize=True, dtype="float64").fit(A, Y)
    np.testing.assert_allclose(res.best_scores, ref.best_cv_scores_, rtol=1e-10)
    np.testing.assert_array_equal(res.best_alphas, ref.best_alphas_)
    np.testing.assert_allclose(res.coef[0], ref.coef_, rtol=1e-8, atol=1e-10)
    np.testing.assert_allclose(res.intercept, ref.intercept_, rtol=1e-8)


def test_corner_candidate_ignores_the_other_space(rng):
    n = 200
    A, B = rng.normal(size=(n, 5)), rng.normal(size=(n, 30))
    Y = A @ rng.normal(size=(5, 3)) + 0.5 * rng.normal(size=(n, 3))
    res = solve_banded_ridge_cv(
        [A, B], Y, alphas=np.logspace(-2, 4, 13), n_iter=3, dtype="float64", quiet=True
    )  # centre + corners
    np.testing.assert_allclose(res.best_gammas, [[1.0, 0.0]] * 3)
    assert np.abs(res.coef[1]).max() < 1e-4


def test_quiet_controls_the_progress_display(rng, monkeypatch):
    from neuroalign.encode import _banded

    seen = []

    def fake_track(items, total, description, quiet=False):
        seen.append((description, quiet))
        return iter(items)

    monkeypatch.setattr(_banded, "track", fake_track)
    X, Y = rng.normal(size=(40, 6)), rng.normal(size=(40, 2))
    BandedRidgeEncoder(spaces=(3, 3), n_iter=2, cv=3, quiet=True).fit(X, Y)
    BandedRidgeEncoder(spaces=(3, 3), n_iter=2, cv=3).fit(X, Y)
    assert seen == [("banded ridge candidates", True), ("banded ridge candidates", False)]


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


@pytest.mark.slow
def test_matches_himalaya_banded_ridge_with_the_same_candidates(rng):
    pytest.importorskip("himalaya")
    from himalaya.backend import set_backend
    from himalaya.kernel_ridge import MultipleKernelRidgeCV
    from sklearn.model_selection import KFold

    set_backend("numpy")
    n = 240
    A, B = rng.normal(size=(n, 6)), rng.normal(size=(n, 20))
    A, B = (A - A.mean(0)) / A.std(0), (B - B.mean(0)) / B.std(0)
    Y = (
        A @ rng.normal(size=(6, 8))
        + B @ rng.normal(size=(20, 8)) * np.linspace(0, 1, 8)
        + rng.normal(size=(n, 8)) * np.linspace(0.5, 3, 8)
    )
    Y = Y - Y.mean(0)
    alphas = np.logspace(-1, 4, 11)
    cands = simplex_candidates(2, n_iter=11, seed=0)[3:]  # himalaya takes log(γ): no exact corners
    ours = solve_banded_ridge_cv(
        [A, B],
        Y,
        alphas=alphas,
        candidates=cands,
        cv=KFold(4),
        fit_intercept=False,
        standardize=False,  # himalaya's kernels use the features as given
        dtype="float64",
        quiet=True,
    )
    Ks = np.stack([A @ A.T, B @ B.T])
    model = MultipleKernelRidgeCV(
        kernels="precomputed",
        solver="random_search",
        solver_params=dict(n_iter=cands, alphas=alphas, progress_bar=False),
        cv=KFold(4),
    )
    model.fit(Ks, Y)
    # himalaya's kernel weights exp(δ_i) are γ_i / α: the same (γ, α) for every target
    weights = np.exp(np.asarray(model.deltas_))  # (n_spaces, n_targets)
    np.testing.assert_allclose(weights, (ours.best_gammas / ours.best_alphas[:, None]).T, rtol=1e-6)
    pred_h = np.asarray(model.predict(Ks))
    pred_o = A @ ours.coef[0] + B @ ours.coef[1] + ours.intercept
    np.testing.assert_allclose(pred_o, pred_h, rtol=1e-6, atol=1e-8 * np.abs(pred_h).max())
