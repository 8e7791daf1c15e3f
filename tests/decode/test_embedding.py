"""Brain → embedding ridge against scikit-learn's RidgeCV; SRM and the shared decoder with subject
adapters against the simulator's truth and against per-subject ridge."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.linear_model import RidgeCV

from neuroalign.core.exceptions import ShapeError, ValidationError
from neuroalign.data import make_decoding_problem
from neuroalign.decode import RidgeDecoder, SharedDecoder, fit_srm, identification


def test_ridge_decoder_equals_sklearn_ridgecv(rng):
    X = rng.standard_normal((120, 40)) * rng.uniform(0.5, 3, 40)
    Y = X[:, :6] @ rng.standard_normal((6, 5)) + rng.standard_normal((120, 5)) * [0.1, 1, 3, 10, 30]
    alphas = np.logspace(-2, 4, 13)
    ref = RidgeCV(alphas=alphas, alpha_per_target=True).fit(X, Y)
    dec = RidgeDecoder(alphas, standardize=False).fit(X, Y)
    np.testing.assert_array_equal(dec.alpha_, ref.alpha_)
    assert len(set(dec.alpha_)) > 1  # one α per dimension, not one for all
    np.testing.assert_allclose(dec.coef_, ref.coef_.T, rtol=1e-6, atol=1e-9)
    np.testing.assert_allclose(dec.predict(X), ref.predict(X), rtol=1e-6, atol=1e-9)
    assert isinstance(dec.score(X, Y), float) and dec.score_targets(X, Y).shape == (5,)


def test_retrieval_top1_goes_to_one_as_noise_goes_to_zero():
    top1 = []
    for noise in (4.0, 2.0, 0.0):
        p = make_decoding_problem(300, 16, 60, noise=noise, seed=1)
        X, E, ids = p.responses[0], p.latents, p.stimulus_ids
        pred = RidgeDecoder().fit(X[:200], E[:200]).predict(X[200:])
        t = identification(pred, E[200:], query_ids=ids[200:], candidate_ids=ids[200:], k=1)
        top1.append(t.table.iloc[0]["value"])
    assert top1[0] < top1[1] < top1[2] and top1[2] > 0.99, top1


def test_srm_recovers_the_shared_space_with_different_voxel_counts():
    p = make_decoding_problem(300, 6, [50, 80, 65], noise=0.3, seed=2)
    W, S, obj = fit_srm(p.responses, 6)
    assert [w.shape for w in W] == [(50, 6), (80, 6), (65, 6)]
    assert np.allclose(W[1].T @ W[1], np.eye(6), atol=1e-10)
    assert np.all(np.diff(obj) <= 1e-6 * obj[0])
    # the shared response spans the latents: canonical correlations near 1
    qs, ql = np.linalg.qr(S - S.mean(0))[0], np.linalg.qr(p.latents - p.latents.mean(0))[0]
    assert np.linalg.svd(qs.T @ ql, compute_uv=False).min() > 0.9


@pytest.mark.parametrize("n_few", [20, 50])
def test_adapter_beats_per_subject_ridge_with_few_samples(n_few):
    p = make_decoding_problem(500, 16, [150, 200, 180, 220, 170], noise=1.0, seed=0)
    train, test = np.arange(350), np.arange(350, 500)
    dec = SharedDecoder(16).fit([r[train] for r in p.responses[:4]], p.latents[train])
    few = np.arange(n_few)
    dec.add_subject("new", p.responses[4][few], few)
    ridge = RidgeDecoder().fit(p.responses[4][few], p.latents[few])

    def r2(pred):
        E = p.latents[test]
        return 1 - ((pred - E) ** 2).sum() / ((E - E.mean(0)) ** 2).sum()

    r2_adapter = r2(dec.predict(p.responses[4][test], "new"))
    r2_ridge = r2(ridge.predict(p.responses[4][test]))
    assert r2_adapter > r2_ridge + 0.02, (r2_adapter, r2_ridge)


def test_cross_subject_bad_input():
    p = make_decoding_problem(60, 4, [20, 30], n_times=10, seed=0)
    with pytest.raises(ShapeError, match="time axes of different lengths"):
        fit_srm([p.responses[0], p.responses[1][:, :, :8]], 4)
    with pytest.raises(ShapeError, match="different numbers of stimuli"):
        fit_srm([p.responses[0], p.responses[1][:50]], 4)
    with pytest.raises(ValidationError, match="n_components=500"):
        fit_srm(p.responses, 500)
    dec = SharedDecoder(4).fit([r.mean(-1) for r in p.responses], p.latents)
    with pytest.raises(ValidationError, match="unknown subject 'x'"):
        dec.predict(p.responses[0].mean(-1), "x")


def test_embedding_fit_is_pooled_over_dimensions_and_equals_sklearn(rng):
    from sklearn.metrics import r2_score

    from neuroalign.decode import decode_embeddings

    n, p, d = 80, 20, 12
    X = rng.normal(size=(n, p))
    E = X[:, :d] @ rng.normal(size=(d, d)) + 0.5 * rng.normal(size=(n, d))
    E[:, -1] = 1e-4 * rng.normal(size=n)  # a near-constant dimension: unpredictable noise
    res = decode_embeddings(X, E, stimulus_ids=[f"s{i}" for i in range(n)], cv=4)
    t = res.table.set_index("scoring")
    pred = res.arrays["predicted"]
    assert t.loc["r2", "value"] == pytest.approx(r2_score(E, pred, multioutput="variance_weighted"))
    per_dim = [r2_score(E[:, j], pred[:, j]) for j in range(d)]
    assert min(per_dim) < 0 < t.loc["r2", "value"] <= 1  # one bad dimension does not sink it
    r = [np.corrcoef(E[:, j], pred[:, j])[0, 1] for j in range(d)]
    assert t.loc["pearson", "value"] == pytest.approx(np.mean(r), rel=1e-6)


def test_retrieval_plot_does_not_clip_a_negative_score_silently():
    pytest.importorskip("matplotlib")
    import pandas as pd

    from neuroalign.core import Result, make_table
    from neuroalign.report._decode_plots import plot_retrieval

    rows = pd.DataFrame(
        {
            "scoring": ["top1", "r2"],
            "value": [0.5, -280.0],
            "chance": [0.1, 0.0],
            "se": [0.0, np.nan],
        }
    )
    fig = plot_retrieval(Result(make_table(rows), kind="retrieval.embedding"))
    ax = fig.axes[0]
    assert ax.get_ylim()[0] < 0
    assert any("below the axis" in t.get_text() for t in ax.texts)
