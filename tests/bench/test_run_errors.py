"""bench.run's bad inputs and failures: one clear error, before the work where it can be."""

from __future__ import annotations

import errno
import functools
import os

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from neuroalign import RDMs, StimulusSet  # noqa: E402
from neuroalign.bench import Benchmark, BenchmarkData, run, tiny_cnn  # noqa: E402
from neuroalign.core.exceptions import CacheError, NeuroalignError, ValidationError  # noqa: E402


def _data() -> BenchmarkData:
    rng = np.random.default_rng(0)
    imgs = rng.integers(0, 256, size=(8, 16, 16, 3), dtype=np.uint8)
    stim = StimulusSet(ids=[f"s{i}" for i in range(8)], images=list(imgs))
    return BenchmarkData(stim, RDMs(rng.random((3, 28)), stim.ids))


BENCH = Benchmark("Errors2026.tiny-rsa", loader=_data, metric="rsa", metric_params={"n_boot": 0})
MODEL = {"m": functools.partial(tiny_cnn, seed=0)}


def test_a_store_that_is_a_file_is_an_error_before_any_work(tmp_path, monkeypatch):
    import neuroalign.bench._jobs as jobs

    monkeypatch.setattr(jobs, "model_job", lambda *a, **k: pytest.fail("work started"))
    f = tmp_path / "store.txt"
    f.write_text("x")
    with pytest.raises(ValidationError, match=r"store='.*store\.txt' is not a directory"):
        run(MODEL, [BENCH], store=f, quiet=True)


@pytest.mark.skipif(os.geteuid() == 0, reason="root can write anywhere")
def test_an_unwritable_store_is_an_error(tmp_path):
    ro = tmp_path / "ro"
    ro.mkdir()
    ro.chmod(0o500)
    with pytest.raises(ValidationError, match="cannot be created or written"):
        run(MODEL, [BENCH], store=ro / "s", quiet=True)


@pytest.mark.parametrize("bad", [0, -1, 1.5, True])
def test_n_workers_and_threads_are_checked_up_front(tmp_path, bad):
    with pytest.raises(ValidationError, match="n_workers must be an integer >= 1"):
        run(MODEL, [BENCH], store=tmp_path, executor="dask", n_workers=bad, quiet=True)
    with pytest.raises(ValidationError, match="threads must be an integer >= 1 or None"):
        run(MODEL, [BENCH], store=tmp_path, threads=bad, quiet=True)


def test_a_full_disk_while_writing_cells_names_the_store_and_keeps_what_was_written(
    tmp_path, monkeypatch
):
    from neuroalign.bench._store import ResultStore

    def full(self, key, record):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(ResultStore, "put", full)
    with pytest.raises(CacheError) as err:
        run(MODEL, [BENCH], layers=["conv1"], store=tmp_path, quiet=True)
    msg = str(err.value)
    assert str(tmp_path) in msg and "No space left on device" in msg
    assert "re-run resumes" in msg and "store=" in msg and "cache=None" not in msg


def _die(*args, **kwargs):  # a model job whose worker process dies
    os._exit(1)


@pytest.mark.slow
def test_dead_dask_workers_end_in_one_error_saying_a_rerun_resumes(tmp_path, monkeypatch):
    pytest.importorskip("distributed")
    import dask

    import neuroalign.bench._dask as dask_mod

    monkeypatch.setattr(dask_mod, "model_job", _die)
    with dask.config.set({"distributed.scheduler.allowed-failures": 0}):
        with pytest.raises(NeuroalignError, match=r"workers died.*re-run resumes") as err:
            run(
                {"m": "tiny_cnn:seed=0"},
                [BENCH],
                layers=["conv1"],
                store=tmp_path,
                executor="dask",
                n_workers=1,
                quiet=True,
            )
    assert "0 finished cell(s)" in str(err.value)
