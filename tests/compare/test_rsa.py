import numpy as np
import pytest
from scipy.spatial.distance import pdist
from scipy.stats import pearsonr, spearmanr

from neuroalign import Activations, RDMs
from neuroalign.compare import (
    bootstrap_indices,
    bootstrap_rsa,
    compare_rdms,
    compute_rdm,
    compute_rdms,
    rdm_noise_ceiling,
)
from neuroalign.compare._evaluate import _pairs
from neuroalign.core.exceptions import ConfigurationError, StimulusMismatchError, ValidationError


@pytest.mark.parametrize(
    "metric,scipy_metric",
    [("correlation", "correlation"), ("cosine", "cosine"), ("euclidean", "euclidean")],
)
def test_rdm_matches_scipy(rng, metric, scipy_metric):
    X = rng.normal(size=(15, 40))
    np.testing.assert_allclose(
        compute_rdm(X, metric, dtype="float64"), pdist(X, scipy_metric), rtol=1e-10, atol=1e-12
    )


def test_sqeuclidean_is_normalised_by_features(rng):
    X = rng.normal(size=(10, 8))
    np.testing.assert_allclose(
        compute_rdm(X, "sqeuclidean", dtype="float64"), pdist(X, "sqeuclidean") / 8, rtol=1e-10
    )


@pytest.mark.parametrize("device", ["cpu", "torch"])
@pytest.mark.parametrize("metric", ["euclidean", "sqeuclidean", "mahalanobis"])
def test_float32_distances_of_responses_with_a_large_mean(rng, metric, device):
    """BOLD-like patterns (10⁴ ± 1, float32): the default float32 RDM is scipy's float64 one on
    the same values. Through ‖a‖² + ‖b‖² − 2 a·b of the raw patterns it was off by up to 60×
    and uncorrelated in rank with the true one; single RDMs and a batch of small ones."""
    if device == "torch":
        pytest.importorskip("torch")
    X = (rng.normal(size=(3, 30, 50)) + 1e4).astype(np.float32)
    W = np.linalg.inv(np.cov(rng.normal(size=(500, 50)).T) + 0.1 * np.eye(50))
    kw = {"precision": W} if metric == "mahalanobis" else {}
    got = compute_rdm(X, metric, device=device, **kw)
    assert got.dtype == np.float32
    for k in range(3):
        x = X[k].astype(np.float64)
        if metric == "mahalanobis":
            ref = pdist(x, "mahalanobis", VI=W) ** 2 / 50
        else:
            ref = pdist(x, metric) / (50 if metric == "sqeuclidean" else 1)
        np.testing.assert_allclose(got[k], ref, rtol=2e-5)
        single = compute_rdm(X[k], metric, device=device, **kw)
        np.testing.assert_allclose(single, ref, rtol=2e-5)


def test_batched_rdms_and_torch_backend(rng):
    X = rng.normal(size=(3, 12, 20))
    batched = compute_rdm(X, dtype="float64")
    for k in range(3):
        np.testing.assert_allclose(batched[k], pdist(X[k], "correlation"), rtol=1e-10)
    pytest.importorskip("torch")
    np.testing.assert_allclose(compute_rdm(X, device="torch", dtype="float64"), batched, rtol=1e-9)


def test_constant_pattern_is_an_error():
    X = np.ones((4, 5))
    X[1] = np.arange(5)
    with pytest.raises(ValidationError, match="constant across features"):
        compute_rdm(X, dtype="float64")
    with pytest.raises(ConfigurationError, match="Did you mean 'correlation'"):
        compute_rdm(X, "corelation", dtype="float64")


def test_compare_methods_match_scipy(rng):
    a, b = rng.normal(size=(2, 45)), rng.normal(size=(3, 45))
    sp = compare_rdms(a, b, "spearman")
    pe = compare_rdms(a, b, "pearson")
    for i in range(2):
        for j in range(3):
            assert sp[i, j] == pytest.approx(spearmanr(a[i], b[j])[0], abs=1e-12)
            assert pe[i, j] == pytest.approx(pearsonr(a[i], b[j])[0], abs=1e-12)


def test_kendall_tau_a_counts_ties_as_neither():
    a = np.array([1.0, 2.0, 2.0, 3.0])
    b = np.array([1.0, 3.0, 2.0, 4.0])
    # pairs: 6; concordant 5, tied in a 1 -> tau_a = 5/6 (tau_b would differ)
    assert compare_rdms(a, b, "kendall_tau_a")[0, 0] == pytest.approx(5 / 6)


def test_pairs_drop_self_pairs_and_keep_duplicates():
    n = 5
    sample = np.array([0, 0, 3, 4, 4])
    idx, (pos_i, pos_j, n_sample) = _pairs(sample, n)
    assert n_sample == 5 and len(pos_i) == len(idx) and (sample[pos_i] != sample[pos_j]).all()
    full = np.array(list(zip(*np.triu_indices(n, 1), strict=True)))
    got = sorted(tuple(full[i]) for i in idx)
    # 10 pairs in the sample, minus (0,0) and (4,4): 8 kept, with (0,3),(0,4),(3,4) duplicated
    assert len(got) == 8
    assert got.count((0, 3)) == 2 and got.count((0, 4)) == 4 and got.count((3, 4)) == 2


def test_noise_ceiling_bounds_on_simulated_subjects(rng):
    truth = rng.normal(size=190)
    subjects = truth + rng.normal(size=(6, 190))
    low, high = rdm_noise_ceiling(subjects, "pearson")
    assert low < high
    # a model equal to the truth lies between the bounds (in expectation)
    true_model = compare_rdms(truth, subjects, "pearson").mean()
    assert low - 0.05 < true_model < high + 0.05


def test_bootstrap_rsa_ci_and_shared_indices(rng):
    n = 20
    ids = [f"s{i}" for i in range(n)]
    truth = rng.normal(size=(n, 10))
    data = RDMs(
        np.stack(
            [compute_rdm(truth + rng.normal(size=truth.shape), dtype="float64") for _ in range(4)]
        ),
        ids,
    )
    models = compute_rdms(Activations("m", ids, {"good": truth, "bad": rng.normal(size=(n, 10))}))
    res = bootstrap_rsa(models, data, n_boot=200, seed=1, over="stimuli")
    good, bad = res.table.set_index("layer").loc[["good", "bad"]].itertuples()
    assert good.value > bad.value
    assert good.ci_low <= good.value <= good.ci_high
    assert good.ceiling_low < good.ceiling_high
    again = bootstrap_rsa(models, data, n_boot=200, indices=bootstrap_indices(n, 200, seed=1))
    np.testing.assert_array_equal(res.arrays["samples"], again.arrays["samples"])
    with pytest.raises(StimulusMismatchError):
        bootstrap_rsa(models, data.select(ids[::-1]))
    subj = bootstrap_rsa(models, data, n_boot=50, over="subjects")
    assert np.isfinite(subj.arrays["samples"]).all()


@pytest.mark.parametrize("method", ["pearson", "spearman", "cosine"])
def test_fast_evaluation_equals_reference(rng, method):
    from neuroalign.compare import SIMILARITIES
    from neuroalign.compare._evaluate import _evaluate

    models = rng.normal(size=(3, 105))
    data = models[0] + rng.normal(size=(5, 105))
    data[:, :10] = np.round(data[:, :10])  # ties, as bootstrap duplicates create
    values, low, high = _evaluate(SIMILARITIES[method], models, data, method)
    np.testing.assert_allclose(values, compare_rdms(models, data, method).mean(1), rtol=1e-12)
    ref_low, ref_high = rdm_noise_ceiling(data, method)
    assert low == pytest.approx(ref_low, rel=1e-12) and high == pytest.approx(ref_high, rel=1e-12)


def test_rank_rows_equals_scipy_rankdata_with_ties(rng):
    from scipy.stats import rankdata

    from neuroalign.compare._ranks import rank_rows

    for decimals in (0, 1, 3):
        x = np.round(rng.normal(size=(4, 200)), decimals)
        np.testing.assert_array_equal(rank_rows(x), rankdata(x, axis=1))
    np.testing.assert_array_equal(rank_rows(np.array([3.0, 1.0, 3.0])), [2.5, 1.0, 2.5])


def test_rank_kernels_equal_scipy_with_ties(rng):
    from scipy.stats import rankdata

    from neuroalign.compare._ranks import code_rows, rank_integer_rows

    for top in (1, 3, 40, 5000):
        x = rng.integers(0, top + 1, size=(5, 301)).astype(float)
        np.testing.assert_array_equal(rank_integer_rows(x), rankdata(x, axis=1))
        codes, ties = code_rows(x)
        np.testing.assert_array_equal(codes, rankdata(x, axis=1, method="min"))
        for row, t in zip(x, ties, strict=True):
            _, counts = np.unique(row, return_counts=True)
            assert t == (counts * (counts - 1) // 2).sum()


def test_rank_kernels_with_one_reused_workspace_equal_scipy(rng):
    """One Workspace through calls of growing and shrinking shapes, int32 and int64 keys (values
    past 2**31 >> bits), ranks and codes in turn: every result equals scipy's."""
    from scipy.stats import rankdata

    from neuroalign.compare._ranks import Workspace, code_rows, rank_integer_rows

    ws = Workspace()
    for rows, m, top in [(3, 50, 4), (9, 301, 5000), (2, 17, 2**40), (6, 120, 30), (1, 5, 0)]:
        x = rng.integers(0, top + 1, size=(rows, m)).astype(float)
        ranks = rank_integer_rows(x, ws)
        np.testing.assert_array_equal(ranks, rankdata(x, axis=1))
        codes, ties = code_rows(x, ws)
        np.testing.assert_array_equal(codes, rankdata(x, axis=1, method="min"))
        np.testing.assert_array_equal(ties, code_rows(x)[1])


def _tau_a_by_definition(a, b):
    i, j = np.triu_indices(len(a), 1)
    return float(np.mean(np.sign(a[i] - a[j]) * np.sign(b[i] - b[j])))


def test_kendall_tau_a_equals_its_definition_with_ties_in_both(rng):
    from neuroalign.compare._ranks import _discordant, discordant_numpy, kendall_ref

    for levels_a, levels_b in ((None, None), (4, None), (None, 3), (3, 5)):
        a = rng.random((3, 120)) if levels_a is None else rng.integers(0, levels_a, (3, 120)) * 1.0
        b = rng.random((2, 120)) if levels_b is None else rng.integers(0, levels_b, (2, 120)) * 1.0
        got = compare_rdms(a, b, "kendall_tau_a")
        want = [[_tau_a_by_definition(x, y) for y in b] for x in a]
        np.testing.assert_allclose(got, want, atol=1e-12)
        ref = kendall_ref(a[0])
        ys = rng.permutation(120) + 1
        assert _discordant(ref.sorted_codes, ys) == discordant_numpy(ref.sorted_codes, ys)


@pytest.mark.parametrize("method", ["pearson", "spearman", "kendall_tau_a", "cosine"])
def test_constant_rdm_gives_nan_with_a_warning(method):
    from neuroalign.core.exceptions import NeuroalignWarning

    const = np.zeros((1, 10)) if method == "cosine" else np.full((1, 10), 2.0)
    other = np.arange(10.0)[None]
    with pytest.warns(NeuroalignWarning, match="returned as NaN"):
        out = compare_rdms(const, np.vstack([other, other[:, ::-1]]), method)
    assert np.isnan(out).all()


@pytest.mark.parametrize("method", ["spearman", "rho_a", "kendall_tau_a", "pearson"])
def test_batched_subject_ceilings_equal_the_reference(rng, method):
    """The batched pooled-sum paths equal rdm_noise_ceiling on every resample, also when the
    data RDMs hold ties (the tied-in-both count of τ_a). Pearson: from the subjects' Gram
    matrix of z-scored rows."""
    from neuroalign.compare._similarity import _zscore_rows
    from neuroalign.compare._subject_boot import (
        _pearson_subject_ceilings,
        _ranked_subject_ceilings,
    )

    data = rng.normal(size=(6, 66))
    data[:3, :20] = np.round(data[:3, :20])
    idx = rng.integers(0, 6, size=(40, 6))
    if method == "pearson":
        got = _pearson_subject_ceilings(_zscore_rows(data), idx)
    else:
        got = _ranked_subject_ceilings(data, idx, method)
    for k in range(40):
        if len(np.unique(idx[k])) < 2:
            assert np.isnan(got[k]).all()
        else:
            np.testing.assert_allclose(
                got[k], rdm_noise_ceiling(data[idx[k]], method, idx[k]), rtol=1e-12, atol=1e-14
            )


def test_whitened_inverse_with_missing_pairs_equals_the_dense_solve(rng):
    from neuroalign.compare._similarity import _v_inverse

    n = 7
    sample = np.array([0, 2, 2, 5, 6, 1, 1])
    i, j = np.triu_indices(n, 1)
    keep = sample[i] != sample[j]
    rows, cols = i[keep], j[keep]
    B = np.zeros((len(rows), n))
    B[np.arange(len(rows)), rows] = 1
    B[np.arange(len(rows)), cols] = 1
    V = 2 * np.eye(len(rows)) + B @ B.T
    x = rng.normal(size=(3, len(rows)))
    np.testing.assert_allclose(
        _v_inverse(x, (rows, cols, n)), np.linalg.solve(V, x.T).T, rtol=1e-10
    )
    full = rng.normal(size=(2, n * (n - 1) // 2))  # complete pairs: closed form = general solve
    np.testing.assert_allclose(_v_inverse(full), _v_inverse(full, (i, j, n)), rtol=1e-10)


@pytest.mark.parametrize("metric", ["correlation", "cosine", "euclidean", "sqeuclidean"])
def test_rdm_is_float32_by_default_and_float64_on_request(rng, metric):
    X = rng.normal(size=(3, 30, 200))
    ref = np.stack([pdist(x, "sqeuclidean" if metric == "sqeuclidean" else metric) for x in X])
    if metric == "sqeuclidean":
        ref /= 200
    f32 = compute_rdm(X, metric)
    assert f32.dtype == np.float32
    np.testing.assert_allclose(f32, ref, rtol=2e-5, atol=2e-5 * np.abs(ref).max())
    f64 = compute_rdm(X, metric, dtype="float64")
    assert f64.dtype == np.float64
    np.testing.assert_allclose(f64, ref, rtol=1e-10, atol=1e-12)


def test_float32_rdm_memory_stays_near_one_copy_of_the_input(rng):
    """Peak traced memory of a correlation RDM of a float32 (300 x 20000) input: one centred
    copy of the input plus n x n, not float64 copies (which would be >= 2x the input each)."""
    import tracemalloc

    X = rng.standard_normal((300, 20_000), dtype=np.float32)
    compute_rdm(X[:, :10])  # warm caches
    tracemalloc.start()
    compute_rdm(X)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert peak < 1.3 * X.nbytes, (peak / 1e6, X.nbytes / 1e6)
