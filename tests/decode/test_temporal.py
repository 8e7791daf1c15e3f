"""Time-resolved decoding: identical accuracies to MNE's SlidingEstimator / GeneralizingEstimator,
recovery of the simulated latency window, sliding windows, torch backend, real EEG, bad input."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.discriminant_analysis import LinearDiscriminantAnalysis
from sklearn.linear_model import RidgeClassifier
from sklearn.model_selection import StratifiedKFold
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from neuroalign.core.exceptions import ConfigurationError, ValidationError
from neuroalign.data import load_eeglab_sample, make_epochs
from neuroalign.decode import decode_over_time, temporal_generalization, time_features

mne_decoding = pytest.importorskip("mne.decoding")


def _mne(est, X, y, cv, generalize=False, scoring=None):
    cls = mne_decoding.GeneralizingEstimator if generalize else mne_decoding.SlidingEstimator
    return mne_decoding.cross_val_multiscore(
        cls(est, scoring=scoring), X, y, cv=cv, verbose=False
    ).mean(0)


@pytest.mark.parametrize("n_classes", [2, 3])
def test_identical_to_mne_ridge(n_classes):
    sim = make_epochs(90, 12, 16, n_classes=n_classes, snr=0.6, windows=[(-0.15, -0.05)], seed=3)
    cv = StratifiedKFold(5, shuffle=True, random_state=0)
    pipe = make_pipeline(StandardScaler(), RidgeClassifier(alpha=2.0))
    r = decode_over_time(sim.epochs, sim.labels, cv=cv, alpha=2.0)
    np.testing.assert_array_equal(r.arrays["scores"][0], _mne(pipe, sim.epochs, sim.labels, cv))
    g = temporal_generalization(sim.epochs, sim.labels, cv=cv, alpha=2.0)
    ref = _mne(pipe, sim.epochs, sim.labels, cv, generalize=True)
    np.testing.assert_array_equal(g.arrays["scores"][0], ref)
    assert g.kind == "decoding.generalization" and len(g.table) == 16 * 16
    assert (r.table["value"].to_numpy() > 0.8).sum() >= 5  # the window is decodable


@pytest.mark.parametrize("shrinkage", [0.3, "auto"])
def test_identical_to_mne_lda_and_generic_path(shrinkage):
    sim = make_epochs(90, 10, 16, n_classes=3, snr=0.6, seed=4)
    X = sim.epochs.astype(np.float64)  # scikit-learn's LDA keeps float32 input in float32
    cv = StratifiedKFold(5, shuffle=True, random_state=1)
    lda = LinearDiscriminantAnalysis(solver="lsqr", shrinkage=shrinkage)
    pipe = make_pipeline(StandardScaler(), lda)
    ref = _mne(pipe, X, sim.labels, cv)
    r = decode_over_time(X, sim.labels, cv=cv, estimator="lda", shrinkage=shrinkage)
    np.testing.assert_array_equal(r.arrays["scores"][0], ref)
    generic = decode_over_time(X, sim.labels, cv=cv, estimator=pipe, standardize=False)
    np.testing.assert_array_equal(generic.arrays["scores"][0], ref)


def test_roc_auc_matches_mne():
    sim = make_epochs(80, 8, 12, snr=0.4, seed=6)
    cv = StratifiedKFold(4, shuffle=True, random_state=0)
    pipe = make_pipeline(StandardScaler(), RidgeClassifier(alpha=1.0))
    r = decode_over_time(sim.epochs, sim.labels, cv=cv, scoring=["roc_auc", "accuracy"])
    ref = _mne(pipe, sim.epochs, sim.labels, cv, scoring="roc_auc")
    np.testing.assert_allclose(r.arrays["scores"][0], ref, atol=1e-12)
    assert set(r.table["scoring"]) == {"roc_auc", "accuracy"}


def test_latency_window_recovered_by_cluster_test():
    sim = make_epochs(100, 16, 50, snr=0.5, windows=[(0.1, 0.3)], seed=7)
    r = decode_over_time(
        sim.epochs, sim.labels, times=sim.times, groups=sim.groups, cv=5, n_permutations=99
    )
    labels, p = r.arrays["cluster_labels"], r.arrays["cluster_p_values"]
    found = np.isin(labels, np.flatnonzero(p <= 0.05) + 1)
    jaccard = (found & sim.informative).sum() / (found | sim.informative).sum()
    assert jaccard >= 0.7, (jaccard, sim.times[found])
    sig = r.table[r.table["p_value"] <= 0.05]["time"]
    assert sig.min() >= 0.08 and sig.max() <= 0.32


def test_sliding_window_features():
    X = np.arange(2 * 3 * 6, dtype=float).reshape(2, 3, 6)
    Xt, t = time_features(X, np.arange(6.0), window=3, step=2)
    assert Xt.shape == (2, 2, 9) and t.tolist() == [1.0, 3.0]
    np.testing.assert_array_equal(Xt[1, 0], X[0, :, 2:5].ravel())
    sim = make_epochs(60, 6, 20, snr=0.4, seed=2)
    r = decode_over_time(sim.epochs, sim.labels, times=sim.times, window=4, cv=3)
    assert len(r.arrays["times"]) == 17


def test_torch_backend_matches_numpy():
    pytest.importorskip("torch")
    sim = make_epochs(60, 8, 10, snr=0.5, seed=8)
    a = temporal_generalization(sim.epochs, sim.labels, cv=3)
    b = temporal_generalization(sim.epochs, sim.labels, cv=3, device="torch")
    np.testing.assert_array_equal(a.arrays["scores"], b.arrays["scores"])


def test_eeglab_square_position_over_time():
    d = load_eeglab_sample()
    eeg = (d.channels["ch_type"] == "eeg").to_numpy()
    r = decode_over_time(
        d.epochs[:, eeg], d.events["position"].to_numpy(), times=d.times, cv=5, window=5, step=4
    )
    scores = r.arrays["scores"][0]
    assert scores.shape == r.arrays["times"].shape == (95,)
    assert 0.3 < scores.mean() < 0.7 and scores.max() > 0.6  # near chance overall (80 epochs)
    assert r.table["chance"].iloc[0] == 0.5


def test_bad_input():
    sim = make_epochs(40, 4, 8, seed=0)
    X = sim.epochs.copy()
    X[5, 0, 3] = np.nan
    with pytest.raises(ValidationError, match=r"1 epoch\(s\), first: \[5\]"):
        decode_over_time(X, sim.labels)
    with pytest.raises(ValidationError, match="fewer than cv=30"):
        decode_over_time(sim.epochs, sim.labels, cv=30)
    with pytest.raises(ValidationError, match="single class"):
        decode_over_time(sim.epochs, np.zeros(40))
    with pytest.raises(ValidationError, match="times has 7"):
        decode_over_time(sim.epochs, sim.labels, times=np.arange(7))
    with pytest.raises(ConfigurationError, match="choose one of"):
        decode_over_time(sim.epochs, sim.labels, estimator="svm")


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"alpha": -1.0}, r"alpha must be >= 0; got -1\.0"),
        ({"alpha": float("nan")}, "alpha must be >= 0"),
        ({"estimator": "lda", "shrinkage": 2}, r"shrinkage must be a weight in \[0, 1\].*got 2"),
        ({"estimator": "lda", "shrinkage": -0.1}, "shrinkage must be a weight"),
        ({"estimator": "lda", "shrinkage": "ledoit"}, r"one of \['auto'\].*'ledoit'"),
    ],
)
def test_invalid_penalties_are_refused_before_fitting(kwargs, match, monkeypatch):
    sim = make_epochs(40, 4, 8, seed=0)
    import neuroalign.decode._temporal as temporal

    def no_work(*a, **k):
        raise AssertionError("validation must come before the cross-validation")

    monkeypatch.setattr(temporal, "_cv_run", no_work)
    for fn in (decode_over_time, temporal_generalization):
        with pytest.raises(ValidationError, match=match):
            fn(sim.epochs, sim.labels, **kwargs)


def test_batched_estimators_refuse_invalid_penalties_directly():
    from neuroalign.core._backend import get_backend
    from neuroalign.decode._batched import lda, ridge

    xb = get_backend(None, "float64")
    Xt = xb.asarray(np.random.default_rng(0).standard_normal((2, 10, 3)))
    yi = np.arange(10) % 2
    with pytest.raises(ValidationError, match="alpha must be >= 0"):
        ridge(xb, Xt, yi, 2, alpha=-0.5)
    with pytest.raises(ValidationError, match="shrinkage must be a weight"):
        lda(xb, Xt, yi, 2, shrinkage=1.5)
    # the boundaries are valid: no shrinkage (None = 0) equals shrinkage=0
    W0, _ = lda(xb, Xt, yi, 2, shrinkage=None)
    W1, _ = lda(xb, Xt, yi, 2, shrinkage=0.0)
    np.testing.assert_array_equal(xb.to_numpy(W0), xb.to_numpy(W1))


def test_ridge_permutations_share_factorisation_exactly():
    """The batched null (all permutations as right-hand sides of one factorisation per fold, in
    memory-bounded chunks) equals refitting every permuted labelling separately."""
    from neuroalign.decode._classic import permutation_blocks, permute_within

    sim = make_epochs(48, 6, 10, snr=0.3, seed=9)
    splits = list(StratifiedKFold(4, shuffle=True, random_state=0).split(sim.epochs, sim.labels))
    r = decode_over_time(sim.epochs, sim.labels, cv=splits, n_permutations=6, seed=3)
    rng = np.random.default_rng(3)
    blocks = permutation_blocks(splits, None, 48)
    for row in r.arrays["null"]:
        yp = permute_within(sim.labels, blocks, rng)
        ref = decode_over_time(sim.epochs, yp, cv=splits).arrays["scores"][0]
        np.testing.assert_array_equal(row, ref)
    g1 = temporal_generalization(sim.epochs, sim.labels, cv=splits, n_permutations=6, seed=1)
    g2 = temporal_generalization(
        sim.epochs, sim.labels, cv=splits, n_permutations=6, seed=1, memory_budget=2000
    )
    np.testing.assert_array_equal(g1.arrays["null"], g2.arrays["null"])
    assert g1.arrays["cluster_labels"].shape == (10, 10)


@pytest.mark.parametrize("standardize", [False, True])
def test_lda_on_centred_data_keeps_sklearn_decision_values(standardize):
    """The batched solvers get data centred by an offset c: LDA's per-class decision values must
    stay scikit-learn's on the raw data up to one constant per time point (so per-class ROC AUC
    is unchanged); without adding Σ⁻¹c back, K > 2 classes moved by −xᵀΣ⁻¹c, per sample."""
    from neuroalign.core._backend import get_backend
    from neuroalign.decode._batched import lda

    sim = make_epochs(90, 10, 6, n_classes=3, snr=0.6, seed=4)
    Xt = sim.epochs.transpose(2, 0, 1).astype(np.float64) + 5.0  # (T, n, F), off zero
    yi = np.searchsorted(np.unique(sim.labels), sim.labels)
    xb = get_backend(None, "float64")
    c = Xt.mean((0, 1))
    W, b = lda(xb, Xt, yi, 3, shrinkage=0.3, standardize=standardize)
    Wc, bc = lda(xb, Xt - c, yi, 3, shrinkage=0.3, standardize=standardize, offset=c)
    raw = Xt @ W + b[:, None, :]
    centred = (Xt - c) @ Wc + bc[:, None, :]
    diff = raw - centred  # (T, n, K): one constant per time point
    np.testing.assert_allclose(
        diff, np.broadcast_to(diff[:, :1, :1], diff.shape), atol=1e-10 * np.abs(raw).max()
    )


@pytest.mark.parametrize("n_classes", [2, 3])
@pytest.mark.parametrize(
    "estimator,kw", [("ridge", {}), ("lda", {}), ("lda", {"standardize": True})]
)
def test_float32_with_large_channel_offsets(n_classes, estimator, kw):
    """Raw channels far from zero (DC offsets 10⁴ × their spread): float32 scores equal float64's
    on the same values. Decision values X @ W + b cancelled two large numbers (2-4 % of their
    spread; accuracies moved by one epoch, temporal generalisation's by two, AUC by 5e-3)."""
    sim = make_epochs(120, 16, 12, n_classes=n_classes, snr=1.0, seed=0)
    offset = np.random.default_rng(0).uniform(0.5, 1.5, (1, 16, 1)) * 1e4 * sim.epochs.std()
    X = (sim.epochs + offset).astype(np.float32)
    kw = dict(estimator=estimator, scoring=["accuracy", "roc_auc"], quiet=True, **kw)
    s32 = decode_over_time(X, sim.labels, dtype="float32", **kw).arrays["scores"]
    s64 = decode_over_time(X.astype(np.float64), sim.labels, dtype="float64", **kw).arrays["scores"]
    np.testing.assert_allclose(s32[0], s64[0], atol=1e-12)  # accuracy: the same epochs right
    np.testing.assert_allclose(s32[1], s64[1], atol=1e-4)
    g32 = temporal_generalization(X, sim.labels, dtype="float32", **kw).arrays["scores"]
    g64 = temporal_generalization(X.astype(np.float64), sim.labels, **kw).arrays["scores"]
    np.testing.assert_allclose(g32[0], g64[0], atol=1e-12)
    np.testing.assert_allclose(g32[1], g64[1], atol=1e-4)
