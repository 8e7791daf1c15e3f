"""``Activations``: model features for a set of stimuli, one ``(n_stimuli, n_features)`` array per layer."""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

import numpy as np
import pandas as pd

from ._ids import positions
from ._validation import check_array, check_ids, require
from .exceptions import LayerNotFoundError, ShapeError, ValidationError, close_matches

__all__ = ["Activations"]


@dataclass(frozen=True, eq=False)
class Activations:
    """Layer activations of one model for a set of stimuli.

    Parameters
    ----------
    model : str
        Model id, ``"<source>:<name>"`` (e.g. ``"torchvision:resnet50"``).
    stimulus_ids : sequence of str
        Unique ids, one per row of every layer array.
    layers : mapping of str to array
        ``{layer name: array of shape (n_stimuli, n_features)}`` in forward order. Arrays may be
        memory-mapped. They are made read-only.
    reduce : str
        The reduction that produced the features (``"flatten"``, ``"avgpool"``, ...).
    meta : mapping
        Free-form, pass-through information (never read by computations).

    Examples
    --------
    >>> import numpy as np
    >>> from neuroalign import Activations
    >>> a = Activations("toy:net", ["s1", "s2", "s3"], {"conv1": np.ones((3, 4)), "fc": np.zeros((3, 2))})
    >>> a.layer_names, a["fc"].shape
    (('conv1', 'fc'), (3, 2))
    """

    model: str
    stimulus_ids: np.ndarray
    layers: Mapping[str, np.ndarray]
    reduce: str = "none"
    meta: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        ids = check_ids(self.stimulus_ids, "stimulus_ids")
        object.__setattr__(self, "stimulus_ids", ids)
        if not isinstance(self.layers, Mapping) or len(self.layers) == 0:
            raise ValidationError(
                f"layers must be a non-empty mapping {{layer name: (n_stimuli, n_features) array}}; "
                f"got {type(self.layers).__name__} with {len(self.layers) if hasattr(self.layers, '__len__') else 0} entries."
            )
        checked: dict[str, np.ndarray] = {}
        for name, arr in self.layers.items():
            if not isinstance(arr, np.memmap):  # memory-mapped layers are not read here
                arr = check_array(arr, f"layers[{name!r}]")
            if arr.dtype.kind not in "biuf":
                raise ValidationError(
                    f"layers[{name!r}] must hold numbers; got an array of dtype {arr.dtype} and "
                    f"shape {arr.shape}."
                )
            if arr.ndim < 2:
                raise ShapeError(
                    f"layers[{name!r}] must be 2-D (n_stimuli, n_features); got shape {arr.shape}."
                    + (" Reshape a single feature with x[:, None]." if arr.ndim == 1 else "")
                )
            if arr.ndim > 2:
                arr = arr.reshape(arr.shape[0], -1)
            if arr.shape[0] != len(ids):
                raise ShapeError(
                    f"layers[{name!r}] has {arr.shape[0]} rows but there are {len(ids)} stimulus_ids."
                )
            if not isinstance(arr, np.memmap) and arr.flags.writeable:
                arr = arr.view()
                arr.setflags(write=False)
            checked[str(name)] = arr
        object.__setattr__(self, "layers", MappingProxyType(checked))
        object.__setattr__(self, "meta", MappingProxyType(dict(self.meta)))

    @property
    def layer_names(self) -> tuple[str, ...]:
        """Layer names in forward order."""
        return tuple(self.layers)

    @property
    def n_stimuli(self) -> int:
        return len(self.stimulus_ids)

    def __getitem__(self, layer: str) -> np.ndarray:
        try:
            return self.layers[layer]
        except KeyError:
            raise LayerNotFoundError(
                f"layer {layer!r} is not in these activations of {self.model!r}; "
                f"available: {list(self.layers)}." + close_matches(layer, self.layers)
            ) from None

    def __iter__(self) -> Iterator[str]:
        return iter(self.layers)

    def __len__(self) -> int:
        return len(self.layers)

    def __repr__(self) -> str:
        shapes = ", ".join(f"{k}: {v.shape[1]}" for k, v in list(self.layers.items())[:6])
        more = ", ..." if len(self.layers) > 6 else ""
        return f"Activations(model={self.model!r}, n_stimuli={self.n_stimuli}, features={{{shapes}{more}}})"

    def select(self, ids: Sequence[Any]) -> Activations:
        """The same layers for the given stimulus ids, in that order."""
        idx = positions(self.stimulus_ids, ids, f"Activations of {self.model!r}")
        return self.take(idx)

    def take(self, idx: Sequence[int] | np.ndarray) -> Activations:
        """The same layers for the stimuli at positions ``idx``."""
        idx = np.asarray(idx, dtype=np.intp)
        return Activations(
            self.model,
            self.stimulus_ids[idx],
            {k: v[idx] for k, v in self.layers.items()},
            self.reduce,
            self.meta,
        )

    def select_layers(self, layers: Sequence[str]) -> Activations:
        """A new object with only ``layers`` (in the given order)."""
        return Activations(
            self.model, self.stimulus_ids, {k: self[k] for k in layers}, self.reduce, self.meta
        )

    def to_pandas(self, layer: str | None = None) -> pd.DataFrame:
        """One layer as a stimulus × feature table, or (``layer=None``) a summary table of layers."""
        if layer is None:
            return pd.DataFrame(
                {
                    "layer": list(self.layers),
                    "n_features": [v.shape[1] for v in self.layers.values()],
                    "dtype": [str(v.dtype) for v in self.layers.values()],
                }
            )
        return pd.DataFrame(
            np.asarray(self[layer]), index=pd.Index(self.stimulus_ids, name="stimulus_id")
        )

    def to_xarray(self) -> Any:
        """An ``xarray.Dataset`` with one variable per layer, dims ``(stimulus_id, <layer>_feature)``."""
        xr = require("xarray", "io", "Activations.to_xarray")
        data = {k: (("stimulus_id", f"{k}_feature"), np.asarray(v)) for k, v in self.layers.items()}
        return xr.Dataset(
            data,
            coords={"stimulus_id": self.stimulus_ids},
            attrs={"model": self.model, "reduce": self.reduce},
        )
