"""Figures: layer profiles with confidence intervals and noise ceilings, RDM panels.

Every ``plot_*`` takes an optional ``ax`` and returns the figure; figures are built on
``matplotlib.figure.Figure`` directly (no pyplot state, no GUI backend needed).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from ..core._validation import require
from ..core.exceptions import ValidationError

__all__ = ["plot_encoding_profile", "plot_layer_profile", "plot_rdms", "save_figure"]

_COLOURS = ("#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b", "#17becf")


def _axes(ax: Any, figsize: tuple[float, float]) -> tuple[Any, Any]:
    if ax is not None:
        return ax.figure, ax
    figure = require("matplotlib.figure", "plot", "plotting")
    fig = figure.Figure(figsize=figsize, layout="constrained")
    return fig, fig.subplots()


def plot_layer_profile(
    table: pd.DataFrame,
    value: str = "value",
    group: str = "target",
    layer: str = "layer",
    ci: tuple[str, str] | None = ("ci_low", "ci_high"),
    ceiling: tuple[str, str] | None = ("ceiling_low", "ceiling_high"),
    ylabel: str = "RSA (Spearman ρ)",
    title: str | None = None,
    ax: Any = None,
) -> Any:
    """Score per layer (in table order), one line per ``group``, with CI bars and ceiling bands.

    Parameters
    ----------
    table : DataFrame
        Columns ``layer``, ``value``, ``group`` and optionally the CI and ceiling columns.
    """
    missing = [c for c in (value, group, layer) if c not in table]
    if missing:
        raise ValidationError(f"table lacks column(s) {missing}; it has {list(table.columns)}.")
    fig, ax = _axes(ax, (8, 4.2))
    layers = list(pd.unique(table[layer]))
    x = np.arange(len(layers))
    groups = list(table.groupby(group, sort=False))
    for k, (name, sub) in enumerate(groups):
        colour = _COLOURS[k % len(_COLOURS)]
        sub = sub.set_index(layer).reindex(layers)
        y = sub[value].to_numpy(float)
        xk = x + 0.08 * (k - (len(groups) - 1) / 2)  # dodge so intervals do not overlap
        if ci and all(c in sub for c in ci):
            err = np.vstack([y - sub[ci[0]].to_numpy(float), sub[ci[1]].to_numpy(float) - y])
            ax.errorbar(xk, y, yerr=err, color=colour, marker="o", capsize=3, label=str(name))
        else:
            ax.plot(xk, y, color=colour, marker="o", label=str(name))
        if ceiling and all(c in sub for c in ceiling):
            lo, hi = sub[ceiling[0]].mean(), sub[ceiling[1]].mean()
            if np.isfinite(lo) and np.isfinite(hi):
                ax.axhspan(lo, hi, color=colour, alpha=0.15, lw=0, label=f"{name} noise ceiling")
    ax.axhline(0, color="0.6", lw=0.8)
    ax.set_xticks(x, layers, rotation=35, ha="right")
    ax.set_ylabel(ylabel)
    ax.set_xlabel("layer (forward order)")
    if title:
        ax.set_title(title)
    ax.legend(frameon=False, fontsize=8)
    return fig


def plot_encoding_profile(
    table: pd.DataFrame,
    truth: Mapping[str, str] | None = None,
    value: str = "test_r",
    ax: Any = None,
    title: str | None = None,
) -> Any:
    """Encoding score per layer for each ROI, noise ceiling as a dashed line, the chosen layer as a
    filled marker and (when known) the true layer as a star."""
    fig, ax = _axes(ax, (8, 4.2))
    layers = list(pd.unique(table["layer"]))
    x = np.arange(len(layers))
    for k, (roi, sub) in enumerate(table.groupby("roi", sort=False)):
        colour = _COLOURS[k % len(_COLOURS)]
        sub = sub.set_index("layer").reindex(layers)
        y = sub[value].to_numpy(float)
        ax.plot(x, y, color=colour, marker="o", mfc="white", label=f"{roi}")
        if "ceiling" in sub and np.isfinite(sub["ceiling"]).any():
            ax.axhline(float(sub["ceiling"].mean()), color=colour, ls="--", lw=1)
        if "is_best" in sub:
            best = np.flatnonzero(sub["is_best"].fillna(False).to_numpy(bool))
            ax.plot(x[best], y[best], "o", color=colour, ms=9)
        if truth and roi in truth and truth[roi] in layers:
            t = layers.index(truth[roi])
            ax.plot([x[t]], [y[t]], "*", color="k", ms=13, mfc="none")
    ax.set_xticks(x, layers, rotation=35, ha="right")
    ax.set_ylabel("test-set Pearson r" if value == "test_r" else value)
    ax.set_xlabel("layer (forward order)")
    if title:
        ax.set_title(title)
    ax.plot([], [], "o", color="0.3", ms=9, label="chosen (training CV)")
    if truth:
        ax.plot([], [], "*", color="k", ms=13, mfc="none", label="true source layer")
    ax.plot([], [], ls="--", color="0.3", label="noise ceiling")
    ax.legend(frameon=False, fontsize=8)
    return fig


def plot_rdms(
    rdms: Mapping[str, np.ndarray],
    ncols: int = 4,
    rank: bool = True,
    fig: Any = None,
    boundaries: Sequence[int] | None = None,
) -> Any:
    """A panel of square RDMs (rank-transformed to percentiles by default, as in Kriegeskorte 2008)."""
    from scipy.stats import rankdata

    if not rdms:
        raise ValidationError("plot_rdms needs at least one RDM.")
    figure = require("matplotlib.figure", "plot", "plotting")
    n = len(rdms)
    ncols = min(ncols, n)
    nrows = -(-n // ncols)
    if fig is None:
        fig = figure.Figure(figsize=(2.6 * ncols, 2.7 * nrows), layout="constrained")
    axes = np.atleast_1d(fig.subplots(nrows, ncols)).ravel()
    im = None
    for ax, (name, mat) in zip(axes, rdms.items(), strict=False):
        mat = np.asarray(mat, dtype=float)
        if rank:
            iu = np.triu_indices(len(mat), 1)
            r = np.zeros_like(mat)
            r[iu] = (rankdata(mat[iu]) - 1) / max(1, len(iu[0]) - 1) * 100
            mat = r + r.T
        im = ax.imshow(mat, cmap="viridis", interpolation="nearest")
        for b in boundaries or ():
            ax.axhline(b - 0.5, color="w", lw=0.5)
            ax.axvline(b - 0.5, color="w", lw=0.5)
        ax.set_title(name, fontsize=9)
        ax.set_xticks([])
        ax.set_yticks([])
    for ax in axes[n:]:
        ax.set_visible(False)
    if im is not None:
        fig.colorbar(
            im,
            ax=axes[:n].tolist(),
            shrink=0.6,
            label="dissimilarity (percentile)" if rank else "dissimilarity",
        )
    return fig


def save_figure(fig: Any, path: Any, dpi: int = 120) -> None:
    """Save a figure as PNG atomically (write to a temporary file, then rename)."""
    from ..core._io import atomic_write

    atomic_write(path, lambda tmp: fig.savefig(tmp, dpi=dpi, format="png"))
