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

__all__ = ["procrustes_distance", "shape_distance"]


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
