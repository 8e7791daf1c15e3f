"""Shape metrics between representations (Williams et al. 2021, "Generalized shape metrics").

Both representations are centred, optionally partially whitened, scaled to unit Frobenius norm and
compared after the best rotation: the angular distance

    θ(X, Y) = arccos( ‖X̃ᵀ Ỹ‖_* )   (‖·‖_* the nuclear norm, X̃, Ỹ normalised)

is a metric (it satisfies the triangle inequality), zero iff the two are equal up to rotation,
translation and isotropic scaling. ``alpha`` interpolates between Procrustes (α = 1, no
whitening) and CCA (α = 0, full whitening, where θ = arccos of the mean canonical correlation):
X ↦ X (α I + (1 − α) Σ_X)^(−1/2), Σ_X = XᵀX / n.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..core._validation import check_array, check_same_length
from ..core.exceptions import ValidationError

__all__ = ["procrustes_distance", "pwcca", "shape_distance", "svcca"]


def _reduce(X: np.ndarray) -> np.ndarray:
    """Centre, and rotate to at most n dimensions when there are more features than stimuli
    (an exact, rotation-only change: every shape metric is unchanged)."""
    X = X - X.mean(0)
    if X.shape[1] > X.shape[0]:
        u, s, _ = np.linalg.svd(X, full_matrices=False)
        X = u * s
    return X


def _whiten(X: np.ndarray, alpha: float) -> np.ndarray:
    if alpha == 1.0:
        return X
    cov = X.T @ X / X.shape[0]
    w, v = np.linalg.eigh(alpha * np.eye(len(cov)) + (1 - alpha) * cov)
    keep = w > w.max() * 1e-10
    return X @ (v[:, keep] / np.sqrt(w[keep])) @ v[:, keep].T


def shape_distance(X: Any, Y: Any, alpha: float = 1.0) -> float:
    """Generalised shape metric (angular, radians) between two representations.

    Parameters
    ----------
    X : array (n_stimuli, n_features_x)
    Y : array (n_stimuli, n_features_y)
        The same stimuli in the same order; feature counts may differ (zero-padding is implied).
    alpha : float in [0, 1]
        1: Procrustes; 0: CCA; in between: partial whitening (regularised).

    Returns
    -------
    float in [0, π/2]

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(50, 8)); Q, _ = np.linalg.qr(rng.normal(size=(8, 8)))
    >>> round(shape_distance(X, 2 * X @ Q + 1.0), 6)
    0.0
    """
    if not 0.0 <= alpha <= 1.0:
        raise ValidationError(f"alpha must be in [0, 1]; got {alpha}.")
    X = check_array(X, "X", ndim=2, dtype=np.float64)
    Y = check_array(Y, "Y", ndim=2, dtype=np.float64)
    check_same_length("X rows (stimuli)", X.shape[0], "Y rows (stimuli)", Y.shape[0])
    x, y = _whiten(_reduce(X), alpha), _whiten(_reduce(Y), alpha)
    nx, ny = np.linalg.norm(x), np.linalg.norm(y)
    if nx == 0 or ny == 0:
        raise ValidationError(
            "a representation is constant across stimuli; its shape is undefined."
        )
    nuclear = np.linalg.svd((x / nx).T @ (y / ny), compute_uv=False).sum()
    return float(np.arccos(np.clip(nuclear, -1.0, 1.0)))


def procrustes_distance(X: Any, Y: Any) -> float:
    """Angular Procrustes distance: :func:`shape_distance` with ``alpha=1``."""
    return shape_distance(X, Y, alpha=1.0)


def _canonical(
    X: np.ndarray, Y: np.ndarray, keep: float | None
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Orthonormal bases of the (SVD-reduced) column spaces, canonical correlations and the
    canonical variates of X."""

    def basis(A: np.ndarray) -> np.ndarray:
        A = A - A.mean(0)
        u, s, _ = np.linalg.svd(A, full_matrices=False)
        if keep is not None:
            frac = np.cumsum(s**2) / np.sum(s**2)
            u = u[:, : int(np.searchsorted(frac, keep) + 1)]
        else:
            u = u[:, s > s.max() * 1e-10]
        return u

    qx, qy = basis(X), basis(Y)
    a, rho, _ = np.linalg.svd(qx.T @ qy, full_matrices=False)
    return qx, qy, np.clip(rho, 0.0, 1.0), qx @ a


def svcca(X: Any, Y: Any, keep: float = 0.99) -> float:
    """SVCCA (Raghu et al. 2017): mean canonical correlation after keeping, for each
    representation, the top singular directions that explain ``keep`` of its variance.

    Examples
    --------
    >>> import numpy as np
    >>> X = np.random.default_rng(0).normal(size=(200, 10))
    >>> round(svcca(X, X @ np.random.default_rng(1).normal(size=(10, 10))), 6)
    1.0
    """
    X = check_array(X, "X", ndim=2, dtype=np.float64)
    Y = check_array(Y, "Y", ndim=2, dtype=np.float64)
    check_same_length("X rows (stimuli)", X.shape[0], "Y rows (stimuli)", Y.shape[0])
    if not 0 < keep <= 1:
        raise ValidationError(f"keep must be in (0, 1]; got {keep}.")
    _, _, rho, _ = _canonical(X, Y, keep)
    return float(rho.mean())


def pwcca(X: Any, Y: Any) -> float:
    """Projection-weighted CCA (Morcos et al. 2018): canonical correlations weighted by how much
    of X's units each canonical variate of X accounts for (Σ_j |⟨h_i, x_j⟩|, normalised)."""
    X = check_array(X, "X", ndim=2, dtype=np.float64)
    Y = check_array(Y, "Y", ndim=2, dtype=np.float64)
    check_same_length("X rows (stimuli)", X.shape[0], "Y rows (stimuli)", Y.shape[0])
    _, _, rho, h = _canonical(X, Y, None)
    weights = np.abs(h.T @ (X - X.mean(0))).sum(1)
    weights = weights[: len(rho)]
    return float((weights * rho).sum() / weights.sum())
