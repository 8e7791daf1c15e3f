"""Figures: layer profiles with confidence intervals and noise ceilings, RDM panels.

Every ``plot_*`` takes an optional ``ax`` and returns the figure; figures are built on
``matplotlib.figure.Figure`` directly (no pyplot state, no GUI backend needed).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ..core._validation import require
from ..core.exceptions import ValidationError

__all__ = [
    "plot_cka_heatmap",
    "plot_encoding_profile",
    "plot_generalization_matrix",
    "plot_layer_profile",
    "plot_model_comparison",
    "plot_rdms",
    "plot_time_course",
    "save_figure",
    "short_layer_name",
    "style_cycle",
    "unique_labels",
]

_COLOURS = (
    "#1f77b4",
    "#d62728",
    "#2ca02c",
    "#9467bd",
    "#ff7f0e",
    "#8c564b",
    "#17becf",
    "#e377c2",
    "#7f7f7f",
    "#bcbd22",
)
_MARKERS = ("o", "s", "^", "D", "v", "P", "X", "<", "h", ">")
_LINESTYLES = ("-", "--", ":", "-.")


def style_cycle(n: int) -> list[dict[str, Any]]:
    """``n`` distinct styles (``color``, ``marker``, ``linestyle``) for drawing ``n`` models or
    groups: colour changes fastest, then the marker every 10, then the line style every 100, so
    no two of the first 400 share all three (the one cycle every model-drawing plot uses).

    Examples
    --------
    >>> s = style_cycle(12)
    >>> s[0]["color"] == s[10]["color"], s[0]["marker"] == s[10]["marker"]
    (True, False)
    """
    return [_style(k) for k in range(n)]


def _style(k: int) -> dict[str, Any]:
    """The ``k``-th style of :func:`style_cycle`."""
    nc, nm = len(_COLOURS), len(_MARKERS)
    return {
        "color": _COLOURS[k % nc],
        "marker": _MARKERS[(k // nc + k % nc) % nm],
        "linestyle": _LINESTYLES[(k // (nc * nm)) % len(_LINESTYLES)],
    }


def unique_labels(names: Sequence[str], width: int = 24) -> list[str]:
    """Labels of at most ``width`` characters, cut in the middle (``tiny_cnn:…seed=10``) so that
    their distinguishing ends survive; names are kept whole where cutting would make two equal.

    Examples
    --------
    >>> unique_labels(["torchvision:resnet18", "a_very_long_model_name:seed=10"], width=20)
    ['torchvision:resnet18', 'a_very_long_…seed=10']
    """
    names = [str(n) for n in names]

    def cut(s: str) -> str:
        if len(s) <= width:
            return s
        tail = min(len(s) - 1, (width - 1) * 2 // 5)
        return s[: width - 1 - tail] + "…" + s[len(s) - tail :]

    out = [cut(s) for s in names]
    if len(set(out)) < len(set(names)):
        seen: dict[str, int] = {}
        for s in out:
            seen[s] = seen.get(s, 0) + 1
        out = [c if seen[c] == 1 else s for c, s in zip(out, names, strict=True)]
    return out


_DASHES = ("--", ":", "-.", (0, (5, 1, 1, 1, 1, 1)), (0, (1, 3)))
_HATCHES = ("", "//", "\\\\", "..", "xx")


def short_layer_name(name: str, width: int = 16) -> str:
    """A readable tick label for a native module name: the name as the text and the tables
    give it (``_blocks.14`` stays ``_blocks.14``, so a figure and its report name a layer the
    same way), long paths cut to their last components.

    Examples
    --------
    >>> short_layer_name("_blocks.14"), short_layer_name("encoder.layer.11.output.dense")
    ('_blocks.14', '…11.output.dense')
    """
    parts = str(name).split(".")
    label = ".".join(parts)
    while len(label) > width and len(parts) > 1:
        parts = parts[1:]
        label = "…" + ".".join(parts)
    return label


#: The widest a report shows a figure (the page's ``max-width``, px) and the dpi figures are saved
#: at (:func:`save_figure`): a wider figure is scaled down on the page, and its text with it.
PAGE_WIDTH_PX = 1100
SAVE_DPI = 120


def page_fontsize(fig: Any, points: float = 8.0) -> float:
    """The font size that shows as ``points`` on the report's page once ``fig`` (saved at
    :data:`SAVE_DPI`) is scaled down to :data:`PAGE_WIDTH_PX`; ``points`` when it fits."""
    width_px = fig.get_figwidth() * SAVE_DPI
    return points * max(1.0, width_px / PAGE_WIDTH_PX)


def _legend_outside(ax: Any) -> None:
    ax.legend(frameon=False, fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0))


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
    alpha: float = 0.05,
) -> Any:
    """Score per layer (in table order), one line per ``group``, with CI bars, ceiling bands and
    significance marks.

    Groups are dodged and drawn with distinct markers; each group's ceiling band has its own
    colour and hatch, and a group without a ceiling says so in the legend. A ``*`` above a point
    marks ``p_value < alpha`` when the table has p-values. Tick labels are shortened native names
    (:func:`short_layer_name`); the legend sits outside the axes.

    Parameters
    ----------
    table : DataFrame
        Columns ``layer``, ``value``, ``group`` and optionally the CI, ceiling and ``p_value``
        columns.
    """
    missing = [c for c in (value, group, layer) if c not in table]
    if missing:
        raise ValidationError(f"table lacks column(s) {missing}; it has {list(table.columns)}.")
    fig, ax = _axes(ax, (8.5, 4.2))
    layers = list(pd.unique(table[layer]))
    x = np.arange(len(layers))
    groups = list(table.groupby(group, sort=False))
    step = min(0.3, 0.6 / max(1, len(groups)))
    any_sig = False
    for k, (name, sub) in enumerate(groups):
        colour = _style(k)["color"]
        sub = sub.drop_duplicates(layer).set_index(layer).reindex(layers)
        y = sub[value].to_numpy(float)
        xk = x + step * (k - (len(groups) - 1) / 2)  # dodge so points and intervals never overlap
        kw = dict(color=colour, marker=_style(k)["marker"], ms=5, label=str(name))
        if ci and all(c in sub for c in ci):
            err = np.vstack([y - sub[ci[0]].to_numpy(float), sub[ci[1]].to_numpy(float) - y])
            ax.errorbar(xk, y, yerr=np.where(np.isfinite(err), err, 0), capsize=3, **kw)
            top = sub[ci[1]].to_numpy(float)
        else:
            ax.plot(xk, y, **kw)
            top = y
        if "p_value" in sub:
            sig = sub["p_value"].to_numpy(float) < alpha
            if sig.any():
                any_sig = True
                ax.plot(xk[sig], top[sig] + 0.02 * np.nanmax(np.abs(y)), "*", color=colour, ms=7)
        if ceiling and all(c in sub for c in ceiling):
            lo, hi = sub[ceiling[0]].mean(), sub[ceiling[1]].mean()
            if np.isfinite(hi):
                lo = lo if np.isfinite(lo) else hi
                ax.axhspan(
                    lo,
                    hi,
                    facecolor=colour,
                    alpha=0.15,
                    lw=0,
                    hatch=_HATCHES[k % len(_HATCHES)],
                    label=f"{name} noise ceiling",
                )
                ax.axhline(hi, color=colour, lw=0.8, ls=_DASHES[k % len(_DASHES)])
            else:
                ax.plot([], [], " ", label=f"{name}: no noise ceiling (one RDM)")
    if any_sig:
        ax.plot([], [], "*", color="0.3", label=f"p < {alpha:g}")
    ax.axhline(0, color="0.6", lw=0.8)
    ax.set_xticks(x, [short_layer_name(n) for n in layers], rotation=35, ha="right")
    ax.set_ylabel(ylabel)
    ax.set_xlabel("layer (forward order)")
    if title:
        ax.set_title(title)
    _legend_outside(ax)
    return fig


def plot_encoding_profile(
    table: pd.DataFrame,
    truth: Mapping[str, str] | None = None,
    value: str = "test_r",
    ax: Any = None,
    title: str | None = None,
) -> Any:
    """Encoding score per layer for each ROI, each ROI's noise ceiling as its own line style,
    the chosen layer as a filled marker and (when known) the true layer as a star; y from 0."""
    fig, ax = _axes(ax, (8.5, 4.2))
    layers = list(pd.unique(table["layer"]))
    x = np.arange(len(layers))
    low = 0.0
    for k, (roi, sub) in enumerate(table.groupby("roi", sort=False)):
        colour = _style(k)["color"]
        sub = sub.drop_duplicates("layer").set_index("layer").reindex(layers)
        y = sub[value].to_numpy(float)
        low = min(low, float(np.nanmin(y)) if np.isfinite(y).any() else 0.0)
        ax.plot(x, y, color=colour, marker=_style(k)["marker"], mfc="white", label=f"{roi}")
        if "ceiling" in sub and np.isfinite(sub["ceiling"]).any():
            ax.axhline(
                float(sub["ceiling"].mean()),
                color=colour,
                ls=_DASHES[k % len(_DASHES)],
                lw=1.2,
                label=f"{roi} noise ceiling",
            )
        if "is_best" in sub:
            best = np.flatnonzero(sub["is_best"].fillna(False).to_numpy(bool))
            ax.plot(x[best], y[best], _style(k)["marker"], color=colour, ms=9)
        if truth and roi in truth and truth[roi] in layers:
            t = layers.index(truth[roi])
            ax.plot([x[t]], [y[t]], "*", color="k", ms=13, mfc="none")
    ax.set_ylim(bottom=low * 1.1 if low < 0 else 0.0)
    ax.set_xticks(x, [short_layer_name(n) for n in layers], rotation=35, ha="right")
    ax.set_ylabel("test-set Pearson r" if value == "test_r" else value)
    ax.set_xlabel("layer (forward order)")
    if title:
        ax.set_title(title)
    ax.plot([], [], "o", color="0.3", ms=9, label="chosen (training CV)")
    if truth:
        ax.plot([], [], "*", color="k", ms=13, mfc="none", label="true source layer")
    _legend_outside(ax)
    return fig


def plot_rdms(
    rdms: Mapping[str, np.ndarray],
    ncols: int = 4,
    rank: bool = True,
    fig: Any = None,
    boundaries: Sequence[int] | None = None,
    labels: Sequence[str] | None = None,
) -> Any:
    """A panel of square RDMs (rank-transformed to percentiles by default, as in Kriegeskorte 2008).

    ``labels`` (one category per stimulus, stimuli ordered by category) draws the category
    boundaries and names the categories on the first panel; ``boundaries`` gives the boundary
    positions directly.
    """
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
    groups: list[tuple[str, int, int]] = []
    if labels is not None:
        labels = [str(v) for v in labels]
        start = 0
        for i in range(1, len(labels) + 1):
            if i == len(labels) or labels[i] != labels[start]:
                groups.append((labels[start], start, i))
                start = i
        if len({g[0] for g in groups}) != len(groups):
            raise ValidationError("labels must be sorted by category (each category contiguous).")
        boundaries = [a for _, a, _ in groups[1:]]
    im = None
    for j, (ax, (name, mat)) in enumerate(zip(axes, rdms.items(), strict=False)):
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
        ax.set_title(name, fontsize=page_fontsize(fig, 9))
        ax.set_xticks([])
        ax.set_yticks([])
        if groups and j % ncols == 0:  # category names ≥ 8 pt as the report shows the figure
            ax.set_yticks(
                [(a + b - 1) / 2 for _, a, b in groups],
                [g for g, _, _ in groups],
                fontsize=page_fontsize(fig, 8),
            )
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


def plot_cka_heatmap(
    matrix: np.ndarray | pd.DataFrame,
    rows: Sequence[str] | None = None,
    cols: Sequence[str] | None = None,
    title: str | None = None,
    ax: Any = None,
) -> Any:
    """CKA (or any similarity in [0, 1]) between two sets of layers / ROIs as an annotated heatmap.

    ``matrix`` is an array (rows × cols) or a DataFrame whose index and columns name them.
    """
    if isinstance(matrix, pd.DataFrame):
        rows = [str(r) for r in matrix.index] if rows is None else rows
        cols = [str(c) for c in matrix.columns] if cols is None else cols
        matrix = matrix.to_numpy(float)
    m = np.asarray(matrix, dtype=float)
    if m.ndim != 2:
        raise ValidationError(f"a CKA heatmap needs a 2-D matrix; got shape {m.shape}.")
    rows = list(rows) if rows is not None else [str(i) for i in range(m.shape[0])]
    cols = list(cols) if cols is not None else [str(i) for i in range(m.shape[1])]
    # cells wide enough for the rotated column names and 8-pt values; room for the colour bar
    fig, ax = _axes(ax, (max(3.6, 2.2 + 0.7 * len(cols)), max(2.8, 1.4 + 0.4 * len(rows))))
    im = ax.imshow(m, cmap="magma", vmin=0, vmax=1, aspect="auto")
    ax.set_xticks(
        np.arange(len(cols)), [short_layer_name(c) for c in cols], rotation=45, ha="right"
    )
    ax.set_yticks(np.arange(len(rows)), [short_layer_name(r) for r in rows])
    if m.size <= 400:
        for (i, j), v in np.ndenumerate(m):
            if np.isfinite(v):
                ax.text(
                    j,
                    i,
                    f"{v:.2f}",
                    ha="center",
                    va="center",
                    fontsize=8,
                    color="w" if v < 0.6 else "k",
                )
    fig.colorbar(im, ax=ax, shrink=0.8, label="CKA")
    if title:
        ax.set_title(title)
    return fig


def plot_model_comparison(
    table: pd.DataFrame,
    label: str = "layer",
    value: str = "value",
    ylabel: str = "RSA (Spearman ρ)",
    alpha: float = 0.05,
    ax: Any = None,
) -> Any:
    """Bars of each candidate's score (in table order) with bootstrap intervals, the noise
    ceiling as a grey band and ``*`` where ``p_value < alpha`` (rsatoolbox's model plot)."""
    fig, ax = _axes(ax, (max(4.0, 0.5 * len(table) + 2), 3.8))
    x = np.arange(len(table))
    y = table[value].to_numpy(float)
    ax.bar(x, y, color=_COLOURS[0], alpha=0.85)
    if {"ci_low", "ci_high"} <= set(table):
        err = np.vstack([y - table["ci_low"].to_numpy(float), table["ci_high"].to_numpy(float) - y])
        ax.errorbar(x, y, yerr=np.where(np.isfinite(err), err, 0), fmt="none", color="k", capsize=3)
    if {"ceiling_low", "ceiling_high"} <= set(table):
        lo, hi = table["ceiling_low"].mean(), table["ceiling_high"].mean()
        if np.isfinite(hi):
            ax.axhspan(
                lo if np.isfinite(lo) else hi,
                hi,
                color="0.5",
                alpha=0.3,
                lw=0,
                label="noise ceiling",
            )
    if "p_value" in table:
        sig = table["p_value"].to_numpy(float) < alpha
        top = table["ci_high"].to_numpy(float) if "ci_high" in table else y
        ax.plot(
            x[sig], top[sig] + 0.03 * np.nanmax(np.abs(y)), "*", color="k", label=f"p < {alpha:g}"
        )
    ax.axhline(0, color="0.6", lw=0.8)
    ax.set_xticks(x, [short_layer_name(v) for v in table[label]], rotation=35, ha="right")
    ax.set_ylabel(ylabel)
    if ax.get_legend_handles_labels()[0]:
        _legend_outside(ax)
    return fig


def save_figure(fig: Any, path: Any, dpi: int = SAVE_DPI) -> None:
    """Save a figure atomically (write to a temporary file, then rename); the format follows
    the suffix of ``path`` (``.png`` when it has none)."""
    from ..core._io import atomic_write

    fmt = str(path).rsplit(".", 1)[-1].lower() if "." in Path(str(path)).name else "png"
    formats = fig.canvas.get_supported_filetypes()
    if fmt not in formats:
        raise ValidationError(
            f"path {str(path)!r}: cannot write a figure as {fmt!r}; use one of "
            f"{sorted(formats)} as the suffix."
        )
    atomic_write(path, lambda tmp: fig.savefig(tmp, dpi=dpi, format=fmt))


def _runs(mask: np.ndarray) -> list[tuple[int, int]]:
    """(start, stop) of each run of True in a boolean vector."""
    edges = np.flatnonzero(np.diff(np.r_[0, mask.astype(int), 0]))
    return list(zip(edges[::2], edges[1::2], strict=True))


def plot_time_course(
    table: pd.DataFrame,
    group: str | None = None,
    value: str = "value",
    alpha: float = 0.05,
    ylabel: str = "score",
    ax: Any = None,
) -> Any:
    """Value over ``time`` (s), one line per ``group`` with its CI band, chance as a dotted line,
    and significant clusters (contiguous ``p_value < alpha``) as bars under the curves."""
    t = table[np.isfinite(table["time"].to_numpy(float))]
    if t.empty:
        raise ValidationError("plot_time_course needs rows with a finite 'time'.")
    fig, ax = _axes(ax, (7.5, 3.8))
    groups = list(t.groupby(group, sort=False)) if group else [("", t)]
    lows = []
    for k, (name, sub) in enumerate(groups):
        colour = _style(k)["color"]
        sub = sub.sort_values("time")
        x, y = sub["time"].to_numpy(float), sub[value].to_numpy(float)
        ax.plot(x, y, color=colour, lw=1.5, label=str(name) or None)
        if {"ci_low", "ci_high"} <= set(sub) and np.isfinite(sub["ci_low"]).any():
            ax.fill_between(x, sub["ci_low"], sub["ci_high"], color=colour, alpha=0.2, lw=0)
        lows.append(np.nanmin(y))
        if "p_value" in sub:
            for a, b in _runs(sub["p_value"].to_numpy(float) < alpha):
                ax.hlines(min(lows) - 0.03 * (k + 1), x[a], x[b - 1], color=colour, lw=4)
    chance = t["chance"].mean() if "chance" in t else np.nan
    if np.isfinite(chance):
        ax.axhline(chance, color="0.5", ls=":", lw=1, label="chance")
    ax.axvline(0, color="0.6", lw=0.8)
    ax.set_xlabel("time (s)")
    ax.set_ylabel(ylabel)
    if ax.get_legend_handles_labels()[0]:
        _legend_outside(ax)
    return fig


def plot_generalization_matrix(table: pd.DataFrame, value: str = "value", ax: Any = None) -> Any:
    """Temporal generalisation: ``value`` for each training time (rows) × testing time (columns)."""
    t = table[np.isfinite(table["train_time"].to_numpy(float))]
    if t.empty:
        raise ValidationError("plot_generalization_matrix needs rows with a finite 'train_time'.")
    m = t.pivot_table(index="train_time", columns="time", values=value)
    fig, ax = _axes(ax, (5.0, 4.2))
    x, y = m.columns.to_numpy(float), m.index.to_numpy(float)
    chance = t["chance"].mean() if "chance" in t else np.nan
    centre = chance if np.isfinite(chance) else 0.0
    span = float(np.nanmax(np.abs(m.to_numpy() - centre))) or 1.0
    im = ax.imshow(
        m.to_numpy(),
        origin="lower",
        aspect="auto",
        cmap="RdBu_r",
        extent=(x[0], x[-1], y[0], y[-1]),
        vmin=centre - span,
        vmax=centre + span,
    )
    ax.plot([x[0], x[-1]], [x[0], x[-1]], color="k", lw=0.6, ls="--")
    ax.set_xlabel("testing time (s)")
    ax.set_ylabel("training time (s)")
    fig.colorbar(im, ax=ax, shrink=0.8, label=value)
    return fig
