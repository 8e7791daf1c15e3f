"""The figure of ``encoding.narrative`` results: the score per layer, how many targets prefer
each layer, and the best FIR delay of the targets."""

from __future__ import annotations

from typing import Any

import numpy as np

from ..core import Result
from ._dispatch import register_plotter
from ._plots import short_layer_name

__all__: list[str] = []


@register_plotter("encoding.narrative")
def _plot_narrative(result: Result, ax: Any = None, **kwargs: Any) -> Any:
    """Three panels (one, the layer profile, when ``ax`` is given)."""
    import matplotlib.pyplot as plt

    t = result.table
    summary = t[t["aggregate"] == "mean"]
    layers = summary["layer"].tolist()
    scoring = summary["scoring"].iloc[0] if len(summary) else "score"
    split = summary["split"].iloc[0] if len(summary) else ""
    if ax is not None:
        fig, axes = ax.figure, [ax]
    else:
        fig, axes = plt.subplots(1, 3, figsize=(12, 3.4), constrained_layout=True)
    x = np.arange(len(layers))
    names = [short_layer_name(str(n)) for n in layers]
    axes[0].plot(x, summary["value"].to_numpy(), "o-")
    axes[0].set_xticks(x, names, rotation=45, ha="right")
    axes[0].set_ylabel(f"{split} {scoring} (mean over targets)")
    axes[0].set_title(kwargs.get("title", "score per layer"))
    if len(axes) > 1:
        axes[1].bar(x, summary["n_best"].fillna(0).to_numpy())
        axes[1].set_xticks(x, names, rotation=45, ha="right")
        axes[1].set_ylabel("targets whose best layer it is")
        delays = np.asarray(result.arrays.get("delays", []))
        best = np.asarray(result.arrays.get("best_delay", []))
        counts = [(best == d).sum() for d in delays]
        axes[2].bar([str(d) for d in delays], counts)
        axes[2].set_xlabel("best FIR delay (samples)")
        axes[2].set_ylabel("targets")
    return fig
