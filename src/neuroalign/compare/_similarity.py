"""``compare_rdms``: similarity between RDM vectors, one-to-many and many-to-many.

Every method maps two stacks of condensed RDM vectors ``a (n_a, n_pairs)`` and
``b (n_b, n_pairs)`` to an ``(n_a, n_b)`` matrix. Rank-based methods rank each vector (ties get
their average rank) and then correlate, so the whole comparison is one matrix product.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from scipy.stats import rankdata

from ..core import RDMs
from ..core._registry import lookup, register
from ..core._validation import check_array
from ..core.exceptions import ShapeError, ValidationError

__all__ = ["SIMILARITIES", "compare_rdms", "pool_rdms"]

SIMILARITIES: dict[str, Any] = {}


def _as_stack(x: Any, name: str) -> np.ndarray:
    if isinstance(x, RDMs):
        return x.dissimilarities
    arr = check_array(x, name, ndim=(1, 2), dtype=np.float64)
    return arr[None] if arr.ndim == 1 else arr


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
    return pearson(rankdata(a, axis=1), rankdata(b, axis=1))


@register(SIMILARITIES)
def cosine(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Cosine similarity of the dissimilarity vectors (no centring)."""
    na = np.sqrt((a * a).sum(1, keepdims=True))
    nb = np.sqrt((b * b).sum(1, keepdims=True))
    if (na == 0).any() or (nb == 0).any():
        raise ValidationError("an RDM is all zeros; its cosine similarity is undefined.")
    return (a / na) @ (b / nb).T


@register(SIMILARITIES)
def kendall_tau_a(a: np.ndarray, b: np.ndarray, block: int = 512) -> np.ndarray:
    """Kendall's τ_a: (concordant − discordant pairs) / all pairs; ties count as neither.

    Cost O(n_pairs²) per pair of RDMs, computed in blocks so memory stays ~``block × n_pairs``.
    """
    m = a.shape[1]
    out = np.zeros((a.shape[0], b.shape[0]))
    for i in range(a.shape[0]):
        for j in range(b.shape[0]):
            total = 0.0
            for start in range(0, m, block):
                sl = slice(start, min(m, start + block))
                sa = np.sign(a[i, sl, None] - a[i, None, :])
                sb = np.sign(b[j, sl, None] - b[j, None, :])
                total += float((sa * sb).sum())
            out[i, j] = total / (m * (m - 1))  # every unordered pair was counted twice
    return out


def compare_rdms(
    a: RDMs | np.ndarray, b: RDMs | np.ndarray, method: str = "spearman"
) -> np.ndarray:
    """Similarity of every RDM in ``a`` with every RDM in ``b``.

    Parameters
    ----------
    a, b : RDMs or arrays (n_pairs,) / (n_rdms, n_pairs)
        Condensed RDMs over the same stimuli in the same order (use :func:`neuroalign.align`).
    method : str
        A key of ``SIMILARITIES``: ``pearson``, ``spearman``, ``kendall_tau_a``, ``cosine``.

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
    if (
        isinstance(a, RDMs)
        and isinstance(b, RDMs)
        and not np.array_equal(a.stimulus_ids, b.stimulus_ids)
    ):
        from ..core.exceptions import StimulusMismatchError

        raise StimulusMismatchError(
            "the two RDMs are over different stimuli or orders; align them first."
        )
    sa, sb = _as_stack(a, "a"), _as_stack(b, "b")
    if sa.shape[1] != sb.shape[1]:
        raise ShapeError(f"RDM vectors differ in length: {sa.shape[1]} vs {sb.shape[1]} pairs.")
    return fn(sa, sb)


def pool_rdms(rdms: np.ndarray, method: str) -> np.ndarray:
    """The average RDM in the space a method compares in (ranks for spearman/kendall, z-scores
    for pearson, unit vectors for cosine): the best possible model RDM for that method."""
    if method in ("spearman", "kendall_tau_a"):
        return rankdata(rdms, axis=1).mean(0)
    if method == "pearson":
        return _zscore_rows(rdms).mean(0)
    if method == "cosine":
        return (rdms / np.sqrt((rdms * rdms).sum(1, keepdims=True))).mean(0)
    return rdms.mean(0)
