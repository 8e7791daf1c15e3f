"""One cached threadpoolctl controller: BLAS limits that cost microseconds, not a library scan."""

from __future__ import annotations

import os
import sys
import types

import pytest
import threadpoolctl

from neuroalign.core._threads import blas_controller, one_blas_thread


def _thp_mode() -> str:
    try:
        with open("/sys/kernel/mm/transparent_hugepage/enabled") as f:
            return f.read()
    except OSError:
        return ""


def _blas_threads() -> list[int]:
    return [i["num_threads"] for i in threadpoolctl.threadpool_info() if i["user_api"] == "blas"]


def test_one_thread_inside_and_restored_after():
    before = _blas_threads()
    if not before:
        pytest.skip("no BLAS library found by threadpoolctl")
    with one_blas_thread():
        assert set(_blas_threads()) == {1}
    assert _blas_threads() == before


def test_controller_is_reused_and_rebuilt_after_an_import(monkeypatch):
    first = blas_controller()
    assert blas_controller() is first
    monkeypatch.setitem(sys.modules, "neuroalign_fake_native_module", types.ModuleType("x"))
    assert blas_controller() is not first  # a new module may have brought its own BLAS


def test_repeated_fits_scan_the_libraries_once(monkeypatch):
    """decode_over_time, ridge k-fold and the subject bootstrap hold BLAS to one thread per fit;
    each threadpoolctl scan reads /proc/self/maps (ms), which was half of a small decode."""
    from neuroalign.data import make_epochs
    from neuroalign.decode import decode_over_time

    built = []
    real = threadpoolctl.ThreadpoolController

    def counting(*args, **kwargs):
        built.append(1)
        return real(*args, **kwargs)

    monkeypatch.setattr(threadpoolctl, "ThreadpoolController", counting)
    sim = make_epochs(30, 4, 6, snr=0.0, seed=0)
    decode_over_time(sim.epochs, sim.labels, cv=3, seed=0)  # imports what it needs once
    built.clear()
    for i in range(5):
        decode_over_time(sim.epochs, sim.labels, cv=3, n_permutations=9, seed=i)
    assert len(built) <= 1, f"{len(built)} threadpoolctl scans for 5 decodes"


_PROBE = """
import os
import neuroalign  # noqa: F401  (sets the default before torch allocates)
import torch

def huge_kb():
    for line in open("/proc/self/smaps_rollup"):
        if line.startswith("AnonHugePages:"):
            return int(line.split()[1])

before = huge_kb()
x = torch.ones(2**24)  # 64 MB
print(os.environ.get("THP_MEM_ALLOC_ENABLE"), huge_kb() - before >= 32 * 1024)
"""


@pytest.mark.skipif(
    not os.path.exists("/proc/self/smaps_rollup")
    or ("[madvise]" not in _thp_mode() and "[always]" not in _thp_mode()),
    reason="needs Linux with transparent huge pages in madvise or always mode",
)
@pytest.mark.parametrize("user", [None, "0"])
def test_importing_neuroalign_puts_large_torch_tensors_on_huge_pages_unless_told_not_to(user):
    """PyTorch honours the switch set at ``import neuroalign``: a 64 MB tensor lands on huge
    pages (the process's AnonHugePages grow by at least half of it); a user's ``0`` is kept
    (and, in ``madvise`` mode, gives none)."""
    pytest.importorskip("torch")
    import subprocess

    env = {k: v for k, v in os.environ.items() if k != "THP_MEM_ALLOC_ENABLE"}
    if user is not None:
        env["THP_MEM_ALLOC_ENABLE"] = user
    out = subprocess.run(
        [sys.executable, "-c", _PROBE], env=env, capture_output=True, text=True, check=True
    ).stdout.split()
    if user is None:
        assert out == ["1", "True"]
    else:
        assert out[0] == "0" and (out[1] == "False" or "[always]" in _thp_mode())
