"""``compare_rdms``: similarity between RDM vectors, one-to-many and many-to-many.

Every method maps two stacks of condensed RDM vectors ``a (n_a, n_pairs)`` and
``b (n_b, n_pairs)`` to an ``(n_a, n_b)`` matrix. Rank-based methods rank each vector (ties get
their average rank) and then correlate, so the whole comparison is one matrix product.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..core import RDMs
from ..core._registry import lookup, register
from ..core._validation import check_array
from ..core.exceptions import ShapeError, StimulusMismatchError, ValidationError

__all__ = ["SIMILARITIES", "compare_rdms", "pool_rdms"]

SIMILARITIES: dict[str, Any] = {}


def _as_stack(x: Any, name: str) -> np.ndarray:
    if isinstance(x, RDMs):
        return x.dissimilarities
    arr = check_array(x, name, ndim=(1, 2), dtype=np.float64)
    return arr[None] if arr.ndim == 1 else arr


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


def check_same_stimuli(a: Any, b: Any) -> None:
    """Raise when two RDMs containers are over different stimuli or orders (plain arrays pass)."""
    if (
        isinstance(a, RDMs)
        and isinstance(b, RDMs)
        and not np.array_equal(a.stimulus_ids, b.stimulus_ids)
    ):
        raise StimulusMismatchError(
            "the two sets of RDMs are over different stimuli or orders; call neuroalign.align first."
        )


def _zscore_rows(x: np.ndarray) -> np.ndarray:
    x = x - x.mean(1, keepdims=True)
    norm = np.sqrt((x * x).sum(1, keepdims=True))
    if (norm == 0).any():
        raise ValidationError(
            "an RDM is constant (all dissimilarities equal); its correlation is undefined."
        )
    return x / norm


@register(SIMILARITIES)
def pearson(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Pearson correlation of the dissimilarities."""
    return _zscore_rows(a) @ _zscore_rows(b).T


@register(SIMILARITIES)
def spearman(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Spearman rank correlation (Pearson correlation of average-tie ranks)."""
    return pearson(rank_rows(a), rank_rows(b))


@register(SIMILARITIES)
def cosine(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Cosine similarity of the dissimilarity vectors (no centring)."""
    na = np.sqrt((a * a).sum(1, keepdims=True))
    nb = np.sqrt((b * b).sum(1, keepdims=True))
    if (na == 0).any() or (nb == 0).any():
        raise ValidationError("an RDM is all zeros; its cosine similarity is undefined.")
    return (a / na) @ (b / nb).T


@register(SIMILARITIES)
def kendall_tau_a(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Kendall's τ_a: (concordant − discordant pairs) / all pairs; tied pairs count as neither.

    O(n log n) per pair of RDMs: scipy's τ_b gives ``n_c − n_d`` once rescaled by its tie
    correction ``sqrt((n₀ − n₁)(n₀ − n₂))``, and τ_a divides it by ``n₀ = m(m−1)/2`` instead
    (Nili et al. 2014 recommend τ_a for models that predict ties).
    """
    from scipy.stats import kendalltau

    m = a.shape[1]
    n0 = m * (m - 1) / 2

    def tie_pairs(v: np.ndarray) -> float:
        _, counts = np.unique(v, return_counts=True)
        return float((counts * (counts - 1) / 2).sum())

    ties_a = [tie_pairs(v) for v in a]
    ties_b = [tie_pairs(v) for v in b]
    out = np.zeros((a.shape[0], b.shape[0]))
    for i in range(a.shape[0]):
        for j in range(b.shape[0]):
            if ties_a[i] == n0 or ties_b[j] == n0:
                out[i, j] = 0.0  # a constant vector has no concordant or discordant pair
                continue
            tau_b = kendalltau(a[i], b[j]).statistic
            out[i, j] = tau_b * np.sqrt((n0 - ties_a[i]) * (n0 - ties_b[j])) / n0
    return out


@register(SIMILARITIES)
def rho_a(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Spearman's ρ_a: ``12 / (m³ − m) · Σ (rank_a − mean)(rank_b − mean)`` (no tie correction)."""
    m = a.shape[1]
    ra = rank_rows(a)
    rb = rank_rows(b)
    ra -= ra.mean(1, keepdims=True)
    rb -= rb.mean(1, keepdims=True)
    return ra @ rb.T * 12.0 / (m**3 - m)


def _v_inverse(x: np.ndarray) -> np.ndarray:
    """``V⁻¹ x`` for each row of ``x`` (full condensed RDMs), V the covariance of distance
    estimates under i.i.d. pattern noise (Diedrichsen et al. 2021; rsatoolbox's ``get_v``).

    V = 2I + B Bᵀ with B the (n_pairs × n) unsigned incidence matrix, so by Woodbury
    ``V⁻¹ = ½ (I − B (nI + J)⁻¹ Bᵀ)`` and ``(nI + J)⁻¹ = (I − J / 2n) / n``: O(n_pairs) per row.
    """
    from ..core._rdms import condensed_index, n_stimuli_from_pairs

    n = n_stimuli_from_pairs(x.shape[1])
    rows, cols = condensed_index(n)
    btx = np.zeros((x.shape[0], n))  # Bᵀ x: for each stimulus, the sum over its pairs
    np.add.at(btx.T, rows, x.T)
    np.add.at(btx.T, cols, x.T)
    inner = (btx - btx.sum(1, keepdims=True) / (2 * n)) / n
    return 0.5 * (x - inner[:, rows] - inner[:, cols])


def _cosine_whitened(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    va, vb = _v_inverse(a), _v_inverse(b)
    na = np.sqrt(np.einsum("ij,ij->i", a, va))
    nb = np.sqrt(np.einsum("ij,ij->i", b, vb))
    return (a @ vb.T) / na[:, None] / nb[None, :]


@register(SIMILARITIES)
def cosine_cov(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Whitened cosine similarity: ``aᵀV⁻¹b / sqrt(aᵀV⁻¹a · bᵀV⁻¹b)`` (rsatoolbox ``cosine_cov``)."""
    return _cosine_whitened(a, b)


@register(SIMILARITIES)
def corr_cov(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Whitened Pearson correlation: whitened cosine of mean-centred vectors (``corr_cov``)."""
    return _cosine_whitened(a - a.mean(1, keepdims=True), b - b.mean(1, keepdims=True))


def compare_rdms(
    a: RDMs | np.ndarray, b: RDMs | np.ndarray, method: str = "spearman"
) -> np.ndarray:
    """Similarity of every RDM in ``a`` with every RDM in ``b``.

    Parameters
    ----------
    a, b : RDMs or arrays (n_pairs,) / (n_rdms, n_pairs)
        Condensed RDMs over the same stimuli in the same order (use :func:`neuroalign.align`).
    method : str
        A key of ``SIMILARITIES``: ``pearson``, ``spearman``, ``kendall_tau_a``, ``rho_a``,
        ``cosine``, ``corr_cov``, ``cosine_cov`` (the whitened ones need full RDMs).

    Returns
    -------
    array (n_a, n_b)

    Examples
    --------
    >>> import numpy as np
    >>> compare_rdms(np.array([1.0, 2.0, 3.0]), np.array([[1.0, 2.0, 4.0], [3.0, 2.0, 1.0]]))
    array([[ 1., -1.]])
    """
    fn = lookup(SIMILARITIES, method, "RDM similarity")
    check_same_stimuli(a, b)
    sa, sb = _as_stack(a, "a"), _as_stack(b, "b")
    if sa.shape[1] != sb.shape[1]:
        raise ShapeError(f"RDM vectors differ in length: {sa.shape[1]} vs {sb.shape[1]} pairs.")
    return fn(sa, sb)


def pool_rdms(rdms: np.ndarray, method: str) -> np.ndarray:
    """The average RDM in the space a method compares in (ranks for spearman/kendall, z-scores
    for pearson, unit vectors for cosine): the best possible model RDM for that method."""
    if method in ("spearman", "kendall_tau_a", "rho_a"):
        return rank_rows(rdms).mean(0)
    if method in ("cosine_cov", "corr_cov"):
        x = rdms - rdms.mean(1, keepdims=True) if method == "corr_cov" else rdms
        norms = np.sqrt(np.einsum("ij,ij->i", x, _v_inverse(x)))
        return (rdms / norms[:, None]).mean(0)
    if method == "pearson":
        return _zscore_rows(rdms).mean(0)
    if method == "cosine":
        return (rdms / np.sqrt((rdms * rdms).sum(1, keepdims=True))).mean(0)
    return rdms.mean(0)
