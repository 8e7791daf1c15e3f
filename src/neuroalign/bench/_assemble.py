"""From stored cells to the sweep's :class:`~neuroalign.core.Result`, with layer commitment.

For each model and benchmark the committed layer is the one with the best ``commit`` score
(ties: the earliest in forward order); its ``test`` score is the benchmark score, and
``ceiled = score / ceiling_high`` (NaN when the benchmark has no ceiling). The per-layer curve
(every split) is kept as ``statistic="layer_score"`` rows. The ``score`` and ``ceiled`` rows are
the committed layer's ``test`` row as the metric wrote it: value and interval of the same split
(NaN interval where the metric has none on the test split), never the ``all`` row's interval.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from ..core import COLUMNS, Result, make_table
from ..core.exceptions import NeuroalignError
from ._cards import benchmark_card
from ._store import Prepared, ResultStore, environment, environment_hash

__all__ = ["AGGREGATION", "assemble", "commit_layer"]

#: How the leaderboard averages benchmarks (stated on it).
AGGREGATION = (
    "Average = the mean, over the benchmarks that have a ceiling, of the ceiled score "
    "(committed layer's test score / the benchmark's upper noise ceiling); benchmarks without a "
    "ceiling are shown raw and left out of the average. Layers are committed on the commitment "
    "split only, so the score is never measured on the data that chose the layer."
)


def commit_layer(commit_values: Sequence[float]) -> int:
    """Position of the best commitment score (NaN never wins; all NaN: the first layer)."""
    v = np.asarray(commit_values, dtype=np.float64)
    if not np.isfinite(v).any():
        return 0
    return int(np.nanargmax(np.where(np.isfinite(v), v, -np.inf)))


def _row(rows: list[dict[str, Any]], split: str) -> dict[str, Any]:
    return next((r for r in rows if r.get("split") == split), {})


def assemble(
    refs: Sequence[tuple[str, Any]],
    outs: Sequence[Mapping[str, Any]],
    preps: Mapping[str, Prepared],
    store: ResultStore,
) -> Result:
    """The sweep's result, read from the store (the same table whichever process computed it)."""
    rows: list[dict[str, Any]] = []
    arrays: dict[str, np.ndarray] = {}
    for (label, _), out in zip(refs, outs, strict=True):
        for bid, prep in preps.items():
            b = prep.benchmark
            cells = []
            for layer, key in out["cells"][bid].items():
                rec = store.get(key)
                if rec is None:
                    raise NeuroalignError(
                        f"cell {label} × {bid} × {layer} is missing from the store "
                        f"{str(store.root)!r} after the run (key {key[:16]})."
                    )
                cells.append((layer, key, rec))
            best = commit_layer([_row(c[2]["rows"], "commit").get("value", np.nan) for c in cells])
            const = {
                "analysis": "bench",
                "model": label,
                "benchmark": bid,
                "roi": b.roi,
                "benchmark_version": b.version,
            }
            for i, (layer, key, rec) in enumerate(cells):
                for r in rec["rows"]:
                    rows.append(
                        {
                            **{k: v for k, v in r.items() if k in COLUMNS},
                            **const,
                            "layer": layer,
                            "statistic": "layer_score",
                            "committed": i == best,
                            "cell": key[:16],
                            "env": rec["env"],
                        }
                    )
            layer, key, rec = cells[best]
            test = {k: v for k, v in _row(rec["rows"], "test").items() if k in COLUMNS}
            ceiling = float(test.get("ceiling_high", np.nan))
            value = float(test.get("value", np.nan))
            ceiled = value / ceiling if np.isfinite(ceiling) and ceiling > 0 else np.nan
            base = {
                **test,
                **const,
                "layer": layer,
                "committed": True,
                "cell": key[:16],
                "env": rec["env"],
            }
            rows.append({**base, "statistic": "score"})
            rows.append({**base, "statistic": "ceiled", "value": ceiled, "chance": np.nan})
            targets = _row(rec["rows"], "test").get("target_values")
            if targets is not None:
                arrays[f"targets/{label}/{bid}"] = np.asarray(targets, dtype=np.float64)
            if prep.data.volume is not None and f"mask/{bid}" not in arrays:
                arrays[f"mask/{bid}"] = np.asarray(prep.data.volume[0], dtype=bool)
                arrays[f"affine/{bid}"] = np.asarray(prep.data.volume[1], dtype=np.float64)
    table = make_table(rows)
    # A cell stores only its environment's hash; the versions behind the hash of this process
    # are known here (cells from other environments keep their hash, their versions unknown).
    here = environment_hash()
    envs = {here: dict(environment())} if here in set(table.get("env", [])) else {}
    params = {
        "models": [label for label, _ in refs],
        "layers": {label: list(o["layers"]) for (label, _), o in zip(refs, outs, strict=True)},
        "benchmarks": {bid: benchmark_card(p.benchmark, p.data) for bid, p in preps.items()},
        "data_info": {bid: dict(p.data.info) for bid, p in preps.items()},
        "aggregation": AGGREGATION,
        "environments": envs,
        "store": str(store.root),
    }
    return Result(table, "bench.sweep", arrays, params)
