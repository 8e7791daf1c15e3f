"""``tiny_cnn``: a small seeded random convolutional network.

It generates the simulated benchmarks (its layers drive the simulated ROIs, so it is the known
best model) and serves as a picklable model factory in tests, examples and Dask sweeps. The model
source ``tiny_cnn:`` (``tiny_cnn:seed=3,width=8``) works wherever a model id does.
"""

from __future__ import annotations

from typing import Any

from ..core._registry import register
from ._sources import MODEL_SOURCES

__all__ = ["tiny_cnn", "tiny_cnn_source"]


def tiny_cnn(seed: int = 0, width: int = 8, image_size: int = 32) -> Any:
    """A 3-convolution + linear network with weights drawn from ``seed`` (no global RNG touched).

    Layers (native names): ``conv1``, ``conv2``, ``conv3`` (stride-2 3×3 convolutions, ReLU
    after each) and ``fc`` (10 outputs after global average pooling).

    Returns
    -------
    neuroalign.extract.LoadedModel
        Id ``tiny_cnn:seed=<seed>,width=<width>``; images resized to ``image_size``.
    """
    from collections import OrderedDict

    import torch
    from torch import nn

    from ._preprocess import ImagePreprocess
    from ._sources import LoadedModel

    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        module = nn.Sequential(
            OrderedDict(
                conv1=nn.Conv2d(3, width, 3, stride=2, padding=1),
                act1=nn.ReLU(),
                conv2=nn.Conv2d(width, 2 * width, 3, stride=2, padding=1),
                act2=nn.ReLU(),
                conv3=nn.Conv2d(2 * width, 4 * width, 3, stride=2, padding=1),
                act3=nn.ReLU(),
                pool=nn.AdaptiveAvgPool2d(1),
                flat=nn.Flatten(),
                fc=nn.Linear(4 * width, 10),
            )
        )
    module.eval()
    return LoadedModel(
        module,
        ImagePreprocess(resize=image_size),
        f"tiny_cnn:seed={seed},width={width}",
        default_layers=("conv1", "conv2", "conv3", "fc"),
        weights=f"random (seed {seed})",
    )


@register(MODEL_SOURCES, "tiny_cnn")
def tiny_cnn_source(name: str, pretrained: bool = True) -> Any:
    """The ``tiny_cnn:`` model source: ``tiny_cnn:seed=3,width=8`` (random weights by design)."""
    from ..core.exceptions import ConfigurationError

    opts: dict[str, int] = {}
    for part in filter(None, name.split(",")):
        key, _, value = part.partition("=")
        if key not in ("seed", "width") or not value.strip().lstrip("-").isdigit():
            raise ConfigurationError(
                f"tiny_cnn model id {name!r}: expected 'seed=<int>[,width=<int>]'."
            )
        opts[key] = int(value)
    return tiny_cnn(**opts)
