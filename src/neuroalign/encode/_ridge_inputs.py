"""The inputs of the ridge solvers: targets read in chunks (:class:`TargetReader`), folds,
the α grid, feature moments and scaled copies of X, and constant-target detection.

Everything here is checked or prepared once and then shared by the k-fold, GCV and banded
solvers (``_ridge``, ``_banded``); none of it fits anything.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, cast

import numpy as np

from ..core._backend import Backend, chunk_slices, targets_per_chunk
from ..core._validation import check_array, check_n_samples, check_same_length
from ..core.exceptions import ShapeError, ValidationError

__all__ = ["TargetReader", "check_alphas", "make_folds"]

#: Targets per chunk at most: keeps each α's (n_val × chunk) residual block in cache.
_MAX_CHUNK = 1024
_DTYPES = {"float32": np.float32, "float64": np.float64}


#: Bytes of float64 scratch used when computing feature moments (bounded, never a copy of X).
_SCRATCH = 1 << 23


@dataclass(frozen=True, eq=False)
class TargetReader:
    """Reads column chunks of ``Y`` restricted to ``rows`` and ``cols`` without copying ``Y``.

    The solvers only ever touch ``Y`` through :meth:`read`, so ``Y`` may be memory-mapped and a
    training subset of stimuli (``rows``) or of targets (``cols``) costs no copy of ``Y``.
    """

    Y: Any
    rows: np.ndarray | None = None
    cols: np.ndarray | None = None

    @property
    def n(self) -> int:
        return len(self.rows) if self.rows is not None else int(self.Y.shape[0])

    @property
    def t(self) -> int:
        return len(self.cols) if self.cols is not None else int(self.Y.shape[1])

    def read(self, sl: slice, dtype: Any = np.float32) -> np.ndarray:
        """Columns ``sl`` (of the selected targets), selected rows, as a new contiguous array
        (never a view of ``Y``: callers may modify it in place)."""
        c = sl if self.cols is None else self.cols[sl]
        if self.rows is None:
            block = self.Y[:, c]
        elif self.cols is None:
            block = self.Y[self.rows, c]
        else:
            block = self.Y[np.ix_(self.rows, cast(np.ndarray, c))]
        out = np.ascontiguousarray(block, dtype=dtype)
        return out.copy() if np.may_share_memory(out, self.Y) else out

    def subset(self, cols: np.ndarray) -> TargetReader:
        """The reader of the targets ``cols`` (indices into this reader's targets)."""
        base = cols if self.cols is None else self.cols[cols]
        return TargetReader(self.Y, self.rows, base)

    def first_row(self) -> np.ndarray:
        r = 0 if self.rows is None else int(self.rows[0])
        row = np.array(self.Y[r], dtype=np.float64)  # a copy: callers write into it
        return row if self.cols is None else row[self.cols]


def make_folds(
    n: int,
    cv: int | Any = 5,
    groups: np.ndarray | None = None,
    shuffle: bool = True,
    seed: int | None = 0,
) -> list[tuple[np.ndarray, np.ndarray]]:
    """Train/validation index pairs.

    ``cv`` is an int (k-fold; shuffled with ``seed`` by default, contiguous with
    ``shuffle=False``; group k-fold when ``groups`` is given, so runs/sessions are never split)
    or any scikit-learn splitter (used as given).
    """
    from sklearn.model_selection import GroupKFold, KFold

    if _is_int(cv):
        if cv < 2:
            raise ValidationError(
                f"cv must be an integer >= 2 (number of folds), 'gcv' or a scikit-learn splitter; "
                f"got {cv}."
            )
        if groups is not None:
            groups = np.asarray(groups)
            check_same_length("groups", len(groups), "stimuli", n)
            n_groups = len(np.unique(groups))
            if n_groups < cv:
                raise ValidationError(
                    f"cv={cv} folds but groups has only {n_groups} distinct values; "
                    f"use cv <= {n_groups}."
                )
            # groups are kept whole; shuffling would only reorder which groups share a fold
            splitter: Any = GroupKFold(n_splits=int(cv))
        else:
            check_n_samples(n, int(cv))
            splitter = KFold(
                n_splits=int(cv), shuffle=bool(shuffle), random_state=seed if shuffle else None
            )
    elif hasattr(cv, "split"):
        splitter = cv
    else:
        raise ValidationError(
            f"cv must be an integer >= 2, 'gcv' or a scikit-learn splitter; got {cv!r}."
        )
    dummy = np.zeros((n, 1))
    folds = [(np.asarray(tr), np.asarray(va)) for tr, va in splitter.split(dummy, None, groups)]
    if not folds or any(len(tr) == 0 or len(va) == 0 for tr, va in folds):
        raise ValidationError(f"cv={cv!r} produced no folds or an empty fold.")
    return folds


def _is_int(v: Any) -> bool:
    return isinstance(v, (int, np.integer)) and not isinstance(v, bool)


def check_alphas(alphas: Any) -> np.ndarray:
    """The α grid as a sorted float64 array; a clear error for strings, empties and bad values."""
    if isinstance(alphas, (str, bytes)):
        raise ValidationError(
            f"alphas must be a sequence of positive numbers, e.g. np.logspace(-1, 7, 17) or "
            f"[1.0, 10.0]; got the string {alphas!r} (split it into numbers first)."
        )
    try:
        arr = np.atleast_1d(
            np.asarray(list(alphas) if not np.isscalar(alphas) else [alphas], dtype=np.float64)
        )
    except (TypeError, ValueError) as err:
        raise ValidationError(
            f"alphas must be a sequence of positive numbers, e.g. np.logspace(-1, 7, 17); "
            f"got {alphas!r} ({err})."
        ) from err
    if arr.ndim != 1 or arr.size == 0 or (arr <= 0).any() or not np.isfinite(arr).all():
        raise ValidationError(f"alphas must be positive and finite; got {arr.tolist()}.")
    return np.sort(arr)


def _check_inputs(X: Any, Y: Any, alphas: Iterable[float]) -> tuple[np.ndarray, Any, np.ndarray]:
    X = check_array(X, "X", ndim=2, min_rows=2)
    if isinstance(Y, TargetReader):
        reader = Y
    else:
        if not hasattr(Y, "shape") or not hasattr(Y, "dtype"):
            Y = check_array(Y, "Y", ndim=(1, 2), allow_nan=True)
        if Y.ndim == 1:
            Y = np.asarray(Y)[:, None]
        if Y.ndim != 2:
            raise ShapeError(f"Y must be 1-D or 2-D; got shape {Y.shape}.")
        reader = TargetReader(Y)
    check_same_length("X rows (stimuli)", X.shape[0], "Y rows (stimuli)", reader.n)
    return X, reader, check_alphas(alphas)


def _block_rows(n: int, row_bytes: int) -> int:
    """Rows per scratch block: at most ``_SCRATCH`` bytes and an eighth of the rows."""
    return max(1, min(_SCRATCH // max(1, row_bytes), -(-n // 8)))


def _gather(X: np.ndarray, rows: np.ndarray | slice, dtype: Any) -> np.ndarray:
    """``X[rows]`` as a new contiguous array of ``dtype``, converted block by block."""
    idx = np.arange(X.shape[0])[rows] if isinstance(rows, slice) else np.asarray(rows)
    out = np.empty((len(idx), X.shape[1]), dtype=dtype)
    step = _block_rows(len(idx), X.shape[1] * X.itemsize)
    for sl in chunk_slices(len(idx), step):
        part = idx[sl]
        if part.size and part[-1] - part[0] == part.size - 1 and (np.diff(part) == 1).all():
            out[sl] = X[part[0] : part[-1] + 1]
        else:
            out[sl] = X[part]
    return out


def _moments(x: np.ndarray, standardize: bool) -> tuple[np.ndarray, np.ndarray]:
    """Column mean and SD (float64) of ``x`` from bounded float64 blocks (no copy of ``x``)."""
    mean = x.mean(0, dtype=np.float64)
    if not standardize:
        return mean, np.ones(x.shape[1])
    acc = np.zeros(x.shape[1])
    step = _block_rows(x.shape[0], x.shape[1] * 8)
    for sl in chunk_slices(x.shape[0], step):
        d = x[sl] - mean
        acc += np.einsum("ij,ij->j", d, d)
    return mean, np.sqrt(acc / x.shape[0])


def _prepare_x(
    bk: Backend,
    X: np.ndarray,
    rows: np.ndarray | slice,
    fit_intercept: bool,
    standardize: bool,
    weights: np.ndarray | None = None,
) -> tuple[Any, np.ndarray, np.ndarray]:
    """Centred (and scaled) copy of ``X[rows]`` in the backend's dtype, scaled in place.

    ``weights`` multiply the (standardised) features after scaling (banded ridge's √γ).
    Returns the backend array and the float64 mean and effective scale (divide by it).
    """
    x = _gather(X, rows, _DTYPES[bk.dtype])
    mean, sd = _moments(x, standardize)
    if not (fit_intercept or standardize):
        mean = np.zeros(X.shape[1])
    scale = np.where(sd > 0, sd, 1.0)
    if weights is not None:
        scale = scale / np.maximum(np.asarray(weights, dtype=np.float64), 1e-12)
    x -= mean.astype(x.dtype)
    x *= (1.0 / scale).astype(x.dtype)
    return bk.asarray(x), mean, scale


def _scaled_rows(
    bk: Backend, X: np.ndarray, rows: np.ndarray, mean: np.ndarray, scale: np.ndarray
) -> Any:
    x = _gather(X, rows, _DTYPES[bk.dtype])
    x -= mean.astype(x.dtype)
    x *= (1.0 / scale).astype(x.dtype)
    return bk.asarray(x)


def _constant_targets(reader: TargetReader, memory_budget: int, name: str = "Y") -> np.ndarray:
    """Zero-variance targets, found chunk by chunk (Y is never read whole); NaN/inf raise."""
    const = np.zeros(reader.t, dtype=bool)
    bad: list[np.ndarray] = []
    n_bad = 0
    step = min(4 * _MAX_CHUNK, targets_per_chunk(8 * reader.n, memory_budget))
    for sl in chunk_slices(reader.t, step):
        block = reader.read(sl, None)
        high, low = block.max(0), block.min(0)  # NaN and ±inf show in these: two passes, not 3
        if not (np.isfinite(high).all() and np.isfinite(low).all()):
            finite = np.isfinite(block)
            n_bad += int((~finite).sum())
            bad.append(np.flatnonzero(~finite.all(0)) + sl.start)
        const[sl] = high == low
    if bad:
        cols = np.concatenate(bad)
        raise ValidationError(
            f"{name} contains {n_bad} NaN or infinite value(s) (shape {(reader.n, reader.t)}); "
            f"{cols.size} target(s) affected, first: {cols[:5].tolist()}. Drop or impute them "
            "before this step (e.g. exclude NaN voxels with a mask)."
        )
    return const
