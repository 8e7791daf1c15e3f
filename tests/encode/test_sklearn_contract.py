"""RidgeEncoder honours the scikit-learn estimator contract."""

import pytest
from sklearn.utils.estimator_checks import parametrize_with_checks

from neuroalign.encode import BandedRidgeEncoder, RidgeEncoder


@pytest.mark.filterwarnings("ignore::UserWarning")  # edge-of-grid notices on the checks' toy data
@parametrize_with_checks(
    [
        RidgeEncoder(alphas=(0.1, 1.0, 10.0), cv=3),
        RidgeEncoder(cv="gcv"),
        BandedRidgeEncoder(n_iter=3, cv=3),
    ]
)
def test_sklearn_compatible(estimator, check):
    check(estimator)


@pytest.mark.filterwarnings("ignore::UserWarning")
@pytest.mark.parametrize(
    "make", [lambda: RidgeEncoder(cv=3), lambda: BandedRidgeEncoder(n_iter=2, cv=3)]
)
def test_score_is_one_float_and_cross_val_score_works(make):
    import numpy as np
    from sklearn.metrics import r2_score
    from sklearn.model_selection import cross_val_score

    rng = np.random.default_rng(0)
    X = rng.normal(size=(90, 6))
    Y = X @ rng.normal(size=(6, 4)) + rng.normal(size=(90, 4))
    enc = make().fit(X[:60], Y[:60])
    score = enc.score(X[60:], Y[60:])
    assert isinstance(score, float)
    assert score == pytest.approx(r2_score(Y[60:], enc.predict(X[60:])))  # mean R² over targets
    per_target = enc.score_targets(X[60:], Y[60:])
    np.testing.assert_allclose(
        per_target, r2_score(Y[60:], enc.predict(X[60:]), multioutput="raw_values"), rtol=1e-6
    )
    scores = cross_val_score(make(), X, Y, cv=3)
    assert scores.shape == (3,) and np.isfinite(scores).all()
