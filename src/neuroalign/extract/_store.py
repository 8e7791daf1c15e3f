"""Content-addressed, resumable, checksummed on-disk store of extracted features.

One entry per (model weights, architecture, preprocessing, layer, reducer and its options,
stimulus content, neuroalign version, store format): its key is the SHA-256 of those parts, so a
change to any of them can never serve stale features. An entry is a directory

    <root>/<key[:2]>/<key>/manifest.json     parts, chunk size, per-chunk SHA-256, final checksum
                          chunk-00000.npy …  rows [i·chunk, (i+1)·chunk) while the run is going
                          features.npy       (n_stimuli, n_features) float32 once complete

Every file is written to a temporary name, flushed to disk and renamed (atomic on POSIX), and the
manifest is rewritten the same way after each chunk. A run killed at any point leaves complete
chunks listed in the manifest and, at worst, an orphaned temporary file; the next run verifies
each listed chunk's checksum, recomputes what is missing or corrupt, and never serves a file whose
bytes do not match. Files are plain ``.npy`` (no pickle).
"""

from __future__ import annotations

import hashlib
import json
import os
import warnings
from pathlib import Path
from typing import Any

import numpy as np

from ..core._io import atomic_write, atomic_write_text, sha256_file
from ..core.exceptions import NeuroalignWarning

__all__ = ["LayerEntry", "default_cache_dir", "entry_key", "module_fingerprint"]

STORE_FORMAT = 1


def default_cache_dir() -> Path:
    """``$NEUROALIGN_CACHE``, else ``~/.cache/neuroalign/features``."""
    env = os.environ.get("NEUROALIGN_CACHE")
    return Path(env).expanduser() if env else Path.home() / ".cache" / "neuroalign" / "features"


def module_fingerprint(module: Any) -> str:
    """SHA-256 of the architecture (class and module tree) and of every parameter and buffer."""
    import torch

    h = hashlib.sha256()
    h.update(f"{type(module).__module__}.{type(module).__qualname__}\n{module!r}".encode())
    for name, t in module.state_dict().items():
        t = t.detach().cpu().contiguous()
        h.update(f"{name}|{t.dtype}|{tuple(t.shape)}".encode())
        if t.numel():
            h.update(t.reshape(-1).view(torch.uint8).numpy().tobytes())
    return h.hexdigest()


def entry_key(parts: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps(parts, sort_keys=True).encode()).hexdigest()


def _atomic_json(path: Path, obj: dict[str, Any]) -> None:
    atomic_write_text(path, json.dumps(obj, indent=1, sort_keys=True), durable=True)


class _HashingWriter:
    """A binary file that hashes what is written to it (so a chunk is not read back to hash)."""

    def __init__(self, f: Any) -> None:
        self.f, self.sha = f, hashlib.sha256()

    def write(self, data: Any) -> int:
        self.sha.update(data)
        return self.f.write(data)


class LayerEntry:
    """One layer's features for one stimulus set under one key (see module doc)."""

    def __init__(self, root: Path, parts: dict[str, Any], n_stimuli: int) -> None:
        self.parts = {**parts, "store_format": STORE_FORMAT}
        self.key = entry_key(self.parts)
        self.dir = Path(root) / self.key[:2] / self.key
        self.n_stimuli = n_stimuli
        self.manifest_path = self.dir / "manifest.json"
        self.manifest = self._read_manifest()

    # ------------------------------------------------------------------ state
    def _read_manifest(self) -> dict[str, Any]:
        fresh = {"parts": self.parts, "n_stimuli": self.n_stimuli, "chunks": {}, "final": None}
        try:
            m = json.loads(self.manifest_path.read_text())
        except (OSError, ValueError):
            return fresh
        if m.get("parts") != self.parts or m.get("n_stimuli") != self.n_stimuli:
            return fresh
        return m

    @property
    def chunk_size(self) -> int | None:
        return self.manifest.get("chunk_size")

    def is_complete(self, verify: bool = True) -> bool:
        final = self.manifest.get("final")
        if not final:
            return False
        path = self.dir / final["file"]
        ok = path.is_file() and (not verify or sha256_file(path) == final["sha256"])
        if not ok:
            warnings.warn(
                f"cached features {str(path)!r} are missing or do not match their checksum; they "
                "are recomputed.",
                NeuroalignWarning,
                stacklevel=3,
            )
            self.manifest["final"] = None
            self.manifest["chunks"] = {}
        return ok

    def done_chunks(self, chunk_size: int) -> set[int]:
        """Chunks already on disk with matching checksums (corrupt or partial ones are dropped)."""
        if self.manifest.get("chunk_size") != chunk_size:
            self.manifest["chunks"] = {}
            return set()
        good: set[int] = set()
        for k, rec in list(self.manifest["chunks"].items()):
            path = self.dir / rec["file"]
            if path.is_file() and sha256_file(path) == rec["sha256"]:
                good.add(int(k))
            else:
                warnings.warn(
                    f"cache chunk {str(path)!r} is missing, truncated or corrupt; it is recomputed.",
                    NeuroalignWarning,
                    stacklevel=3,
                )
                del self.manifest["chunks"][k]
        return good

    # ------------------------------------------------------------------ writes
    def write_chunk(self, index: int, chunk_size: int, rows: np.ndarray) -> None:
        self.dir.mkdir(parents=True, exist_ok=True)
        self.manifest["chunk_size"] = chunk_size
        name = f"chunk-{index:05d}.npy"
        digest = []

        def write(tmp: Path) -> None:
            with open(tmp, "wb") as f:
                sink = _HashingWriter(f)
                np.save(sink, np.ascontiguousarray(rows, dtype=np.float32), allow_pickle=False)  # type: ignore[arg-type]
                digest.append(sink.sha.hexdigest())

        atomic_write(self.dir / name, write, durable=True)
        self.manifest["chunks"][str(index)] = {
            "file": name,
            "sha256": digest[0],
            "rows": [index * chunk_size, index * chunk_size + len(rows)],
        }
        _atomic_json(self.manifest_path, self.manifest)

    def finalize(self) -> None:
        """Join the chunks into ``features.npy`` (streamed, one chunk in memory) and drop them."""
        chunks = sorted(self.manifest["chunks"].items(), key=lambda kv: int(kv[0]))
        first = np.load(self.dir / chunks[0][1]["file"], mmap_mode="r")

        def write(tmp: Path) -> None:
            out = np.lib.format.open_memmap(
                tmp, mode="w+", dtype=np.float32, shape=(self.n_stimuli, first.shape[1])
            )
            for _, rec in chunks:
                a, b = rec["rows"]
                out[a:b] = np.load(self.dir / rec["file"], mmap_mode="r")
            out.flush()
            del out

        final = atomic_write(self.dir / "features.npy", write, durable=True)
        self.manifest["final"] = {"file": "features.npy", "sha256": sha256_file(final)}
        _atomic_json(self.manifest_path, self.manifest)
        for _, rec in chunks:
            (self.dir / rec["file"]).unlink(missing_ok=True)
        self.manifest["chunks"] = {}
        _atomic_json(self.manifest_path, self.manifest)

    def open(self) -> np.ndarray:
        """The complete features, memory-mapped read-only."""
        return np.load(self.dir / "features.npy", mmap_mode="r", allow_pickle=False)
