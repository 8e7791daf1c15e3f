"""Benchmarks and many-model sweeps: which model, and which of its layers, best matches which
brain region, on which data.

A :class:`Benchmark` is an id (``<Dataset><Year>.<roi>-<metric>``), a version, a data loader, a
metric (:data:`METRICS`: ``rsa``, ``encoding``, ``cka``, ``decoding``), a ceiling and a
commitment split. :func:`run` scores models × benchmarks × layers cell by cell in a resumable,
content-addressed results store, serially or on Dask, commits one layer per benchmark on the
commitment split and returns one :class:`~neuroalign.core.Result`.
"""

from ..extract._tiny import tiny_cnn
from . import _builtin  # noqa: F401  (registers the built-in benchmarks)
from ._assemble import AGGREGATION, commit_layer
from ._benchmark import (
    BENCHMARKS,
    Benchmark,
    BenchmarkData,
    benchmark_from_toml,
    list_benchmarks,
    load_benchmark,
    register_benchmark,
)
from ._builtin import SIMULATED_ROIS
from ._cards import benchmark_card
from ._dask import WORKER_CONFIG, local_cluster
from ._metrics import METRICS, Split, commitment_split
from ._run import run
from ._store import ResultStore, default_store, environment

__all__ = [
    "AGGREGATION",
    "BENCHMARKS",
    "METRICS",
    "SIMULATED_ROIS",
    "WORKER_CONFIG",
    "Benchmark",
    "BenchmarkData",
    "ResultStore",
    "Split",
    "benchmark_card",
    "benchmark_from_toml",
    "commit_layer",
    "commitment_split",
    "default_store",
    "environment",
    "list_benchmarks",
    "load_benchmark",
    "local_cluster",
    "register_benchmark",
    "run",
    "tiny_cnn",
]
