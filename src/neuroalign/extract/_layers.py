"""Layer names, presets and output shapes, by native ``named_modules()`` paths."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import pandas as pd

from ..core.exceptions import LayerNotFoundError, close_matches

__all__ = ["LayerSpec", "list_layers", "resolve_layers"]

LayerSpec = str | Sequence[str] | Callable[[str, Any], bool] | None

_SKIP_TYPES = (
    "Dropout",
    "Identity",
    "ReLU",
    "ReLU6",
    "GELU",
    "SiLU",
    "Swish",
    "MemoryEfficientSwish",
    "Flatten",
)


def _is_container(m: Any) -> bool:
    import torch.nn as nn

    return isinstance(m, (nn.Sequential, nn.ModuleList)) and len(m) > 1


def _blocks(model: Any) -> list[str]:
    """Top-level stages, with Sequential/ModuleList containers expanded into their blocks."""
    names: list[str] = []
    for name, child in model.named_children():
        if type(child).__name__ in _SKIP_TYPES:
            continue
        if _is_container(child) and any(len(list(c.children())) > 0 for c in child.children()):
            names.extend(f"{name}.{sub}" for sub, _ in child.named_children())
        else:
            names.append(name)
    return names


def resolve_layers(model: Any, layers: LayerSpec, default: Sequence[str] = ()) -> list[str]:
    """Turn a layer specification into a list of module names.

    Parameters
    ----------
    model : torch.nn.Module
    layers : str, list of str, predicate or None
        A module name; a list of names; ``"all"`` (every leaf module); ``"blocks"`` (the model's
        main stages/blocks: the source's preset when it has one); a predicate
        ``(name, module) -> bool``; ``None`` means ``"blocks"``.
    default : sequence of str
        The model source's ``"blocks"`` preset, if it has one.
    """
    modules = dict(model.named_modules())
    if layers is None or layers == "blocks":
        return list(default) if default else _blocks(model)
    if layers == "all":
        return [n for n, m in modules.items() if n and not list(m.children())]
    if callable(layers):
        return [n for n, m in modules.items() if n and layers(n, m)]
    names = [layers] if isinstance(layers, str) else list(layers)
    for n in names:
        if n not in modules:
            raise LayerNotFoundError(
                f"layer {n!r} is not a module of {type(model).__name__}; use native "
                f"named_modules() names (see neuroalign.extract.list_layers)."
                + close_matches(n, [m for m in modules if m])
            )
    return names


def list_layers(model: Any, sample: Any | None = None, layers: LayerSpec = "all") -> pd.DataFrame:
    """Table of layers: name, module type, parameter count and (given a sample input) output shape.

    Parameters
    ----------
    model : torch.nn.Module or LoadedModel
    sample : tensor, optional
        One input batch; when given, one forward pass records each layer's output shape and the
        table is in execution order.
    layers : layer specification, default "all" (see :func:`resolve_layers`)
    """
    import torch

    module = getattr(model, "module", model)
    default = getattr(model, "default_layers", ())
    names = resolve_layers(module, layers, default)
    mods = dict(module.named_modules())
    rows = {
        n: {
            "layer": n,
            "type": type(mods[n]).__name__,
            "n_params": sum(p.numel() for p in mods[n].parameters()),
        }
        for n in names
    }
    order: list[str] = []
    if sample is not None:
        handles = []

        def hook(name: str) -> Callable[..., None]:
            def fn(_m: Any, _i: Any, out: Any) -> None:
                t = (
                    out
                    if isinstance(out, torch.Tensor)
                    else next(
                        (
                            o
                            for o in (out if isinstance(out, (tuple, list)) else [])
                            if isinstance(o, torch.Tensor)
                        ),
                        None,
                    )
                )
                rows[name]["output_shape"] = tuple(t.shape[1:]) if t is not None else None
                if name not in order:
                    order.append(name)

            return fn

        try:
            for n in names:
                handles.append(mods[n].register_forward_hook(hook(n)))
            with torch.inference_mode():
                module(**sample) if isinstance(sample, dict) else module(sample)
        finally:
            for h in handles:
                h.remove()
    ordered = order + [n for n in names if n not in order]
    return pd.DataFrame([rows[n] for n in ordered])
