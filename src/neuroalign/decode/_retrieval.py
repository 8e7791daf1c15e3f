"""Retrieval and identification: which candidate does each decoded embedding point to?

Similarities of ``n_queries`` predicted embeddings with ``n_candidates`` candidate embeddings are
computed block by block as GEMMs (``2·n_queries·n_candidates·n_dims`` FLOPs in all) and never held
whole: each block updates a running top-k per query and, when the true candidate of each query is
known, the count of candidates that beat it (its rank). On NumPy the top-k update is pruned by each
query's current k-th best score, so after the first block only the few entries above it are
touched and the GEMM dominates; on torch (CUDA) ``torch.topk`` merges each block.

Memory is bounded by ``memory_budget``: one block of scores plus one normalised candidate block.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, NamedTuple

import numpy as np

from ..core import Result, make_table
from ..core._backend import chunk_slices, get_backend
from ..core._ids import positions
from ..core._progress import track
from ..core._registry import lookup, register
from ..core._validation import check_array, check_ids, check_same_length, parse_memory_budget
from ..core.exceptions import ShapeError, StimulusMismatchError, ValidationError

__all__ = ["SIMILARITIES", "TopK", "identification", "retrieve"]

#: Row normalisations that turn a dot product into the named similarity.
SIMILARITIES: dict[str, Callable[[Any], Any]] = {}
_SEED_COLUMNS = 2048  # columns of the first block whose partial sort seeds the running top-k


@register(SIMILARITIES)
def cosine(x: Any) -> Any:
    """Rows scaled to unit norm: dot products are cosine similarities."""
    return x / ((x * x).sum(-1, keepdims=True) ** 0.5 + 1e-12)


@register(SIMILARITIES)
def correlation(x: Any) -> Any:
    """Rows centred and scaled: dot products are Pearson correlations."""
    return cosine(x - x.mean(-1, keepdims=True))


@register(SIMILARITIES)
def dot(x: Any) -> Any:
    """Rows unchanged: raw inner products."""
    return x


class TopK(NamedTuple):
    """Best ``k`` candidates per query (best first) and, with ``true_index``, the true item's rank.

    ``indices`` / ``scores``: ``(n_queries, k)`` (equal scores ordered by position);
    ``greater`` / ``ties``: how many *other* candidates score above / within rounding of the true
    one (``None`` without ``true_index``).
    """

    indices: np.ndarray
    scores: np.ndarray
    greater: np.ndarray | None
    ties: np.ndarray | None


def _merge_hits(
    topv: np.ndarray,
    topi: np.ndarray,
    rows: np.ndarray,
    vals: np.ndarray,
    idx: np.ndarray,
    k: int,
) -> None:
    """Merge candidate scores ``vals`` (at global positions ``idx``) of query rows ``rows`` into
    the running top-k (in place). Hits must come row by row in ascending ``idx``, and every
    ``idx`` after those already kept: a stable sort then orders equal scores by position (lower
    first), whatever the block sizes were."""
    if rows.size == 0:
        return
    ur, inv = np.unique(rows, return_inverse=True)
    all_rows = np.concatenate([np.repeat(np.arange(len(ur)), k), inv])
    all_vals = np.concatenate([topv[ur].ravel(), vals])
    all_idx = np.concatenate([topi[ur].ravel(), idx])
    order = np.lexsort((-all_vals, all_rows))  # stable: ties keep the kept-then-new order
    start = np.searchsorted(all_rows[order], np.arange(len(ur)))
    take = order[start[:, None] + np.arange(k)]
    topv[ur], topi[ur] = all_vals[take], all_idx[take]


def _merge_numpy(
    S: np.ndarray, off: int, topv: np.ndarray, topi: np.ndarray, k: int, mask: np.ndarray
) -> None:
    """Update the running top-k (sorted descending, ties by position; in place) with the score
    block ``S``; ``mask`` is a reusable boolean buffer with at least ``S.size`` entries."""
    if np.isneginf(topv[:, -1]).all() and (topi[:, -1] == -1).all():
        # first block: the k-th best of its first few columns (a partial sort, cheap) bounds
        # the top-k from below; every entry at or above it (ties included) is merged, so the
        # kept ties are the lowest positions. The rest of the block goes through the pruned
        # update like every later block.
        seed = min(S.shape[1], max(k, _SEED_COLUMNS))
        kth = -np.partition(-S[:, :seed], k - 1, axis=1)[:, k - 1 : k]
        rows, cols = np.nonzero(S[:, :seed] >= kth)
        _merge_hits(topv, topi, rows, S[rows, cols], cols + off, k)
        if seed < S.shape[1]:
            _merge_numpy(S[:, seed:], off + seed, topv, topi, k, mask)
        return
    # strictly greater than the k-th: a later position that ties with it does not enter
    hit = np.greater(S, topv[:, -1:], out=mask[: S.size].reshape(S.shape))
    rows, cols = np.nonzero(hit)
    _merge_hits(topv, topi, rows, S[rows, cols], cols + off, k)


def _norms(xb: Any, fn: Callable[[Any], Any], X: np.ndarray, size: int) -> np.ndarray:
    """Euclidean norm of every row after the similarity's normalisation (chunked)."""
    out = np.empty(len(X), np.float64)
    for sl in chunk_slices(len(X), size):
        Z = xb.to_numpy(fn(xb.asarray(X[sl]))).astype(np.float64)
        out[sl] = np.sqrt((Z * Z).sum(-1))
    return out


def _check_zero_rows(X: np.ndarray, name: str, similarity: str) -> None:
    """Cosine and correlation of an all-zero (correlation: constant) row are undefined."""
    zero = np.zeros(len(X), bool)
    for sl in chunk_slices(len(X), 65536):  # float64 copies of one chunk at a time
        Z = X[sl].astype(np.float64)
        scale = np.abs(Z).max(1) * np.sqrt(X.shape[1])
        if similarity == "correlation":
            Z -= Z.mean(1, keepdims=True)
        # zero up to rounding: a constant row centred in float64 leaves residues of a few ulps
        zero[sl] = np.sqrt((Z * Z).sum(1)) <= 16 * np.finfo(np.float64).eps * scale
    if zero.any():
        rows = np.flatnonzero(zero)
        what = "constant" if similarity == "correlation" else "all zero"
        raise ValidationError(
            f"{name} row(s) {rows[:10].tolist()}{' ...' if len(rows) > 10 else ''} "
            f"({len(rows)} in all) are {what}: their {similarity} similarity is undefined (0/0), "
            f"and scoring them 0 would rank them at random. Drop those rows, or use "
            f"similarity='dot'."
        )


def retrieve(
    queries: Any,
    candidates: Any,
    k: int = 5,
    *,
    similarity: str = "cosine",
    true_index: Any = None,
    memory_budget: int | str = "1GB",
    device: str | None = None,
    dtype: str = "float32",
    quiet: bool = False,
) -> TopK:
    """The ``k`` most similar candidates of every query, without the full similarity matrix.

    Equal scores are ordered by candidate position (lower first), so ``indices`` do not depend
    on ``memory_budget`` (the block sizes). With ``true_index``, the true item is never compared
    with itself; another candidate counts as above it when its score exceeds the true score by
    more than the rounding of the two dot products, and as tied within it. That tolerance is
    relative to the score scale: ``8·√n_dims·ε·‖q‖·max‖c‖`` per query (ε of ``dtype``; ``‖·‖``
    after the similarity's normalisation, so ``8·√n_dims·ε`` for cosine and correlation).

    Parameters
    ----------
    queries : array (n_queries, n_dims)
        Predicted (decoded) embeddings.
    candidates : array (n_candidates, n_dims)
    k : int
    similarity : {"cosine", "correlation", "dot"}
    true_index : array (n_queries,) of int, optional
        Position of each query's true candidate: also count the candidates that beat it.
    memory_budget : int or str
        Bytes for one block of scores and one normalised candidate block (e.g. ``"1GB"``).
    device, dtype : backend (``"cuda"`` runs the GEMMs and the top-k on the GPU).
    quiet : bool

    Raises
    ------
    ValidationError
        For cosine and correlation, when a query or candidate row is all zero (correlation:
        constant): its similarity is 0/0, undefined; the error names the rows.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> c = rng.standard_normal((100, 8))
    >>> retrieve(c[:3] + 0.01, c, k=2).indices[:, 0].tolist()
    [0, 1, 2]
    """
    fn = lookup(SIMILARITIES, similarity, "similarity")
    Q = check_array(queries, "queries", ndim=2)
    C = check_array(candidates, "candidates", ndim=2)
    if Q.shape[1] != C.shape[1]:
        raise ShapeError(
            f"queries have {Q.shape[1]} dimensions but candidates have {C.shape[1]}; "
            "decode into the candidates' embedding space."
        )
    n_q, n_c = len(Q), len(C)
    if not 1 <= k <= n_c:
        raise ValidationError(f"k={k} must be between 1 and the number of candidates ({n_c}).")
    if similarity != "dot":
        _check_zero_rows(Q, "queries", similarity)
        _check_zero_rows(C, "candidates", similarity)
    budget = parse_memory_budget(memory_budget)
    xb = get_backend(device, dtype)
    item = xb.itemsize()
    # one score block (q × c floats + a q × c boolean mask) and one normalised candidate block
    # (c × d) within the budget: queries in blocks of up to 4096 rows, candidates in the largest
    # block that then fits
    q_size = min(n_q, 4096)
    c_size = max(k, min(n_c, budget // (q_size * (item + 1) + C.shape[1] * item)))
    Qn = fn(xb.asarray(Q))
    true = None
    if true_index is not None:
        true = np.asarray(true_index, dtype=np.int64)
        check_same_length("true_index", len(true), "queries", n_q)
        if true.min() < 0 or true.max() >= n_c:
            raise ValidationError(
                f"true_index must lie in [0, {n_c}); got {true.min()}..{true.max()}."
            )
        s_true = xb.to_numpy((Qn * fn(xb.asarray(C[true]))).sum(-1)).astype(np.float64)
        # rounding of two float dot products of length d: relative to ‖q‖·max‖c‖ (the largest
        # score a row can have), not a fixed number (1e-5 is below one float32 ulp at 500)
        eps = float(np.finfo(np.float32 if dtype == "float32" else np.float64).eps)
        tol = (
            8.0
            * np.sqrt(Q.shape[1])
            * eps
            * _norms(xb, fn, Q, q_size)
            * _norms(xb, fn, C, c_size).max()
        )
        greater = np.zeros(n_q, np.int64)
        ties = np.zeros(n_q, np.int64)
    # running scores in the GEMM's dtype: comparing float32 blocks with float64 would cast them
    topv = np.full((n_q, k), -np.inf, dtype=np.float32 if dtype == "float32" else np.float64)
    topi = np.full((n_q, k), -1, np.int64)
    blocks = list(chunk_slices(n_c, c_size))
    if xb.name == "numpy":
        buf = np.empty(q_size * c_size, dtype=Qn.dtype)
        mask = np.empty(q_size * c_size, dtype=bool)
    for cs in track(blocks, len(blocks), "retrieval", quiet):
        Cn = fn(xb.asarray(C[cs]))
        for qs in chunk_slices(n_q, q_size):
            if xb.name == "numpy":  # reused buffers: no fresh pages (and page faults) per block
                shape = (qs.stop - qs.start, cs.stop - cs.start)
                S = np.matmul(Qn[qs], Cn.T, out=buf[: shape[0] * shape[1]].reshape(shape))
            else:
                S = Qn[qs] @ Cn.T
            if xb.name == "numpy":
                _merge_numpy(S, cs.start, topv[qs], topi[qs], k, mask)  # views: updated in place
            else:
                _merge_torch(S, cs.start, topv[qs], topi[qs], k)  # views: updated in place
            if true is not None and xb.name != "numpy":  # counted on the device
                n_above, n_close = _count_torch(S, s_true[qs], tol[qs], true[qs] - cs.start)
                greater[qs] += n_above
                ties[qs] += n_close - n_above
            elif true is not None:
                ref, t = s_true[qs, None], tol[qs, None]
                above = S > ref + t  # boolean temporaries only
                close = S >= ref - t
                # the true item itself is not a competitor: take it out where it is in the block
                own = np.flatnonzero((true[qs] >= cs.start) & (true[qs] < cs.stop))
                above[own, true[qs][own] - cs.start] = False
                close[own, true[qs][own] - cs.start] = False
                n_above = above.sum(1)
                greater[qs] += n_above
                ties[qs] += close.sum(1) - n_above
    return TopK(
        topi,
        topv,
        None if true is None else greater,
        None if true is None else ties,
    )


def _count_torch(
    S: Any, s_true: np.ndarray, tol: np.ndarray, own: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Per row of a torch score block, the entries above ``s_true + tol`` and at or above
    ``s_true − tol``, the true item itself (column ``own`` where it lies in the block) left out:
    the NumPy path's counts without moving the block to the host. The float64 thresholds are
    rounded outwards to the block's dtype, which keeps every comparison exact (for a float32
    ``s``: ``s > x ⟺ s > ⌊x⌋₃₂`` and ``s ≥ x ⟺ s ≥ ⌈x⌉₃₂``)."""
    torch = __import__("torch")
    ft = np.float32 if S.dtype == torch.float32 else np.float64
    hi, lo = s_true + tol, s_true - tol
    hi_t, lo_t = hi.astype(ft), lo.astype(ft)
    hi_t = np.where(hi_t > hi, np.nextafter(hi_t, ft(-np.inf)), hi_t)
    lo_t = np.where(lo_t < lo, np.nextafter(lo_t, ft(np.inf)), lo_t)
    as_dev = dict(device=S.device, dtype=S.dtype)
    above = S > torch.as_tensor(hi_t, **as_dev)[:, None]
    close = S >= torch.as_tensor(lo_t, **as_dev)[:, None]
    rows = np.flatnonzero((own >= 0) & (own < S.shape[1]))
    if len(rows):
        r = torch.as_tensor(rows, device=S.device)
        c = torch.as_tensor(own[rows], device=S.device)
        above[r, c] = False
        close[r, c] = False
    counts = torch.stack([above.sum(1), close.sum(1)]).cpu().numpy().astype(np.int64)
    return counts[0], counts[1]


def _merge_torch(S: Any, off: int, topv: np.ndarray, topi: np.ndarray, k: int) -> None:
    """As :func:`_merge_numpy` on a torch score block: the block's k-th best (``torch.topk``)
    bounds the entries that can enter; those (ties included, by position) are merged on the
    host, so equal scores are ordered by position as on NumPy."""
    torch = __import__("torch")
    kth = torch.topk(S, min(k, S.shape[1]), dim=1).values[:, -1:]
    floor = torch.as_tensor(topv[:, -1:], device=S.device, dtype=S.dtype)
    first = torch.as_tensor((topi[:, -1:] == -1), device=S.device)
    # an entry enters when it reaches the block's k-th best and beats the kept k-th (or the
    # kept list is not full yet)
    hit = (S >= kth) & ((S > floor) | first)
    rows, cols = (t.cpu().numpy() for t in torch.nonzero(hit, as_tuple=True))
    vals = S[hit].cpu().numpy()
    _merge_hits(topv, topi, rows, vals, cols + off, k)


def identification(
    predicted: Any,
    candidates: Any,
    *,
    query_ids: Sequence[str],
    candidate_ids: Sequence[str],
    k: int | Sequence[int] = (1, 5),
    similarity: str = "cosine",
    memory_budget: int | str = "1GB",
    device: str | None = None,
    model: str = "",
    layer: str = "",
    subject: str = "",
    quiet: bool = False,
) -> Result:
    """Retrieval scores of decoded embeddings among a candidate set, with chance levels.

    For each query (a trial decoded into an embedding) the candidates are ranked by similarity;
    reported are top-k accuracy (true item among the k best; chance ``k / n_candidates``), the mean
    rank of the true item (1 = best; chance ``(n_candidates + 1) / 2``) and pairwise (2-AFC)
    identification: the fraction of other candidates the true item beats, ties counting one half
    (chance 0.5).

    Parameters
    ----------
    predicted : array (n_queries, n_dims)
    candidates : array (n_candidates, n_dims)
    query_ids : sequence of str (n_queries,)
        The stimulus each query was recorded for (repeats allowed).
    candidate_ids : sequence of str (n_candidates,)
        Unique ids; every query id must be among them.
    k : int or sequence of int
    similarity, memory_budget, device : see :func:`retrieve`.
    model, layer, subject : labels for the table.

    Returns
    -------
    Result
        kind ``"retrieval.identification"``, analysis ``"retrieval"``: rows ``top{k}``, ``rank``,
        ``pairwise`` with ``chance`` and ``n`` (queries); arrays ``ranks``, ``pairwise``,
        ``top_indices``.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> c = rng.standard_normal((50, 16))
    >>> ids = [f"s{i}" for i in range(50)]
    >>> r = identification(c + 0.1, c, query_ids=ids, candidate_ids=ids, k=1)
    >>> r.table.set_index("scoring").loc["top1", ["value", "chance"]].tolist()
    [1.0, 0.02]
    """
    cids = check_ids(candidate_ids, "candidate_ids")
    qids = np.asarray([str(i) for i in query_ids])
    P = check_array(predicted, "predicted", ndim=2)
    check_same_length("query_ids", len(qids), "predicted", len(P))
    n_rows = np.shape(candidates)[0]
    if n_rows != len(cids):  # rows are matched to ids by position: another count mispairs them
        raise ShapeError(
            f"candidates has {n_rows} rows but candidate_ids names {len(cids)}; pass the "
            "embeddings of exactly those items, in that order (e.g. candidates[positions])."
        )
    missing = sorted(set(qids) - set(cids))
    if missing:
        raise StimulusMismatchError(
            f"{len(missing)} query id(s) have no candidate (the true item must be in the candidate "
            f"set): {missing[:10]}; add their embeddings to candidates."
        )
    true = positions(cids, qids)
    ks = [k] if isinstance(k, int) else list(k)
    n_c = len(cids)
    if max(ks) > n_c:
        raise ValidationError(f"k={max(ks)} exceeds the {n_c} candidates; use k <= {n_c}.")
    res = retrieve(
        P,
        candidates,
        max(ks),
        similarity=similarity,
        true_index=true,
        memory_budget=memory_budget,
        device=device,
        quiet=quiet,
    )
    assert res.greater is not None and res.ties is not None
    ranks = 1 + res.greater + res.ties / 2
    pairwise = 1 - (res.greater + res.ties / 2) / max(1, n_c - 1)
    per_query: dict[str, tuple[np.ndarray, float]] = {
        f"top{kk}": ((res.indices[:, :kk] == true[:, None]).any(1).astype(float), kk / n_c)
        for kk in ks
    }
    per_query["rank"] = (ranks, (n_c + 1) / 2)
    per_query["pairwise"] = (pairwise, 0.5)
    n_q = len(P)
    rows = [
        {
            "scoring": name,
            "value": float(v.mean()),
            "se": float(v.std(ddof=1) / np.sqrt(n_q)) if n_q > 1 else np.nan,
            "chance": chance,
        }
        for name, (v, chance) in per_query.items()
    ]
    table = make_table(
        rows,
        analysis="retrieval",
        model=model,
        layer=layer,
        subject=subject,
        method=similarity,
        statistic="score",
        split="test",
        n=len(P),
        resampled="none",
        n_candidates=n_c,
    )
    arrays = {"ranks": ranks, "pairwise": pairwise, "top_indices": res.indices}
    params = {"similarity": similarity, "k": ks, "n_candidates": n_c}
    return Result(table, kind="retrieval.identification", arrays=arrays, params=params)
