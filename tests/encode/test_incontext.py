"""The in-context encoder, meta-trained on simulated voxels from a low-rank weight prior, against
per-voxel RidgeEncoder (α by CV) on held-out voxels; order invariance; save/load."""

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytestmark = pytest.mark.slow  # the module fixture meta-trains for ~7 s

from neuroalign.core.exceptions import ShapeError, ValidationError  # noqa: E402
from neuroalign.core.metrics import pearson_score  # noqa: E402
from neuroalign.data import make_voxel_family  # noqa: E402
from neuroalign.encode import InContextEncoder, RidgeEncoder, load_incontext_encoder  # noqa: E402

N_TRAIN_STIM = 200  # context stimuli come from here; 100 further stimuli are the test set
TRAIN_VOX = slice(0, 500)
TEST_VOX = slice(500, 600)


@pytest.fixture(scope="module")
def family():
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    sim = make_voxel_family(n_stimuli=300, n_features=12, n_voxels=600, rank=2, seed=0)
    enc = InContextEncoder(
        d_model=32,
        max_context=32,
        min_context=4,
        voxels_per_step=32,
        n_query=16,
        steps_per_epoch=30,
        max_epochs=8,
        seed=0,
    ).fit(sim.features[:N_TRAIN_STIM], sim.responses[:N_TRAIN_STIM, TRAIN_VOX])
    yield sim, enc
    torch.set_num_threads(n)


def _scores(sim, enc, k, seed):
    """Mean test r of the in-context encoder and of per-voxel ridge from the same k stimuli."""
    ctx = np.random.default_rng(seed).choice(N_TRAIN_STIM, k, replace=False)
    X, Y = sim.features, sim.responses[:, TEST_VOX]
    te = np.arange(N_TRAIN_STIM, len(X))
    r_icl = enc.score(X[te], Y[te], X[ctx], Y[ctx])
    ridge = RidgeEncoder(alphas=np.logspace(-3, 5, 17), cv=max(2, min(5, k // 2)))
    ridge.fit(X[ctx], Y[ctx])
    r_ridge = float(np.mean(pearson_score(Y[te].astype(np.float64), ridge.predict(X[te]))))
    return r_icl, r_ridge


@pytest.mark.filterwarnings("ignore::UserWarning")
def test_beats_per_voxel_ridge_at_small_context_and_converges_at_large(family):
    sim, enc = family
    gaps = {}
    for k in (6, 12, 20, 150):
        pairs = [_scores(sim, enc, k, seed) for seed in (1, 2)]
        r_icl, r_ridge = np.mean(pairs, axis=0)
        gaps[k] = r_icl - r_ridge
        print(f"\ncontext {k:3d}: in-context r = {r_icl:.3f}, ridge r = {r_ridge:.3f}")
    for k in (6, 12, 20):
        assert gaps[k] > 0.05, gaps
    assert abs(gaps[150]) < 0.03, gaps
    assert gaps[150] < gaps[20] < gaps[6]


def test_output_is_invariant_to_context_order(family):
    sim, enc = family
    X, Y = sim.features[:20], sim.responses[:20, TEST_VOX]
    perm = np.random.default_rng(3).permutation(20)
    w1, b1 = enc.predict_weights(X, Y)
    w2, b2 = enc.predict_weights(X[perm], Y[perm])
    np.testing.assert_allclose(w1, w2, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(b1, b2, rtol=1e-4, atol=1e-5)
    # but it does depend on which response goes with which stimulus
    w3, _ = enc.predict_weights(X, Y[perm])
    assert np.abs(w3 - w1).max() > 1e-2


def test_predict_is_the_linear_map_of_predict_weights(family):
    sim, enc = family
    X, Y = sim.features[:10], sim.responses[:10, TEST_VOX]
    coef, intercept = enc.predict_weights(X, Y)
    assert coef.shape == (12, 100) and intercept.shape == (100,)
    new = sim.features[250:260].astype(np.float64)
    np.testing.assert_allclose(enc.predict(new, X, Y), new @ coef + intercept, rtol=1e-4, atol=1e-4)
    # responses shifted and scaled: the weights follow (per-voxel context standardisation)
    coef2, icpt2 = enc.predict_weights(X, 3 * Y + 5)
    np.testing.assert_allclose(coef2, 3 * coef, rtol=1e-3, atol=1e-4)
    np.testing.assert_allclose(icpt2, 3 * intercept + 5, rtol=1e-3, atol=1e-3)


def test_save_and_load_give_the_same_encoder(family, tmp_path):
    sim, enc = family
    path = enc.save(tmp_path / "icl")
    assert sorted(p.name for p in path.iterdir()) == ["config.json", "weights.pt"]
    loaded = load_incontext_encoder(path)
    X, Y = sim.features[:16], sim.responses[:16, TEST_VOX]
    np.testing.assert_array_equal(loaded.predict_weights(X, Y)[0], enc.predict_weights(X, Y)[0])
    assert loaded.get_params()["d_model"] == 32
    (path / "weights.pt").unlink()
    with pytest.raises(ValidationError, match=r"weights\.pt"):
        InContextEncoder.load(path)


def test_bad_context_gets_clear_errors(family):
    sim, enc = family
    X, Y = sim.features[:10], sim.responses[:10, TEST_VOX]
    with pytest.raises(ValidationError, match="min_context=4"):
        enc.predict_weights(X[:3], Y[:3])
    bad = Y.copy()
    bad[2, 5] = np.nan
    with pytest.raises(ValidationError, match="NaN"):
        enc.predict_weights(X, bad)
    with pytest.raises(ShapeError, match="12"):
        enc.predict_weights(X[:, :5], Y)
    with pytest.raises(ShapeError, match="rows"):
        enc.predict_weights(X, Y[:8])
    with pytest.raises(ValidationError, match="max_context"):
        InContextEncoder(max_context=64, n_query=32).fit(sim.features[:50], sim.responses[:50])
