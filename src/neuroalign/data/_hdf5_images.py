"""Images stored in an HDF5 brick, read one at a time (NSD's ``nsd_stimuli.hdf5``).

A :class:`HDF5Image` is a lazy reference (file, dataset, index) that a
:class:`~neuroalign.core.StimulusSet` holds like a path: ``StimulusSet.load_image`` turns it into
pixels with ``numpy.asarray``, which reads that one image from disk (an HDF5 hyperslab), never the
brick. It pickles as the three fields, so DataLoader and Dask workers open the file themselves.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from ..core._validation import require
from ..core.exceptions import ShapeError, ValidationError

__all__ = ["HDF5Image", "hdf5_images"]


class HDF5Image:
    """Image ``index`` of the ``(n, H, W, 3)`` dataset ``dataset`` in the HDF5 file ``path``.

    ``numpy.asarray(ref)`` reads it (``(H, W, 3)``, the file's dtype); nothing is read before.
    """

    __slots__ = ("dataset", "index", "path")

    def __init__(self, path: str | Path, dataset: str, index: int) -> None:
        self.path = str(path)
        self.dataset = dataset
        self.index = int(index)

    def __array__(self, dtype: Any = None, copy: Any = None) -> np.ndarray:
        h5py = require("h5py", "neuro", "reading images from HDF5")
        with h5py.File(self.path, "r") as f:
            a = np.asarray(f[self.dataset][self.index])
        return a if dtype is None else a.astype(dtype, copy=False)

    def __getstate__(self) -> tuple[str, str, int]:
        return self.path, self.dataset, self.index

    def __setstate__(self, state: tuple[str, str, int]) -> None:
        self.path, self.dataset, self.index = state

    def __repr__(self) -> str:
        return f"HDF5Image({self.path!r}, {self.dataset!r}, {self.index})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, HDF5Image) and self.__getstate__() == other.__getstate__()

    def __hash__(self) -> int:
        return hash(self.__getstate__())


def hdf5_images(path: str | Path, dataset: str, indices: Any) -> list[HDF5Image]:
    """Lazy references to ``indices`` (0-based) of ``dataset``, after checking (from the file's
    header only) that it is an ``(n, H, W, 3)`` brick holding every index."""
    h5py = require("h5py", "neuro", "reading images from HDF5")
    idx = np.asarray(indices, dtype=np.int64)
    try:
        with h5py.File(path, "r") as f:
            if dataset not in f:
                raise ValidationError(
                    f"{str(path)!r} has no dataset {dataset!r}; it holds {list(f)[:8]}."
                )
            shape = f[dataset].shape
    except OSError as err:
        raise ValidationError(f"cannot open {str(path)!r} as HDF5: {err}.") from err
    if len(shape) != 4 or shape[-1] != 3:
        raise ShapeError(
            f"{str(path)!r}:{dataset} has shape {shape}; expected (n_images, height, width, 3)."
        )
    if idx.size and (idx.min() < 0 or idx.max() >= shape[0]):
        raise ShapeError(
            f"{str(path)!r}:{dataset} holds {shape[0]} images; asked for index "
            f"{int(idx.max() if idx.max() >= shape[0] else idx.min())}."
        )
    return [HDF5Image(path, dataset, int(i)) for i in idx]
