"""``run``: score models × benchmarks × layers, cell by cell, serially or on Dask.

Two kinds of job do all the work, the same functions in both executors (``_jobs``): a *model job*
(build the model, key every cell from the feature-store key of its layer, extract what missing
cells need) and a *cell job* (score one layer, write the cell atomically).

The table is then assembled from the store only (``_assemble``), so a serial run, a Dask run and a
run resumed after a kill read the same cells and give the same table.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

from ..core import Result
from ..core._io import writable_dir
from ..core._progress import track
from ..core.exceptions import ConfigurationError, ValidationError
from ._assemble import assemble
from ._benchmark import resolve_benchmarks
from ._jobs import Options, cell_job, is_module, model_job
from ._store import Prepared, ResultStore, default_store, prepare

__all__ = ["run"]

_EXECUTORS = ("serial", "dask")


def _models(models: Any) -> list[tuple[str, Any]]:
    """(label, source) pairs from a list (labels from ids / model ids) or a {label: model} dict."""
    if isinstance(models, (str, Mapping)) or is_module(models) or not isinstance(models, Iterable):
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
    channels_last: bool = False,
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
    reduce, reduce_options, preprocess, batch_size, device, memory_budget, channels_last :
        Passed to :func:`neuroalign.extract.extract` (features are cached in the store).
        ``channels_last=True`` runs convolutional models in NHWC: 1.3-1.5x faster forward
        passes on a CPU, features equal to float32 rounding (a different key, so different
        cells).
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

        bad = [lab for lab, src in refs if is_module(src) or isinstance(src, LoadedModel)]
        if bad:
            raise ConfigurationError(
                f"executor='dask' builds models inside the workers; {bad} are in-memory objects. "
                "Pass model ids or picklable factories (functools.partial(fn, ...))."
            )
    benches = resolve_benchmarks(benchmarks)
    if (
        executor == "dask"
        and scheduler is None
        and (isinstance(n_workers, bool) or not isinstance(n_workers, int) or n_workers < 1)
    ):
        raise ValidationError(f"n_workers must be an integer >= 1; got {n_workers!r}.")
    if threads is not None and (
        isinstance(threads, bool) or not isinstance(threads, int) or threads < 1
    ):
        raise ValidationError(
            f"threads must be an integer >= 1 or None (the libraries' defaults); got {threads!r}."
        )
    root = writable_dir(Path(store).expanduser() if store is not None else default_store(), "store")
    opts = Options(
        layers,
        reduce,
        reduce_options,
        preprocess,
        batch_size,
        device,
        memory_budget,
        threads,
        bool(channels_last),
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
    refs: list[tuple[str, Any]], preps: dict[str, Prepared], opts: Options, root: str, quiet: bool
) -> tuple[list[dict[str, Any]], list[float]]:
    outs, cell_s = [], []
    for label, src in track(refs, len(refs), "models", quiet):
        out = model_job(src, preps, opts, root)
        outs.append(out)
        for bid, layer, key, path in track(
            out["todo"], len(out["todo"]), f"cells of {label}", quiet
        ):
            feature_key = out["features"][bid][layer]
            cell_s.append(cell_job(key, layer, path, preps[bid], feature_key, root, opts.threads))
    return outs, cell_s
