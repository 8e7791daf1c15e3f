"""The two jobs of a sweep, the same functions in every executor (serial or Dask).

- A *model job* builds the model (from an id, a factory, or the object itself) and plans its
  extraction for each stimulus set (``extract.plan_extraction``: every check, no forward pass).
  Each cell's key is derived from the **feature-store key** of the exact layer it scores, so
  whatever changes features (weights, forward code, preprocessing, tokenizer, reducer options,
  device, precision, ...) changes the cell. The layer list of a layer spec is what the extraction
  engine kept (it leaves out modules that run twice or never), remembered under the keys of the
  candidate layers; a change of ``default_layers`` changes the candidates and so the memo. Only
  cells missing from the store are extracted for.
- A *cell job* memory-maps one layer's features, scores it with the benchmark's metric and writes
  the cell atomically.

``run`` (``_run``) and the Dask executor (``_dask``) both import this module; neither imports
the other's jobs.
"""

from __future__ import annotations

import sys
import time
import warnings
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ..core._identity import hash_parts
from ..core._io import os_reason
from ..core.exceptions import CacheError, NeuroalignError, ValidationError
from ._metrics import score_cell
from ._store import Prepared, ResultStore, cell_key, environment_hash

__all__ = ["Options", "cell_job", "model_job"]


@dataclass(frozen=True)
class Options:
    """The extraction options of a sweep (passed to ``extract.plan_extraction``)."""

    layers: Any = None
    reduce: Any = None
    reduce_options: Mapping[str, Any] | None = None
    preprocess: Any = None
    batch_size: int = 32
    device: str = "cpu"
    memory_budget: int | str = "2GB"
    threads: int | None = 1
    channels_last: bool = False


@contextmanager
def pinned_threads(n: int | None) -> Iterator[None]:
    """Pin BLAS/OpenMP (threadpoolctl) and torch intra-op threads to ``n`` for one job.

    Float sums depend on how work is split between threads; with the same count in every process
    a serial run and a Dask run add in the same order and give bit-identical numbers.
    """
    if n is None:
        yield
        return
    from threadpoolctl import threadpool_limits

    torch = sys.modules.get("torch")
    before = torch.get_num_threads() if torch is not None else None
    try:
        with threadpool_limits(limits=n):
            if torch is not None:
                torch.set_num_threads(n)
            yield
    finally:
        if torch is not None and before is not None:
            torch.set_num_threads(before)


def is_module(obj: Any) -> bool:
    return hasattr(obj, "named_modules") and hasattr(obj, "state_dict")


def build_model(source: Any, preprocess: Any) -> Any:
    """A ``LoadedModel`` from an id, a LoadedModel, an ``nn.Module`` or a factory of either."""
    from ..extract import LoadedModel, load_model

    if isinstance(source, str):
        return load_model(source)
    if isinstance(source, LoadedModel):
        return source
    if is_module(source):
        if preprocess is None:
            raise ValidationError(
                f"model {type(source).__name__} is a bare nn.Module; pass preprocess=... "
                "(e.g. neuroalign.extract.ImagePreprocess(224)) or a LoadedModel."
            )
        return LoadedModel(source, preprocess, f"module:{type(source).__name__}")
    if callable(source):
        built = source()
        if callable(built) and not is_module(built) and not isinstance(built, LoadedModel):
            raise ValidationError("a model factory must return a LoadedModel or an nn.Module.")
        return build_model(built, preprocess)
    raise ValidationError(
        f"a model is an id str, a LoadedModel, an nn.Module or a factory; got {type(source).__name__}."
    )


def plan_for(loaded: Any, stimuli: Any, layers: Any, opts: Options, store: ResultStore) -> Any:
    """The extraction plan of ``loaded`` on ``stimuli`` with the sweep's options (no work)."""
    from ..extract import plan_extraction

    return plan_extraction(
        loaded,
        stimuli,
        layers=layers,
        reduce=opts.reduce,
        reduce_options=dict(opts.reduce_options) if opts.reduce_options else None,
        preprocess=opts.preprocess,
        batch_size=opts.batch_size,
        device=opts.device,
        cache=store.features,
        memory_budget=opts.memory_budget,
        channels_last=opts.channels_last,
        quiet=True,
    )


def model_job(
    source: Any, preps: Mapping[str, Prepared], opts: Options, root: str
) -> dict[str, Any]:
    """Build the model, key its cells, extract the features the missing cells need (see the
    module docstring), with ``opts.threads`` threads.

    Returns ``model_id``, ``layers`` (forward order, every benchmark's), ``cells``
    (``{benchmark id: {layer: cell key}}``, in forward order), ``features``
    (``{benchmark id: {layer: feature-store key}}``), ``todo`` (the missing cells as
    ``(benchmark id, layer, cell key, features path)``) and ``extract_s``.
    """
    import torch  # noqa: F401  (imported first so that its thread count is pinned too)

    with pinned_threads(opts.threads):
        return _model_job(source, preps, opts, root)


def _model_job(
    source: Any, preps: Mapping[str, Prepared], opts: Options, root: str
) -> dict[str, Any]:
    store = ResultStore(root)
    loaded = build_model(source, opts.preprocess)
    by_stimuli: dict[str, list[str]] = {}
    for bid, prep in preps.items():
        by_stimuli.setdefault(prep.data.stimuli.fingerprint, []).append(bid)
    cells: dict[str, dict[str, str]] = {}
    features: dict[str, dict[str, str]] = {}
    todo: list[tuple[str, str, str, str]] = []
    order: list[str] = []
    extract_s = 0.0
    for bids in by_stimuli.values():
        stimuli = preps[bids[0]].data.stimuli
        plan = plan_for(loaded, stimuli, opts.layers, opts, store)
        memo = hash_parts({"candidates": [plan.keys[ly] for ly in plan.layers]})
        layers = store.get_layers(memo)
        acts = None
        if layers is None:  # what the engine keeps (forward order) is known after one pass
            t0 = time.perf_counter()
            acts = plan.run()
            extract_s += time.perf_counter() - t0
            layers = list(acts.layer_names)
            store.put_layers(memo, layers)
        unknown = [ly for ly in layers if ly not in plan.keys]
        if unknown:
            raise NeuroalignError(
                f"the store's layer list {layers} names unplanned layers {unknown}."
            )
        keys = {b: {ly: cell_key(plan.keys[ly], ly, preps[b]) for ly in layers} for b in bids}
        missing = {b: [ly for ly in layers if not store.has(keys[b][ly])] for b in bids}
        want = [ly for ly in layers if any(ly in missing[b] for b in bids)]
        if want and acts is None:
            t0 = time.perf_counter()
            acts = plan_for(loaded, stimuli, want, opts, store).run()
            extract_s += time.perf_counter() - t0
        if acts is not None:
            if list(map(str, acts.stimulus_ids)) != list(map(str, stimuli.ids)):
                raise NeuroalignError(
                    f"the features of {loaded.model_id} are not in the benchmark's stimulus order."
                )
            paths = {
                ly: str(Path(acts.meta["cache"][ly]) / "features.npy") for ly in acts.layer_names
            }
            todo.extend(
                (b, ly, keys[b][ly], paths[ly]) for b in bids for ly in layers if ly in missing[b]
            )
        for b in bids:
            cells[b] = keys[b]
            features[b] = {ly: plan.keys[ly] for ly in layers}
        order.extend(ly for ly in layers if ly not in order)
    return {
        "model_id": loaded.model_id,
        "layers": order,
        "cells": cells,
        "features": features,
        "todo": todo,
        "extract_s": extract_s,
    }


def cell_job(
    key: str,
    layer: str,
    path: str,
    prep: Prepared,
    feature_key: str,
    root: str,
    threads: int | None,
) -> float:
    """Score one layer on one benchmark and write the cell; returns the metric's seconds."""
    X = np.load(path, mmap_mode="r", allow_pickle=False)
    b = prep.benchmark
    t0 = time.perf_counter()
    with pinned_threads(threads), warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        rows = score_cell(b.metric, X, prep.data, prep.split, dict(b.metric_params))
    seconds = time.perf_counter() - t0
    record = {
        "benchmark": b.id,
        "subject": prep.subject,
        "version": b.version,
        "layer": layer,
        "features": feature_key,
        "rows": rows,
        "env": environment_hash(),
        "seconds": seconds,
        "warnings": sorted({str(w.message) for w in caught}),
    }
    store = ResultStore(root)
    try:
        store.put(key, record)
    except OSError as err:
        raise CacheError(
            f"results store {str(store.root)!r}: cannot write the cell of {b.id} × {layer}: "
            f"{os_reason(err)}. The cells already written are kept and a re-run resumes from them; free "
            "space or fix the permissions, or pass another store= (--store)."
        ) from err
    return seconds
