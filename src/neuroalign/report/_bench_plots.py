"""Benchmark figures: per-layer curves with ceilings and commitments, model-comparison bars,
scatter of two benchmarks' scores. Read the table of a ``bench.sweep`` result.

Sizes follow the number of models: bars are horizontal (one row per model, ranked), so a figure
grows taller rather than its text smaller; every model has its own colour + marker + line style
(:func:`~neuroalign.report.style_cycle`); labels are cut in the middle but never to equal strings
(:func:`~neuroalign.report.unique_labels`); notes ("no noise ceiling", "raw") sit in titles and
axis labels, never on the data. Text is at least 9 pt at the figures' natural size.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from ..core import Result
from ..core._validation import require
from ..core.exceptions import ValidationError
from ._dispatch import register_plotter
from ._plots import _axes, _style, unique_labels

__all__ = [
    "bench_model_order",
    "plot_bench_layers",
    "plot_benchmark_scatter",
    "plot_model_key",
    "plot_model_scores",
]

#: Smallest font size (points) of the benchmark figures; at their natural width (≤ 10 in at the
#: leaderboard's 110 dpi) this is ≥ 13 px on the page.
FONT = 9.0
#: Inches per model row in the bar charts; > FONT points so tick labels never touch.
ROW = 0.22
#: Above this many models legends go below the axes, in columns, and figures are full width.
FEW = 10
_NOTES = ("noise ceiling", "chance", "committed layer (filled)")


def _table(result: Result | pd.DataFrame) -> pd.DataFrame:
    t = result.table if isinstance(result, Result) else result
    if "statistic" not in t or "benchmark" not in t:
        raise ValidationError("expected the table of a bench.sweep result (neuroalign.bench.run).")
    return t


def _shown(t: pd.DataFrame, statistic: str = "ceiled") -> pd.Series:
    """(model, benchmark) → the shown score: ``statistic`` (ceiled), raw where it is NaN."""
    raw = t[t["statistic"] == "score"].set_index(["model", "benchmark"])["value"]
    val = t[t["statistic"] == statistic].set_index(["model", "benchmark"])["value"]
    val = val[~val.index.duplicated()].reindex(raw.index)
    return val.where(np.isfinite(val.to_numpy(float)), raw) if statistic == "ceiled" else val


def bench_model_order(result: Result | pd.DataFrame) -> list[str]:
    """Models ranked as on the leaderboard: by the average ceiled score (benchmarks with a
    ceiling), best first; models with no average after them, in their input order."""
    t = _table(result)
    models = list(pd.unique(t["model"]))
    ce = t[t["statistic"] == "ceiled"]
    ce = ce[np.isfinite(ce["value"].to_numpy(float))]
    avg = ce.groupby("model", sort=False)["value"].mean()
    ranked = sorted(avg.index, key=lambda m: (-avg[m], models.index(m)))
    return ranked + [m for m in models if m not in avg.index]


def _legend(fig: Any, ax: Any, n: int, legend: bool = True) -> None:
    """Legend beside the axes for few entries, in columns below the figure for many; with
    ``legend=False`` only the entries that are not models (ceiling, chance, committed)."""
    if not legend:
        handles, labels = ax.get_legend_handles_labels()
        keep = [(h, lab) for h, lab in zip(handles, labels, strict=True) if lab in _NOTES]
        if keep:
            ax.legend(
                *zip(*keep, strict=True),
                frameon=False,
                fontsize=FONT,
                loc="upper left",
                bbox_to_anchor=(1.01, 1.0),
            )
        return
    if n <= FEW:
        ax.legend(frameon=False, fontsize=FONT, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    else:
        handles, labels = ax.get_legend_handles_labels()
        fig.legend(
            handles,
            labels,
            frameon=False,
            fontsize=FONT,
            loc="outside lower center",
            ncol=4,
            handlelength=3.0,
        )


def _wrap_id(benchmark: str) -> str:
    return benchmark.replace(".", "\n", 1)


def plot_bench_layers(
    result: Result | pd.DataFrame,
    benchmark: str,
    split: str = "test",
    ax: Any = None,
    legend: bool = True,
) -> Any:
    """Score per layer on one benchmark, one line per model (its own colour, marker and line
    style), x = relative depth (0 = first layer, 1 = last), the committed layer filled, the
    ceiling as a shaded band (or "no noise ceiling" in the title). ``legend=False`` leaves the
    models out of the legend (a page with many figures shows one :func:`plot_model_key`)."""
    t = _table(result)
    sub = t[
        (t["statistic"] == "layer_score") & (t["benchmark"] == benchmark) & (t["split"] == split)
    ]
    if sub.empty:
        raise ValidationError(
            f"no per-layer rows for benchmark {benchmark!r}; benchmarks: {sorted(set(t['benchmark']))}."
        )
    order = [m for m in bench_model_order(t) if m in set(sub["model"])]
    n = len(order)
    legend_rows = 0 if n <= FEW else -(-(n + 3) // 4)
    wide = n > FEW and legend  # a legend in columns below needs the page's width
    fig, ax = _axes(ax, (10.0, 3.8 + 0.2 * legend_rows) if wide else (5.6, 3.6))
    labels = dict(zip(order, unique_labels(order, 24), strict=True))
    for k, model in enumerate(order):
        rows = sub[sub["model"] == model]
        st = _style(k)
        depth = np.linspace(0, 1, len(rows)) if len(rows) > 1 else np.zeros(1)
        y = rows["value"].to_numpy(float)
        ax.plot(depth, y, mfc="white", ms=4, lw=1.2, label=labels[model], **st)
        done = (
            rows["committed"].to_numpy(bool) if "committed" in rows else np.zeros(len(rows), bool)
        )
        ax.plot(depth[done], y[done], st["marker"], color=st["color"], ms=8)
    lo, hi = sub["ceiling_low"].mean(), sub["ceiling_high"].mean()
    note = ""
    if np.isfinite(hi):
        ax.axhspan(lo if np.isfinite(lo) else hi, hi, color="0.5", alpha=0.18, lw=0)
        ax.axhline(hi, color="0.35", ls="--", lw=1, label="noise ceiling")
    else:
        note = " (no noise ceiling)"
    chance = sub["chance"].mean()
    if np.isfinite(chance):
        ax.axhline(chance, color="0.6", ls=":", lw=1, label="chance")
    ax.set_xlabel("relative depth (first → last layer)", fontsize=FONT + 1)
    ax.set_ylabel(f"{split} score", fontsize=FONT + 1)
    ax.tick_params(labelsize=FONT)
    ax.set_title(benchmark + note, fontsize=FONT + 1)
    ax.plot([], [], "o", color="0.3", ms=8, label="committed layer (filled)")
    _legend(fig, ax, n, legend)
    return fig


def plot_model_scores(
    result: Result | pd.DataFrame,
    statistic: str = "ceiled",
    ax: Any = None,
    max_cols: int = 4,
) -> Any:
    """Horizontal bars, one row per model ranked by the leaderboard's average: a panel for the
    average and one per benchmark (ceiled by default, raw where a benchmark has no ceiling, said
    in the panel's axis label). The figure's height follows the number of models; with ``ax``,
    only the average (or the first benchmark without an average) is drawn there."""
    t = _table(result)
    val = _shown(t, statistic)
    models = bench_model_order(t)
    benches = list(pd.unique(t["benchmark"]))
    ce = t[t["statistic"] == "ceiled"].set_index(["model", "benchmark"])["value"]
    has_ceiling = {
        b: bool(np.isfinite(ce.xs(b, level="benchmark").to_numpy(float)).any())
        if b in set(ce.index.get_level_values("benchmark"))
        else False
        for b in benches
    }
    panels: list[tuple[str, np.ndarray, str]] = []
    ceiled = [b for b in benches if has_ceiling[b]]
    if ceiled:
        grid_ = np.array([[ce.get((m, b), np.nan) for b in ceiled] for m in models], float)
        with np.errstate(invalid="ignore"):
            mean = np.array([np.nan if not np.isfinite(r).any() else np.nanmean(r) for r in grid_])
        panels.append(("average", mean, "ceiled score (average)"))
    for b in benches:
        y = np.array([val.get((m, b), np.nan) for m in models], float)
        xlabel = (
            ("ceiled score" if has_ceiling[b] else "raw score (no ceiling)")
            if statistic == "ceiled"
            else statistic
        )
        panels.append((_wrap_id(b), y, xlabel))
    labels = unique_labels(models, 28)
    height = 1.3 + ROW * len(models)
    ncols = 1
    if ax is not None:
        fig = ax.figure
        grid = [ax]
        panels = panels[:1]
    else:
        ncols = min(max_cols, len(panels))
        nrows = -(-len(panels) // ncols)
        figure = require("matplotlib.figure", "plot", "plotting")
        fig = figure.Figure(figsize=(10.0, height * nrows), layout="constrained")
        grid = list(np.ravel(fig.subplots(nrows, ncols, squeeze=False)))
        for extra in grid[len(panels) :]:
            extra.set_visible(False)
    pos = np.arange(len(models))
    colours = [_style(k)["color"] for k in range(len(models))]
    for i, (title, y, xlabel) in enumerate(panels):
        a = grid[i]
        a.barh(pos, np.nan_to_num(y), color=colours, height=0.75)
        a.set_ylim(len(models) - 0.5, -0.5)  # the best model on top
        a.axvline(0, color="0.6", lw=0.8)
        if statistic == "ceiled" and "ceiled" in xlabel:
            a.axvline(1, color="0.35", ls="--", lw=1)
        a.set_title(title, fontsize=FONT + 1)
        a.set_xlabel(xlabel, fontsize=FONT)
        a.tick_params(labelsize=FONT)
        if i % ncols == 0:
            a.set_yticks(pos, labels, fontsize=FONT)
        else:
            a.set_yticks(pos, [""] * len(models))
    return fig


def plot_benchmark_scatter(
    result: Result | pd.DataFrame,
    a: str,
    b: str,
    statistic: str = "ceiled",
    ax: Any = None,
    legend: bool = True,
) -> Any:
    """Each model's score on benchmark ``a`` against ``b`` (raw where one has no ceiling); each
    model a marker of its own, named in the legend (never on the data; ``legend=False``: in a
    separate :func:`plot_model_key`)."""
    t = _table(result)
    sc = t[t["statistic"] == "score"].set_index(["benchmark", "model"])["value"]
    ce = t[t["statistic"] == statistic].set_index(["benchmark", "model"])["value"]
    models = bench_model_order(t)
    n = len(models)
    for bench in (a, b):
        if bench not in set(t["benchmark"]):
            raise ValidationError(f"benchmark {bench!r} is not in the result.")
    legend_rows = 0 if n <= FEW or not legend else -(-n // 4)
    size = (5.6, 3.6) if n <= FEW or not legend else (10.0, 4.2 + 0.2 * legend_rows)
    fig, ax = _axes(ax, size)

    def pick(bench: str) -> tuple[np.ndarray, bool]:
        c = np.array([ce.get((bench, m), np.nan) for m in models], float)
        if np.isfinite(c).any():
            return c, True
        return np.array([sc.get((bench, m), np.nan) for m in models], float), False

    (x, cx), (y, cy) = pick(a), pick(b)
    for k, label in enumerate(unique_labels(models, 24)):
        st = _style(k)
        ax.plot(x[k], y[k], st["marker"], color=st["color"], ms=6, label=label)
    ax.set_xlabel(f"{a} ({'ceiled' if cx else 'raw'})", fontsize=FONT)
    ax.set_ylabel(f"{b} ({'ceiled' if cy else 'raw'})", fontsize=FONT)
    ax.tick_params(labelsize=FONT)
    if np.isfinite(x).sum() >= 3 and np.isfinite(y).sum() >= 3:
        ok = np.isfinite(x) & np.isfinite(y)
        r = np.corrcoef(x[ok], y[ok])[0, 1]
        ax.set_title(f"Pearson r across models = {r:.2f}", fontsize=FONT)
    _legend(fig, ax, n, legend)
    return fig


def plot_model_key(result: Result | pd.DataFrame, ncol: int = 4) -> Any:
    """The legend alone: each model's colour, marker and line style (as in
    :func:`plot_bench_layers` and :func:`plot_benchmark_scatter`), ranked, in ``ncol`` columns."""
    models = bench_model_order(_table(result))
    rows = -(-len(models) // ncol)
    figure = require("matplotlib.figure", "plot", "plotting")
    fig = figure.Figure(figsize=(10.0, 0.4 + 0.21 * rows))
    handles = []
    from matplotlib.lines import Line2D

    for k, label in enumerate(unique_labels(models, 24)):
        handles.append(Line2D([], [], ms=6, mfc="white", label=label, **_style(k)))
    fig.legend(
        handles=handles,
        loc="center",
        ncol=ncol,
        frameon=False,
        fontsize=FONT,
        handlelength=3.0,
        title="models (rank order)",
        title_fontsize=FONT + 1,
    )
    return fig


@register_plotter("bench")
def _plot_bench(result: Result, ax: Any = None, **kwargs: Any) -> Any:
    return plot_model_scores(result, ax=ax, **kwargs)
