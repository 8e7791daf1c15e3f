"""Benchmark figures: per-layer curves with ceilings and commitments, model-comparison bars,
scatter of two benchmarks' scores. Read the table of a ``bench.sweep`` result."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from ..core import Result
from ..core.exceptions import ValidationError
from ._dispatch import register_plotter
from ._plots import _COLOURS, _axes

__all__ = ["plot_bench_layers", "plot_benchmark_scatter", "plot_model_scores"]


def _table(result: Result | pd.DataFrame) -> pd.DataFrame:
    t = result.table if isinstance(result, Result) else result
    if "statistic" not in t or "benchmark" not in t:
        raise ValidationError("expected the table of a bench.sweep result (neuroalign.bench.run).")
    return t


def _short(label: str, width: int = 18) -> str:
    return label if len(label) <= width else label[: width - 1] + "…"


def plot_bench_layers(
    result: Result | pd.DataFrame, benchmark: str, split: str = "test", ax: Any = None
) -> Any:
    """Score per layer on one benchmark, one line per model, x = relative depth (0 = first
    layer, 1 = last), the committed layer filled, the ceiling as a shaded band."""
    t = _table(result)
    sub = t[
        (t["statistic"] == "layer_score") & (t["benchmark"] == benchmark) & (t["split"] == split)
    ]
    if sub.empty:
        raise ValidationError(
            f"no per-layer rows for benchmark {benchmark!r}; benchmarks: {sorted(set(t['benchmark']))}."
        )
    fig, ax = _axes(ax, (6.5, 3.8))
    for k, (model, rows) in enumerate(sub.groupby("model", sort=False)):
        colour = _COLOURS[k % len(_COLOURS)]
        depth = np.linspace(0, 1, len(rows)) if len(rows) > 1 else np.zeros(1)
        y = rows["value"].to_numpy(float)
        ax.plot(depth, y, color=colour, marker="o", mfc="white", ms=4, lw=1.2, label=_short(model))
        done = (
            rows["committed"].to_numpy(bool) if "committed" in rows else np.zeros(len(rows), bool)
        )
        ax.plot(depth[done], y[done], "o", color=colour, ms=8)
    lo, hi = sub["ceiling_low"].mean(), sub["ceiling_high"].mean()
    if np.isfinite(hi):
        ax.axhspan(lo if np.isfinite(lo) else hi, hi, color="0.5", alpha=0.18, lw=0)
        ax.axhline(hi, color="0.35", ls="--", lw=1, label="noise ceiling")
    else:
        ax.text(
            0.99,
            0.02,
            "no noise ceiling for this benchmark",
            transform=ax.transAxes,
            ha="right",
            va="bottom",
            fontsize=8,
            color="0.35",
        )
    chance = sub["chance"].mean()
    if np.isfinite(chance):
        ax.axhline(chance, color="0.6", ls=":", lw=1, label="chance")
    ax.set_xlabel("relative depth (first → last layer)")
    ax.set_ylabel(f"{split} score")
    ax.set_title(benchmark, fontsize=10)
    ax.plot([], [], "o", color="0.3", ms=8, label="committed layer")
    ax.legend(frameon=False, fontsize=7, loc="center left", bbox_to_anchor=(1.0, 0.5))
    return fig


def plot_model_scores(
    result: Result | pd.DataFrame, statistic: str = "ceiled", ax: Any = None
) -> Any:
    """Grouped bars: each model's score on each benchmark (ceiled by default, raw where a
    benchmark has no ceiling), bootstrap intervals where the metric has them."""
    t = _table(result)
    raw = t[t["statistic"] == "score"].set_index(["model", "benchmark"])
    val = t[t["statistic"] == statistic].set_index(["model", "benchmark"])["value"]
    if statistic == "ceiled":
        val = val.where(np.isfinite(val), raw["value"])
    models = list(pd.unique(t["model"]))
    benches = list(pd.unique(t["benchmark"]))
    fig, ax = _axes(ax, (max(5.5, 1.3 * len(benches) * max(1, len(models)) ** 0.5), 3.8))
    width = 0.8 / max(1, len(models))
    for k, model in enumerate(models):
        y = np.array([val.get((model, b), np.nan) for b in benches], dtype=float)
        x = np.arange(len(benches)) + (k - (len(models) - 1) / 2) * width
        ax.bar(x, y, width * 0.95, color=_COLOURS[k % len(_COLOURS)], label=_short(model))
    ax.axhline(0, color="0.6", lw=0.8)
    if statistic == "ceiled":
        ax.axhline(1, color="0.35", ls="--", lw=1, label="ceiling")
    labels = [b.replace(".", ".\n", 1) for b in benches]
    ax.set_xticks(np.arange(len(benches)), labels, fontsize=8)
    ax.set_ylabel("ceiled score (raw where no ceiling)" if statistic == "ceiled" else statistic)
    ax.legend(frameon=False, fontsize=7, loc="center left", bbox_to_anchor=(1.0, 0.5))
    return fig


def plot_benchmark_scatter(
    result: Result | pd.DataFrame, a: str, b: str, statistic: str = "ceiled", ax: Any = None
) -> Any:
    """Each model's score on benchmark ``a`` against ``b`` (raw where one has no ceiling)."""
    t = _table(result)
    sc = t[t["statistic"] == "score"].set_index(["benchmark", "model"])["value"]
    ce = t[t["statistic"] == statistic].set_index(["benchmark", "model"])["value"]
    fig, ax = _axes(ax, (3.8, 3.6))
    models = list(pd.unique(t["model"]))
    for bench in (a, b):
        if bench not in set(t["benchmark"]):
            raise ValidationError(f"benchmark {bench!r} is not in the result.")

    def pick(bench: str) -> tuple[np.ndarray, bool]:
        c = np.array([ce.get((bench, m), np.nan) for m in models], float)
        if np.isfinite(c).any():
            return c, True
        return np.array([sc.get((bench, m), np.nan) for m in models], float), False

    (x, cx), (y, cy) = pick(a), pick(b)
    for k, m in enumerate(models):
        ax.plot(x[k], y[k], "o", color=_COLOURS[k % len(_COLOURS)])
        ax.annotate(
            _short(m, 14), (x[k], y[k]), fontsize=7, xytext=(3, 3), textcoords="offset points"
        )
    ax.set_xlabel(f"{a} ({'ceiled' if cx else 'raw'})", fontsize=8)
    ax.set_ylabel(f"{b} ({'ceiled' if cy else 'raw'})", fontsize=8)
    if np.isfinite(x).sum() >= 3 and np.isfinite(y).sum() >= 3:
        ok = np.isfinite(x) & np.isfinite(y)
        r = np.corrcoef(x[ok], y[ok])[0, 1]
        ax.set_title(f"Pearson r across models = {r:.2f}", fontsize=8)
    return fig


@register_plotter("bench")
def _plot_bench(result: Result, ax: Any = None, **kwargs: Any) -> Any:
    return plot_model_scores(result, ax=ax, **kwargs)
