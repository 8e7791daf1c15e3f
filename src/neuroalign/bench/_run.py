"""``run``: score models × benchmarks × layers, cell by cell, serially or on Dask.

Two kinds of job do all the work, the same functions in both executors:

- a *model job* builds the model (from an id, a factory, or the object itself), computes the
  identity of its features and the key of every (benchmark, layer) cell, and extracts features
  once per stimulus set for the cells not yet in the store (into the store's feature cache, which
  every benchmark on the same stimuli shares);
- a *cell job* memory-maps one layer's features, scores it with the benchmark's metric and writes
  the cell atomically.

The table is then assembled from the store only (``_assemble``), so a serial run, a Dask run and a
run resumed after a kill read the same cells and give the same table.
"""

from __future__ import annotations

import sys
import time
import warnings
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ..core import Result
from ..core._progress import track
from ..core.exceptions import ConfigurationError, ValidationError
from ._assemble import assemble
from ._benchmark import resolve_benchmarks
from ._metrics import score_cell
from ._store import (
    Prepared,
    ResultStore,
    cell_key,
    default_store,
    environment_hash,
    hash_json,
    prepare,
)

__all__ = ["run"]

_EXECUTORS = ("serial", "dask")


@dataclass(frozen=True)
class _Options:
    layers: Any = None
    reduce: Any = None
    reduce_options: Mapping[str, Any] | None = None
    preprocess: Any = None
    batch_size: int = 32
    device: str = "cpu"
    memory_budget: int | str = "2GB"
    threads: int | None = 1


@contextmanager
def _threads(n: int | None) -> Iterator[None]:
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


def _is_module(obj: Any) -> bool:
    return hasattr(obj, "named_modules") and hasattr(obj, "state_dict")


def _build(source: Any, preprocess: Any) -> Any:
    """A ``LoadedModel`` from an id, a LoadedModel, an ``nn.Module`` or a factory of either."""
    from ..extract import LoadedModel, load_model

    if isinstance(source, str):
        return load_model(source)
    if isinstance(source, LoadedModel):
        return source
    if _is_module(source):
        if preprocess is None:
            raise ValidationError(
                f"model {type(source).__name__} is a bare nn.Module; pass preprocess=... "
                "(e.g. neuroalign.extract.ImagePreprocess(224)) or a LoadedModel."
            )
        return LoadedModel(source, preprocess, f"module:{type(source).__name__}")
    if callable(source):
        built = source()
        if callable(built) and not _is_module(built) and not isinstance(built, LoadedModel):
            raise ValidationError("a model factory must return a LoadedModel or an nn.Module.")
        return _build(built, preprocess)
    raise ValidationError(
        f"a model is an id str, a LoadedModel, an nn.Module or a factory; got {type(source).__name__}."
    )


def feature_identity(loaded: Any, reduce: Any, reduce_options: Any) -> str:
    """The identity of a model's features: weights, preprocessing, reducer (content, not names).

    It mirrors what the feature store keys on; it goes into every cell key.
    """
    from ..extract import module_fingerprint

    pre = getattr(loaded.preprocess, "cache_key", None) or repr(loaded.preprocess)
    if " at 0x" in pre:
        raise ValidationError(
            f"the preprocessing of {loaded.model_id} has no stable identity ({pre}); use "
            "neuroalign.extract.ImagePreprocess or give the callable a `cache_key` attribute."
        )
    if reduce is not None and not isinstance(reduce, str):
        key = getattr(reduce, "cache_key", None)
        if key is None:
            raise ValidationError(
                "a callable reduce needs a `cache_key` attribute (a string naming what it "
                "computes) so cached cells can be told apart."
            )
        reduce = f"callable:{key}"
    return hash_json(
        {
            "weights": module_fingerprint(loaded.module),
            "preprocess": pre,
            "reduce": reduce,
            "reduce_options": dict(reduce_options or {}),
            "forward": sorted(loaded.forward),
        }
    )


def _layer_memo_key(features: str, layers: Any) -> str | None:
    if layers is None or isinstance(layers, str):
        return hash_json({"features": features, "layers": layers})
    if isinstance(layers, Sequence):
        return hash_json({"features": features, "layers": list(layers)})
    return None  # a predicate has no stable identity: resolved every time


def model_job(
    source: Any, preps: Mapping[str, Prepared], opts: _Options, root: str
) -> dict[str, Any]:
    """Build the model, key its cells, extract the features the missing cells need (see
    :func:`_model_job`), with ``opts.threads`` threads."""
    import torch  # noqa: F401  (imported first so that its thread count is pinned too)

    with _threads(opts.threads):
        return _model_job(source, preps, opts, root)


def _model_job(
    source: Any, preps: Mapping[str, Prepared], opts: _Options, root: str
) -> dict[str, Any]:
    """Build the model, key its cells, extract the features the missing cells need.

    Returns ``features`` (identity), ``layers`` (forward order), ``model_id``, ``todo`` (the
    missing cells as ``(benchmark id, layer, key, features path)``) and ``extract_s``.
    """
    from ..extract import extract, resolve_layers

    store = ResultStore(root)
    loaded = _build(source, opts.preprocess)
    fkey = feature_identity(loaded, opts.reduce, opts.reduce_options)
    memo = _layer_memo_key(fkey, opts.layers)
    layers = store.get_layers(memo) if memo else None
    known = layers is not None
    if layers is None:
        layers = resolve_layers(loaded.module, opts.layers, loaded.default_layers)
    missing = {
        bid: [ly for ly in layers if not store.has(cell_key(fkey, ly, p))]
        for bid, p in preps.items()
    }
    by_stimuli: dict[str, list[str]] = {}
    for bid, lys in missing.items():
        if lys:
            by_stimuli.setdefault(preps[bid].data.stimuli.fingerprint, []).append(bid)
    todo: list[tuple[str, str, str, str]] = []
    t0 = time.perf_counter()
    for bids in by_stimuli.values():
        stimuli = preps[bids[0]].data.stimuli
        want = [ly for ly in layers if any(ly in missing[b] for b in bids)]
        acts = extract(
            loaded,
            stimuli,
            layers=want if known else opts.layers,
            reduce=opts.reduce,
            reduce_options=dict(opts.reduce_options) if opts.reduce_options else None,
            batch_size=opts.batch_size,
            device=opts.device,
            cache=store.features,
            memory_budget=opts.memory_budget,
            quiet=True,
        )
        if not known:  # what the extraction engine actually ran (forward order) is the layer list
            layers, known = list(acts.layer_names), True
            if memo:
                store.put_layers(memo, layers)
        paths = {ly: str(Path(acts.meta["cache"][ly]) / "features.npy") for ly in acts.layer_names}
        for b in bids:
            todo.extend(
                (b, ly, cell_key(fkey, ly, preps[b]), paths[ly])
                for ly in layers
                if ly in missing[b] and ly in paths
            )
    return {
        "features": fkey,
        "layers": list(layers),
        "model_id": loaded.model_id,
        "todo": todo,
        "extract_s": time.perf_counter() - t0,
    }


def cell_job(
    key: str, layer: str, path: str, prep: Prepared, features: str, root: str, threads: int | None
) -> float:
    """Score one layer on one benchmark and write the cell; returns the metric's seconds."""
    X = np.load(path, mmap_mode="r", allow_pickle=False)
    b = prep.benchmark
    t0 = time.perf_counter()
    with _threads(threads), warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        rows = score_cell(b.metric, X, prep.data, prep.split, dict(b.metric_params))
    seconds = time.perf_counter() - t0
    ResultStore(root).put(
        key,
        {
            "benchmark": b.id,
            "version": b.version,
            "layer": layer,
            "features": features,
            "rows": rows,
            "env": environment_hash(),
            "seconds": seconds,
            "warnings": sorted({str(w.message) for w in caught}),
        },
    )
    return seconds


def _models(models: Any) -> list[tuple[str, Any]]:
    """(label, source) pairs from a list (labels from ids / model ids) or a {label: model} dict."""
    if isinstance(models, (str, Mapping)) or _is_module(models) or not isinstance(models, Iterable):
        items = list(models.items()) if isinstance(models, Mapping) else [(None, models)]
    else:
        items = [(None, m) for m in models]
    if not items:
        raise ValidationError("models is empty; give model ids, modules or factories.")
    out, seen = [], set()
    for i, (label, src) in enumerate(items):
        if label is None:
            label = src if isinstance(src, str) else getattr(src, "model_id", None)
            label = label or f"model{i}:{getattr(src, '__name__', type(src).__name__)}"
        if label in seen:
            raise ValidationError(
                f"two models are labelled {label!r}; pass a dict {{label: model}} to name them."
            )
        seen.add(label)
        out.append((str(label), src))
    return out


def run(
    models: Any,
    benchmarks: Any,
    layers: Any = None,
    *,
    store: str | Path | None = None,
    executor: str = "serial",
    scheduler: Any = None,
    n_workers: int = 2,
    resources: Mapping[str, float] | None = None,
    reduce: str | Callable[..., Any] | None = None,
    reduce_options: Mapping[str, Any] | None = None,
    preprocess: Callable[[Any], Any] | None = None,
    batch_size: int = 32,
    device: str = "cpu",
    memory_budget: int | str = "2GB",
    threads: int | None = 1,
    quiet: bool = False,
) -> Result:
    """Score every model on every benchmark at every layer; commit one layer per benchmark.

    Parameters
    ----------
    models : model id, LoadedModel, nn.Module, factory, a list of them or a {label: model} dict
        Ids (``"torchvision:resnet18"``) and zero-argument factories (picklable, e.g.
        ``functools.partial(tiny_cnn, seed=1)``) are built where the work runs (inside Dask
        workers); in-memory modules work with the serial executor.
    benchmarks : id, pattern (``"Simulated.*"``), TOML path, Benchmark, or a list of them
    layers : layer spec
        As :func:`neuroalign.extract.extract` (default: the model's ``"blocks"``).
    store : path, optional
        The results store (cells + features); default :func:`default_store`. Cells already
        there are read, never recomputed; an interrupted run resumes where it stopped.
    executor : {"serial", "dask"}
    scheduler : distributed.Client, scheduler address (``"tcp://..."``) or None
        With ``executor="dask"``: where to run; None starts a ``LocalCluster`` of ``n_workers``
        single-threaded processes (closed afterwards).
    resources : mapping, optional
        Dask worker resources each model job needs (e.g. ``{"GPU": 1}``).
    reduce, reduce_options, preprocess, batch_size, device, memory_budget :
        Passed to :func:`neuroalign.extract.extract` (features are cached in the store).
    threads : int or None
        BLAS / OpenMP / torch threads of each job (default 1: parallelism comes from the
        executor, and every executor gives bit-identical numbers). None leaves the libraries'
        defaults (faster serially, but sums may then differ in the last bits between processes).
    quiet : bool

    Returns
    -------
    Result
        ``kind="bench.sweep"``; rows ``statistic="layer_score"`` (every layer, splits commit /
        test / all), ``"score"`` (the committed layer's raw test score) and ``"ceiled"``
        (score / ceiling). Extra columns ``committed``, ``benchmark_version``, ``cell``, ``env``.
        ``params`` holds the benchmark cards, the aggregation rule and timings.
    """
    if executor not in _EXECUTORS:
        raise ValidationError(f"executor must be one of {_EXECUTORS}; got {executor!r}.")
    refs = _models(models)
    if executor == "dask":
        from ..extract import LoadedModel

        bad = [lab for lab, src in refs if _is_module(src) or isinstance(src, LoadedModel)]
        if bad:
            raise ConfigurationError(
                f"executor='dask' builds models inside the workers; {bad} are in-memory objects. "
                "Pass model ids or picklable factories (functools.partial(fn, ...))."
            )
    benches = resolve_benchmarks(benchmarks)
    root = Path(store).expanduser() if store is not None else default_store()
    root.mkdir(parents=True, exist_ok=True)
    opts = _Options(
        layers, reduce, reduce_options, preprocess, batch_size, device, memory_budget, threads
    )
    t_start = time.perf_counter()
    preps = prepare(benches)
    t_load = time.perf_counter() - t_start
    if executor == "serial":
        outs, cell_s = _run_serial(refs, preps, opts, str(root), quiet)
    else:
        from ._dask import run_dask

        outs, cell_s = run_dask(
            refs, preps, opts, str(root), scheduler, n_workers, resources, quiet
        )
    result = assemble(refs, outs, preps, ResultStore(root))
    timing = {
        "load_s": t_load,
        "extract_s": float(sum(o["extract_s"] for o in outs)),
        "cells_s": float(sum(cell_s)),
        "n_cells_computed": len(cell_s),
        "wall_s": time.perf_counter() - t_start,
    }
    return Result(
        result.table,
        result.kind,
        result.arrays,
        {**result.params, "timing": timing, "executor": executor},
    )


def _run_serial(
    refs: list[tuple[str, Any]], preps: dict[str, Prepared], opts: _Options, root: str, quiet: bool
) -> tuple[list[dict[str, Any]], list[float]]:
    outs, cell_s = [], []
    for label, src in track(refs, len(refs), "models", quiet):
        out = model_job(src, preps, opts, root)
        outs.append(out)
        for bid, layer, key, path in track(
            out["todo"], len(out["todo"]), f"cells of {label}", quiet
        ):
            cell_s.append(
                cell_job(key, layer, path, preps[bid], out["features"], root, opts.threads)
            )
    return outs, cell_s
