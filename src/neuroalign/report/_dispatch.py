"""``plot_result``: the figure for any :class:`~neuroalign.core.Result`, chosen by its ``kind``.

``PLOTTERS`` maps a kind prefix (``"encoding"``, ``"rsa"``, ``"decoding.over_time"``, ...) to a
function ``(result, ax=None, **kwargs) -> Figure``; the longest matching prefix wins, and a result
with no registered kind gets the generic layer profile (``value`` per layer, one line per roi,
intervals and ceilings when present). Subpackages add their plotters here, not in ``core``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pandas as pd

from ..core import Result
from ..core.exceptions import ValidationError
from ._plots import plot_layer_profile

__all__ = ["PLOTTERS", "plot_result", "register_plotter"]

PLOTTERS: dict[str, Callable[..., Any]] = {}


def register_plotter(kind: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Decorator: register ``fn`` as the plotter of results whose kind starts with ``kind``."""

    def deco(fn: Callable[..., Any]) -> Callable[..., Any]:
        PLOTTERS[kind] = fn
        return fn

    return deco


def _label(t: pd.DataFrame) -> str:
    parts = []
    for col in ("scoring", "method", "statistic"):
        vals = [v for v in pd.unique(t[col]) if v]
        if len(vals) == 1:
            parts.append(str(vals[0]))
    return " · ".join(parts) or "value"


@register_plotter("")
def _plot_generic(result: Result, ax: Any = None, **kwargs: Any) -> Any:
    t = result.table
    if t.empty:
        raise ValidationError(f"cannot plot an empty result ({result.kind}).")
    group = "roi" if t["roi"].nunique() > 1 or t["model"].nunique() <= 1 else "model"
    kwargs.setdefault("ylabel", _label(t))
    return plot_layer_profile(t, group=group, ax=ax, **kwargs)


def plot_result(result: Result, ax: Any = None, **kwargs: Any) -> Any:
    """The figure for ``result`` (see :data:`PLOTTERS`); keyword arguments go to the plotter."""
    if not isinstance(result, Result):
        raise ValidationError(f"plot_result needs a Result; got {type(result).__name__}.")
    key = max((k for k in PLOTTERS if result.kind.startswith(k)), key=len)
    return PLOTTERS[key](result, ax=ax, **kwargs)
