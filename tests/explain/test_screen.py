"""Top stimuli by predicted / measured response: equal to brute force, bounded memory, errors."""

from __future__ import annotations

import tracemalloc

import numpy as np
import pytest

from neuroalign.core import Activations, Responses, load_result
from neuroalign.core.exceptions import ShapeError, ValidationError
from neuroalign.encode import RidgeEncoder
from neuroalign.explain import (
    LinearReadout,
    as_readout,
    load_readout,
    save_readout,
    top_stimuli,
    top_stimuli_measured,
    unit_readout,
)


def _readout(rng, p=32, t=120, rois=True):
    roi = np.repeat(["V1", "FFA", "PPA"], t // 3).tolist() if rois else None
    return LinearReadout(
        rng.normal(size=(p, t)), rng.normal(size=t), [f"v{i}" for i in range(t)], roi, "m", "fc"
    )


def _brute(P, k):
    order = np.argsort(-P, axis=0, kind="stable")[:k].T
    return order, np.take_along_axis(P.T, order, 1)


@pytest.mark.parametrize("device", [None, "torch"])
@pytest.mark.parametrize("budget", [10**9, 60_000])  # one block, or many blocks of both kinds
def test_top_stimuli_equals_brute_force(rng, device, budget):
    if device == "torch":
        pytest.importorskip("torch")
    r = _readout(rng)
    X = rng.normal(size=(3000, 32)).astype(np.float32)
    res = top_stimuli(r, X, k=7, memory_budget=budget, device=device, roi_means=True)
    P = X.astype(np.float64) @ r.coef + r.intercept
    idx, val = _brute(P, 7)
    np.testing.assert_array_equal(res.arrays["top_index"][:120], idx)
    np.testing.assert_allclose(res.arrays["top_value"][:120], val, rtol=1e-4, atol=1e-4)
    low, lval = _brute(-P, 7)
    np.testing.assert_array_equal(res.arrays["bottom_index"][:120], low)
    np.testing.assert_allclose(res.arrays["bottom_value"][:120], -lval, rtol=1e-4, atol=1e-4)
    # roi means: the mean predicted response of each roi's targets
    roi_p = np.stack([P[:, r.rois == name].mean(1) for name in ("V1", "FFA", "PPA")], 1)
    np.testing.assert_array_equal(res.arrays["top_index"][120:], _brute(roi_p, 7)[0])
    assert res.arrays["targets"][120:].tolist() == ["roi:V1", "roi:FFA", "roi:PPA"]


def test_result_table_and_ridge_encoder(rng, tmp_path):
    X = rng.normal(size=(200, 10))
    Y = X @ rng.normal(size=(10, 4)) + rng.normal(size=(200, 4))
    enc = RidgeEncoder(alphas=[1.0, 10.0], cv=3).fit(X, Y)
    cand = rng.normal(size=(500, 10))
    res = top_stimuli(
        as_readout(enc, targets=list("abcd")),
        cand,
        k=3,
        stimulus_ids=[f"img{i}" for i in range(500)],
        targets=["c", "a"],
    )
    best = np.argsort(-enc.predict(cand), axis=0)[:3]
    t = res.table
    assert res.kind == "explain.top_stimuli" and set(t["analysis"]) == {"explain"}
    top_c = t[(t.target == "c") & (t.direction == "top")].sort_values("rank")
    assert top_c["stimulus"].tolist() == [f"img{i}" for i in best[:, 2]]
    np.testing.assert_allclose(
        top_c["value"], np.sort(enc.predict(cand)[:, 2])[::-1][:3], rtol=1e-4
    )
    assert len(t) == 2 * 2 * 3 and set(t["statistic"]) == {"predicted_response"}
    back = load_result(res.save(tmp_path / "top"))
    assert back.table.equals(res.table) and back.kind == res.kind
    np.testing.assert_array_equal(back.arrays["top_index"], res.arrays["top_index"])


def test_readout_roundtrip_and_sklearn(tmp_path, rng):
    from sklearn.linear_model import Ridge

    X, Y = rng.normal(size=(50, 6)), rng.normal(size=(50, 3))
    sk = Ridge(alpha=1.0).fit(X, Y)
    r = as_readout(sk, targets=["x", "y", "z"], rois=["a", "a", "b"], model="m", layer="l")
    np.testing.assert_allclose(r.predict(X), sk.predict(X), rtol=1e-4, atol=1e-5)
    back = load_readout(save_readout(r, tmp_path / "enc"))
    np.testing.assert_array_equal(back.coef, r.coef)
    assert back.targets.tolist() == ["x", "y", "z"] and back.rois.tolist() == ["a", "a", "b"]
    assert (back.model, back.layer) == ("m", "l")
    (tmp_path / "bad.npz").write_bytes(b"nonsense")
    with pytest.raises(ValidationError, match="cannot read"):
        load_readout(tmp_path / "bad.npz")


def test_units_as_targets(rng):
    A = rng.normal(size=(80, 12))
    res = top_stimuli(unit_readout(12, [3, 7]), A, k=5, bottom=False)
    np.testing.assert_array_equal(res.arrays["top_index"], np.argsort(-A[:, [3, 7]], 0)[:5].T)


def test_measured(rng):
    Y = rng.normal(size=(60, 6))
    resp = Responses(
        stimulus_ids=[f"s{i}" for i in range(60)],
        data=Y,
        targets=__import__("pandas").DataFrame({"roi": list("aabbbc")}),
    )
    res = top_stimuli_measured(resp, k=4, roi_means=True, rois=["a", "b"])
    np.testing.assert_array_equal(res.arrays["top_index"][:5], _brute(Y[:, :5], 4)[0])
    np.testing.assert_array_equal(res.arrays["bottom_index"][:5], _brute(-Y[:, :5], 4)[0])
    np.testing.assert_array_equal(
        res.arrays["top_index"][5], _brute(Y[:, :2].mean(1, keepdims=True), 4)[0][0]
    )
    assert set(res.table["statistic"]) == {"measured_response"}


def test_memory_bounded(rng):
    """Scores are never held whole: peak traced memory ≤ budget + small overhead (inputs excluded)."""
    n, p, t, budget = 15_000, 16, 2_000, 4_000_000
    X = rng.normal(size=(n, p)).astype(np.float32)
    r = LinearReadout(rng.normal(size=(p, t)), np.zeros(t), [f"v{i}" for i in range(t)])
    tracemalloc.start()
    try:
        top_stimuli(r, X, k=5, memory_budget=budget, table=False)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    full = n * t * 4
    assert peak < budget * 1.25 + 1e6, (peak, budget)
    assert peak < full / 10


def test_bad_input(rng):
    r = _readout(rng)
    X = rng.normal(size=(20, 32))
    with pytest.raises(ShapeError, match="fitted on 32"):
        top_stimuli(r, X[:, :30])
    with pytest.raises(ValidationError, match="larger than the candidate set"):
        top_stimuli(r, X, k=21)
    with pytest.raises(ValidationError, match="not in the encoder"):
        top_stimuli(r, X, targets=["v1", "nope"])
    with pytest.raises(ValidationError, match="rois"):
        top_stimuli(r, X, rois=["LOC"])
    X[3, 2] = np.nan
    with pytest.raises(ValidationError, match="NaN"):
        top_stimuli(r, X)
    acts = Activations("m", [f"s{i}" for i in range(20)], {"conv": rng.normal(size=(20, 32))})
    with pytest.raises(ValidationError, match="layer 'fc'"):
        top_stimuli(r, acts, layer="conv")
