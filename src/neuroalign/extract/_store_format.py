"""The feature store's on-disk format: how an entry is keyed and laid out, the store folder, the
manifest's validation, and the file-system helpers its writes use (see :mod:`._store` for the
entry that reads and writes it).

**Key.** One entry per layer and per everything that can change its values: the model's weights,
buffers and architecture (:func:`module_fingerprint`), the preprocessing or tokenizer by content,
the reducer by name and options (a custom callable only with an explicit ``cache_key``), the
stimulus content (:attr:`StimulusSet.fingerprint`, or a hash of the input tensors), the batch
size when a reducer is fitted on the data (``ipca``), the device, AMP and memory format, the
torch, neuroalign and store-format versions. The key is ``core._identity.hash_parts`` of those
parts (the one identity of every store: typed, length-prefixed fields, so two different sets of
parts never share a key); :func:`neuroalign.extract.feature_keys` gives the keys without running.

**Layout.** An entry is a directory

    <root>/<key[:2]>/<key>/manifest.json     parts, chunk size, per-chunk SHA-256, final record
                                             (shape, size, mtime, SHA-256 of the header
                                             and of each range of rows)
                          .lock              the entry's lock (``fcntl.flock``)
                          chunk-00000.npy …  rows [i·chunk, (i+1)·chunk) while a run is going
                          partial.npy        or: every chunk written in place (large features)
                          features.npy       (n_stimuli, n_features) float32 once complete
"""

from __future__ import annotations

import collections
import contextlib
import ctypes
import hashlib
import json
import os
import re
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any, cast

import numpy as np

from ..core._identity import hash_parts
from ..core._io import os_reason, sha256_range, writable_dir
from ..core.exceptions import CacheError, ValidationError

__all__ = [
    "STORE_FORMAT",
    "default_cache_dir",
    "final_matches",
    "layer_key",
    "open_features",
    "store_root",
]

# 3: keys from core._identity (typed fields); 4: a layer's values as computed even when a later
# module changes its output in place (entries of 3 may hold the changed values), and the final
# record's checksums per range of rows (the chunks') instead of one of the whole file
STORE_FORMAT = 4
_CHUNK = re.compile(r"chunk-(\d{5})\.npy")
_PARTIAL = "partial.npy"
_TMP = re.compile(r"\..+\.(\d+)\.tmp")
_HEX = re.compile(r"[0-9a-f]{64}")


def default_cache_dir() -> Path:
    """``$NEUROALIGN_CACHE``, else ``~/.cache/neuroalign/features``."""
    env = os.environ.get("NEUROALIGN_CACHE")
    return Path(env).expanduser() if env else Path.home() / ".cache" / "neuroalign" / "features"


def store_root(cache: str | Path | bool) -> Path:
    """The store's folder for ``extract(cache=...)``, created and checked writable *before* any
    work: a path that is a file, or a folder that cannot be written, is a clear error."""
    if not isinstance(cache, (str, os.PathLike, bool)):
        raise ValidationError(f"cache must be a folder path, True or None; got {cache!r}.")
    root = default_cache_dir() if cache is True else Path(cast("str | Path", cache))
    return writable_dir(root, "cache")


@contextlib.contextmanager
def _store_errors(where: Path, doing: str) -> Iterator[None]:
    """An OSError (disk full, permission denied, read-only file system) as one CacheError."""
    try:
        yield
    except CacheError:
        raise
    except OSError as err:
        raise CacheError(
            f"feature store {str(where)!r}: {doing}: {os_reason(err)}. Free space, fix the "
            "permissions, choose another cache=, or pass cache=None to keep features in memory."
        ) from err


def _canonical(parts: dict[str, Any]) -> dict[str, Any]:
    """The parts as the manifest stores them (JSON: tuples become lists, NumPy scalars numbers),
    so the key hashed and the record compared on the next run are the same values. A value JSON
    cannot hold exactly (an object) is refused rather than keyed by its ``repr``."""

    def plain(o: Any) -> Any:
        if isinstance(o, np.generic):
            return o.item()
        raise TypeError(
            f"a feature-store key part is a {type(o).__name__} ({o!r}); only numbers, strings, "
            "lists and dicts can be keyed by content."
        )

    out: dict[str, Any] = json.loads(json.dumps(parts, default=plain, sort_keys=True))
    return out


def layer_key(parts: dict[str, Any]) -> tuple[dict[str, Any], str]:
    """A layer entry's parts as stored (with the store format) and its key: the one place a
    feature-store key is made (``extract`` and ``bench`` both call it)."""
    canonical = _canonical({**parts, "store_format": STORE_FORMAT})
    return canonical, hash_parts(canonical)


def _fsync_dir(path: Path) -> None:
    """Flush a directory's entries (the renames in it) to disk."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OverflowError):
        return pid < 2**31  # exists but is someone else's (overflow: not a pid at all)
    return True


def _pwrite_all(fd: int, data: Any, pos: int) -> None:
    """Write all of ``data`` at ``pos`` (``pwrite`` may write less than it was given)."""
    left = memoryview(data)
    while left:
        k = os.pwrite(fd, left, pos)
        pos, left = pos + k, left[k:]


def _sync_file_range() -> Any:
    """Linux's ``sync_file_range`` through ctypes (Python's ``os`` lacks it), or None."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        fn = ctypes.CDLL(None, use_errno=True).sync_file_range
    except (OSError, AttributeError):
        return None
    fn.argtypes = [ctypes.c_int, ctypes.c_int64, ctypes.c_int64, ctypes.c_uint]
    fn.restype = ctypes.c_int
    return fn


_SYNC_RANGE = _sync_file_range()
_START, _WAIT = 2, 1 | 2 | 4  # SYNC_FILE_RANGE_WRITE; WAIT_BEFORE | WRITE | WAIT_AFTER


class _WriteBehind:
    """Write-behind for a file written in place, its page cache bounded by ``window`` bytes.

    Each range's writeback starts as soon as it is written (``sync_file_range``, not waited
    for); once more than ``window`` bytes are written and still cached, the oldest ranges are
    waited for and dropped from the page cache (``posix_fadvise(DONTNEED)``). Without it a
    store file of tens of GB fills the page cache with dirty pages that the kernel writes back in
    bursts (stalling the writer) and evicts other data for; with it the store's memory stays
    within the run's budget and the next ranges reuse the dropped pages (on a VM that hands free
    guest memory back to its host, a fresh page costs a fault in the host on first touch:
    0.33–0.41 GB/s here against 1.9 GB/s with the pages reused). The newest ``window`` bytes stay
    cached; everything is on disk after the join's ``fsync`` as before. Linux only (elsewhere,
    and on file systems that refuse the calls, a no-op)."""

    def __init__(self, fd: int, window: int) -> None:
        self.fd, self.window = fd, max(0, int(window))
        self.ranges: collections.deque[tuple[int, int]] = collections.deque()
        self.cached = 0
        self.on = _SYNC_RANGE is not None and hasattr(os, "posix_fadvise")

    def wrote(self, pos: int, length: int) -> None:
        """``length`` bytes at ``pos`` were just written."""
        if not self.on or length <= 0:
            return
        if _SYNC_RANGE(self.fd, pos, length, _START) != 0:
            self.on = False  # this file system does not take it: leave the page cache alone
            return
        self.ranges.append((pos, length))
        self.cached += length
        while self.cached > self.window and self.ranges:
            a, n = self.ranges.popleft()
            self.cached -= n
            if _SYNC_RANGE(self.fd, a, n, _WAIT) != 0:
                self.on = False
                return
            os.posix_fadvise(self.fd, a, n, os.POSIX_FADV_DONTNEED)


class _HashingWriter:
    """A binary file that hashes what is written to it (so a file is not read back to hash)."""

    def __init__(self, f: Any) -> None:
        self.f, self.sha = f, hashlib.sha256()

    def write(self, data: Any) -> int:
        self.sha.update(data)
        return self.f.write(data)


def _is_int(x: Any) -> bool:
    return isinstance(x, int) and not isinstance(x, bool)


def _final_ok(final: Any, n: int) -> bool:
    """Whether ``final`` records a complete ``features.npy``: its shape, size, mtime, header
    checksum and one ``[start, stop, sha256]`` per row range, the ranges covering ``0..n``."""
    if not (
        isinstance(final, dict)
        and final.get("file") == "features.npy"
        and _is_int(final.get("size"))
        and _is_int(final.get("mtime_ns"))
        and isinstance(final.get("shape"), list)
        and len(final["shape"]) == 2
        and all(_is_int(k) and k >= 0 for k in final["shape"])
        and final["shape"][0] == n
        and isinstance(final.get("header_sha256"), str)
        and _HEX.fullmatch(final["header_sha256"])
        and isinstance(final.get("rows_sha256"), list)
    ):
        return False
    stop = 0
    for rec in final["rows_sha256"]:
        if not (
            isinstance(rec, list)
            and len(rec) == 3
            and _is_int(rec[0])
            and _is_int(rec[1])
            and rec[0] == stop
            and rec[1] > rec[0]
            and isinstance(rec[2], str)
            and _HEX.fullmatch(rec[2])
        ):
            return False
        stop = rec[1]
    return stop == n and final["size"] >= n * final["shape"][1] * 4


def final_matches(path: Path, final: dict[str, Any]) -> bool:
    """Whether ``features.npy`` still holds the bytes its record's checksums describe: its header
    and each range of rows re-hashed (reads the whole file)."""
    n, width = final["shape"]
    row, header = width * 4, final["size"] - n * width * 4
    fd = os.open(path, os.O_RDONLY)
    try:
        if sha256_range(fd, 0, header) != final["header_sha256"]:
            return False
        return all(
            sha256_range(fd, header + a * row, (b - a) * row) == sha
            for a, b, sha in final["rows_sha256"]
        )
    finally:
        os.close(fd)


def open_features(entry: Path, final: dict[str, Any]) -> np.ndarray:
    """An entry's ``features.npy``, memory-mapped read-only. A hit trusts size and mtime, so a
    file whose header no longer describes the array of its record (``final``) is a CacheError
    naming the fix, not another array served or a raw ValueError."""
    with _store_errors(entry, "cannot read features.npy"):
        try:
            arr = np.load(entry / "features.npy", mmap_mode="r", allow_pickle=False)
        except ValueError as err:
            arr, why = None, f"its header cannot be read ({err})"
    if arr is not None:
        want = tuple(final.get("shape", arr.shape))
        if arr.shape == want and arr.dtype == np.float32:
            return arr
        why = f"it holds {arr.dtype} {arr.shape}, its record ({want[0]}, {want[1]}) float32"
    raise CacheError(
        f"feature store {str(entry)!r}: features.npy changed after it was written: {why}. Run "
        "extract again with verify_cache=True (--verify-cache) to recompute it, or delete that "
        "folder."
    )


def _check_manifest(m: Any, n: int) -> str | None:
    """Why ``m`` is not a well-formed manifest for ``n`` stimuli (None when it is)."""
    if not isinstance(m, dict):
        return f"it is a {type(m).__name__}, not an object"
    if not _is_int(m.get("n_stimuli")) or m["n_stimuli"] != n:
        return "n_stimuli is missing or wrong"
    size = m.get("chunk_size")
    if size is not None and not (_is_int(size) and size > 0):
        return f"chunk_size {size!r} is not a positive integer"
    if not isinstance(m.get("chunks"), dict):
        return "chunks is not an object"
    for k, rec in m["chunks"].items():
        if not (isinstance(k, str) and k.isdigit() and isinstance(rec, dict)):
            return f"chunk {k!r} is not an index with a record"
        rows = rec.get("rows")
        if not (
            isinstance(rec.get("file"), str)
            and isinstance(rec.get("sha256"), str)
            and isinstance(rows, list)
            and len(rows) == 2
            and all(_is_int(r) for r in rows)
        ):
            return f"chunk {k!r} has no file, sha256 and rows [start, stop]"
    final = m.get("final")
    if final is not None and not _final_ok(final, n):
        return (
            "final is not a record of features.npy (shape, size, mtime_ns, header_sha256 and "
            "rows_sha256 covering every row)"
        )
    rank = m.get("forward_rank")
    if rank is not None and not _is_int(rank):
        return "forward_rank is not an integer"
    return None
