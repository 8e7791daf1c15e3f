"""``LinearReadout``: a fitted linear encoder as an in-silico brain (weights, targets, rois), saved
and loaded as ``.npz`` without pickle.

Every explain analysis takes its encoder through :func:`as_readout`, so a fitted
:class:`~neuroalign.encode.RidgeEncoder`, any scikit-learn linear regressor, a saved ``.npz`` and
"model units as targets" (:func:`unit_readout`) all look the same: ``prediction = X @ coef + intercept``.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ..core._io import atomic_write
from ..core._validation import check_array, check_ids
from ..core.exceptions import (
    NotFittedError,
    ShapeError,
    ValidationError,
    close_matches,
)
from ..encode._estimators import LinearEncoderMixin

__all__ = [
    "LinearReadout",
    "as_readout",
    "fit_readout",
    "load_readout",
    "save_readout",
    "unit_readout",
]

_FORMAT = "neuroalign.explain.readout/1"


@dataclass(frozen=True, eq=False)
class LinearReadout:
    """A linear map from model features to targets: ``predict(X) = X @ coef + intercept``.

    Parameters
    ----------
    coef : array (n_features, n_targets)
    intercept : array (n_targets,)
    targets : sequence of str
        One unique id per target (voxel, channel, unit).
    rois : sequence of str, optional
        The roi of each target (``""`` when it has none).
    model, layer : str
        The feature space the weights live in (checked against the candidates' when known).

    Examples
    --------
    >>> r = LinearReadout(np.eye(3, 2), np.zeros(2), ["v0", "v1"], model="m", layer="fc")
    >>> r.n_features, r.n_targets, r.predict(np.ones((1, 3))).tolist()
    (3, 2, [[1.0, 1.0]])
    """

    coef: np.ndarray
    intercept: np.ndarray
    targets: Any  # sequence of str in; a str array after validation
    rois: Any = None  # sequence of str or None in; a str array after validation
    model: str = ""
    layer: str = ""

    def __post_init__(self) -> None:
        coef = check_array(self.coef, "coef", ndim=2, dtype=np.float32)
        intercept = check_array(self.intercept, "intercept", ndim=1, dtype=np.float32)
        targets = check_ids(self.targets, "targets")
        if intercept.shape[0] != coef.shape[1] or targets.shape[0] != coef.shape[1]:
            raise ShapeError(
                f"coef has {coef.shape[1]} target columns (shape {coef.shape}) but intercept has "
                f"{intercept.shape[0]} and targets {targets.shape[0]}; give one per target."
            )
        rois = np.full(coef.shape[1], "", dtype=object) if self.rois is None else self.rois
        rois = np.asarray([str(r) for r in rois], dtype=str)
        if rois.shape != targets.shape:
            raise ShapeError(
                f"rois has {rois.shape[0]} entries; give one per target ({targets.shape[0]})."
            )
        for name, arr in (("coef", coef), ("intercept", intercept)):
            arr = arr.view()
            arr.setflags(write=False)
            object.__setattr__(self, name, arr)
        object.__setattr__(self, "targets", targets)
        object.__setattr__(self, "rois", rois)

    @property
    def n_features(self) -> int:
        return int(self.coef.shape[0])

    @property
    def n_targets(self) -> int:
        return int(self.coef.shape[1])

    def predict(self, X: Any) -> np.ndarray:
        """Predicted responses (n_stimuli, n_targets) for features ``X`` (n_stimuli, n_features)."""
        X = check_features(X, self)
        return X @ self.coef + self.intercept

    def select(
        self, targets: Sequence[str] | None = None, rois: Sequence[str] | None = None
    ) -> LinearReadout:
        """The readout restricted to ``targets`` (ids, in that order) and/or to ``rois``."""
        idx = target_positions(self, targets, rois)
        return LinearReadout(
            self.coef[:, idx],
            self.intercept[idx],
            self.targets[idx],
            self.rois[idx],
            self.model,
            self.layer,
        )

    def roi_means(self) -> LinearReadout:
        """One target per roi: the mean of its targets' weights (the roi's mean predicted response)."""
        names = [r for r in pd.unique(self.rois) if r]
        if not names:
            raise ValidationError(
                "this readout has no rois (every target's roi is ''); pass rois=... to as_readout."
            )
        avg = np.stack([(self.rois == r) / (self.rois == r).sum() for r in names], axis=1).astype(
            np.float32
        )
        return LinearReadout(
            self.coef @ avg,
            self.intercept @ avg,
            [f"roi:{r}" for r in names],
            names,
            self.model,
            self.layer,
        )

    def __repr__(self) -> str:
        where = f", {self.model}/{self.layer}" if self.model or self.layer else ""
        return f"LinearReadout(n_features={self.n_features}, n_targets={self.n_targets}{where})"


def check_features(
    X: Any, readout: LinearReadout, name: str = "X", finite: bool = True
) -> np.ndarray:
    """``X`` as a 2-D float array whose width matches the readout (clear error otherwise);
    ``finite=False`` leaves the NaN check to the caller (done chunk by chunk for large inputs)."""
    X = check_array(X, name, ndim=2, allow_nan=not finite)
    if X.shape[1] != readout.n_features:
        where = f" (layer {readout.layer!r} of {readout.model!r})" if readout.layer else ""
        raise ShapeError(
            f"{name} has {X.shape[1]} features per stimulus (shape {X.shape}) but the encoder was "
            f"fitted on {readout.n_features}{where}; extract the candidates from the same model, "
            "layer and reduction as the encoder's training features."
        )
    if not np.issubdtype(X.dtype, np.floating):
        X = X.astype(np.float32)
    return X


def target_positions(
    readout: LinearReadout, targets: Sequence[str] | None = None, rois: Sequence[str] | None = None
) -> np.ndarray:
    """Positions of ``targets`` (ids) and/or of the targets in ``rois``; unknown names raise."""
    idx = np.arange(readout.n_targets)
    if targets is not None:
        if isinstance(targets, str):
            targets = [targets]
        lookup = {t: i for i, t in enumerate(readout.targets)}
        missing = [str(t) for t in targets if str(t) not in lookup]
        if missing:
            raise ValidationError(
                f"targets {missing[:5]} are not in the encoder (it has {readout.n_targets} targets, "
                f"e.g. {readout.targets[:3].tolist()})."
                + close_matches(missing[0], readout.targets[:5000])
            )
        if not len(targets):
            raise ValidationError("targets is empty; give at least one target id or None for all.")
        idx = np.asarray([lookup[str(t)] for t in targets])
    if rois is not None:
        if isinstance(rois, str):
            rois = [rois]
        known = set(readout.rois.tolist())
        missing = [r for r in rois if r not in known]
        if missing:
            raise ValidationError(
                f"rois {missing} are not in the encoder; it has {sorted(known - {''})}."
                + close_matches(missing[0], known)
            )
        idx = idx[np.isin(readout.rois[idx], list(rois))]
    return idx


def as_readout(
    encoder: Any,
    targets: Sequence[str] | pd.DataFrame | None = None,
    rois: Sequence[str] | None = None,
    model: str = "",
    layer: str = "",
) -> LinearReadout:
    """Any fitted linear encoder as a :class:`LinearReadout`.

    Parameters
    ----------
    encoder : LinearReadout, fitted RidgeEncoder / BandedRidgeEncoder, scikit-learn linear
        regressor (``coef_`` of shape (n_targets, n_features)), or a path to a ``.npz`` written by
        :func:`save_readout`.
    targets : sequence of str or the ``Responses.targets`` table, optional
        Target ids (default ``t0, t1, ...``); a table gives ids from its ``target`` column (else
        its index) and rois from its ``roi`` column.
    rois : sequence of str, optional
        The roi of each target.
    model, layer : str
        The feature space, recorded and checked against candidates' when given.
    """
    if isinstance(encoder, LinearReadout):
        return encoder
    if isinstance(encoder, (str, Path)):
        return load_readout(encoder)
    coef = getattr(encoder, "coef_", None)
    if coef is None:
        raise NotFittedError(
            f"{type(encoder).__name__} has no coef_: fit it first (or fitted with keep_coef=False), "
            "or pass a LinearReadout / a saved .npz."
        )
    coef = np.asarray(coef)
    coef = coef[:, None] if coef.ndim == 1 else coef
    if not isinstance(encoder, LinearEncoderMixin):  # scikit-learn stores (n_targets, n_features)
        coef = coef.T
    intercept = np.broadcast_to(
        np.asarray(getattr(encoder, "intercept_", 0.0), np.float32), (coef.shape[1],)
    )
    ids, rois = target_labels(targets, rois, coef.shape[1])
    return LinearReadout(coef, intercept, ids, rois, model, layer)


def target_labels(
    targets: Sequence[str] | pd.DataFrame | None, rois: Sequence[str] | None, n: int
) -> tuple[list[str], Sequence[str] | None]:
    """Target ids and rois from a list of ids or a ``Responses.targets`` table (default ``t<i>``)."""
    if isinstance(targets, pd.DataFrame):
        table = targets
        targets = (table["target"] if "target" in table else table.index).astype(str).tolist()
        if rois is None and "roi" in table:
            rois = table["roi"].astype(str).tolist()
    if targets is None:
        targets = [f"t{i}" for i in range(n)]
    return [str(t) for t in targets], rois


def unit_readout(
    n_features: int, units: Sequence[int] | None = None, model: str = "", layer: str = ""
) -> LinearReadout:
    """Model units as targets: the readout whose column ``j`` picks feature ``units[j]``, so every
    explain function treats a layer's units exactly as voxels (ids ``unit<j>``).

    Examples
    --------
    >>> unit_readout(4, [2, 0]).predict(np.arange(8.0).reshape(2, 4)).tolist()
    [[2.0, 0.0], [6.0, 4.0]]
    """
    pos = np.arange(n_features) if units is None else np.asarray(units, dtype=np.int64).ravel()
    if pos.size == 0 or pos.min() < 0 or pos.max() >= n_features:
        raise ValidationError(
            f"units must be positions in [0, {n_features}); got {pos[:5].tolist()}"
            f"{' ...' if pos.size > 5 else ''}."
        )
    coef = np.zeros((n_features, pos.size), np.float32)
    coef[pos, np.arange(pos.size)] = 1.0
    return LinearReadout(coef, np.zeros(pos.size), [f"unit{u}" for u in pos], None, model, layer)


def save_readout(readout: Any, path: str | Path, **kwargs: Any) -> Path:
    """Write a readout (or any fitted linear encoder, via :func:`as_readout` with ``kwargs``) to
    one ``.npz`` (no pickle; atomic): coef, intercept, target ids, rois, model and layer."""
    r = as_readout(readout, **kwargs)
    path = Path(path)
    if path.suffix != ".npz":
        path = path.with_name(path.name + ".npz")
    meta = json.dumps({"format": _FORMAT, "model": r.model, "layer": r.layer})

    def write(tmp: Path) -> None:
        with open(tmp, "wb") as fh:
            np.savez(
                fh,
                coef=r.coef,
                intercept=r.intercept,
                targets=r.targets.astype(str),
                rois=np.asarray(r.rois, dtype=str),
                meta=np.array(meta),
            )

    return atomic_write(path, write)


def load_readout(path: str | Path) -> LinearReadout:
    """Read a readout written by :func:`save_readout`."""
    path = Path(path)
    if not path.is_file():
        raise ValidationError(f"encoder file {str(path)!r} does not exist.")
    try:
        with np.load(path, allow_pickle=False) as z:
            if "meta" not in z.files or "coef" not in z.files:
                raise ValidationError(
                    f"{str(path)!r} is not a saved encoder (it holds {z.files[:6]}); write one "
                    "with neuroalign.explain.save_readout(encoder, path)."
                )
            meta = json.loads(str(z["meta"]))
            return LinearReadout(
                z["coef"],
                z["intercept"],
                z["targets"].astype(str),
                z["rois"].astype(str),
                meta.get("model", ""),
                meta.get("layer", ""),
            )
    except ValidationError:
        raise
    except Exception as err:
        raise ValidationError(
            f"cannot read encoder file {str(path)!r}: {type(err).__name__}: {err}."
        ) from err


def fit_readout(
    activations: Any, responses: Any, layer: str | None = None, **ridge: Any
) -> LinearReadout:
    """Fit a :class:`~neuroalign.encode.RidgeEncoder` from one layer of ``activations`` to
    ``responses`` (joined by stimulus id) and return it as a readout that remembers the model,
    layer, target ids and rois (ready for :func:`save_readout` and every explain function).

    ``ridge`` goes to ``RidgeEncoder`` (``alphas``, ``cv``, ``standardize`` ...).
    """
    from ..core import Activations, Responses, align
    from ..encode import RidgeEncoder

    if not isinstance(activations, Activations) or not isinstance(responses, Responses):
        raise ValidationError(
            "fit_readout needs Activations and Responses (load them with load_activations / "
            f"load_responses); got {type(activations).__name__} and {type(responses).__name__}."
        )
    if layer is None:
        if len(activations.layer_names) != 1:
            raise ValidationError(
                f"activations hold layers {list(activations.layer_names)}; pass layer=..."
            )
        layer = activations.layer_names[0]
    acts, resp = align(activations.select_layers([layer]), responses)
    if resp.is_timeseries:
        raise ValidationError(
            "fit_readout needs (n_stimuli, n_targets) responses, not time series."
        )
    enc = RidgeEncoder(**ridge).fit(acts[layer], resp.data)
    return as_readout(enc, targets=resp.targets, model=acts.model, layer=layer)
