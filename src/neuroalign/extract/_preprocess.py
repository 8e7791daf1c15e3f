"""Image preprocessing as a small, hashable description (it is part of the cache key)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

__all__ = ["IMAGENET_MEAN", "IMAGENET_STD", "ImagePreprocess"]

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


@dataclass(frozen=True)
class ImagePreprocess:
    """Resize, centre-crop and normalise an RGB uint8 image into a float tensor (3, H, W).

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
        """One ``(H, W, 3)`` uint8 image → ``(3, h, w)`` float tensor."""
        return self.batch(np.asarray(image)[None])[0]

    def batch(self, images: np.ndarray) -> Any:
        """A ``(B, H, W, 3)`` uint8 array of same-size images → ``(B, 3, h, w)`` in one call."""
        import torch
        import torch.nn.functional as F

        images = np.ascontiguousarray(images)
        if not images.flags.writeable:  # torch wants writable memory; a batch copy is cheap
            images = images.copy()
        x = torch.from_numpy(images).permute(0, 3, 1, 2).float().div_(255.0)
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

    def describe(self) -> str:
        """A stable text description (used in cache keys and reports)."""
        return repr(self)
