"""Image preprocessing as a small, hashable description (it is part of the cache key)."""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..core.exceptions import NeuroalignWarning, ShapeError

__all__ = ["IMAGENET_MEAN", "IMAGENET_STD", "ImagePreprocess"]

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
_SCALE = {"u1": 255.0, "u2": 65535.0}  # integer pixel types → their full-scale value
_FLOAT_MAX = 1.5  # a float image above this (with [0, 1]-scale mean/std) is 0–255 by mistake


@dataclass(frozen=True)
class ImagePreprocess:
    """Resize, centre-crop and normalise an RGB image into a float tensor (3, H, W).

    Pixel values are scaled to [0, 1] by their type's range (uint8 by 255, uint16 by 65535);
    float images are taken as they are (already in [0, 1], or whatever scale you chose), then
    normalised with ``mean`` and ``std``.

    Float images are not rescaled, because a float array's scale is the caller's choice — but a
    float image whose values exceed 1.5 while ``mean``/``std`` are on the [0, 1] scale is almost
    always a 0–255 image cast to float (``img.astype(np.float32)``), and it would give features
    far from those of its uint8 original. The first such batch raises a
    :class:`~neuroalign.core.exceptions.NeuroalignWarning` (once per ``ImagePreprocess``) that
    says so: convert to uint8 (``img.astype(np.uint8)``) or divide by 255. With ``mean``/``std``
    on the 0–255 scale (any ``mean`` above 1.5) no warning is given.

    Parameters
    ----------
    resize : int or (int, int)
        An int resizes the shorter side to that length (keeping the aspect ratio), a pair resizes to
        exactly (height, width).
    crop : int or None
        Side of the centre crop after resizing (``None``: no crop).
    mean, std : tuple of float
        Per-channel normalisation applied to values scaled to [0, 1].
    interpolation : {"bilinear", "bicubic"}
        Resampling filter (anti-aliased when shrinking).
    """

    resize: int | tuple[int, int] = 224
    crop: int | None = None
    mean: tuple[float, float, float] = IMAGENET_MEAN
    std: tuple[float, float, float] = IMAGENET_STD
    interpolation: str = "bilinear"

    def __call__(self, image: np.ndarray) -> Any:
        """One ``(H, W, 3)`` image → ``(3, h, w)`` float tensor."""
        return self.batch(np.asarray(image)[None])[0]

    def batch(self, images: np.ndarray) -> Any:
        """A ``(B, H, W, 3)`` array of same-size images → ``(B, 3, h, w)`` in one call."""
        import torch
        import torch.nn.functional as F

        images = np.asarray(images)
        scale = _SCALE.get(images.dtype.str[1:])
        if scale is None and not np.issubdtype(images.dtype, np.floating):
            raise ShapeError(
                f"ImagePreprocess takes uint8, uint16 or float images; got {images.dtype}."
            )
        if scale is None and not getattr(self, "_warned_scale", False):
            self._check_float_scale(images)
        if images.dtype == np.float16 or images.dtype == np.float64 or images.dtype == np.uint16:
            images = images.astype(np.float32)
        images = np.ascontiguousarray(images)
        if not images.flags.writeable:  # torch wants writable memory; a batch copy is cheap
            images = images.copy()
        x = torch.from_numpy(images).permute(0, 3, 1, 2).float()
        if scale is not None:
            x = x.div_(scale)
        h, w = x.shape[-2:]
        if isinstance(self.resize, int):
            scale = self.resize / min(h, w)
            size = (max(1, round(h * scale)), max(1, round(w * scale)))
        else:
            size = (int(self.resize[0]), int(self.resize[1]))
        if size != (h, w):
            x = F.interpolate(
                x, size=size, mode=self.interpolation, antialias=True, align_corners=False
            )
        if self.crop is not None:
            top = max(0, (x.shape[-2] - self.crop) // 2)
            left = max(0, (x.shape[-1] - self.crop) // 2)
            x = x[..., top : top + self.crop, left : left + self.crop]
        mean = torch.tensor(self.mean).view(1, 3, 1, 1)
        std = torch.tensor(self.std).view(1, 3, 1, 1)
        return ((x - mean) / std).contiguous()

    def _check_float_scale(self, images: np.ndarray) -> None:
        """Warn (once per instance) about float images that look like 0–255 values."""
        if max(self.mean) > _FLOAT_MAX or images.size == 0:
            return  # the caller normalises on the 0–255 scale on purpose
        top = float(np.nanmax(images))
        if top > _FLOAT_MAX:
            object.__setattr__(self, "_warned_scale", True)  # not a field: not in key or repr
            warnings.warn(
                f"float images reach {top:g}, but ImagePreprocess takes float images as [0, 1] "
                f"values (mean={self.mean}, std={self.std}): these look like 0–255 values and "
                "would be normalised 255 times too large. Pass uint8 images "
                "(img.astype(np.uint8)) or divide the floats by 255.",
                NeuroalignWarning,
                stacklevel=3,
            )

    def describe(self) -> str:
        """A stable text description (used in reports)."""
        return repr(self)

    @property
    def cache_key(self) -> str | None:
        """Its content (every field), for the feature store's key; None for a subclass (its
        ``batch`` code can change under the same fields): a subclass defines its own
        ``cache_key`` or is not cached."""
        return repr(self) if type(self) is ImagePreprocess else None
