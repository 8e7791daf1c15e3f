"""Retrieval: exact top-k against a full sort, ranks and 2-AFC against brute force, ground truth
(noise → 0 gives top-1 → 1; permuted queries give chance), bounded memory, bad input."""

from __future__ import annotations

import tracemalloc

import numpy as np
import pytest

from neuroalign.core.exceptions import StimulusMismatchError, ValidationError
from neuroalign.data import make_decoding_problem
from neuroalign.decode import identification, retrieve


@pytest.mark.parametrize("similarity", ["cosine", "correlation", "dot"])
def test_top_k_and_ranks_equal_brute_force(rng, similarity):
    C = rng.standard_normal((3000, 32))
    Q = C[:400] + 1.5 * rng.standard_normal((400, 32))
    r = retrieve(
        Q,
        C,
        k=7,
        similarity=similarity,
        true_index=np.arange(400),
        memory_budget=2_000_000,
        dtype="float64",
    )

    def norm(x):
        if similarity == "correlation":
            x = x - x.mean(1, keepdims=True)
        return x if similarity == "dot" else x / np.linalg.norm(x, axis=1, keepdims=True)

    S = norm(Q) @ norm(C).T
    ref = np.argsort(-S, axis=1, kind="stable")[:, :7]
    np.testing.assert_array_equal(r.indices, ref)
    np.testing.assert_allclose(r.scores, np.take_along_axis(S, ref, 1), atol=1e-9)
    np.testing.assert_array_equal(
        r.greater, (S > S[np.arange(400), np.arange(400)][:, None]).sum(1)
    )


def test_identification_ground_truth_and_chance():
    p = make_decoding_problem(300, 16, 10, noise=0.0, seed=0)
    ids = p.stimulus_ids
    emb = p.latents
    for noise, lo in ((0.0, 1.0), (0.3, 0.9)):
        pred = emb + noise * np.random.default_rng(1).standard_normal(emb.shape)
        t = identification(pred, emb, query_ids=ids, candidate_ids=ids, k=(1, 5)).table
        t = t.set_index("scoring")
        assert t.loc["top1", "value"] >= lo and t.loc["pairwise", "value"] > 0.99
        assert t.loc["top1", "chance"] == pytest.approx(1 / 300)
    shuffled = np.random.default_rng(2).permutation(len(ids))
    t = identification(emb[shuffled], emb, query_ids=ids, candidate_ids=ids, k=(1, 5)).table
    t = t.set_index("scoring")
    assert t.loc["top5", "value"] < 0.05
    assert abs(t.loc["pairwise", "value"] - 0.5) < 0.06
    assert abs(t.loc["rank", "value"] - t.loc["rank", "chance"]) < 30


def test_memory_bounded_by_budget(rng):
    C = rng.standard_normal((20000, 64)).astype(np.float32)
    Q = rng.standard_normal((2000, 64)).astype(np.float32)
    full = Q.shape[0] * C.shape[0] * 4  # the similarity matrix that must not be formed (160 MB)
    tracemalloc.start()
    retrieve(Q, C, k=5, memory_budget="8MB")
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert peak < 4 * 8e6 and peak < full / 4, peak


def test_bad_input():
    C = np.eye(5)
    ids = list("abcde")
    with pytest.raises(StimulusMismatchError, match="'z'"):
        identification(C[:2], C, query_ids=["a", "z"], candidate_ids=ids)
    with pytest.raises(ValidationError, match="exceeds the 5 candidates"):
        identification(C, C, query_ids=ids, candidate_ids=ids, k=6)
    with pytest.raises(ValidationError, match="k=9"):
        retrieve(C, C, k=9)
    with pytest.raises(ValidationError, match="candidates have 5"):
        retrieve(C[:, :3], C)
    with pytest.raises(ValidationError, match="unique"):
        identification(C, C, query_ids=ids, candidate_ids=list("aacde"))


def test_torch_backend_matches_numpy(rng):
    pytest.importorskip("torch")
    C = rng.standard_normal((5000, 16))
    Q = C[:300] + rng.standard_normal((300, 16))
    a = retrieve(Q, C, k=4, true_index=np.arange(300), memory_budget="1MB", dtype="float64")
    b = retrieve(
        Q, C, k=4, true_index=np.arange(300), memory_budget="1MB", dtype="float64", device="torch"
    )
    np.testing.assert_array_equal(a.indices, b.indices)
    np.testing.assert_array_equal(a.greater, b.greater)
    np.testing.assert_allclose(a.scores, b.scores, atol=1e-12)
