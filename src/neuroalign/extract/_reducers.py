"""Reducers turn a layer's output for a batch into a 2-D ``(batch, n_features)`` tensor.

``REDUCERS`` maps each reducer's name to a factory: ``REDUCERS[name](**options)`` returns a callable
``(output, layer) -> tensor``. Reductions run on the device, batch by batch, before anything is
copied to the host, so memory holds reduced features only.

Axes. ``avgpool`` and the token reducers need to know which axis holds the channels: a layout from
:data:`LAYOUTS` (``"NCHW"``, ``"NHWC"``, ``"NCTHW"``, ``"NTHWC"``, ``"NCT"``, ``"NTC"``, ``"NLD"``
tokens), given as the ``layout=`` option or, by default, read from the hooked module (``extract``
tells the reducer which module it is reducing, :data:`LAYER_MODULE`): convolutions, batch/instance
norms and pooling of dimension d are channels-first (N, C, *d spatial axes*); ``Linear``,
``LayerNorm``, attention and embeddings are channels-last (tokens (N, L, D), or (N, H, W, C) /
(N, T, H, W, C) maps as in Swin). A container (a block, a stage) is read from the modules inside
it when they agree; a module with no axes of its own (an activation, dropout) from its parent.
When they disagree (a convolution block with a LayerNorm) or a convolution's spatial axes were
flattened (a ViT patch embedding), the axis whose size is a channel count of those layers, when
exactly one is, is the channel axis (decided on the first batch, kept for the layer). When the
modules still disagree or say nothing, a 4-D output is taken as (N, C, H, W) (the convention of
every torchvision/timm CNN), a 3-D output of text as tokens, and anything else is refused with an
error that names the layer, the shape and the ``layout=`` to pass — never guessed.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from contextvars import ContextVar
from typing import Any

import numpy as np

from ..core._identity import callable_key, code_hash
from ..core._registry import lookup, register
from ..core.exceptions import ConfigurationError, ShapeError

__all__ = [
    "ACTIVATIONS",
    "LAYER_MODULE",
    "LAYOUTS",
    "REDUCERS",
    "make_reducer",
    "reducer_key",
    "set_fit_batch",
]

Reducer = Callable[[Any, str], Any]
REDUCERS: dict[str, Callable[..., Reducer]] = {}

# For text batches ``extract`` sets (weights (B, T), last (B,)): which tokens represent each
# stimulus (see ``extract._text``). Token reducers use it when a layer's output is (B, T, D).
TOKEN_POOLING: ContextVar[tuple[Any, Any] | None] = ContextVar("TOKEN_POOLING", default=None)

# ``extract`` sets (name → module of the model, hooked layer name) while a layer's output is
# reduced, so that reducers can read the axes from the module type (see ``_layout``).
LAYER_MODULE: ContextVar[tuple[dict[str, Any], str] | None] = ContextVar(
    "LAYER_MODULE", default=None
)

#: layout → (number of axes, the axes ``avgpool`` averages over); N is the batch, C/D channels,
#: T time, H/W space, L tokens. ``NLD`` (tokens) and ``NTC`` average the same axis; ``NLD`` also
#: applies the text pooling (padding and special tokens left out).
LAYOUTS: dict[str, tuple[int, tuple[int, ...]]] = {
    "NC": (2, ()),
    "NCT": (3, (2,)),
    "NTC": (3, (1,)),
    "NLD": (3, (1,)),
    "NCHW": (4, (2, 3)),
    "NHWC": (4, (1, 2)),
    "NCTHW": (5, (2, 3, 4)),
    "NTHWC": (5, (1, 2, 3)),
}
_FIRST = {3: "NCT", 4: "NCHW", 5: "NCTHW"}  # channels-first layout by number of axes
_LAST = {3: "NLD", 4: "NHWC", 5: "NTHWC"}  # channels-last


def _family(m: Any) -> tuple[str, int | None] | None:
    """("first", d) for d-dimensional convolutions, batch/instance norms and pooling; ("last",
    None) for modules that act on the last axis (Linear, LayerNorm, attention, embeddings);
    None for modules without axes of their own (activations, dropout, containers)."""
    from torch import nn

    for d in (1, 2, 3):
        kinds = tuple(
            getattr(nn, f"{k}{d}d")
            for k in (
                "Conv",
                "ConvTranspose",
                "BatchNorm",
                "InstanceNorm",
                "MaxPool",
                "AvgPool",
                "AdaptiveAvgPool",
                "AdaptiveMaxPool",
                "LPPool",
            )
            if hasattr(nn, f"{k}{d}d")
        )
        if isinstance(m, kinds):
            return ("first", d)
    if isinstance(m, nn.GroupNorm):
        return ("first", None)
    last = (nn.Linear, nn.LayerNorm, nn.Embedding, nn.MultiheadAttention)
    if isinstance(m, last + ((nn.RMSNorm,) if hasattr(nn, "RMSNorm") else ())):
        return ("last", None)
    return None


def _widths(m: Any) -> set[int]:
    """The channel counts the layers inside ``m`` produce (convolution/linear outputs, norms)."""
    from torch import nn

    out: set[int] = set()
    for sub in m.modules():
        for attr in ("out_channels", "out_features", "num_features", "num_channels", "embed_dim"):
            v = getattr(sub, attr, None)
            if isinstance(v, int):
                out.add(v)
        if isinstance(sub, nn.LayerNorm) and sub.normalized_shape:
            out.add(int(sub.normalized_shape[-1]))
        if isinstance(sub, nn.Embedding):
            out.add(int(sub.embedding_dim))
    return out


def _module_layout(
    mods: dict[str, Any], layer: str, shape: tuple[int, ...]
) -> tuple[str | None, str]:
    """The layout the modules say for ``layer``'s output of ``shape`` (None: undecided), and a
    description of what was read (for errors)."""
    ndim = len(shape)
    path = layer
    while True:
        m = mods.get(path)
        fams = set() if m is None else {f for f in map(_family, m.modules()) if f is not None}
        if fams or not path:
            break
        path = path.rpartition(".")[0]  # no axes of its own: ask the parent
    hooked = mods.get(layer)
    where = f"a {type(hooked).__name__} module" if hooked is not None else ""
    if path != layer:
        where += f", read from {('its parent ' + repr(path)) if path else 'the whole model'}"
    firsts = {d for f, d in fams if f == "first"}
    lasts = any(f == "last" for f, _ in fams)
    if ndim in _FIRST and firsts and not lasts and firsts <= {ndim - 2, None}:
        return _FIRST[ndim], where
    if ndim in _LAST and lasts and not firsts:
        return _LAST[ndim], where
    if fams and ndim in _FIRST:
        # mixed (a conv block with a LayerNorm), or a convolution whose spatial axes were
        # flattened (a ViT patch embedding): the axis whose size is one of the layers' channel
        # counts is the channel axis, when exactly one of the two candidates is
        widths = _widths(m)
        first, last = shape[1] in widths, shape[-1] in widths
        if first != last:
            return (_FIRST if first else _LAST)[ndim], where
    if firsts and lasts:
        return None, where + " mixing convolutions and linear/norm layers"
    return None, where


def _read_layout(x: Any, layer: str, cache: dict[Any, Any]) -> tuple[str | None, str]:
    """:func:`_module_layout` for the module ``extract`` is reducing now (``(None, "")`` outside
    ``extract``); decided on the first batch and kept per module object and number of axes."""
    ctx = LAYER_MODULE.get()
    if ctx is None:
        return None, ""
    module = ctx[0].get(layer)
    key = (layer, x.ndim)
    hit = cache.get(key)
    if hit is None or hit[0] is not module:  # the module itself is kept: no id() reuse
        hit = cache[key] = (module, *_module_layout(ctx[0], layer, tuple(x.shape)))
    return hit[1], hit[2]


def _layout(x: Any, layer: str, layout: str | None, who: str, cache: dict[Any, Any]) -> str:
    """The layout of ``x`` (see the module docstring); raises when it cannot be told."""
    if layout is not None:
        if LAYOUTS[layout][0] != x.ndim:
            raise ShapeError(
                f"{who}(layout={layout!r}) needs {LAYOUTS[layout][0]}-D outputs; layer {layer!r} "
                f"gave {tuple(x.shape)}."
            )
        return layout
    if x.ndim == 2:
        return "NC"
    found, where = _read_layout(x, layer, cache)
    if found is not None:
        return found
    if x.ndim == 3 and _pooling_for(_batch_first(x)) is not None:
        return "NLD"  # text: tokens
    if x.ndim == 4:
        return "NCHW"
    options = [k for k, (nd, _) in LAYOUTS.items() if nd == x.ndim]
    raise ShapeError(
        f"{who} cannot tell the axes of layer {layer!r}'s output of shape {tuple(x.shape)}"
        + (f" ({where})" if where else "")
        + (
            f": pass reduce_options={{'layout': ...}} with one of {options} "
            "(N batch, C/D channels, T time, H/W space, L tokens)."
            if options
            else "; reduce it with 'flatten', 'srp' or a custom callable."
        )
    )


def _check_layout(layout: str | None, allowed: Any = LAYOUTS) -> None:
    if layout is not None and layout not in allowed:
        raise ConfigurationError(f"layout must be one of {list(allowed)} or None; got {layout!r}.")


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
def avgpool(layout: str | None = None) -> Reducer:
    """The mean over every axis but the batch and the channels: (N, C, H, W) → (N, C),
    (N, C, T, H, W) → (N, C), (N, C, T) → (N, C), tokens (N, L, D) → (N, D) — for text, over the
    tokens that represent each stimulus (padding and special tokens excluded).

    ``layout`` (one of :data:`LAYOUTS`) names the axes; by default they are read from the hooked
    module (see the module docstring), and an output whose axes cannot be told is refused.
    """
    _check_layout(layout)
    cache: dict[Any, Any] = {}

    def run(output: Any, layer: str) -> Any:
        x = _tensor(output, layer)
        if x.ndim == 1:
            return x[:, None]
        lay = _layout(x, layer, layout, "avgpool", cache)
        if lay == "NC":
            return x
        if lay == "NLD":
            x = _batch_first(x)
            pool = _pooling_for(x)
            if pool is not None:  # text: the mean over the tokens that represent each stimulus
                return (x * pool[0].to(x.device, x.dtype)[..., None]).sum(dim=1)
            return x.mean(dim=1)
        return x.mean(dim=LAYOUTS[lay][1])

    return run


def _token(position: int, name: str, layout: str | None) -> Reducer:
    _check_layout(layout, ("NLD",))
    cache: dict[Any, Any] = {}

    def run(output: Any, layer: str) -> Any:
        x = _tensor(output, layer)
        if x.ndim != 3:
            raise ShapeError(
                f"{name} needs (batch, tokens, dim) outputs; layer {layer!r} gave {tuple(x.shape)}."
            )
        if layout is None:
            found, where = _read_layout(x, layer, cache)
            if found == "NCT":
                raise ShapeError(
                    f"{name} needs (batch, tokens, dim) outputs; layer {layer!r} ({where}) gives "
                    f"channels-first (batch, channels, time) {tuple(x.shape)}, which has no "
                    f"tokens. Use 'avgpool' (the mean over time), or pass "
                    f"reduce_options={{'layout': 'NLD'}} if the output really is tokens."
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
def cls_token(layout: str | None = None) -> Reducer:
    """The first token of a (B, T, D) sequence (the CLS token of ViT/BERT-style models).

    A convolution's (batch, channels, time) output has no tokens and is refused;
    ``layout="NLD"`` overrides that reading of the hooked module."""
    return _token(0, "cls_token", layout)


@register(REDUCERS)
def last_token(layout: str | None = None) -> Reducer:
    """The last token of a (B, T, D) sequence (causal language models); for text, the last token
    of each stimulus's sentence or word span (padding excluded). ``layout`` as for
    :func:`cls_token`."""
    return _token(-1, "last_token", layout)


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
    filled in (``srp`` and ``srp(n_components=1024)`` are one entry; ``avgpool``'s ``layout``
    is one of them, None when read from the module); a callable's ``cache_key``
    attribute; None for a callable without one (it cannot be keyed by content)."""
    if callable(reduce):
        key = getattr(reduce, "cache_key", None)
        return {"custom": key} if isinstance(key, str) else None
    opts = dict(options)
    act = opts.pop("activation", None)
    factory = lookup(REDUCERS, reduce, "reducer")
    bound = inspect.signature(factory).bind(**opts)
    bound.apply_defaults()
    key = {"name": reduce, "options": dict(bound.arguments), "activation": act}
    if not str(getattr(factory, "__module__", "")).startswith("neuroalign."):
        # a reducer registered by the user: its name says nothing about its code, which can
        # change between runs (versioned with the package only for neuroalign's own)
        key["code"] = callable_key(factory) or code_hash(factory)
    return key
