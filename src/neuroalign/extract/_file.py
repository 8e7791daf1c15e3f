"""``file:<checkpoint>`` models: a state dict (or, when trusted, a whole pickled module) loaded
into a named architecture, and the small registry of architectures that no model zoo ships.

``arch`` is a key of ``ARCHITECTURES`` (``cifar_resnet20`` …), any model id (``torchvision:resnet18``:
built with random weights, then loaded), or a callable returning an ``nn.Module``. Checkpoints may
wrap the weights (``{"state_dict": ...}``, ``{"model": ...}``) and prefix their keys
(``module.`` from DataParallel, ``model.``); both are undone, and loading is strict: a missing or
unexpected key is an error that lists them.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ..core._registry import lookup, register
from ..core.exceptions import ConfigurationError, ModelLoadError
from ._preprocess import IMAGENET_MEAN, IMAGENET_STD, ImagePreprocess
from ._sources import MODEL_SOURCES, LoadedModel

__all__ = ["ARCHITECTURES", "cifar_resnet20", "file"]

ARCHITECTURES: dict[str, Callable[..., Any]] = {}


def _cifar_resnet(depth: int, num_classes: int = 10) -> Any:
    """He et al. (2016)'s CIFAR ResNet: 3 stages × n basic blocks (16/32/64 channels), option-A
    (zero-padded identity) shortcuts, global average pool, linear readout; depth = 6n + 2."""
    import torch.nn as nn
    import torch.nn.functional as F

    if (depth - 2) % 6:
        raise ConfigurationError(f"a CIFAR ResNet has depth 6n + 2 (20, 32, 44, 56); got {depth}.")
    n = (depth - 2) // 6

    class PadShortcut(nn.Module):
        def __init__(self, planes: int) -> None:
            super().__init__()
            self.pad = planes // 4

        def forward(self, x: Any) -> Any:
            return F.pad(x[:, :, ::2, ::2], (0, 0, 0, 0, self.pad, self.pad))

    class BasicBlock(nn.Module):
        def __init__(self, inp: int, planes: int, stride: int) -> None:
            super().__init__()
            self.conv1 = nn.Conv2d(inp, planes, 3, stride, 1, bias=False)
            self.bn1 = nn.BatchNorm2d(planes)
            self.conv2 = nn.Conv2d(planes, planes, 3, 1, 1, bias=False)
            self.bn2 = nn.BatchNorm2d(planes)
            self.shortcut: nn.Module = (
                PadShortcut(planes) if stride != 1 or inp != planes else nn.Identity()
            )

        def forward(self, x: Any) -> Any:
            out = F.relu(self.bn1(self.conv1(x)))
            return F.relu(self.bn2(self.conv2(out)) + self.shortcut(x))

    class CifarResNet(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.conv1 = nn.Conv2d(3, 16, 3, 1, 1, bias=False)
            self.bn1 = nn.BatchNorm2d(16)
            stages, inp = [], 16
            for planes, stride in ((16, 1), (32, 2), (64, 2)):
                blocks = []
                for k in range(n):
                    blocks.append(BasicBlock(inp, planes, stride if k == 0 else 1))
                    inp = planes
                stages.append(nn.Sequential(*blocks))
            self.layer1, self.layer2, self.layer3 = stages
            self.avgpool = nn.AdaptiveAvgPool2d(1)
            self.linear = nn.Linear(64, num_classes)

        def forward(self, x: Any) -> Any:
            out = F.relu(self.bn1(self.conv1(x)))
            out = self.layer3(self.layer2(self.layer1(out)))
            return self.linear(self.avgpool(out).flatten(1))

    return CifarResNet()


@register(ARCHITECTURES)
def cifar_resnet20(num_classes: int = 10) -> Any:
    """CIFAR ResNet-20 (0.27 M parameters), the layout of akamaster/pytorch_resnet_cifar10."""
    return _cifar_resnet(20, num_classes)


@register(ARCHITECTURES)
def cifar_resnet56(num_classes: int = 10) -> Any:
    """CIFAR ResNet-56."""
    return _cifar_resnet(56, num_classes)


CIFAR_PREPROCESS = ImagePreprocess(resize=(32, 32), crop=None, mean=IMAGENET_MEAN, std=IMAGENET_STD)
_ARCH_PREPROCESS = {"cifar_resnet20": CIFAR_PREPROCESS, "cifar_resnet56": CIFAR_PREPROCESS}


def _unwrap_state_dict(obj: Any, path: Path) -> dict[str, Any]:
    import torch

    for key in ("state_dict", "model_state_dict", "model", "net"):
        if isinstance(obj, dict) and isinstance(obj.get(key), dict):
            obj = obj[key]
            break
    if not isinstance(obj, dict) or not all(isinstance(v, torch.Tensor) for v in obj.values()):
        raise ModelLoadError(
            f"{str(path)!r} holds no state dict (a mapping of parameter names to tensors); "
            f"found {type(obj).__name__}."
        )
    for prefix in ("module.", "model."):
        if obj and all(k.startswith(prefix) for k in obj):
            obj = {k[len(prefix) :]: v for k, v in obj.items()}
    return dict(obj)


def _build_arch(arch: Any) -> tuple[Any, Any, tuple[str, ...], str]:
    """(module with random weights, preprocess or None, blocks preset, architecture label)."""
    if callable(arch) and not isinstance(arch, str):
        return arch(), None, (), getattr(arch, "__name__", "custom")
    if not isinstance(arch, str):
        raise ConfigurationError(f"arch must be a name, a model id or a callable; got {arch!r}.")
    if ":" in arch:
        from ._sources import load_model

        base = load_model(arch, pretrained=False)
        return base.module, base.preprocess, base.default_layers, arch
    builder = lookup(ARCHITECTURES, arch, "architecture")
    module = builder()
    stages = ("layer1", "layer2", "layer3")
    blocks = (
        *(f"{st}.{i}" for st in stages for i in range(len(getattr(module, st)))),
        "avgpool",
        "linear",
    )
    return module, _ARCH_PREPROCESS.get(arch), blocks, arch


def _unreadable(path: Path, err: BaseException) -> str:
    """What is wrong with a checkpoint torch cannot read, never an empty reason."""
    size = path.stat().st_size
    reason = str(err).strip().rstrip(".") or type(err).__name__
    if size == 0:
        what = "the file is empty (0 bytes)"
    elif isinstance(err, EOFError) or "EOF" in str(err) or "central directory" in str(err):
        what = f"the file ends early ({size:,} bytes): it is truncated or still being copied"
    elif "weights_only" in str(err) or "Unsupported global" in str(err):
        what = (
            f"{reason}. It may hold a whole pickled module: pass trust_pickle=True (CLI: "
            "--trust-pickle) if you trust the file"
        )
    else:
        what = f"it is not a PyTorch or safetensors checkpoint, or it is corrupt ({size:,} bytes)"
    detail = "" if "pickled module" in what else f" (torch: {type(err).__name__}: {reason})"
    return f"cannot read checkpoint {str(path)!r}: {what}{detail}."


@register(MODEL_SOURCES)
def file(
    name: str,
    pretrained: bool = True,
    arch: Any = None,
    preprocess: Any = None,
    trust_pickle: bool = False,
) -> LoadedModel:
    """Weights from a checkpoint file, ``file:<path>`` (``.pt``/``.pth``/``.th``/``.safetensors``).

    Parameters
    ----------
    arch : str or callable
        ``ARCHITECTURES`` key, a model id, or a callable returning the module. Not needed for a
        checkpoint that holds a whole pickled module (which also needs ``trust_pickle=True``:
        unpickling runs code from the file).
    preprocess : callable, optional
        Image preprocessing; defaults to the architecture's.
    trust_pickle : bool
        Allow a full (pickled) module. State dicts load with ``weights_only=True`` and need no trust.
    """
    import torch

    path = Path(name).expanduser()
    if not path.is_file():
        raise ModelLoadError(f"checkpoint {str(path)!r} does not exist.")
    digest = hashlib.sha256(path.read_bytes()).hexdigest()[:16]
    try:
        if path.suffix == ".safetensors":
            from safetensors.torch import load_file

            obj: Any = load_file(str(path))
        else:
            obj = torch.load(path, map_location="cpu", weights_only=not trust_pickle)
    except Exception as err:  # unpickling errors have many types
        raise ModelLoadError(_unreadable(path, err)) from err
    blocks: tuple[str, ...] = ()
    if isinstance(obj, torch.nn.Module):  # its preprocessing: preprocess=, else arch='s
        module, label = obj, type(obj).__name__
        pre = _ARCH_PREPROCESS.get(arch) if isinstance(arch, str) else None
        if pre is None and arch is not None and preprocess is None:
            pre = _build_arch(arch)[1]
    else:
        if arch is None:
            raise ConfigurationError(
                f"{str(path)!r} holds a state dict; say which architecture it belongs to with "
                f"arch=... (one of {sorted(ARCHITECTURES)}, a model id such as "
                "'torchvision:resnet18', or a callable returning the nn.Module)."
            )
        module, pre, blocks, label = _build_arch(arch)
        if pretrained:
            state = _unwrap_state_dict(obj, path)
            own = module.state_dict()
            wrong = [
                f"{k} {tuple(v.shape)} vs {tuple(own[k].shape)}"
                for k, v in state.items()
                if k in own and tuple(v.shape) != tuple(own[k].shape)
            ]
            if wrong:
                raise ModelLoadError(
                    f"{str(path)!r} does not fit architecture {label!r}: {len(wrong)} tensors "
                    f"differ in shape (checkpoint vs architecture), e.g. {wrong[:4]}."
                )
            result = module.load_state_dict(state, strict=False)
            if result.missing_keys or result.unexpected_keys:
                raise ModelLoadError(
                    f"{str(path)!r} does not fit architecture {label!r}: missing keys "
                    f"{result.missing_keys[:8]}, unexpected keys {result.unexpected_keys[:8]}."
                )
    pre = preprocess or pre
    if pre is None:
        raise ConfigurationError(
            f"no image preprocessing is known for {label!r}; pass preprocess=ImagePreprocess(...), "
            "or arch= (CLI: --arch) an architecture whose preprocessing fits the checkpoint."
        )
    return LoadedModel(
        module.eval(),
        pre,
        f"file:{path.name}@{digest}",
        blocks,
        f"{path} (sha256 {digest}…)" if pretrained else "random",
        {"arch": label, "path": str(path)},
    )
