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


def _is_layer(m: Any) -> bool:
    """A module that computes something itself: a leaf, or a subclass of one of torch's own
    layers that holds helper submodules (EfficientNet's ``Conv2dStaticSamePadding`` is a
    ``Conv2d`` holding its padding), which a leaves-only listing would hide."""
    import torch.nn as nn

    if not list(m.children()):
        return True
    plain = (nn.Module, nn.Sequential, nn.ModuleList, nn.ModuleDict)
    return any(
        c.__module__.startswith("torch.nn.modules.") and c not in plain
        for c in type(m).__mro__[1:]
        if isinstance(c, type) and issubclass(c, nn.Module)
    )


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
        A module name; a list of names; ``"all"`` (every module that computes something itself:
        leaves, and subclasses of torch layers that hold helper modules, such as EfficientNet's
        padded convolutions); ``"modules"`` (every named module, containers included: every name
        ``extract`` accepts); ``"blocks"`` (the model's main stages/blocks: the source's preset
        when it has one); a predicate ``(name, module) -> bool``; ``None`` means ``"blocks"``.
    default : sequence of str
        The model source's ``"blocks"`` preset, if it has one.
    """
    modules = dict(model.named_modules())
    if layers is None or layers == "blocks":
        return list(default) if default else _blocks(model)
    if layers == "all":
        return [n for n, m in modules.items() if n and _is_layer(m)]
    if layers == "modules":
        return [n for n in modules if n]
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
    """Table of layers: name, module type, parameter count and, given a sample input, output
    shape, how often each runs in one forward pass and how to reach the ones ``extract`` cannot
    capture by name.

    Parameters
    ----------
    model : torch.nn.Module or LoadedModel
    sample : tensor or dict, optional
        One input batch; when given, one forward pass records each layer's output shape and call
        count (column ``runs``), the table is in execution order, and column ``note`` says what
        to do about a module that runs more than once per pass (a shared activation: capture the
        module before each call with ``reduce_options={"activation": ...}``) or never.
    layers : layer specification, default "all" (see :func:`resolve_layers`)
    """
    import torch

    from ._reducers import ACTIVATION_TYPES

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
        calls: dict[str, int] = {}
        after: dict[str, list[str]] = {}  # module → the module that finished before each call
        last: list[str] = [""]

        def pre(name: str) -> Callable[..., None]:
            def fn(*_: Any) -> None:
                after.setdefault(name, []).append(last[0])

            return fn

        def hook(name: str) -> Callable[..., None]:
            def fn(_m: Any, _i: Any, out: Any) -> None:
                last[0] = name
                if name not in rows:
                    return
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
                calls[name] = calls.get(name, 0) + 1
                rows[name]["output_shape"] = tuple(t.shape[1:]) if t is not None else None
                if name not in order:
                    order.append(name)

            return fn

        try:
            for n, m in mods.items():
                if n:
                    handles.append(m.register_forward_pre_hook(pre(n)))
                    handles.append(m.register_forward_hook(hook(n)))
            with torch.inference_mode():
                module(**sample) if isinstance(sample, dict) else module(sample)
        finally:
            for h in handles:
                h.remove()
        for n in names:
            rows[n]["runs"] = calls.get(n, 0)
            rows[n]["note"] = _note(n, calls.get(n, 0), after.get(n, []), mods, ACTIVATION_TYPES)
    ordered = order + [n for n in names if n not in order]
    return pd.DataFrame([rows[n] for n in ordered])


def _note(
    name: str, runs: int, before: list[str], mods: dict[str, Any], activations: dict[str, str]
) -> str:
    """How to reach a module ``extract`` cannot capture by name ("" for one that runs once)."""
    if runs == 1:
        return ""
    if runs == 0:
        return "never runs in the forward pass (unused here): nothing to capture"
    sources = [b for b in dict.fromkeys(before) if b]
    act = activations.get(type(mods[name]).__name__)
    where = ", ".join(repr(b) for b in sources[:4]) + (" …" if len(sources) > 4 else "")
    if act and sources:
        how = (
            f"capture the module before it ({where}) with reduce_options={{'activation': "
            f"{act!r}}} (CLI: --activation {act})"
        )
    elif sources:
        how = f"capture the module before it ({where}) and apply it in a custom reduce"
    else:
        how = "capture its parent block"
    return f"shared: runs {runs}x per pass, so it cannot be captured by name; {how}"
