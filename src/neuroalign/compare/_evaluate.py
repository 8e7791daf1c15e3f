"""One sample's model–data similarities and noise ceilings: what every resample of
:func:`._inference.bootstrap_rsa` evaluates (and :func:`rdm_noise_ceiling`).

- :func:`_pairs`: the pairs of a stimulus resample (self-pairs of a stimulus drawn twice left out);
- :func:`_evaluate`: the similarity of every model with every data RDM and the ceilings;
- the fast paths that rank or z-score once (:func:`_transform`, :func:`_fast_ceiling`), the ranks
  of a stimulus resample without sorting (:class:`_ResampleRanks`), τ_a by integer counts
  (:func:`_tau_a_parts`).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..core import RDMs
from ..core._registry import lookup
from ..core._validation import check_array
from ..core.exceptions import ValidationError
from ._ranks import (
    code_rows,
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
    pool_rdms,
)
from ._subjects import pool_subjects

__all__ = ["rdm_noise_ceiling"]


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
    d = np.asarray(data)
    if d.ndim != 2:
        raise ValidationError(
            f"data must be RDMs or a 2-D array (n_rdms, n_pairs); got shape {d.shape}."
        )
    d = check_array(d, "data", dtype=np.float64)  # NaN pairs: an error naming them
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
