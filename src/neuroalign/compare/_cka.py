"""Centered kernel alignment (CKA): linear and RBF kernels, biased and debiased estimators.

CKA(X, Y) = HSIC(K, L) / sqrt(HSIC(K, K) · HSIC(L, L)) with K, L the stimulus × stimulus kernels
of the two representations (Kornblith et al. 2019). The biased HSIC estimator, ``tr(K̃ L̃)`` with
K̃ = HKH double-centred, is inflated at the sample sizes of neural data, so the default is the
debiased (unbiased-HSIC) estimator of Song et al. (2012), as used by Nguyen et al. (2021):

    HSIC_u(K, L) = [tr(K₀L₀) + 1ᵀK₀1 · 1ᵀL₀1 / ((n−1)(n−2)) − 2/(n−2) · 1ᵀK₀L₀1] / (n(n−3))

with K₀, L₀ the kernels with their diagonals set to zero. For linear kernels every term comes from
products of the feature matrices, so the cost is ``min(p_x p_y n, n² (p_x + p_y))`` multiply-adds:
feature space when features are fewer than stimuli, the n × n Gram space otherwise; p × p
matrices of wide layers are never formed when p > n.
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np

from ..core._backend import get_backend, rounding_only
from ..core._registry import lookup, register
from ..core._validation import check_array, check_same_length
from ..core.exceptions import NeuroalignWarning, ValidationError

__all__ = ["CKA_KERNELS", "cka", "minibatch_cka"]

CKA_KERNELS: dict[str, Any] = {}


def _prepare(X: Any, Y: Any) -> tuple[np.ndarray, np.ndarray]:
    X = check_array(X, "X", ndim=2)
    Y = check_array(Y, "Y", ndim=2)
    check_same_length("X rows (stimuli)", X.shape[0], "Y rows (stimuli)", Y.shape[0])
    if X.shape[0] < 4:
        raise ValidationError(
            f"CKA needs at least 4 stimuli (the debiased estimator divides by n−3); got {X.shape[0]}."
        )
    return X, Y


def _hsic_from_parts(
    tr_kl: float, diag_k: Any, diag_l: Any, k1: Any, l1: Any, n: int, debiased: bool
) -> float:
    """HSIC from tr(KL), the kernels' diagonals and row sums (K1, L1) — no n × n matrix needed."""
    if not debiased:
        # tr(HKHL) = tr(KL) − 2/n (K1)·(L1) + (1ᵀK1)(1ᵀL1)/n²
        s_k, s_l = float(k1.sum()), float(l1.sum())
        return (tr_kl - 2.0 / n * float((k1 * l1).sum()) + s_k * s_l / n**2) / (n - 1) ** 2
    k0_1 = k1 - diag_k  # row sums of K with zero diagonal
    l0_1 = l1 - diag_l
    tr_k0l0 = tr_kl - float((diag_k * diag_l).sum())
    s_k0, s_l0 = float(k0_1.sum()), float(l0_1.sum())
    term = tr_k0l0 + s_k0 * s_l0 / ((n - 1) * (n - 2)) - 2.0 / (n - 2) * float((k0_1 * l0_1).sum())
    return term / (n * (n - 3))


def _hsic_gram(a: np.ndarray, b: np.ndarray, debiased: bool) -> float:
    """HSIC of two explicit n × n kernel matrices."""
    return _hsic_from_parts(
        float((a * b).sum()),
        np.diag(a).copy(),
        np.diag(b).copy(),
        a.sum(1),
        b.sum(1),
        len(a),
        debiased,
    )


@register(CKA_KERNELS)
def linear(X: np.ndarray, Y: np.ndarray, debiased: bool, device: str | None) -> float:
    """Linear-kernel CKA (features centred first), from feature-space or Gram-space products."""
    bk = get_backend(device, "float64" if X.dtype == np.float64 else "float32")
    xc, yc = X - X.mean(0), Y - Y.mean(0)
    if _constant(X, xc) or _constant(Y, yc):
        warnings.warn(
            "CKA is undefined for a representation that is the same for every stimulus (e.g. a "
            "dead layer): NaN.",
            NeuroalignWarning,
            stacklevel=3,
        )
        return float("nan")
    x = bk.asarray(xc)
    y = bk.asarray(yc)
    n, px = X.shape
    py = Y.shape[1]

    def parts(a: Any, b: Any) -> tuple[float, Any, Any, Any, Any]:
        if px * py <= n * (px + py) or a is b:
            # feature space: tr(KL) = ‖aᵀb‖², K1 = a (aᵀ1), diag K = row norms²
            tr = float(bk.to_numpy(((a.T @ b) ** 2).sum()))
        else:
            ka, kb = a @ a.T, b @ b.T
            tr = float(bk.to_numpy((ka * kb).sum()))
        da = bk.to_numpy((a * a).sum(1)).astype(np.float64)
        db = bk.to_numpy((b * b).sum(1)).astype(np.float64)
        a1 = bk.to_numpy(a @ a.sum(0)).astype(np.float64)
        b1 = bk.to_numpy(b @ b.sum(0)).astype(np.float64)
        return tr, da, db, a1, b1

    def self_tr(a: Any, p: int) -> float:
        if p <= n:
            return float(bk.to_numpy(((a.T @ a) ** 2).sum()))
        g = a @ a.T
        return float(bk.to_numpy((g * g).sum()))

    tr_xy, dx, dy, x1, y1 = parts(x, y)
    hxy = _hsic_from_parts(tr_xy, dx, dy, x1, y1, n, debiased)
    hxx = _hsic_from_parts(self_tr(x, px), dx, dx, x1, x1, n, debiased)
    hyy = _hsic_from_parts(self_tr(y, py), dy, dy, y1, y1, n, debiased)
    return hxy / np.sqrt(hxx * hyy)


def _constant(raw: np.ndarray, centred: np.ndarray) -> bool:
    """Every stimulus has the same pattern: the centred values are rounding of the raw ones
    (float32 leaves ~1e-8 of a constant, and CKA of that is noise divided by noise: inf)."""
    ss = float(np.einsum("ij,ij->", centred, centred, dtype=np.float64))
    raw_ss = float(np.einsum("ij,ij->", raw, raw, dtype=np.float64))
    return bool(
        rounding_only(ss, raw_ss, centred.dtype if centred.dtype.kind == "f" else "float64")
    )


def _rbf_gram(X: np.ndarray, sigma: float) -> np.ndarray:
    sq = (X * X).sum(1)
    d2 = np.maximum(sq[:, None] + sq[None, :] - 2 * X @ X.T, 0.0)
    width = sigma * np.sqrt(np.median(d2[np.triu_indices(len(X), 1)]))
    if width == 0:
        raise ValidationError("all stimuli have identical patterns; the RBF kernel width is zero.")
    return np.exp(-d2 / (2 * width**2))


@register(CKA_KERNELS)
def rbf(
    X: np.ndarray, Y: np.ndarray, debiased: bool, device: str | None, sigma: float = 0.8
) -> float:
    """RBF-kernel CKA; the bandwidth is ``sigma`` × the median pairwise distance (Kornblith et al.)."""
    K, L = _rbf_gram(np.asarray(X, np.float64), sigma), _rbf_gram(np.asarray(Y, np.float64), sigma)
    return _hsic_gram(K, L, debiased) / np.sqrt(
        _hsic_gram(K, K, debiased) * _hsic_gram(L, L, debiased)
    )


def cka(
    X: Any,
    Y: Any,
    kernel: str = "linear",
    debiased: bool = True,
    device: str | None = None,
    **kernel_options: Any,
) -> float:
    """Centered kernel alignment between two representations of the same stimuli.

    Parameters
    ----------
    X : array (n_stimuli, n_features_x)
    Y : array (n_stimuli, n_features_y)
    kernel : {"linear", "rbf"}
    debiased : bool
        Unbiased HSIC estimator (default; the biased one is inflated for small n).
    device : str, optional
        Backend device for the linear kernel (``"cpu"``, ``"torch"``, ``"cuda"``).
    **kernel_options
        ``sigma`` for the RBF kernel.

    Returns
    -------
    float
        1 for representations equal up to rotation and isotropic scaling (linear kernel).

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(100, 20))
    >>> Q, _ = np.linalg.qr(rng.normal(size=(20, 20)))
    >>> round(cka(X, 3 * X @ Q), 6), bool(cka(X, rng.normal(size=(100, 20))) < 0.1)
    (1.0, True)
    """
    fn = lookup(CKA_KERNELS, kernel, "CKA kernel")
    X, Y = _prepare(X, Y)
    return float(fn(X, Y, debiased, device, **kernel_options))


def minibatch_cka(
    X: Any, Y: Any, batch_size: int = 1000, seed: int = 0, device: str | None = None
) -> float:
    """Linear CKA accumulated over random minibatches of stimuli (Nguyen et al. 2021).

    ``Σ_b HSIC_u(K_b, L_b) / sqrt(Σ_b HSIC_u(K_b, K_b) · Σ_b HSIC_u(L_b, L_b))`` over disjoint
    batches: memory is bounded by the batch size, and the estimate is unbiased per batch.
    """
    X, Y = _prepare(X, Y)
    if batch_size < 4:
        raise ValidationError(f"batch_size must be >= 4; got {batch_size}.")
    order = np.random.default_rng(seed).permutation(X.shape[0])
    sums = np.zeros(3)
    bk = get_backend(device, "float64" if X.dtype == np.float64 else "float32")
    # batches of at most batch_size, as equal as possible: a last batch of < 4 stimuli (which
    # the unbiased HSIC cannot use) was dropped silently
    n_batches = max(1, -(-len(order) // batch_size))
    for idx in np.array_split(order, n_batches):
        if len(idx) < 4:
            raise ValidationError(f"minibatch CKA needs >= 4 stimuli; got {len(order)}.")
        x = bk.asarray(X[idx] - X[idx].mean(0))
        y = bk.asarray(Y[idx] - Y[idx].mean(0))
        kx = bk.to_numpy(x @ x.T).astype(np.float64)
        ky = bk.to_numpy(y @ y.T).astype(np.float64)
        sums += [_hsic_gram(kx, ky, True), _hsic_gram(kx, kx, True), _hsic_gram(ky, ky, True)]
    return float(sums[0] / np.sqrt(sums[1] * sums[2]))
