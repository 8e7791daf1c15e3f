"""Content-addressed, resumable, checksummed on-disk store of extracted features, safe for several
writer processes at once. Its key and layout (one directory per layer entry: manifest, lock,
chunks, ``partial.npy``, ``features.npy``) are in :mod:`._store_format`.

**Writes.** Every file is written under a temporary name carrying the writer's pid
(``.<name>.<pid>.tmp``), flushed to disk, renamed (atomic on POSIX) and its directory flushed.
Every read-modify-write of the manifest, every chunk rename and the final join happen while the
entry's lock is held, so concurrent writers never overwrite each other's records and a writer
skips chunks another one has finished. Under the lock, temporary files of processes that no longer
exist (a run killed mid-write) and chunk files that no manifest lists are removed.

**In place.** A chunk of at least :data:`INPLACE_MIN_BYTES` is not a file of its own: the writer
that holds the entry's ``.writer`` lock (taken without waiting, held until the run ends) writes
its rows at their offset in ``partial.npy``, a ``features.npy`` of the full shape created
(atomically, sparse) at the first chunk, and records the chunk's SHA-256 (of its rows) in the
manifest as for a chunk file. The join is a flush and a rename, not a copy of every byte, and the
chunks' SHA-256s become the final record's (``rows_sha256``, one per range of rows, with
``header_sha256``): every byte is hashed once (rows another run left in ``partial.npy`` are
checked once more at the join). A second writer meanwhile writes chunk files as before;
whichever joins copies the other kind in. Each range's writeback starts as it is written and the
file keeps at most one chunk of rows in the page cache (:class:`._store_format._WriteBehind`);
everything is flushed at the join (a chunk lost to a crash before it fails its checksum on
resume and is recomputed).

**Trust.** The manifest is validated (a malformed one is recomputed with a warning) and only
names ``chunk-NNNNN.npy`` / ``partial.npy`` / ``features.npy`` inside the entry are ever read or
deleted. Each
chunk's SHA-256 is computed while it is written and checked when a run resumes from it and while
it is joined; ``features.npy``'s checksums are its chunks' (and its header's), and a later hit
trusts its size and modification time (``verify=True`` re-hashes the header and every range). Files are plain ``.npy`` (no
pickle). The lock is an advisory ``flock``: it holds between processes on one machine (and on
network file systems that implement it).
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import io
import json
import os
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from ..core._io import atomic_write, sha256_file
from ..core.exceptions import CacheError, NeuroalignWarning
from ._store_format import (
    _CHUNK,
    _PARTIAL,
    _TMP,
    _alive,
    _check_manifest,
    _fsync_dir,
    _HashingWriter,
    _pwrite_all,
    _store_errors,
    _WriteBehind,
    final_matches,
    layer_key,
    open_features,
)

__all__ = ["INPLACE_MIN_BYTES", "LayerEntry"]

INPLACE_MIN_BYTES = 8 * 2**20  # a chunk of one layer this large is written in place


class LayerEntry:
    """One layer's features for one stimulus set under one key (see module doc).

    Every method that reads or changes the manifest takes the entry's lock, re-reads the
    manifest from disk and leaves ``self.manifest`` as the state it saw or wrote.
    """

    def __init__(self, root: Path, parts: dict[str, Any], n_stimuli: int) -> None:
        self.parts, self.key = layer_key(parts)
        self.dir = Path(root) / self.key[:2] / self.key
        self.n_stimuli = n_stimuli
        self.manifest_path = self.dir / "manifest.json"
        self.forward_rank: int | None = None  # set by extract for the entries it writes
        self.manifest: dict[str, Any] = self._fresh()
        # writing in place (see the module doc): the .writer lock, partial.npy, its layout
        # (header bytes, features per row) and the chunks this writer recorded in it
        self._inplace: bool | None = None
        self._writer: int | None = None
        self._data: int | None = None
        self._layout: tuple[int, int] | None = None
        self._mine: set[int] = set()
        self._open_chunks: dict[int, tuple[Any, int]] = {}  # chunk → (its SHA-256 so far, rows)
        self._behind: _WriteBehind | None = None  # partial.npy's page cache, one chunk at most

    def _fresh(self) -> dict[str, Any]:
        return {
            "parts": self.parts,
            "n_stimuli": self.n_stimuli,
            "chunk_size": None,
            "chunks": {},
            "final": None,
            "forward_rank": None,
        }

    # ------------------------------------------------------------------ locking and state
    @contextlib.contextmanager
    def _locked(self, doing: str) -> Iterator[None]:
        """Hold the entry's lock (creating the entry); OSErrors become one CacheError."""
        with _store_errors(self.dir, doing):
            self.dir.mkdir(parents=True, exist_ok=True)
            with open(self.dir / ".lock", "a+b") as f:
                fcntl.flock(f.fileno(), fcntl.LOCK_EX)
                try:
                    self.manifest = self._read()
                    yield
                finally:
                    fcntl.flock(f.fileno(), fcntl.LOCK_UN)

    def _read(self) -> dict[str, Any]:
        """The manifest on disk, validated (a malformed one is replaced by a fresh state)."""
        try:
            text = self.manifest_path.read_text()
        except FileNotFoundError:
            return self._fresh()
        try:
            m = json.loads(text)
            problem = _check_manifest(m, self.n_stimuli)
        except ValueError as err:
            problem = f"it is not JSON ({err})"
        if problem is None and m.get("parts") != self.parts:
            problem = "it describes other inputs"
        if problem is not None:
            self._warn(
                f"the manifest {str(self.manifest_path)!r} is malformed: {problem}; the entry "
                "is recomputed."
            )
            self.manifest = self._fresh()
            self._write_manifest()  # said once, not at every read
            return self.manifest
        dropped = False
        for k, rec in list(m["chunks"].items()):  # only chunk names, only inside the entry
            if rec["file"] not in (f"chunk-{int(k):05d}.npy", _PARTIAL):
                self._warn(
                    f"manifest record {rec['file']!r} of {str(self.dir)!r} is not a chunk name "
                    "of this entry; it is ignored and the chunk recomputed."
                )
                del m["chunks"][k]
                dropped = True
        m.setdefault("forward_rank", None)
        if dropped:
            self.manifest = m
            self._write_manifest()
        return m

    def _write_manifest(self) -> None:
        text = json.dumps(self.manifest, indent=1, sort_keys=True)
        atomic_write(self.manifest_path, lambda tmp: tmp.write_text(text), durable=True)
        _fsync_dir(self.dir)

    def _sweep(self) -> None:
        """Remove temporary files of dead writers, and chunks no manifest lists once complete."""
        listed = {rec["file"] for rec in self.manifest["chunks"].values()}
        for p in self.dir.iterdir():
            tmp = _TMP.fullmatch(p.name)
            if tmp and not _alive(int(tmp.group(1))):
                p.unlink(missing_ok=True)
            elif self.manifest["final"] and _CHUNK.fullmatch(p.name) and p.name not in listed:
                p.unlink(missing_ok=True)
        if self.manifest["final"] and (self.dir / _PARTIAL).exists():
            self._drop_partial()  # left by a writer that was killed after another one joined

    @staticmethod
    def _warn(msg: str) -> None:
        warnings.warn(msg, NeuroalignWarning, stacklevel=4)

    @property
    def chunk_size(self) -> int | None:
        return self.manifest.get("chunk_size")

    def is_complete(self, verify: bool = False) -> bool:
        """Whether ``features.npy`` is there and unchanged: same size and modification time as
        when it was written (``verify``: and the same SHA-256, which reads the whole file)."""
        with self._locked("cannot read"):
            self._sweep()
            final = self.manifest["final"]
            if not final:
                return False
            path = self.dir / "features.npy"
            try:
                st = path.stat()
                same = st.st_size == final["size"] and st.st_mtime_ns == final["mtime_ns"]
            except FileNotFoundError:
                same = False
            if same and (not verify or final_matches(path, final)):
                return True
            why = "do not match their checksum" if same else "are missing or changed"
            self._warn(f"cached features {str(path)!r} {why}; they are recomputed.")
            self.manifest["final"], self.manifest["chunks"] = None, {}
            self._write_manifest()
            return False

    def claim(self, chunk_size: int) -> set[int]:
        """Fix the entry's chunk size (the first writer's wins, see ``chunk_size``; a different
        one restarts the entry) and return the chunks on disk whose checksums match."""
        with self._locked("cannot read"):
            if self.manifest["chunk_size"] not in (None, chunk_size):
                self.manifest["chunks"] = {}
            self.manifest["chunk_size"] = chunk_size
            good: set[int] = set()
            for k, rec in list(self.manifest["chunks"].items()):
                path = self.dir / rec["file"]
                if rec["file"] == _PARTIAL:
                    data = self._region(rec)
                    ok = data is not None and hashlib.sha256(data).hexdigest() == rec["sha256"]
                else:
                    ok = path.is_file() and sha256_file(path) == rec["sha256"]
                if ok:
                    good.add(int(k))
                else:
                    what = f"rows {rec['rows']} of " if rec["file"] == _PARTIAL else ""
                    self._warn(
                        f"cache chunk {what}{str(path)!r} is missing, truncated or corrupt; it is "
                        "recomputed."
                    )
                    del self.manifest["chunks"][k]
            self._write_manifest()
            return good

    def finished(self) -> set[int] | None:
        """Chunks listed now (written by any writer), or None when the entry is complete."""
        with self._locked("cannot read"):
            if self.manifest["final"]:
                return None
            return {int(k) for k in self.manifest["chunks"]}

    # ------------------------------------------------------------------ writes
    def write_chunk(self, index: int, chunk_size: int, rows: np.ndarray) -> None:
        """Write rows ``[index·chunk_size, …)``; the file is written outside the lock and renamed
        into place under it, unless another writer recorded that chunk (or the whole entry).
        Large chunks go in place into ``partial.npy`` when this writer holds the entry's
        ``.writer`` lock (see the module doc)."""
        rows = np.ascontiguousarray(rows, dtype=np.float32)
        if self.in_place(rows.shape[1], len(rows)):
            self.write_rows(index, chunk_size, 0, rows)
            return
        name = f"chunk-{index:05d}.npy"
        tmp = self.dir / f".{name}.{os.getpid()}.tmp"
        with _store_errors(self.dir, f"cannot write {name}"):
            self.dir.mkdir(parents=True, exist_ok=True)
            try:
                with open(tmp, "wb") as f:
                    sink = _HashingWriter(f)
                    np.save(sink, rows, allow_pickle=False)  # type: ignore[arg-type]
                    f.flush()
                    os.fsync(f.fileno())
            except BaseException:
                tmp.unlink(missing_ok=True)
                raise
        with self._locked(f"cannot record {name}"):
            taken = self.manifest["final"] or str(index) in self.manifest["chunks"]
            if taken or self.manifest["chunk_size"] not in (None, chunk_size):
                tmp.unlink(missing_ok=True)
                return
            os.replace(tmp, self.dir / name)
            self.manifest["chunk_size"] = chunk_size
            self.manifest["chunks"][str(index)] = {
                "file": name,
                "sha256": sink.sha.hexdigest(),
                "rows": [index * chunk_size, index * chunk_size + len(rows)],
            }
            if self.forward_rank is not None:
                self.manifest["forward_rank"] = self.forward_rank
            self._write_manifest()

    def _writer_lock(self) -> int | None:
        """The entry's ``.writer`` lock, taken without waiting (its descriptor), or None when
        another writer holds it."""
        fd = os.open(self.dir / ".writer", os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            return None
        return fd

    def _partial_layout(self) -> tuple[int, int] | None:
        """(header bytes, features per row) of ``partial.npy``; None when it is missing or not a
        complete float32 (n_stimuli, width) array file."""
        fmt = np.lib.format
        read = {(1, 0): fmt.read_array_header_1_0, (2, 0): fmt.read_array_header_2_0}
        try:
            with open(self.dir / _PARTIAL, "rb") as f:
                version = fmt.read_magic(f)
                if version not in read:
                    return None
                shape, fortran, dtype = read[version](f)
                offset, size = f.tell(), os.fstat(f.fileno()).st_size
        except (OSError, ValueError):
            return None
        if len(shape) != 2 or shape[0] != self.n_stimuli or fortran or dtype != np.dtype("<f4"):
            return None
        if size != offset + shape[0] * shape[1] * 4:
            return None
        return offset, int(shape[1])

    def _region(self, rec: dict[str, Any]) -> bytes | None:
        """The bytes of a chunk recorded in ``partial.npy`` (None when the file cannot hold it)."""
        layout = self._partial_layout()
        if layout is None:
            return None
        offset, width = layout
        a, b = rec["rows"]
        if not 0 <= a <= b <= self.n_stimuli:
            return None
        with open(self.dir / _PARTIAL, "rb") as f:
            f.seek(offset + a * width * 4)
            data = f.read((b - a) * width * 4)
        return data if len(data) == (b - a) * width * 4 else None

    def _open_partial(self, width: int) -> bool:
        """Take the ``.writer`` lock and open (creating when needed) ``partial.npy`` for rows of
        ``width`` features; False when another writer holds the lock (write chunk files)."""
        with _store_errors(self.dir, f"cannot create {_PARTIAL}"):
            self.dir.mkdir(parents=True, exist_ok=True)
            fd = self._writer_lock()
            if fd is None:
                return False
            self._writer = fd
        with self._locked(f"cannot create {_PARTIAL}"):
            layout = self._partial_layout()
            if layout is None or layout[1] != width:
                stale = [k for k, r in self.manifest["chunks"].items() if r["file"] == _PARTIAL]
                for k in stale:
                    del self.manifest["chunks"][k]
                tmp = self.dir / f".{_PARTIAL}.{os.getpid()}.tmp"
                try:
                    with open(tmp, "wb") as f:
                        header = {"descr": "<f4", "fortran_order": False}
                        header["shape"] = (self.n_stimuli, width)  # type: ignore[assignment]
                        np.lib.format.write_array_header_1_0(f, header)
                        f.truncate(f.tell() + self.n_stimuli * width * 4)  # sparse until written
                    os.replace(tmp, self.dir / _PARTIAL)
                except BaseException:
                    tmp.unlink(missing_ok=True)
                    raise
                _fsync_dir(self.dir)
                if stale:
                    self._write_manifest()
                layout = self._partial_layout()
                assert layout is not None
            self._layout = layout
            self._data = os.open(self.dir / _PARTIAL, os.O_RDWR)
            self._mine = set()
        return True

    def in_place(self, width: int, chunk_rows: int) -> bool:
        """Whether this run writes the entry in place (decided once, at its first rows): when a
        chunk of ``chunk_rows`` rows of ``width`` float32 is at least :data:`INPLACE_MIN_BYTES`
        and no other writer holds ``partial.npy``."""
        if self._inplace is None:
            big = chunk_rows * width * 4 >= INPLACE_MIN_BYTES
            self._inplace = big and self._open_partial(width)
        return self._inplace

    def write_rows(self, index: int, chunk_size: int, at: int, rows: np.ndarray) -> None:
        """In place: rows ``at``, ``at + 1``, … of chunk ``index`` at their offset in
        ``partial.npy`` (consecutive calls continue the chunk); the chunk's checksum goes to the
        manifest with its last rows. Needs :meth:`in_place` to have said True."""
        assert self._layout is not None and self._data is not None
        offset, width = self._layout
        first = index * chunk_size
        start, length = first + at, min(chunk_size, self.n_stimuli - first)
        sha, done = self._open_chunks.pop(index, (hashlib.sha256(), 0))
        if rows.shape[1] != width or at != done or at + len(rows) > length:
            raise CacheError(
                f"feature store {str(self.dir)!r}: rows {start}-{start + len(rows)} of width "
                f"{rows.shape[1]} do not continue chunk {index} of {_PARTIAL} "
                f"({self.n_stimuli}, {width}) at row {first + done}."
            )
        rows = np.ascontiguousarray(rows, dtype=np.float32)
        data = memoryview(rows).cast("B")
        sha.update(data)
        if self._behind is None:  # the page cache this file may hold: one chunk of rows
            self._behind = _WriteBehind(self._data, min(chunk_size, self.n_stimuli) * width * 4)
        with _store_errors(self.dir, f"cannot write rows {start}-{start + len(rows)}"):
            _pwrite_all(self._data, data, offset + start * width * 4)
            self._behind.wrote(offset + start * width * 4, len(data))
        if at + len(rows) < length:
            self._open_chunks[index] = (sha, at + len(rows))
            return
        self._record(index, chunk_size, first, length, sha.hexdigest())

    def _record(self, index: int, chunk_size: int, start: int, length: int, sha: str) -> None:
        """A chunk written in place, in the manifest (unless another writer recorded it)."""
        with self._locked(f"cannot record rows {start}-{start + length}"):
            rec = self.manifest["chunks"].get(str(index))
            if self.manifest["final"] or rec is not None:
                return  # another writer's chunk file is copied in at the join
            if self.manifest["chunk_size"] not in (None, chunk_size):
                return
            self._mine.add(index)
            self.manifest["chunk_size"] = chunk_size
            self.manifest["chunks"][str(index)] = {
                "file": _PARTIAL,
                "sha256": sha,
                "rows": [start, start + length],
            }
            if self.forward_rank is not None:
                self.manifest["forward_rank"] = self.forward_rank
            self._write_manifest()

    def _finish_in_place(
        self, chunks: list[tuple[str, dict[str, Any]]]
    ) -> tuple[str, list[list[Any]]]:
        """Copy other writers' chunk files into ``partial.npy``, flush it and rename it to
        ``features.npy``; returns the checksums of its header and of each chunk's rows (those
        written here were hashed on the way; rows another run left in ``partial.npy`` are read
        once more and checked against their record)."""
        assert self._layout is not None and self._data is not None
        offset, width = self._layout
        rows_sha: list[list[Any]] = []
        for k, rec in chunks:
            a, b = rec["rows"]
            if rec["file"] != _PARTIAL:
                data = self._chunk_data(rec, width)
                _pwrite_all(self._data, data, offset + a * width * 4)
                sha = hashlib.sha256(data).hexdigest()
            else:
                sha = rec["sha256"]
                if int(k) not in self._mine:
                    here = os.pread(self._data, (b - a) * width * 4, offset + a * width * 4)
                    if hashlib.sha256(here).hexdigest() != sha:
                        raise CacheError(
                            f"feature store {str(self.dir)!r}: rows {a}-{b} of {_PARTIAL} "
                            "changed since they were written; run extract again to recompute "
                            "them."
                        )
            rows_sha.append([a, b, sha])
        header = hashlib.sha256(os.pread(self._data, offset, 0)).hexdigest()
        os.fsync(self._data)
        os.replace(self.dir / _PARTIAL, self.dir / "features.npy")
        _fsync_dir(self.dir)
        os.close(self._data)
        self._data, self._behind = None, None
        return header, rows_sha

    def _drop_partial(self) -> None:
        """Remove ``partial.npy`` once the entry is complete, unless a live writer holds it."""
        if self._data is not None:
            os.close(self._data)
            self._data, self._behind = None, None
        path = self.dir / _PARTIAL
        if not path.exists():
            return
        fd = self._writer if self._writer is not None else self._writer_lock()
        if fd is not None:
            path.unlink(missing_ok=True)
            if fd != self._writer:
                os.close(fd)

    def close(self) -> None:
        """Release the ``.writer`` lock and ``partial.npy`` (at the end of a run, or its
        failure: the recorded chunks stay for the next run)."""
        if self._data is not None:
            os.close(self._data)
            self._data, self._behind = None, None
        if self._writer is not None:
            os.close(self._writer)  # releases the lock
            self._writer = None
        self._inplace, self._mine = None, set()
        self._open_chunks = {}

    def finalize(self) -> None:
        """Join the chunks into ``features.npy`` (streamed, one chunk in memory, each chunk's
        checksum verified on the way) and drop them; nothing to do when another writer did.
        Written in place, the join is a flush and a rename (see the module doc)."""
        with self._locked("cannot join the chunks"):
            if self.manifest["final"] and (self.dir / "features.npy").is_file():
                self._drop_partial()
                return
            chunks = sorted(self.manifest["chunks"].items(), key=lambda kv: int(kv[0]))
            stops = [0] + [rec["rows"][1] for _, rec in chunks]
            starts = [rec["rows"][0] for _, rec in chunks]
            if not chunks or starts != stops[:-1] or stops[-1] != self.n_stimuli:
                raise CacheError(
                    f"feature store {str(self.dir)!r}: the chunks on disk do not cover all "
                    f"{self.n_stimuli} stimuli; run extract again to compute the missing ones."
                )
            if self._data is not None and self._partial_layout() == self._layout:
                assert self._layout is not None
                shape = (self.n_stimuli, self._layout[1])
                header, rows_sha = self._finish_in_place(chunks)
                final = self.dir / "features.npy"
            else:
                shape, final, header, rows_sha = self._join(chunks)
            st = final.stat()
            self.manifest["final"] = {
                "file": "features.npy",
                "header_sha256": header,
                "rows_sha256": rows_sha,
                "size": st.st_size,
                "mtime_ns": st.st_mtime_ns,
                "shape": list(shape),
            }
            self.manifest["chunks"] = {}
            if self.forward_rank is not None:
                self.manifest["forward_rank"] = self.forward_rank
            self._write_manifest()
            for _, rec in chunks:
                if rec["file"] != _PARTIAL:
                    (self.dir / rec["file"]).unlink(missing_ok=True)
            self._drop_partial()
            _fsync_dir(self.dir)

    def _join(
        self, chunks: list[tuple[str, dict[str, Any]]]
    ) -> tuple[tuple[int, int], Path, str, list[list[Any]]]:
        """Copy the chunks into a new ``features.npy``; returns its shape and path and the
        checksums of its header and of each chunk's rows."""
        rec0 = chunks[0][1]
        if rec0["file"] == _PARTIAL:
            layout = self._partial_layout()
            width = layout[1] if layout is not None else 0
        else:
            first = np.load(self.dir / rec0["file"], mmap_mode="r")
            width = int(first.shape[1])
            del first
        shape = (self.n_stimuli, width)
        head = io.BytesIO()
        header_fields = {"descr": "<f4", "fortran_order": False, "shape": shape}
        np.lib.format.write_array_header_1_0(head, header_fields)  # type: ignore[arg-type]
        rows_sha: list[list[Any]] = []

        def write(tmp: Path) -> None:
            rows_sha.clear()
            with open(tmp, "wb") as f:
                f.write(head.getvalue())
                for _, rec in chunks:
                    data = self._chunk_data(rec, shape[1])
                    f.write(data)
                    sha = rec["sha256"] if rec["file"] == _PARTIAL else None
                    rows_sha.append([*rec["rows"], sha or hashlib.sha256(data).hexdigest()])

        final = atomic_write(self.dir / "features.npy", write, durable=True)
        _fsync_dir(self.dir)
        return shape, final, hashlib.sha256(head.getvalue()).hexdigest(), rows_sha

    def _chunk_data(self, rec: dict[str, Any], width: int) -> memoryview:
        """A chunk's float32 rows as bytes, after checking its checksum and shape (one read,
        no copy of the data)."""
        if rec["file"] == _PARTIAL:
            region = self._region(rec)
            if region is None or hashlib.sha256(region).hexdigest() != rec["sha256"]:
                raise CacheError(
                    f"feature store {str(self.dir)!r}: rows {rec['rows']} of {_PARTIAL} changed "
                    "since they were written; run extract again to recompute them."
                )
            if len(region) != (rec["rows"][1] - rec["rows"][0]) * width * 4:
                raise CacheError(
                    f"feature store {str(self.dir)!r}: {_PARTIAL} rows are not {width} wide; "
                    "run extract again."
                )
            return memoryview(region)
        data = (self.dir / rec["file"]).read_bytes()
        if hashlib.sha256(data).hexdigest() != rec["sha256"]:
            raise CacheError(
                f"feature store {str(self.dir)!r}: {rec['file']} changed since it was written; "
                "run extract again to recompute it."
            )
        f = io.BytesIO(data)
        fmt = np.lib.format
        read = {(1, 0): fmt.read_array_header_1_0, (2, 0): fmt.read_array_header_2_0}
        shape, fortran, dtype = read.get(fmt.read_magic(f), fmt.read_array_header_1_0)(f)
        a, b = rec["rows"]
        if shape != (b - a, width) or fortran or dtype != np.dtype("<f4"):
            raise CacheError(
                f"feature store {str(self.dir)!r}: {rec['file']} holds {shape} {dtype}, not "
                f"({b - a}, {width}) float32; run extract again."
            )
        return memoryview(data)[f.tell() :]

    def open(self) -> np.ndarray:
        """The complete features, memory-mapped read-only (see :func:`open_features`)."""
        return open_features(self.dir, self.manifest.get("final") or {})
