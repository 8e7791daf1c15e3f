"""One cached threadpoolctl controller: BLAS limits that cost microseconds, not a library scan."""

from __future__ import annotations

import sys
import types

import pytest
import threadpoolctl

from neuroalign.core._threads import blas_controller, one_blas_thread


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
