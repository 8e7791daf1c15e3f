"""RSA / CKA / shape tables and time-resolved RSA, against ground truth and scipy."""

import numpy as np
import pandas as pd
import pytest
from scipy.spatial.distance import pdist
from scipy.stats import spearmanr

from neuroalign import Activations, RDMs, Responses
from neuroalign.compare import (
    brain_rdms,
    cka,
    cka_table,
    compute_rdm,
    compute_rdms_over_time,
    procrustes_distance,
    rsa_over_time,
    rsa_table,
    shape_table,
    temporal_generalization,
)
from neuroalign.core import COLUMNS


@pytest.fixture
def toy(rng):
    n = 30
    ids = [f"s{i}" for i in range(n)]
    latent = rng.normal(size=(n, 8))
    acts = Activations(
        "toy:net", ids, {"good": latent @ rng.normal(size=(8, 20)), "bad": rng.normal(size=(n, 20))}
    )
    data = np.hstack(
        [latent @ rng.normal(size=(8, 15)) + rng.normal(size=(n, 15)) for _ in range(3)]
    )
    targets = pd.DataFrame({"roi": "IT", "subject": np.repeat(["a", "b", "c"], 15)})
    return acts, Responses(
        ids[::-1], data=data[::-1], targets=targets
    )  # reversed order: align must fix it


def test_brain_rdms_per_roi_and_subject(toy):
    _, resp = toy
    rdms = brain_rdms(resp)
    assert list(rdms) == ["IT"] and rdms["IT"].n_rdms == 3
    np.testing.assert_allclose(
        rdms["IT"].dissimilarities[0], pdist(resp.data[:, :15], "correlation"), atol=2e-6
    )


def test_rsa_table_schema_and_the_generating_layer_first(toy):
    acts, resp = toy
    res = rsa_table(acts, brain_rdms(resp), n_boot=100, quiet=True)
    assert res.kind == "rsa.table" and list(res.table.columns[: len(COLUMNS)]) == list(COLUMNS)
    t = res.table
    assert "target" not in t.columns[len(COLUMNS) :] and set(t["roi"]) == {"IT"}
    assert (t["target"] == "").all() and (t["analysis"] == "rsa").all()
    best = t.loc[t["value"].idxmax()]
    assert best["layer"] == "good" and best["n"] == 3 and best["resampled"] == "subjects"
    assert best["model"] == "toy:net" and best["method"] == "spearman"
    assert (t["ceiling_low"] < t["ceiling_high"]).all()
    assert res.arrays["samples/IT"].shape == (100, 2)


def test_cka_table_against_direct_calls(toy):
    acts, resp = toy
    res = cka_table(acts, resp, quiet=True)
    assert res.kind == "cka.table"
    t = res.table.set_index("layer")
    assert (
        set(t["roi"]) == {"IT"} and (t["analysis"] == "cka").all() and (t["method"] == "cka").all()
    )
    aligned = resp.select(acts.stimulus_ids)
    assert t.loc["good", "value"] == pytest.approx(cka(acts["good"], aligned.data), rel=1e-10)
    assert t.loc["good", "value"] > t.loc["bad", "value"]
    t2 = cka_table(acts, acts, quiet=True).table
    same = t2[(t2["layer"] == "good") & (t2["layer_other"] == "good")]
    assert same["value"].iloc[0] == pytest.approx(1.0) and (t2["model_other"] == "toy:net").all()


def test_shape_table_is_zero_for_a_rotated_copy(rng):
    ids = [f"s{i}" for i in range(40)]
    X = rng.normal(size=(40, 6))
    Q, _ = np.linalg.qr(rng.normal(size=(6, 6)))
    a = Activations("a", ids, {"x": X})
    b = Activations("b", ids, {"rotated": 3 * X @ Q + 1, "other": rng.normal(size=(40, 6))})
    res = shape_table(a, b)
    t = res.table.set_index("layer_other")
    assert res.kind == "shape.table" and (t["statistic"] == "distance").all()
    assert t.loc["rotated", "value"] == pytest.approx(0.0, abs=1e-6)
    assert t.loc["other", "value"] == pytest.approx(procrustes_distance(X, b["other"]), rel=1e-12)


def test_time_resolved_rsa_against_scipy(rng):
    n, ch, times = 20, 12, np.linspace(-0.1, 0.5, 7)
    ids = [f"s{i}" for i in range(n)]
    pattern = rng.normal(size=(n, ch))
    gain = (times > 0.1).astype(float)  # the pattern appears after 100 ms
    data = pattern[:, :, None] * gain[None, None, :] + 0.3 * rng.normal(size=(n, ch, len(times)))
    rdms = compute_rdms_over_time(Responses(ids, data=data, times=times))
    assert rdms.n_rdms == len(times)
    model = RDMs(compute_rdm(pattern), ids, pd.DataFrame({"model": ["true"]}))
    res = rsa_over_time(model, rdms)
    assert res.kind == "rsa.over_time"
    curve = res.table
    for t, v in zip(curve["time"], curve["value"], strict=True):
        k = int(np.argmin(np.abs(times - t)))
        ref = spearmanr(model.dissimilarities[0], pdist(data[:, :, k], "correlation"))[0]
        assert v == pytest.approx(ref, abs=1e-4)  # float32 RDMs
    late, early = curve[curve["time"] > 0.1]["value"], curve[curve["time"] <= 0.1]["value"]
    assert late.min() > 0.5 > early.abs().max()


def test_temporal_generalization_recovers_a_known_block_structure(rng):
    """Times 0-2 carry pattern A, times 3-5 an independent pattern B: the matrix is high within
    each block, near 0 across blocks, and each entry equals scipy's Spearman correlation."""
    n, ch = 25, 30
    ids = [f"s{i}" for i in range(n)]
    A, B = rng.normal(size=(n, ch)), rng.normal(size=(n, ch))
    source = [A, A, A, B, B, B]
    data = np.stack([s + 0.3 * rng.normal(size=(n, ch)) for s in source], axis=2)
    times = np.arange(6) * 0.1
    rdms = compute_rdms_over_time(Responses(ids, data=data, times=times), dtype="float64")
    res = temporal_generalization(rdms)
    mat = res.arrays["matrix"]
    assert res.kind == "rsa.temporal_generalization" and mat.shape == (6, 6)
    within = [mat[i, j] for i in range(6) for j in range(6) if i != j and (i < 3) == (j < 3)]
    across = [mat[i, j] for i in range(3) for j in range(3, 6)]
    assert min(within) > 0.6 and max(np.abs(across)) < 0.25
    for i, j in ((0, 1), (0, 4), (5, 2)):
        ref = spearmanr(pdist(data[:, :, i], "correlation"), pdist(data[:, :, j], "correlation"))[0]
        assert mat[i, j] == pytest.approx(ref, abs=1e-12)
    row = res.table[(res.table["train_time"] == times[0]) & (res.table["time"] == times[4])]
    assert row["value"].iloc[0] == pytest.approx(mat[0, 4])
