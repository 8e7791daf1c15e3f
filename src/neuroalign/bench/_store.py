"""The results store: one JSON file per (model, benchmark, layer) cell, content-addressed.

A cell's key (``core._identity.hash_parts``, the one identity of every store) holds everything that
can change its numbers: the feature-store key of the exact features it scores (so whatever changes
features changes the cell), the layer, the benchmark id and version, the metric's name, code and
parameters, the data's fingerprint and the commitment split. A cell file is written atomically
(temporary file, then rename): after a kill a cell is either complete or absent, so a re-run
computes exactly the missing cells. Cells are not fsynced (that cost 40 ms a cell on a busy disk):
after a power loss a cell may be empty or truncated, and a cell that does not parse, or whose
recorded key differs from its name, counts as missing and is recomputed. Features live next to the cells (the extraction
engine's content-addressed store, under ``features/``), so workers of a Dask cluster that share the
directory share both.
"""

from __future__ import annotations

import json
import os
import platform
import warnings
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import metadata
from pathlib import Path
from typing import Any

from ..core._identity import code_hash, hash_parts
from ..core._io import atomic_write_text
from ..core._registry import lookup
from ..core.exceptions import NeuroalignWarning
from ._benchmark import Benchmark, BenchmarkData
from ._metrics import Split, commitment_split

__all__ = [
    "CELL_FORMAT",
    "Prepared",
    "ResultStore",
    "cell_key",
    "default_store",
    "environment_hash",
    "metric_identity",
    "part_key",
    "prepare",
    "scoring_code_hash",
]

#: Bumped when the computation of a cell changes in a way its inputs do not show.
CELL_FORMAT = 2  # 2: keys from core._identity, from the feature-store key of each layer


@lru_cache(maxsize=1)
def environment() -> dict[str, str]:
    """Versions of the packages a cell's numbers depend on."""
    env = {"python": platform.python_version()}
    for pkg in ("neuroalign", "numpy", "scipy", "scikit-learn", "torch"):
        try:
            env[pkg] = metadata.version(pkg)
        except metadata.PackageNotFoundError:
            env[pkg] = "absent"
    return env


def environment_hash() -> str:
    """A short hash of :func:`environment` (recorded with every cell)."""
    return hash_parts(environment())[:12]


def default_store() -> Path:
    """``$NEUROALIGN_BENCH_STORE``, else ``~/.cache/neuroalign/bench``."""
    env = os.environ.get("NEUROALIGN_BENCH_STORE")
    return Path(env).expanduser() if env else Path.home() / ".cache" / "neuroalign" / "bench"


class ResultStore:
    """Cells (``cells/<k[:2]>/<key>.json``), model layer lists (``models/``) and features."""

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root).expanduser()
        self.features = self.root / "features"

    def _cell(self, key: str) -> Path:
        return self.root / "cells" / key[:2] / f"{key}.json"

    def has(self, key: str) -> bool:
        """Whether a complete, readable cell is stored (a damaged one counts as missing)."""
        return self.get(key) is not None

    def get(self, key: str) -> dict[str, Any] | None:
        """The cell record, or None when absent or unreadable (then it is recomputed)."""
        path = self._cell(key)
        try:
            rec = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None
        return rec if isinstance(rec, dict) and rec.get("key") == key else None

    def put(self, key: str, record: dict[str, Any]) -> Path:
        path = self._cell(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        text = json.dumps({**record, "key": key}, sort_keys=True, allow_nan=True)
        return atomic_write_text(path, text)

    def count_cells(self) -> int:
        """How many cell files the store holds (complete ones: writes are atomic)."""
        return sum(1 for _ in (self.root / "cells").glob("*/*.json"))

    def _layers(self, key: str) -> Path:
        return self.root / "models" / f"{key}.json"

    def get_layers(self, key: str) -> list[str] | None:
        try:
            out = json.loads(self._layers(key).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None
        return [str(x) for x in out] if isinstance(out, list) else None

    def put_layers(self, key: str, layers: list[str]) -> None:
        path = self._layers(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        atomic_write_text(path, json.dumps(list(layers)), durable=True)


@dataclass(frozen=True, eq=False)
class Prepared:
    """A benchmark (or one subject of a benchmark across subjects) with its data loaded, its
    commitment split drawn and its data fingerprint; ``excluded`` lists the benchmark's subjects
    left out (``{label: reason}``)."""

    benchmark: Benchmark
    data: BenchmarkData
    split: Split
    fingerprint: str
    subject: str = ""
    excluded: Mapping[str, str] = field(default_factory=dict)


def part_key(benchmark_id: str, subject: str = "") -> str:
    """The key of one scored part: the benchmark id, ``<id>/<subject>`` for one subject of a
    benchmark across subjects."""
    return f"{benchmark_id}/{subject}" if subject else benchmark_id


def prepare(benchmarks: Iterable[Benchmark]) -> dict[str, Prepared]:
    """Load every benchmark's data once and draw its commitment split: one part per benchmark,
    one per subject present for a benchmark across subjects (keys: :func:`part_key`). Subjects
    whose data are missing are warned about and kept in each part's ``excluded``."""
    out = {}
    for b in benchmarks:
        parts, excluded = b.load_subjects()
        if excluded:
            warnings.warn(
                f"{b.id}: {len(excluded)} of {len(b.subjects)} subjects excluded (not in the "
                f"data folder): {sorted(excluded)}; the score is the mean over {sorted(parts)}.",
                NeuroalignWarning,
                stacklevel=3,
            )
        for subject, data in parts.items():
            out[part_key(b.id, subject)] = Prepared(
                b, data, commitment_split(b, data), data.fingerprint, subject, dict(excluded)
            )
    return out


def metric_identity(name: str) -> str:
    """The identity of the metric's code (``core._identity.code_hash``): a metric re-registered
    with new code under the same name gives new cell keys, so its old cells are never served."""
    from ._metrics import METRICS

    return code_hash(lookup(METRICS, name, "benchmark metric"))


#: The code a cell's score is computed by, beyond the metric function itself: these packages
#: and modules of neuroalign (ridge, RSA, CKA, decoding, ceilings, alignment, the adapters).
SCORING_CODE = ("core", "encode", "compare", "decode", "bench/_metrics.py", "bench/_adapters.py")


@lru_cache(maxsize=1)
def scoring_code_hash() -> str:
    """SHA-256 (``core._identity``) of the source of :data:`SCORING_CODE`: an edit to any
    kernel a score passes through (a ridge solver's α choice, a ceiling formula) gives new cell
    keys, so a cell computed by older code is never served as if it were today's."""
    import neuroalign

    root = Path(neuroalign.__file__).parent
    files: list[Path] = []
    for part in SCORING_CODE:
        path = root / part
        files += sorted(path.rglob("*.py")) if path.is_dir() else [path]
    return hash_parts({p.relative_to(root).as_posix(): p.read_bytes() for p in files})


def cell_key(feature_key: str, layer: str, prep: Prepared) -> str:
    """A cell's key: the feature-store key of the exact features it scores (which holds the
    model's weights and code, the stimuli, preprocessing, tokenizer, reducer and every option,
    device, precision and the layer), the layer, the benchmark's id and version, the metric's
    name, code and parameters, the code of every kernel it passes through
    (:func:`scoring_code_hash`), the benchmark data's fingerprint and the commitment split."""
    b = prep.benchmark
    return hash_parts(
        {
            "format": CELL_FORMAT,
            "features": feature_key,
            "layer": layer,
            "benchmark": b.id,
            "version": b.version,
            "metric": b.metric,
            "metric_code": metric_identity(b.metric),
            "scoring_code": scoring_code_hash(),
            "params": dict(b.metric_params),
            "data": prep.fingerprint,
            "split": [b.commit_split, float(b.commit_fraction), int(b.seed)],
            # one subject of a benchmark across subjects (absent otherwise: keys of benchmarks
            # without subjects are unchanged)
            **({"subject": prep.subject} if prep.subject else {}),
        }
    )
