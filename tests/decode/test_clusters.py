"""Cluster statistics: the group-level sign-flip test equals MNE's permutation_cluster_1samp_test
(exact enumeration), and permutation / cluster tests hold their nominal false-positive rate."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from neuroalign.core.exceptions import ValidationError
from neuroalign.data import make_epochs
from neuroalign.decode import cluster_test_subjects, decode_over_time, permutation_cluster_test


def _group_scores(rng, n_subjects=8, n_times=40, effect=0.0):
    x = 0.5 + 0.05 * rng.standard_normal((n_subjects, n_times))
    x[:, 15:25] += effect
    return x


def test_group_cluster_test_equals_mne(rng):
    mne_stats = pytest.importorskip("mne.stats")
    x = _group_scores(rng, effect=0.06)
    ours = cluster_test_subjects(x, 0.5, n_permutations=1000)
    thr = stats.t.ppf(0.95, len(x) - 1)
    t, clusters, p, _ = mne_stats.permutation_cluster_1samp_test(
        x - 0.5, threshold=thr, tail=1, n_permutations=2 ** len(x), out_type="mask", verbose=False
    )
    np.testing.assert_allclose(ours["t"], t, rtol=1e-10)
    assert len(clusters) == len(ours["p_values"]) >= 1
    for mask, pv in zip(clusters, p, strict=True):
        k = np.unique(ours["labels"][mask])
        assert len(k) == 1 and k[0] > 0
        # MNE's exact H0 holds the identity flip twice (prepended observed maximum + the
        # enumeration); ours holds it once: the p-values differ by at most one flip in 2^n
        assert abs(ours["p_values"][k[0] - 1] - pv) <= 1 / 2 ** len(x) + 1e-12
    assert ours["p_values"].min() <= 0.01


def test_within_subject_cluster_test_shapes_and_errors():
    obs = np.r_[np.full(5, 0.5), np.full(5, 0.9), np.full(5, 0.5)]
    null = 0.5 + 0.05 * np.random.default_rng(0).standard_normal((99, 15))
    res = permutation_cluster_test(obs, null, 0.5)
    assert res["labels"].max() == 1 and res["p_values"][0] == pytest.approx(0.01)
    assert np.flatnonzero(res["labels"]).tolist() == list(range(5, 10))
    with pytest.raises(ValidationError, match="n_permutations"):
        permutation_cluster_test(obs, null[:, :3], 0.5)
    with pytest.raises(ValidationError, match="at least 3"):
        cluster_test_subjects(obs[None].repeat(2, 0), 0.5)


@pytest.mark.slow
def test_nominal_false_positive_rates():
    """200 null datasets each: cluster (within subject), pointwise permutation, group cluster."""
    cluster_fp, pointwise_fp, pointwise_n = 0, 0, 0
    for i in range(200):
        sim = make_epochs(60, 6, 20, snr=0.0, seed=1000 + i)
        r = decode_over_time(sim.epochs, sim.labels, cv=5, n_permutations=99, seed=i)
        cluster_fp += bool((r.arrays["cluster_p_values"] <= 0.05).any())
        pointwise_fp += int((r.arrays["cluster_pointwise_p"] <= 0.05).sum())
        pointwise_n += r.arrays["cluster_pointwise_p"].size
    assert cluster_fp / 200 <= 0.06, cluster_fp
    assert pointwise_fp / pointwise_n <= 0.06, pointwise_fp / pointwise_n
    rng = np.random.default_rng(7)
    group_fp = sum(
        bool(
            (
                cluster_test_subjects(_group_scores(rng, 12), 0.5, n_permutations=200, seed=i)[
                    "p_values"
                ]
                <= 0.05
            ).any()
        )
        for i in range(200)
    )
    assert group_fp / 200 <= 0.06, group_fp
