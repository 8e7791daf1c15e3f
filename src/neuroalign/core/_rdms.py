"""``RDMs``: representational dissimilarity matrices over one set of stimuli."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

import numpy as np
import pandas as pd

from ._ids import positions
from ._validation import check_array, check_ids, require
from .exceptions import ShapeError, ValidationError

__all__ = ["RDMs", "condensed_index", "n_stimuli_from_pairs"]


def n_stimuli_from_pairs(n_pairs: int) -> int:
    """Number of stimuli ``n`` with ``n (n - 1) / 2 == n_pairs``; raises if there is none."""
    n = round((1 + np.sqrt(1 + 8 * n_pairs)) / 2)
    if n * (n - 1) // 2 != n_pairs:
        raise ShapeError(f"{n_pairs} is not a valid condensed RDM length n(n-1)/2.")
    return n


def condensed_index(n: int) -> tuple[np.ndarray, np.ndarray]:
    """Row and column of each condensed entry (scipy ``squareform`` order: upper triangle, row-major)."""
    return np.triu_indices(n, k=1)


def _reads_as_square(d: np.ndarray) -> bool:
    """An ``(n, n)`` array over ``n`` stimuli is one square RDM — except for ``n = 3``, where
    three condensed RDMs have the same shape: read as square when it is symmetric with a zero
    diagonal (three condensed RDMs are that only if each has a zero dissimilarity)."""
    n = d.shape[0]
    if n != 3:
        return True
    return bool(np.allclose(d, d.T) and not np.diagonal(d).any())


@dataclass(frozen=True, eq=False)
class RDMs:
    """A stack of RDMs over the same stimuli, stored as condensed vectors.

    Parameters
    ----------
    dissimilarities : array, shape (n_rdms, n_pairs) or (n_rdms, n_stimuli, n_stimuli)
        Condensed vectors in scipy ``squareform`` order (upper triangle, row by row), or square
        symmetric matrices with a zero diagonal (converted to condensed).
    stimulus_ids : sequence of str
        The stimuli, in the order of the rows/columns.
    descriptors : pandas.DataFrame, optional
        One row per RDM (subject, session, layer, time, ...).
    metric : str
        The dissimilarity measure, e.g. ``"correlation"``.
    meta : mapping
        Free-form pass-through information.

    Examples
    --------
    >>> import numpy as np
    >>> from neuroalign import RDMs
    >>> r = RDMs(np.array([[1.0, 2.0, 3.0]]), ["a", "b", "c"])
    >>> r.square()[0]
    array([[0., 1., 2.],
           [1., 0., 3.],
           [2., 3., 0.]])
    """

    dissimilarities: np.ndarray
    stimulus_ids: np.ndarray
    descriptors: pd.DataFrame | None = None
    metric: str = "unknown"
    meta: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        ids = check_ids(self.stimulus_ids, "stimulus_ids")
        d = check_array(self.dissimilarities, "dissimilarities", ndim=(1, 2, 3), dtype=np.float64)
        n = len(ids)
        if d.ndim == 3 or (d.ndim == 2 and d.shape == (n, n) and _reads_as_square(d)):
            d = d[None] if d.ndim == 2 else d
            if d.shape[1:] != (n, n):
                raise ShapeError(
                    f"square dissimilarities must be (n_rdms, {n}, {n}); got {d.shape}."
                )
            tol = 1e-8 * max(1.0, np.abs(d).max())
            if not np.allclose(d, d.transpose(0, 2, 1), atol=tol):
                raise ValidationError("square dissimilarities must be symmetric.")
            diag = np.abs(np.diagonal(d, axis1=1, axis2=2)).max()
            if diag > tol:
                raise ValidationError(
                    f"square dissimilarities must have a zero diagonal (a stimulus is not "
                    f"dissimilar to itself); the largest diagonal value is {diag:.3g}. A "
                    "similarity matrix (correlations: diagonal 1) reverses every comparison; "
                    "pass 1 − S, or the distances."
                )
            rows, cols = condensed_index(n)
            d = d[:, rows, cols]
        elif d.ndim == 1:
            d = d[None]
        if d.shape[1] != n * (n - 1) // 2:
            raise ShapeError(
                f"dissimilarities has {d.shape[1]} entries per RDM but {n} stimuli need "
                f"{n * (n - 1) // 2} (condensed, n(n-1)/2)."
            )
        desc = self.descriptors
        if desc is None:
            desc = pd.DataFrame({"rdm": [f"rdm{i}" for i in range(d.shape[0])]})
        desc = pd.DataFrame(desc).reset_index(drop=True)
        if len(desc) != d.shape[0]:
            raise ShapeError(f"descriptors has {len(desc)} rows but there are {d.shape[0]} RDMs.")
        d = d.view()
        d.setflags(write=False)
        object.__setattr__(self, "dissimilarities", d)
        object.__setattr__(self, "stimulus_ids", ids)
        object.__setattr__(self, "descriptors", desc)
        object.__setattr__(self, "meta", MappingProxyType(dict(self.meta)))

    @property
    def n_rdms(self) -> int:
        return int(self.dissimilarities.shape[0])

    @property
    def n_stimuli(self) -> int:
        return len(self.stimulus_ids)

    def __len__(self) -> int:
        return self.n_rdms

    def __repr__(self) -> str:
        return f"RDMs(n_rdms={self.n_rdms}, n_stimuli={self.n_stimuli}, metric={self.metric!r})"

    def square(self) -> np.ndarray:
        """The RDMs as square matrices, shape (n_rdms, n_stimuli, n_stimuli)."""
        n = self.n_stimuli
        out = np.zeros((self.n_rdms, n, n), dtype=self.dissimilarities.dtype)
        rows, cols = condensed_index(n)
        out[:, rows, cols] = self.dissimilarities
        out[:, cols, rows] = self.dissimilarities
        return out

    def take(self, idx: Sequence[int] | np.ndarray) -> RDMs:
        """The RDMs restricted to (and reordered as) the stimuli at positions ``idx`` (no repeats)."""
        idx = np.asarray(idx, dtype=np.intp)
        sq = self.square()[:, idx][:, :, idx]
        return RDMs(sq, self.stimulus_ids[idx], self.descriptors, self.metric, self.meta)

    def select(self, ids: Sequence[Any]) -> RDMs:
        """The RDMs over the given stimulus ids, in that order."""
        return self.take(positions(self.stimulus_ids, ids, "RDMs"))

    def subset(self, mask: Sequence[bool] | np.ndarray) -> RDMs:
        """The RDMs (rows) where ``mask`` is true, or at the given positions."""
        assert self.descriptors is not None
        idx = np.asarray(mask)
        idx = np.flatnonzero(idx) if idx.dtype == bool else idx
        return RDMs(
            self.dissimilarities[idx],
            self.stimulus_ids,
            self.descriptors.iloc[idx],
            self.metric,
            self.meta,
        )

    def mean(self) -> RDMs:
        """The average RDM."""
        return RDMs(
            self.dissimilarities.mean(axis=0, keepdims=True),
            self.stimulus_ids,
            None,
            self.metric,
            self.meta,
        )

    def to_pandas(self) -> pd.DataFrame:
        """Long table: one row per RDM × stimulus pair, with the descriptors."""
        assert self.descriptors is not None
        rows, cols = condensed_index(self.n_stimuli)
        n_pairs = len(rows)
        df = pd.DataFrame(
            {
                "rdm_index": np.repeat(np.arange(self.n_rdms), n_pairs),
                "stimulus_a": np.tile(self.stimulus_ids[rows], self.n_rdms),
                "stimulus_b": np.tile(self.stimulus_ids[cols], self.n_rdms),
                "dissimilarity": self.dissimilarities.reshape(-1),
            }
        )
        return df.join(self.descriptors, on="rdm_index")

    def to_xarray(self) -> Any:
        """An ``xarray.DataArray`` (rdm, stimulus_a, stimulus_b) of the square matrices."""
        xr = require("xarray", "io", "RDMs.to_xarray")
        assert self.descriptors is not None
        coords: dict[str, Any] = {"stimulus_a": self.stimulus_ids, "stimulus_b": self.stimulus_ids}
        for col in self.descriptors.columns:
            coords[col] = ("rdm", self.descriptors[col].to_numpy())
        return xr.DataArray(
            self.square(),
            dims=("rdm", "stimulus_a", "stimulus_b"),
            coords=coords,
            attrs={"metric": self.metric},
        )
