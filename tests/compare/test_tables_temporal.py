import numpy as np
import pandas as pd
import pytest

from neuroalign import Activations, Responses
from neuroalign.compare import (
    brain_rdms,
    cka_table,
    compare_rdms,
    compute_rdm,
    compute_rdms_over_time,
    rsa_over_time,
    rsa_table,
    temporal_generalization,
)


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
    first = resp.data[:, :15]
    np.testing.assert_allclose(rdms["IT"].dissimilarities[0], compute_rdm(first))


def test_rsa_table_ranks_the_generating_layer_first(toy):
    acts, resp = toy
    table = rsa_table(acts, brain_rdms(resp), n_boot=100, over="subjects")
    best = table.loc[table["value"].idxmax()]
    assert best["layer"] == "good" and best["n_subjects"] == 3
    assert (table["ceiling_low"] < table["ceiling_high"]).all()


def test_cka_table_against_layers_and_rois(toy):
    acts, resp = toy
    t = cka_table(acts, resp)
    assert (
        set(t["roi"]) == {"IT"}
        and t.set_index("layer").loc["good", "cka"] > t.set_index("layer").loc["bad", "cka"]
    )
    t2 = cka_table(acts, acts)
    assert t2[(t2["layer"] == "good") & (t2["layer_b"] == "good")]["cka"].iloc[0] == pytest.approx(
        1.0
    )


def test_time_resolved_rsa(rng):
    n, ch, times = 20, 12, np.linspace(-0.1, 0.5, 7)
    ids = [f"s{i}" for i in range(n)]
    pattern = rng.normal(size=(n, ch))
    gain = (times > 0.1).astype(float)  # the pattern appears after 100 ms
    data = pattern[:, :, None] * gain[None, None, :] + 0.3 * rng.normal(size=(n, ch, len(times)))
    resp = Responses(ids, data=data, times=times)
    rdms = compute_rdms_over_time(resp)
    assert rdms.n_rdms == len(times)
    np.testing.assert_allclose(rdms.dissimilarities[3], compute_rdm(data[:, :, 3]))
    from neuroalign import RDMs

    model = RDMs(compute_rdm(pattern), ids, pd.DataFrame({"model": ["true"]}))
    curve = rsa_over_time(model, rdms)
    late, early = curve[curve["time"] > 0.1]["value"], curve[curve["time"] <= 0.1]["value"]
    assert late.min() > 0.5 > early.abs().max()
    tg = temporal_generalization(rdms)
    assert tg.shape == (7, 7)
    np.testing.assert_allclose(np.diag(tg), 1.0)
    np.testing.assert_allclose(tg, compare_rdms(rdms, rdms, "spearman"))
