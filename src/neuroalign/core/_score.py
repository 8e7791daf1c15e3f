"""``Score``: one result (a value, per-target values, a ceiling, an interval) and how it was made."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

import numpy as np

from ._validation import check_array
from .exceptions import ValidationError

__all__ = ["Score"]


@dataclass(frozen=True, eq=False)
class Score:
    """A score of a model (layer) against brain data.

    Parameters
    ----------
    value : float
        The summary value (e.g. the mean over targets, or an RSA correlation).
    metric : str
        How it was computed (``"pearson"``, ``"rsa-spearman"``, ...).
    values : array, shape (n_targets,), optional
        Per-target values the summary came from.
    ceiling : float, optional
        The noise ceiling of the same metric; ``normalized`` divides by it.
    ci : tuple of float, optional
        A confidence interval ``(low, high)`` for ``value``.
    model, layer, target, benchmark : str, optional
        What was scored against what.
    params : mapping
        The parameters that produced it (kept for reports and tables).

    Examples
    --------
    >>> from neuroalign import Score
    >>> s = Score(0.3, "pearson", ceiling=0.6, model="m", layer="l")
    >>> round(s.normalized, 2), s.to_row()["layer"]
    (0.5, 'l')
    """

    value: float
    metric: str
    values: np.ndarray | None = None
    ceiling: float | None = None
    ci: tuple[float, float] | None = None
    model: str | None = None
    layer: str | None = None
    target: str | None = None
    benchmark: str | None = None
    params: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        try:
            object.__setattr__(self, "value", float(self.value))
        except (TypeError, ValueError) as err:
            raise ValidationError(f"Score value must be a number; got {self.value!r}.") from err
        if self.values is not None:
            vals = check_array(self.values, "values", ndim=1, allow_nan=True)
            vals.setflags(write=False)
            object.__setattr__(self, "values", vals)
        if self.ci is not None:
            lo, hi = (float(v) for v in self.ci)
            if lo > hi:
                raise ValidationError(f"ci must be (low, high) with low <= high; got {self.ci}.")
            object.__setattr__(self, "ci", (lo, hi))
        if self.ceiling is not None:
            object.__setattr__(self, "ceiling", float(self.ceiling))
        object.__setattr__(self, "params", MappingProxyType(dict(self.params)))

    @property
    def normalized(self) -> float:
        """``value / ceiling`` (NaN without a positive ceiling)."""
        if self.ceiling is None or not np.isfinite(self.ceiling) or self.ceiling <= 0:
            return float("nan")
        return self.value / self.ceiling

    def to_row(self) -> dict[str, Any]:
        """A flat dict for a results table (parameters prefixed with ``param_``)."""
        row: dict[str, Any] = {
            "model": self.model,
            "layer": self.layer,
            "target": self.target,
            "benchmark": self.benchmark,
            "metric": self.metric,
            "value": self.value,
            "ci_low": self.ci[0] if self.ci else np.nan,
            "ci_high": self.ci[1] if self.ci else np.nan,
            "ceiling": self.ceiling if self.ceiling is not None else np.nan,
            "normalized": self.normalized,
            "n_targets": 0 if self.values is None else len(self.values),
        }
        row.update({f"param_{k}": v for k, v in self.params.items()})
        return row

    def to_pandas(self) -> Any:
        """A one-row DataFrame (see :meth:`to_row`)."""
        import pandas as pd

        return pd.DataFrame([self.to_row()])
