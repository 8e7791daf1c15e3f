"""Synthetic ``bench.sweep`` results of any size (no model is run): the figure checks' inputs."""

from __future__ import annotations

import numpy as np

from neuroalign.core import Result, make_table

#: (benchmark, ceiling, chance, has a test-split interval)
BENCHMARKS = (
    ("Kriegeskorte2008.hIT-rsa", 0.42, np.nan, False),
    ("Kriegeskorte2008.mIT-rsa", np.nan, np.nan, False),
    ("Allen2022.streams-ventral-encoding", 0.61, np.nan, True),
    ("Allen2022.V1-encoding", 0.7, np.nan, True),
    ("Haxby2001.VT-decoding", np.nan, 0.125, False),
)


def model_names(n: int) -> list[str]:
    """``n`` unique model ids, some long and sharing long prefixes (labels that cut badly)."""
    names = []
    for k in range(n):
        if k % 3 == 2:
            names.append(f"hf:facebook/dinov2-with-registers-small-variant:seed={k}")
        else:
            names.append(f"tiny_cnn:seed={k}")
    return names


#: A URL with no break opportunity, longer than a card is wide (must wrap, not overflow).
LONG_URL = "https://example.org/" + "averylongdatasetpath_" * 12 + "end"


def card(bench: str) -> dict:
    """The data card ``bench.benchmark_card`` makes for ``bench`` (declared like the built-ins,
    with long texts: a full author list, a long unbroken URL, many metric parameters)."""
    from neuroalign.bench import Benchmark, benchmark_card

    metric = bench.rsplit("-", 1)[1]
    params = {"alphas": [10.0**k for k in range(-3, 8)], "cv": 5} if metric == "encoding" else {}
    b = Benchmark(
        bench,
        loader=_no_loader,
        metric=metric,
        metric_params=params,
        ceiling="subject-RDM noise ceiling (lower: leave-one-subject-out, upper: all subjects)",
        citation=", ".join(f"Author{k} A" for k in range(30)) + " (2020). A long title. doi:x",
        licence="CC BY 4.0",
        description="synthetic board",
        url=LONG_URL,
    )
    return benchmark_card(b)


def _no_loader():
    raise AssertionError("a board's benchmarks are never loaded")


def make_board(n_models: int, n_layers: int = 6, seed: int = 0) -> Result:
    """A ``bench.sweep`` result for ``n_models`` models on :data:`BENCHMARKS`; the score rows
    are the committed layer's test rows (value and interval of the same split)."""
    rng = np.random.default_rng(seed)
    layers = [f"_blocks.{i}" for i in range(n_layers)]
    rows = []
    for m in model_names(n_models):
        for b, ceil, chance, has_ci in BENCHMARKS:
            peak = rng.uniform(0.1, 0.9) * n_layers
            base = rng.uniform(0.05, 0.35) if np.isnan(chance) else rng.uniform(0.2, 0.6)
            curve = {
                s: base * np.exp(-(((np.arange(n_layers) - peak) / n_layers) ** 2) * 4)
                + rng.normal(0, 0.01, n_layers)
                for s in ("commit", "test", "all")
            }
            best = int(np.argmax(curve["commit"]))
            cells = []
            for i, ly in enumerate(layers):
                for s, y in curve.items():
                    row = dict(
                        model=m,
                        benchmark=b,
                        roi=b.split(".")[1].rsplit("-", 1)[0],
                        layer=ly,
                        split=s,
                        statistic="layer_score",
                        value=float(y[i]),
                        ceiling_low=ceil * 0.8,
                        ceiling_high=ceil,
                        chance=chance,
                        committed=i == best,
                        cell=f"{abs(hash((m, b, ly))) % 16**16:016x}",
                        env="a1b2c3d4e5f6",
                    )
                    if s == "all" or (s == "test" and has_ci):
                        row.update(ci_low=float(y[i]) - 0.04, ci_high=float(y[i]) + 0.04)
                    rows.append(row)
                    if s == "test" and i == best:
                        cells.append(row)
            score = {**cells[0], "statistic": "score"}
            rows.append(score)
            rows.append(
                {
                    **score,
                    "statistic": "ceiled",
                    "value": score["value"] / ceil if np.isfinite(ceil) else np.nan,
                    "chance": np.nan,
                }
            )
    table = make_table(rows, analysis="bench")
    cards = {b: card(b) for b, *_ in BENCHMARKS}
    envs = {"a1b2c3d4e5f6": {"python": "3.12.0", "numpy": "2.1.0", "neuroalign": "0.1.0"}}
    return Result(
        table,
        "bench.sweep",
        {},
        {"benchmarks": cards, "aggregation": "mean of ceiled", "environments": envs},
    )
