"""Figures of the non-linear readouts: receptive-field masks of a factorised readout, attention
maps of an attention readout, and the readout comparison table (the plotter of
``encoding.readouts`` results)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from ..core import Result
from ..core.exceptions import ShapeError, ValidationError
from ._dispatch import register_plotter
from ._plots import _axes, _style

__all__ = ["plot_attention_maps", "plot_readout_comparison", "plot_receptive_fields"]


def _mosaic(tiles: np.ndarray, ncols: int) -> np.ndarray:
    """Tiles (k, h, w) side by side, ``ncols`` per row, separated by one NaN pixel."""
    k, h, w = tiles.shape
    nrows = -(-k // ncols)
    out = np.full((nrows * (h + 1) - 1, ncols * (w + 1) - 1), np.nan)
    for i, tile in enumerate(tiles):
        r, c = divmod(i, ncols)
        out[r * (h + 1) : r * (h + 1) + h, c * (w + 1) : c * (w + 1) + w] = tile
    return out


def plot_receptive_fields(
    masks: Any,
    truth: Any = None,
    targets: Sequence[int] | None = None,
    ncols: int = 8,
    ax: Any = None,
    title: str | None = None,
) -> Any:
    """Spatial masks (receptive fields) of a factorised readout as a mosaic, one tile per target.

    Parameters
    ----------
    masks : array (n_targets, H, W)
        ``FactorizedReadout.masks_``.
    truth : array (n_targets, H, W), optional
        Known masks (simulations): shown in the row below each estimated row, for comparison.
    targets : sequence of int, optional
        Which targets to show (default: the first ``ncols``·2, at most 16).
    """
    masks = np.asarray(masks, dtype=float)
    if masks.ndim != 3:
        raise ShapeError(f"masks must be (n_targets, H, W); got shape {masks.shape}.")
    idx = np.asarray(targets if targets is not None else np.arange(min(len(masks), 16)))
    ncols = max(1, min(ncols, len(idx)))
    show = masks[idx]
    if truth is not None:
        truth = np.asarray(truth, dtype=float)
        if truth.shape != masks.shape:
            raise ShapeError(f"truth has shape {truth.shape}; masks have {masks.shape}.")
        rows = []
        for start in range(0, len(idx), ncols):
            part = idx[start : start + ncols]
            pad = ncols - len(part)
            for src in (masks, truth):
                block = np.concatenate([src[part], np.full((pad, *masks.shape[1:]), np.nan)])
                rows.append(block)
        show = np.concatenate(rows)
    # each tile scaled to its own peak so that every field is visible
    peak = np.where(np.isfinite(show), np.abs(show), 0.0).max(axis=(1, 2))
    show = show / np.where(peak > 0, peak, 1.0)[:, None, None]
    fig, ax = _axes(ax, (1.1 * ncols + 1, 1.2 * (-(-len(show) // ncols)) + 0.6))
    im = ax.imshow(_mosaic(show, ncols), cmap="RdBu_r", vmin=-1, vmax=1, interpolation="nearest")
    ax.set_xticks([])
    ax.set_yticks([])
    label = "receptive fields" + (" (rows: estimated, true)" if truth is not None else "")
    ax.set_title(title or f"{label}; targets {idx.tolist()}", fontsize=9)
    fig.colorbar(im, ax=ax, shrink=0.7, label="mask / peak")
    return fig


def plot_attention_maps(
    maps: Any,
    stimulus: int = 0,
    query_names: Sequence[str] | None = None,
    planted: Any = None,
    ax: Any = None,
) -> Any:
    """Where each query of an attention readout looks, for one stimulus.

    Parameters
    ----------
    maps : array (n_stimuli, n_queries, n_tokens) or (n_stimuli, n_queries, H, W)
        ``AttentionReadout.attention_maps(X)``.
    stimulus : int
        Which stimulus to show.
    query_names : sequence of str, optional
        ``AttentionReadout.query_names_``.
    planted : array (n_stimuli, n_queries), optional
        Known relevant token per stimulus and query (simulations): marked with a ring.
    """
    maps = np.asarray(maps, dtype=float)
    if maps.ndim not in (3, 4):
        raise ShapeError(
            f"maps must be (n_stimuli, n_queries, n_tokens) or (n_stimuli, n_queries, H, W); "
            f"got shape {maps.shape}."
        )
    if not 0 <= stimulus < len(maps):
        raise ValidationError(f"stimulus={stimulus} is out of range for {len(maps)} stimuli.")
    a = maps[stimulus]
    q = len(a)
    names = list(query_names) if query_names is not None else [f"query {i}" for i in range(q)]
    if maps.ndim == 3:  # tokens: one row per query
        fig, ax = _axes(ax, (max(4.0, 0.35 * a.shape[1] + 2), 0.5 * q + 1.2))
        im = ax.imshow(a, cmap="magma", aspect="auto", vmin=0, interpolation="nearest")
        ax.set_yticks(range(q), names)
        ax.set_xlabel("token")
        if planted is not None:
            p = np.asarray(planted)[stimulus]
            ax.plot(p, np.arange(q), "o", mfc="none", mec="c", ms=12, label="planted token")
            ax.legend(frameon=False, fontsize=8, loc="upper right")
    else:
        fig, ax = _axes(ax, (2.0 * q + 1, 2.4))
        im = ax.imshow(_mosaic(a, q), cmap="magma", vmin=0, interpolation="nearest")
        ax.set_xticks([(a.shape[2] + 1) * i + a.shape[2] / 2 - 0.5 for i in range(q)], names)
        ax.set_yticks([])
    ax.set_title(f"attention of each query, stimulus {stimulus}", fontsize=9)
    fig.colorbar(im, ax=ax, shrink=0.7, label="attention weight")
    return fig


@register_plotter("encoding.readouts")
def plot_readout_comparison(result: Result, ax: Any = None, **kwargs: Any) -> Any:
    """Mean test Pearson r per readout (bars, ± SE over folds), one group per ROI, with the
    noise ceiling as a dashed line when known."""
    t = result.table
    t = t[t["aggregate"] == "mean"]
    if t.empty:
        raise ValidationError(f"cannot plot a result without summary rows ({result.kind}).")
    methods = list(dict.fromkeys(t["method"]))
    rois = list(dict.fromkeys(t["roi"]))
    fig, ax = _axes(ax, (1.2 + 1.1 * len(rois) * len(methods) ** 0.5 * 1.5, 3.6))
    width = 0.8 / len(methods)
    x = np.arange(len(rois))
    for k, method in enumerate(methods):
        sub = t[t["method"] == method].set_index("roi").reindex(rois)
        ax.bar(
            x + (k - (len(methods) - 1) / 2) * width,
            sub["value"].to_numpy(float),
            width,
            yerr=sub["se"].to_numpy(float),
            color=_style(k)["color"],
            capsize=3,
            label=method,
        )
    ceilings = t.groupby("roi", sort=False)["ceiling_high"].mean().reindex(rois).to_numpy(float)
    for i, c in enumerate(ceilings):
        if np.isfinite(c):
            ax.hlines(c, i - 0.45, i + 0.45, colors="0.3", linestyles="--", lw=1)
    if np.isfinite(ceilings).any():
        ax.plot([], [], ls="--", color="0.3", label="noise ceiling")
    ax.set_xticks(x, rois)
    ax.axhline(0, color="0.6", lw=0.8)
    ax.set_ylabel("test Pearson r (mean over targets)")
    ax.set_title(kwargs.get("title", "readouts on the same folds"), fontsize=10)
    ax.legend(frameon=False, fontsize=8)
    return fig
