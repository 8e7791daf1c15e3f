"""Bootstrap over subjects: every RDM stays whole, so the model–subject similarities are computed
once (each resample's values are column means of them) and only the ceilings are recomputed per
resample, batched: pooled RDMs as integer sums of ranks (Spearman, ρ_a, τ_a) or from the subjects'
Gram matrix (Pearson), chunks of resamples on threads with BLAS held to one thread.
"""

from __future__ import annotations

import os
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import numpy as np

from ..core._threads import one_blas_thread
from ._evaluate import (
    _FAST,
    _fast_ceiling,
    _group_rows,
    _noise_ceiling,
    _tau_a_parts,
    _transform,
)
from ._ranks import (
    Workspace,
    code_rows,
    kendall_ref,
    rank_integer_rows,
    rank_rows,
    tau_a_with,
)

_RANKED = ("spearman", "rho_a", "kendall_tau_a")
_CHUNK = 8  # resamples ranked together: their pooled RDMs stay in cache


def _n_jobs(n_jobs: int | None) -> int:
    return max(1, min(4, os.cpu_count() or 1) if n_jobs is None else n_jobs)


def _ranked_subject_ceilings(
    d: np.ndarray,
    subj_idx: np.ndarray,
    method: str,
    n_jobs: int | None = None,
    ranks: np.ndarray | None = None,
) -> np.ndarray:
    """Lower/upper ceilings of every subject resample for the rank-based methods, batched.

    A resample is a count per subject ``c``. Twice the average-tie ranks are integers ``S``, so
    every pooled RDM the ceilings need is an exact integer vector with the order of the pooled
    ranks: ``c @ S`` for all subjects and ``c @ S − c_u S_u`` with subject ``u`` left out. Only the
    distinct subjects of a resample are compared (copies of a subject give identical values and
    count once, as in :func:`rdm_noise_ceiling`). Spearman and ρ_a rank all pooled RDMs of a chunk
    of resamples in one call; τ_a sorts each subject once and counts discordant pairs per pool.
    Chunks of resamples run on ``n_jobs`` threads (the sorts and the compiled Fenwick count
    release the GIL); each chunk writes its own rows of the result.
    """
    n_boot, n_subj = subj_idx.shape
    S = 2.0 * rank_rows(d) if ranks is None else ranks  # twice the ranks, if already known
    m = S.shape[1]
    counts = np.zeros((n_boot, n_subj))
    np.add.at(counts, (np.repeat(np.arange(n_boot), n_subj), subj_idx.ravel()), 1)
    out = np.full((n_boot, 2), np.nan)
    if method == "kendall_tau_a":
        refs = [kendall_ref(v) for v in S]
    else:  # centred reference ranks: a dot product with them ignores the pool ranks' mean
        centred = S - S.mean(1, keepdims=True)
        ref_norm = np.sqrt((centred * centred).sum(1))

    local = threading.local()  # one Workspace per thread: buffers reused from chunk to chunk

    def chunk(lo: int) -> None:
        ws = getattr(local, "ws", None)
        if ws is None:
            ws = local.ws = Workspace()
        c = counts[lo : lo + _CHUNK]
        k_idx, u_idx = np.nonzero(c)
        n_c = len(c)
        pools = ws.get("pools", (n_c + len(k_idx), m), np.float64)
        totals = pools[:n_c]
        np.matmul(c, S, out=totals)  # exact: integers far below 2**53
        loo_pools = pools[n_c:]
        np.take(S, u_idx, axis=0, out=loo_pools)
        loo_pools *= c[k_idx, u_idx][:, None]
        np.subtract(totals[k_idx], loo_pools, out=loo_pools)
        loo = np.arange(n_c, len(pools))
        if method == "kendall_tau_a":
            codes, ties = code_rows(pools, ws)
            high = np.array(
                [tau_a_with(refs[u], codes[k], ties[k]) for k, u in zip(k_idx, u_idx, strict=True)]
            )
            low = np.array(
                [tau_a_with(refs[u], codes[j], ties[j]) for j, u in zip(loo, u_idx, strict=True)]
            )
        else:
            ranks = rank_integer_rows(pools, ws)
            dots = ranks @ centred.T  # (n_pools, n_subjects)
            if method == "spearman":  # Σr² − m·mean², the mean of ranks being (m+1)/2
                sq = np.einsum("ij,ij->i", ranks, ranks) - m * ((m + 1) / 2) ** 2
                with np.errstate(invalid="ignore", divide="ignore"):  # single-subject resamples
                    dots /= np.sqrt(sq)[:, None] * ref_norm[None, :]
            else:  # ρ_a = 12/(m³−m) Σ centred ranks · centred ranks, S being twice the ranks
                dots *= 6.0 / (m**3 - m)
            high, low = dots[k_idx, u_idx], dots[loo, u_idx]
        n_distinct = np.bincount(k_idx, minlength=len(c))
        ok = n_distinct >= 2
        rows = np.arange(lo, lo + len(c))[ok]
        out[rows, 0] = (np.bincount(k_idx, weights=low, minlength=len(c)) / n_distinct)[ok]
        out[rows, 1] = (np.bincount(k_idx, weights=high, minlength=len(c)) / n_distinct)[ok]

    starts = range(0, n_boot, _CHUNK)
    workers = _n_jobs(n_jobs)
    # BLAS on one thread while resamples run: their products are small (pools × pairs by
    # subjects), and OpenBLAS waking its threads for each costs more than the product — several
    # times the whole ceiling computation on a busy machine. Parallelism comes from the chunks.
    with one_blas_thread():
        if workers == 1 or len(starts) == 1:
            for lo in starts:
                chunk(lo)
        else:
            with ThreadPoolExecutor(workers) as pool:
                list(pool.map(chunk, starts))
    return out


def _pearson_subject_ceilings(zd: np.ndarray, subj_idx: np.ndarray) -> np.ndarray:
    """Lower/upper Pearson ceilings of every subject resample from the subjects' Gram matrix.

    The pooled RDM of z-scored (centred, unit-norm) subject vectors ``S`` with counts ``w`` is
    ``wᵀS``, itself centred, so its correlation with subject ``u`` is ``(wᵀG)_u / √(wᵀGw)`` with
    ``G = S Sᵀ``; leaving ``u`` out subtracts ``c_u`` from ``w``. Every ceiling is then a few
    operations on ``n_subjects × n_subjects`` numbers, whatever the number of pairs.
    """
    n_boot, n_subj = subj_idx.shape
    counts = np.zeros((n_boot, n_subj))
    np.add.at(counts, (np.repeat(np.arange(n_boot), n_subj), subj_idx.ravel()), 1)
    gram = zd @ zd.T
    cg = counts @ gram  # (wᵀG)_u: dot of the pool of all drawn subjects with each subject
    sq_all = np.einsum("ij,ij->i", cg, counts)
    diag = np.diag(gram)[None, :]
    loo_dot = cg - counts * diag
    loo_sq = sq_all[:, None] - 2 * counts * cg + counts**2 * diag
    drawn = counts > 0
    n_distinct = drawn.sum(1)
    with np.errstate(invalid="ignore", divide="ignore"):
        high = np.where(drawn, cg / np.sqrt(sq_all)[:, None], 0.0).sum(1) / n_distinct
        low = np.where(drawn, loo_dot / np.sqrt(np.maximum(loo_sq, 0)), 0.0).sum(1) / n_distinct
    out = np.column_stack([low, high])
    out[n_distinct < 2] = np.nan
    return out


def _subject_bootstrap(
    fn: Any,
    m: np.ndarray,
    d: np.ndarray,
    method: str,
    subj_idx: np.ndarray,
    n_jobs: int | None = None,
) -> tuple[np.ndarray, float, float, np.ndarray, np.ndarray]:
    """Subject resampling leaves every RDM whole: model-subject similarities are computed once
    (the point estimate and every resample are column means of them), and each resample only
    recomputes the pooled RDMs of its ceiling.

    Returns the values, lower and upper ceilings of the data (as :func:`_evaluate`), the samples
    ``(n_boot, n_models)`` and the ceiling samples ``(n_boot, 2)``. Every product here is small
    (RDMs × RDMs, resamples × subjects): BLAS runs them on one thread (see
    :func:`_ranked_subject_ceilings`)."""
    with one_blas_thread():
        return _subject_bootstrap_body(fn, m, d, method, subj_idx, n_jobs)


def _subject_bootstrap_body(
    fn: Any,
    m: np.ndarray,
    d: np.ndarray,
    method: str,
    subj_idx: np.ndarray,
    n_jobs: int | None,
) -> tuple[np.ndarray, float, float, np.ndarray, np.ndarray]:
    n_boot = subj_idx.shape[0]
    parts = _group_rows(d.shape[0], None)
    if method in _FAST:  # ranked (Spearman) and z-scored once, for the values and the ceilings
        src, z = _transform(np.vstack([m, d]), method)
        sim = z[: len(m)] @ z[len(m) :].T
        src_d, zd = src[len(m) :], z[len(m) :]
        low, high = _fast_ceiling(src_d, zd, parts, method) if len(parts) > 1 else (np.nan,) * 2
    elif method == "kendall_tau_a":  # ranked once: τ_a is an integer count, equal on the ranks
        ranked = rank_rows(np.vstack([m, d]))
        sim, low, high = _tau_a_parts(ranked[: len(m)], ranked[len(m) :], None)
        src_d = ranked[len(m) :]
    else:
        sim = fn(m, d)
        low, high = _noise_ceiling(d, method, None) if len(parts) > 1 else (np.nan,) * 2
    values = sim.mean(1)
    samples = sim[:, subj_idx].mean(2).T
    if method in _RANKED:
        ranks = 2.0 * src_d if method in ("spearman", "kendall_tau_a") else None
        ceil = _ranked_subject_ceilings(d, subj_idx, method, n_jobs, ranks)
    elif method == "pearson":
        ceil = _pearson_subject_ceilings(zd, subj_idx)
    else:
        ceil = np.full((n_boot, 2), np.nan)
        for k, idx in enumerate(subj_idx):
            parts = _group_rows(len(idx), idx)
            if len(parts) >= 2:
                ceil[k] = _noise_ceiling(d[idx], method, idx)
    return values, low, high, samples, ceil
