"""``extract``: activations of many layers from one forward pass per batch, streamed to a store.

The loop: inputs → batches (images decoded by a DataLoader or one vectorised preprocessing call
for in-memory arrays; texts tokenized with the pooling policy of ``_text``; tensors and batches
as they are, see ``_inputs``) → one forward pass with a hook per requested layer, each hook
reducing its output on the device → per-chunk buffers → (with ``cache``) one checksummed ``.npy``
per layer and chunk, joined into a memory-mapped array when a layer is complete (``_engine``,
``_store``). Peak memory is one chunk of reduced features, whose size follows ``memory_budget``;
without ``cache`` everything is kept in memory. Every argument is checked, and the store opened,
before the first forward pass.
"""

from __future__ import annotations

import dataclasses
import functools
import warnings
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from .. import __version__
from ..core import Activations, StimulusSet
from ..core._identity import (
    callable_key,
    device_key,
    module_custom_code,
    module_fingerprint,
    tokenizer_key,
)
from ..core._validation import parse_memory_budget, torch_device
from ..core.exceptions import ConfigurationError, NeuroalignWarning, ValidationError
from ._engine import Capture, ModelState, run_passes
from ._inputs import StreamSource, make_source
from ._layers import LayerSpec, resolve_layers
from ._loader import check_image_files
from ._reducers import Reducer, make_reducer, reducer_key
from ._sources import LoadedModel, load_model
from ._store import LayerEntry
from ._store_format import layer_key, store_root

__all__ = ["ExtractionPlan", "extract", "plan_extraction"]

FLATTEN_WARN_BYTES = 100 * 10**6  # a `flatten` larger than this is announced before the work


def _resolve_model(
    model: LoadedModel | str | Any, preprocess: Callable[[Any], Any] | None, need_pre: bool
) -> LoadedModel:
    if isinstance(model, str):
        model = load_model(model)
    if isinstance(model, LoadedModel):
        if preprocess is not None:
            model = dataclasses.replace(model, preprocess=preprocess)
        return model
    if not hasattr(model, "named_modules"):
        raise ConfigurationError(
            f"model must be a model id, a LoadedModel or a torch nn.Module; got "
            f"{type(model).__name__}."
        )
    if preprocess is None and need_pre:
        raise ConfigurationError(
            "extract() on a bare nn.Module with a StimulusSet of images needs preprocess=...; "
            "or pass a LoadedModel, or already-preprocessed inputs as a tensor with ids=."
        )
    return LoadedModel(model, preprocess, f"module:{type(model).__name__}")


def _key_parts(
    loaded: LoadedModel,
    source: Any,
    forward: Any,
    reduce: Any,
    reduce_options: dict[str, Any],
    cache_key: str | None,
    opts: dict[str, Any],
) -> dict[str, Any]:
    """Everything that can change a value (see ``_store``), or a clear error naming the custom
    callables that cannot be keyed by content when no ``cache_key`` names them."""
    import torch

    kind = source.kind
    unknown: dict[str, str] = {}

    def keyed(what: str, obj: Any, key: str | None) -> str | None:
        if obj is None:
            return None
        if key is None:
            unknown[what] = getattr(obj, "__qualname__", type(obj).__name__)
        return key

    custom = module_custom_code(loaded.module)
    for where, fn in custom:
        keyed(where, fn, callable_key(fn))
    parts: dict[str, Any] = {
        "model": module_fingerprint(loaded.module),
        "model_code": [[where, callable_key(fn)] for where, fn in custom] or None,
        "inputs": source.fingerprint,
        "preprocess": keyed(
            "preprocess",
            loaded.preprocess if kind == "image" else None,
            callable_key(loaded.preprocess),
        ),
        "tokenizer": keyed(
            "tokenizer",
            loaded.tokenizer if kind == "text" else None,
            tokenizer_key(loaded.tokenizer),
        ),
        "max_length": opts["max_length"] if kind == "text" else None,
        "forward": keyed("forward", forward, callable_key(forward)),
        "reduce": reducer_key(reduce, reduce_options),
        # fitted reducers see batches; text is padded per batch (left padding moves every
        # token's position id with the batch's longest text)
        "fit_batch": opts["batch_size"] if opts["fitted"] or kind == "text" else None,
        "device": device_key(opts["dev"]),
        "amp": opts["amp"],
        "channels_last": opts["channels_last"],
        "torch": torch.__version__,
        "neuroalign": __version__,
        "cache_key": cache_key,
    }
    if parts["reduce"] is None:
        unknown["reduce"] = getattr(reduce, "__qualname__", type(reduce).__name__)
    if unknown and cache_key is None:
        listing = ", ".join(f"{k}={v}" for k, v in unknown.items())
        raise ConfigurationError(
            f"cache= needs cache_key='...' to store the features of custom code ({listing}): a "
            "callable cannot be keyed by its content, so two different ones could share an "
            "entry. Name it with cache_key='my-pooling-v1' (change the name whenever the code "
            "changes), give the callable a cache_key attribute, or pass cache=None."
        )
    return parts


def extract(
    model: LoadedModel | str | Any,
    stimuli: StimulusSet | Any,
    layers: LayerSpec = None,
    reduce: str | Reducer | None = None,
    reduce_options: dict[str, Any] | None = None,
    batch_size: int = 32,
    device: str | None = "cpu",
    preprocess: Callable[[Any], Any] | None = None,
    cache: str | Path | bool | None = None,
    memory_budget: int | str = "2GB",
    num_workers: int | None = None,
    amp: str | None = None,
    channels_last: bool = False,
    on_error: str = "raise",
    max_length: int | None = None,
    verify_cache: bool = False,
    quiet: bool = False,
    *,
    ids: Sequence[Any] | None = None,
    forward: Callable[[Any, Any], Any] | None = None,
    cache_key: str | None = None,
) -> Activations:
    """Activations of ``layers`` for every stimulus, all layers from one forward pass per batch.

    Parameters
    ----------
    model : LoadedModel, model id str or torch.nn.Module
        A module given images as a StimulusSet needs ``preprocess``. Its parameters, train/eval
        state, device and memory format are the same afterwards (it runs in eval mode under
        ``torch.no_grad``). Each layer's values are the ones it computed, also when a later
        module changes its output in place (a BatchNorm before ``ReLU(inplace=True)``, a
        residual ``out += x``): such changes are detected and those layers copied in the hook.
    stimuli : StimulusSet, tensor/array (n_stimuli, ...) or iterable of batches
        A StimulusSet of images (paths, arrays or PIL; pixel values are never changed: 8-bit,
        16-bit and float images reach ``preprocess`` as they are) or texts (texts need a model
        with a tokenizer, ``hf:`` or ``open_clip:``; word-in-context stimuli carry
        ``char_start``/``char_end`` metadata). Or model inputs that are already preprocessed,
        for any module (video clips, audio, several inputs): a tensor or array whose first
        dimension is the stimuli, or an iterable of batches (a ``DataLoader`` with
        ``shuffle=False``, a list) of tensors, tuples or dicts of tensors; both need ``ids``.
    layers : str, list of str, predicate or None
        Native ``named_modules()`` names, ``"blocks"`` (default), ``"all"`` or a predicate. With a
        preset or predicate, modules that run more than once per pass (a shared activation) or
        never are left out with a warning; named explicitly, they are an error.
    reduce : str or callable, optional
        A reducer from ``REDUCERS`` (``flatten``, ``avgpool``, ``cls_token``, ``last_token``,
        ``srp``, ``ipca`` — fitted in a first pass) or a callable ``(output, layer) -> (batch,
        n_features) tensor`` (with ``cache``, it needs ``cache_key``). Default ``flatten`` for
        images and tensors (with a warning before one larger than 100 MB), ``avgpool`` (mean
        over the stimulus's tokens) for texts. ``avgpool`` averages every axis but the channels:
        space for images (N, C, H, W), time for audio (N, C, T), time and space for video
        (N, C, T, H, W), tokens for transformers (N, L, D); the layout is read from the hooked
        module's type, or given as ``reduce_options={"layout": "NCT"}`` (see ``_reducers``).
    reduce_options : dict, optional
        Options of the reducer, e.g. ``{"n_components": 4096, "seed": 0}`` for ``srp``,
        ``{"layout": "NCTHW"}`` for ``avgpool``; ``{"activation": "silu"}`` applies an activation
        first (any built-in reducer).
    batch_size : int
        Stimuli per forward pass (tensor inputs; an iterable keeps its own batches); halved
        automatically (with a warning) when the accelerator runs out of memory.
    device : {"cpu", "cuda", "cuda:N"} or None
        Where the model runs (None: the CPU); CUDA without a CUDA device is an error up front.
    preprocess : callable, optional
        ``(H, W, 3) image array -> (3, h, w) tensor``; required for a bare module given images.
        With ``cache``, a custom callable needs ``cache_key`` (an :class:`ImagePreprocess` is
        keyed by its content).
    cache : path, True or None
        A directory for the content-addressed feature store (``True``: ``$NEUROALIGN_CACHE`` or
        ``~/.cache/neuroalign/features``). Layers already there are read, not recomputed; an
        interrupted run resumes from its last complete chunk; several processes may share one
        store; results are memory-mapped. Checked (a folder, writable) before any work.
    memory_budget : int or str
        Bytes of reduced features held in memory at once (``10**9`` or ``"2GB"``); sets the
        chunk size with ``cache``. The model and one batch's forward pass come on top of it.
        Large layers written to the cache keep one chunk of their rows in the page cache (older
        rows are flushed to disk and dropped as the run goes: a larger budget keeps more of a
        store cached for reading right after).
    num_workers : int, optional
        DataLoader processes decoding image files (default: up to 4 for files, 0 in memory).
    amp : {"bf16", "fp16"}, optional
        Autocast the forward pass (fp16 needs CUDA). Features are stored as float32.
    channels_last : bool
        Run convolutional models in channels-last (NHWC) memory format: faster on CPUs (oneDNN's
        NHWC kernels; a ResNet-50 forward pass 1.39× and EfficientNet-Lite0 1.48× on 2 cores of
        an AMD EPYC) and on recent GPUs. Features equal the default's to float32 rounding (a few
        1e-6 of a layer's largest value: another summation order), not bit for bit; it is part
        of the cache key.
    on_error : {"raise", "skip"}
        Unreadable image files: one error listing every bad path, or leave those stimuli out
        (listed in a warning and in ``meta["skipped"]``).
    max_length : int, optional
        Token limit for texts (default: the tokenizer's).
    verify_cache : bool
        Re-hash cached ``features.npy`` files (their header and every range of rows, each
        against the SHA-256 computed when it was written) before serving them; by default a
        file is trusted when its size and modification time are those recorded then.
    quiet : bool
        No progress bar.
    ids : sequence of str, keyword-only
        One unique id per row of tensor or batch inputs.
    forward : callable, keyword-only
        ``forward(module, batch)`` runs the model on one batch (multi-input models, a method
        other than ``__call__``); by default ``module(x)``, ``module(*batch)`` for a tuple and
        ``module(**batch)`` for a dict. With ``cache``, it needs ``cache_key``.
    cache_key : str, keyword-only
        Names the custom callables (``reduce``, ``preprocess``, ``forward``) in the store key;
        change it whenever their code changes.

    Returns
    -------
    Activations
        One float32 array (n_stimuli, n_features) per layer, in forward order (the same order
        for features read from the store).
    """
    return plan_extraction(
        model,
        stimuli,
        layers,
        reduce,
        reduce_options,
        batch_size,
        device,
        preprocess,
        cache,
        memory_budget,
        num_workers,
        amp,
        channels_last,
        on_error,
        max_length,
        verify_cache,
        quiet,
        ids=ids,
        forward=forward,
        cache_key=cache_key,
    ).run()


def plan_extraction(
    model: LoadedModel | str | Any,
    stimuli: StimulusSet | Any,
    layers: LayerSpec = None,
    reduce: str | Reducer | None = None,
    reduce_options: dict[str, Any] | None = None,
    batch_size: int = 32,
    device: str | None = "cpu",
    preprocess: Callable[[Any], Any] | None = None,
    cache: str | Path | bool | None = None,
    memory_budget: int | str = "2GB",
    num_workers: int | None = None,
    amp: str | None = None,
    channels_last: bool = False,
    on_error: str = "raise",
    max_length: int | None = None,
    verify_cache: bool = False,
    quiet: bool = False,
    *,
    ids: Sequence[Any] | None = None,
    forward: Callable[[Any, Any], Any] | None = None,
    cache_key: str | None = None,
) -> ExtractionPlan:
    """Check every argument of :func:`extract` and resolve the model, the inputs and the layers,
    without any forward pass: the plan's :attr:`~ExtractionPlan.keys` are the feature-store keys
    ``extract`` would use (``bench`` keys its cells by them), and :meth:`~ExtractionPlan.run` runs
    the extraction. Same parameters as :func:`extract`."""
    import torch

    # ---------------------------------------------------------------- checks, before any work
    dev = torch_device(device)
    budget = parse_memory_budget(memory_budget)
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
        raise ValidationError(f"batch_size must be an integer >= 1; got {batch_size!r}.")
    if on_error not in ("raise", "skip"):
        raise ValidationError(f"on_error must be 'raise' or 'skip'; got {on_error!r}.")
    if cache_key is not None and (not isinstance(cache_key, str) or not cache_key):
        raise ValidationError(f"cache_key must be a non-empty string; got {cache_key!r}.")
    if forward is not None and not callable(forward):
        raise ValidationError(f"forward must be a callable (module, batch); got {forward!r}.")
    amp_dtype = {None: None, "bf16": torch.bfloat16, "fp16": torch.float16}.get(amp, "bad")
    if amp_dtype == "bad" or (amp == "fp16" and dev.type == "cpu"):
        raise ConfigurationError(
            f"amp={amp!r}: use None, 'bf16' (CPU or CUDA) or 'fp16' (CUDA only)."
        )
    is_set = isinstance(stimuli, StimulusSet)
    if is_set and len(stimuli) == 0:
        raise ValidationError("the stimulus set is empty; there is nothing to extract.")
    loaded = _resolve_model(model, preprocess, is_set and stimuli.kind == "image")
    module = loaded.module
    kind = stimuli.kind if is_set else "tensor"
    if is_set and kind not in loaded.modalities:
        raise ConfigurationError(
            f"{loaded.model_id} takes {' and '.join(loaded.modalities) or 'no'} inputs; the "
            f"stimuli are {kind}s."
            + (
                " Text needs a model with a tokenizer ('hf:' or 'open_clip:')."
                if kind == "text"
                else ""
            )
        )
    if reduce is None:
        reduce = "avgpool" if kind == "text" else "flatten"
    if kind == "text" and reduce in ("flatten", "srp"):
        raise ConfigurationError(
            f"reduce={reduce!r} would mix token positions across texts of different lengths; "
            "use 'avgpool' (mean over the stimulus's tokens), 'last_token' or 'cls_token'."
        )
    preset = (
        layers is None
        or (isinstance(layers, str) and layers in ("blocks", "all"))
        or callable(layers)
    )
    default = loaded.text_layers if kind == "text" and loaded.text_layers else loaded.default_layers
    names = resolve_layers(module, layers, default)
    if not names:
        raise ValidationError(f"layers={layers!r} selected no module of {type(module).__name__}.")
    options = dict(reduce_options or {})
    label, reducer = make_reducer(reduce, **options)
    root = store_root(cache) if cache else None

    # ---------------------------------------------------------------- inputs
    skipped: list[str] = []
    if is_set and kind == "image":
        stimuli, skipped = _drop_unreadable(stimuli, on_error)
    if forward is None and kind != "text":
        forward = loaded.forward.get("image") if kind == "image" or loaded.preprocess else None
    elif forward is None:
        forward = loaded.forward.get("text")
    opts: dict[str, Any] = dict(
        batch_size=batch_size,
        dev=dev,
        amp=amp,
        amp_dtype=amp_dtype,
        channels_last=bool(channels_last) and kind != "text",
        num_workers=num_workers,
        max_length=max_length,
        budget=budget,
        preset=preset,
        quiet=quiet,
        label=loaded.model_id,
        fitted=hasattr(reducer, "fit"),
        warn_size=FLATTEN_WARN_BYTES if str(reduce) == "flatten" else 0,
    )
    source = make_source(stimuli, ids, loaded, opts)
    if isinstance(source, StreamSource):  # batches read once, for no store: nothing to hash
        source.check = root is not None or opts["fitted"]
    n = source.n
    if n == 0:
        raise ValidationError("there are no inputs to extract (ids is empty).")

    return ExtractionPlan(
        loaded,
        source,
        names,
        reduce,
        options,
        reducer,
        label,
        root,
        forward,
        cache_key,
        opts,
        skipped,
        verify_cache,
    )


@dataclasses.dataclass(eq=False)
class ExtractionPlan:
    """What :func:`extract` will do, checked and resolved before any forward pass."""

    loaded: LoadedModel
    source: Any
    layers: list[str]
    reduce: Any
    options: dict[str, Any]
    reducer: Any
    label: str
    root: Path | None
    forward: Any
    cache_key: str | None
    opts: dict[str, Any]
    skipped: list[str]
    verify_cache: bool

    @functools.cached_property
    def parts(self) -> dict[str, Any]:
        """The key parts shared by every layer (an error for custom code without ``cache_key``)."""
        return _key_parts(
            self.loaded,
            self.source,
            self.forward,
            self.reduce,
            self.options,
            self.cache_key,
            self.opts,
        )

    @functools.cached_property
    def keys(self) -> dict[str, str]:
        """``{layer: feature-store key}`` for every candidate layer (the store's entry names)."""
        return {nm: layer_key({**self.parts, "layer": nm})[1] for nm in self.layers}

    def run(self) -> Activations:
        """Extract (reading complete layers from the store): see :func:`extract`."""
        return _run_plan(self)


def _run_plan(plan: ExtractionPlan) -> Activations:
    loaded, source, names, root, opts = plan.loaded, plan.source, plan.layers, plan.root, plan.opts
    module, reducer, forward, skipped, verify_cache = (
        loaded.module,
        plan.reducer,
        plan.forward,
        plan.skipped,
        plan.verify_cache,
    )
    kind = source.kind
    n = source.n
    # ---------------------------------------------------------------- the store
    entries: dict[str, LayerEntry] = {}
    if root is not None:
        entries = {nm: LayerEntry(root, {**plan.parts, "layer": nm}, n) for nm in names}
    todo = [nm for nm in names if not (nm in entries and entries[nm].is_complete(verify_cache))]
    chunk_size: int | None = next(
        (entries[nm].chunk_size for nm in todo if nm in entries and entries[nm].chunk_size), None
    )
    done: set[int] = set()
    if chunk_size and entries:
        done = set.intersection(*(entries[nm].claim(chunk_size) for nm in todo))
    meta: dict[str, Any] = {
        "stimulus_fingerprint": source.fingerprint if entries else None,
        "preprocess": repr(loaded.preprocess) if kind == "image" else None,
        "skipped": skipped,
    }
    opts["meta"] = meta
    results: dict[str, Any] = {}
    ranks: dict[str, int] = {}
    if todo:
        capture = Capture(module, todo, reducer)
        state = ModelState(module)
        try:
            state.prepare(opts["dev"], opts["channels_last"])
            results = run_passes(
                module,
                forward,
                source,
                capture,
                {nm: e for nm, e in entries.items() if nm in todo},
                done,
                chunk_size,
                opts,
            )
        except BaseException:
            for e in entries.values():  # the chunks recorded stay for the next run
                e.close()
            raise
        finally:
            state.restore()
        ranks = dict(capture.ranks or {})
    for nm, e in entries.items():
        if nm not in ranks and e.manifest.get("forward_rank") is not None:
            ranks[nm] = e.manifest["forward_rank"]

    # ---------------------------------------------------------------- output, in forward order
    kept = [nm for nm in names if nm in results or (nm in entries and nm not in todo)]
    registered = {nm: i for i, nm in enumerate(dict(module.named_modules()))}
    kept.sort(key=lambda nm: (nm not in ranks, ranks.get(nm, registered[nm])))
    layers_out: dict[str, Any] = {}
    try:
        for nm in kept:
            if nm in entries:
                if nm in results:
                    entries[nm].finalize()
                layers_out[nm] = entries[nm].open()
            else:
                layers_out[nm] = results[nm]
    finally:
        for e in entries.values():
            e.close()
    if entries:
        meta["cache"] = {nm: str(entries[nm].dir) for nm in layers_out}
    return Activations(loaded.model_id, source.ids, layers_out, reduce=plan.label, meta=meta)


def _drop_unreadable(stimuli: StimulusSet, on_error: str) -> tuple[StimulusSet, list[str]]:
    """Image files that cannot be read: one error listing them all, or left out (listed)."""
    bad = check_image_files(stimuli)
    if not bad:
        return stimuli, []
    listing = "\n".join(f"  {stimuli.ids[i]}: {why}" for i, why in bad[:50])
    if on_error == "raise":
        raise ValidationError(
            f"{len(bad)} image file(s) cannot be read:\n{listing}\nFix or remove them, or "
            "pass on_error='skip' to leave them out."
        )
    warnings.warn(
        f"left out {len(bad)} unreadable image(s):\n{listing}", NeuroalignWarning, stacklevel=3
    )
    keep = np.setdiff1d(np.arange(len(stimuli)), [i for i, _ in bad])
    return stimuli.take(keep), [str(stimuli.ids[i]) for i, _ in bad]
