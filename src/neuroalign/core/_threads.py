"""The process's native runtimes: BLAS held to one thread around small products (through one
cached threadpoolctl controller), and PyTorch's CPU tensors on transparent huge pages.

Building a controller makes threadpoolctl list the process's native libraries (it reads
``/proc/self/maps``: 3-4 ms with torch loaded), so ``threadpool_limits`` called per fit or per
resample can cost more than the arithmetic it limits. One controller is kept and rebuilt only
when modules were imported since it was built (a new module may have brought its own BLAS).
"""

from __future__ import annotations

import os
import sys
from typing import Any

#: PyTorch's own switch (read by its CPU allocator at its first large allocation): tensors of
#: 2 MB and more aligned to 2 MB and ``madvise(MADV_HUGEPAGE)``-d.
HUGE_PAGES_ENV = "THP_MEM_ALLOC_ENABLE"


def torch_huge_pages() -> bool:
    """Ask PyTorch to put CPU tensors of 2 MB and more on transparent huge pages, unless the
    user set :data:`HUGE_PAGES_ENV` (``0`` turns it off); returns whether it is on.

    Called when ``neuroalign`` is imported. A forward pass allocates its activations afresh at
    every batch, and each 4 KiB page costs a fault on first touch (on a VM, a fault in the host
    too): ResNet-50 on 2 cores, 3 batches of 32 × 224², 10.3-10.6 s and 20.3-21.0 CPU s without,
    8.0-9.1 s and 14.8-16.0 CPU s with, outputs identical to the bit (only the allocation's
    alignment and page size change; NumPy does the same for its own arrays of 4 MB and more).
    It takes effect when set before PyTorch's first allocation of 2 MB or more in the process
    (import neuroalign before building a model), on Linux with transparent huge pages in
    ``madvise`` or ``always`` mode; elsewhere it does nothing."""
    os.environ.setdefault(HUGE_PAGES_ENV, "1")
    return os.environ[HUGE_PAGES_ENV] == "1"


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
