"""Classic decoding: agreement with a plain scikit-learn pipeline on the Haxby slice, Haufe
patterns against the simulator's true patterns, permutation p-values, bad input."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.model_selection import LeaveOneGroupOut, cross_val_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.svm import SVC

from neuroalign.core import Result
from neuroalign.core.exceptions import ShapeError, ValidationError
from neuroalign.data import load_haxby2001_slice, make_epochs
from neuroalign.decode import chance_level, decode, haufe_patterns


@pytest.fixture(scope="module")
def haxby():
    return load_haxby2001_slice().samples()


@pytest.mark.slow
def test_haxby_matches_sklearn_pipeline(haxby):
    X, y, runs = haxby
    pipe = make_pipeline(StandardScaler(), SVC(kernel="linear"))
    fh = np.isin(y, ["face", "house"])
    for sel, lo in ((slice(None), 0.5), (fh, 0.9)):
        ref = cross_val_score(pipe, X[sel], y[sel], groups=runs[sel], cv=LeaveOneGroupOut()).mean()
        r = decode(X[sel], y[sel], groups=runs[sel], estimator="svc", scoring="accuracy")
        assert isinstance(r, Result) and r.kind == "decoding.classic"
        row = r.table.iloc[0]
        assert abs(row["value"] - ref) <= 0.03 and row["value"] > lo
        assert row["chance"] == pytest.approx(1 / len(np.unique(y[sel])))
        assert row["n"] == len(X[sel]) and r.params["n_splits"] == 12
        conf = r.arrays["confusion"]
        assert conf.sum() == len(X[sel])
        assert np.trace(conf) / conf.sum() == pytest.approx(row["value"], abs=0.02)


def _window_means(seed: int, snr: float):
    sim = make_epochs(120, 12, 40, snr=snr, seed=seed, n_runs=4)
    return sim, sim.epochs[:, :, sim.informative].mean(-1)


def test_haufe_patterns_recover_the_true_pattern():
    sim, X = _window_means(0, 0.6)
    r = decode(X, sim.labels, estimator="lda", scoring="accuracy")
    true = sim.patterns[1] - sim.patterns[0]
    pat = r.arrays["patterns"][0] * X.std(0)  # back from z-scored units
    coef = r.arrays["coef"][0] / X.std(0)
    r_pat = np.corrcoef(pat, true)[0, 1]
    r_coef = np.corrcoef(coef, true)[0, 1]
    assert r_pat > 0.95 and r_pat > r_coef


def test_haufe_formula_on_known_sources(rng):
    a = rng.standard_normal(6)
    s = rng.standard_normal(500)
    X = np.outer(s, a) + 0.01 * rng.standard_normal((500, 6))
    w = np.linalg.pinv(X) @ s  # the least-squares decoder of s
    A = haufe_patterns(X, w[None])
    assert np.allclose(A[0], a, atol=0.02)


def test_permutation_p_value_and_chance():
    sim, X = _window_means(1, 1.0)
    r = decode(X, sim.labels, groups=sim.groups, estimator="ridge", n_permutations=19)
    t = r.table.set_index("scoring")
    assert t.loc["accuracy", "p_value"] == pytest.approx(1 / 20)
    assert t.loc["roc_auc", "chance"] == 0.5
    assert r.arrays["null"].shape == (19, 3)
    null = make_epochs(120, 12, 40, snr=0.0, seed=5)
    r0 = decode(null.epochs.mean(-1), null.labels, estimator="ridge", n_permutations=19)
    assert r0.table["p_value"].iloc[0] > 0.05 or r0.table["value"].iloc[0] < 0.6


def test_chance_levels():
    y = np.array([0, 0, 0, 1])
    assert chance_level("accuracy", y) == 0.75
    assert chance_level("balanced_accuracy", y) == 0.5
    with pytest.raises(ValidationError, match="scoring"):
        chance_level("f2", y)


def test_bad_input_is_named():
    X = np.random.default_rng(0).standard_normal((20, 3))
    with pytest.raises(ValidationError, match="single class"):
        decode(X, np.zeros(20))
    with pytest.raises(ValidationError, match="fewer than cv=5"):
        decode(X, np.r_[np.zeros(17), np.ones(3)], cv=5)
    with pytest.raises(ShapeError, match="y has 19"):
        decode(X, np.arange(19) % 2)
    Xn = X.copy()
    Xn[3, 1] = np.nan
    with pytest.raises(ValidationError, match="NaN"):
        decode(Xn, np.arange(20) % 2)
