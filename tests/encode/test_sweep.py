import numpy as np
import pytest

from neuroalign import Activations
from neuroalign.core import Result, load_result
from neuroalign.core.exceptions import ConfigurationError, StimulusMismatchError
from neuroalign.data import compute_noise_ceiling, make_responses
from neuroalign.encode import RidgeEncoder, sweep_layers, sweep_table

pytestmark = pytest.mark.filterwarnings("ignore:the chosen alpha is at the edge")


def _chain(n=300, seed=7):
    rng = np.random.default_rng(seed)
    base = rng.normal(size=(n, 40))
    # three "layers": successive nonlinear transforms, so neighbours are correlated
    l1 = base
    l2 = np.tanh(l1 @ rng.normal(size=(40, 60)) / 6)
    l3 = np.maximum(l2 @ rng.normal(size=(60, 50)), 0)
    ids = [f"s{i}" for i in range(n)]
    acts = Activations("toy:chain", ids, {"l1": l1, "l2": l2, "l3": l3})
    resp, _ = make_responses(
        acts, {"A": "l1", "B": "l2", "C": "l3"}, n_targets_per_roi=20, noise_sd=1.0, seed=2
    )
    return acts, resp


def test_sweep_recovers_the_true_feature_space_and_returns_one_result(tmp_path):
    acts, resp = _chain()
    ceiling = compute_noise_ceiling(resp)
    res = sweep_layers(acts, resp, ceiling=ceiling, quiet=True, alphas=np.logspace(-2, 5, 15))
    assert isinstance(res, Result) and res.kind == "encoding.sweep"
    assert res.params["best_layers"] == {"A": "l1", "B": "l2", "C": "l3"}
    assert set(res.arrays["train_ids"]).isdisjoint(res.arrays["test_ids"])
    t = res.table
    assert set(t["analysis"]) == {"encoding"} and set(t["aggregate"]) == {"mean", "median"}
    assert set(zip(t["statistic"], t["scoring"], t["split"], strict=True)) == {
        ("score", "pearson", "test"),
        ("score", "r2", "test"),
        ("cv_score", "r2", "cv"),
        ("ceiling_normalized", "pearson", "test"),
    }
    assert (t["n"] == 20).all() and len(t) == 3 * 3 * 4 * 2  # roi × layer × quantity × aggregate
    # the table's numbers are the per-target arrays aggregated
    r = res.arrays["test_pearson"]
    rois = res.arrays["rois"]
    sel = t[(t["roi"] == "B") & (t["layer"] == "l3") & (t["scoring"] == "pearson")]
    med = sel[(sel["statistic"] == "score") & (sel["aggregate"] == "median")]["value"].item()
    assert med == pytest.approx(np.median(r[2][rois == "B"]))
    wide = sweep_table(res)
    best = wide[wide["is_best"]]
    assert (best["test_r"] <= best["ceiling"] + 0.05).all()
    assert (best["normalized"] > 0.8).all()
    assert res.arrays["alpha"].shape == (3, 60)
    back = load_result(res.save(tmp_path / "sweep.npz"))
    assert back.params["best_layers"] == res.params["best_layers"]


def test_sweep_accepts_a_datasets_own_split_and_a_custom_readout():
    acts, resp = _chain(n=200)
    ids = np.asarray(resp.stimulus_ids)
    train, test = ids[:150], ids[150:]
    res = sweep_layers(acts, resp, split=(train, test), quiet=True, alphas=np.logspace(-2, 5, 8))
    np.testing.assert_array_equal(res.arrays["test_ids"], test)
    np.testing.assert_array_equal(res.arrays["train_ids"], train)
    assert res.params["split"] == "given" and res.params["n_test"] == 50
    # the ridge fast path equals fitting RidgeEncoder on the split by hand
    X, Y = np.asarray(acts["l2"]), np.asarray(resp.data)
    enc = RidgeEncoder(alphas=np.logspace(-2, 5, 8)).fit(X[:150], Y[:150])
    np.testing.assert_allclose(res.arrays["alpha"][1], enc.best_alphas_)
    np.testing.assert_allclose(
        res.arrays["test_pearson"][1],
        enc.score_targets(X[150:], Y[150:], scoring="pearson_score"),
        rtol=1e-4,
        atol=1e-5,
    )
    # any scikit-learn regressor plugs in as the readout
    from sklearn.linear_model import Ridge

    other = sweep_layers(acts, resp, split=(train, test), quiet=True, readout=Ridge(alpha=10.0))
    assert other.params["readout"] == "Ridge"
    assert np.isfinite(other.arrays["cv_r2"]).all()
    with pytest.raises(StimulusMismatchError, match="do not have"):
        sweep_layers(acts, resp, split=(train, ["nope"]), quiet=True)
    with pytest.raises(ConfigurationError, match="encoder parameters are"):
        sweep_layers(acts, resp, quiet=True, alpha=3)
    with pytest.raises(ConfigurationError, match="default ridge readout only"):
        sweep_layers(acts, resp, quiet=True, readout=Ridge(), alphas=[1.0])
