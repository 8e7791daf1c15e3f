"""Factorised and attention readouts against ground truth (simulators with planted receptive
fields / planted tokens) and against RidgeEncoder on flattened features."""

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from sklearn.base import clone  # noqa: E402

from neuroalign.core.exceptions import ConfigurationError, ShapeError, ValidationError  # noqa: E402
from neuroalign.core.metrics import pearson_score  # noqa: E402
from neuroalign.data import make_spatial_rf_targets, make_token_targets  # noqa: E402
from neuroalign.encode import (  # noqa: E402
    READOUTS,
    AttentionReadout,
    FactorizedReadout,
    RidgeEncoder,
    compare_readouts,
)

ALPHAS = np.logspace(-2, 6, 17)


@pytest.fixture(autouse=True, scope="module")
def one_thread():
    """Small problems run faster (and reproducibly) on one thread of a shared machine."""
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


def ridge_r(X, Y, tr, te):
    flat = X.reshape(len(X), -1)
    enc = RidgeEncoder(alphas=ALPHAS, cv=5).fit(flat[tr], Y[tr])
    return float(np.mean(pearson_score(Y[te], enc.predict(flat[te]))))


def test_ridge_initialisation_equals_scikit_learn_ridgecv_gcv(rng):
    from sklearn.linear_model import RidgeCV

    from neuroalign.encode._factorized import _ridge_gcv

    P = rng.standard_normal((150, 12))
    P -= P.mean(0)
    Y = P @ rng.standard_normal((12, 4)) + 2 * rng.standard_normal((150, 4))
    Y -= Y.mean(0)
    alphas = np.logspace(-3, 5, 17) * (np.linalg.svd(P, compute_uv=False) ** 2).mean()
    ref = RidgeCV(alphas=alphas, fit_intercept=False, gcv_mode="svd").fit(P, Y)
    np.testing.assert_allclose(_ridge_gcv(P, Y), ref.coef_.T, rtol=1e-4, atol=1e-5)


@pytest.fixture(scope="module")
def spatial():
    sim = make_spatial_rf_targets(
        n_stimuli=360, n_channels=8, size=8, n_targets=12, rf_size=1.2, noise=0.5, seed=1
    )
    est = FactorizedReadout(max_epochs=25, seed=0).fit(sim.features[:300], sim.responses[:300])
    return sim, est


@pytest.mark.filterwarnings("ignore::UserWarning")
def test_factorized_recovers_planted_masks_and_beats_flattened_ridge(spatial):
    sim, est = spatial
    masks, truth = est.masks_.reshape(12, -1), sim.truth["masks"].reshape(12, -1)
    mask_r = np.array([np.corrcoef(m, t)[0, 1] for m, t in zip(masks, truth, strict=True)])
    print(f"\nmask recovery: mean r = {mask_r.mean():.3f}, min r = {mask_r.min():.3f}")
    assert mask_r.mean() > 0.85 and mask_r.min() > 0.6
    tr, te = np.arange(300), np.arange(300, 360)
    r_fact = est.score(sim.features[te], sim.responses[te])
    r_ridge = ridge_r(sim.features, sim.responses, tr, te)
    print(
        f"test r: factorized {r_fact:.3f}, ridge {r_ridge:.3f}, ceiling {sim.noise_ceiling[0]:.3f}"
    )
    assert r_fact > r_ridge + 0.05
    assert r_fact < sim.noise_ceiling[0] + 0.05  # cannot beat the truth by more than noise


def test_factorized_predict_is_the_stated_bilinear_form(spatial):
    sim, est = spatial
    X = sim.features[300:]
    expected = (
        np.einsum("nchw,vhw,vc->nv", X.astype(np.float64), est.masks_, est.feature_weights_)
        + est.intercept_
    )
    np.testing.assert_allclose(est.predict(X), expected, rtol=1e-4, atol=1e-4)
    # the same maps flattened, with feature_shape, give the same predictions
    flat = est.set_params(feature_shape=(8, 8, 8))
    np.testing.assert_allclose(flat.predict(X.reshape(len(X), -1)), expected, rtol=1e-4, atol=1e-4)
    est.set_params(feature_shape=None)
    norms = np.linalg.norm(est.masks_.reshape(12, -1), axis=1)
    np.testing.assert_allclose(norms, 1.0, rtol=1e-5)
    assert est.best_cv_scores_.shape == (12,) and est.n_epochs_ >= 1


@pytest.mark.filterwarnings("ignore::UserWarning")
def test_factorized_no_worse_than_ridge_without_spatial_structure():
    sim = make_spatial_rf_targets(
        n_stimuli=300, n_channels=8, size=6, n_targets=8, rf_size=None, noise=0.5, seed=2
    )
    tr, te = np.arange(240), np.arange(240, 300)
    est = FactorizedReadout(max_epochs=20, seed=0).fit(sim.features[tr], sim.responses[tr])
    r_fact = est.score(sim.features[te], sim.responses[te])
    r_ridge = ridge_r(sim.features, sim.responses, tr, te)
    print(f"\nno spatial structure: factorized {r_fact:.3f}, ridge {r_ridge:.3f}")
    assert r_fact >= r_ridge - 0.03


def test_factorized_is_deterministic_with_a_seed():
    sim = make_spatial_rf_targets(n_stimuli=80, n_channels=4, size=5, n_targets=3, seed=3)
    kw = {"max_epochs": 3, "patience": 10, "batch_size": 16}
    a = FactorizedReadout(seed=7, **kw).fit(sim.features, sim.responses)
    b = clone(a).fit(sim.features, sim.responses)
    c = FactorizedReadout(seed=8, **kw).fit(sim.features, sim.responses)
    np.testing.assert_array_equal(a.masks_, b.masks_)
    np.testing.assert_array_equal(a.feature_weights_, b.feature_weights_)
    assert not np.array_equal(a.masks_, c.masks_)
    assert a.predict(sim.features[:5]).shape == (5, 3)
    one = FactorizedReadout(seed=7, **kw).fit(sim.features, sim.responses[:, 0])
    assert one.predict(sim.features[:5]).shape == (5,)
    assert isinstance(one.score(sim.features, sim.responses[:, 0]), float)


@pytest.fixture(scope="module")
def tokens():
    sim = make_token_targets(
        n_stimuli=400, n_tokens=8, dim=12, n_rois=2, n_targets_per_roi=6, noise=0.5, seed=0
    )
    est = AttentionReadout(seed=0, max_epochs=40, patience=6).fit(
        sim.features[:340], sim.responses[:340], rois=sim.truth["roi"]
    )
    return sim, est


@pytest.mark.filterwarnings("ignore::UserWarning")
def test_attention_peaks_on_planted_tokens_and_beats_flattened_ridge(tokens):
    sim, est = tokens
    te = np.arange(340, 400)
    maps = est.attention_maps(sim.features[te])
    assert maps.shape == (60, 2, 8)
    np.testing.assert_allclose(maps.sum(-1), 1.0, rtol=1e-5)
    assert list(est.query_names_) == ["roi0", "roi1"]
    hits = (maps.argmax(-1) == sim.truth["positions"][te]).mean(0)
    print(f"\nattention argmax on the planted token: {hits.round(3).tolist()}")
    assert hits.min() > 0.8
    r_att = est.score(sim.features[te], sim.responses[te])
    r_ridge = ridge_r(sim.features, sim.responses, np.arange(340), te)
    print(f"test r: attention {r_att:.3f}, ridge {r_ridge:.3f}")
    assert r_att > r_ridge + 0.3


def test_attention_on_feature_maps_gives_spatial_maps():
    sim = make_spatial_rf_targets(n_stimuli=60, n_channels=4, size=5, n_targets=4, seed=4)
    est = AttentionReadout(n_queries=2, max_epochs=2, seed=0).fit(sim.features, sim.responses)
    maps = est.attention_maps(sim.features[:3])
    assert maps.shape == (3, 2, 5, 5)
    assert est.module_.pos is not None  # "auto" adds positions for CNN maps
    np.testing.assert_allclose(maps.sum((-2, -1)), 1.0, rtol=1e-5)
    assert sorted(np.unique(est.query_labels_)) == [0, 1]
    with pytest.raises(ShapeError, match="3 channels per token; this readout was fitted on 4"):
        est.predict(sim.features[:3, :3])  # another layer's channel count


@pytest.mark.parametrize(
    "make, match",
    [
        (lambda: FactorizedReadout(smoothness=-1), r"smoothness must be >= 0; got -1"),
        (lambda: FactorizedReadout(sparsity=-0.1), "sparsity must be >= 0"),
        (lambda: FactorizedReadout(alpha=-1e-3), "alpha must be >= 0"),
        (lambda: AttentionReadout(dim=0), r"dim must be > 0; got 0"),
        (lambda: AttentionReadout(alpha=-1.0), "alpha must be >= 0"),
    ],
)
def test_invalid_hyperparameters_raise_in_fit(make, match):
    sim = make_spatial_rf_targets(n_stimuli=40, n_channels=3, size=4, n_targets=2, seed=5)
    est = make()  # scikit-learn convention: __init__ stores, fit validates
    with pytest.raises(ValidationError, match=match):
        est.fit(sim.features, sim.responses)


def test_bad_input_gets_clear_errors():
    sim = make_spatial_rf_targets(n_stimuli=40, n_channels=3, size=4, n_targets=2, seed=5)
    flat = sim.features.reshape(40, -1)
    with pytest.raises(ShapeError, match="feature_shape"):
        FactorizedReadout().fit(flat, sim.responses)
    with pytest.raises(ShapeError, match="feature maps"):
        FactorizedReadout().fit(sim.features[:, 0, 0], sim.responses)
    with pytest.raises(ShapeError, match="does not fit"):
        FactorizedReadout(feature_shape=(3, 4, 5)).fit(flat, sim.responses)
    bad = sim.responses.copy()
    bad[3, 1] = np.nan
    with pytest.raises(ValidationError, match="NaN"):
        FactorizedReadout().fit(sim.features, bad)
    with pytest.raises(ValidationError, match="constant"):
        FactorizedReadout().fit(sim.features, np.ones((40, 2)))
    ragged = [np.zeros((5 + (i % 2), 4), np.float32) for i in range(6)]
    with pytest.raises(ShapeError, match="token counts"):
        AttentionReadout().fit(ragged, np.arange(6.0))
    with pytest.raises(ShapeError, match="one label per target"):
        AttentionReadout().fit(sim.features, sim.responses, rois=["a"])
    if not torch.cuda.is_available():
        with pytest.raises(ConfigurationError, match="CUDA"):
            FactorizedReadout(device="cuda").fit(sim.features, sim.responses)


@pytest.mark.filterwarnings("ignore::UserWarning")
def test_compare_readouts_uses_the_same_folds_in_one_table():
    sim = make_spatial_rf_targets(n_stimuli=120, n_channels=4, size=5, n_targets=4, seed=6)
    rois = np.array(["V1", "V1", "V4", "V4"])
    res = compare_readouts(
        sim.features,
        sim.responses,
        readouts=("ridge", "factorized", "attention"),
        cv=3,
        params={
            "ridge": {"alphas": ALPHAS},
            "factorized": {"max_epochs": 3},
            "attention": {"max_epochs": 2},
        },
        rois=rois,
        ceiling=sim.noise_ceiling,
        per_target=True,
        layer="conv",
    )
    t = res.table
    assert res.kind == "encoding.readouts"
    summary = t[t["aggregate"] == "mean"]
    assert summary["method"].tolist() == ["ridge"] * 2 + ["factorized"] * 2 + ["attention"] * 2
    assert summary["roi"].tolist() == ["V1", "V4"] * 3
    assert set(t["scoring"]) == {"pearson"} and set(t["analysis"]) == {"encoding"}
    assert (summary["n"] == 2).all() and (t["n_folds"] == 3).all()
    np.testing.assert_allclose(summary["ceiling_high"], sim.noise_ceiling.mean())
    # the ridge row is RidgeEncoder refitted by hand on the same folds
    fold = res.arrays["test_fold"]
    by_hand = []
    for k in range(3):
        tr, te = fold != k, fold == k
        enc = RidgeEncoder(alphas=ALPHAS).fit(
            sim.features[tr].reshape(tr.sum(), -1), sim.responses[tr]
        )
        pred = enc.predict(sim.features[te].reshape(te.sum(), -1))
        by_hand.append(pearson_score(sim.responses[te].astype(np.float64), pred))
    np.testing.assert_allclose(res.arrays["ridge/scores"], np.array(by_hand), atol=1e-5)
    assert summary["value"].iloc[0] == pytest.approx(np.mean(np.array(by_hand)[:, :2]))
    assert len(t[t["aggregate"] == "none"]) == 12
    with pytest.raises(ConfigurationError, match="readout"):
        compare_readouts(sim.features, sim.responses, readouts=("ridgee",))
    assert set(READOUTS) == {"ridge", "factorized", "attention"}


@pytest.mark.parametrize(("channels", "size", "n_components"), [(12, 3, None), (8, 6, 4)])
def test_either_contraction_order_and_channel_pca_keep_the_bilinear_form(
    channels, size, n_components
):
    # C > S contracts channels first; n_components fits the weights in a channel subspace
    sim = make_spatial_rf_targets(n_stimuli=90, n_channels=channels, size=size, n_targets=6, seed=9)
    est = FactorizedReadout(n_components=n_components, max_epochs=3, seed=0)
    est.fit(sim.features, sim.responses)
    X = sim.features[:10].astype(np.float64)
    expected = np.einsum("nchw,vhw,vc->nv", X, est.masks_, est.feature_weights_) + est.intercept_
    np.testing.assert_allclose(est.predict(sim.features[:10]), expected, rtol=1e-4, atol=1e-4)
    assert est.score(sim.features, sim.responses) > 0.3
    if n_components is not None:  # weights live in a 4-D subspace of the 8 channels
        assert np.linalg.matrix_rank(est.feature_weights_.astype(np.float64), tol=1e-4) <= 4


def test_own_adam_equals_torch_optim_adam():
    from neuroalign.encode._torch_fit import _Adam

    g = torch.Generator().manual_seed(0)
    a = torch.randn(5, 3, generator=g, requires_grad=True)
    b = a.detach().clone().requires_grad_(True)
    target = torch.randn(5, 3, generator=g)
    ours, ref = _Adam([a], lr=0.05), torch.optim.Adam([b], lr=0.05)
    for _ in range(20):
        for p, opt in ((a, ours), (b, ref)):
            opt.zero_grad()
            ((p - target) ** 3).abs().sum().backward()
            opt.step()
    torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-6)


@pytest.mark.gpu
def test_cuda_fits_agree_with_cpu_fits():
    if not torch.cuda.is_available():
        pytest.skip("no CUDA device")
    sim = make_spatial_rf_targets(n_stimuli=200, n_channels=6, size=6, n_targets=5, seed=10)
    fits = [
        FactorizedReadout(max_epochs=10, seed=0, device=d).fit(sim.features, sim.responses)
        for d in ("cpu", "cuda")
    ]
    assert fits[1].score(sim.features, sim.responses) == pytest.approx(
        fits[0].score(sim.features, sim.responses), abs=0.02
    )
    tok = make_token_targets(n_stimuli=200, n_tokens=6, dim=10, n_targets_per_roi=4, seed=1)
    att = AttentionReadout(max_epochs=5, seed=0, device="cuda")
    att.fit(tok.features, tok.responses, rois=tok.truth["roi"])
    assert att.attention_maps(tok.features[:4]).shape == (4, 2, 6)


def test_attention_and_incontext_fits_are_deterministic_with_a_seed():
    from neuroalign.data import make_voxel_family
    from neuroalign.encode import InContextEncoder

    tok = make_token_targets(n_stimuli=60, n_tokens=4, dim=8, n_targets_per_roi=2, seed=2)
    fits = [
        AttentionReadout(max_epochs=2, seed=s).fit(tok.features, tok.responses) for s in (3, 3, 4)
    ]
    maps = [f.attention_maps(tok.features[:5]) for f in fits]
    np.testing.assert_array_equal(maps[0], maps[1])
    assert not np.array_equal(maps[0], maps[2])
    fam = make_voxel_family(n_stimuli=40, n_features=4, n_voxels=30, rank=1, seed=0)
    kw = {"d_model": 8, "max_context": 8, "n_query": 4, "steps_per_epoch": 3, "max_epochs": 1}
    icl = [InContextEncoder(seed=s, **kw).fit(fam.features, fam.responses) for s in (5, 5, 6)]
    w = [e.predict_weights(fam.features[:6], fam.responses[:6])[0] for e in icl]
    np.testing.assert_array_equal(w[0], w[1])
    assert not np.array_equal(w[0], w[2])


def test_sweep_layers_takes_a_readout_by_name():
    """``sweep_layers(readout="factorized")`` builds the registry's readout per layer; an unknown
    name lists the registered ones."""
    from neuroalign import Activations, Responses
    from neuroalign.core.exceptions import ConfigurationError
    from neuroalign.data import make_spatial_rf_targets
    from neuroalign.encode import sweep_layers

    sim = make_spatial_rf_targets(n_stimuli=160, n_channels=8, size=8, n_targets=6, seed=0)
    maps = np.asarray(sim.features)
    n, c, h, w = maps.shape
    ids = [f"s{i}" for i in range(n)]
    acts = Activations("sim", np.array(ids), {"maps": maps.reshape(n, -1)})
    resp = Responses(np.array(ids), data=np.asarray(sim.responses))
    res = sweep_layers(
        acts, resp, readout="factorized", feature_shape=(c, h, w), max_epochs=30, seed=0, quiet=True
    )
    t = res.table
    row = t[(t["statistic"] == "score") & (t["scoring"] == "pearson") & (t["aggregate"] == "mean")]
    assert row["value"].iloc[0] > 0.5  # the planted RFs are learnable from 128 stimuli
    with pytest.raises(ConfigurationError, match="factorized"):
        sweep_layers(acts, resp, readout="nonsense", quiet=True)
