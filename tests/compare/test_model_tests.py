import numpy as np
import pytest

from neuroalign import Activations, RDMs
from neuroalign.compare import (
    bootstrap_rsa,
    compare_models,
    compute_rdm,
    compute_rdms,
    rsa_permutation_test,
)


@pytest.fixture
def rsa_result(rng):
    n = 30
    ids = [f"s{i}" for i in range(n)]
    truth = rng.normal(size=(n, 10))
    data = RDMs(
        np.stack([compute_rdm(truth + rng.normal(size=truth.shape)) for _ in range(6)]), ids
    )
    acts = Activations(
        "m",
        ids,
        {
            "true": truth,
            "close": truth + 0.3 * rng.normal(size=truth.shape),
            "noise": rng.normal(size=(n, 10)),
        },
    )
    return bootstrap_rsa(compute_rdms(acts), data, n_boot=300, over="both", seed=2), data


def test_pairwise_comparisons(rsa_result):
    res, _ = rsa_result
    table = compare_models(res)
    pairs = {
        (a, b): row
        for a, b, row in zip(table["model_a"], table["model_b"], table.itertuples(), strict=True)
    }
    assert pairs[("true", "noise")].p_value < 0.01 and pairs[("true", "noise")].ci_low > 0
    assert pairs[("true", "close")].difference > 0
    # the true model is not significantly below the lower noise ceiling (it generated the data)
    assert pairs[("true", "noise ceiling (lower)")].ci_high > 0
    assert (table["q_value"] >= table["p_value"] - 1e-12).all()
    assert len(table) == 3 + 3


def test_rsa_permutation_test(rsa_result, rng):
    _, data = rsa_result
    truth_rdm = data.mean()
    value, p, null = rsa_permutation_test(truth_rdm, data, n_permutations=200)
    assert value > null.max()
    assert p < 0.01 and null.shape == (200,) and abs(null.mean()) < 0.05
    noise = compute_rdm(rng.normal(size=(30, 5)))
    _, p_noise, _ = rsa_permutation_test(noise, data.dissimilarities, n_permutations=200)
    assert p_noise > 0.01
