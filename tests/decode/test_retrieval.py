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


@pytest.mark.parametrize("similarity", ["dot", "cosine"])
def test_torch_float32_counts_equal_numpy_with_ties(rng, similarity):
    """The torch path counts competitors above and tied with the true item on the device; its
    float32 thresholds must give the NumPy path's counts exactly, ties (duplicate candidates of
    the true item, and items within the tolerance) included."""
    pytest.importorskip("torch")
    C = rng.standard_normal((3000, 24)).astype(np.float32)
    C[1000:1300] = C[:300]  # an exact duplicate of each true item: a tie
    C[1300:1400] = C[:100] * np.float32(1 + 3e-7)  # within the tolerance: ties for cosine
    Q = (C[:300] + 0.8 * rng.standard_normal((300, 24))).astype(np.float32)
    kw = dict(k=3, true_index=np.arange(300), memory_budget="200KB", similarity=similarity)
    a = retrieve(Q, C, **kw)
    b = retrieve(Q, C, device="torch", **kw)
    assert a.ties.sum() >= 300  # the duplicates are counted as ties
    np.testing.assert_array_equal(a.greater, b.greater)
    np.testing.assert_array_equal(a.ties, b.ties)


def test_device_counts_are_exact_at_the_float32_rounding_of_the_thresholds(rng):
    """Scores equal to the float32 roundings of the float64 thresholds (and their neighbours):
    the device's float32 comparisons count exactly what the float64 comparisons count."""
    torch = pytest.importorskip("torch")
    from neuroalign.decode._retrieval import _count_torch

    s_true = rng.standard_normal(50) * 10
    tol = np.abs(rng.standard_normal(50)) * 1e-6
    cols = []
    for x in (s_true + tol, s_true - tol):
        x32 = x.astype(np.float32)
        cols += [x32, np.nextafter(x32, np.float32(np.inf)), np.nextafter(x32, np.float32(-np.inf))]
    S = np.stack(cols, 1).astype(np.float32)
    own = np.full(50, -1)
    above, close = _count_torch(torch.as_tensor(S), s_true, tol, own)
    S64 = S.astype(np.float64)
    np.testing.assert_array_equal(above, (S64 > (s_true + tol)[:, None]).sum(1))
    np.testing.assert_array_equal(close, (S64 >= (s_true - tol)[:, None]).sum(1))


def test_float32_dot_ranks_equal_float64_brute_force_at_large_scores():
    """Dot products near 500 are ~30 float32 ulps apart per 1e-3: a fixed 1e-5 tie tolerance
    counted the true item above itself (rank < 1, 2-AFC > 1). The tolerance is now relative to
    the score scale and the true item is never compared with itself."""
    rng = np.random.default_rng(0)
    n, d = 200, 500
    C = rng.normal(size=(n, d)).astype(np.float32)
    Q = C + 0.3 * rng.normal(size=(n, d)).astype(np.float32)
    ids = [f"s{i}" for i in range(n)]
    S = Q.astype(np.float64) @ C.astype(np.float64).T
    assert np.median(np.diag(S)) > 450  # the scale this test is about
    greater = (S > np.diag(S)[:, None]).sum(1)
    want = {
        "top1": (greater == 0).mean(),
        "rank": (1 + greater).mean(),
        "pairwise": (1 - greater / (n - 1)).mean(),
    }
    for budget in ("1GB", 100_000):
        r = identification(Q, C, query_ids=ids, candidate_ids=ids, k=1, similarity="dot",
                           memory_budget=budget)  # fmt: skip
        got = r.table.set_index("scoring")["value"]
        for name, value in want.items():
            assert got[name] == pytest.approx(value, abs=1e-12), (budget, name)
        assert got["pairwise"] <= 1 and got["rank"] >= 1
    # a duplicate of the true candidate is a tie (half a place), found within the tolerance
    C2 = np.concatenate([C, C[:1]])
    r = retrieve(Q[:1], C2, k=2, similarity="dot", true_index=[0])
    assert r.greater.tolist() == [0] and r.ties.tolist() == [1]


def test_exact_ties_are_ordered_by_position_whatever_the_budget():
    rng = np.random.default_rng(1)
    X = np.repeat(rng.integers(-3, 4, size=(30, 8)), 5, axis=0).astype(np.float32)  # 5 copies
    q = X[::7].copy()
    S = q.astype(np.float64) @ X.T.astype(np.float64)  # integers: exact in float32 too
    pos = np.broadcast_to(np.arange(len(X)), S.shape)
    ref = np.lexsort((pos, -S), axis=1)[:, :7]  # by score, then by position
    for budget in (600, 2_000, 10_000, "1GB"):
        got = retrieve(q, X, k=7, similarity="dot", memory_budget=budget).indices
        np.testing.assert_array_equal(got, ref, err_msg=str(budget))
    pytest.importorskip("torch")
    got = retrieve(q, X, k=7, similarity="dot", memory_budget=3_000, device="torch").indices
    np.testing.assert_array_equal(got, ref)


def test_zero_queries_are_refused_for_cosine_and_correlation():
    rng = np.random.default_rng(2)
    C = rng.normal(size=(20, 6))
    Q = rng.normal(size=(5, 6))
    Q[[1, 3]] = 0.0
    with pytest.raises(ValidationError, match=r"queries row\(s\) \[1, 3\].*all zero.*undefined"):
        retrieve(Q, C, k=2)
    Q2 = rng.normal(size=(5, 6))
    Q2[2] = 0.7  # constant: zero after centring
    with pytest.raises(ValidationError, match=r"queries row\(s\) \[2\].*constant"):
        retrieve(Q2, C, k=2, similarity="correlation")
    C2 = C.copy()
    C2[4] = 0.0
    with pytest.raises(ValidationError, match=r"candidates row\(s\) \[4\]"):
        retrieve(Q2[:2], C2, k=2)
    # the dot product of a zero vector is defined (0): allowed
    assert retrieve(Q, C, k=2, similarity="dot").scores[1].tolist() == [0.0, 0.0]
