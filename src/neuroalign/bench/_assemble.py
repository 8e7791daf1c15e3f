"""From stored cells to the sweep's :class:`~neuroalign.core.Result`, with layer commitment.

For each model and benchmark the committed layer is the one with the best ``commit`` score
(ties: the earliest in forward order); its ``test`` score is the benchmark score, and
``ceiled = score / ceiling_high`` (NaN when the benchmark has no ceiling). The per-layer curve
(every split) is kept as ``statistic="layer_score"`` rows. The ``score`` and ``ceiled`` rows are
the committed layer's ``test`` row as the metric wrote it: value and interval of the same split
(NaN interval where the metric has none on the test split), never the ``all`` row's interval.

A benchmark across subjects (``Benchmark.subjects``) has one part per subject; one layer is
committed for all of them (the best mean commit score) and the ``layer_score`` / ``score`` /
``ceiled`` rows are means over subjects with a Student-t interval over subjects, the subjects'
own rows kept as ``subject_layer_score`` / ``subject_score`` / ``subject_ceiled``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from ..core import COLUMNS, Result, make_table
from ..core._identity import hash_parts
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


def _cells(
    label: str, part: str, out: Mapping[str, Any], store: ResultStore
) -> list[tuple[str, str, dict[str, Any]]]:
    """(layer, cell key, record) of one model on one part, in forward order."""
    cells = []
    for layer, key in out["cells"][part].items():
        rec = store.get(key)
        if rec is None:
            raise NeuroalignError(
                f"cell {label} × {part} × {layer} is missing from the store "
                f"{str(store.root)!r} after the run (key {key[:16]})."
            )
        cells.append((layer, key, rec))
    return cells


def over_subjects(values: Sequence[float]) -> dict[str, Any]:
    """The mean over subjects with its Student-t 95 % interval and standard error over
    subjects (NaN interval with one subject); NaN in any subject gives NaN, never a silent
    mean over fewer subjects."""
    from scipy import stats

    v = np.asarray(values, dtype=np.float64)
    k = len(v)
    mean = float(np.mean(v)) if k else np.nan
    if k < 2 or not np.isfinite(v).all():
        return {"value": mean, "ci_low": np.nan, "ci_high": np.nan, "se": np.nan, "n": k}
    se = float(np.std(v, ddof=1) / np.sqrt(k))
    half = float(stats.t.ppf(0.975, k - 1)) * se
    return {"value": mean, "ci_low": mean - half, "ci_high": mean + half, "se": se, "n": k}


def _ceiled(row: Mapping[str, Any]) -> float:
    ceiling = float(row.get("ceiling_high", np.nan))
    value = float(row.get("value", np.nan))
    return value / ceiling if np.isfinite(ceiling) and ceiling > 0 else np.nan


def _one_part(
    label: str,
    part: str,
    prep: Prepared,
    out: Mapping[str, Any],
    store: ResultStore,
    const: dict[str, Any],
    rows: list[dict[str, Any]],
    arrays: dict[str, np.ndarray],
) -> None:
    """Rows of one model on a benchmark without subjects."""
    cells = _cells(label, part, out, store)
    best = commit_layer([_row(c[2]["rows"], "commit").get("value", np.nan) for c in cells])
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
    base = {**test, **const, "layer": layer, "committed": True, "cell": key[:16], "env": rec["env"]}
    rows.append({**base, "statistic": "score"})
    rows.append({**base, "statistic": "ceiled", "value": _ceiled(test), "chance": np.nan})
    targets = _row(rec["rows"], "test").get("target_values")
    if targets is not None:
        arrays[f"targets/{label}/{const['benchmark']}"] = np.asarray(targets, dtype=np.float64)


def _across_subjects(
    label: str,
    parts: Sequence[tuple[str, Prepared]],
    out: Mapping[str, Any],
    store: ResultStore,
    const: dict[str, Any],
    rows: list[dict[str, Any]],
    arrays: dict[str, np.ndarray],
) -> None:
    """Rows of one model on a benchmark across subjects.

    One layer is committed for all subjects (the best mean ``commit`` score over subjects: a
    model commits a layer to a brain region, not to a person). ``layer_score``, ``score`` and
    ``ceiled`` rows hold the mean over the subjects (``subject`` empty, ``n`` = subjects, a
    Student-t interval over subjects, ``resampled="subjects"``; ``ceiled`` is the mean of the
    subjects' ceiled scores, as the Algonauts challenge averages per-subject normalised
    scores); ``subject_layer_score``, ``subject_score`` and ``subject_ceiled`` rows hold each
    subject's own numbers, as its metric wrote them."""
    per = {prep.subject: _cells(label, part, out, store) for part, prep in parts}
    subjects = list(per)
    layers = [c[0] for c in per[subjects[0]]]
    for s in subjects[1:]:
        if [c[0] for c in per[s]] != layers:
            raise NeuroalignError(
                f"{const['benchmark']}: {label} has layers {[c[0] for c in per[s]]} on {s} but "
                f"{layers} on {subjects[0]}; a benchmark across subjects needs the same layers."
            )
    commit = [
        float(np.mean([_row(per[s][i][2]["rows"], "commit").get("value", np.nan) for s in per]))
        for i in range(len(layers))
    ]
    best = commit_layer(commit)
    env = sorted({rec["env"] for s in per for _, _, rec in per[s]})
    for s in subjects:
        for i, (layer, key, rec) in enumerate(per[s]):
            for r in rec["rows"]:
                rows.append(
                    {
                        **{k: v for k, v in r.items() if k in COLUMNS},
                        **const,
                        "subject": s,
                        "layer": layer,
                        "statistic": "subject_layer_score",
                        "committed": i == best,
                        "cell": key[:16],
                        "env": rec["env"],
                    }
                )
    first = per[subjects[0]]
    for i, layer in enumerate(layers):
        cell = hash_parts({"cells": [per[s][i][1] for s in subjects]})[:16]
        for r0 in first[i][2]["rows"]:
            split = r0.get("split")
            srows = [_row(per[s][i][2]["rows"], split) for s in subjects]
            rows.append(
                {
                    **{k: v for k, v in r0.items() if k in _LABEL_COLUMNS},
                    **const,
                    **over_subjects([r.get("value", np.nan) for r in srows]),
                    **_mean_ceilings(srows),
                    "resampled": "subjects",
                    "layer": layer,
                    "statistic": "layer_score",
                    "committed": i == best,
                    "cell": cell,
                    "env": ",".join(env),
                }
            )
    tests = []
    for s in subjects:
        layer, key, rec = per[s][best]
        test = {k: v for k, v in _row(rec["rows"], "test").items() if k in COLUMNS}
        tests.append(test)
        base = {
            **test,
            **const,
            "subject": s,
            "layer": layer,
            "committed": True,
            "cell": key[:16],
            "env": rec["env"],
        }
        rows.append({**base, "statistic": "subject_score"})
        rows.append(
            {**base, "statistic": "subject_ceiled", "value": _ceiled(test), "chance": np.nan}
        )
        targets = _row(rec["rows"], "test").get("target_values")
        if targets is not None:
            arrays[f"targets/{label}/{const['benchmark']}/{s}"] = np.asarray(
                targets, dtype=np.float64
            )
    base = {
        **{k: v for k, v in tests[0].items() if k in _LABEL_COLUMNS},
        **const,
        **_mean_ceilings(tests),
        "chance": tests[0].get("chance", np.nan),
        "resampled": "subjects",
        "layer": layers[best],
        "committed": True,
        "cell": hash_parts({"cells": [per[s][best][1] for s in subjects]})[:16],
        "env": ",".join(env),
    }
    rows.append(
        {**base, **over_subjects([t.get("value", np.nan) for t in tests]), "statistic": "score"}
    )
    rows.append(
        {
            **base,
            **over_subjects([_ceiled(t) for t in tests]),
            "statistic": "ceiled",
            "chance": np.nan,
        }
    )


#: Columns copied from a subject's row to the mean over subjects (what was measured, not numbers).
_LABEL_COLUMNS = ("scoring", "method", "metric", "aggregate", "split")


def _mean_ceilings(srows: Sequence[Mapping[str, Any]]) -> dict[str, float]:
    return {
        c: float(np.mean([float(r.get(c, np.nan)) for r in srows]))
        for c in ("ceiling_low", "ceiling_high")
    }


def assemble(
    refs: Sequence[tuple[str, Any]],
    outs: Sequence[Mapping[str, Any]],
    preps: Mapping[str, Prepared],
    store: ResultStore,
) -> Result:
    """The sweep's result, read from the store (the same table whichever process computed it).

    ``preps`` holds one part per benchmark, or one per subject of a benchmark across subjects
    (``_store.prepare``); a benchmark's parts are assembled together."""
    rows: list[dict[str, Any]] = []
    arrays: dict[str, np.ndarray] = {}
    groups: dict[str, list[tuple[str, Prepared]]] = {}
    for part, prep in preps.items():
        groups.setdefault(prep.benchmark.id, []).append((part, prep))
    for (label, _), out in zip(refs, outs, strict=True):
        for bid, parts in groups.items():
            b = parts[0][1].benchmark
            const = {
                "analysis": "bench",
                "model": label,
                "benchmark": bid,
                "roi": b.roi,
                "benchmark_version": b.version,
            }
            if b.subjects:
                _across_subjects(label, parts, out, store, const, rows, arrays)
            else:
                _one_part(label, parts[0][0], parts[0][1], out, store, const, rows, arrays)
            data = parts[0][1].data
            if data.volume is not None and f"mask/{bid}" not in arrays:
                arrays[f"mask/{bid}"] = np.asarray(data.volume[0], dtype=bool)
                arrays[f"affine/{bid}"] = np.asarray(data.volume[1], dtype=np.float64)
    table = make_table(rows)
    # A cell stores only its environment's hash; the versions behind the hash of this process
    # are known here (cells from other environments keep their hash, their versions unknown).
    here = environment_hash()
    envs = {here: dict(environment())} if here in set(table.get("env", [])) else {}
    params = {
        "models": [label for label, _ in refs],
        "layers": {label: list(o["layers"]) for (label, _), o in zip(refs, outs, strict=True)},
        "benchmarks": {
            bid: benchmark_card(parts[0][1].benchmark, [p.data for _, p in parts])
            for bid, parts in groups.items()
        },
        "data_info": {bid: _data_info(parts) for bid, parts in groups.items()},
        "aggregation": AGGREGATION,
        "environments": envs,
        "store": str(store.root),
    }
    return Result(table, "bench.sweep", arrays, params)


def _data_info(parts: Sequence[tuple[str, Prepared]]) -> dict[str, Any]:
    """A benchmark's data descriptors; across subjects: the subjects scored, those excluded
    (with the reason) and each subject's descriptors."""
    prep = parts[0][1]
    if not prep.benchmark.subjects:
        return dict(prep.data.info)
    return {
        "subjects": [p.subject for _, p in parts],
        "excluded_subjects": dict(prep.excluded),
        "per_subject": {p.subject: dict(p.data.info) for _, p in parts},
    }
