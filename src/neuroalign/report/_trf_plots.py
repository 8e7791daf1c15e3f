"""The figure of ``encoding.trf`` results: held-out r per target and the TRF coefficients as
lag × feature heat-maps (one small panel per target, best-predicted first) or, with one feature,
one target × lag heat-map — legible with many channels."""

from __future__ import annotations

from typing import Any

import numpy as np

from ..core import Result
from ._dispatch import register_plotter

__all__: list[str] = []


@register_plotter("encoding.trf")
def _plot_trf(result: Result, ax: Any = None, max_panels: int = 12, **kwargs: Any) -> Any:
    """r per target (sorted) and the coefficients of up to ``max_panels`` targets."""
    import matplotlib.pyplot as plt

    t = result.table
    rows = t[t["aggregate"] != "mean"]
    r = rows["value"].to_numpy(dtype=float)
    names = rows["target"].astype(str).tolist()
    coef = np.asarray(result.arrays["coef"], dtype=float)  # (targets, features, delays)
    lags = np.asarray(result.arrays["lags"], dtype=float) * 1000.0
    order = np.argsort(-np.nan_to_num(r, nan=-np.inf))
    if ax is not None:  # one panel: r per target
        ax.bar(np.arange(len(r)), r[order])
        ax.set_ylabel("held-out r")
        return ax.figure
    one_feature = coef.shape[1] == 1
    n_panels = 1 if one_feature else min(max_panels, coef.shape[0])
    ncols = 1 + min(n_panels, 4)
    nrows = int(np.ceil(n_panels / 4)) if not one_feature else 1
    fig = plt.figure(figsize=(3.0 * ncols, 2.6 * max(nrows, 1) + 0.4), constrained_layout=True)
    grid = fig.add_gridspec(max(nrows, 1), ncols)
    a0 = fig.add_subplot(grid[:, 0])
    a0.barh(np.arange(len(r)), r[order][::-1])
    step = max(1, len(r) // 30)
    ticks = np.arange(len(r))[::step]
    a0.set_yticks(ticks, [names[i] for i in order[::-1]][::step], fontsize=7)
    a0.set_xlabel(f"{rows['split'].iloc[0]} r ({rows['scoring'].iloc[0]})" if len(rows) else "r")
    a0.set_title(kwargs.get("title", "held-out r per target"))
    extent = [lags[0], lags[-1], -0.5, 0.5]
    if one_feature:
        a = fig.add_subplot(grid[0, 1:])
        data = coef[order, 0, :]
        lim = np.abs(data).max() or 1.0
        a.imshow(
            data,
            aspect="auto",
            cmap="RdBu_r",
            vmin=-lim,
            vmax=lim,
            extent=[lags[0], lags[-1], len(r) - 0.5, -0.5],
            interpolation="nearest",
        )
        a.set_xlabel("lag (ms)")
        a.set_ylabel("target (best r first)")
        a.set_title("TRF coefficients")
        return fig
    for k in range(n_panels):
        j = order[k]
        a = fig.add_subplot(grid[k // 4, 1 + k % 4])
        lim = np.abs(coef[j]).max() or 1.0
        extent = [lags[0], lags[-1], coef.shape[1] - 0.5, -0.5]
        a.imshow(
            coef[j],
            aspect="auto",
            cmap="RdBu_r",
            vmin=-lim,
            vmax=lim,
            extent=extent,
            interpolation="nearest",
        )
        a.set_title(f"{names[j]}  r={r[j]:.2f}", fontsize=8)
        a.set_xlabel("lag (ms)", fontsize=7)
        a.set_ylabel("feature", fontsize=7)
        a.tick_params(labelsize=6)
    return fig
