"""RSA inference: bootstrap over stimuli and/or subjects, and RDM noise ceilings.

Resampling indices come from :func:`bootstrap_indices` and can be passed in, so that another
implementation can be fed the same resamples. When stimuli are resampled with replacement, a
stimulus drawn twice would create a pair with itself; such pairs are left out of that sample's
comparison (as rsatoolbox does), every other pair keeps its duplicated entries.
"""

from __future__ import annotations

import numbers
import os
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Literal

import numpy as np

from ..core import RDMs, Result, make_table
from ..core._progress import track
from ..core._registry import lookup
from ..core.exceptions import ValidationError
from ._ranks import (
    Workspace,
    code_rows,
    kendall_ref,
    kendall_ref_codes,
    rank_integer_rows,
    rank_rows,
    tau_a_with,
)
from ._similarity import (
    SIMILARITIES,
    WHITENED,
    Pairs,
    _zscore_rows,
    check_same_stimuli,
    pool_rdms,
)
from ._subjects import pool_subjects, rdm_labels, resolve_over, roi_label

__all__ = ["bootstrap_indices", "bootstrap_rsa", "check_n_boot", "rdm_noise_ceiling"]


def bootstrap_indices(n: int, n_boot: int, seed: int = 0) -> np.ndarray:
    """``(n_boot, n)`` indices drawn with replacement (the one place resamples are generated)."""
    return np.random.default_rng(seed).integers(0, n, size=(n_boot, n))


def _pairs(
    sample: np.ndarray, n: int, triu: tuple[np.ndarray, np.ndarray] | None = None
) -> tuple[np.ndarray, Pairs]:
    """Condensed indices of the pairs of a stimulus resample, self-pairs excluded, and the
    positions within the resample of each kept pair (what whitened comparisons need)."""
    i, j = np.triu_indices(len(sample), k=1) if triu is None else triu
    a, b = sample[i], sample[j]
    keep = a != b
    a, b = np.minimum(a[keep], b[keep]), np.maximum(a[keep], b[keep])
    return n * a - a * (a + 1) // 2 + b - a - 1, (i[keep], j[keep], len(sample))


def _group_rows(n_rows: int, groups: np.ndarray | None) -> list[np.ndarray]:
    g = np.arange(n_rows) if groups is None else np.asarray(groups)
    return [np.flatnonzero(g == u) for u in np.unique(g)]


def rdm_noise_ceiling(
    data: RDMs | np.ndarray,
    method: str = "spearman",
    groups: np.ndarray | None = None,
    subject: str | None = "subject",
) -> tuple[float, float]:
    """Lower and upper noise ceiling of the mean similarity with subjects' RDMs.

    Upper bound: mean over subjects of the similarity of each subject's RDM with the pooled RDM of
    all subjects (the pooled RDM is the best any model can do, and it has seen the subject).
    Lower bound: the same with the pooled RDM of the other subjects (leave one out). This is
    rsatoolbox's ``boot_noise_ceiling``.

    Parameters
    ----------
    data : RDMs or array (n_rdms, n_pairs)
        Brain RDMs. An :class:`~neuroalign.RDMs` has the RDMs of each subject (its ``subject``
        descriptor) averaged first, as :func:`bootstrap_rsa` does; array rows are subjects.
    method : str
        A key of ``SIMILARITIES``; pooling follows the method (see ``pool_rdms``).
    groups : array (n_rdms,), optional
        For arrays: the subject of each row. Rows of one subject (e.g. the copies a subject
        bootstrap draws) are left out together and count once; by default every row is its own
        subject.
    subject : str or None
        For ``RDMs``: the descriptor naming subjects (``None``: every RDM is a subject).

    Examples
    --------
    >>> from neuroalign.data import load_kriegeskorte92
    >>> low, high = rdm_noise_ceiling(load_kriegeskorte92().human_it)  # 4 subjects x 2 sessions
    >>> bool(0 < low < high < 1)
    True
    """
    if isinstance(data, RDMs):
        if groups is not None:
            raise ValidationError(
                "groups= applies to arrays; for RDMs name the subject descriptor with subject=."
            )
        data = pool_subjects(data, subject).rdms.dissimilarities
    d = np.asarray(data, dtype=np.float64)
    if d.ndim != 2:
        raise ValidationError(
            f"data must be RDMs or a 2-D array (n_rdms, n_pairs); got shape {d.shape}."
        )
    return _noise_ceiling(d, method, groups)


def _noise_ceiling(
    data: np.ndarray, method: str, groups: np.ndarray | None, pairs: Pairs | None = None
) -> tuple[float, float]:
    fn = lookup(SIMILARITIES, method, "RDM similarity")
    parts = _group_rows(data.shape[0], groups)
    if len(parts) < 2:
        raise ValidationError(f"a noise ceiling needs RDMs from >= 2 subjects; got {len(parts)}.")
    kw = {"pairs": pairs} if method in WHITENED else {}
    pooled_all = pool_rdms(data, method, pairs)[None]
    upper = np.mean([fn(data[rows], pooled_all, **kw).mean() for rows in parts])
    lower = np.mean(
        [
            fn(
                data[rows], pool_rdms(np.delete(data, rows, axis=0), method, pairs)[None], **kw
            ).mean()
            for rows in parts
        ]
    )
    return float(lower), float(upper)


_FAST = ("pearson", "spearman")


def _transform(stack: np.ndarray, method: str) -> tuple[np.ndarray, np.ndarray]:
    """(vectors pooled by the method, z-scored vectors): ranks for Spearman, z-scores for Pearson."""
    src = rank_rows(stack) if method == "spearman" else stack
    z = _zscore_rows(src)
    return (src if method == "spearman" else z), z


def _fast_ceiling(
    src: np.ndarray, zd: np.ndarray, parts: list[np.ndarray], method: str
) -> tuple[float, float]:
    """Lower/upper ceiling from pre-transformed data rows; one running sum gives every pooled RDM."""
    total = src.sum(0)
    n = src.shape[0]
    sums = np.vstack([total] + [total - src[rows].sum(0) for rows in parts])
    if method == "spearman":  # twice the summed half-integer ranks are exact small integers,
        # ordered and tied as the averages are: the integer ranker gives rank_rows(averages)
        pools = rank_integer_rows(2.0 * sums)
    else:
        pools = sums / np.array([n] + [n - len(rows) for rows in parts], dtype=np.float64)[:, None]
    zp = _zscore_rows(pools)
    to_all = zd @ zp[0]
    high = float(np.mean([to_all[rows].mean() for rows in parts]))
    low = float(np.mean([(zd[rows] @ zp[1 + g]).mean() for g, rows in enumerate(parts)]))
    return low, high


def _evaluate(
    fn: Any,
    models: np.ndarray,
    data: np.ndarray,
    method: str,
    groups: np.ndarray | None = None,
    pairs: Pairs | None = None,
) -> tuple[np.ndarray, float, float]:
    """Mean similarity of each model with the data RDMs, and the lower/upper noise ceiling.

    Pearson and Spearman take a fast path: every vector is ranked (Spearman) and z-scored once,
    the leave-one-subject-out pooled RDMs come from one running sum, and all similarities are
    products of z-scored vectors. Other methods go through ``fn`` and :func:`rdm_noise_ceiling`.
    """
    parts = _group_rows(data.shape[0], groups)
    if method not in _FAST:
        values = (fn(models, data, pairs=pairs) if method in WHITENED else fn(models, data)).mean(1)
        if len(parts) < 2:
            return values, np.nan, np.nan
        return (values, *_noise_ceiling(data, method, groups, pairs))
    src, z = _transform(np.vstack([models, data]), method)
    zm, zd = z[: len(models)], z[len(models) :]
    values = (zm @ zd.T).mean(1)
    if len(parts) < 2:
        return values, np.nan, np.nan
    return (values, *_fast_ceiling(src[len(models) :], zd, parts, method))


class _ResampleRanks:
    """Average-tie ranks of fixed float rows restricted to a resample of their columns (with
    repeats), without sorting per resample.

    Each row is sorted once. A resample is a count per column ``w``; in sorted order the entries
    below a run of equal values weigh ``Σ w`` before it, so every entry of the run gets rank
    ``W_less + (W_run + 1) / 2`` — what ranking the resampled vector gives, exactly (sums of
    integer counts and half-integers).
    """

    def __init__(self, x: np.ndarray) -> None:
        rows, m = x.shape
        self.order = np.argsort(x, axis=1)
        xs = np.take_along_axis(x, self.order, axis=1)
        self.inverse = np.empty_like(self.order)
        np.put_along_axis(self.inverse, self.order, np.arange(m), axis=1)
        new = np.ones((rows, m), dtype=bool)
        new[:, 1:] = xs[:, 1:] != xs[:, :-1]
        self.tied = not new.all()
        if self.tied:  # run start and end (inclusive) of every sorted position
            idx = np.broadcast_to(np.arange(m), (rows, m))
            self.start = np.maximum.accumulate(np.where(new, idx, 0), axis=1)
            last = np.ones((rows, m), dtype=bool)
            last[:, :-1] = new[:, 1:]
            self.end = np.minimum.accumulate(np.where(last, idx, m - 1)[:, ::-1], axis=1)[:, ::-1]

    def __call__(self, cols: np.ndarray) -> np.ndarray:
        """Ranks ``(rows, len(cols))`` of ``x[:, cols]``."""
        w = np.bincount(cols, minlength=self.order.shape[1]).astype(np.float64)
        ws = w[self.order]
        below = np.cumsum(ws, axis=1)
        below -= ws
        if self.tied:
            lo = np.take_along_axis(below, self.start, axis=1)
            run = np.take_along_axis(below + ws, self.end, axis=1) - lo
            ranks = lo + (run + 1) * 0.5
        else:
            ranks = below + (ws + 1) * 0.5
        return np.take_along_axis(ranks, self.inverse[:, cols], axis=1)


def _evaluate_ranked(
    rm: np.ndarray, rd: np.ndarray, groups: np.ndarray | None
) -> tuple[np.ndarray, float, float]:
    """:func:`_evaluate` for Spearman from the ranks of the model and data vectors."""
    z = _zscore_rows(np.vstack([rm, rd]))
    zm, zd = z[: len(rm)], z[len(rm) :]
    values = (zm @ zd.T).mean(1)
    parts = _group_rows(rd.shape[0], groups)
    if len(parts) < 2:
        return values, np.nan, np.nan
    return (values, *_fast_ceiling(rd, zd, parts, "spearman"))


def _evaluate_tau_a(
    rm: np.ndarray, rd: np.ndarray, groups: np.ndarray | None
) -> tuple[np.ndarray, float, float]:
    """:func:`_evaluate` for τ_a from the ranks of the model and data vectors (see
    :func:`_tau_a_parts`)."""
    sim, low, high = _tau_a_parts(rm, rd, groups)
    return sim.mean(1), low, high


def _tau_a_parts(
    rm: np.ndarray, rd: np.ndarray, groups: np.ndarray | None
) -> tuple[np.ndarray, float, float]:
    """τ_a of every model vector with every data vector ``(n_models, n_data)`` and the lower and
    upper noise ceilings, from the ranks of the vectors.

    Twice the ranks, and twice the summed ranks of every pooled RDM the ceilings need, are
    integers with the order and ties of the vectors (and of the pooled averages), so one batched
    :func:`code_rows` codes them all; τ_a is an integer count over ``n₀``, so the values equal
    those of coding each vector on its own."""
    parts = _group_rows(rd.shape[0], groups)
    total = rd.sum(0)
    stack = [rm, rd]
    if len(parts) >= 2:
        stack += [total[None], np.vstack([total - rd[rows].sum(0) for rows in parts])]
    codes, ties = code_rows(2.0 * np.vstack(stack))
    n_m, n_d = len(rm), len(rd)
    refs_m = [kendall_ref_codes(codes[i], int(ties[i])) for i in range(n_m)]
    data_codes = [(codes[n_m + j], int(ties[n_m + j])) for j in range(n_d)]
    sim = np.array([[tau_a_with(r, c, t) for c, t in data_codes] for r in refs_m])
    if len(parts) < 2:
        return sim, np.nan, np.nan
    base = n_m + n_d
    high, low = [], []
    for g, rows in enumerate(parts):  # rows of one group are copies of one subject
        ref = kendall_ref_codes(codes[n_m + rows[0]], int(ties[n_m + rows[0]]))
        high.append(tau_a_with(ref, codes[base], int(ties[base])))
        low.append(tau_a_with(ref, codes[base + 1 + g], int(ties[base + 1 + g])))
    return sim, float(np.mean(low)), float(np.mean(high))


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
    with _one_blas_thread():
        if workers == 1 or len(starts) == 1:
            for lo in starts:
                chunk(lo)
        else:
            with ThreadPoolExecutor(workers) as pool:
                list(pool.map(chunk, starts))
    return out


_BLAS: list[Any] = []


def _one_blas_thread() -> Any:
    """BLAS held to one thread while resamples run: their products are small (pools × pairs by
    subjects), and OpenBLAS waking its threads for each costs more than the product — several
    times the whole ceiling computation on a busy machine. Parallelism comes from the chunks."""
    if not _BLAS:
        from threadpoolctl import ThreadpoolController

        _BLAS.append(ThreadpoolController())
    return _BLAS[0].limit(limits=1, user_api="blas")


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
    :func:`_one_blas_thread`)."""
    with _one_blas_thread():
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


def check_n_boot(n_boot: Any, name: str = "n_boot") -> int:
    """``n_boot`` as an int >= 2, or a :class:`ValidationError` saying what works."""
    if isinstance(n_boot, bool) or not isinstance(n_boot, numbers.Integral) or n_boot < 2:
        raise ValidationError(
            f"{name} must be an integer >= 2 (bootstrap resamples; 1000 or more for 95% "
            f"intervals); got {n_boot!r}."
        )
    return int(n_boot)


def bootstrap_rsa(
    models: RDMs,
    data: RDMs,
    method: str = "spearman",
    n_boot: int = 1000,
    over: Literal["auto", "stimuli", "subjects", "both"] = "auto",
    ci: float = 0.95,
    seed: int = 0,
    indices: np.ndarray | None = None,
    n_jobs: int | None = None,
    subject: str | None = "subject",
    quiet: bool = False,
) -> Result:
    """Similarity of each model RDM with brain RDMs, with bootstrap intervals and noise ceilings.

    The RDMs of each subject are averaged first (sessions pooled within subject, read from the
    ``subject`` descriptor), so the subject is the unit of inference; ``value`` is the mean over
    subjects of the similarity of each subject's RDM with the model RDM.

    Parameters
    ----------
    models : RDMs
        Candidate RDMs (e.g. one per layer, from :func:`compute_rdms`).
    data : RDMs
        Brain RDMs: one or more per subject.
    method : str
        A key of ``SIMILARITIES``.
    n_boot : int
        Bootstrap resamples (>= 2).
    over : {"auto", "stimuli", "subjects", "both"}
        What is resampled. ``"auto"``: subjects when there are >= 3 (intervals generalise to new
        subjects), otherwise stimuli, with a warning and the reason in the table's
        ``resampling_note``. ``"both"`` resamples subjects and stimuli independently. Asking to
        resample subjects with one subject is an error.
    ci : float
        Coverage of the percentile interval, in (0, 1).
    seed : int
    indices : array (n_boot, n_stimuli), optional
        Stimulus resamples to use instead of drawing new ones (``over`` "stimuli", "both" or
        "auto", which then means "stimuli").
    n_jobs : int, optional
        Threads for the subject-bootstrap ceilings of rank methods (default: up to 4 cores).
    subject : str or None
        Descriptor column of ``data`` naming each RDM's subject; ``None`` (or a missing column)
        makes every RDM its own subject.
    quiet : bool
        No progress bar.

    Returns
    -------
    Result
        ``kind="rsa.bootstrap"``; one row per model RDM with ``value``, ``ci_low``/``ci_high``
        (percentile interval), ``se`` (the SD of the bootstrap distribution, ddof=1 — not
        rsatoolbox's ``get_sem``, which also multiplies the variance by n/(n−1) and corrects
        dual bootstraps), ``ceiling_low``/``ceiling_high``, ``n`` (subjects), ``resampled`` and
        the extras ``n_boot``, ``group_by``, ``n_rdms`` (data RDMs before pooling) and
        ``resampling_note``. Arrays: ``samples`` (n_boot, n_models), ``ceiling_samples``
        (n_boot, 2: lower, upper), ``stimulus_indices`` and/or ``subject_indices`` (the resamples,
        to feed another call or tool the same draws).

    Examples
    --------
    >>> from neuroalign.data import load_kriegeskorte92
    >>> k = load_kriegeskorte92()
    >>> r = bootstrap_rsa(k.models, k.human_it, n_boot=50, quiet=True)
    >>> r.kind, int(r.table["n"].iloc[0]), r.table["resampled"].iloc[0]
    ('rsa.bootstrap', 4, 'subjects')
    """
    n_boot = check_n_boot(n_boot)
    if not 0.0 < float(ci) < 1.0:
        raise ValidationError(f"ci must be in (0, 1), e.g. 0.95; got {ci!r}.")
    fn = lookup(SIMILARITIES, method, "RDM similarity")
    for name, value in (("models", models), ("data", data)):
        if not isinstance(value, RDMs):
            raise ValidationError(
                f"{name} must be an RDMs container; got {type(value).__name__} "
                "(wrap arrays as RDMs(array, stimulus_ids))."
            )
    check_same_stimuli(models, data)
    subjects = pool_subjects(data, subject)
    resampled, note = resolve_over(over, subjects.n_subjects, indices is not None)
    n = models.n_stimuli
    m = np.asarray(models.dissimilarities, dtype=np.float64)
    d = np.asarray(subjects.rdms.dissimilarities, dtype=np.float64)
    stim_idx: np.ndarray | None = None
    if indices is not None:
        if resampled == "subjects":
            raise ValidationError(
                "indices= are stimulus resamples; use over='stimuli' or 'both' with them."
            )
        stim_idx = np.asarray(indices)
        if (
            stim_idx.ndim != 2
            or stim_idx.shape[1] != n
            or not np.issubdtype(stim_idx.dtype, np.integer)
            or (stim_idx.size and (stim_idx.min() < 0 or stim_idx.max() >= n))
        ):
            raise ValidationError(
                f"indices must be integers in [0, {n}) of shape (n_boot, {n}); got {stim_idx.dtype} "
                f"{stim_idx.shape} (see bootstrap_indices)."
            )
        n_boot = check_n_boot(stim_idx.shape[0], "indices.shape[0]")
    elif resampled != "subjects":
        stim_idx = bootstrap_indices(n, n_boot, seed)
    subj_idx = bootstrap_indices(d.shape[0], n_boot, seed + 1) if resampled != "stimuli" else None
    if resampled == "subjects":
        assert subj_idx is not None
        values, low, high, samples, ceil = _subject_bootstrap(fn, m, d, method, subj_idx, n_jobs)
    else:
        values, low, high = _evaluate(fn, m, d, method)
        samples = np.empty((n_boot, m.shape[0]))
        ceil = np.full((n_boot, 2), np.nan)
    loop = range(n_boot if resampled != "subjects" else 0)
    ranker = (
        _ResampleRanks(np.vstack([m, d]))
        if method in ("spearman", "kendall_tau_a") and len(loop)
        else None
    )
    triu = np.triu_indices(n, k=1)
    for k in track(
        loop, len(loop), f"bootstrap RSA ({resampled})", quiet or resampled == "subjects"
    ):
        assert stim_idx is not None
        cols, pairs = _pairs(stim_idx[k], n, triu)
        groups = subj_idx[k] if subj_idx is not None else None
        if ranker is not None:  # ranks of the resampled vectors without sorting them
            ranks = ranker(cols)
            rm, rd = ranks[: len(m)], ranks[len(m) :]
            rd = rd[subj_idx[k]] if subj_idx is not None else rd
            evaluate = _evaluate_tau_a if method == "kendall_tau_a" else _evaluate_ranked
            samples[k], ceil[k, 0], ceil[k, 1] = evaluate(rm, rd, groups)
            continue
        dk = d[subj_idx[k]] if subj_idx is not None else d
        mk, dk = m[:, cols], dk[:, cols]
        samples[k], ceil[k, 0], ceil[k, 1] = _evaluate(fn, mk, dk, method, groups, pairs)
    alpha = (1 - ci) / 2
    if np.isfinite(samples).all():  # the same quantiles as nanquantile, one call for all columns
        ci_low, ci_high = np.quantile(samples, [alpha, 1 - alpha], axis=0)
    else:
        with np.errstate(invalid="ignore"):
            ci_low, ci_high = np.nanquantile(samples, [alpha, 1 - alpha], axis=0)
    with np.errstate(invalid="ignore"):
        se = np.nanstd(samples, axis=0, ddof=1)
    table = make_table(
        rdm_labels(models),
        value=values,
        ci_low=ci_low,
        ci_high=ci_high,
        se=se,
        ceiling_low=low,
        ceiling_high=high,
        analysis="rsa",
        roi=roi_label(data, roi_label(models)),
        statistic="similarity",
        method=method,
        metric=data.metric,
        aggregate="mean",
        split="all",
        n=subjects.n_subjects,
        resampled=resampled,
        n_boot=n_boot,
        group_by=subjects.group_by,
        n_rdms=subjects.n_rdms,
        resampling_note=note,
    )
    arrays = {"samples": samples, "ceiling_samples": ceil}
    if stim_idx is not None:
        arrays["stimulus_indices"] = stim_idx
    if subj_idx is not None:
        arrays["subject_indices"] = subj_idx
    params = {
        "method": method,
        "n_boot": n_boot,
        "over": resampled,
        "ci": ci,
        "seed": seed,
        "group_by": subjects.group_by,
        "subjects": [str(v) for v in subjects.rdms.descriptors["subject"]],  # type: ignore[index]
    }
    return Result(table, "rsa.bootstrap", arrays, params)
