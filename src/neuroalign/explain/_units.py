"""Model units with the same API as voxels: selectivity, sparseness, activation sparsity, and
unit ↔ voxel matching.

- category selectivity ``d′ = (μ_in − μ_out) / sqrt((σ²_in + σ²_out) / 2)`` per target (±inf when
  both groups are constant and their means differ, NaN when they are constant and equal);
- lifetime sparseness of a target over stimuli and population sparseness of a stimulus over
  targets, ``S = (1 − (Σr/n)² / (Σr²/n)) / (1 − 1/n)`` (Rolls & Tovee 1995; Vinje & Gallant
  2000), 0 for a uniform response, 1 when one stimulus (target) carries everything, NaN (with a
  warning) for an all-zero response, which has no distribution to be sparse or dense;
- activation sparsity per layer (Li et al. 2023, "The Lazy Neuron Phenomenon"): the fraction of
  entries of a nonlinearity's output with ``a > threshold``; with the default 0 that is the
  non-zero count for ReLU, and for GELU-like units (whose outputs are rarely exactly 0 but
  negative and small when the unit is off) the fraction of units on, i.e. with positive input;
- unit ↔ voxel matching: the units whose responses correlate best with a voxel's (one GEMM of
  standardised matrices per chunk of units, running top-k), or whose encoder weights are largest.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from ..core import Activations, Responses, Result, StimulusSet, make_table
from ..core._align import align
from ..core._backend import chunk_slices
from ..core._validation import check_array, check_choice, parse_memory_budget
from ..core.exceptions import NeuroalignWarning, ValidationError
from ._readout import as_readout
from ._topk import RunningTopK

__all__ = [
    "ACTIVATION_TYPES",
    "activation_sparsity",
    "category_selectivity",
    "match_units",
    "measure_activation_sparsity",
    "sparseness",
]

#: Module class names treated as nonlinearities by :func:`measure_activation_sparsity`.
ACTIVATION_TYPES = frozenset(
    {
        "ReLU",
        "ReLU6",
        "GELU",
        "GELUActivation",
        "NewGELUActivation",
        "FastGELUActivation",
        "QuickGELUActivation",
        "GELUTanh",
        "SiLU",
        "SiLUActivation",
        "Hardswish",
        "Mish",
        "LeakyReLU",
        "ELU",
    }
)


def _matrix(
    data: Any, layer: str | None, what: str = "data"
) -> tuple[np.ndarray, np.ndarray, pd.DataFrame, str, str]:
    """(values (n_stimuli, n_targets), stimulus ids, targets table, model, layer) of any input."""
    if isinstance(data, Responses):
        if data.is_timeseries:
            raise ValidationError(f"{what} is time-resolved; pick a time window first.")
        t = (
            data.targets
            if data.targets is not None
            else pd.DataFrame({"target": [f"t{i}" for i in range(data.n_targets)]})
        )
        return (
            np.asarray(data.data, np.float64),
            data.stimulus_ids,
            t.reset_index(drop=True),
            "",
            "",
        )
    if isinstance(data, Activations):
        if layer is None:
            if len(data.layer_names) != 1:
                raise ValidationError(
                    f"{what} holds layers {list(data.layer_names)}; pass layer=..."
                )
            layer = data.layer_names[0]
        a = np.asarray(data[layer], np.float64)
        return (
            a,
            data.stimulus_ids,
            pd.DataFrame({"target": [f"unit{j}" for j in range(a.shape[1])]}),
            data.model,
            layer,
        )
    a = check_array(data, what, ndim=2, dtype=np.float64)
    return (
        a,
        np.array([f"s{i}" for i in range(a.shape[0])]),
        pd.DataFrame({"target": [f"t{i}" for i in range(a.shape[1])]}),
        "",
        layer or "",
    )


def _rois(t: pd.DataFrame) -> np.ndarray:
    return t["roi"].astype(str).to_numpy() if "roi" in t else np.full(len(t), "", dtype=object)


def category_selectivity(
    data: Responses | Activations | Any,
    labels: Sequence[Any] | str,
    category: Any,
    *,
    stimuli: StimulusSet | None = None,
    layer: str | None = None,
) -> Result:
    """Category selectivity d′ of every target (voxel, channel or model unit).

    Parameters
    ----------
    data : Responses, Activations (with ``layer``) or array (n_stimuli, n_targets)
    labels : sequence (n_stimuli,) or str
        The category of each stimulus, or the name of a metadata column of ``stimuli``.
    category : label
        The preferred category; every other label is the contrast.

    Returns
    -------
    Result
        kind ``explain.selectivity``: one row per target, ``statistic="selectivity_dprime"``.
        A target that is constant within both groups (zero pooled variance, up to rounding) is
        perfectly separable when the means differ: its d′ is ``+inf`` (or ``−inf`` when the
        preferred category is lower), the honest limit of the formula; when the two constants
        are equal the ratio is 0/0 and d′ is NaN. Such targets are counted in
        ``params["n_constant"]`` (they would otherwise read as unselective).

    Examples
    --------
    >>> Y = np.array([[3.0, 0.0], [5.0, 1.0], [0.0, 1.0], [2.0, 0.0]])
    >>> category_selectivity(Y, ["f", "f", "h", "h"], "f").table["value"].round(3).tolist()
    [2.121, 0.0]
    """
    Y, ids, targets, model, layer = _matrix(data, layer)
    if isinstance(labels, str):
        if stimuli is None or labels not in stimuli.metadata:
            raise ValidationError(
                f"labels={labels!r} names a metadata column: pass stimuli= with that column."
            )
        if not np.array_equal(stimuli.ids, ids):
            raise ValidationError(
                "stimuli and data list different stimulus ids; align them first (core.align)."
            )
        labels = stimuli.metadata[labels].tolist()
    lab = np.asarray(labels)
    if lab.shape != (Y.shape[0],):
        raise ValidationError(
            f"labels has {lab.size} entries; give one per stimulus ({Y.shape[0]})."
        )
    inside = lab == category
    if not inside.any() or inside.all():
        raise ValidationError(
            f"category {category!r} must label some but not all stimuli; labels are {sorted(set(lab.tolist()))[:10]}."
        )
    a, b = Y[inside], Y[~inside]
    pooled = np.sqrt(
        (a.var(0, ddof=1 if len(a) > 1 else 0) + b.var(0, ddof=1 if len(b) > 1 else 0)) / 2
    )
    diff = a.mean(0) - b.mean(0)
    # zero variance up to rounding (a constant column's variance is a few ulps, not always 0)
    scale = np.maximum(np.abs(a).max(0), np.abs(b).max(0))
    constant = pooled <= 16 * np.finfo(np.float64).eps * scale
    d = np.divide(diff, pooled, out=np.zeros_like(diff), where=~constant)
    same = constant & (np.abs(diff) <= 16 * np.finfo(np.float64).eps * scale)
    d[constant & ~same] = np.where(diff > 0, np.inf, -np.inf)[constant & ~same]
    d[same] = np.nan
    rows = pd.DataFrame(
        {"target": targets["target"].astype(str), "roi": _rois(targets), "value": d}
    )
    table = make_table(
        rows,
        analysis="explain",
        model=model,
        layer=layer,
        statistic="selectivity_dprime",
        method="dprime",
        aggregate="none",
        split="all",
        n=Y.shape[0],
        category=str(category),
    )
    return Result(
        table,
        "explain.selectivity",
        {"dprime": d},
        {"category": str(category), "n_in": int(inside.sum()), "n_constant": int(constant.sum())},
    )


def _sparseness(r: np.ndarray, axis: int, what: str) -> np.ndarray:
    """Rolls–Tovee sparseness along ``axis``; NaN (and one warning) where every value is 0."""
    n = r.shape[axis]
    m1, m2 = r.mean(axis), (r**2).mean(axis)
    zero = m2 == 0
    s = 1 - np.divide(m1**2, m2, out=np.full_like(m1, np.nan), where=~zero)
    if zero.any():
        warnings.warn(
            f"{int(zero.sum())} of {zero.size} {what} respond 0 to everything: their sparseness "
            "is undefined and reported as NaN.",
            NeuroalignWarning,
            stacklevel=3,
        )
    return s / (1 - 1 / n)


def sparseness(
    data: Responses | Activations | Any, *, layer: str | None = None, rectify: bool = False
) -> Result:
    """Lifetime sparseness of each target and population sparseness of each stimulus.

    The measure assumes non-negative responses (firing rates, post-ReLU units); ``rectify=True``
    clips negative values to 0 first, otherwise negative values are an error.

    Returns
    -------
    Result
        kind ``explain.sparseness``: ``statistic="lifetime_sparseness"`` rows (one per target) and
        ``statistic="population_sparseness"`` rows (one per stimulus; column ``stimulus``).
        A target (stimulus) whose responses are all 0 has no sparseness: its value is NaN and
        a :class:`~neuroalign.core.exceptions.NeuroalignWarning` says how many there are.

    Examples
    --------
    >>> Y = np.array([[1.0, 1.0], [0.0, 1.0], [0.0, 1.0]])
    >>> sparseness(Y).arrays["lifetime"].round(3).tolist()
    [1.0, 0.0]
    """
    Y, ids, targets, model, layer = _matrix(data, layer)
    if (Y < 0).any():
        if not rectify:
            raise ValidationError(
                f"sparseness needs non-negative responses; {int((Y < 0).sum())} values are negative. "
                "Pass rectify=True to clip them at 0, or use responses above baseline."
            )
        Y = np.maximum(Y, 0)
    life, pop = _sparseness(Y, 0, "targets"), _sparseness(Y, 1, "stimuli")
    rows = pd.concat(
        [
            pd.DataFrame(
                {
                    "target": targets["target"].astype(str),
                    "roi": _rois(targets),
                    "value": life,
                    "statistic": "lifetime_sparseness",
                    "stimulus": "",
                    "n": Y.shape[0],
                }
            ),
            pd.DataFrame(
                {
                    "target": "",
                    "roi": "",
                    "value": pop,
                    "statistic": "population_sparseness",
                    "stimulus": ids,
                    "n": Y.shape[1],
                }
            ),
        ],
        ignore_index=True,
    )
    table = make_table(
        rows, analysis="explain", model=model, layer=layer, method="rolls_tovee", split="all"
    )
    return Result(
        table, "explain.sparseness", {"lifetime": life, "population": pop}, {"rectify": rectify}
    )


# ---------------------------------------------------------------------------- activation sparsity
def activation_sparsity(
    activations: Activations | Mapping[str, Any], threshold: float = 0.0, *, model: str = ""
) -> Result:
    """Fraction of active entries (``a > threshold``) per layer of raw nonlinearity outputs.

    ``activations`` maps layer → array (n_stimuli, ...) of post-nonlinearity values (every entry
    counts: positions, channels, tokens). :func:`measure_activation_sparsity` computes the same
    from a model without storing the activations.

    Examples
    --------
    >>> a = {"relu1": np.array([[0.0, 2.0, 0.0, 0.0]]), "relu2": np.ones((1, 3))}
    >>> activation_sparsity(a).table["value"].tolist()
    [0.25, 1.0]
    """
    if isinstance(activations, Activations):
        model = model or activations.model
        layers = {name: activations[name] for name in activations.layer_names}
    else:
        layers = dict(activations)
    if not layers:
        raise ValidationError("activations holds no layers.")
    rows, per_stim = [], {}
    for name, arr in layers.items():
        a = np.asarray(arr)
        active = (a > threshold).reshape(a.shape[0], -1).mean(1)
        per_stim[f"fraction_active/{name}"] = active
        rows.append(
            {
                "layer": name,
                "value": float(active.mean()),
                "n": a.shape[0],
                "n_units": int(np.prod(a.shape[1:])),
            }
        )
    return _sparsity_result(rows, per_stim, model, threshold)


def _sparsity_result(rows: list[dict], arrays: dict, model: str, threshold: float) -> Result:
    table = make_table(
        rows,
        analysis="explain",
        model=model,
        statistic="fraction_active",
        method="lazy_neuron",
        aggregate="mean",
        split="all",
        threshold=threshold,
    )
    return Result(table, "explain.activation_sparsity", arrays, {"threshold": threshold})


def _is_activation(name: str, module: Any) -> bool:
    return type(module).__name__ in ACTIVATION_TYPES


def measure_activation_sparsity(
    model: Any,
    stimuli: StimulusSet,
    layers: Any = None,
    threshold: float = 0.0,
    *,
    batch_size: int = 16,
    device: str = "cpu",
    preprocess: Any = None,
    quiet: bool = False,
) -> Result:
    """Lazy-Neuron activation sparsity of a model, per layer, on ``stimuli``.

    Runs :func:`neuroalign.extract.extract` once with a counting reducer: each layer's output is
    turned into ``a > threshold`` and averaged over positions (images) or over each text's content
    tokens (padding and special tokens left out), so only (n_stimuli, n_units) fractions are kept.

    Parameters
    ----------
    model : model id, LoadedModel or nn.Module
    stimuli : StimulusSet (images or texts)
    layers : names or predicate, optional
        Default: every module whose class is in :data:`ACTIVATION_TYPES` (the nonlinearities).
    threshold : float
        An entry is active when ``a > threshold``: 0 counts the non-zeros of ReLU outputs and the
        "on" units of GELU-like ones (positive output ⇔ positive input); a positive threshold
        ignores tiny activations as well.
    preprocess : callable, optional
        For a bare ``nn.Module`` (as in :func:`~neuroalign.extract.extract`).

    Returns
    -------
    Result
        kind ``explain.activation_sparsity``: one row per layer, ``statistic="fraction_active"``
        (mean over stimuli of the fraction of active entries); arrays ``per_unit/<layer>``
        (fraction of positions/tokens where each unit is active, averaged over stimuli).
    """
    from ..extract import extract, make_reducer

    _, pool = make_reducer("avgpool")

    def count(output: Any, layer: str) -> Any:
        from ..extract._reducers import _tensor

        x = _tensor(output, layer)
        return pool((x > threshold).to(x.dtype if x.is_floating_point() else None), layer)

    acts = extract(
        model,
        stimuli,
        layers=layers if layers is not None else _is_activation,
        reduce=count,
        batch_size=batch_size,
        device=device,
        preprocess=preprocess,
        quiet=quiet,
    )
    rows, arrays = [], {}
    for name in acts.layer_names:
        frac = np.asarray(acts[name], np.float64)  # (n_stimuli, n_units)
        arrays[f"per_unit/{name}"] = frac.mean(0)
        rows.append(
            {
                "layer": name,
                "value": float(frac.mean()),
                "n": frac.shape[0],
                "n_units": frac.shape[1],
            }
        )
    return _sparsity_result(rows, arrays, acts.model, threshold)


# ---------------------------------------------------------------------------- unit <-> voxel
def match_units(
    units: Activations | Any,
    voxels: Responses | Any,
    *,
    k: int = 5,
    method: str = "correlation",
    layer: str | None = None,
    memory_budget: int | str = "512MB",
) -> Result:
    """The model units that behave most like each voxel.

    Parameters
    ----------
    units : Activations (with ``layer``) or array (n_stimuli, n_units)
    voxels : Responses or array (n_stimuli, n_targets) for ``method="correlation"``; a fitted
        encoder on ``units``' layer (RidgeEncoder, LinearReadout, ``.npz``) for ``method="weights"``.
    k : int
        Units reported per voxel.
    method : {"correlation", "weights"}
        Pearson r of responses over the stimuli both share (joined by stimulus id), or the
        encoder's weight on each unit.

    Returns
    -------
    Result
        kind ``explain.unit_match``: rows per voxel × rank with ``unit`` and ``value`` (r or weight);
        arrays ``unit_index``/``unit_value`` (n_targets, k).
    """
    check_choice(method, "method", ("correlation", "weights"))
    U, _, utable, model, layer = _matrix(units, layer, "units")
    if not 1 <= k <= U.shape[1]:
        raise ValidationError(f"k must be between 1 and the number of units {U.shape[1]}; got {k}.")
    names = utable["target"].astype(str).to_numpy()
    if method == "weights":
        readout = as_readout(voxels)
        if readout.n_features != U.shape[1]:
            raise ValidationError(
                f"the encoder has {readout.n_features} features but the layer has {U.shape[1]} units; "
                "give the encoder fitted on this layer."
            )
        top = RunningTopK(k, readout.n_targets)
        top.update(np.ascontiguousarray(readout.coef.T, np.float32), 0)
        tids, rois, n = readout.targets, readout.rois, readout.n_features
        statistic = "encoder_weight"
    else:
        if isinstance(voxels, Responses) and isinstance(units, Activations):
            acts, voxels = align(units.select_layers([layer]), voxels)
            U = np.asarray(acts[layer], np.float64)
        Y, _, vtable, _, _ = _matrix(voxels, None, "voxels")
        if Y.shape[0] != U.shape[0]:
            raise ValidationError(
                f"units have {U.shape[0]} stimuli but voxels {Y.shape[0]}; align them."
            )
        Zy = _z(Y)
        top = RunningTopK(k, Y.shape[1])
        step = max(1, parse_memory_budget(memory_budget) // (8 * (U.shape[0] + 3 * Y.shape[1])))
        for sl in chunk_slices(U.shape[1], step):
            top.update((Zy.T @ _z(U[:, sl]) / U.shape[0]).astype(np.float32), sl.start)
        tids, rois, n = vtable["target"].astype(str).to_numpy(), _rois(vtable), U.shape[0]
        statistic = "unit_correlation"
    idx, val = top.result()
    rows = pd.DataFrame(
        {
            "target": np.repeat(tids, k),
            "roi": np.repeat(rois, k),
            "value": val.ravel().astype(np.float64),
            "unit": names[idx.ravel()],
            "rank": np.tile(np.arange(1, k + 1), len(tids)),
        }
    )
    table = make_table(
        rows,
        analysis="explain",
        model=model,
        layer=layer,
        statistic=statistic,
        method=method,
        aggregate="none",
        split="all",
        n=n,
    )
    return Result(
        table,
        "explain.unit_match",
        {"unit_index": idx, "unit_value": val},
        {"k": k, "method": method},
    )


def _z(a: np.ndarray) -> np.ndarray:
    sd = a.std(0)
    return (a - a.mean(0)) / np.where(sd > 0, sd, 1.0)
