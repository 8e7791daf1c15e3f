"""Plotters registered by result kind (see ``_dispatch``) for analyses whose default figure is
not the generic layer profile."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from ..core import Result
from ._dispatch import _plot_generic, register_plotter
from ._plots import (
    plot_cka_heatmap,
    plot_generalization_matrix,
    plot_layer_profile,
    plot_time_course,
)

__all__: list[str] = []


@register_plotter("cka")
def _plot_cka(result: Result, ax: Any = None, **kwargs: Any) -> Any:
    """Layers × (ROIs or the other model's layers) CKA heatmap; a profile when there is one column."""
    t = result.table
    other = next(
        (c for c in ("layer_b", "roi", "target") if c in t and t[c].astype(str).ne("").any()), None
    )
    if other is None or t[other].nunique() < 2:
        return _plot_generic(result, ax=ax, **kwargs)
    m = t.pivot_table(index="layer", columns=other, values="value", sort=False)
    m = m.reindex(index=list(pd.unique(t["layer"])), columns=list(pd.unique(t[other])))
    return plot_cka_heatmap(m, ax=ax, **kwargs)


def _label_column(t: pd.DataFrame) -> str | None:
    return next((c for c in ("model", "layer", "roi", "subject") if t[c].nunique() > 1), None)


@register_plotter("encoding.trf_over_time")
@register_plotter("rsa.over_time")
@register_plotter("rsa.temporal_generalization")
@register_plotter("temporal")
def _plot_temporal(result: Result, ax: Any = None, **kwargs: Any) -> Any:
    """Time-resolved RSA (decoding results have their own plotters in ``_decode_plots``): a
    generalisation matrix when there are training times, a time
    course (CI bands, chance, significant clusters) when there are times, else the profile."""
    t = result.table
    if np.isfinite(t["train_time"].to_numpy(float)).any():
        return plot_generalization_matrix(t, ax=ax, **kwargs)
    if np.isfinite(t["time"].to_numpy(float)).any():
        return plot_time_course(t, group=_label_column(t), ax=ax, **kwargs)
    return _plot_generic(result, ax=ax, **kwargs)


@register_plotter("encoding.sweep")
def _plot_sweep(result: Result, ax: Any = None, aggregate: str = "mean", **kwargs: Any) -> Any:
    """Test-set Pearson r per layer for each ROI (``aggregate`` over its targets), the noise
    ceiling as a band, the layer chosen on training CV marked by the table's ``is_best``."""
    t = result.table
    sel = t[
        (t["statistic"] == "score")
        & (t["scoring"] == "pearson")
        & (t["split"] == "test")
        & (t["aggregate"] == aggregate)
    ]
    if sel.empty:
        return _plot_generic(result, ax=ax, **kwargs)
    kwargs.setdefault("ylabel", f"test Pearson r ({aggregate} over targets)")
    return plot_layer_profile(sel, group="roi", ax=ax, **kwargs)
