"""The model sources' own image preprocessing ("official"): the exact pipeline a peer uses.

torchvision's ``weights.transforms()``, timm's ``create_transform(**resolve_data_config(...))``,
the Hugging Face image processor and the EfficientNet-Lite package's ``Resize`` / ``ToTensor`` /
``Normalize`` all start from a PIL image of uint8 pixels and resize it with PIL (or with torch on
the uint8 tensor). neuroalign's own :class:`ImagePreprocess` resizes float tensors with torch in
one batched call: faster, but not bit-identical to what THINGSvision / Brain-Score users compute
(on the 92-image RSA the resize path alone moved scores by up to 8e-4). :class:`PeerPreprocess`
wraps the peer's transform so that features equal the peer pipeline's to float rounding.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from typing import Any

import numpy as np

from ..core.exceptions import ConfigurationError, ShapeError

__all__ = ["PREPROCESS_CHOICES", "PeerPreprocess", "check_preprocess_choice"]

#: ``load_model(..., preprocess=...)``: the source's own pipeline or neuroalign's batched one.
PREPROCESS_CHOICES = ("official", "neuroalign")


def check_preprocess_choice(model_id: str, preprocess: str) -> None:
    """Raise before loading anything when ``preprocess`` is not a known choice."""
    if preprocess not in PREPROCESS_CHOICES:
        raise ConfigurationError(
            f"{model_id}: preprocess must be one of {list(PREPROCESS_CHOICES)}; got "
            f"{preprocess!r}. 'official' is the source's own pipeline (PIL on uint8, as the peers "
            "run it), 'neuroalign' the faster batched torch resize."
        )


def _to_pil(image: Any) -> Any:
    """An ``(H, W, 3)`` (or ``(H, W)``) uint8 array → an RGB PIL image, as the peers load files.

    Float images in [0, 1] are rounded to uint8 (the peers only ever see 8-bit files); other
    types are refused.
    """
    from PIL import Image

    if isinstance(image, Image.Image):
        return image.convert("RGB")
    a = np.asarray(image)
    if a.dtype != np.uint8:
        if np.issubdtype(a.dtype, np.floating) and np.nanmin(a) >= 0 and np.nanmax(a) <= 1:
            a = np.clip(np.rint(a * 255.0), 0, 255).astype(np.uint8)
        else:
            raise ShapeError(
                f"the official (peer) preprocessing takes uint8 images (or floats in [0, 1]); got "
                f"{a.dtype} in [{np.nanmin(a)}, {np.nanmax(a)}]. Use preprocess='neuroalign' for "
                "other pixel types."
            )
    if a.ndim == 3 and a.shape[-1] == 1:
        a = a[..., 0]
    if a.ndim not in (2, 3) or (a.ndim == 3 and a.shape[-1] not in (3, 4)):
        raise ShapeError(f"expected an (H, W, 3) image; got shape {a.shape}.")
    return Image.fromarray(a).convert("RGB")


class PeerPreprocess:
    """A peer's image transform behind neuroalign's preprocessing interface.

    Parameters
    ----------
    source : str
        Which peer (``torchvision``, ``timm``, ``hf``, ``efficientnet_lite``).
    transform : callable
        ``PIL image -> (3, h, w) tensor`` (or a mapping with ``pixel_values`` for Hugging Face
        processors, unwrapped here).
    description : str
        A stable text of every setting of ``transform`` (its repr, or a processor's JSON): the
        store key hashes it, so two pipelines that differ in any setting never share features.

    Calling it on an ``(H, W, 3)`` uint8 array returns the ``(3, h, w)`` float tensor the peer
    computes for the same picture.
    """

    def __init__(self, source: str, transform: Callable[[Any], Any], description: str) -> None:
        self.source = source
        self.transform = transform
        self.description = description

    def __call__(self, image: Any) -> Any:
        out = self.transform(_to_pil(image))
        if isinstance(out, dict) or hasattr(out, "keys"):  # Hugging Face BatchFeature
            out = out["pixel_values"]
            out = out[0] if getattr(out, "ndim", 0) == 4 else out
        return out

    @property
    def cache_key(self) -> str:
        digest = hashlib.sha256(self.description.encode()).hexdigest()[:16]
        return f"PeerPreprocess({self.source}, {digest})"

    def describe(self) -> str:
        return f"{self.source} official preprocessing: {self.description}"

    def __repr__(self) -> str:
        return self.cache_key

    def __eq__(self, other: object) -> bool:
        return isinstance(other, PeerPreprocess) and other.cache_key == self.cache_key

    def __hash__(self) -> int:
        return hash(self.cache_key)


def torchvision_official(weights: Any) -> PeerPreprocess:
    """``weights.transforms()`` of a torchvision weights enum (available offline)."""
    t = weights.transforms()
    return PeerPreprocess("torchvision", t, f"{weights}|{t!r}")


def timm_official(module: Any) -> PeerPreprocess:
    """timm's eval transform from the model's pretrained_cfg (no download needed)."""
    import timm

    cfg = timm.data.resolve_data_config({}, model=module)
    t = timm.data.create_transform(**cfg)
    return PeerPreprocess("timm", t, f"{sorted(cfg.items())!r}|{t!r}")


def hf_official(processor: Any) -> PeerPreprocess:
    """A Hugging Face image processor, called as ``processor(images=pil, return_tensors="pt")``."""
    return PeerPreprocess("hf", _HFCall(processor), processor.to_json_string())


class _HFCall:
    """Picklable ``processor(images=..., return_tensors="pt")``."""

    def __init__(self, processor: Any) -> None:
        self.processor = processor

    def __call__(self, image: Any) -> Any:
        return self.processor(images=image, return_tensors="pt")


def efficientnet_lite_official(image_size: int) -> PeerPreprocess:
    """The EfficientNet-Lite package's own pipeline (its ``model.py`` usage example):
    ``Resize(image_size)`` (shorter side, PIL bilinear), ``ToTensor()``, ImageNet ``Normalize``."""
    from torchvision import transforms

    t = transforms.Compose(
        [
            transforms.Resize(image_size),
            transforms.ToTensor(),
            transforms.Normalize([0.485, 0.456, 0.406], [0.229, 0.224, 0.225]),
        ]
    )
    return PeerPreprocess("efficientnet_lite", t, repr(t))
