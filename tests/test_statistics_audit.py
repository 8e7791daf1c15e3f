"""Statistics an audit checked against peers and simulations (p-values, type-I error): the three
that were wrong, each test failing on the previous code."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.model_selection import RepeatedStratifiedKFold, StratifiedShuffleSplit

from neuroalign.compare import rsa_permutation_test
from neuroalign.core.exceptions import ValidationError
from neuroalign.decode import permutation_cluster_test
from neuroalign.decode._classic import permutation_blocks, permute_within


def test_rsa_permutation_counts_ties_with_the_observed_value():
    """A categorical model RDM (two categories of 4 stimuli): 1 relabelling in 35 gives the
    observed statistic exactly, up to ~1e-17 of rounding that a strict >= dropped (p 0.002 where
    1/35 is the smallest possible). Every tie is counted now, for several datasets."""
    from scipy.spatial.distance import pdist

    lab = np.repeat([0, 1], 4)
    model = pdist(lab[:, None], "hamming")
    rng = np.random.default_rng(0)
    for seed in range(6):
        data = pdist(rng.normal(size=(8, 5)) + lab[:, None] * 0.8)[None]
        r = rsa_permutation_test(model, data, n_permutations=500, seed=seed, quiet=True)
        null, value = r.arrays["null"], r.table["value"].iloc[0]
        ties = np.isclose(null, value, rtol=0, atol=1e-12)
        assert ties.any()  # the categorical model's own relabellings
        expected = (1 + (null > value + 1e-12).sum() + ties.sum()) / 501
        assert r.table["p_value"].iloc[0] == pytest.approx(expected)


def test_cluster_masses_are_measured_from_the_null_not_the_majority_rate():
    """75/25 classes and a class-balanced decoder: the permutation null sits near 0.53, far
    below the majority-class 'chance' 0.75; masses from chance were negative and no cluster
    was ever significant."""
    rng = np.random.default_rng(1)
    null = 0.53 + 0.03 * rng.standard_normal((99, 20))
    observed = np.full(20, 0.53)
    observed[5:12] = 0.70
    res = permutation_cluster_test(observed, null, chance=0.75)
    assert len(res["masses"]) == 1 and res["masses"][0] > 0
    assert res["p_values"][0] == pytest.approx(0.01)
    assert np.flatnonzero(res["labels"]).tolist() == list(range(5, 12))


def test_permutation_blocks_keep_class_counts_of_repeated_folds():
    """Samples in several test sets (repeated K-fold): labels move only between samples with
    the same test sets, so every split keeps its class counts (the global shuffle this fell back
    to gave 8 % false positives at 5 %); splits where most samples are alone are refused."""
    y = np.repeat([0, 1, 2], 40)
    X = np.zeros((len(y), 1))
    splits = list(RepeatedStratifiedKFold(n_splits=5, n_repeats=2, random_state=0).split(X, y))
    blocks = permutation_blocks(splits, None, len(y))
    rng = np.random.default_rng(2)
    for _ in range(5):
        yp = permute_within(y, blocks, rng)
        assert not np.array_equal(yp, y)
        for _, test in splits:
            np.testing.assert_array_equal(np.bincount(yp[test]), np.bincount(y[test]))
    shuffle = list(StratifiedShuffleSplit(n_splits=20, test_size=0.2, random_state=0).split(X, y))
    with pytest.raises(ValidationError, match="partition the samples"):
        permutation_blocks(shuffle, None, len(y))
