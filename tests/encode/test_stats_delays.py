import numpy as np
import pytest
from scipy.stats import false_discovery_control

from neuroalign.core.exceptions import ValidationError
from neuroalign.core.metrics import pearson_score
from neuroalign.encode import (
    ceiling_normalized,
    fdr_correction,
    make_delays,
    permutation_test,
    summarize_by_roi,
)


def test_fdr_matches_scipy(rng):
    p = rng.uniform(size=200) ** 3
    rejected, q = fdr_correction(p, alpha=0.05)
    np.testing.assert_allclose(q, false_discovery_control(p, method="bh"), rtol=1e-12)
    np.testing.assert_array_equal(rejected, q <= 0.05)
    p[3] = np.nan
    rejected, q = fdr_correction(p)
    assert np.isnan(q[3]) and not rejected[3]


def test_permutation_null_matches_a_direct_loop(rng):
    y = rng.normal(size=(60, 3))
    pred = y + rng.normal(size=(60, 3)) * np.array([0.3, 1.0, 30.0])
    res = permutation_test(y, pred, n_permutations=50, seed=4, chunk=7)
    r, p, null = res.arrays["r"], res.arrays["p_values"], res.arrays["null"]
    assert res.kind == "encoding.permutation"
    np.testing.assert_array_equal(res.table["p_value"], p)
    np.testing.assert_array_equal(res.table["value"], r)
    assert set(res.table["scoring"]) == {"pearson"} and (res.table["n"] == 60).all()
    np.testing.assert_allclose(r, pearson_score(y, pred))
    from neuroalign.encode._stats import _block_permutation

    perm_rng = np.random.default_rng(4)
    for k in range(50):
        perm = _block_permutation(60, 1, perm_rng)
        np.testing.assert_allclose(null[k], pearson_score(y[perm], pred), atol=1e-12)
    assert p[0] < 0.05
    # calibration: for an unrelated prediction p-values are roughly uniform
    ps = [
        permutation_test(rng.normal(size=(40, 1)), rng.normal(size=(40, 1)), 99, seed=s).arrays[
            "p_values"
        ][0]
        for s in range(200)
    ]
    assert 0.03 < np.mean(np.array(ps) < 0.1) < 0.17


def test_block_permutation_keeps_blocks():
    from neuroalign.encode._stats import _block_permutation

    perm = _block_permutation(20, 5, np.random.default_rng(0))
    assert sorted(perm) == list(range(20))
    for start in range(0, 20, 5):
        block = perm[start : start + 5]
        assert (np.diff(block) == 1).all()
    with pytest.raises(ValidationError, match="block_size"):
        permutation_test(np.ones((10, 1)), np.ones((10, 1)), block_size=8)


@pytest.mark.parametrize("bad", [0, -5, 2.5, True])
def test_permutation_count_must_be_a_positive_integer(bad):
    y = np.random.default_rng(0).normal(size=(20, 2))
    with pytest.raises(ValidationError, match=r"n_permutations must be a positive integer"):
        permutation_test(y, y, n_permutations=bad)


def test_make_delays_respects_runs():
    X = np.arange(12.0).reshape(6, 2)
    D = make_delays(X, delays=(1, 2), groups=[0, 0, 0, 1, 1, 1])
    assert D.shape == (6, 4)
    np.testing.assert_array_equal(D[:, :2], [[0, 0], [0, 1], [2, 3], [0, 0], [6, 7], [8, 9]])
    np.testing.assert_array_equal(D[:, 2:], [[0, 0], [0, 0], [0, 1], [0, 0], [0, 0], [6, 7]])
    ahead = make_delays(X, delays=(-1,))
    np.testing.assert_array_equal(ahead[:, 0], [2, 4, 6, 8, 10, 0])
    with pytest.raises(ValidationError, match="delays is empty"):
        make_delays(X, delays=())


@pytest.mark.filterwarnings("ignore:the chosen alpha is at the edge")  # near noise-free: OLS wins
def test_fir_model_recovers_a_delayed_response(rng):
    from neuroalign.encode import RidgeEncoder

    x = rng.normal(size=(600, 3))
    kernel = np.array([0.0, 0.2, 1.0, 0.5, 0.1])  # a haemodynamic-like response over 5 samples
    y = sum(kernel[d] * np.roll(x[:, 0], d) for d in range(5))[:, None] + 0.05 * rng.normal(
        size=(600, 1)
    )
    D = make_delays(x, delays=range(5))
    enc = RidgeEncoder(alphas=np.logspace(-6, 3, 10)).fit(D[10:], y[10:])
    np.testing.assert_allclose(enc.coef_[0::3, 0], kernel, atol=0.03)  # feature 0 at each delay


def test_ceiling_normalization_and_summary():
    norm = ceiling_normalized([0.2, 0.3, 0.1], [0.4, 0.05, 0.5])
    np.testing.assert_allclose(norm, [0.5, np.nan, 0.2])
    table = summarize_by_roi({"r": [0.1, 0.3, 0.5]}, ["V1", "V1", "IT"])
    assert table.set_index("roi").loc["V1", "r_mean"] == pytest.approx(0.2)
    assert table.set_index("roi").loc["IT", "n_targets"] == 1
