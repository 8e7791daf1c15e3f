"""Subjects as the unit of RSA inference, what is resampled by default, cross-validated layer
selection, and clear errors for bad bootstrap arguments."""

import warnings

import numpy as np
import pandas as pd
import pytest

from neuroalign import RDMs
from neuroalign.compare import (
    bootstrap_rsa,
    compare_rdms,
    compute_rdm,
    pool_subjects,
    rdm_noise_ceiling,
    rsa_table,
    select_layer,
)
from neuroalign.core.exceptions import NeuroalignWarning, ValidationError
from neuroalign.data import load_kriegeskorte92


@pytest.fixture(scope="module")
def k92():
    return load_kriegeskorte92()


def test_sessions_of_a_subject_are_one_subject(k92):
    """human_it holds 4 subjects x 2 sessions: the ceiling is that of the 4 session-averaged
    subject RDMs, not the [0.328, 0.525] of 8 RDMs taken as 8 subjects."""
    res = bootstrap_rsa(k92.models, k92.human_it, n_boot=50, quiet=True)
    row = res.table.iloc[0]
    assert row["n"] == 4 and row["group_by"] == "subject" and row["n_rdms"] == 8
    averaged = k92.human_it.dissimilarities.reshape(4, 2, -1).mean(1)  # file order: subj x sess
    low, high = rdm_noise_ceiling(averaged, "spearman")
    assert (row["ceiling_low"], row["ceiling_high"]) == pytest.approx((low, high), rel=1e-12)
    assert not np.allclose([low, high], [0.328, 0.525], atol=0.01)
    wrong = bootstrap_rsa(k92.models, k92.human_it, n_boot=50, subject=None, over="stimuli")
    assert wrong.table[["ceiling_low", "ceiling_high"]].iloc[0].tolist() == pytest.approx(
        [0.328, 0.525], abs=1e-3
    )
    # rdm_noise_ceiling takes the container and pools the same way
    assert rdm_noise_ceiling(k92.human_it) == pytest.approx((low, high), rel=1e-12)
    # the value is the mean over subjects of the similarity with each subject's averaged RDM
    expected = compare_rdms(k92.models, averaged, "spearman").mean(1)
    np.testing.assert_allclose(res.table["value"], expected, rtol=1e-12)


def test_pool_subjects_refuses_to_mix_rois():
    d = RDMs(
        np.arange(12.0).reshape(4, 3),
        ["a", "b", "c"],
        pd.DataFrame({"subject": ["x", "x", "y", "y"], "roi": ["V1", "IT", "V1", "IT"]}),
    )
    with pytest.raises(ValidationError, match="differ in 'roi'"):
        pool_subjects(d)


def test_over_defaults_to_subjects_with_three_or_more(k92):
    res = bootstrap_rsa(k92.models, k92.human_it, n_boot=30, quiet=True)
    assert res.table["resampled"].eq("subjects").all() and "subject_indices" in res.arrays
    assert res.arrays["subject_indices"].max() < 4  # resamples of the 4 subjects, not 8 RDMs


def test_few_subjects_resample_stimuli_with_a_warning_and_a_note(k92):
    two = k92.human_it.subset(k92.human_it.descriptors["subject"].isin(["BE", "KO"]).to_numpy())
    assert pool_subjects(two).n_subjects == 2
    with pytest.warns(NeuroalignWarning, match="only 2 subject"):
        res = bootstrap_rsa(k92.models, two, n_boot=30, quiet=True)
    row = res.table.iloc[0]
    assert row["resampled"] == "stimuli" and "only 2 subject" in row["resampling_note"]
    with warnings.catch_warnings():  # an explicit choice is not warned about
        warnings.simplefilter("error")
        explicit = bootstrap_rsa(k92.models, two, n_boot=30, over="stimuli", quiet=True)
    assert explicit.table["resampling_note"].iloc[0] == ""


def test_one_subject_cannot_be_resampled_over_subjects(k92):
    for over in ("subjects", "both"):
        with pytest.raises(ValidationError, match=r"hold 1 subject"):
            bootstrap_rsa(k92.models, k92.monkey_it, n_boot=10, over=over)


@pytest.mark.parametrize("bad", [0, 1, -5, 2.5, True, "100"])
def test_bad_n_boot_is_a_clear_error(k92, bad):
    with pytest.raises(ValidationError, match="n_boot must be an integer >= 2"):
        bootstrap_rsa(k92.models, k92.human_it, n_boot=bad)
    acts = None  # rsa_table checks n_boot before any work (no activations needed to fail)
    with pytest.raises(ValidationError, match="n_boot must be an integer >= 2"):
        rsa_table(acts, {"IT": k92.human_it}, n_boot=bad)


def test_bad_ci_is_a_clear_error(k92):
    with pytest.raises(ValidationError, match=r"ci must be in \(0, 1\)"):
        bootstrap_rsa(k92.models, k92.human_it, n_boot=10, ci=95)


def _winners_curse_data(rng, n_layers=12, n_subjects=8, n=16):
    """Every layer is equally (un)related to the data: the true best-layer score is 0."""
    ids = [f"s{i}" for i in range(n)]
    truth = rng.normal(size=(n, 5))
    data = RDMs(
        np.stack(
            [compute_rdm(truth + 2.0 * rng.normal(size=truth.shape)) for _ in range(n_subjects)]
        ),
        ids,
    )
    models = RDMs(
        np.stack([compute_rdm(rng.normal(size=(n, 5))) for _ in range(n_layers)]),
        ids,
        pd.DataFrame({"layer": [f"l{k}" for k in range(n_layers)]}),
    )
    return models, data


def test_cross_validated_selection_removes_the_winners_curse(rng):
    """With layers unrelated to the data, the maximum over layers is biased upwards (its mean
    over simulations is clearly > 0); the held-out score of the selected layer is not."""
    naive, held_subj, held_stim = [], [], []
    for _ in range(25):
        models, data = _winners_curse_data(rng)
        values = compare_rdms(models, data, "spearman").mean(1)
        naive.append(values.max())
        held_subj.append(select_layer(models, data, by="subjects").table["value"].iloc[0])
        held_stim.append(select_layer(models, data, by="stimuli").table["value"].iloc[0])
    bias = np.mean(naive)  # about 0.058 here: 1.6 SD of one layer's value (max of 12)
    assert bias > 0.04
    # the bias is upwards; scoring the chosen layer on the data that chose it would give ~bias
    assert np.mean(held_subj) < 0.4 * bias and np.mean(held_stim) < 0.4 * bias
    assert abs(np.mean(held_subj)) < 0.4 * bias


def test_selection_finds_the_true_layer_and_reports_the_held_out_score(rng):
    ids = [f"s{i}" for i in range(30)]
    truth = rng.normal(size=(30, 6))
    data = RDMs(
        np.stack([compute_rdm(truth + rng.normal(size=truth.shape)) for _ in range(5)]), ids
    )
    layers = {
        "noise": rng.normal(size=(30, 6)),
        "true": truth,
        "half": truth + rng.normal(size=(30, 6)),
    }
    models = RDMs(
        np.stack([compute_rdm(v) for v in layers.values()]),
        ids,
        pd.DataFrame({"layer": list(layers)}),
    )
    res = select_layer(models, data, by="subjects")
    row = res.table.iloc[0]
    assert res.kind == "rsa.selection" and row["layer"] == "true" and row["n"] == 5
    assert row["statistic"] == "cv_selected" and row["split"] == "test"
    # each fold's held-out value is the similarity of the chosen layer with the left-out subject
    sims = compare_rdms(models, data, "spearman")
    np.testing.assert_allclose(res.arrays["fold_values"], sims[1], rtol=1e-12)
    assert row["ci_low"] < row["value"] < row["ci_high"]
    table = rsa_table(models, data, n_boot=20, select="stimuli", quiet=True).table
    cv = table[table["statistic"] == "cv_selected"]
    assert len(cv) == 1 and cv["layer"].iloc[0] == "true" and cv["selected_by"].iloc[0] == "stimuli"


def test_selection_bad_arguments(k92):
    with pytest.raises(ValidationError, match="by='subjects' holds out subjects"):
        select_layer(k92.models, k92.monkey_it, by="subjects")
    with pytest.raises(ValidationError, match="too few for 40 stimulus folds"):
        select_layer(k92.models, k92.human_it, by="stimuli", n_splits=40)
