"""``compare_rdms``: similarity between RDM vectors, one-to-many and many-to-many.

Every method maps two stacks of condensed RDM vectors ``a (n_a, n_pairs)`` and
``b (n_b, n_pairs)`` to an ``(n_a, n_b)`` matrix. Rank-based methods rank each vector (ties get
their average rank) and then correlate, so the whole comparison is one matrix product.
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np

from ..core import RDMs
from ..core._registry import lookup, register
from ..core._validation import check_array
from ..core.exceptions import NeuroalignWarning, ShapeError, StimulusMismatchError
from ._ranks import rank_rows, tau_a_matrix

__all__ = ["SIMILARITIES", "compare_rdms", "pool_rdms"]

SIMILARITIES: dict[str, Any] = {}


def _as_stack(x: Any, name: str) -> np.ndarray:
    if isinstance(x, RDMs):
        return x.dissimilarities
    arr = check_array(x, name, ndim=(1, 2), dtype=np.float64)
    return arr[None] if arr.ndim == 1 else arr


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


def _warn_constant(what: str) -> None:
    warnings.warn(
        f"an RDM is {what}; its similarity is undefined and is returned as NaN.",
        NeuroalignWarning,
        stacklevel=3,
    )


def _zscore_rows(x: np.ndarray) -> np.ndarray:
    """Rows centred and scaled to unit norm; a constant row becomes NaN (with a warning)."""
    x = x - x.mean(1, keepdims=True)
    norm = np.sqrt((x * x).sum(1, keepdims=True))
    if (norm == 0).any():
        _warn_constant("constant (all dissimilarities equal)")
        norm = np.where(norm == 0, np.nan, norm)
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
        _warn_constant("all zeros")
        na, nb = np.where(na == 0, np.nan, na), np.where(nb == 0, np.nan, nb)
    return (a / na) @ (b / nb).T


@register(SIMILARITIES)
def kendall_tau_a(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Kendall's τ_a: (concordant − discordant pairs) / all pairs; tied pairs count as neither.

    O(m log m) per pair of RDMs: each row of ``a`` is sorted once, each row of ``b`` coded once,
    and discordant pairs are counted with a Fenwick tree (Nili et al. 2014 recommend τ_a for
    models that predict ties). A constant RDM gives NaN with a warning.
    """
    out = tau_a_matrix(a, b)
    if np.isnan(out).any():
        _warn_constant("constant (all dissimilarities equal)")
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


Pairs = tuple[np.ndarray, np.ndarray, int]
"""``(rows, cols, n)``: the two stimuli (positions among ``n``) of each entry of an RDM vector
whose pairs are not the complete condensed set, e.g. after a stimulus resample (self-pairs of a
stimulus drawn twice left out, other duplicates kept)."""


def _v_inverse(x: np.ndarray, pairs: Pairs | None = None) -> np.ndarray:
    """``V⁻¹ x`` for each row of ``x``, V the covariance of distance estimates under i.i.d.
    pattern noise (Diedrichsen et al. 2021; rsatoolbox's ``get_v``).

    V = 2I + B Bᵀ with B the (n_pairs × n) unsigned incidence matrix of the pairs, so by Woodbury
    ``V⁻¹ = ½ (I − B (2I + BᵀB)⁻¹ Bᵀ)``: an n × n solve instead of an n_pairs × n_pairs one. For the
    complete set of pairs ``2I + BᵀB = nI + J`` has the closed-form inverse ``(I − J / 2n) / n``
    (O(n_pairs) per row). With ``pairs`` (an incomplete set) ``V`` is rsatoolbox's restricted to
    those pairs, ``V[kept][:, kept]``, which is what it uses for RDMs with missing entries.
    """
    from ..core._rdms import condensed_index, n_stimuli_from_pairs

    if pairs is None:
        n = n_stimuli_from_pairs(x.shape[1])
        rows, cols = condensed_index(n)
    else:
        rows, cols, n = pairs
    btx = np.zeros((x.shape[0], n))  # Bᵀ x: for each stimulus, the sum over its pairs
    np.add.at(btx.T, rows, x.T)
    np.add.at(btx.T, cols, x.T)
    if pairs is None:
        inner = (btx - btx.sum(1, keepdims=True) / (2 * n)) / n
    else:
        gram = np.zeros((n, n))  # 2I + BᵀB: degrees on the diagonal, pair counts off it
        np.add.at(gram, (rows, cols), 1.0)
        gram += gram.T
        gram[np.diag_indices(n)] += (
            2.0 + np.bincount(rows, minlength=n) + np.bincount(cols, minlength=n)
        )
        inner = np.linalg.solve(gram, btx.T).T
    return 0.5 * (x - inner[:, rows] - inner[:, cols])


def _cosine_whitened(a: np.ndarray, b: np.ndarray, pairs: Pairs | None = None) -> np.ndarray:
    va, vb = _v_inverse(a, pairs), _v_inverse(b, pairs)
    na = np.sqrt(np.einsum("ij,ij->i", a, va))
    nb = np.sqrt(np.einsum("ij,ij->i", b, vb))
    return (a @ vb.T) / na[:, None] / nb[None, :]


@register(SIMILARITIES)
def cosine_cov(a: np.ndarray, b: np.ndarray, pairs: Pairs | None = None) -> np.ndarray:
    """Whitened cosine similarity: ``aᵀV⁻¹b / sqrt(aᵀV⁻¹a · bᵀV⁻¹b)`` (rsatoolbox ``cosine_cov``).
    ``pairs`` describes vectors that do not hold the complete set of pairs (see :data:`Pairs`)."""
    return _cosine_whitened(a, b, pairs)


@register(SIMILARITIES)
def corr_cov(a: np.ndarray, b: np.ndarray, pairs: Pairs | None = None) -> np.ndarray:
    """Whitened Pearson correlation: whitened cosine of mean-centred vectors (``corr_cov``)."""
    return _cosine_whitened(a - a.mean(1, keepdims=True), b - b.mean(1, keepdims=True), pairs)


WHITENED = ("corr_cov", "cosine_cov")


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


def pool_rdms(rdms: np.ndarray, method: str, pairs: Pairs | None = None) -> np.ndarray:
    """The average RDM in the space a method compares in (ranks for spearman/kendall, z-scores
    for pearson, unit vectors for cosine): the best possible model RDM for that method."""
    if method in ("spearman", "kendall_tau_a", "rho_a"):
        return rank_rows(rdms).mean(0)
    if method in ("cosine_cov", "corr_cov"):
        x = rdms - rdms.mean(1, keepdims=True) if method == "corr_cov" else rdms
        norms = np.sqrt(np.einsum("ij,ij->i", x, _v_inverse(x, pairs)))
        return (rdms / norms[:, None]).mean(0)
    if method == "pearson":
        return _zscore_rows(rdms).mean(0)
    if method == "cosine":
        return (rdms / np.sqrt((rdms * rdms).sum(1, keepdims=True))).mean(0)
    return rdms.mean(0)
