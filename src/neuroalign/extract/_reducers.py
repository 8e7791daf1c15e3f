"""Reducers turn a layer's output for a batch into a 2-D ``(batch, n_features)`` tensor.

``REDUCERS`` maps each reducer's name to a factory: ``REDUCERS[name](**options)`` returns a callable
``(output, layer) -> tensor``. Reductions run on the device, batch by batch, before anything is
copied to the host, so memory holds reduced features only.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from ..core._registry import lookup, register
from ..core.exceptions import ShapeError

__all__ = ["REDUCERS", "make_reducer"]

Reducer = Callable[[Any, str], Any]
REDUCERS: dict[str, Callable[..., Reducer]] = {}


def _tensor(output: Any, layer: str) -> Any:
    """The tensor inside a layer output (tuples and Hugging Face outputs hold it first)."""
    import torch

    if isinstance(output, torch.Tensor):
        return output
    if isinstance(output, (tuple, list)) and output and isinstance(output[0], torch.Tensor):
        return output[0]
    first = getattr(output, "last_hidden_state", None)
    if isinstance(first, torch.Tensor):
        return first
    raise ShapeError(
        f"layer {layer!r} returned {type(output).__name__}, which holds no tensor to reduce."
    )


@register(REDUCERS)
def flatten() -> Reducer:
    """Every value of the output, flattened: (B, C, H, W) → (B, C·H·W)."""

    def run(output: Any, layer: str) -> Any:
        x = _tensor(output, layer)
        return x.reshape(x.shape[0], -1)

    return run


@register(REDUCERS)
def avgpool() -> Reducer:
    """Global average over space (B, C, H, W) → (B, C), or over tokens (B, T, D) → (B, D)."""

    def run(output: Any, layer: str) -> Any:
        x = _tensor(output, layer)
        if x.ndim == 4:
            return x.mean(dim=(2, 3))
        if x.ndim == 3:
            return x.mean(dim=1)
        return x.reshape(x.shape[0], -1)

    return run


def _token(position: int, name: str) -> Reducer:
    def run(output: Any, layer: str) -> Any:
        x = _tensor(output, layer)
        if x.ndim != 3:
            raise ShapeError(
                f"{name} needs (batch, tokens, dim) outputs; layer {layer!r} gave {tuple(x.shape)}."
            )
        return x[:, position]

    return run


@register(REDUCERS)
def cls_token() -> Reducer:
    """The first token of a (B, T, D) sequence (the CLS token of ViT/BERT-style models)."""
    return _token(0, "cls_token")


@register(REDUCERS)
def last_token() -> Reducer:
    """The last token of a (B, T, D) sequence (causal language models)."""
    return _token(-1, "last_token")


@register(REDUCERS)
def srp(n_components: int = 1024, seed: int = 0) -> Reducer:
    """Seeded very sparse random projection of the flattened output to ``n_components`` features.

    Entries of the projection matrix are ``±sqrt(s / n_components)`` with probability ``1/(2s)``
    each and 0 otherwise, with ``s = sqrt(n_input)`` (Li, Hastie & Church 2006); distances are
    preserved in expectation (Johnson–Lindenstrauss). The matrix depends only on ``seed``, the
    layer's input size and ``n_components``, so the same features come out in every run. Layers
    with at most ``n_components`` features are kept whole (flattened).
    """
    cache: dict[tuple[int, str], Any] = {}

    def matrix(n_in: int, device: Any, dtype: Any) -> Any:
        import torch

        key = (n_in, str(device))
        if key not in cache:
            rng = np.random.default_rng([seed, n_in, n_components])
            s = np.sqrt(n_in)
            density = 1.0 / s
            nnz = rng.binomial(n_in * n_components, density)
            flat = rng.choice(n_in * n_components, size=nnz, replace=False)
            rows, cols = np.divmod(flat, n_components)
            vals = rng.choice(np.array([-1.0, 1.0]), size=nnz) * np.sqrt(s / n_components)
            m = torch.sparse_coo_tensor(
                torch.from_numpy(np.stack([cols, rows])),
                torch.from_numpy(vals).float(),
                (n_components, n_in),
                check_invariants=True,
            )
            cache[key] = m.coalesce().to(device)
        return cache[key]

    def run(output: Any, layer: str) -> Any:
        import torch

        x = _tensor(output, layer)
        x = x.reshape(x.shape[0], -1)
        if x.shape[1] <= n_components:
            return x
        m = matrix(x.shape[1], x.device, x.dtype)
        return torch.sparse.mm(m, x.float().T).T

    return run


def make_reducer(reduce: str | Reducer, **options: Any) -> tuple[str, Reducer]:
    """Resolve ``reduce`` (a registry name or a callable ``(output, layer) -> tensor``)."""
    if callable(reduce):
        return getattr(reduce, "__name__", "custom"), reduce
    factory = lookup(REDUCERS, reduce, "reducer")
    label = (
        reduce
        if not options
        else f"{reduce}(" + ", ".join(f"{k}={v}" for k, v in sorted(options.items())) + ")"
    )
    return label, factory(**options)
