"""The Dask executor: the same model and cell jobs as the serial executor, as Dask tasks.

Models are built inside the workers (from an id or a picklable factory; torch modules are never
sent over the wire). One task per model (build, key, extract what is missing), then one task per
missing cell, submitted as soon as its model's features exist. The benchmarks' data are scattered
once to every worker. Results land in the shared store; the table is assembled from it.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from typing import Any

from ..core._progress import track
from ..core._validation import require
from ..core.exceptions import ConfigurationError, NeuroalignError
from ._jobs import cell_job, model_job
from ._store import Prepared, ResultStore

__all__ = ["WORKER_CONFIG", "local_cluster", "run_dask"]


#: Worker settings for numerical jobs: no statistical profiler (it samples every thread's stack
#: under the GIL every 10 ms), and no ``MALLOC_TRIM_THRESHOLD_`` (the nanny's default, 64 KiB,
#: makes glibc return every freed medium-size array to the OS: the many small temporaries of a
#: bootstrap then page-fault again and ran 2.3× slower). BLAS/OpenMP stay single-threaded.
WORKER_CONFIG = {
    "distributed.worker.profile.enabled": False,
    "distributed.nanny.pre-spawn-environ": {
        "OMP_NUM_THREADS": 1,
        "MKL_NUM_THREADS": 1,
        "OPENBLAS_NUM_THREADS": 1,
    },
}


def local_cluster(n_workers: int = 2, **kwargs: Any) -> Any:
    """A ``distributed.LocalCluster`` of single-threaded worker processes set up for sweeps
    (:data:`WORKER_CONFIG`); close it (or use it as a context manager) when done."""
    distributed = require("distributed", "dask", "local_cluster")
    import dask

    kwargs = {"threads_per_worker": 1, "processes": True, "dashboard_address": None, **kwargs}
    with dask.config.set(WORKER_CONFIG):
        return distributed.LocalCluster(n_workers=n_workers, **kwargs)


def _client(scheduler: Any, n_workers: int) -> tuple[Any, list[Any]]:
    """(client, things to close): an existing Client, one for an address, or a LocalCluster."""
    distributed = require("distributed", "dask", "executor='dask'")
    if isinstance(scheduler, distributed.Client):
        return scheduler, []
    if isinstance(scheduler, str):
        try:
            client = distributed.Client(scheduler, timeout="20s")
        except OSError as err:
            raise ConfigurationError(
                f"cannot reach the Dask scheduler at {scheduler!r}: {err}."
            ) from err
        return client, [client]
    if scheduler is not None:
        raise ConfigurationError(
            f"scheduler must be a distributed.Client, an address or None; got {type(scheduler).__name__}."
        )
    cluster = local_cluster(n_workers)
    client = distributed.Client(cluster)
    return client, [client, cluster]


def _quiet_shutdown() -> Any:
    """Silence distributed's loggers while a cluster is torn down after an error or Ctrl-C
    (otherwise every worker prints its traceback)."""
    import contextlib
    import logging

    @contextlib.contextmanager
    def quiet() -> Any:
        loggers = [logging.getLogger(n) for n in ("distributed", "tornado", "asyncio")]
        levels = [lg.level for lg in loggers]
        for lg in loggers:
            lg.setLevel(logging.CRITICAL + 1)
        try:
            yield
        finally:
            for lg, lv in zip(loggers, levels, strict=True):
                lg.setLevel(lv)

    return quiet()


def run_dask(
    refs: list[tuple[str, Any]],
    preps: dict[str, Prepared],
    opts: Any,
    root: str,
    scheduler: Any,
    n_workers: int,
    resources: Mapping[str, float] | None,
    quiet: bool,
) -> tuple[list[dict[str, Any]], list[float]]:
    """Run the model and cell jobs as Dask tasks. Workers that die (killed, out of memory) or a
    cancelled run end in one :class:`NeuroalignError` saying how many cells the store kept (a
    re-run resumes from them); Ctrl-C closes the cluster without worker tracebacks."""
    from distributed import as_completed

    client, owned = _client(scheduler, n_workers)
    tag = uuid.uuid4().hex[:8]
    failed: BaseException | None = None
    try:
        shared = {bid: client.scatter(p, broadcast=True, hash=False) for bid, p in preps.items()}
        models = [
            client.submit(
                model_job,
                src,
                shared,
                opts,
                root,
                key=f"bench-model-{i}-{tag}",
                resources=dict(resources) if resources else None,
            )
            for i, (_, src) in enumerate(refs)
        ]
        position = {f.key: i for i, f in enumerate(models)}
        outs: list[dict[str, Any]] = [{} for _ in refs]
        cells: list[Any] = []
        for fut in track(as_completed(models), len(models), "models (dask)", quiet):
            out = fut.result()
            outs[position[fut.key]] = out
            cells.extend(
                client.submit(
                    cell_job,
                    key,
                    layer,
                    path,
                    shared[bid],
                    out["features"][bid][layer],
                    root,
                    opts.threads,
                    key=f"bench-cell-{key[:16]}-{tag}",
                )
                for bid, layer, key, path in out["todo"]
            )
        seconds = [
            f.result() for f in track(as_completed(cells), len(cells), "cells (dask)", quiet)
        ]
    except NeuroalignError:
        raise
    except (KeyboardInterrupt, Exception) as err:
        failed = err
    finally:
        with _quiet_shutdown():
            for obj in owned:
                try:
                    obj.close()
                except Exception:  # a cluster whose workers are gone may not close cleanly
                    pass
    if failed is None:
        return outs, seconds
    if isinstance(failed, KeyboardInterrupt):
        raise failed
    if _is_dask_failure(failed):
        kept = ResultStore(root).count_cells()
        raise NeuroalignError(
            f"the Dask run stopped: its workers died or its tasks were cancelled "
            f"({type(failed).__name__}: {str(failed)[:200] or 'no message'}). The store "
            f"{root!r} holds {kept} finished cell(s); a re-run resumes from them. If workers "
            "ran out of memory, give them more (memory_limit) or lower memory_budget."
        ) from failed
    raise failed


def _is_dask_failure(err: BaseException) -> bool:
    """Whether ``err`` is the executor failing (dead workers, cancelled futures, lost
    connection) rather than an error raised by a job's own code."""
    names = {c.__name__ for c in type(err).__mro__}
    return bool(
        names
        & {
            "KilledWorker",
            "CancelledError",
            "FutureCancelledError",
            "CommClosedError",
            "TimeoutError",
        }
    )
