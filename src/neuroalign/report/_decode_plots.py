"""Figures of decoding results: scores over time with significant clusters, the temporal
generalisation matrix, the confusion matrix, and retrieval scores against chance."""

from __future__ import annotations

from typing import Any

import numpy as np

from ..core import Result
from ..core.exceptions import ValidationError
from ._dispatch import register_plotter
from ._plots import _COLOURS, _axes, _style

__all__ = [
    "plot_confusion",
    "plot_decoding_over_time",
    "plot_retrieval",
    "plot_temporal_generalization",
]


@register_plotter("decoding.over_time")
def plot_decoding_over_time(result: Result, ax: Any = None, alpha: float = 0.05) -> Any:
    """Score per time (± SE) for each scoring, chance as a dashed line, and the times in
    clusters with ``p_value <= alpha`` shaded."""
    t = result.table
    fig, ax = _axes(ax, (7, 3.6))
    for k, (scoring, sub) in enumerate(t.groupby("scoring", sort=False)):
        colour = _style(k)["color"]
        x, y, se = (sub[c].to_numpy(float) for c in ("time", "value", "se"))
        ax.plot(x, y, color=colour, label=str(scoring))
        if np.isfinite(se).any():
            ax.fill_between(x, y - se, y + se, color=colour, alpha=0.2, lw=0)
        ax.axhline(float(sub["chance"].iloc[0]), color=colour, ls="--", lw=0.8)
        sig = sub["p_value"].to_numpy(float) <= alpha
        if sig.any():
            ax.fill_between(
                x,
                0,
                1,
                where=sig,
                transform=ax.get_xaxis_transform(),
                color="0.85",
                lw=0,
                label=f"cluster p ≤ {alpha}",
            )
    ax.axvline(0, color="0.5", lw=0.8)
    ax.set_xlabel("time (s)")
    ax.set_ylabel("score")
    ax.set_title(f"decoding over time ({result.params.get('estimator', '')})")
    ax.legend(frameon=False, fontsize=8)
    return fig


@register_plotter("decoding.generalization")
def plot_temporal_generalization(result: Result, ax: Any = None, alpha: float = 0.05) -> Any:
    """Train time × test time score of the first scoring, centred on chance; significant clusters
    outlined."""
    scores = np.asarray(result.arrays["scores"])[0]
    times = np.asarray(result.arrays["times"], float)
    chance = float(result.table["chance"].iloc[0])
    fig, ax = _axes(ax, (5, 4.4))
    span = max(1e-9, float(np.abs(scores - chance).max()))
    extent = (times[0], times[-1], times[0], times[-1])
    im = ax.imshow(
        scores,
        origin="lower",
        extent=extent,
        cmap="RdBu_r",
        vmin=chance - span,
        vmax=chance + span,
        aspect="auto",
        interpolation="nearest",
    )
    if "cluster_labels" in result.arrays:
        p = np.concatenate([[1.0], result.arrays["cluster_p_values"]])
        sig = p[result.arrays["cluster_labels"]] <= alpha
        if sig.any():
            ax.contour(times, times, sig.astype(float), levels=[0.5], colors="k", linewidths=1)
    ax.set_xlabel("test time (s)")
    ax.set_ylabel("train time (s)")
    ax.set_title("temporal generalisation")
    fig.colorbar(im, ax=ax, label=str(result.table["scoring"].iloc[0]))
    return fig


@register_plotter("decoding.classic")
def plot_confusion(result: Result, ax: Any = None) -> Any:
    """Confusion matrix (rows: true class, normalised to proportions) with the accuracy."""
    if "confusion" not in result.arrays:
        raise ValidationError(f"{result.kind} result has no confusion matrix to plot.")
    conf = np.asarray(result.arrays["confusion"], float)
    classes = [str(c) for c in result.arrays["classes"]]
    prop = conf / np.maximum(conf.sum(1, keepdims=True), 1)
    # at least 4.6 in wide: the title (score and chance) and the colour bar's label fit
    fig, ax = _axes(ax, (max(4.6, 2.4 + 0.55 * len(classes)), max(3.4, 1.4 + 0.5 * len(classes))))
    im = ax.imshow(prop, cmap="Blues", vmin=0, vmax=1)
    ticks = np.arange(len(classes))
    ax.set_xticks(ticks, classes, rotation=45, ha="right")
    ax.set_yticks(ticks, classes)
    for i in ticks:
        for j in ticks:
            ax.text(
                j,
                i,
                f"{prop[i, j]:.2f}",
                ha="center",
                va="center",
                fontsize=8 if len(classes) <= 12 else 6,
                color="white" if prop[i, j] > 0.5 else "black",
            )
    row = result.table.iloc[0]
    ax.set_title(f"{row['scoring']} {row['value']:.2f} (chance {row['chance']:.2f})", fontsize=10)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    fig.colorbar(im, ax=ax, label="proportion of true class")
    return fig


@register_plotter("retrieval")
def plot_retrieval(result: Result, ax: Any = None) -> Any:
    """Retrieval scores (top-k, pairwise, r²) as bars with chance marked; ranks are left out."""
    t = result.table[~result.table["scoring"].isin(["rank"])]
    fig, ax = _axes(ax, (5, 3.4))
    x = np.arange(len(t))
    ax.bar(x, t["value"], yerr=np.nan_to_num(t["se"].to_numpy(float)), color=_COLOURS[0])
    ax.scatter(x, t["chance"], marker="_", s=400, color="k", label="chance", zorder=3)
    ax.set_xticks(x, t["scoring"])
    values = t["value"].to_numpy(float)
    finite = values[np.isfinite(values)]
    low = min(0.0, float(finite.min()) - 0.05) if finite.size else 0.0
    bottom = max(low, -1.05)  # a very negative r² would squash every other bar: cut, and say so
    ax.set_ylim(bottom, max(1.05, float(finite.max()) + 0.05) if finite.size else 1.05)
    for xi, v in zip(x, values, strict=True):
        if np.isfinite(v) and v < bottom:
            ax.annotate(
                f"{v:.3g} (below the axis)",
                (xi, bottom),
                xytext=(0, 4),
                textcoords="offset points",
                ha="center",
                fontsize=8,
            )
    if bottom < 0:
        ax.axhline(0, color="0.5", lw=0.8)
    ax.set_ylabel("score")
    ax.legend(frameon=False, fontsize=8)
    return fig
