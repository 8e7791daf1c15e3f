"""Input checks and cross-validation splitters shared by the decoders (raised before any fitting)."""

from __future__ import annotations

from typing import Any

import numpy as np

from ..core._validation import check_array, check_positive, check_same_length
from ..core.exceptions import ConfigurationError, ShapeError, ValidationError

__all__ = [
    "check_alpha",
    "check_counts",
    "check_epochs",
    "check_labels",
    "check_shrinkage",
    "make_cv",
]

#: the shrinkage strings the batched LDA implements (scikit-learn's LDA takes the same one)
SHRINKAGE_METHODS = ("auto",)


def check_alpha(alpha: Any, name: str = "alpha") -> float:
    """A ridge penalty: a finite number >= 0 (scikit-learn's ``RidgeClassifier`` rule)."""
    try:
        value = float(alpha)
    except (TypeError, ValueError):
        raise ValidationError(f"{name} must be a number >= 0; got {alpha!r}.") from None
    return check_positive(value, name, strict=False)


def check_shrinkage(shrinkage: Any) -> float | str:
    """An LDA shrinkage: a weight in [0, 1], ``None`` (no shrinkage, 0) or ``"auto"``
    (Ledoit–Wolf)."""
    if isinstance(shrinkage, str):
        if shrinkage in SHRINKAGE_METHODS:
            return shrinkage
    elif shrinkage is None:
        return 0.0
    else:
        try:
            value = float(shrinkage)
        except (TypeError, ValueError):
            value = np.nan
        if 0.0 <= value <= 1.0:
            return value
    raise ValidationError(
        f"shrinkage must be a weight in [0, 1], None or one of {list(SHRINKAGE_METHODS)} "
        f"(Ledoit–Wolf); got {shrinkage!r}."
    )


def check_labels(y: Any, n_samples: int, name: str = "y") -> tuple[np.ndarray, np.ndarray]:
    """``y`` as a 1-D array and its sorted classes; one class, or a length mismatch, raises."""
    y = np.asarray(y)
    if y.ndim != 1:
        raise ShapeError(f"{name} must be 1-D (one label per sample); got shape {y.shape}.")
    if n_samples == 0 or len(y) == 0:
        raise ValidationError(
            f"no trials: the brain data has {n_samples} sample(s) and {name} {len(y)} label(s); "
            "decoding needs trials of at least two classes."
        )
    check_same_length(name, len(y), "the brain data", n_samples)
    if y.dtype.kind == "f" and not np.isfinite(y).all():
        raise ValidationError(f"{name} contains NaN labels; drop those samples first.")
    classes = np.unique(y)
    if (
        y.dtype.kind == "f"
        and len(classes) > max(2, len(y) // 2)
        and not np.all(classes == np.round(classes))
    ):
        raise ValidationError(
            f"{name} looks continuous ({len(classes)} distinct non-integer values among {len(y)} "
            "samples), not class labels; a classifier needs labels. To predict continuous "
            "values, use the embedding decoder (decode_embeddings / RidgeDecoder) or a regressor."
        )
    if len(classes) < 2:
        raise ValidationError(
            f"{name} has a single class ({classes.tolist()}); decoding needs at least two classes."
        )
    return y, classes


def check_counts(
    n_permutations: Any = 0,
    *,
    step: Any = 1,
    window: Any = None,
    cluster_alpha: Any = 0.05,
) -> None:
    """The counts and levels of a decoding call, checked before any fitting: ``n_permutations``
    an integer >= 0, ``step`` an integer >= 1, ``window`` None or an integer >= 1,
    ``cluster_alpha`` in (0, 1)."""
    hints = {
        "n_permutations": "0 (no p-values) or a count such as 1000",
        "step": "1 (every time sample) or a larger stride",
    }
    for value, name, low in ((n_permutations, "n_permutations", 0), (step, "step", 1)):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < low:
            raise ValidationError(
                f"{name} must be an integer >= {low}; got {value!r}. Use {hints[name]}."
            )
    if window is not None and (
        isinstance(window, bool) or not isinstance(window, (int, np.integer)) or window < 1
    ):
        raise ValidationError(
            f"window must be None (one time sample per step) or an integer >= 1; got {window!r}."
        )
    try:
        ok = 0.0 < float(cluster_alpha) < 1.0
    except (TypeError, ValueError):
        ok = False
    if not ok:
        raise ValidationError(
            f"cluster_alpha must be a level between 0 and 1 (e.g. 0.05); got {cluster_alpha!r}."
        )


def check_epochs(epochs: Any, name: str = "epochs") -> np.ndarray:
    """Epochs ``(n_epochs, n_channels, n_times)``; NaN epochs raise, listing which epochs."""
    x = check_array(epochs, name, ndim=3, allow_nan=True)
    if not np.issubdtype(x.dtype, np.floating):
        x = x.astype(np.float64)
    bad = ~np.isfinite(x).all(axis=(1, 2))
    if bad.any():
        raise ValidationError(
            f"{name} has NaN or infinite values in {int(bad.sum())} epoch(s), first: "
            f"{np.flatnonzero(bad)[:5].tolist()}; drop those epochs (and their labels) first."
        )
    return x


def make_cv(cv: Any, y: np.ndarray, groups: np.ndarray | None, seed: int = 0) -> list[tuple]:
    """Train/test index pairs: an int (stratified k-fold, or group k-fold with ``groups``),
    ``"loro"`` (leave one group out), or any scikit-learn splitter / iterable of pairs.

    Raises when a class has fewer samples than folds (stratified k-fold could not keep every class
    in every training set) or when a split leaves one class in a training set.
    """
    from sklearn.model_selection import (
        GroupKFold,
        LeaveOneGroupOut,
        StratifiedGroupKFold,
        StratifiedKFold,
    )

    if groups is not None:
        groups = np.asarray(groups)
        check_same_length("groups", len(groups), "y", len(y))
    if cv is None:
        cv = "loro" if groups is not None else 5
    classes, counts = np.unique(y, return_counts=True)
    if isinstance(cv, str):
        if cv != "loro":
            raise ConfigurationError(
                f"cv={cv!r} is not supported; give an int (k folds), 'loro' (leave one group out), "
                "a scikit-learn splitter or a list of (train, test) index pairs."
            )
        if groups is None:
            raise ConfigurationError("cv='loro' needs groups (e.g. the run of each sample).")
        if len(np.unique(groups)) < 2:
            raise ValidationError(
                f"groups holds a single group ({np.unique(groups).tolist()}); run-aware "
                "cross-validation (leave one group out) needs at least 2 groups (e.g. runs). "
                "Give the run of each sample, or no groups and cv=k folds."
            )
        splitter: Any = LeaveOneGroupOut()
    elif isinstance(cv, (int, np.integer)):
        k = int(cv)
        if k < 2:
            raise ConfigurationError(f"cv={k} folds; use at least 2.")
        if counts.min() < k:
            low = classes[counts.argmin()]
            raise ValidationError(
                f"class {low!r} has {counts.min()} sample(s), fewer than cv={k} folds; "
                f"use cv<={counts.min()} or more samples of that class."
            )
        if groups is not None:
            if len(np.unique(groups)) < k:
                raise ValidationError(
                    f"groups has {len(np.unique(groups))} distinct values, fewer than cv={k} folds."
                )
            splitter = StratifiedGroupKFold(k) if counts.min() >= k else GroupKFold(k)
        else:
            splitter = StratifiedKFold(k, shuffle=True, random_state=seed)
    else:
        splitter = cv
    if hasattr(splitter, "split"):
        splits = list(splitter.split(np.zeros((len(y), 1)), y, groups))
    else:
        splits = [(np.asarray(a), np.asarray(b)) for a, b in splitter]
    for i, (train, _test) in enumerate(splits):
        if len(np.unique(y[train])) < 2:
            raise ValidationError(
                f"cross-validation split {i} has a single class in its training set; use "
                "stratified folds or groups that each contain every class."
            )
    return splits
