"""Brain maps: per-voxel scores written back into their volume (NIfTI, with the data's affine) and
drawn with nilearn (glass brain)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from ..core._validation import require
from ..core.exceptions import ShapeError, ValidationError
from ._plots import _axes

__all__ = ["plot_brain_map", "scores_to_nifti"]


def scores_to_nifti(
    values: np.ndarray, mask: np.ndarray, affine: np.ndarray, path: str | Path | None = None
) -> Any:
    """A ``nibabel.Nifti1Image`` holding ``values`` at the ``True`` voxels of ``mask`` (C order,
    the order the loaders list targets in) and NaN elsewhere; saved to ``path`` when given.

    Parameters
    ----------
    values : array (n_targets,)
    mask : bool array (X, Y, Z) with ``n_targets`` True voxels
    affine : array (4, 4)
    """
    nib = require("nibabel", "neuro", "writing brain maps")
    mask = np.asarray(mask, dtype=bool)
    values = np.asarray(values, dtype=np.float32).ravel()
    affine = np.asarray(affine, dtype=np.float64)
    if mask.ndim != 3:
        raise ShapeError(f"mask must be 3-D; got shape {mask.shape}.")
    if affine.shape != (4, 4):
        raise ShapeError(f"affine must be 4 × 4; got shape {affine.shape}.")
    if int(mask.sum()) != values.size:
        raise ShapeError(
            f"mask has {int(mask.sum())} voxels but {values.size} values were given; one value "
            "per target, in the mask's C order."
        )
    vol = np.full(mask.shape, np.nan, dtype=np.float32)
    vol[mask] = values
    img = nib.Nifti1Image(vol, affine)
    if path is not None:
        import gzip

        from ..core._io import atomic_write

        data = img.to_bytes()  # a single-file .nii
        if str(path).endswith(".gz"):
            data = gzip.compress(data, mtime=0)
        atomic_write(Path(path), lambda tmp: tmp.write_bytes(data))
    return img


def plot_brain_map(
    values: np.ndarray,
    mask: np.ndarray,
    affine: np.ndarray,
    title: str = "",
    threshold: float | None = None,
    ax: Any = None,
) -> Any:
    """Per-voxel scores as a nilearn glass brain (maximum-intensity projections)."""
    plotting = require("nilearn.plotting", "neuro", "plotting brain maps")
    nib = require("nibabel", "neuro", "plotting brain maps")
    img = scores_to_nifti(values, mask, affine)
    img = nib.Nifti1Image(np.nan_to_num(np.asarray(img.dataobj), nan=0.0), img.affine)  # outside: 0
    finite = np.asarray(values, dtype=float)
    finite = finite[np.isfinite(finite)]
    if finite.size == 0:
        raise ValidationError("every value is NaN; there is nothing to draw.")
    fig, ax = _axes(ax, (7, 2.8))
    vmax = float(np.max(np.abs(finite))) or 1.0
    plotting.plot_glass_brain(
        img,
        figure=fig,
        axes=ax,
        title=title or None,
        colorbar=True,
        plot_abs=False,
        threshold=threshold,
        vmax=vmax,
        vmin=-vmax,
        cmap="RdBu_r",
        display_mode="ortho",
    )
    return fig
