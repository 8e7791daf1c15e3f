"""Reducers turn a layer's output for a batch into a 2-D ``(batch, n_features)`` tensor.

``REDUCERS`` maps each reducer's name to a factory: ``REDUCERS[name](**options)`` returns a callable
``(output, layer) -> tensor``. Reductions run on the device, batch by batch, before anything is
copied to the host, so memory holds reduced features only.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from contextvars import ContextVar
from typing import Any

import numpy as np

from ..core._registry import lookup, register
from ..core.exceptions import ConfigurationError, ShapeError

__all__ = ["ACTIVATIONS", "REDUCERS", "make_reducer", "reducer_key", "set_fit_batch"]

Reducer = Callable[[Any, str], Any]
REDUCERS: dict[str, Callable[..., Reducer]] = {}

# For text batches ``extract`` sets (weights (B, T), last (B,)): which tokens represent each
# stimulus (see ``extract._text``). Token reducers use it when a layer's output is (B, T, D).
TOKEN_POOLING: ContextVar[tuple[Any, Any] | None] = ContextVar("TOKEN_POOLING", default=None)


def _pooling_for(x: Any) -> tuple[Any, Any] | None:
    """The current text pooling, oriented to ``x`` (B, T, D); (T, B, D) outputs are transposed."""
    pool = TOKEN_POOLING.get()
    if pool is None or x.ndim != 3:
        return None
    weights, _ = pool
    if tuple(x.shape[:2]) == tuple(weights.shape):
        return pool
    return None


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


def _batch_first(x: Any) -> Any:
    """(T, B, D) sequence outputs (some transformer blocks) turned to (B, T, D) for text batches."""
    pool = TOKEN_POOLING.get()
    if pool is not None and x.ndim == 3 and tuple(x.shape[:2]) == tuple(pool[0].shape[::-1]):
        return x.transpose(0, 1)
    return x


@register(REDUCERS)
def avgpool() -> Reducer:
    """Global average over space (B, C, H, W) → (B, C), or over tokens (B, T, D) → (B, D); for
    text, over the tokens that represent each stimulus (padding and special tokens excluded)."""

    def run(output: Any, layer: str) -> Any:
        x = _tensor(output, layer)
        if x.ndim == 4:
            return x.mean(dim=(2, 3))
        if x.ndim == 3:
            x = _batch_first(x)
            pool = _pooling_for(x)
            if pool is not None:  # text: the mean over the tokens that represent each stimulus
                return (x * pool[0].to(x.device, x.dtype)[..., None]).sum(dim=1)
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
        x = _batch_first(x)
        pool = _pooling_for(x)
        if position == -1 and pool is not None:  # text: the last token of each stimulus
            import torch

            last = pool[1].to(x.device)
            return x[torch.arange(x.shape[0], device=x.device), last]
        return x[:, position]

    return run


@register(REDUCERS)
def cls_token() -> Reducer:
    """The first token of a (B, T, D) sequence (the CLS token of ViT/BERT-style models)."""
    return _token(0, "cls_token")


@register(REDUCERS)
def last_token() -> Reducer:
    """The last token of a (B, T, D) sequence (causal language models); for text, the last token
    of each stimulus's sentence or word span (padding excluded)."""
    return _token(-1, "last_token")


@register(REDUCERS)
def srp(n_components: int = 1024, seed: int = 0, nnz_per_feature: int = 1) -> Reducer:
    """Seeded sparse random projection of the flattened output to ``n_components`` features.

    A sparse Johnson–Lindenstrauss transform (Kane & Nelson 2014): every input feature is added,
    with a random sign and weight ``1/sqrt(s)``, into ``s = nnz_per_feature`` random output
    features (``s = 1`` is the CountSketch / feature hashing of Weinberger et al. 2009). Squared
    norms and distances are preserved in expectation, with variance at most that of a dense
    Gaussian projection (``≤ 2‖x‖⁴ / n_components``); larger ``s`` tightens the tail for spiky
    inputs. Cost: ``s`` additions per input value — no matrix is stored, only ``s`` indices and
    signs per input feature (about ``12·s`` bytes per feature), which is what lets an all-layer
    sweep of a large CNN run in bounded memory. The projection depends only on ``seed``, the
    layer's input size, ``n_components`` and ``s``: the same features come out in every run and
    on every device. Layers with at most ``n_components`` features are kept whole (flattened).
    """
    if n_components < 1 or nnz_per_feature < 1 or nnz_per_feature > n_components:
        raise ShapeError(
            f"srp needs n_components >= 1 and 1 <= nnz_per_feature <= n_components; got "
            f"n_components={n_components}, nnz_per_feature={nnz_per_feature}."
        )
    cache: dict[tuple[int, str], tuple[Any, Any]] = {}

    def plan(n_in: int, device: Any) -> tuple[Any, Any]:
        import torch

        key = (n_in, str(device))
        if key not in cache:
            rng = np.random.default_rng([seed, n_in, n_components, nnz_per_feature])
            s = nnz_per_feature
            # block construction: output j·b … (j+1)·b − 1 receives the j-th copy, so the s
            # outputs of a feature are distinct
            b = n_components // s
            cols = np.stack(
                [
                    j * b + rng.integers(0, b if j < s - 1 else n_components - j * b, size=n_in)
                    for j in range(s)
                ]
            )
            signs = rng.choice(np.array([-1.0, 1.0], dtype=np.float32), size=(s, n_in)) / np.sqrt(s)
            cache[key] = (
                torch.from_numpy(np.ascontiguousarray(cols)).to(device),
                torch.from_numpy(signs.astype(np.float32)).to(device),
            )
        return cache[key]

    def run(output: Any, layer: str) -> Any:
        import torch

        x = _tensor(output, layer)
        x = x.reshape(x.shape[0], -1)
        if x.shape[1] <= n_components:
            return x
        cols, signs = plan(x.shape[1], x.device)
        xt = x.float().T  # (n_in, batch): each feature's values contiguous
        out = torch.zeros(n_components, x.shape[0], device=x.device, dtype=torch.float32)
        for j in range(cols.shape[0]):
            out.index_add_(0, cols[j], xt * signs[j][:, None])
        return out.T

    return run


class _IncrementalPCA:
    """Incremental PCA of one layer's flattened outputs (Ross et al. 2008; scikit-learn's
    ``IncrementalPCA`` update): the current components, scaled by their singular values, are
    stacked with each centred batch and a mean-correction row, and re-decomposed. Batches are
    buffered until they hold at least ``n_components`` rows. The decomposition uses the small
    Gram matrix ``A Aᵀ`` (float64 eigendecomposition) instead of an SVD of the wide ``A``."""

    def __init__(self, n_components: int, block: int | None = None) -> None:
        self.k = n_components
        self.block = None if block is None else max(block, n_components)
        self.n_seen = 0
        self.mean: Any = None
        self.components: Any = None  # (k, p)
        self.singular: Any = None
        self.buffer: list[Any] = []

    def partial_fit(self, x: Any, final: bool = False) -> None:
        import torch

        if x is not None:
            self.buffer.append(x.double() if x.shape[1] <= 65536 else x.float())
        rows = sum(b.shape[0] for b in self.buffer)
        if self.block is not None and self.buffer:  # exact blocks: the fit does not depend on
            X = torch.cat(self.buffer)  # how the passes were split (out-of-memory back-off)
            cut = rows if final else rows - rows % self.block
            self.buffer = [X[cut:]] if cut < rows else []
            for a in range(0, cut, self.block):
                self._update(X[a : a + self.block])
            return
        if not self.buffer or (rows < self.k and not final):
            return
        X = torch.cat(self.buffer)
        self.buffer = []
        self._update(X)

    def _update(self, X: Any) -> None:
        import torch

        batch_mean = X.mean(0)
        A = X - batch_mean
        if self.n_seen:
            total = self.n_seen + X.shape[0]
            correction = np.sqrt(self.n_seen * X.shape[0] / total) * (self.mean - batch_mean)
            A = torch.cat(
                [
                    self.singular[:, None].to(A.dtype) * self.components.to(A.dtype),
                    A,
                    correction[None].to(A.dtype),
                ]
            )
            self.mean = (self.n_seen * self.mean + X.shape[0] * batch_mean) / total
            self.n_seen = total
        else:
            self.mean, self.n_seen = batch_mean, X.shape[0]
        gram = (A @ A.T).double()
        evals, evecs = torch.linalg.eigh(gram)
        order = torch.argsort(evals, descending=True)[: self.k]
        sv = evals[order].clamp_min(0).sqrt()
        keep = sv > sv[0] * 1e-10
        vt = (evecs[:, order][:, keep].T.to(A.dtype) @ A) / sv[keep][:, None].to(A.dtype)
        # sign convention of scikit-learn (svd_flip, u_based_decision=False)
        signs = torch.sign(vt[torch.arange(vt.shape[0]), vt.abs().argmax(1)])
        self.components = vt * signs[:, None]
        self.singular = sv[keep]

    def transform(self, x: Any) -> Any:
        return (
            (x.to(self.components.dtype) - self.mean.to(self.components.dtype)) @ self.components.T
        ).float()


@register(REDUCERS)
def ipca(n_components: int = 256) -> Reducer:
    """Incremental PCA of the flattened output to ``n_components`` features, per layer.

    Needs a first pass over all stimuli to fit (``extract`` runs it: two forward passes in all);
    equal to scikit-learn's ``IncrementalPCA`` fed the same batches. ``extract`` fits on blocks
    of exactly ``max(n_components, batch_size)`` rows (``run.fit_batch``), so the fit depends on
    the batch size (which is part of the store key) and not on how passes were split. Memory:
    the components, ``n_components × n_features`` per layer (use ``srp`` first for very wide
    layers).
    """
    if n_components < 1:
        raise ShapeError(f"ipca needs n_components >= 1; got {n_components}.")
    fits: dict[str, _IncrementalPCA] = {}

    def run(output: Any, layer: str) -> Any:
        x = _tensor(output, layer)
        x = x.reshape(x.shape[0], -1)
        if x.shape[1] <= n_components:
            return x
        if layer not in fits or fits[layer].components is None:
            raise ShapeError(f"ipca has not been fitted for layer {layer!r}; extract() fits it.")
        return fits[layer].transform(x)

    def fit(output: Any, layer: str) -> Any:
        x = _tensor(output, layer)
        x = x.reshape(x.shape[0], -1)
        if x.shape[1] > n_components:
            block = getattr(run, "fit_batch", None)
            fits.setdefault(layer, _IncrementalPCA(n_components, block)).partial_fit(x)
        return x[:, :0]

    def finish() -> None:
        for f in fits.values():
            f.partial_fit(None, final=True)

    run.fit = fit  # type: ignore[attr-defined]
    run.finish_fit = finish  # type: ignore[attr-defined]
    run.fits = fits  # type: ignore[attr-defined]
    return run


def _act(name: str) -> Callable[[Any], Any]:
    import torch.nn.functional as F

    table: dict[str, Callable[[Any], Any]] = {
        "relu": F.relu,
        "relu6": F.relu6,
        "gelu": F.gelu,
        "silu": F.silu,
        "swish": F.silu,
        "hardswish": F.hardswish,
        "sigmoid": F.sigmoid,
        "tanh": F.tanh,
    }
    return table[name]


ACTIVATIONS = ("relu", "relu6", "gelu", "silu", "swish", "hardswish", "sigmoid", "tanh")
# module type names → the activation option that reproduces them (for `layers` hints)
ACTIVATION_TYPES = {
    "ReLU": "relu",
    "ReLU6": "relu6",
    "GELU": "gelu",
    "SiLU": "silu",
    "Swish": "swish",
    "MemoryEfficientSwish": "swish",
    "Hardswish": "hardswish",
    "Sigmoid": "sigmoid",
    "Tanh": "tanh",
}


def make_reducer(reduce: str | Reducer, **options: Any) -> tuple[str, Reducer]:
    """Resolve ``reduce`` (a registry name or a callable ``(output, layer) -> tensor``).

    Every built-in reducer also takes ``activation=`` (one of ``ACTIVATIONS``),
    applied to the layer's output first: how to capture a pre-activation module (a batch norm)
    and get the output of the activation that follows it when that activation is a module shared
    by several places (which cannot be hooked on its own).
    """
    if callable(reduce):
        return getattr(reduce, "__name__", "custom"), reduce
    act = options.pop("activation", None)
    factory = lookup(REDUCERS, reduce, "reducer")
    if act is not None and act not in ACTIVATIONS:
        raise ConfigurationError(f"activation must be one of {list(ACTIVATIONS)}; got {act!r}.")
    try:
        inspect.signature(factory).bind(**options)
    except TypeError as err:
        raise ConfigurationError(
            f"reducer {reduce!r} takes options {list(inspect.signature(factory).parameters)} "
            f"(and activation=); got {sorted(options)}."
        ) from err
    shown = {**options, **({"activation": act} if act else {})}
    label = (
        reduce
        if not shown
        else f"{reduce}(" + ", ".join(f"{k}={v}" for k, v in sorted(shown.items())) + ")"
    )
    base = factory(**options)
    if act is None:
        return label, base
    fn = _act(act)

    def run(output: Any, layer: str) -> Any:
        return base(fn(_tensor(output, layer)), layer)

    run.__wrapped__ = base  # type: ignore[attr-defined]
    if hasattr(base, "fit"):  # a fitted reducer is fitted on the activation's output too
        inner_fit = base.fit  # type: ignore[attr-defined]
        run.fit = lambda output, layer: inner_fit(fn(_tensor(output, layer)), layer)  # type: ignore[attr-defined]
        run.finish_fit = base.finish_fit  # type: ignore[attr-defined]
        run.fits = base.fits  # type: ignore[attr-defined]
    return label, run


def set_fit_batch(reducer: Reducer, batch_size: int) -> None:
    """Tell a fitted reducer (and the one it wraps) the block size to fit on."""
    candidates: tuple[Any, ...] = (reducer, getattr(reducer, "__wrapped__", None))
    for r in candidates:
        if r is not None and hasattr(r, "fit"):
            r.fit_batch = batch_size


def reducer_key(reduce: str | Reducer, options: dict[str, Any]) -> dict[str, Any] | None:
    """A built-in reducer's identity for the store key: its name and every option, defaults
    filled in (``srp`` and ``srp(n_components=1024)`` are one entry); a callable's ``cache_key``
    attribute; None for a callable without one (it cannot be keyed by content)."""
    if callable(reduce):
        key = getattr(reduce, "cache_key", None)
        return {"custom": key} if isinstance(key, str) else None
    opts = dict(options)
    act = opts.pop("activation", None)
    bound = inspect.signature(lookup(REDUCERS, reduce, "reducer")).bind(**opts)
    bound.apply_defaults()
    return {"name": reduce, "options": dict(bound.arguments), "activation": act}
