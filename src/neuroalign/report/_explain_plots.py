"""Figures of explain results: image grids (top stimuli, synthesised images, most discriminative
stimuli), concept lists, selectivity histograms. Registered in ``PLOTTERS`` by result kind."""

from __future__ import annotations

from typing import Any

import numpy as np

from ..core import Result, StimulusSet
from ..core.exceptions import ValidationError
from ._dispatch import register_plotter
from ._plots import _axes

__all__ = ["plot_concepts", "plot_image_grid", "plot_selectivity", "plot_top_stimuli"]


def _tile(img: Any, size: int) -> np.ndarray:
    """An image as a (size, size, 3) float array in [0, 1] (nearest-neighbour resize)."""
    a = np.asarray(img)
    if a.ndim == 2:
        a = np.repeat(a[..., None], 3, axis=2)
    a = a[..., :3].astype(np.float32)
    if a.max(initial=0) > 1.0:
        a = a / 255.0
    rows = (np.arange(size) * a.shape[0] / size).astype(int)
    cols = (np.arange(size) * a.shape[1] / size).astype(int)
    return np.clip(a[rows][:, cols], 0, 1)


def plot_image_grid(
    images: list[list[Any]],
    row_labels: list[str] | None = None,
    col_labels: list[str] | None = None,
    tile: int = 96,
    title: str | None = None,
    ax: Any = None,
) -> Any:
    """Rows of images as one mosaic (``images[row][col]``: arrays (H, W[, 3]), uint8 or [0, 1])."""
    if not images or not images[0]:
        raise ValidationError("plot_image_grid needs at least one image.")
    n_rows, n_cols = len(images), max(len(r) for r in images)
    gap = max(2, tile // 24)
    mosaic = np.ones((n_rows * (tile + gap) - gap, n_cols * (tile + gap) - gap, 3), np.float32)
    for i, row in enumerate(images):
        for j, img in enumerate(row):
            y, x = i * (tile + gap), j * (tile + gap)
            mosaic[y : y + tile, x : x + tile] = _tile(img, tile)
    fig, ax = _axes(ax, (1.1 * n_cols + 1.5, 1.1 * n_rows + 0.6))
    ax.imshow(mosaic, interpolation="nearest")
    ax.set_yticks([i * (tile + gap) + tile / 2 for i in range(n_rows)], row_labels or [""] * n_rows)
    ax.set_xticks(
        [j * (tile + gap) + tile / 2 for j in range(n_cols)],
        col_labels or [""] * n_cols,
        fontsize=7,
    )
    ax.tick_params(length=0)
    for side in ax.spines.values():
        side.set_visible(False)
    if title:
        ax.set_title(title)
    return fig


@register_plotter("explain.top_stimuli")
def plot_top_stimuli(
    result: Result,
    stimuli: StimulusSet | None = None,
    targets: list[str] | None = None,
    k: int | None = None,
    bottom: bool = False,
    ax: Any = None,
) -> Any:
    """The top (or bottom) stimuli of each target as an image grid (needs ``stimuli``, the
    candidates' StimulusSet); without images, the predicted/measured response by rank."""
    t = result.table
    direction = "bottom" if bottom else "top"
    t = t[t["direction"] == direction]
    names = targets or list(dict.fromkeys(t["target"]))[:8]
    k = k or int(t["rank"].max())
    if stimuli is None:
        fig, ax = _axes(ax, (6, 3.5))
        for name in names:
            sub = t[t["target"] == name].sort_values("rank").iloc[:k]
            ax.plot(sub["rank"], sub["value"], marker="o", label=str(name))
        ax.set_xlabel(f"rank ({direction})")
        ax.set_ylabel(str(t["statistic"].iloc[0]).replace("_", " "))
        ax.legend(frameon=False, fontsize=7)
        return fig
    pos = {s: i for i, s in enumerate(stimuli.ids)}
    missing = sorted(set(t["stimulus"]) - set(pos))
    if missing:
        raise ValidationError(
            f"stimuli lacks ids {missing[:5]} of the result; pass the candidates' StimulusSet."
        )
    rows = []
    for name in names:
        sub = t[t["target"] == name].sort_values("rank").iloc[:k]
        rows.append([stimuli.load_image(pos[s]) for s in sub["stimulus"]])
    return plot_image_grid(
        rows,
        [str(n) for n in names],
        [str(i) for i in range(1, k + 1)],
        title=f"{direction}-{k} stimuli by {str(t['statistic'].iloc[0]).replace('_', ' ')}",
        ax=ax,
    )


@register_plotter("explain.synthesis")
def _plot_synthesis(result: Result, ax: Any = None, **kwargs: Any) -> Any:
    images = result.arrays["images"]  # (targets, n_images, H, W, 3)
    names = [str(t) for t in result.arrays["targets"]]
    return plot_image_grid(
        [list(row) for row in images], names, title="synthesised stimuli", ax=ax, **kwargs
    )


@register_plotter("explain.mds")
def _plot_mds(result: Result, ax: Any = None, **kwargs: Any) -> Any:
    labels = np.asarray(result.arrays["labels"])
    images = result.arrays["images"]
    cols = [f"type {c} (n={int((labels == c).sum())})" for c in range(len(images))]
    return plot_image_grid(
        [list(images)], ["MDS"], cols, title="most discriminative stimuli", ax=ax, **kwargs
    )


@register_plotter("explain.concept")
def plot_concepts(result: Result, targets: list[str] | None = None, ax: Any = None) -> Any:
    """Each target's ranked concepts as horizontal bars (similarity or prediction r)."""
    t = result.table
    names = targets or list(dict.fromkeys(t["target"]))[:6]
    k = int(t["rank"].max())
    fig, ax = _axes(ax, (7, 0.32 * k * len(names) + 1))
    y, labels, ticks = 0.0, [], []
    for g, name in enumerate(names):
        sub = t[t["target"] == name].sort_values("rank")
        ys = y - np.arange(len(sub))
        ax.barh(ys, sub["value"], color=f"C{g % 10}", label=str(name))
        for yy, concept in zip(ys, sub["concept"], strict=True):
            labels.append(str(concept))
            ticks.append(yy)
        y -= len(sub) + 1
    ax.set_yticks(ticks, labels, fontsize=7)
    ax.set_xlabel(str(t["statistic"].iloc[0]).replace("_", " "))
    ax.legend(frameon=False, fontsize=7, loc="lower right")
    return fig


@register_plotter("explain.selectivity")
def plot_selectivity(result: Result, ax: Any = None, bins: int = 40) -> Any:
    """Histogram of category selectivity d′ over targets (the finite ones; targets constant
    within both groups, d′ = ±inf or NaN, are counted in the label)."""
    t = result.table
    fig, ax = _axes(ax, (5, 3.2))
    v = t["value"].to_numpy(dtype=float)
    ax.hist(v[np.isfinite(v)], bins=bins, color="#1f77b4")
    cat = t["category"].iloc[0] if "category" in t else ""
    off = int((~np.isfinite(v)).sum())
    note = f"; {off} constant target(s) not shown (d′ = ±inf or NaN)" if off else ""
    ax.set_xlabel(f"selectivity d′ ({cat} vs rest){note}")
    ax.set_ylabel("targets")
    return fig
