"""The store's write-behind: a file written in place keeps at most one chunk of its rows in the
page cache; older rows are written back and dropped as the run goes."""

import os
import sys

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from neuroalign.extract import _store, _store_format, extract  # noqa: E402

from .helpers import tiny  # noqa: E402

MB = 1 << 20


def _cached(fd, pos):
    """Whether the page at ``pos`` is in the page cache (a read that must not wait)."""
    try:
        os.preadv(fd, [bytearray(4096)], pos, os.RWF_NOWAIT)
    except BlockingIOError:
        return False
    return True


@pytest.mark.skipif(
    not sys.platform.startswith("linux") or not hasattr(os, "RWF_NOWAIT"),
    reason="page-cache residency is read with preadv(RWF_NOWAIT) (Linux)",
)
def test_old_ranges_leave_the_page_cache_and_the_newest_window_stays(tmp_path):
    path = tmp_path / "f.bin"
    fd = os.open(path, os.O_RDWR | os.O_CREAT)
    try:
        behind = _store_format._WriteBehind(fd, 8 * MB)
        if not behind.on:
            pytest.skip("no sync_file_range here")
        block = memoryview(np.random.default_rng(0).random(MB, dtype=np.float32)).cast("B")
        for i in range(8):  # 8 ranges of 4 MiB, a window of 8 MiB
            os.pwrite(fd, block, i * 4 * MB)
            behind.wrote(i * 4 * MB, 4 * MB)
            assert behind.cached <= 8 * MB
        if behind.on is False or path.stat().st_size != 32 * MB:
            pytest.skip("this file system refused sync_file_range")
        if _cached(fd, 8192) and _cached(fd, 5 * MB):  # tmpfs: its pages are the storage
            pytest.skip("this file system keeps dropped pages (tmpfs)")
        cached = [_cached(fd, i * 4 * MB + 8192) for i in range(8)]
        # the newest window stays; the old ranges leave (one may linger on a machine under heavy
        # I/O load: the kernel keeps a page it is still busy with, seen once in a loaded run)
        assert cached[6:] == [True, True] and sum(cached[:6]) <= 1, cached
        assert os.pread(fd, 4 * MB, 0) == bytes(block)  # what was dropped is on disk
    finally:
        os.close(fd)


def test_extraction_starts_writeback_of_every_range_and_bounds_the_cached_bytes(
    images, tmp_path, monkeypatch
):
    """Through extract: every range written in place starts its writeback, ranges are dropped
    oldest first once a chunk's worth is cached, and the features are the in-memory ones."""
    calls = []
    real = _store_format._SYNC_RANGE

    def record(fd, pos, n, flags):
        calls.append(("sync", pos, n, flags))
        return real(fd, pos, n, flags) if real is not None else 0

    dropped = []
    monkeypatch.setattr(_store_format, "_SYNC_RANGE", record)
    monkeypatch.setattr(os, "posix_fadvise", lambda fd, pos, n, adv: dropped.append((pos, n)))
    monkeypatch.setattr(_store, "INPLACE_MIN_BYTES", 0)
    kw = dict(layers=["conv1"], batch_size=2, quiet=True)
    # chunks of 4 rows of conv1 (4 × 16 × 16 floats = 4 KiB a row)
    got = extract(tiny(), images, cache=tmp_path, memory_budget=2 * 4 * 4096, **kw)
    ref = extract(tiny(), images, **kw)
    np.testing.assert_array_equal(np.asarray(got["conv1"]), np.asarray(ref["conv1"]))
    started = [(p, n) for _, p, n, f in calls if f == _store_format._START]
    waited = [(p, n) for _, p, n, f in calls if f == _store_format._WAIT]
    row = 4 * 16 * 16 * 4
    assert sum(n for _, n in started) == len(images) * row  # every row, once
    assert waited == dropped == started[: len(dropped)]  # the oldest first, written then dropped
    # what stays cached is at most one chunk of rows (4 rows), and more than that was dropped
    assert sum(n for _, n in started) - sum(n for _, n in dropped) <= 4 * row
    assert sum(n for _, n in dropped) >= len(images) * row - 4 * row
