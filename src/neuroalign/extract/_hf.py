"""Transformer sources: ``hf:<repo id | directory>`` (Hugging Face) and ``open_clip:<arch>/<tag>``.

Vision encoders (ViT, DINOv2, ...) get an :class:`ImagePreprocess` built from their image
processor's settings; text encoders/decoders (BERT, GPT-2, ...) carry their fast tokenizer; CLIP
models carry both, with ``forward`` running ``get_image_features`` or ``get_text_features`` so the
two towers are reached through one id. ``transformers`` / ``open_clip`` are imported only here.
Without a connection to the hub, loads read the local cache only (offline mode), so a model that
is not cached fails at once with the clear message instead of after the hub client's retries.
"""

from __future__ import annotations

import contextlib
import os
import socket
import urllib.parse
from collections.abc import Iterator
from functools import lru_cache
from pathlib import Path
from typing import Any

from ..core._registry import register
from ..core._validation import require
from ..core.exceptions import ModelLoadError
from ._preprocess import IMAGENET_MEAN, IMAGENET_STD, ImagePreprocess
from ._sources import MODEL_SOURCES, LoadedModel, _download_failed

__all__ = ["hf", "open_clip"]


def _largest_block_list(module: Any, prefix: str = "") -> tuple[str, ...]:
    """The blocks of the longest ``ModuleList`` under ``prefix`` (a transformer's layer stack)."""
    import torch.nn as nn

    best: tuple[str, ...] = ()
    for name, child in module.named_modules():
        if isinstance(child, nn.ModuleList) and name.startswith(prefix) and len(child) > len(best):
            best = tuple(f"{name}.{i}" for i in range(len(child)))
    return best


def _image_preprocess(processor: Any, config: Any) -> ImagePreprocess:
    """Our hashable preprocessing from a Hugging Face image processor's settings (resize, crop,
    normalisation); the config's ``image_size`` when there is no processor."""
    if processor is None:
        vision = getattr(config, "vision_config", config)
        side = int(getattr(vision, "image_size", 224))
        return ImagePreprocess(resize=(side, side), crop=None)
    size = dict(getattr(processor, "size", {}) or {})
    crop = (
        dict(getattr(processor, "crop_size", {}) or {})
        if getattr(processor, "do_center_crop", False)
        else {}
    )
    resize: int | tuple[int, int]
    if "shortest_edge" in size:
        resize = int(size["shortest_edge"])
    else:
        resize = (int(size.get("height", 224)), int(size.get("width", 224)))
    resample = str(getattr(processor, "resample", ""))
    return ImagePreprocess(
        resize=resize,
        crop=int(crop["height"]) if crop else None,
        mean=tuple(getattr(processor, "image_mean", None) or IMAGENET_MEAN),  # type: ignore[arg-type]
        std=tuple(getattr(processor, "image_std", None) or IMAGENET_STD),  # type: ignore[arg-type]
        interpolation="bicubic" if ("3" in resample or "BICUBIC" in resample) else "bilinear",
    )


@lru_cache(maxsize=1)
def _hub_reachable(timeout: float = 2.0) -> bool:
    """Whether the Hugging Face hub's host accepts a connection (one try per process; assumed
    reachable behind an HTTPS proxy, which a direct connection cannot test)."""
    if any(os.environ.get(v) for v in ("HTTPS_PROXY", "https_proxy", "ALL_PROXY", "all_proxy")):
        return True
    from huggingface_hub import constants

    url = urllib.parse.urlparse(constants.ENDPOINT)
    try:
        socket.create_connection((url.hostname, url.port or 443), timeout=timeout).close()
    except OSError:
        return False
    return True


@contextlib.contextmanager
def hub_offline_unless_reachable(name: str) -> Iterator[None]:
    """Within the block, the hub is in offline mode (cache only) when it cannot be reached, so a
    missing model fails at once with our message instead of after the hub client's retries."""
    try:
        from huggingface_hub import constants
    except ImportError:  # pragma: no cover - transformers / open_clip bring it
        yield
        return
    if constants.HF_HUB_OFFLINE or Path(name).is_dir() or _hub_reachable():
        yield
        return
    constants.HF_HUB_OFFLINE = True
    try:
        yield
    finally:
        constants.HF_HUB_OFFLINE = False


@register(MODEL_SOURCES)
def hf(name: str, pretrained: bool = True, preprocess: str = "official") -> LoadedModel:
    """A Hugging Face transformers model by repo id or local directory (``hf:bert-base-uncased``,
    ``hf:facebook/dinov2-small``, ``hf:openai/clip-vit-base-patch32``, ``hf:/path/to/saved``).

    ``pretrained=False`` builds the architecture from its config with random weights (the config
    itself still comes from the directory or the hub cache). ``preprocess="official"`` (default)
    runs the model's own image processor (``AutoImageProcessor``) on PIL images; ``"neuroalign"``
    its settings through the batched torch resize (also the fallback without a processor).
    """
    from ._official import check_preprocess_choice

    check_preprocess_choice(f"hf:{name}", preprocess)
    tr = require("transformers", "text", "Hugging Face models")
    tr.utils.logging.disable_progress_bar()
    with hub_offline_unless_reachable(name):
        return _hf(tr, name, pretrained, preprocess)


def _hf(tr: Any, name: str, pretrained: bool, preprocess: str) -> LoadedModel:
    from ._official import hf_official

    try:
        config = tr.AutoConfig.from_pretrained(name)
    except OSError as err:
        raise _download_failed(f"hf:{name}", err) from err
    is_clip = hasattr(config, "vision_config") and hasattr(config, "text_config")
    try:
        if pretrained:
            module = tr.AutoModel.from_pretrained(name)
        else:
            module = tr.AutoModel.from_config(config)
    except (OSError, ValueError) as err:
        if isinstance(err, ValueError) and "Unrecognized" in str(err):
            raise ModelLoadError(
                f"hf:{name}: transformers cannot build this model ({err})."
            ) from err
        raise _download_failed(f"hf:{name}", err) from err
    tokenizer = processor = None
    try:
        tokenizer = tr.AutoTokenizer.from_pretrained(name)
    except (OSError, ValueError, TypeError, KeyError):
        tokenizer = None
    try:
        processor = tr.AutoImageProcessor.from_pretrained(name)
    except (OSError, ValueError, TypeError, KeyError):
        processor = None
    vision_like = is_clip or hasattr(config, "image_size") or processor is not None
    pre: Any = None
    if vision_like:
        pre = (
            hf_official(processor)
            if preprocess == "official" and processor is not None
            else _image_preprocess(processor, config)
        )
    forward: dict[str, Any] = {}
    if is_clip:
        forward = {
            "image": lambda m, x: m.get_image_features(pixel_values=x),
            "text": lambda m, t: m.get_text_features(**t),
        }
        image_layers = _largest_block_list(module, "vision_model")
        text_layers = _largest_block_list(module, "text_model")
    else:
        forward = {"image": lambda m, x: m(pixel_values=x)}
        image_layers = text_layers = _largest_block_list(module)
    if tokenizer is None and not vision_like:
        raise ModelLoadError(
            f"hf:{name} has neither an image processor nor a tokenizer next to its weights; save "
            "the tokenizer with the model (tokenizer.save_pretrained(dir))."
        )
    return LoadedModel(
        module.eval(),
        pre,
        f"hf:{name}",
        image_layers if vision_like else text_layers,
        "hf-hub" if pretrained else "random",
        {"model_type": config.model_type},
        tokenizer=tokenizer,
        forward=forward,
        text_layers=text_layers,
    )


@register(MODEL_SOURCES)
def open_clip(name: str, pretrained: bool = True) -> LoadedModel:
    """An open_clip model, ``open_clip:<arch>/<pretrained tag>`` (``open_clip:ViT-B-32/laion2b_s34b_b79k``);
    both towers: images through ``encode_image``, texts through ``encode_text``."""
    oc = require("open_clip", "text", "open_clip models")
    arch, _, tag = name.partition("/")
    if arch not in oc.list_models():
        from ..core.exceptions import close_matches

        raise ModelLoadError(
            f"open_clip has no architecture {arch!r}." + close_matches(arch, oc.list_models())
        )
    try:
        with hub_offline_unless_reachable(name):
            module = oc.create_model(arch, pretrained=(tag or None) if pretrained else None)
    except (OSError, RuntimeError) as err:
        raise _download_failed(f"open_clip:{name}", err) from err
    cfg = getattr(module.visual, "preprocess_cfg", {}) or {}
    size = cfg.get("size", getattr(module.visual, "image_size", 224))
    size = int(size[0] if isinstance(size, (tuple, list)) else size)
    pre = ImagePreprocess(
        resize=size,
        crop=size,
        mean=tuple(cfg.get("mean", (0.48145466, 0.4578275, 0.40821073))),  # type: ignore[arg-type]
        std=tuple(cfg.get("std", (0.26862954, 0.26130258, 0.27577711))),  # type: ignore[arg-type]
        interpolation=str(cfg.get("interpolation", "bicubic")),
    )
    return LoadedModel(
        module.eval(),
        pre,
        f"open_clip:{name}",
        _largest_block_list(module, "visual"),
        tag if pretrained else "random",
        {"arch": arch},
        tokenizer=oc.get_tokenizer(arch),
        forward={"image": lambda m, x: m.encode_image(x), "text": lambda m, t: m.encode_text(t)},
        text_layers=_largest_block_list(module, "transformer"),
    )
