"""Rank kernels shared by the rank-based RDM comparisons and their noise ceilings.

- :func:`rank_rows`: average-tie ranks of float rows (equal to ``scipy.stats.rankdata``).
- :func:`rank_integer_rows` / :func:`code_rows`: the same for rows of small non-negative
  integers (pooled ranks), from one SIMD sort of packed (value, position) keys.
- :class:`KendallRef` / :func:`tau_a_with`: Kendall's τ_a of one vector against many, the vector
  sorted once and the discordant pairs of each other vector counted by a Fenwick tree.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

__all__ = [
    "KendallRef",
    "Workspace",
    "code_rows",
    "kendall_ref",
    "rank_integer_rows",
    "rank_rows",
    "tau_a_with",
]


def rank_rows(x: np.ndarray) -> np.ndarray:
    """Average-tie ranks (1..m) of each row, equal to ``scipy.stats.rankdata(x, axis=1)``.

    Uses an unstable (quick)sort, which is about twice as fast as the merge sort scipy needs for
    its other tie methods, and resolves ties with two ``bincount`` calls over all rows at once.
    """
    x = np.asarray(x, dtype=np.float64)
    if x.ndim == 1:
        return rank_rows(x[None])[0]
    rows, m = x.shape
    order = np.argsort(x, axis=1)
    xs = np.take_along_axis(x, order, axis=1)
    new = np.ones(xs.shape, dtype=bool)
    new[:, 1:] = xs[:, 1:] != xs[:, :-1]
    group = (np.cumsum(new, axis=1) - 1 + np.arange(rows)[:, None] * m).ravel()
    position = np.broadcast_to(np.arange(1, m + 1, dtype=np.float64), xs.shape).ravel()
    mean_rank = np.bincount(group, weights=position, minlength=rows * m) / np.maximum(
        np.bincount(group, minlength=rows * m), 1
    )
    ranks = np.empty_like(x)
    np.put_along_axis(ranks, order, mean_rank[group].reshape(rows, m), axis=1)
    return ranks


class Workspace:
    """Scratch arrays reused across calls of the integer rank kernels (one per thread).

    Fresh multi-megabyte temporaries are returned to the system when freed, and every call then
    pays a page fault per 4 KiB when it writes them again — on a busy machine several times the
    cost of the sort they serve. Arrays handed out by :meth:`get` are views of buffers that the
    next call with the same name overwrites.
    """

    def __init__(self) -> None:
        self._buffers: dict[str, np.ndarray] = {}

    def get(self, name: str, shape: tuple[int, ...], dtype: Any) -> np.ndarray:
        dtype = np.dtype(dtype)
        size = int(np.prod(shape)) * dtype.itemsize
        buf = self._buffers.get(name)
        if buf is None or buf.size < size:
            buf = self._buffers[name] = np.empty(max(size, dtype.itemsize), dtype=np.uint8)
        return buf[:size].view(dtype).reshape(shape)


def _sorted_integer_rows(
    x: np.ndarray, ws: Workspace | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """(flat positions in sorted order, intp; the sorted values, flat) of rows of non-negative
    integers.

    Value and position are packed into one key (int32 when it fits), so one plain sort — SIMD in
    NumPy — yields the order and the sorted values together.
    """
    ws = Workspace() if ws is None else ws
    rows, m = x.shape
    bits = int(m).bit_length()
    top = int(x.max()) if x.size else 0
    dtype = np.dtype(np.int32 if (top + 1) << bits < 2**31 else np.int64)
    key = ws.get("key", (rows, m), dtype)
    np.multiply(x, float(1 << bits), out=key, casting="unsafe")  # exact: integers below 2**53
    key |= np.arange(m, dtype=dtype)
    key.sort(axis=1)
    flat = ws.get("flat", (rows, m), np.intp)
    np.bitwise_and(key, np.asarray((1 << bits) - 1, dtype=dtype), out=flat, casting="unsafe")
    flat += (np.arange(rows, dtype=np.intp) * m)[:, None]
    key >>= np.asarray(bits, dtype=dtype)
    return flat.ravel(), key.ravel()


def _tied_runs(
    xs: np.ndarray, m: int, ws: Workspace | None = None
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Runs of equal values in rows of length ``m`` (flat, sorted within rows): the flat index of
    each run's first element, the flat indices of its other elements, and how many those are.
    Singletons are left out, so the cost follows the number of ties, not the length."""
    eq = np.empty(xs.size, dtype=bool) if ws is None else ws.get("eq", (xs.size,), bool)
    if xs.size:
        np.equal(xs[1:], xs[:-1], out=eq[1:])
        eq[::m] = False
    tied = np.flatnonzero(eq)
    if not tied.size:
        return tied, tied, tied
    brk = np.empty(tied.size, dtype=bool)
    brk[0] = True
    np.not_equal(tied[1:], tied[:-1] + 1, out=brk[1:])
    heads = np.flatnonzero(brk)
    return tied[heads] - 1, tied, np.diff(heads, append=tied.size)


def rank_integer_rows(x: np.ndarray, ws: Workspace | None = None) -> np.ndarray:
    """:func:`rank_rows` for rows of small non-negative integers (e.g. sums of ranks): several
    times as fast. Sorted positions get ranks 1..m, then each tied run its mean position (work in
    proportion to the tied elements only). With a :class:`Workspace` the result is one of its
    buffers (valid until the next call with that workspace)."""
    ws = Workspace() if ws is None else ws
    rows, m = x.shape
    flat, xs = _sorted_integer_rows(x, ws)
    vals = ws.get("vals", (rows, m), np.float64)
    vals[:] = np.arange(1, m + 1, dtype=np.float64)
    vals = vals.ravel()
    first, others, n_others = _tied_runs(xs, m, ws)
    if first.size:
        mean = vals[first] + n_others * 0.5
        vals[first] = mean
        vals[others] = np.repeat(mean, n_others)
    ranks = ws.get("ranks", (rows, m), np.float64)
    ranks.ravel()[flat] = vals
    return ranks


def code_rows(x: np.ndarray, ws: Workspace | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Order-preserving positive codes of rows of non-negative integers — their minimum ranks
    (1..m, ``intp``; ties share the first position of their run) — and the number of tied pairs
    of each row. What the Fenwick count of :func:`tau_a_with` needs, without a cumulative sum.
    With a :class:`Workspace` the codes are one of its buffers (valid until the next call)."""
    ws = Workspace() if ws is None else ws
    rows, m = x.shape
    flat, xs = _sorted_integer_rows(x, ws)
    vals = ws.get("vals", (rows, m), np.intp)
    vals[:] = np.arange(1, m + 1, dtype=np.intp)
    vals = vals.ravel()
    first, others, n_others = _tied_runs(xs, m, ws)
    if first.size:
        vals[others] = np.repeat(vals[first], n_others)
    codes = ws.get("codes", (rows, m), np.intp)
    codes.ravel()[flat] = vals
    ties = np.bincount(first // m, weights=(n_others + 1) * n_others // 2, minlength=rows)
    return codes, ties.astype(np.int64)


def _dense_codes(v: np.ndarray) -> tuple[np.ndarray, int]:
    _, inverse, counts = np.unique(v, return_inverse=True, return_counts=True)
    return inverse.astype(np.intp).ravel() + 1, int((counts * (counts - 1) // 2).sum())


@dataclass(frozen=True)
class KendallRef:
    """A vector prepared for τ_a against many others: its sort order, its dense codes in that
    order, its number of tied pairs, and the sorted positions of its tied elements (members of
    runs of equal codes) — as the two ends of every tied pair when there are few — which
    :func:`tau_a_with` uses to count the pairs tied in both vectors."""

    order: np.ndarray
    sorted_codes: np.ndarray
    ties: int
    tied_positions: np.ndarray = field(default_factory=lambda: np.empty(0, dtype=np.intp))
    tied_pairs: tuple[np.ndarray, np.ndarray] | None = None


def kendall_ref(x: np.ndarray) -> KendallRef:
    codes, ties = _dense_codes(x)
    return kendall_ref_codes(codes, ties)


def kendall_ref_codes(codes: np.ndarray, ties: int) -> KendallRef:
    """:func:`kendall_ref` of a vector given as positive order-preserving integer codes (e.g. a
    row of :func:`code_rows`) and its number of tied pairs."""
    order = np.argsort(codes, kind="stable")
    sorted_codes = codes[order]
    same = sorted_codes[1:] == sorted_codes[:-1]
    in_run = np.zeros(len(sorted_codes), dtype=bool)
    in_run[1:] |= same
    in_run[:-1] |= same
    tied = np.flatnonzero(in_run)
    pairs = None
    if ties <= 4 * len(codes):  # few ties: list the pairs, one comparison counts those tied in both
        # runs are contiguous in sorted order: element t of a run of length L pairs with the
        # L − 1 − t elements after it
        head = np.flatnonzero(np.r_[True, ~same[tied[:-1]] | (np.diff(tied) != 1)])
        length = np.diff(head, append=len(tied))
        t = np.arange(len(tied)) - np.repeat(head, length)
        after = np.repeat(length, length) - 1 - t
        a = np.repeat(tied, after)
        b = a + np.arange(len(a)) - np.repeat(np.cumsum(after) - after, after) + 1
        pairs = (a, b)
    return KendallRef(order, sorted_codes, ties, tied, pairs)


try:
    from scipy.stats._stats import _kendall_dis
except ImportError:  # pragma: no cover - depends on scipy's private layout
    _kendall_dis = None


def _discordant(x_sorted: np.ndarray, y: np.ndarray) -> int:
    """Pairs ``i < j`` with ``x_i < x_j`` and ``y_i > y_j`` (``x`` sorted, both positive codes).

    scipy's compiled Fenwick-tree count ``_kendall_dis`` (what ``scipy.stats.kendalltau`` calls);
    a NumPy count per tie group of ``x`` if that private helper ever moves.
    """
    if _kendall_dis is None:  # pragma: no cover
        return discordant_numpy(x_sorted, y)
    return int(_kendall_dis(x_sorted, y))


def _tied_in_both(ref: KendallRef, ys: np.ndarray) -> int:
    """Pairs tied in ``ref`` and in ``ys`` (``ys`` in ``ref``'s sorted order)."""
    if not ref.ties:
        return 0
    if ref.tied_pairs is not None:
        a, b = ref.tied_pairs
        return int(np.count_nonzero(ys[a] == ys[b]))
    pos = ref.tied_positions
    group, y = ref.sorted_codes[pos].astype(np.int64), ys[pos].astype(np.int64)
    key = np.sort(group * (int(y.max()) + 1) + y)
    new = np.empty(len(key), dtype=bool)
    new[0] = True
    np.not_equal(key[1:], key[:-1], out=new[1:])
    counts = np.diff(np.flatnonzero(new), append=len(key))
    return int((counts * (counts - 1) // 2).sum())


def discordant_numpy(x_sorted: np.ndarray, y: np.ndarray) -> int:
    """Reference count for :func:`_discordant`: for each tie group of ``x``, the earlier
    elements with a larger ``y`` (binary search in the sorted prefix)."""
    starts = np.flatnonzero(np.r_[True, x_sorted[1:] != x_sorted[:-1]])
    ends = np.r_[starts[1:], len(y)]
    total = 0
    for s, e in zip(starts, ends, strict=True):
        if s:
            earlier = np.sort(y[:s])
            total += int((s - np.searchsorted(earlier, y[s:e], side="right")).sum())
    return total


def tau_a_with(ref: KendallRef, y_codes: np.ndarray, y_ties: int) -> float:
    """τ_a of the prepared vector with another given by positive order-preserving codes and its
    number of tied pairs; NaN when either vector is constant.

    One Fenwick pass counts the discordant pairs ``n_d`` (pairs tied in either vector are left
    out of it); the concordant ones follow by inclusion–exclusion of the tied pairs:
    ``n_c − n_d = n₀ − ties_x − ties_y + ties_xy − 2 n_d``, all integers, so the value is exact.
    """
    m = len(y_codes)
    n0 = m * (m - 1) // 2
    if ref.ties == n0 or y_ties == n0:
        return np.nan
    ys = y_codes[ref.order]
    both = _tied_in_both(ref, ys)
    return (n0 - ref.ties - y_ties + both - 2 * _discordant(ref.sorted_codes, ys)) / n0


def tau_a_matrix(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """τ_a of every row of ``a`` with every row of ``b`` (each row sorted or coded once)."""
    refs = [kendall_ref(v) for v in a]
    coded = [_dense_codes(v) for v in b]
    return np.array([[tau_a_with(r, c, t) for c, t in coded] for r in refs], dtype=np.float64)
