"""``extract``: activations of many layers from one forward pass per batch, streamed to a store.

The loop: stimuli → batches (images decoded by a DataLoader, or one vectorised preprocessing call
for in-memory arrays; texts tokenized with the pooling policy of ``_text``) → one forward pass with
a hook per requested layer, each hook reducing its output on the device → per-chunk buffers →
(with ``cache``) one checksummed ``.npy`` per layer and chunk, joined into a memory-mapped array
when a layer is complete. Peak memory is one chunk of reduced features, whose size follows
``memory_budget``; without ``cache`` everything is kept in memory.
"""

from __future__ import annotations

import contextlib
import re
import warnings
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from .. import __version__
from ..core import Activations, StimulusSet
from ..core._progress import track
from ..core.exceptions import ConfigurationError, NeuroalignWarning, ValidationError
from ._layers import LayerSpec, resolve_layers
from ._loader import check_image_files, image_batches
from ._reducers import TOKEN_POOLING, Reducer, make_reducer
from ._sources import LoadedModel, load_model
from ._store import LayerEntry, default_cache_dir, module_fingerprint
from ._text import tokenize

__all__ = ["extract", "parse_bytes"]


def parse_bytes(value: int | str) -> int:
    """``"2GB"``, ``"512 MiB"``, ``10**9`` → bytes."""
    if isinstance(value, int):
        return value
    m = re.fullmatch(r"\s*([\d.]+)\s*([kKmMgGtT]?)(i?)[bB]?\s*", str(value))
    if not m:
        raise ValidationError(f"memory_budget {value!r} is not a size such as '2GB' or '512MiB'.")
    base = 1024 if m.group(3) else 1000
    power = " kmgt".index(m.group(2).lower() or " ")
    return int(float(m.group(1)) * base**power)


class _Capture:
    """Forward hooks on the requested layers: each reduces its output and appends it to a list;
    counts calls so that a module run twice in one pass (a shared activation) is caught."""

    def __init__(self, module: Any, names: Sequence[str], reducer: Reducer) -> None:
        self.mods = dict(module.named_modules())
        self.names = list(names)
        self.reducer = reducer
        self.out: dict[str, list[Any]] = {n: [] for n in names}
        self.calls: dict[str, int] = {}
        self.order: list[str] = []  # forward order of first calls

    @contextlib.contextmanager
    def hooks(self) -> Iterator[None]:
        handles = []

        def make(name: str) -> Callable[..., None]:
            def hook(_m: Any, _inp: Any, out: Any) -> None:
                self.calls[name] = self.calls.get(name, 0) + 1
                if name not in self.order:
                    self.order.append(name)
                self.out[name].append(self.reducer(out, name).detach().float())

            return hook

        try:
            for n in self.names:
                handles.append(self.mods[n].register_forward_hook(make(n)))
            yield
        finally:
            for h in handles:
                h.remove()

    def drop(self, names: Sequence[str]) -> None:
        for n in names:
            self.names.remove(n)
            self.out.pop(n, None)


def _is_oom(err: BaseException) -> bool:
    import torch

    return isinstance(err, torch.OutOfMemoryError) or "out of memory" in str(err).lower()


def _resolve_model(
    model: LoadedModel | str | Any, preprocess: Callable[[Any], Any] | None
) -> LoadedModel:
    if isinstance(model, str):
        model = load_model(model)
    if isinstance(model, LoadedModel):
        if preprocess is not None:
            import dataclasses

            model = dataclasses.replace(model, preprocess=preprocess)
        return model
    if preprocess is None:
        raise ConfigurationError(
            "extract() on a bare nn.Module needs preprocess=...; or pass a LoadedModel."
        )
    return LoadedModel(model, preprocess, f"module:{type(model).__name__}")


def extract(
    model: LoadedModel | str | Any,
    stimuli: StimulusSet,
    layers: LayerSpec = None,
    reduce: str | Reducer | None = None,
    reduce_options: dict[str, Any] | None = None,
    batch_size: int = 32,
    device: str = "cpu",
    preprocess: Callable[[Any], Any] | None = None,
    cache: str | Path | bool | None = None,
    memory_budget: int | str = "2GB",
    num_workers: int | None = None,
    amp: str | None = None,
    channels_last: bool = False,
    on_error: str = "raise",
    max_length: int | None = None,
    verify_cache: bool = True,
    quiet: bool = False,
) -> Activations:
    """Activations of ``layers`` for every stimulus, all layers from one forward pass per batch.

    Parameters
    ----------
    model : LoadedModel, model id str or torch.nn.Module
        A module needs ``preprocess``. Its parameters, train/eval state, device and memory format
        are the same afterwards (it runs in eval mode under ``torch.inference_mode``).
    stimuli : StimulusSet
        Images (paths, arrays or PIL) or texts; texts need a model with a tokenizer (``hf:``,
        ``open_clip:``). Word-in-context stimuli carry ``char_start``/``char_end`` metadata.
    layers : str, list of str, predicate or None
        Native ``named_modules()`` names, ``"blocks"`` (default), ``"all"`` or a predicate. With a
        preset or predicate, modules that run more than once per pass (a shared activation) or
        never are left out with a warning; named explicitly, they are an error.
    reduce : str or callable, optional
        A reducer from ``REDUCERS`` (``flatten``, ``avgpool``, ``cls_token``, ``last_token``,
        ``srp``, ``ipca`` — fitted in a first pass) or a callable ``(output, layer) -> (batch, n_features) tensor``. Default
        ``flatten`` for images, ``avgpool`` (mean over the stimulus's tokens) for texts.
    reduce_options : dict, optional
        Options of the reducer, e.g. ``{"n_components": 4096, "seed": 0}`` for ``srp``.
    batch_size : int
        Stimuli per forward pass; halved automatically (with a warning) when the accelerator
        runs out of memory.
    device : str
        ``"cpu"``, ``"cuda"`` or ``"cuda:N"``.
    preprocess : callable, optional
        ``(H, W, 3) uint8 array -> (3, h, w) tensor``; required for a bare module.
    cache : path, True or None
        A directory for the content-addressed feature store (``True``: ``$NEUROALIGN_CACHE`` or
        ``~/.cache/neuroalign/features``). Layers already there are read, not recomputed; an
        interrupted run resumes from its last complete chunk; results are memory-mapped.
    memory_budget : int or str
        Bytes of reduced features held in memory at once (``"2GB"``); sets the chunk size with
        ``cache``. The model and one batch's forward pass come on top of it.
    num_workers : int, optional
        DataLoader processes decoding image files (default: up to 4 for files, 0 in memory).
    amp : {"bf16", "fp16"}, optional
        Autocast the forward pass (fp16 needs CUDA). Features are stored as float32.
    channels_last : bool
        Run convolutional models in channels-last memory format (faster on recent GPUs).
    on_error : {"raise", "skip"}
        Unreadable image files: one error listing every bad path, or leave those stimuli out
        (listed in a warning and in ``meta["skipped"]``).
    max_length : int, optional
        Token limit for texts (default: the tokenizer's).
    verify_cache : bool
        Check cached files against their SHA-256 before serving them.
    quiet : bool
        No progress bar.

    Returns
    -------
    Activations
        One float32 array (n_stimuli, n_features) per layer, in forward order.
    """
    import torch

    loaded = _resolve_model(model, preprocess)
    module = loaded.module
    if len(stimuli) == 0:
        raise ValidationError("the stimulus set is empty; there is nothing to extract.")
    kind = stimuli.kind
    if kind not in loaded.modalities:
        raise ConfigurationError(
            f"{loaded.model_id} takes {' and '.join(loaded.modalities) or 'no'} inputs; the "
            f"stimuli are {kind}s."
            + (
                " Text needs a model with a tokenizer ('hf:' or 'open_clip:')."
                if kind == "text"
                else ""
            )
        )
    if batch_size < 1:
        raise ValidationError(f"batch_size must be >= 1; got {batch_size}.")
    if on_error not in ("raise", "skip"):
        raise ValidationError(f"on_error must be 'raise' or 'skip'; got {on_error!r}.")
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
    label, reducer = make_reducer(reduce, **(reduce_options or {}))
    dev = torch.device(device)
    amp_dtype = {None: None, "bf16": torch.bfloat16, "fp16": torch.float16}.get(amp, "bad")
    if amp_dtype == "bad" or (amp == "fp16" and dev.type == "cpu"):
        raise ConfigurationError(
            f"amp={amp!r}: use None, 'bf16' (CPU or CUDA) or 'fp16' (CUDA only)."
        )

    # stimuli that cannot be read
    keep = np.arange(len(stimuli))
    skipped: list[str] = []
    if kind == "image":
        bad = check_image_files(stimuli)
        if bad:
            listing = "\n".join(f"  {stimuli.ids[i]}: {why}" for i, why in bad[:50])
            if on_error == "raise":
                raise ValidationError(
                    f"{len(bad)} image file(s) cannot be read:\n{listing}\nFix or remove them, or "
                    "pass on_error='skip' to leave them out."
                )
            skipped = [str(stimuli.ids[i]) for i, _ in bad]
            warnings.warn(
                f"left out {len(bad)} unreadable image(s):\n{listing}",
                NeuroalignWarning,
                stacklevel=2,
            )
            keep = np.setdiff1d(keep, [i for i, _ in bad])
            stimuli = stimuli.take(keep)
    n = len(stimuli)

    # the store: which layers are already complete, which chunks are missing
    entries: dict[str, LayerEntry] = {}
    if cache:
        root = default_cache_dir() if cache is True else Path(cache).expanduser()
        base = {
            "model": module_fingerprint(module),
            "preprocess": repr(loaded.preprocess) if kind == "image" else repr(loaded.tokenizer),
            "max_length": max_length,
            "reduce": label,
            "stimuli": stimuli.fingerprint,
            "amp": amp,
            "neuroalign": __version__,
        }
        entries = {nm: LayerEntry(root, {**base, "layer": nm}, n) for nm in names}
    todo = [nm for nm in names if not (nm in entries and entries[nm].is_complete(verify_cache))]

    chunk_size: int | None = next(
        (entries[nm].chunk_size for nm in todo if nm in entries and entries[nm].chunk_size), None
    )
    done: set[int] = set()
    if chunk_size and entries:
        done = set.intersection(*(entries[nm].done_chunks(chunk_size) for nm in todo))
    results: dict[str, Any] = {}
    meta: dict[str, Any] = {
        "stimulus_fingerprint": stimuli.fingerprint,
        "preprocess": repr(loaded.preprocess),
        "skipped": skipped,
    }
    capture_order: list[str] = []
    if todo:
        capture = _Capture(module, todo, reducer)
        capture_order = capture.order
        state = _ModelState(module)
        try:
            state.prepare(dev, channels_last and kind == "image")
            results = _run(
                loaded,
                stimuli,
                capture,
                entries,
                done,
                chunk_size,
                dict(
                    kind=kind,
                    batch_size=batch_size,
                    dev=dev,
                    amp_dtype=amp_dtype,
                    channels_last=channels_last and kind == "image",
                    num_workers=num_workers,
                    max_length=max_length,
                    budget=parse_bytes(memory_budget),
                    preset=preset,
                    quiet=quiet,
                    meta=meta,
                ),
            )
        finally:
            state.restore()
    # forward order when every layer ran now; module order when some came from the store
    if len(todo) == len(names) and set(capture_order) == set(results):
        ordered = capture_order
    else:
        rank = {nm: i for i, nm in enumerate(dict(module.named_modules()))}
        ordered = sorted(
            (nm for nm in names if nm in results or nm not in todo), key=lambda nm: rank[nm]
        )
    layers_out: dict[str, Any] = {}
    for nm in ordered:
        if nm in entries and (nm not in todo or nm in results):
            if nm in results and not entries[nm].manifest.get("final"):
                entries[nm].finalize()
            layers_out[nm] = entries[nm].open()
        elif nm in results:
            layers_out[nm] = results[nm]
    if entries:
        meta["cache"] = {nm: str(entries[nm].dir) for nm in layers_out}
    return Activations(loaded.model_id, stimuli.ids, layers_out, reduce=label, meta=meta)


class _ModelState:
    """Records the module's mode, device and memory format, and puts them back."""

    def __init__(self, module: Any) -> None:
        self.module = module
        self.training = module.training
        first = next(iter(module.parameters()), None)
        self.device = first.device if first is not None else None
        self.channels_last = False

    def prepare(self, device: Any, channels_last: bool) -> None:
        import torch

        self.module.eval().to(device)
        if channels_last:
            self.module.to(memory_format=torch.channels_last)
            self.channels_last = True

    def restore(self) -> None:
        import torch

        self.module.train(self.training)
        if self.channels_last:
            self.module.to(memory_format=torch.contiguous_format)
        if self.device is not None:
            self.module.to(self.device)


def _inputs(
    loaded: LoadedModel, stimuli: StimulusSet, idx: np.ndarray, opts: dict[str, Any]
) -> Iterator[tuple[np.ndarray, Any, Any]]:
    """(positions, model input, token pooling or None) per batch, in order."""
    if opts["kind"] == "text":
        for start in range(0, len(idx), opts["batch_size"]):
            sel = idx[start : start + opts["batch_size"]]
            tb = tokenize(loaded.tokenizer, stimuli, sel, opts["max_length"])
            yield sel, tb.inputs, (tb.weights, tb.last)
    else:
        assert loaded.preprocess is not None
        for sel, x in image_batches(
            stimuli, idx, loaded.preprocess, opts["batch_size"], opts["num_workers"]
        ):
            yield sel, x, None


def _to_device(x: Any, dev: Any, channels_last: bool) -> Any:
    import torch

    if isinstance(x, dict):
        return {k: v.to(dev) for k, v in x.items()}
    x = x.to(dev, non_blocking=True)
    if channels_last and x.ndim == 4:
        x = x.contiguous(memory_format=torch.channels_last)
    return x


def _run(
    loaded: LoadedModel,
    stimuli: StimulusSet,
    capture: _Capture,
    entries: dict[str, LayerEntry],
    done: set[int],
    chunk_size: int | None,
    opts: dict[str, Any],
) -> dict[str, Any]:
    """The forward loop over every stimulus not yet in the store, chunk by chunk; returns the
    in-memory arrays of layers without a store entry."""
    import torch

    n = len(stimuli)
    kind, dev = opts["kind"], opts["dev"]
    forward = loaded.forward.get(kind)
    module = loaded.module
    stored = bool(entries)
    micro = opts["batch_size"]

    def run_batch(x: Any, pool: Any) -> None:
        """One batch through the model, in passes of ``micro`` stimuli (halved on OOM)."""
        nonlocal micro
        a, total = 0, _batch_len(x)
        while a < total:
            b = min(a + micro, total)
            lengths = {nm: len(capture.out[nm]) for nm in capture.names}
            capture.calls = {}
            token = TOKEN_POOLING.set(None if pool is None else (pool[0][a:b], pool[1][a:b]))
            try:
                autocast = (
                    torch.autocast(dev.type, dtype=opts["amp_dtype"])
                    if opts["amp_dtype"] is not None
                    else contextlib.nullcontext()
                )
                with capture.hooks(), torch.inference_mode(), autocast:
                    inp = _to_device(_slice(x, a, b), dev, opts["channels_last"])
                    if forward is not None:
                        forward(module, inp)
                    elif isinstance(inp, dict):
                        module(**inp)
                    else:
                        module(inp)
            except Exception as err:
                if not _is_oom(err) or b - a <= 1:
                    raise
                for nm, k in lengths.items():
                    del capture.out[nm][k:]
                if dev.type == "cuda":
                    torch.cuda.empty_cache()
                micro = max(1, (b - a) // 2)
                opts["meta"]["batch_size_used"] = micro
                warnings.warn(
                    f"out of memory on {dev} with {b - a} stimuli per pass; continuing with "
                    f"{micro}.",
                    NeuroalignWarning,
                    stacklevel=4,
                )
                continue
            finally:
                TOKEN_POOLING.reset(token)
            _check_calls(capture, opts["preset"])
            a = b

    buffers: dict[str, np.ndarray] = {}

    def drain(pos: int, capacity: int) -> None:
        """Copy the reduced outputs of the last batch into each layer's buffer at row ``pos``.
        A buffer is allocated once per layer (``capacity`` rows) and reused for every chunk: no
        per-chunk concatenation, and no churn of large allocations that fragments the heap."""
        for nm in capture.names:
            pieces, capture.out[nm] = capture.out[nm], []
            at = pos
            for piece in pieces:
                arr = piece.cpu().numpy()
                if nm not in buffers:
                    buffers[nm] = np.empty((capacity, arr.shape[1]), dtype=np.float32)
                buffers[nm][at : at + len(arr)] = arr
                at += len(arr)

    # reducers that learn from the data (ipca): a first pass over every stimulus fits them
    fit = getattr(capture.reducer, "fit", None)
    if fit is not None:
        fitting = _Capture(module, capture.names, fit)
        main, capture = capture, fitting
        bar = track(range(n), n, f"fit {loaded.model_id}", opts["quiet"])
        progress = iter(bar)
        for sel, x, pool in _inputs(loaded, stimuli, np.arange(n), opts):
            run_batch(x, pool)
            fitting.out = {nm: [] for nm in fitting.names}
            for _ in sel:
                next(progress, None)
        for _ in progress:
            pass
        main.reducer.finish_fit()  # type: ignore[attr-defined]
        main.drop([nm for nm in main.names if nm not in fitting.names])
        capture = main

    # chunk size: from the store, else from the budget and one stimulus's reduced features
    if not stored:
        chunk_size = n
    elif chunk_size is None:
        run_batch(*next(_inputs(loaded, stimuli, np.arange(1), {**opts, "batch_size": 1}))[1:])
        per_stim = sum(4 * int(np.prod(v[0].shape[1:])) for v in capture.out.values() if v)
        capture.out = {nm: [] for nm in capture.names}
        b = opts["batch_size"]
        chunk_size = min(n, max(b, opts["budget"] // max(1, per_stim) // b * b))
    n_chunks = -(-n // chunk_size)
    todo_chunks = [c for c in range(n_chunks) if c not in done]
    n_rows = sum(min(n, (c + 1) * chunk_size) - c * chunk_size for c in todo_chunks)
    bar = track(range(n_rows), n_rows, f"extract {loaded.model_id}", opts["quiet"])
    progress = iter(bar)
    for c in todo_chunks:
        rows = np.arange(c * chunk_size, min(n, (c + 1) * chunk_size))
        pos = 0
        for sel, x, pool in _inputs(loaded, stimuli, rows, opts):
            run_batch(x, pool)
            drain(pos, chunk_size)
            pos += len(sel)
            for _ in sel:
                next(progress, None)
        if stored:
            for nm in capture.names:
                entries[nm].write_chunk(c, chunk_size, buffers[nm][: len(rows)])
    for _ in progress:  # close the bar
        pass
    if stored:
        return {nm: True for nm in capture.names}
    return {nm: buffers[nm] for nm in capture.names if nm in buffers}


def _batch_len(x: Any) -> int:
    if isinstance(x, dict):
        return int(next(iter(x.values())).shape[0])
    return int(x.shape[0])


def _slice(x: Any, a: int, b: int) -> Any:
    if isinstance(x, dict):
        return {k: v[a:b] for k, v in x.items()}
    return x[a:b]


def _check_calls(capture: _Capture, preset: bool) -> None:
    repeated = {k: v for k, v in capture.calls.items() if v > 1}
    missing = [nm for nm in capture.names if nm not in capture.calls]
    if not repeated and not missing:
        return
    if preset:
        warnings.warn(
            "left out of the layer preset: "
            + (
                f"modules run more than once per pass {sorted(repeated)} (shared activations; "
                "their parent blocks are captured) "
                if repeated
                else ""
            )
            + (f"modules never run {missing}" if missing else ""),
            NeuroalignWarning,
            stacklevel=5,
        )
        capture.drop([*repeated, *missing])
        if not capture.names:
            raise ValidationError("no layer of the preset runs exactly once per forward pass.")
        return
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
