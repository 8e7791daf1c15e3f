"""BLAS held to one thread around small products, through one cached threadpoolctl controller.

Building a controller makes threadpoolctl list the process's native libraries (it reads
``/proc/self/maps``: 3-4 ms with torch loaded), so ``threadpool_limits`` called per fit or per
resample can cost more than the arithmetic it limits. One controller is kept and rebuilt only
when modules were imported since it was built (a new module may have brought its own BLAS).
"""

from __future__ import annotations

import sys
from typing import Any

_CACHE: list[tuple[int, Any]] = []


def blas_controller() -> Any:
    """The process's ``threadpoolctl.ThreadpoolController``, rebuilt when ``sys.modules`` grew."""
    n_modules = len(sys.modules)
    if not _CACHE or _CACHE[0][0] != n_modules:
        from threadpoolctl import ThreadpoolController

        controller = ThreadpoolController()
        _CACHE[:] = [(len(sys.modules), controller)]  # counted after importing threadpoolctl
    return _CACHE[0][1]


def one_blas_thread() -> Any:
    """A context manager holding BLAS to one thread (restored on exit)."""
    return blas_controller().limit(limits=1, user_api="blas")
