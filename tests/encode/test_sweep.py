import numpy as np

from neuroalign import Activations
from neuroalign.data import compute_noise_ceiling, make_responses
from neuroalign.encode import sweep_layers


def test_sweep_recovers_the_true_feature_space():
    rng = np.random.default_rng(7)
    n = 300
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
    ceiling = compute_noise_ceiling(resp)
    res = sweep_layers(acts, resp, ceiling=ceiling, quiet=True, alphas=np.logspace(-2, 5, 15))
    assert res.best_layers == {"A": "l1", "B": "l2", "C": "l3"}
    assert set(res.train_ids).isdisjoint(res.test_ids)
    best = res.table[res.table["is_best"]]
    assert (best["test_r"] <= best["ceiling"] + 0.05).all()
    assert (best["normalized"] > 0.8).all()
    assert len(res.targets) == 3 * 60
