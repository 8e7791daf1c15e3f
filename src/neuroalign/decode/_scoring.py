"""Classification scores vectorised over leading axes (time, training time, permutations), and
their chance levels.

Each scorer takes ``y`` ``(n_samples,)`` class indices ``0..K-1``, ``pred`` ``(..., n_samples)``
predicted indices and ``decision`` ``(..., n_samples, K)`` (``K = 1`` for two classes: the score of
class 1) and returns ``(...)`` scores, so one call scores every time point of every fold.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from scipy.stats import rankdata

from ..core._registry import lookup, register

__all__ = ["CLASSIFICATION_SCORES", "accuracy", "balanced_accuracy", "chance_level", "roc_auc"]

CLASSIFICATION_SCORES: dict[str, Callable[..., np.ndarray]] = {}


@register(CLASSIFICATION_SCORES)
def accuracy(y: np.ndarray, pred: np.ndarray, decision: np.ndarray) -> np.ndarray:
    """Fraction of samples whose predicted class is the true one."""
    return (pred == y).mean(-1)


@register(CLASSIFICATION_SCORES)
def balanced_accuracy(y: np.ndarray, pred: np.ndarray, decision: np.ndarray) -> np.ndarray:
    """Mean over the classes present in ``y`` of the recall (fraction of that class found)."""
    hits = pred == y
    return np.mean([hits[..., y == k].mean(-1) for k in np.unique(y)], axis=0)


def _auc(positive: np.ndarray, score: np.ndarray) -> np.ndarray:
    """Mann–Whitney AUC of ``score (..., n)`` for the boolean ``positive (n,)`` (ties count 1/2)."""
    ranks = rankdata(score, axis=-1)
    n_pos = positive.sum()
    n_neg = positive.size - n_pos
    return (ranks[..., positive].sum(-1) - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg)


@register(CLASSIFICATION_SCORES)
def roc_auc(y: np.ndarray, pred: np.ndarray, decision: np.ndarray) -> np.ndarray:
    """Area under the ROC curve of the decision values; one-vs-rest macro average for K > 2."""
    if decision.shape[-1] == 1:
        return _auc(y == 1, decision[..., 0])
    return np.mean([_auc(y == k, decision[..., k]) for k in np.unique(y)], axis=0)


def get_scorer(name: str) -> Callable[..., np.ndarray]:
    return lookup(CLASSIFICATION_SCORES, name, "scoring")


def chance_level(scoring: str, y: np.ndarray) -> float:
    """The score a decoder without information reaches on labels ``y``.

    ``accuracy``: the frequency of the most common class (always guessing it); ``balanced_accuracy``:
    ``1 / n_classes``; ``roc_auc``: 0.5.
    """
    get_scorer(scoring)
    _, counts = np.unique(y, return_counts=True)
    if scoring == "accuracy":
        return float(counts.max() / counts.sum())
    if scoring == "balanced_accuracy":
        return 1.0 / len(counts)
    return 0.5
