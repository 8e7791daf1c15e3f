"""Large chunks written in place into ``partial.npy`` (no join copy) and chunks written by a
background thread: bit-identical to an in-memory run, resumable, errors raised in the caller,
and a second writer (chunk files) joined with the first one's in-place rows."""

import fcntl
import hashlib
import json
import os
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from neuroalign.core.exceptions import CacheError, NeuroalignWarning  # noqa: E402
from neuroalign.extract import _store as store  # noqa: E402
from neuroalign.extract import extract  # noqa: E402
from neuroalign.extract._store import LayerEntry  # noqa: E402

from .helpers import tiny  # noqa: E402

# chunks of 4 rows (half the budget over 4 116 bytes per stimulus) for batches of 2 and 4
KW = dict(layers=["conv1", "fc"], memory_budget=2 * 4 * 4116, batch_size=2, quiet=True)
FULL = -(-23 // 2)  # batches of a whole run


@pytest.fixture(scope="module")
def ref(images):
    return extract(tiny(), images, layers=KW["layers"], batch_size=KW["batch_size"], quiet=True)


@pytest.fixture
def inplace(monkeypatch):
    """Every chunk in place (the threshold is for large features; the model here is tiny)."""
    monkeypatch.setattr(store, "INPLACE_MIN_BYTES", 0)


def _entries(root: Path) -> dict[str, Path]:
    out = {}
    for m in Path(root).rglob("manifest.json"):
        out[json.loads(m.read_text())["parts"]["layer"]] = m.parent
    return out


def _same(got, ref):
    assert got.layer_names == ref.layer_names
    for k in ref.layer_names:
        assert np.asarray(got[k]).tobytes() == np.asarray(ref[k]).tobytes(), k


@pytest.mark.parametrize("batch_size", [2, 4])  # 2: each chunk of 4 rows from two batches, 4: one
def test_in_place_entries_equal_memory_with_no_copy(
    images, tmp_path, inplace, monkeypatch, batch_size
):
    def no_copy(*args):
        raise AssertionError("the rows were copied into a buffer or a new file")

    monkeypatch.setattr(LayerEntry, "_join", no_copy)
    monkeypatch.setattr(LayerEntry, "write_chunk", no_copy)  # the buffered path
    kw = {**KW, "batch_size": batch_size}
    got = extract(tiny(), images, cache=tmp_path, **kw)
    ref = extract(tiny(), images, **kw)  # the same batches: the same floating-point sums
    _same(got, ref)
    for entry in _entries(tmp_path).values():
        names = sorted(p.name for p in entry.iterdir())
        assert names == [".lock", ".writer", "features.npy", "manifest.json"], names
        # the checksums computed on the way are the file's (what verify_cache re-checks)
        _checksums_are_the_files(entry)
    hit = extract(tiny(), images, cache=tmp_path, verify_cache=True, **kw)
    _same(hit, ref)


def _interrupt_after(monkeypatch, n_chunks):
    """Interrupted once ``n_chunks`` chunks of every layer are recorded in place."""
    real = LayerEntry._record
    seen = {}

    def record(self, *args):
        seen[self.key] = seen.get(self.key, 0) + 1
        if seen[self.key] > n_chunks:
            raise KeyboardInterrupt
        return real(self, *args)

    monkeypatch.setattr(LayerEntry, "_record", record)
    return real


def test_interrupted_in_place_run_resumes_bit_identical(
    images, ref, tmp_path, inplace, monkeypatch
):
    real = _interrupt_after(monkeypatch, 2)
    with pytest.raises(KeyboardInterrupt):
        extract(tiny(), images, cache=tmp_path, **KW)
    monkeypatch.setattr(LayerEntry, "_record", real)
    entries = _entries(tmp_path)
    for entry in entries.values():
        m = json.loads((entry / "manifest.json").read_text())
        assert sorted(m["chunks"]) == ["0", "1"] and m["final"] is None
        assert {r["file"] for r in m["chunks"].values()} == {"partial.npy"}
    # corrupt one recorded region: detected on resume and recomputed
    part = entries["fc"] / "partial.npy"
    data = bytearray(part.read_bytes())
    data[len(data) - 23 * 5 * 4 + 3] ^= 0xFF  # a byte of row 0 (chunk 0) of the (23, 5) rows
    part.write_bytes(bytes(data))
    model = tiny()
    with pytest.warns(NeuroalignWarning, match="truncated or corrupt"):
        got = extract(model, images, cache=tmp_path, **KW)
    _same(got, ref)
    assert 0 < model.module._calls < FULL  # resumed: not every batch recomputed
    assert not list(tmp_path.rglob("partial.npy")) and not list(tmp_path.rglob("chunk-*"))


def test_writer_thread_errors_reach_the_caller_and_written_chunks_stay(
    images, ref, tmp_path, monkeypatch
):
    real = LayerEntry.write_chunk
    calls = []

    def full_disk(self, index, chunk_size, rows):
        calls.append(index)
        if index == 2:
            raise CacheError("feature store: cannot write chunk-00002.npy: No space left on device")
        return real(self, index, chunk_size, rows)

    monkeypatch.setattr(LayerEntry, "write_chunk", full_disk)
    with pytest.raises(CacheError, match="No space left"):
        extract(tiny(), images, cache=tmp_path, **KW)
    monkeypatch.setattr(LayerEntry, "write_chunk", real)
    for entry in _entries(tmp_path).values():
        m = json.loads((entry / "manifest.json").read_text())
        assert {"0", "1"} <= set(m["chunks"]) and "2" not in m["chunks"]
    model = tiny()
    got = extract(model, images, cache=tmp_path, **KW)
    _same(got, ref)
    assert model.module._calls <= FULL - 4  # chunks 0 and 1 (4 batches) were not recomputed


def test_second_writer_writes_chunk_files_and_joins_the_in_place_rows(
    images, ref, tmp_path, inplace, monkeypatch
):
    real = _interrupt_after(monkeypatch, 1)
    with pytest.raises(KeyboardInterrupt):
        extract(tiny(), images, cache=tmp_path, **KW)
    monkeypatch.setattr(LayerEntry, "_record", real)
    held = []
    for entry in _entries(tmp_path).values():  # another live writer holds partial.npy
        fd = os.open(entry / ".writer", os.O_RDWR)
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        held.append(fd)
    try:
        got = extract(tiny(), images, cache=tmp_path, **KW)
        _same(got, ref)
        for entry in _entries(tmp_path).values():
            assert (entry / "partial.npy").exists()  # still held: not removed under its writer
    finally:
        for fd in held:
            os.close(fd)
    again = extract(tiny(), images, cache=tmp_path, **KW)  # a hit sweeps the released file
    _same(again, ref)
    assert not list(tmp_path.rglob("partial.npy"))


def test_in_place_writer_copies_in_the_chunk_files_it_resumed_from(
    images, ref, tmp_path, monkeypatch
):
    real = LayerEntry.write_chunk

    def stop_at_2(self, index, chunk_size, rows):
        if index == 2:
            raise KeyboardInterrupt
        return real(self, index, chunk_size, rows)

    monkeypatch.setattr(LayerEntry, "write_chunk", stop_at_2)  # chunk files (small chunks)
    with pytest.raises(KeyboardInterrupt):
        extract(tiny(), images, cache=tmp_path, **KW)
    monkeypatch.setattr(LayerEntry, "write_chunk", real)
    assert len(list(tmp_path.rglob("chunk-*.npy"))) == 4  # chunks 0 and 1 of both layers
    monkeypatch.setattr(store, "INPLACE_MIN_BYTES", 0)  # the rest in place
    model = tiny()
    got = extract(model, images, cache=tmp_path, **KW)
    _same(got, ref)
    assert model.module._calls == FULL - 4
    for entry in _entries(tmp_path).values():
        _checksums_are_the_files(entry)
    assert not list(tmp_path.rglob("chunk-*.npy")) and not list(tmp_path.rglob("partial.npy"))


def _checksums_are_the_files(entry):
    """The final record's SHA-256s are those of features.npy's header and of each range of its
    rows, the ranges covering every row (recomputed here from the file's bytes)."""
    final = json.loads((entry / "manifest.json").read_text())["final"]
    data = (entry / "features.npy").read_bytes()
    n, width = final["shape"]
    head = len(data) - n * width * 4
    assert hashlib.sha256(data[:head]).hexdigest() == final["header_sha256"]
    bounds = [r[:2] for r in final["rows_sha256"]]
    assert [a for a, _ in bounds] == [0] + [b for _, b in bounds[:-1]] and bounds[-1][1] == n
    for a, b, sha in final["rows_sha256"]:
        rows = data[head + a * width * 4 : head + b * width * 4]
        assert hashlib.sha256(rows).hexdigest() == sha
