"""``compute_rdm``: representational dissimilarity matrices, batched, as GEMMs through the backend.

Cost for k datasets of n stimuli × p features: one ``n × n`` Gram matrix each, ``k · n² · p``
multiply-adds; memory ``k · n²`` for the result plus one dataset on the device at a time.
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import lru_cache
from typing import Any

import numpy as np
import pandas as pd

from ..core import Activations, RDMs, Responses
from ..core._backend import centre, get_backend, rounding_only
from ..core._rdms import condensed_index
from ..core._registry import lookup, register
from ..core._validation import check_array
from ..core.exceptions import ValidationError

__all__ = [
    "RDM_METRICS",
    "compute_crossnobis_rdm",
    "compute_rdm",
    "compute_rdms",
    "noise_precision",
]

RDM_METRICS: dict[str, Any] = {}


#: Datasets whose Gram product is below this many flops are processed in batches (one call per
#: chunk of datasets instead of one per dataset: time points, searchlights); larger ones one at a
#: time, as ``x @ xᵀ`` (a symmetric rank-k update: half the flops of a general product).
_SMALL_FLOPS = 5e7
#: Bytes of input (and Gram matrices) per batch of small datasets: cache-sized.
_BATCH_BYTES = 8 * 2**20


@lru_cache(maxsize=8)
def _upper_mask(n: int) -> np.ndarray:
    """Boolean mask of the strict upper triangle: ``G[..., mask]`` is ``G[..., rows, cols]`` in
    condensed order, read in one pass (a boolean gather is several times faster than fancy
    indexing)."""
    return np.triu(np.ones((n, n), dtype=bool), k=1)


def _upper(bk: Any, g: Any) -> Any:
    """The condensed upper triangle of square backend matrices ``(..., n, n)`` (on their device)."""
    n = g.shape[-1]
    if bk.name == "numpy":
        return g[..., _upper_mask(n)]
    torch = _torch()
    rows, cols = torch.triu_indices(n, n, 1, device=g.device)
    return g[..., rows, cols]


def _torch() -> Any:
    import importlib

    return importlib.import_module("torch")


def _sq_norms(bk: Any, x: Any) -> Any:
    return np.einsum("...ij,...ij->...i", x, x) if bk.name == "numpy" else (x * x).sum(-1)


def _gram(x: Any) -> Any:
    """``x xᵀ`` per dataset: ``x @ x.T`` for one (BLAS runs it as syrk), batched for a stack."""
    return x @ x.T if x.ndim == 2 else x @ x.swapaxes(-1, -2)


def _unit_rows(bk: Any, x: Any, what: str, before: Any = None) -> Any:
    """Rows scaled to unit norm, in place on ``x`` (a temporary the caller owns). ``before``:
    the rows' squared norms before centring; a row whose centred norm is rounding of those (a
    constant pattern 0.1 leaves ~1e-8, not 0) counts as zero."""
    sq = _sq_norms(bk, x)
    zero = sq == 0
    if before is not None:
        zero = zero | rounding_only(sq, before, bk.dtype)
    if bool(zero.any()):
        raise ValidationError(
            f"{int(zero.sum())} stimulus pattern(s) are {what}; the distance is undefined for "
            "them. Use metric='euclidean' or drop those stimuli."
        )
    x *= (1.0 / bk.sqrt(sq))[..., None]
    return x


@register(RDM_METRICS)
def correlation(bk: Any, x: Any) -> Any:
    """1 − Pearson correlation between the stimuli's response patterns."""
    before = _sq_norms(bk, x)
    x = x - (x.mean(-1, keepdims=True) if bk.name == "numpy" else x.mean(-1, keepdim=True))
    x = _unit_rows(bk, x, "constant across features (correlation distance)", before)
    return 1.0 - _upper(bk, _gram(x))


@register(RDM_METRICS)
def cosine(bk: Any, x: Any) -> Any:
    """1 − cosine similarity."""
    x = _unit_rows(bk, x * 1.0, "all zeros (cosine distance)")
    return 1.0 - _upper(bk, _gram(x))


@register(RDM_METRICS)
def sqeuclidean(bk: Any, x: Any) -> Any:
    """Squared Euclidean distance divided by the number of features (as rsatoolbox does)."""
    sq = _sq_norms(bk, x)
    g = _gram(x)
    g *= -2.0
    g += sq[..., :, None]
    g += sq[..., None, :]
    return bk.clip_min(_upper(bk, g), 0.0) / x.shape[-1]


@register(RDM_METRICS)
def euclidean(bk: Any, x: Any) -> Any:
    """Euclidean distance (not normalised)."""
    return bk.sqrt(sqeuclidean(bk, x) * x.shape[-1])


#: metrics whose distances do not move when every pattern moves by the same vector: their
#: patterns are centred over stimuli (in the input's precision) before the Gram identity
#: ‖a‖² + ‖b‖² − 2 a·b, which in float32 loses every digit of a mean that is large against the
#: spread (responses near 10⁴ that move by 10: distances off by 60×, RDM ranks uncorrelated)
SHIFT_INVARIANT_METRICS = frozenset({"euclidean", "sqeuclidean"})


def compute_rdm(
    X: Any,
    metric: str = "correlation",
    device: str | None = None,
    dtype: str = "float32",
    precision: Any = None,
) -> np.ndarray:
    """RDM(s) of response patterns, as condensed vectors (scipy ``squareform`` order).

    Cost: one ``n × n`` Gram product per dataset (``n² p`` multiply-adds, a symmetric rank-k
    update); everything else is O(n p + n²). Memory: one float32 copy of one dataset and its
    ``n × n`` matrix on the device at a time; small datasets (time points, searchlights: Gram
    below 5·10⁷ flops) go through in batches of at most 8 MB, one batched product each.

    Parameters
    ----------
    X : array (n_stimuli, n_features) or (n_datasets, n_stimuli, n_features)
    metric : str
        A key of ``RDM_METRICS``: ``correlation``, ``cosine``, ``euclidean``, ``sqeuclidean``,
        or ``"mahalanobis"`` (squared, per feature: ``δᵀ W δ / p`` with ``precision`` W).
    device : str, optional
        ``"cpu"`` (NumPy), ``"torch"``, ``"cuda"`` or ``"cuda:N"``.
    dtype : {"float32", "float64"}
        Precision of the computation and of the result. float32 (default) halves memory and
        doubles GEMM speed; dissimilarities then carry ~1e-6 relative error (ask for float64 to
        compare with float64 tools at 1e-10).
    precision : array (n_features, n_features), optional
        Noise precision (inverse covariance) for ``metric="mahalanobis"``.

    Returns
    -------
    array (n_pairs,) or (n_datasets, n_pairs), of ``dtype``

    Examples
    --------
    >>> import numpy as np
    >>> from scipy.spatial.distance import pdist
    >>> X = np.random.default_rng(0).normal(size=(5, 20))
    >>> bool(np.allclose(compute_rdm(X, "correlation", dtype="float64"), pdist(X, "correlation")))
    True
    """
    X = check_array(X, "X", ndim=(2, 3))
    if metric == "mahalanobis":
        # whiten with a square root of the precision, then squared euclidean / p
        X = X @ _precision_root(precision, X.shape[-1])
        metric = "sqeuclidean"
    fn = lookup(RDM_METRICS, metric, "RDM metric")
    single = X.ndim == 2
    stack = X[None] if single else X
    if stack.shape[1] < 2:
        raise ValidationError(f"an RDM needs at least 2 stimuli; X has {stack.shape[1]}.")
    bk = get_backend(device, dtype)
    k, n, p = stack.shape
    out = np.empty((k, n * (n - 1) // 2), dtype=np.dtype(dtype))
    per_dataset = (n * p + n * n) * bk.itemsize()
    batch = max(1, _BATCH_BYTES // per_dataset) if 2.0 * n * n * p < _SMALL_FLOPS else 1
    shift_invariant = metric in SHIFT_INVARIANT_METRICS
    for start in range(0, k, batch):
        part = stack[start] if batch == 1 else stack[start : start + batch]
        if shift_invariant:
            part = centre(part, -2)[0]
        out[start : start + batch] = bk.to_numpy(fn(bk, bk.asarray(part)))
    return out[0] if single else out


def compute_rdms(
    data: Activations | Responses | Mapping[str, Any],
    stimulus_ids: Any = None,
    metric: str = "correlation",
    device: str | None = None,
    dtype: str = "float32",
) -> RDMs:
    """An :class:`~neuroalign.RDMs` with one RDM per layer (``Activations``), per ROI
    (``Responses`` with a ``roi`` column; one RDM of all targets otherwise) or per mapping entry.

    RDMs of ``Activations`` carry ``meta["model"]`` (the model id), which result tables report.
    """
    meta: dict[str, Any] = {}
    if isinstance(data, Activations):
        names, arrays, ids, key = (
            list(data.layer_names),
            [data[k] for k in data.layer_names],
            data.stimulus_ids,
            "layer",
        )
        meta["model"] = data.model
    elif isinstance(data, Responses):
        assert data.data is not None
        rois = data.rois or ["all"]
        names = rois
        arrays = [np.asarray(data.roi(r).data if data.rois else data.data) for r in rois]
        ids, key = data.stimulus_ids, "roi"
    else:
        if stimulus_ids is None:
            raise ValidationError("stimulus_ids is required when data is a plain mapping.")
        names, arrays, ids, key = list(data), list(data.values()), stimulus_ids, "name"
    vecs = np.stack(
        [compute_rdm(np.asarray(a).reshape(a.shape[0], -1), metric, device, dtype) for a in arrays]
    )
    return RDMs(vecs, ids, pd.DataFrame({key: names}), metric=metric, meta=meta)


def _precision_root(precision: Any, p: int) -> np.ndarray:
    """A matrix R with R Rᵀ = precision (symmetric positive definite), checked."""
    if precision is None:
        raise ValidationError(
            "metric='mahalanobis' needs precision= (an n_features × n_features inverse covariance)."
        )
    W = check_array(precision, "precision", ndim=2, dtype=np.float64)
    if W.shape != (p, p):
        raise ValidationError(f"precision must be ({p}, {p}) to match the features; got {W.shape}.")
    try:
        return np.linalg.cholesky((W + W.T) / 2)
    except np.linalg.LinAlgError as err:
        raise ValidationError("precision is not positive definite.") from err


def noise_precision(residuals: Any, shrinkage: str | float = "ledoit_wolf") -> np.ndarray:
    """Noise precision from residuals (n_observations, n_channels), with shrinkage.

    ``shrinkage="ledoit_wolf"`` estimates the shrinkage towards a scaled identity (Ledoit & Wolf
    2004, scikit-learn); a float λ in [0, 1] uses ``(1 − λ) S + λ · mean(diag S) · I``;
    ``"diagonal"`` keeps only the variances (univariate noise normalisation).
    """
    R = check_array(residuals, "residuals", ndim=2, dtype=np.float64)
    if shrinkage == "ledoit_wolf":
        from sklearn.covariance import LedoitWolf

        cov = LedoitWolf(assume_centered=True).fit(R).covariance_
    elif shrinkage == "diagonal":
        cov = np.diag((R * R).mean(0))
    else:
        lam = float(shrinkage)
        if not 0.0 <= lam <= 1.0:
            raise ValidationError(
                f"shrinkage must be 'ledoit_wolf', 'diagonal' or in [0, 1]; got {shrinkage!r}."
            )
        s = R.T @ R / R.shape[0]
        cov = (1 - lam) * s + lam * np.mean(np.diag(s)) * np.eye(len(s))
    return np.linalg.inv(cov)


def compute_crossnobis_rdm(
    patterns: Any, precision: Any = None, device: str | None = None, dtype: str = "float64"
) -> np.ndarray:
    """Cross-validated (squared) distances over independent partitions: crossnobis / cv-euclidean.

    With whitened pattern estimates v_r (run r) and δ_ij^r = v_i^r − v_j^r,

        d_ij = Σ_{r≠s} δ_ij^rᵀ δ_ij^s / (R (R − 1) p)

    an unbiased estimate of the squared Mahalanobis distance (noise cancels across runs; it can be
    negative). Computed from Gram matrices: ``Σ_{r≠s} δ^r·δ^s = ‖Σ_r δ^r‖² − Σ_r ‖δ^r‖²``, so the
    cost is R + 1 GEMMs of n × n × p. Equal to leave-one-run-out crossnobis (rsatoolbox).

    Parameters
    ----------
    patterns : array (n_runs, n_stimuli, n_channels)
        Pattern estimates per run (or any independent partition / repetition).
    precision : array (n_channels, n_channels), optional
        Noise precision (see :func:`noise_precision`); identity (cv-euclidean) when omitted.
    device, dtype :
        Backend.

    Returns
    -------
    array (n_pairs,)
    """
    P = check_array(patterns, "patterns", ndim=3)
    n_runs, n, p = P.shape
    if n_runs < 2:
        raise ValidationError(f"cross-validated distances need >= 2 runs/partitions; got {n_runs}.")
    # each run centred over stimuli: a run's common shift cancels in every cross-run product,
    # and left in, the Gram identity of sq() loses it all in float32
    P = centre(P, 1)[0]
    if precision is not None:
        P = P @ _precision_root(precision, p)
    bk = get_backend(device, dtype)
    rows, cols = condensed_index(n)

    def sq(x: Any) -> np.ndarray:
        g = bk.to_numpy(x @ x.T)
        d = np.diag(g)
        return (d[:, None] + d[None, :] - 2 * g)[rows, cols]

    total = sq(bk.asarray(P.sum(0)))
    own = sum(sq(bk.asarray(P[r])) for r in range(n_runs))
    return (total - own) / (n_runs * (n_runs - 1) * p)
