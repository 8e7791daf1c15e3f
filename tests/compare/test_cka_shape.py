import numpy as np
import pytest

from neuroalign.compare import cka, minibatch_cka, procrustes_distance, shape_distance
from neuroalign.core.exceptions import ValidationError


def _direct_cka(X, Y, debiased):
    """The published formulas with explicit n × n matrices (reference implementation)."""
    n = len(X)
    X, Y = X - X.mean(0), Y - Y.mean(0)
    K, L = X @ X.T, Y @ Y.T

    def hsic(A, B):
        if not debiased:
            H = np.eye(n) - 1.0 / n
            return np.trace(H @ A @ H @ B) / (n - 1) ** 2
        A0, B0 = A - np.diag(np.diag(A)), B - np.diag(np.diag(B))
        one = np.ones(n)
        return (
            np.trace(A0 @ B0)
            + (one @ A0 @ one) * (one @ B0 @ one) / ((n - 1) * (n - 2))
            - 2 / (n - 2) * one @ A0 @ B0 @ one
        ) / (n * (n - 3))

    return hsic(K, L) / np.sqrt(hsic(K, K) * hsic(L, L))


@pytest.mark.parametrize("debiased", [True, False])
@pytest.mark.parametrize(
    "px,py", [(5, 7), (200, 300), (5, 300)]
)  # feature space, Gram space, mixed
def test_linear_cka_equals_the_formula(rng, debiased, px, py):
    X = rng.normal(size=(40, px))
    Y = X[:, :1] @ rng.normal(size=(1, py)) + rng.normal(size=(40, py))
    assert cka(X, Y, debiased=debiased) == pytest.approx(_direct_cka(X, Y, debiased), rel=1e-9)


def test_cka_invariances_and_bias(rng):
    X = rng.normal(size=(60, 30))
    Q, _ = np.linalg.qr(rng.normal(size=(30, 30)))
    assert cka(X, 5.0 * X @ Q) == pytest.approx(1.0, abs=1e-10)
    assert cka(X, X @ Q, kernel="rbf") == pytest.approx(1.0, abs=1e-10)
    Z = rng.normal(size=(60, 30))
    biased, unbiased = cka(X, Z, debiased=False), cka(X, Z)
    assert biased > 0.3 and abs(unbiased) < 0.1  # independent data: the biased estimate is inflated
    with pytest.raises(ValidationError, match="at least 4 stimuli"):
        cka(X[:3], Z[:3])


def test_torch_backend_and_minibatch(rng):
    X = rng.normal(size=(400, 20))
    Y = X @ rng.normal(size=(20, 10)) + rng.normal(size=(400, 10))
    full = cka(X, Y)
    pytest.importorskip("torch")
    assert cka(X, Y, device="torch") == pytest.approx(full, rel=1e-6)
    assert minibatch_cka(X, Y, batch_size=100) == pytest.approx(full, abs=0.05)


def test_procrustes_is_a_metric_invariant_to_similarity_transforms(rng):
    X = rng.normal(size=(40, 6))
    Q, _ = np.linalg.qr(rng.normal(size=(6, 6)))
    assert procrustes_distance(X, 3 * X @ Q + 2) == pytest.approx(0.0, abs=1e-6)
    A, B, C = (rng.normal(size=(40, 6)) for _ in range(3))
    assert shape_distance(A, C) <= shape_distance(A, B) + shape_distance(B, C) + 1e-12
    assert shape_distance(A, B) == pytest.approx(shape_distance(B, A))
    wide = rng.normal(size=(20, 100))  # more features than stimuli: reduced exactly
    assert procrustes_distance(
        wide, wide @ np.linalg.qr(rng.normal(size=(100, 100)))[0]
    ) == pytest.approx(0, abs=1e-6)


def test_alpha_zero_is_mean_canonical_correlation(rng):
    X = rng.normal(size=(80, 5))
    Y = X @ rng.normal(size=(5, 5)) + 2 * rng.normal(size=(80, 5))
    qx, _ = np.linalg.qr(X - X.mean(0))
    qy, _ = np.linalg.qr(Y - Y.mean(0))
    rho = np.linalg.svd(qx.T @ qy, compute_uv=False)
    assert shape_distance(X, Y, alpha=0.0) == pytest.approx(np.arccos(rho.mean()), rel=1e-9)
    with pytest.raises(ValidationError, match="alpha"):
        shape_distance(X, Y, alpha=2)


def test_svcca_and_pwcca(rng):
    from neuroalign.compare import pwcca, svcca

    X = rng.normal(size=(300, 8))
    A = rng.normal(size=(8, 8))  # any invertible linear map: CCA-family similarity is 1
    assert svcca(X, X @ A) == pytest.approx(1.0, abs=1e-9)
    assert pwcca(X, X @ A) == pytest.approx(1.0, abs=1e-9)
    Y = rng.normal(size=(300, 8))
    assert svcca(X, Y) < 0.3 and pwcca(X, Y) < 0.3
    # half of X's dimensions shared: mean canonical correlation of the full CCA is ~0.5
    Z = np.hstack([X[:, :4], rng.normal(size=(300, 4))])
    assert svcca(X, Z, keep=1.0) == pytest.approx(0.5, abs=0.1)
    with pytest.raises(ValidationError, match="keep"):
        svcca(X, Y, keep=0)
