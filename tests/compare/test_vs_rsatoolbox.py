"""neuroalign's RSA equals rsatoolbox's on the same input."""

import numpy as np
import pytest

rsatoolbox = pytest.importorskip("rsatoolbox")
from rsatoolbox.rdm import RDMs as RsaRDMs  # noqa: E402
from rsatoolbox.rdm import compare as rsa_compare  # noqa: E402

from neuroalign.compare import compare_rdms, compute_rdm, rdm_noise_ceiling  # noqa: E402

METHODS = {  # neuroalign name -> rsatoolbox name
    "pearson": "corr",
    "spearman": "spearman",
    "cosine": "cosine",
    "kendall_tau_a": "tau-a",
    "rho_a": "rho-a",
    "corr_cov": "corr_cov",
    "cosine_cov": "cosine_cov",
}


@pytest.fixture(scope="module")
def rdm_stacks():
    rng = np.random.default_rng(0)
    n = 12
    truth = rng.normal(size=(n, 30))
    data = np.stack(
        [compute_rdm(truth + rng.normal(size=truth.shape), dtype="float64") for _ in range(5)]
    )
    models = np.stack(
        [compute_rdm(rng.normal(size=(n, 30)), dtype="float64") for _ in range(2)]
        + [compute_rdm(truth, dtype="float64")]
    )
    models[0, :10] = np.round(models[0, :10], 1)  # ties
    return models, data


@pytest.mark.parametrize("method", list(METHODS))
def test_compare_equals_rsatoolbox(rdm_stacks, method):
    models, data = rdm_stacks
    ours = compare_rdms(models, data, method)
    theirs = rsa_compare(RsaRDMs(models), RsaRDMs(data), method=METHODS[method])
    np.testing.assert_allclose(ours, theirs, rtol=1e-7, atol=1e-10)


@pytest.mark.parametrize("method", ["pearson", "spearman", "cosine", "rho_a"])
def test_noise_ceiling_equals_rsatoolbox(rdm_stacks, method):
    from rsatoolbox.inference import boot_noise_ceiling

    _, data = rdm_stacks
    low, high = rdm_noise_ceiling(data, method)
    ref_low, ref_high = boot_noise_ceiling(RsaRDMs(data), method=METHODS[method])
    assert low == pytest.approx(ref_low, rel=1e-6) and high == pytest.approx(ref_high, rel=1e-6)


@pytest.mark.parametrize(
    "metric,rsa_metric", [("correlation", "correlation"), ("euclidean", "euclidean")]
)
def test_rdm_metrics_equal_rsatoolbox(metric, rsa_metric):
    from rsatoolbox.data import Dataset
    from rsatoolbox.rdm import calc_rdm

    X = np.random.default_rng(2).normal(size=(10, 25))
    theirs = calc_rdm(Dataset(X), method=rsa_metric).get_vectors()[0]
    ours = compute_rdm(X, "sqeuclidean" if metric == "euclidean" else metric, dtype="float64")
    np.testing.assert_allclose(ours, theirs, rtol=1e-9)


@pytest.mark.parametrize("method", ["corr_cov", "cosine_cov"])
def test_whitened_noise_ceiling_equals_rsatoolbox_definition(rdm_stacks, method):
    """For whitened methods rsatoolbox's boot_noise_ceiling returns values a few 1e-3 away from
    its own definition recomputed with its pool_rdm and compare (which agree with each other and
    with us to 1e-10); we test against the definition."""
    from rsatoolbox.util.pooling import pool_rdm

    _, data = rdm_stacks
    name = METHODS[method]
    upper = np.mean(rsa_compare(pool_rdm(RsaRDMs(data), method=name), RsaRDMs(data), method=name))
    lower = np.mean(
        [
            rsa_compare(
                pool_rdm(RsaRDMs(np.delete(data, s, 0)), method=name),
                RsaRDMs(data[[s]]),
                method=name,
            )[0, 0]
            for s in range(len(data))
        ]
    )
    low, high = rdm_noise_ceiling(data, method)
    assert low == pytest.approx(lower, rel=1e-9) and high == pytest.approx(upper, rel=1e-9)


@pytest.mark.filterwarnings("ignore:Noise ceiling for tau")
@pytest.mark.parametrize(
    "method", ["spearman", "kendall_tau_a", "pearson", "rho_a", "corr_cov", "cosine_cov"]
)
def test_stimulus_bootstrap_samples_equal_rsatoolbox(rdm_stacks, method):
    from rsatoolbox.inference import boot_noise_ceiling

    from neuroalign import RDMs
    from neuroalign.compare import bootstrap_indices, bootstrap_rsa

    models, data = rdm_stacks
    ids = [f"s{i}" for i in range(12)]
    idx = bootstrap_indices(12, 15, seed=3)
    res = bootstrap_rsa(RDMs(models, ids), RDMs(data, ids), method=method, indices=idx)
    name = METHODS[method]
    for k in range(len(idx)):
        m_s = RsaRDMs(models).subsample_pattern("index", idx[k])
        d_s = RsaRDMs(data).subsample_pattern("index", idx[k])
        expected = [np.mean(rsa_compare(m_s[j], d_s, method=name)) for j in range(len(models))]
        np.testing.assert_allclose(res.arrays["samples"][k], expected, rtol=1e-6, atol=1e-12)
        if method in ("corr_cov", "cosine_cov"):
            low, high = _whitened_ceiling_by_definition(d_s, name)
        else:
            low, high = boot_noise_ceiling(d_s, method=name)
        np.testing.assert_allclose(res.arrays["ceiling_samples"][k], [low, high], rtol=1e-6)


def _whitened_ceiling_by_definition(d_s, name, groups=None):
    """rsatoolbox's ceiling definition from its own pool_rdm and compare (its boot_noise_ceiling
    is a few 1e-3 off for whitened methods, see the test above); rows of a group leave together."""
    from rsatoolbox.util.pooling import pool_rdm

    groups = np.arange(d_s.n_rdm) if groups is None else np.asarray(groups)
    upper, lower = [], []
    pooled = pool_rdm(d_s, method=name)
    for g in np.unique(groups):
        inside = np.flatnonzero(groups == g)
        upper.append(np.mean(rsa_compare(pooled, d_s[inside], method=name)))
        rest = pool_rdm(d_s[np.flatnonzero(groups != g)], method=name)
        lower.append(np.mean(rsa_compare(rest, d_s[inside], method=name)))
    return np.mean(lower), np.mean(upper)


@pytest.mark.filterwarnings("ignore:Noise ceiling for tau")
@pytest.mark.parametrize("method", ["spearman", "kendall_tau_a", "rho_a", "corr_cov"])
def test_subject_bootstrap_samples_equal_rsatoolbox(rdm_stacks, method):
    from rsatoolbox.inference import boot_noise_ceiling

    from neuroalign import RDMs
    from neuroalign.compare import bootstrap_rsa

    models, data = rdm_stacks
    ids = [f"s{i}" for i in range(12)]
    res = bootstrap_rsa(
        RDMs(models, ids), RDMs(data, ids), method=method, n_boot=10, over="subjects", seed=5
    )
    name = METHODS[method]
    subj = np.random.default_rng(6).integers(0, data.shape[0], size=(10, data.shape[0]))  # seed + 1
    for k in range(10):
        d_s = RsaRDMs(data[subj[k]], rdm_descriptors={"index": subj[k]})
        expected = np.mean(rsa_compare(RsaRDMs(models), d_s, method=name), axis=1)
        np.testing.assert_allclose(res.arrays["samples"][k], expected, rtol=1e-6)
        if len(np.unique(subj[k])) > 1:
            expected_ceiling = (
                _whitened_ceiling_by_definition(d_s, name, subj[k])
                if method == "corr_cov"
                else boot_noise_ceiling(d_s, method=name)
            )
            np.testing.assert_allclose(
                res.arrays["ceiling_samples"][k], expected_ceiling, rtol=1e-6
            )


@pytest.mark.filterwarnings("ignore:Noise ceiling for tau")
@pytest.mark.parametrize("method", ["pearson", "spearman", "kendall_tau_a"])
def test_grouped_noise_ceiling_equals_rsatoolbox(rng, method):
    """Sessions of one subject are left out together (rsatoolbox's rdm_descriptor)."""
    from rsatoolbox.inference import boot_noise_ceiling

    from neuroalign.compare import SIMILARITIES
    from neuroalign.compare._evaluate import _evaluate

    truth = rng.normal(size=(10, 20))
    data = np.stack(
        [compute_rdm(truth + rng.normal(size=truth.shape), dtype="float64") for _ in range(6)]
    )
    groups = np.array([0, 0, 1, 1, 2, 2])
    ref = boot_noise_ceiling(
        RsaRDMs(data, rdm_descriptors={"subject": groups}),
        method=METHODS[method],
        rdm_descriptor="subject",
    )
    np.testing.assert_allclose(rdm_noise_ceiling(data, method, groups), ref, rtol=1e-9)
    _, low, high = _evaluate(SIMILARITIES[method], data[:1], data, method, groups)
    np.testing.assert_allclose([low, high], ref, rtol=1e-9)


@pytest.mark.filterwarnings("ignore:Noise ceiling for tau")
@pytest.mark.parametrize("method", ["spearman", "kendall_tau_a", "pearson", "cosine", "rho_a"])
def test_real_92_image_data_equals_rsatoolbox(method):
    """Human-IT subject RDMs (Kriegeskorte 2008, bundled) against the monkey-IT and animacy RDMs."""
    from rsatoolbox.inference import boot_noise_ceiling

    from neuroalign.data import load_kriegeskorte92

    k92 = load_kriegeskorte92()
    human = k92.human_it.dissimilarities.reshape(4, 2, -1).mean(1)  # sessions averaged per subject
    models = np.vstack(
        [k92.monkey_it.dissimilarities, k92.models.dissimilarities[[0]]]
    )  # monkey IT, animacy
    name = METHODS[method]
    np.testing.assert_allclose(
        compare_rdms(models, human, method),
        rsa_compare(RsaRDMs(models), RsaRDMs(human), method=name),
        rtol=1e-9,
        atol=1e-12,
    )
    np.testing.assert_allclose(
        rdm_noise_ceiling(human, method), boot_noise_ceiling(RsaRDMs(human), method=name), rtol=1e-9
    )
