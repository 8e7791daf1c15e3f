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
