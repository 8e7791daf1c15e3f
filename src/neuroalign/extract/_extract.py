"""``extract``: activations of many layers from one forward pass per batch."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import numpy as np

from ..core import Activations, StimulusSet
from ..core._progress import track
from ..core.exceptions import ConfigurationError, ValidationError
from ._layers import LayerSpec, resolve_layers
from ._reducers import Reducer, make_reducer
from ._sources import LoadedModel, load_model

__all__ = ["extract"]


@contextlib.contextmanager
def _hooks(
    module: Any,
    names: Sequence[str],
    reducer: Reducer,
    store: dict[str, list[Any]],
    calls: dict[str, int],
) -> Iterator[None]:
    """Forward hooks that reduce each layer's output and keep it; always removed on exit."""
    mods = dict(module.named_modules())
    handles = []

    def make(name: str) -> Callable[..., None]:
        def hook(_m: Any, _inp: Any, out: Any) -> None:
            calls[name] = calls.get(name, 0) + 1
            store.setdefault(name, []).append(reducer(out, name).detach().float().cpu())

        return hook

    try:
        for n in names:
            handles.append(mods[n].register_forward_hook(make(n)))
        yield
    finally:
        for h in handles:
            h.remove()


def _batches(
    stimuli: StimulusSet, preprocess: Callable[[Any], Any], batch_size: int
) -> Iterator[Any]:
    import torch

    for start in range(0, len(stimuli), batch_size):
        idx = range(start, min(len(stimuli), start + batch_size))
        yield torch.stack([preprocess(stimuli.load_image(i)) for i in idx])


def extract(
    model: LoadedModel | str | Any,
    stimuli: StimulusSet,
    layers: LayerSpec = None,
    reduce: str | Reducer = "flatten",
    reduce_options: dict[str, Any] | None = None,
    batch_size: int = 32,
    device: str = "cpu",
    preprocess: Callable[[Any], Any] | None = None,
    quiet: bool = False,
) -> Activations:
    """Activations of ``layers`` for every stimulus, all layers from one forward pass per batch.

    Parameters
    ----------
    model : LoadedModel, model id str or torch.nn.Module
        A module needs ``preprocess``. The module's train/eval state and parameters are left as
        they were (it runs in eval mode under ``torch.inference_mode`` and is restored after).
    stimuli : StimulusSet
        Image stimuli.
    layers : str, list of str, predicate or None
        Native ``named_modules()`` names, ``"blocks"`` (default), ``"all"`` or a predicate.
    reduce : str or callable
        A reducer from ``REDUCERS`` (``flatten``, ``avgpool``, ``cls_token``, ``last_token``,
        ``srp``) or a callable ``(output, layer) -> (batch, n_features) tensor``.
    reduce_options : dict, optional
        Options of the reducer, e.g. ``{"n_components": 1024, "seed": 0}`` for ``srp``.
    batch_size : int
    device : str
        ``"cpu"``, ``"cuda"`` or ``"cuda:N"``.
    preprocess : callable, optional
        ``(H, W, 3) uint8 array -> (3, h, w) tensor``; required for a bare module.
    quiet : bool
        No progress bar.

    Returns
    -------
    Activations
        One float32 array (n_stimuli, n_features) per layer, in forward order.
    """
    import torch

    if isinstance(model, str):
        model = load_model(model)
    if isinstance(model, LoadedModel):
        module, pre, model_id, default = (
            model.module,
            preprocess or model.preprocess,
            model.model_id,
            model.default_layers,
        )
    else:
        if preprocess is None:
            raise ConfigurationError(
                "extract() on a bare nn.Module needs preprocess=...; or pass a LoadedModel."
            )
        module, pre, model_id, default = model, preprocess, f"module:{type(model).__name__}", ()
    if stimuli.kind != "image":
        raise ConfigurationError(
            "extract() here handles image stimuli; text stimuli need a text model source."
        )
    if batch_size < 1:
        raise ValidationError(f"batch_size must be >= 1; got {batch_size}.")
    names = resolve_layers(module, layers, default)
    if not names:
        raise ValidationError(f"layers={layers!r} selected no module of {type(module).__name__}.")
    label, reducer = make_reducer(reduce, **(reduce_options or {}))
    was_training = module.training
    store: dict[str, list[Any]] = {}
    n_batches = -(-len(stimuli) // batch_size)
    try:
        module.eval().to(device)
        for batch in track(
            _batches(stimuli, pre, batch_size), n_batches, f"extract {model_id}", quiet
        ):
            calls: dict[str, int] = {}
            with _hooks(module, names, reducer, store, calls), torch.inference_mode():
                module(batch.to(device))
            repeated = {k: v for k, v in calls.items() if v > 1}
            missing = [n for n in names if n not in calls]
            if repeated or missing:
                raise ValidationError(
                    "each layer must run exactly once per forward pass; "
                    + (
                        f"called more than once: {repeated} (a shared module, e.g. an activation reused "
                        "by several blocks: pick the block instead). "
                        if repeated
                        else ""
                    )
                    + (f"never called: {missing}." if missing else "")
                )
    finally:
        module.train(was_training)
    # ``store`` is filled in order of the first hook calls: forward order
    layers_out = {n: torch.cat(store[n]).numpy().astype(np.float32, copy=False) for n in store}
    return Activations(
        model_id,
        stimuli.ids,
        layers_out,
        reduce=label,
        meta={"stimulus_fingerprint": stimuli.fingerprint, "preprocess": repr(pre)},
    )
