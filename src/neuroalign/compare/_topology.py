"""Topological RSA: geo-topological and geodesic transforms of RDMs (Lin & Kriegeskorte).

The geo-topological transform maps each dissimilarity d of an RDM to

    GT(d) = 0                     for d ≤ l
            (d − l) / (u − l)     for l < d < u
            1                     for d ≥ u

compressing the smallest distances (noise-dominated neighbourhoods collapse to 0) and the largest
(far-apart points saturate at 1), keeping the topology-relevant middle range. Following the paper,
the thresholds l and u are the ``low`` and ``up`` quantiles **of each RDM's own dissimilarities**.
(rsatoolbox's ``geotopological_transform`` takes the quantiles of all RDMs pooled together, which
makes one RDM's transform depend on the others; for a single RDM both agree.)

The geodesic transform then replaces each transformed dissimilarity by the shortest-path length
through the graph whose edges are the pairs with GT < 1, weighted by GT: saturated edges are
removed, so distances are measured along the representation's neighbourhood structure, capped at 1
(pairs not connected below the upper threshold keep the value 1).
"""

from __future__ import annotations

from typing import Any

import numpy as np
from scipy.sparse import csr_matrix
from scipy.sparse.csgraph import shortest_path

from ..core import RDMs
from ..core._rdms import condensed_index, n_stimuli_from_pairs
from ..core._validation import check_array
from ..core.exceptions import ValidationError

__all__ = ["geodesic_transform", "geotopological_transform"]


def _vectors(rdms: RDMs | Any) -> tuple[np.ndarray, bool]:
    if isinstance(rdms, RDMs):
        return rdms.dissimilarities.copy(), True
    arr = check_array(rdms, "rdms", ndim=(1, 2), dtype=np.float64)
    return (arr[None] if arr.ndim == 1 else arr).copy(), False


def _wrap(vecs: np.ndarray, like: RDMs | Any, was_rdms: bool, label: str) -> RDMs | np.ndarray:
    if was_rdms:
        return RDMs(
            vecs,
            like.stimulus_ids,
            like.descriptors,
            metric=f"{label}({like.metric})",
            meta=like.meta,
        )
    return vecs if np.asarray(like).ndim == 2 else vecs[0]


def geotopological_transform(
    rdms: RDMs | Any, low: float = 0.1, up: float = 0.9
) -> RDMs | np.ndarray:
    """Geo-topological transform with per-RDM quantile thresholds (see the module docs).

    Parameters
    ----------
    rdms : RDMs or array (n_pairs,) / (n_rdms, n_pairs)
    low, up : float in [0, 1], low < up
        Quantiles of each RDM's dissimilarities used as the lower and upper thresholds.

    Returns
    -------
    The same type as ``rdms``, values in [0, 1].

    Examples
    --------
    >>> geotopological_transform(np.array([0.0, 1.0, 2.0, 3.0, 4.0]), low=0.25, up=0.75)
    array([0. , 0. , 0.5, 1. , 1. ])
    """
    if not 0.0 <= low < up <= 1.0:
        raise ValidationError(f"need 0 <= low < up <= 1; got low={low}, up={up}.")
    vecs, was = _vectors(rdms)
    lo = np.quantile(vecs, low, axis=1, keepdims=True)
    hi = np.quantile(vecs, up, axis=1, keepdims=True)
    span = np.where(hi > lo, hi - lo, 1.0)
    out = np.clip((vecs - lo) / span, 0.0, 1.0)
    return _wrap(out, rdms, was, "geotopological")


def geodesic_transform(rdms: RDMs | Any, low: float = 0.1, up: float = 0.9) -> RDMs | np.ndarray:
    """Geodesic distances on the geo-topologically transformed RDM (see the module docs)."""
    gt, _ = _vectors(geotopological_transform(rdms, low, up))
    n = n_stimuli_from_pairs(gt.shape[1])
    rows, cols = condensed_index(n)
    out = np.empty_like(gt)
    for k, vec in enumerate(gt):
        keep = vec < 1.0
        # a sparse graph keeps explicit zero-length edges (pairs below the lower threshold)
        graph = csr_matrix((vec[keep], (rows[keep], cols[keep])), shape=(n, n))
        dist = shortest_path(graph, method="D", directed=False)
        out[k] = np.minimum(np.where(np.isfinite(dist), dist, 1.0)[rows, cols], 1.0)
    return _wrap(out, rdms, isinstance(rdms, RDMs), "geodesic")
