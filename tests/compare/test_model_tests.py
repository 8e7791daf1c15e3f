"""Model comparisons and permutation tests, against ground truth and scipy."""

import numpy as np
import pytest
from scipy.stats import false_discovery_control, spearmanr

from neuroalign import Activations, RDMs
from neuroalign.compare import (
    bootstrap_rsa,
    compare_models,
    compute_rdm,
    compute_rdms,
    rsa_permutation_test,
)
from neuroalign.core.exceptions import ValidationError

N = 30
IDS = [f"s{i}" for i in range(N)]


def _subjects(truth, rng, k=6, noise=1.0):
    return RDMs(
        np.stack([compute_rdm(truth + noise * rng.normal(size=truth.shape)) for _ in range(k)]),
        IDS[: len(truth)],
    )


@pytest.fixture
def simulation(rng):
    """The data are noisy copies of ``truth``; model ``true`` IS the truth (not built from the
    data), ``close`` a degraded copy, ``noise`` unrelated."""
    truth = rng.normal(size=(N, 10))
    acts = Activations(
        "m",
        IDS,
        {
            "true": truth,
            "close": truth + 0.8 * rng.normal(size=truth.shape),
            "noise": rng.normal(size=(N, 10)),
        },
    )
    data = _subjects(truth, rng)
    return compute_rdms(acts), data, truth


def test_pairwise_comparisons_recover_the_known_order(simulation):
    models, data, _ = simulation
    res = bootstrap_rsa(models, data, n_boot=300, over="both", seed=2, quiet=True)
    out = compare_models(res)
    assert out.kind == "rsa.model_tests"
    t = out.table.set_index(["layer", "layer_other"])
    assert t.loc[("true", "noise"), "p_value"] < 0.01 and t.loc[("true", "noise"), "ci_low"] > 0
    assert t.loc[("true", "close"), "value"] > 0
    values = res.table.set_index("layer")["value"]
    assert t.loc[("true", "close"), "value"] == pytest.approx(values["true"] - values["close"])
    # the true model generated the data: not significantly below the lower noise ceiling
    assert t.loc[("true", "noise ceiling (lower)"), "ci_high"] > 0
    # q-values are Benjamini-Hochberg's (scipy's implementation)
    np.testing.assert_allclose(
        out.table["q_value"], false_discovery_control(out.table["p_value"]), rtol=1e-12
    )
    assert len(out.table) == 3 + 3 and (out.table["analysis"] == "rsa").all()


def test_compare_models_bad_label_names_the_columns(simulation):
    models, data, _ = simulation
    res = bootstrap_rsa(models, data, n_boot=20, over="stimuli", quiet=True)
    with pytest.raises(ValidationError, match=r"label='model_name' is not a column.*'layer'"):
        compare_models(res, label="model_name")
    with pytest.raises(ValidationError, match="needs the Result of bootstrap_rsa"):
        compare_models(res.table)


def test_permutation_test_value_equals_scipy_and_truth_is_significant(simulation):
    _, data, truth = simulation
    model = RDMs(compute_rdm(truth, dtype="float64"), IDS)
    res = rsa_permutation_test(model, data, n_permutations=200, quiet=True)
    row = res.table.iloc[0]
    expected = np.mean([spearmanr(model.dissimilarities[0], d)[0] for d in data.dissimilarities])
    assert row["value"] == pytest.approx(expected, abs=1e-12)
    null = res.arrays["null"]
    assert null.shape == (200,) and row["value"] > null.max()
    assert row["p_value"] == pytest.approx(1 / 201)  # nothing in the null reaches the truth


def test_permutation_p_values_are_calibrated_under_the_null(rng):
    """A model unrelated to the data: p < 0.1 in about 10 % of 60 independent simulations
    (binomial 99.9 % range 1-14); a test that always says p = 1 or p = 0 fails."""
    hits = 0
    for _ in range(60):
        data = _subjects(rng.normal(size=(12, 6)), rng, k=3)
        null_model = RDMs(compute_rdm(rng.normal(size=(12, 6))), IDS[:12])
        p = rsa_permutation_test(null_model, data, n_permutations=99, quiet=True).table
        hits += p["p_value"].iloc[0] < 0.1
    assert 1 <= hits <= 14


def test_permutation_bad_count_is_an_error(simulation):
    models, data, _ = simulation
    for bad in (0, -5, 2.5):
        with pytest.raises(ValidationError, match="n_permutations must be an integer >= 1"):
            rsa_permutation_test(models.subset([0]), data, n_permutations=bad)
