"""Per-target scores ``*_score(y_true, y_pred)``; they work on NumPy arrays and torch tensors.

Each returns one value per column (target). A constant column gives NaN for the correlation (there
is no correlation with a constant), never a silent zero.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ._registry import register

__all__ = ["SCORES", "neg_mse_score", "pearson_score", "r2_score"]

SCORES: dict[str, Any] = {}


@register(SCORES)
def pearson_score(y_true: Any, y_pred: Any) -> Any:
    """Pearson correlation per column.

    Parameters
    ----------
    y_true, y_pred : arrays of shape (n_stimuli, n_targets)

    Returns
    -------
    array of shape (n_targets,)

    Examples
    --------
    >>> import numpy as np
    >>> pearson_score(np.array([[1.0], [2.0], [3.0]]), np.array([[2.0], [4.0], [7.0]])).round(3)
    array([0.993])
    """
    yt = y_true - y_true.mean(0)
    yp = y_pred - y_pred.mean(0)
    num = (yt * yp).sum(0)
    den = ((yt * yt).sum(0) * (yp * yp).sum(0)) ** 0.5
    with np.errstate(invalid="ignore", divide="ignore"):
        return num / den


@register(SCORES)
def r2_score(y_true: Any, y_pred: Any) -> Any:
    """Coefficient of determination per column, ``1 - SS_res / SS_tot`` (can be negative).

    Examples
    --------
    >>> import numpy as np
    >>> r2_score(np.array([[1.0], [2.0], [3.0]]), np.array([[1.0], [2.0], [4.0]])).round(3)
    array([0.5])
    """
    ss_res = ((y_true - y_pred) ** 2).sum(0)
    ss_tot = ((y_true - y_true.mean(0)) ** 2).sum(0)
    with np.errstate(invalid="ignore", divide="ignore"):
        return 1.0 - ss_res / ss_tot


@register(SCORES)
def neg_mse_score(y_true: Any, y_pred: Any) -> Any:
    """Negative mean squared error per column (higher is better, like the other scores).

    Examples
    --------
    >>> import numpy as np
    >>> neg_mse_score(np.array([[1.0], [2.0]]), np.array([[1.0], [4.0]]))
    array([-2.])
    """
    return -((y_true - y_pred) ** 2).mean(0)
