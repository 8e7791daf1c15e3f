"""``save_timeseries`` / ``load_timeseries``: time series (one, or several layers on one clock) in
one ``.npz`` (no pickle, atomic)."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ._timed import TimeSeries
from .exceptions import ValidationError

__all__ = ["load_timeseries", "save_timeseries"]

_LAYER_KEY = "layer:"
_TARGET_KEY = "target:"


def save_timeseries(series: TimeSeries | Mapping[str, TimeSeries], path: str | Path) -> Path:
    """Write a TimeSeries, or several on one clock (``{layer: TimeSeries}``), to one ``.npz``
    (no pickle, atomic): ``runs``, ``times``, then ``data`` or one ``layer:<name>`` per layer, and
    the targets table as ``target:<column>``."""
    from ._io import _KIND, _atomic_savez

    one = isinstance(series, TimeSeries)
    layers: Mapping[str, TimeSeries] = {"": series} if one else series  # type: ignore[dict-item]
    if not layers or not all(isinstance(v, TimeSeries) for v in layers.values()):
        raise ValidationError("save_timeseries needs a TimeSeries or a mapping name → TimeSeries.")
    first = next(iter(layers.values()))
    for name, ts in layers.items():
        if not (np.array_equal(ts.runs, first.runs) and np.array_equal(ts.times, first.times)):
            raise ValidationError(
                f"layer {name!r} is not on the clock of the first layer; save each separately."
            )
    arrays: dict[str, Any] = {
        "runs": first.runs.astype(str),
        "times": np.asarray(first.times),
        "name": np.array(first.name),
        _KIND: np.array("timeseries"),
    }
    for name, ts in layers.items():
        arrays["data" if one else _LAYER_KEY + name] = np.asarray(ts.data)
    if one and first.targets is not None:
        for col in first.targets.columns:
            values = first.targets[col].to_numpy()
            arrays[_TARGET_KEY + str(col)] = (
                values.astype(str) if values.dtype == object else values
            )
    return _atomic_savez(path, arrays)


def load_timeseries(path: str | Path) -> Any:
    """Read what :func:`save_timeseries` wrote: a TimeSeries, or a dict layer → TimeSeries.

    A plain ``.npz`` with ``runs``, ``times`` and ``data`` (or ``layer:<name>`` arrays) works too.
    """
    from ._io import open_npz

    with open_npz(path, "time series") as z:
        missing = [k for k in ("runs", "times") if k not in z]
        layer_keys = [k for k in z.keys() if k.startswith(_LAYER_KEY)]
        if missing or ("data" not in z and not layer_keys):
            raise ValidationError(
                f"{str(path)!r} is not a time-series file: it needs 'runs', 'times' and 'data' (or "
                f"'layer:<name>' arrays); it has {sorted(z.keys())[:10]}."
            )
        runs, times = z["runs"].astype(str), z["times"]
        name = str(z["name"]) if "name" in z else Path(path).stem
        if layer_keys:
            return {
                k.removeprefix(_LAYER_KEY): TimeSeries(
                    z[k], runs, times, name=k.removeprefix(_LAYER_KEY)
                )
                for k in layer_keys
            }
        targets = {k.removeprefix(_TARGET_KEY): z[k] for k in z.keys() if k.startswith(_TARGET_KEY)}
        return TimeSeries(
            z["data"], runs, times, targets=pd.DataFrame(targets) if targets else None, name=name
        )
