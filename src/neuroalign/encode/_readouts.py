"""What the gradient-trained readouts share: their input shapes (feature maps, tokens) with clear
errors, and a scikit-learn base whose ``score`` is ONE float (mean Pearson r over targets) and
``score_targets`` the per-target values. The readouts: ``_factorized`` and ``_attention``.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from sklearn.base import BaseEstimator
from sklearn.utils.validation import check_is_fitted

from ..core._validation import check_array, check_not_strings, check_positive, torch_device
from ..core.exceptions import ShapeError, ValidationError
from ..core.metrics import pearson_score
from ._torch_fit import check_responses, train_val_split

__all__ = ["as_feature_maps", "as_tokens"]


# ----------------------------------------------------------------------------- input shapes
def _stack(X: Any, name: str) -> np.ndarray:
    if isinstance(X, (list, tuple)) and len(X) and hasattr(X[0], "shape"):
        shapes = sorted({tuple(np.shape(x)) for x in X})
        if len(shapes) > 1:
            raise ShapeError(
                f"{name}: the stimuli have different shapes {shapes[:4]} (token counts or map "
                "sizes differ across stimuli); pad, crop or pool them to one shape first."
            )
        X = np.stack([np.asarray(x) for x in X])
    check_not_strings(X, name)
    return check_array(X, name, dtype=np.float32)


def as_feature_maps(X: Any, feature_shape: tuple[int, ...] | None = None) -> np.ndarray:
    """``X`` as float32 feature maps (n_stimuli, channels, height, width).

    4-D input is taken as is; 2-D input (flattened layers, as in ``Activations``) is reshaped with
    ``feature_shape=(C, H, W)``. Anything else raises a :class:`ShapeError` saying what works.
    """
    F = _stack(X, "X")
    if F.ndim == 2 and feature_shape is not None:
        shape = tuple(int(s) for s in feature_shape)
        if len(shape) != 3 or math.prod(shape) != F.shape[1]:
            raise ShapeError(
                f"feature_shape={feature_shape!r} does not fit X with {F.shape[1]} features per "
                "stimulus; give (channels, height, width) whose product is that number."
            )
        F = F.reshape(len(F), *shape)
    if F.ndim != 4:
        raise ShapeError(
            f"a spatial readout needs feature maps (n_stimuli, channels, height, width); got X of "
            f"shape {F.shape}. Pass 4-D maps, or 2-D flattened maps with feature_shape=(C, H, W); "
            "for pooled or token features without spatial axes use RidgeEncoder or AttentionReadout."
        )
    return F


def as_tokens(X: Any, feature_shape: tuple[int, ...] | None = None) -> tuple[np.ndarray, tuple]:
    """``X`` as float32 tokens (n_stimuli, n_tokens, dim) and the grid of the tokens.

    3-D input is tokens (grid ``(T,)``); 4-D feature maps (n, C, H, W) become H·W tokens of
    dimension C (grid ``(H, W)``); 2-D input is reshaped with ``feature_shape`` (``(T, D)`` or
    ``(C, H, W)``).
    """
    T = _stack(X, "X")
    if T.ndim == 2 and feature_shape is not None:
        if math.prod(feature_shape) != T.shape[1] or len(feature_shape) not in (2, 3):
            raise ShapeError(
                f"feature_shape={feature_shape!r} does not fit X with {T.shape[1]} features per "
                "stimulus; give (n_tokens, dim) or (channels, height, width)."
            )
        T = T.reshape(len(T), *feature_shape)
    if T.ndim == 4:
        n, c, h, w = T.shape
        return np.ascontiguousarray(T.reshape(n, c, h * w).transpose(0, 2, 1)), (h, w)
    if T.ndim != 3:
        raise ShapeError(
            f"an attention readout needs tokens (n_stimuli, n_tokens, dim) or feature maps "
            f"(n_stimuli, channels, height, width); got X of shape {T.shape}. For 2-D flattened "
            "features pass feature_shape=(n_tokens, dim) or (C, H, W)."
        )
    return T, (T.shape[1],)


# ----------------------------------------------------------------------------- shared base
class _TorchReadout(BaseEstimator):
    """Validation, the score methods and the fitted-state check shared by the readouts.

    Subclasses list their own hyperparameters in ``_positive`` (must be > 0) and ``_non_negative``
    (must be >= 0, e.g. penalty weights); ``fit`` checks them before any work."""

    _positive: tuple[str, ...] = ()
    _non_negative: tuple[str, ...] = ()

    def _prepare(self, X: np.ndarray, y: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        check_not_strings(y, "y (the responses)")
        for name in ("lr", "batch_size", "max_epochs", "patience", *self._positive):
            check_positive(getattr(self, name), name)
        for name in self._non_negative:
            check_positive(getattr(self, name), name, strict=False)
        Y, self._y_1d = check_responses(y, len(X))
        tr, va = train_val_split(len(X), self.val_fraction, self.seed)
        self.device_ = str(torch_device(self.device))
        self.n_targets_ = Y.shape[1]
        return Y, tr, va

    def _finish(self, pred: np.ndarray) -> np.ndarray:
        return pred[:, 0] if self._y_1d else pred

    def score_targets(self, X: Any, y: Any) -> np.ndarray:
        """Pearson r of the predictions per target, shape (n_targets,)."""
        Y = check_array(y, "y", ndim=(1, 2))
        pred = np.asarray(self.predict(X))
        n_y = 1 if Y.ndim == 1 else Y.shape[1]
        if len(Y) != len(pred) or n_y != self.n_targets_:
            raise ShapeError(
                f"y has shape {Y.shape} but X has {len(pred)} stimuli and this readout predicts "
                f"{self.n_targets_} target(s); pass y of shape ({len(pred)}, {self.n_targets_})."
            )
        pred = pred.reshape(len(Y), -1)
        return pearson_score(Y.reshape(len(Y), -1).astype(np.float64), pred.astype(np.float64))

    def score(self, X: Any, y: Any, sample_weight: Any = None) -> float:
        """Mean Pearson r over targets (one float; per target: :meth:`score_targets`)."""
        if sample_weight is not None:
            raise ValidationError(f"{type(self).__name__}.score does not support sample_weight.")
        return float(np.nanmean(self.score_targets(X, y)))

    @property
    def best_cv_scores_(self) -> np.ndarray:
        """Validation-split Pearson r per target at the kept epoch (training data only)."""
        check_is_fitted(self)
        return self.val_scores_


def _standardize(a: np.ndarray, axes: tuple[int, ...]) -> tuple[np.ndarray, np.ndarray]:
    mean = a.mean(axes, dtype=np.float64)
    sd = a.std(axes, dtype=np.float64)
    return mean.astype(np.float32), np.where(sd > 0, sd, 1.0).astype(np.float32)
