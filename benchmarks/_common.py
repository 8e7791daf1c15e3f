"""Shared helpers for the benchmark scripts: machine description, GEMM peak, timing."""

from __future__ import annotations

import os
import platform
import resource
import time
from collections.abc import Callable
from typing import Any

import numpy as np


def machine() -> str:
    cpu = platform.processor() or "unknown CPU"
    try:
        with open("/proc/cpuinfo") as f:
            cpu = next(line.split(":", 1)[1].strip() for line in f if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    import numpy

    return f"{cpu}; {os.cpu_count()} logical cores; numpy {numpy.__version__}; Python {platform.python_version()}"


def gemm_peak(n: int = 2048, repeats: int = 5, dtype: Any = np.float32) -> float:
    """Measured float32 GEMM throughput of this machine in GFLOP/s (best of ``repeats``)."""
    rng = np.random.default_rng(0)
    a = rng.standard_normal((n, n)).astype(dtype)
    b = rng.standard_normal((n, n)).astype(dtype)
    a @ b
    best = min(timed(lambda: a @ b)[0] for _ in range(repeats))
    return 2 * n**3 / best / 1e9


def timed(fn: Callable[[], Any]) -> tuple[float, Any]:
    t0 = time.perf_counter()
    out = fn()
    return time.perf_counter() - t0, out


def child_env() -> dict[str, str]:
    """The environment for a benchmark's ``python -c`` child: the benchmarks folder on
    ``PYTHONPATH`` (for :func:`peak_rss_gb`) before what was there."""
    here = os.path.dirname(os.path.abspath(__file__))
    return {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(filter(None, [here, os.environ.get("PYTHONPATH")])),
    }


def peak_rss_gb() -> float:
    """Peak resident memory of this process so far, in GB: ``VmHWM`` of ``/proc/self/status``.

    Not ``getrusage``'s ``ru_maxrss`` where ``/proc`` exists: Linux keeps that high-water mark
    across ``fork`` + ``exec``, so a benchmark started from a 3 GB test process reported 3.1 GB
    for its own 0.75 GB (``VmHWM`` belongs to the address space, new at ``exec``)."""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) * 1024 / 1e9
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e6
