"""The lagged statistics of a temporal response function, without the delayed design.

For epochs of features ``X`` and outputs ``y``, the ridge on the time-delayed design ``Z``
(``n_times·n_epochs × n_features·n_delays``) needs only ``ZᵀZ``, ``Zᵀy`` and sums over each delay's
valid rows. ``ZᵀZ`` is block-Toeplitz: the block of delays ``(d, e)`` is the cross-correlation of the
features at lag ``e − d`` minus the products the zero padding removes at the epoch's head and tail.
:func:`lagged_stats` computes them a block of rows at a time, directly (one GEMM per block) or, from
24 delays on, in the Fourier domain (overlap-save blocks), per epoch, so cross-validation can add
and subtract epochs exactly (``_Stats``). Used by :class:`~neuroalign.encode.ReceptiveField`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from ..core.exceptions import ShapeError, ValidationError

__all__ = ["lagged_stats", "times_to_delays"]


def times_to_delays(tmin: float, tmax: float, sfreq: float) -> np.ndarray:
    """Delays in samples from ``round(tmin·sfreq)`` to ``round(tmax·sfreq)`` (as MNE)."""
    if not tmin <= tmax:
        raise ValidationError(f"tmin ({tmin}) must be at most tmax ({tmax}).")
    if not sfreq > 0:
        raise ValidationError(f"sfreq must be a positive sampling rate in Hz; got {sfreq!r}.")
    return np.arange(int(np.round(tmin * sfreq)), int(np.round(tmax * sfreq)) + 1)


def _valid_range(n: int, d: Any) -> tuple[Any, Any]:
    """Rows ``t`` of an ``n``-sample epoch where delay ``d`` reads inside it: ``[lo, hi)``."""
    return np.maximum(0, d), np.minimum(n, n + d)


@dataclass
class _Stats:
    """Sufficient statistics of one epoch (or a sum of epochs), features and outputs pre-centred.

    gram (p, L, p, L): ZᵀZ. cross (p, L, o): Zᵀy. zsum (p, L, L): Σ of feature f at delay d over
    rows valid for both d and e. count (L, L): rows valid for both delays. ysum_valid (L, o): Σ y
    over rows valid for delay e. ysum (o,), ysq (o,): Σ y, Σ y² over all rows. n: rows.
    """

    gram: np.ndarray
    cross: np.ndarray
    zsum: np.ndarray
    count: np.ndarray
    ysum_valid: np.ndarray
    ysum: np.ndarray
    ysq: np.ndarray
    n: int

    def __add__(self, other: _Stats) -> _Stats:
        return _Stats(*(getattr(self, k) + getattr(other, k) for k in self.__dataclass_fields__))

    def __sub__(self, other: _Stats) -> _Stats:
        return _Stats(*(getattr(self, k) - getattr(other, k) for k in self.__dataclass_fields__))


def _delayed_block(
    X: np.ndarray, delays: np.ndarray, start: int, stop: int, out: np.ndarray | None = None
) -> np.ndarray:
    """Rows ``start:stop`` of the zero-padded delayed design, as ``(rows, n_delays, n_features)``:
    ``out[t − start, i] = X[t − delays[i]]`` (0 outside the epoch); ``out`` is reused if given."""
    n = X.shape[0]
    shape = (stop - start, len(delays), X.shape[1])
    out = np.empty(shape, dtype=X.dtype) if out is None else out[: shape[0]]
    for i, d in enumerate(delays):
        lo, hi = max(start, d, 0), min(stop, n + d)
        if hi > lo:
            out[lo - start : hi - start, i] = X[lo - d : hi - d]
            out[: lo - start, i] = 0
            out[hi - start :, i] = 0
        else:
            out[:, i] = 0
    return out


def _lag_products_fft(
    A: np.ndarray, B: np.ndarray, lmin: int, lmax: int, chunk_bytes: int = 1 << 26
) -> np.ndarray:
    """``c[i][f, g] = Σ_t A_f[t − ℓ_i] B_g[t]`` for ``ℓ_i = lmin … lmax`` (A = 0 outside the
    epoch), by blocks of rows in the Fourier domain (overlap-save): per block, one FFT per column
    and a batched ``p × q`` product per frequency — about ``4·p·q`` flops per row instead of the
    ``2·n_lags·p·q`` of the direct products. Returns (n_lags, p, q) float64."""
    from scipy import fft as sfft

    n, p = A.shape
    q = B.shape[1]
    Lw = lmax - lmin + 1
    nfft = sfft.next_fast_len(4 * Lw + Lw - 1, real=True)
    blk = nfft - Lw + 1  # rows of B per block
    W = blk + Lw - 1  # rows of A per block
    ctype = np.complex64 if A.dtype == np.float32 and B.dtype == np.float32 else np.complex128
    n_blocks = -(-n // blk)
    front = max(lmax, 0)
    # one zero row at the end of each padded copy: the gathers below point the rows of a block
    # past its data at it, so each block comes out already zero-padded to nfft
    a_pad = np.zeros((front + n_blocks * blk + Lw + max(-lmin, 0) + 1, p), dtype=A.dtype)
    a_pad[front : front + n] = A
    b_pad = np.zeros((n_blocks * blk + 1, q), dtype=B.dtype)
    b_pad[:n] = B
    a_off = np.arange(nfft)
    a_off_zero = a_off >= W
    b_off_zero = a_off >= blk
    n_freq = nfft // 2 + 1
    acc = np.zeros((n_freq, p, q), dtype=np.complex128)
    per = max(1, int(chunk_bytes // (n_freq * (p + q) * np.dtype(ctype).itemsize)))
    for b0 in range(0, n_blocks, per):
        bs = np.arange(b0, min(n_blocks, b0 + per))
        starts = bs * blk - lmax + front
        ia = starts[:, None] + a_off[None, :]
        ia[:, a_off_zero] = len(a_pad) - 1
        fa = sfft.rfft(a_pad[ia], axis=1).astype(ctype, copy=False)  # (nb, F, p)
        ib = (bs * blk)[:, None] + a_off[None, :]
        ib[:, b_off_zero] = len(b_pad) - 1
        fb = sfft.rfft(b_pad[ib], axis=1).astype(ctype, copy=False)  # (nb, F, q)
        acc += np.matmul(fa.transpose(1, 2, 0), fb.conj().transpose(1, 0, 2))  # (F, p, q)
    r = sfft.irfft(acc, nfft, axis=0)  # r[m] = Σ_j v[j + m] u[j], m = lmax − ℓ
    return r[Lw - 1 :: -1][:Lw] if Lw > 0 else r[:0]


def lagged_stats(
    X: np.ndarray,
    y: np.ndarray,
    delays: np.ndarray,
    chunk_bytes: int = 1 << 22,
    method: str | None = None,
) -> _Stats:
    """Sufficient statistics of one epoch's zero-padded delayed design.

    The design is only ever built a block of rows at a time (``chunk_bytes`` per block): its
    Gram matrix comes from the Toeplitz lags ``Σ_t X[t − k] X[t]ᵀ`` (one
    ``(n_features·n_delays) × rows × n_features`` GEMM per block) and its cross-products with
    ``y`` from one ``(n_features·n_delays) × rows × n_outputs`` GEMM per block.

    Parameters
    ----------
    X : array (n_times, n_features)
    y : array (n_times, n_outputs)
    delays : int array (n_delays,), consecutive
    chunk_bytes : int
        Size of one block of the delayed design.
    method : {"gemm", "fft"}, optional
        Direct products (one GEMM per block) or the Fourier-domain products of
        :func:`_lag_products_fft`; default "fft" from 24 delays on.
    """
    n, p = X.shape
    L = len(delays)
    o = y.shape[1]
    if n <= int(np.max(np.abs(delays))):
        raise ShapeError(
            f"an epoch of {n} samples is shorter than the largest delay "
            f"({int(np.max(np.abs(delays)))} samples); shorten tmin/tmax or use longer epochs."
        )
    acc = np.float64
    rel = np.arange(L)
    dmin = int(delays[0])
    # One GEMM per block of rows u of the design with delays 0..L−1 (Z_rel):
    #   Z_rel[u]ᵀ X[u]          → the Toeplitz lags Σ_u X[u − k] X[u]ᵀ
    #   Z_rel[u]ᵀ y[u + d_min]  → Σ_t X[t − d_i] y[t] (t = u + d_min), the cross-products
    # (for d_min < 0 the rows u ≥ n, where y[u + d_min] still exists, are added after the loop)
    if method is None:
        method = "fft" if L >= 24 else "gemm"
    if method == "fft":
        lagx = _lag_products_fft(X, X, 0, L - 1)  # (L, p, p)
        cross_lf = _lag_products_fft(X, y, dmin, int(delays[-1])).reshape(L * p, o)
        lagx = lagx.reshape(L * p, p)
    else:
        step = max(256, int(chunk_bytes // (p * L * X.dtype.itemsize)))
        buf = np.empty((min(step, n), L, p), dtype=X.dtype)
        rhs = np.zeros((min(step, n), p + o), dtype=np.result_type(X, y))
        prod = np.zeros((L * p, p + o), dtype=acc)
        for start in range(0, n, step):
            stop = min(n, start + step)
            m = stop - start
            blk = _delayed_block(X, rel, start, stop, buf).reshape(m, -1)
            r = rhs[:m]
            r[:, :p] = X[start:stop]
            lo, hi = max(start + dmin, 0), min(stop + dmin, n)
            r[:, p:] = 0
            if hi > lo:
                r[lo - start - dmin : hi - start - dmin, p:] = y[lo:hi]
            prod += blk.T @ r
        if dmin < 0:
            blk = _delayed_block(X, rel, n, n - dmin).reshape(-dmin, -1)
            prod[:, p:] += blk.T @ y[n + dmin :]
        lagx = prod[:, :p]  # [(k, f), g] = Σ_t X_f[t − k] X_g[t]
        cross_lf = prod[:, p:]  # [(i, f), o] = Σ_t X_f[t − d_i] y_o[t]
    lagx = lagx.reshape(L, p, p)
    gram = np.empty((p, L, p, L), dtype=acc)
    for k in range(L):  # delays (i, i + k): Σ_t X[t − d_i] X[t − d_i − k]ᵀ = lagx[k]ᵀ
        q = lagx[k].T
        for i in range(L - k):
            gram[:, i, :, i + k] = q
            gram[:, i + k, :, i] = q.T
    cross = cross_lf.reshape(L, p, o).transpose(1, 0, 2).copy()
    dmax = int(delays[-1])
    if dmax > 0:  # rows n ≤ t < n + min(d, e) counted by the correlation but outside the epoch
        t = np.arange(n, n + dmax)[:, None] - delays[None, :]
        edge = _edge_rows(X, t, (t >= 0) & (t < n) & (np.arange(n, n + dmax)[:, None] < n + delays))
        flat = edge.reshape(edge.shape[0], -1)
        gram -= (flat.T @ flat).reshape(gram.shape)
    if dmin < 0:  # rows min(d, e) ≤ t < 0
        tt = np.arange(dmin, 0)[:, None]
        t = tt - delays[None, :]
        edge = _edge_rows(X, t, (t >= 0) & (t < n) & (tt >= delays[None, :]))
        flat = edge.reshape(edge.shape[0], -1)
        gram -= (flat.T @ flat).reshape(gram.shape)
    # sums over rows valid for delays d and e (for re-centring) via prefix sums
    lo, hi = _valid_range(n, np.maximum(delays[:, None], delays[None, :]))
    lo = np.maximum(lo, 0)
    hi = np.minimum(np.minimum(n, n + delays[:, None]), n + delays[None, :])
    count = np.maximum(hi - lo, 0).astype(acc)
    a = np.clip(lo - delays[:, None], 0, n)
    b = np.clip(hi - delays[:, None], 0, n)
    zsum = np.where(count[None] > 0, (_prefix(X, b) - _prefix(X, a)).transpose(2, 0, 1), 0.0)
    vlo, vhi = _valid_range(n, delays)
    ysum = y.sum(axis=0, dtype=acc)
    return _Stats(
        gram=gram,
        cross=cross,
        zsum=zsum,
        count=count,
        ysum_valid=_prefix(y, vhi) - _prefix(y, vlo),
        ysum=ysum,
        ysq=np.einsum("to,to->o", y, y, dtype=acc),
        n=n,
    )


def edge_stats(X: np.ndarray, y: np.ndarray, delays: np.ndarray) -> _Stats:
    """The share of :func:`lagged_stats` that comes from the rows the zero padding reaches (an
    output row ``t`` for which some delay ``d`` reads ``X[t − d]`` outside the epoch).
    Subtracted from the epoch's statistics it leaves the rows every delay covers, the rows
    ``ReceptiveField.score`` scores (MNE's ``valid_samples_``): ``dmax`` rows at the start and
    ``−dmin`` at the end, built explicitly (float64)."""
    n, p = X.shape
    L, o = len(delays), y.shape[1]
    lo, hi = max(int(delays[-1]), 0), min(n, n + int(delays[0]))
    rows = np.r_[0 : min(lo, n), max(hi, min(lo, n)) : n]
    t = rows[:, None] - delays[None, :]  # (m, L): the row of X each delay reads
    ok = (t >= 0) & (t < n)
    z = np.where(ok[:, :, None], X[np.clip(t, 0, n - 1)], 0.0).astype(np.float64)  # (m, L, p)
    flat = z.transpose(0, 2, 1).reshape(len(rows), p * L)  # columns (f, d), as gram's
    yr = y[rows].astype(np.float64)
    okf = ok.astype(np.float64)
    return _Stats(
        gram=(flat.T @ flat).reshape(p, L, p, L),
        cross=(flat.T @ yr).reshape(p, L, o),
        zsum=np.einsum("tdf,te->fde", z, okf),
        count=okf.T @ okf,
        ysum_valid=okf.T @ yr,
        ysum=yr.sum(0),
        ysq=np.einsum("to,to->o", yr, yr),
        n=len(rows),
    )


def _prefix(A: np.ndarray, idx: np.ndarray) -> np.ndarray:
    """``Σ A[:j]`` (float64) for every ``j`` in ``idx``, all within ``K`` of either end of ``A``:
    cumulative sums of the first and last ``K`` rows only, not of the whole array."""
    n = A.shape[0]
    idx = np.asarray(idx)
    K = int(min(n, max(np.max(np.minimum(idx, n - idx)), 0) + 1))
    head = np.concatenate([np.zeros((1, A.shape[1])), np.cumsum(A[:K], axis=0, dtype=np.float64)])
    total = A.sum(axis=0, dtype=np.float64)
    tail = np.cumsum(A[n - K :][::-1], axis=0, dtype=np.float64)[::-1]  # Σ A[j:] for j ≥ n − K
    tail = np.concatenate([tail, np.zeros((1, A.shape[1]))])
    near_start = idx <= K
    out = np.empty((*idx.shape, A.shape[1]))
    out[near_start] = head[idx[near_start]]
    far = ~near_start
    out[far] = total - tail[idx[far] - (n - K)]
    return out


def _edge_rows(X: np.ndarray, t: np.ndarray, keep: np.ndarray) -> np.ndarray:
    """(rows, p, L): X[t] where ``keep`` else 0."""
    out = X[np.clip(t, 0, X.shape[0] - 1)].astype(np.float64)  # (rows, L, p)
    out[~keep] = 0.0
    return out.transpose(0, 2, 1)


def _centred(s: _Stats, dx: np.ndarray, dy: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Gram (P, P) and cross (P, o) of the design built from ``X − dx`` and ``y − dy``."""
    p, L = s.gram.shape[:2]
    P = p * L
    if not np.any(dx) and not np.any(dy):
        return s.gram.reshape(P, P), s.cross.reshape(P, -1)
    # Z(X − dx) = Z(X) − dx ⊗ Z(1); Z(X)ᵀZ(1)[(f,d),(g,e)] = zsum[f,d,e]
    zx1 = s.zsum[:, :, None, :] * dx[None, None, :, None]  # (f,d,g,e): zsum[f,d,e]·dx[g]
    gram = (
        s.gram
        - zx1
        - zx1.transpose(2, 3, 0, 1)
        + dx[:, None, None, None] * dx[None, None, :, None] * s.count[None, :, None, :]
    ).reshape(P, P)
    zsum_d = np.einsum("fdd->fd", s.zsum)  # Σ of X_f over rows valid for d
    cnt_d = np.diag(s.count)
    cross = (
        s.cross
        - dx[:, None, None] * s.ysum_valid[None]
        - dy[None, None, :] * (zsum_d - dx[:, None] * cnt_d[None])[:, :, None]
    ).reshape(P, -1)
    return gram, cross
