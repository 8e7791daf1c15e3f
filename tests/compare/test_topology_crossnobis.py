import numpy as np
import pytest

from neuroalign import RDMs
from neuroalign.compare import (
    compute_crossnobis_rdm,
    compute_rdm,
    geodesic_transform,
    geotopological_transform,
    noise_precision,
)
from neuroalign.core.exceptions import ValidationError


def test_geotopological_transform_per_rdm_quantiles(rng):
    vecs = np.stack([rng.uniform(size=45), 10 * rng.uniform(size=45)])  # two RDMs, different scales
    gt = geotopological_transform(vecs, low=0.2, up=0.8)
    for v, g in zip(vecs, gt, strict=True):
        lo, hi = np.quantile(v, [0.2, 0.8])
        np.testing.assert_allclose(g, np.clip((v - lo) / (hi - lo), 0, 1))
    # per-RDM quantiles: a rescaled RDM has the same transform (pooled quantiles would not)
    np.testing.assert_allclose(gt[0], geotopological_transform(vecs[0] * 7.0, 0.2, 0.8))


def test_single_rdm_equals_rsatoolbox(rng):
    """rsatoolbox applies its upper clip after rescaling the middle range, so rescaled values
    above the upper threshold *in data units* are wrongly set to 1 when that threshold is < 1;
    with dissimilarities >= 1 that cannot happen, and the two transforms agree."""
    rsatoolbox = pytest.importorskip("rsatoolbox")
    from rsatoolbox.rdm.transform import geotopological_transform as rsa_gt

    v = 1.0 + 10 * rng.uniform(size=45)
    ours = geotopological_transform(v, 0.1, 0.9)
    theirs = rsa_gt(rsatoolbox.rdm.RDMs(v[None]), 0.1, 0.9).get_vectors()[0]
    np.testing.assert_allclose(ours, theirs, atol=1e-12)


def test_geodesic_follows_the_neighbourhood_graph():
    # points on a line: 0, 1, 2, 3; with thresholds making only neighbours < 1
    X = np.arange(4.0)[:, None]
    rdm = compute_rdm(X, "euclidean", dtype="float64")  # pairs: 1,2,3,1,2,1
    geo = geodesic_transform(RDMs(rdm, list("abcd")), low=0.0, up=0.5)
    sq = geo.square()[0]
    gt = geotopological_transform(rdm, 0.0, 0.5)
    # neighbours (GT 0) are linked; far pairs, saturated in GT, are reached through them
    np.testing.assert_allclose(np.asarray(gt), [0, 1, 1, 0, 1, 0])
    np.testing.assert_allclose(sq, np.zeros((4, 4)))
    assert geo.metric.startswith("geodesic")
    with pytest.raises(ValidationError, match="low < up"):
        geotopological_transform(rdm, 0.6, 0.5)


@pytest.mark.filterwarnings("ignore:invalid value encountered in cast")  # inside rsatoolbox
def test_crossnobis_is_unbiased_and_equals_rsatoolbox(rng):
    n, p, runs = 8, 30, 6
    true = rng.normal(size=(n, p))
    noise_sd = 3.0
    pats = true[None] + noise_sd * rng.normal(size=(runs, n, p))
    d = compute_crossnobis_rdm(pats)
    truth = compute_rdm(true, "sqeuclidean", dtype="float64")
    naive = compute_rdm(pats.mean(0), "sqeuclidean", dtype="float64")
    # the naive distance is inflated by the noise (~2 sd² / runs); the cross-validated one is not
    assert abs((d - truth).mean()) < 0.5 < (naive - truth).mean()
    pytest.importorskip("rsatoolbox")
    from rsatoolbox.data import Dataset
    from rsatoolbox.rdm import calc_rdm

    ds = Dataset(
        pats.reshape(runs * n, p),
        obs_descriptors={"stim": np.tile(np.arange(n), runs), "run": np.repeat(np.arange(runs), n)},
    )
    W = noise_precision(pats.reshape(runs * n, p) - np.tile(pats.mean(0), (runs, 1)), shrinkage=0.4)
    ref = calc_rdm(
        ds, method="crossnobis", descriptor="stim", cv_descriptor="run", noise=W
    ).get_vectors()[0]
    np.testing.assert_allclose(
        compute_crossnobis_rdm(pats, precision=W), ref, rtol=1e-8, atol=1e-10
    )
    ref_m = calc_rdm(Dataset(true), method="mahalanobis", noise=W).get_vectors()[0]
    np.testing.assert_allclose(
        compute_rdm(true, "mahalanobis", precision=W, dtype="float64"), ref_m, rtol=1e-8
    )


def test_noise_precision_options_and_errors(rng):
    R = rng.normal(size=(200, 5))
    for shrink in ("ledoit_wolf", "diagonal", 0.3):
        W = noise_precision(R, shrinkage=shrink)
        assert W.shape == (5, 5) and np.all(np.linalg.eigvalsh(W) > 0)
    with pytest.raises(ValidationError, match="shrinkage"):
        noise_precision(R, shrinkage=1.5)
    with pytest.raises(ValidationError, match="needs precision"):
        compute_rdm(R[:5], "mahalanobis", dtype="float64")
    with pytest.raises(ValidationError, match=">= 2 runs"):
        compute_crossnobis_rdm(R[None, :5])


def test_geodesic_separates_disconnected_clusters(rng):
    X = np.vstack([rng.normal(size=(6, 3)) * 0.1, rng.normal(size=(6, 3)) * 0.1 + 10])
    geo = geodesic_transform(compute_rdm(X, "euclidean", dtype="float64"), low=0.05, up=0.4)
    from neuroalign.core._rdms import condensed_index

    rows, cols = condensed_index(12)
    between = (rows < 6) != (cols < 6)
    np.testing.assert_allclose(geo[between], 1.0)  # no path below the upper threshold
    assert (geo[~between] < 1.0).mean() > 0.9  # within a cluster, paths exist


def test_crossnobis_float32_with_a_large_mean(rng):
    """Runs of BOLD-like patterns (10⁴ ± 1, float32 values): float32 crossnobis equals float64
    on the same values (each run centred over stimuli first; before, 100× off)."""
    pats = (rng.normal(size=(4, 20, 40)) + 1e4).astype(np.float32)
    ref = compute_crossnobis_rdm(pats.astype(np.float64), dtype="float64")
    got = compute_crossnobis_rdm(pats, dtype="float32")
    np.testing.assert_allclose(got, ref, rtol=0, atol=1e-5 * np.abs(ref).max())
    # a shift per run changes nothing: it cancels in every cross-run product
    moved = pats.astype(np.float64) + rng.normal(size=(4, 1, 40)) * 100
    np.testing.assert_allclose(
        compute_crossnobis_rdm(moved, dtype="float64"), ref, rtol=0, atol=1e-7 * np.abs(ref).max()
    )
