"""ReceptiveField: equal to MNE (TimeDelayingRidge and Ridge paths), exact CV algebra, recovery."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.linear_model import Ridge

from neuroalign.core.exceptions import NotFittedError, ShapeError, ValidationError
from neuroalign.encode import ReceptiveField, make_delays
from neuroalign.encode._trf import TRF_SCORERS

mne_decoding = pytest.importorskip("mne.decoding")
pytestmark = pytest.mark.filterwarnings("ignore")

LAGS = [(0, 5), (-3, 2), (-5, -1), (2, 6)]


def _data(shape, n_out=2, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal(shape) + 1.5
    y = rng.standard_normal((*shape[:-1], n_out)) + 0.3
    return X, y


def _rel(a, b):
    return np.abs(a - b).max() / np.abs(b).max()


@pytest.mark.parametrize("shape", [(300, 3), (300, 4, 3)])
@pytest.mark.parametrize("lags", LAGS)
@pytest.mark.parametrize("fit_intercept", [False, True])
def test_equals_mne_time_delaying_ridge(shape, lags, fit_intercept):
    X, y = _data(shape)
    tmin, tmax = lags
    ours = ReceptiveField(tmin, tmax, 1.0, alpha=3.0, fit_intercept=fit_intercept, dtype="float64")
    ours.fit(X, y)
    est = mne_decoding.TimeDelayingRidge(tmin, tmax, 1.0, alpha=3.0, fit_intercept=fit_intercept)
    mne = mne_decoding.ReceptiveField(
        tmin, tmax, 1.0, estimator=est, fit_intercept=fit_intercept
    ).fit(X, y)
    assert ours.coef_.shape == mne.coef_.shape
    np.testing.assert_array_equal(ours.delays_, mne.delays_)
    assert ours.valid_samples_ == mne.valid_samples_
    assert _rel(ours.coef_, mne.coef_) < 1e-6
    assert _rel(ours.predict(X), mne.predict(X)) < 1e-6
    np.testing.assert_allclose(ours.intercept_, mne.estimator_.intercept_, rtol=1e-6, atol=1e-9)
    mne.scoring = "r2"
    np.testing.assert_allclose(ours.score_targets(X, y), mne.score(X, y), rtol=1e-6, atol=1e-9)


@pytest.mark.parametrize("shape", [(300, 3), (300, 4, 3)])
@pytest.mark.parametrize("lags", LAGS)
def test_equals_mne_with_sklearn_ridge(shape, lags):
    X, y = _data(shape, seed=1)
    tmin, tmax = lags
    ours = ReceptiveField(tmin, tmax, 1.0, alpha=3.0, fit_intercept=False, dtype="float64")
    ours.fit(X, y)
    mne = mne_decoding.ReceptiveField(
        tmin, tmax, 1.0, estimator=Ridge(alpha=3.0, fit_intercept=False), scoring="corrcoef"
    ).fit(X, y)
    assert _rel(ours.coef_, mne.coef_) < 1e-6
    assert _rel(ours.predict(X), mne.predict(X)) < 1e-6
    ours.scoring = "corrcoef"
    np.testing.assert_allclose(ours.score_targets(X, y), mne.score(X, y), rtol=1e-6)


def test_mne_ridge_path_with_intercept_uses_mean_filled_edges():
    # MNE's Ridge path fills the padding with the mean (``fill_mean``); its TimeDelayingRidge
    # path (and ours) zero-pads the centred data, so with an intercept the two MNE paths differ
    X, y = _data((300, 3), seed=2)
    mne_r = mne_decoding.ReceptiveField(0, 5, 1.0, estimator=Ridge(alpha=3.0)).fit(X, y)
    ours = ReceptiveField(0, 5, 1.0, alpha=3.0, dtype="float64").fit(X, y)
    assert _rel(ours.coef_, mne_r.coef_) > 1e-5


def test_float32_tolerance():
    X, y = _data((2000, 4, 5), n_out=3, seed=3)
    a = ReceptiveField(-2, 4, 1.0, alpha=10.0).fit(X, y)
    b = ReceptiveField(-2, 4, 1.0, alpha=10.0, dtype="float64").fit(X, y)
    assert a.predict(X).dtype == np.float64
    assert _rel(a.coef_, b.coef_) < 1e-4


def test_one_dimensional_y_shapes_like_mne():
    X, y = _data((200, 3), n_out=1)
    ours = ReceptiveField(0, 2, 1.0, alpha=1.0, dtype="float64").fit(X, y[:, 0])
    mne = mne_decoding.ReceptiveField(0, 2, 1.0, estimator=1.0).fit(X, y[:, 0])
    assert ours.coef_.shape == mne.coef_.shape == (3, 3)
    assert ours.predict(X).shape == mne.predict(X).shape == (200,)
    assert _rel(ours.coef_, mne.coef_) < 1e-6


@pytest.mark.parametrize("scoring", ["r2", "corrcoef"])
@pytest.mark.parametrize("fit_intercept", [True, False])
def test_cv_scores_equal_refitting_each_fold(scoring, fit_intercept):
    rng = np.random.default_rng(1)
    X = rng.standard_normal((200, 5, 3)) + 2
    y = X[..., :1] * 0.5 + np.roll(X[..., 1:2], 2, axis=0) + rng.standard_normal((200, 5, 2)) * 2
    alphas = [0.1, 10.0, 1000.0]
    kw = dict(dtype="float64", fit_intercept=fit_intercept)
    rf = ReceptiveField(-1, 3, 1.0, alpha=alphas, scoring=scoring, **kw).fit(X, y)
    brute = np.zeros((3, 2))
    for i, a in enumerate(alphas):
        for e in range(5):
            train = [k for k in range(5) if k != e]
            m = ReceptiveField(-1, 3, 1.0, alpha=a, **kw).fit(X[:, train], y[:, train])
            vs = m.valid_samples_  # scored as score() scores: rows free of the zero padding
            brute[i] += TRF_SCORERS[scoring](y[vs, e], m.predict(X[:, e])[vs]) / 5
    np.testing.assert_allclose(rf.cv_scores_, brute, atol=1e-9)
    np.testing.assert_array_equal(rf.alpha_, np.asarray(alphas)[brute.argmax(0)])


def test_grouped_folds_never_split_an_epoch():
    X, y = _data((150, 6, 2), seed=4)
    rf = ReceptiveField(0, 2, 1.0, alpha=[1.0, 100.0], cv=3).fit(X, y)
    assert rf.cv_scores_.shape == (2, 2)


def test_banded_fixed_ratio_equals_ridge_on_scaled_design():
    X, y = _data((400, 4), n_out=2, seed=5)
    ratio = 50.0
    rf = ReceptiveField(
        0,
        3,
        1.0,
        alpha=2.0,
        fit_intercept=False,
        bands=[[0, 1], [2, 3]],
        band_ratios=[ratio],
        dtype="float64",
    ).fit(X, y)
    # penalty α on band 0, α·ratio on band 1 ⇔ plain ridge after scaling band 1 by 1/√ratio
    scale = np.array([1.0, 1.0, ratio**-0.5, ratio**-0.5])
    Z = make_delays(X * scale, delays=range(0, 4))
    w = Ridge(alpha=2.0, fit_intercept=False).fit(Z, y).coef_.reshape(2, 4, 4)  # (o, d, f)
    ref = w.transpose(0, 2, 1) * scale[None, :, None]
    assert _rel(rf.coef_, ref) < 1e-6


def test_banded_cv_prefers_penalising_the_noise_band():
    rng = np.random.default_rng(6)
    X = rng.standard_normal((300, 6, 8))
    y = X[..., :2].sum(-1, keepdims=True) + 0.5 * rng.standard_normal((300, 6, 1))
    rf = ReceptiveField(
        0,
        1,
        1.0,
        alpha=[0.1, 10.0],
        bands=[[0, 1], list(range(2, 8))],
        band_ratios=[0.01, 1.0, 1e4],
    ).fit(X, y)
    assert rf.band_ratios_[0, 1] == 1e4


def _simulate(n_epochs=4, n_times=3000, sfreq=100.0, seed=7):
    rng = np.random.default_rng(seed)
    lags = np.arange(0, 31)  # 0..300 ms
    trf = np.stack(
        [np.exp(-((lags - 10) ** 2) / 20.0), -0.6 * np.exp(-((lags - 20) ** 2) / 30.0)]
    )  # (2 features, 31 lags)
    X = rng.standard_normal((n_times, n_epochs, 2))
    y = np.zeros((n_times, n_epochs))
    for f in range(2):
        for e in range(n_epochs):
            y[:, e] += np.convolve(X[:, e, f], trf[f])[:n_times]
    return X, y + 0.3 * rng.standard_normal(y.shape), trf, sfreq


def test_forward_model_recovers_known_trf():
    X, y, trf, sfreq = _simulate()
    rf = ReceptiveField(0, 0.3, sfreq, alpha=[1e-2, 1.0, 1e2, 1e4]).fit(X, y)
    np.testing.assert_allclose(rf.coef_, trf, atol=0.05)
    assert rf.score(X, y) > 0.9


def test_backward_model_reconstructs_stimulus():
    rng = np.random.default_rng(8)
    n, n_ch = 4000, 8
    stim = np.convolve(rng.standard_normal(n), np.ones(5) / 5, mode="same")
    mixing = rng.standard_normal(n_ch)
    brain = np.zeros((n, n_ch))  # each channel responds to the stimulus 3 samples later
    brain[3:] = stim[:-3, None] * mixing
    brain += 0.5 * rng.standard_normal(brain.shape)
    train, test = slice(0, 3000), slice(3000, None)
    rf = ReceptiveField(-5, 0, 1.0, alpha=1.0, scoring="corrcoef").fit(brain[train], stim[train])
    assert rf.coef_.shape == (n_ch, 6)
    assert rf.score(brain[test], stim[test]) > 0.9
    # the weight sits at lag −3 (the stimulus precedes the brain by 3 samples)
    assert rf.delays_[np.abs(rf.coef_).sum(0).argmax()] == -3


def test_sklearn_clone_and_errors():
    X, y = _data((100, 2))
    rf = ReceptiveField(0, 2, 1.0, alpha=1.0)
    assert clone(rf).get_params() == rf.get_params()
    with pytest.raises(NotFittedError):
        rf.predict(X)
    with pytest.raises(ValidationError, match="tmin"):
        ReceptiveField(2, 0, 1.0).fit(X, y)
    with pytest.raises(ValidationError, match="epochs"):
        ReceptiveField(0, 2, 1.0, alpha=[1.0, 2.0]).fit(X, y)  # a grid needs ≥ 2 epochs
    with pytest.raises(ShapeError, match="y has shape"):
        ReceptiveField(0, 2, 1.0, alpha=1.0).fit(X, y[:50])
    with pytest.raises(ValidationError, match="bands"):
        ReceptiveField(0, 2, 1.0, alpha=[1.0], bands=[[0, 1]]).fit(X[:, None], y[:, None])
    with pytest.raises(ValidationError, match="scoring"):
        ReceptiveField(0, 2, 1.0, alpha=1.0, scoring="pearson").fit(X, y)
    fitted = ReceptiveField(0, 2, 1.0, alpha=1.0).fit(X, y)
    with pytest.raises(ShapeError, match="features"):
        fitted.predict(X[:, :1])


def test_list_of_epochs_equals_3d_and_allows_different_lengths():
    X, y = _data((120, 3, 2), seed=9)
    a = ReceptiveField(-1, 2, 1.0, alpha=[0.1, 10.0], dtype="float64").fit(X, y)
    b = ReceptiveField(-1, 2, 1.0, alpha=[0.1, 10.0], dtype="float64")
    b.fit([X[:, e] for e in range(3)], [y[:, e] for e in range(3)])
    np.testing.assert_allclose(a.coef_, b.coef_, rtol=1e-10)
    np.testing.assert_allclose(a.cv_scores_, b.cv_scores_, rtol=1e-10)
    pred = b.predict([X[:, e] for e in range(3)])
    np.testing.assert_allclose(np.stack(pred, 1), a.predict(X), rtol=1e-10)
    # epochs of different lengths: CV scores equal refitting without each epoch
    Xs = [X[:100, 0], X[:, 1], X[:70, 2]]
    ys = [y[:100, 0], y[:, 1], y[:70, 2]]
    rf = ReceptiveField(-1, 2, 1.0, alpha=[0.1, 10.0], dtype="float64").fit(Xs, ys)
    brute = np.zeros((2, 2))
    for i, alpha in enumerate([0.1, 10.0]):
        for e in range(3):
            keep = [k for k in range(3) if k != e]
            m = ReceptiveField(-1, 2, 1.0, alpha=alpha, dtype="float64")
            m.fit([Xs[k] for k in keep], [ys[k] for k in keep])
            vs = m.valid_samples_
            brute[i] += TRF_SCORERS["r2"](ys[e][vs], m.predict(Xs[e])[vs]) / 3
    np.testing.assert_allclose(rf.cv_scores_, brute, atol=1e-9)


@pytest.mark.parametrize("lags", [(-4, 6), (0, 29), (-32, 0), (3, 39), (-40, -6)])
def test_fourier_lag_products_equal_direct_products(lags):
    from neuroalign.encode._lagged import lagged_stats

    rng = np.random.default_rng(10)
    X, y = rng.standard_normal((700, 3)), rng.standard_normal((700, 2))
    delays = np.arange(lags[0], lags[1] + 1)
    a = lagged_stats(X, y, delays, method="gemm")
    b = lagged_stats(X, y, delays, method="fft")
    assert _rel(b.gram, a.gram) < 1e-10 and _rel(b.cross, a.cross) < 1e-10
    np.testing.assert_allclose(b.zsum, a.zsum)


@pytest.mark.parametrize("lags", [(0, 4), (-3, 2), (-4, -1)])
def test_edge_stats_leave_the_valid_rows(lags):
    """lagged_stats − edge_stats = the statistics of the explicit delayed design's rows
    valid_samples_ (ground truth built row by row)."""
    from neuroalign.encode._lagged import edge_stats, lagged_stats

    rng = np.random.default_rng(3)
    X, y = rng.standard_normal((40, 3)) + 1.5, rng.standard_normal((40, 2))
    d = np.arange(lags[0], lags[1] + 1)
    got = lagged_stats(X, y, d) - edge_stats(X, y, d)
    n, L = len(X), len(d)
    Z = np.zeros((n, 3, L))
    for i, di in enumerate(d):
        for t in range(n):
            if 0 <= t - di < n:
                Z[t, :, i] = X[t - di]
    rows = np.arange(max(d[-1], 0), min(n, n + d[0]))
    Zv, yv = Z[rows].reshape(len(rows), -1), y[rows]
    np.testing.assert_allclose(got.gram.reshape(3 * L, 3 * L), Zv.T @ Zv, atol=1e-10)
    np.testing.assert_allclose(got.cross.reshape(3 * L, 2), Zv.T @ yv, atol=1e-10)
    np.testing.assert_allclose(got.zsum, np.einsum("tfd->fd", Z[rows])[:, :, None].repeat(L, 2))
    np.testing.assert_allclose(got.count, np.full((L, L), len(rows)))
    np.testing.assert_allclose(got.ysum, yv.sum(0))
    np.testing.assert_allclose(got.ysq, (yv**2).sum(0))
    np.testing.assert_allclose(got.ysum_valid, np.tile(yv.sum(0), (L, 1)))
    assert got.n == len(rows)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_cv_choice_ignores_the_features_mean(dtype):
    """With an intercept the fit is shift-invariant, and so is the α it selects: before held-out
    epochs were scored on valid_samples_, features 5 SDs from zero moved α from 10 to 100 and
    50 SDs to 10 000 (the padded zeros dominated the held-out error)."""
    rng = np.random.default_rng(0)
    X = rng.standard_normal((2000, 4, 5))
    k = rng.standard_normal((6, 5, 3)) * 0.3
    y = rng.standard_normal((2000, 4, 3))
    for lag in range(6):
        y[lag:] += np.einsum("tep,po->teo", X[: 2000 - lag], k[lag])
    alphas = np.logspace(-2, 4, 7)
    base = ReceptiveField(0, 5, 1.0, alpha=alphas, cv=4, dtype=dtype).fit(X, y)
    for offset in (5.0, 50.0):
        moved = ReceptiveField(0, 5, 1.0, alpha=alphas, cv=4, dtype=dtype).fit(X + offset, y + 1e3)
        np.testing.assert_array_equal(moved.alpha_, base.alpha_)
        np.testing.assert_allclose(moved.cv_scores_, base.cv_scores_, atol=1e-4)
        np.testing.assert_allclose(moved.coef_, base.coef_, atol=1e-4 * np.abs(base.coef_).max())
