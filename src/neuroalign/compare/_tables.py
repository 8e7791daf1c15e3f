"""Model × brain comparison tables: RSA of every layer with every ROI, CKA and shape metrics of
every layer pair (or layer × ROI). Each returns one :class:`~neuroalign.core.Result`."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import numpy as np
import pandas as pd

from ..core import Activations, RDMs, Responses, Result, align, make_table
from ..core._progress import track
from ..core._registry import lookup, register
from ..core._validation import check_choice
from ..core.exceptions import ValidationError
from ._cka import cka
from ._inference import bootstrap_rsa, check_n_boot
from ._rdm import compute_rdm, compute_rdms
from ._select import select_layer
from ._shape import pwcca, shape_distance, svcca

__all__ = ["SHAPE_METHODS", "brain_rdms", "cka_table", "rsa_table", "shape_table"]


def brain_rdms(
    responses: Responses,
    metric: str = "correlation",
    subject_column: str = "subject",
    roi_column: str = "roi",
    dtype: str = "float32",
) -> dict[str, RDMs]:
    """One :class:`RDMs` per ROI, with one RDM per subject when ``targets`` has a subject column.

    Returns ``{roi: RDMs}`` (ROI ``"all"`` when there is no ROI column); each RDMs has a
    ``subject`` descriptor and ``meta["roi"]``.
    """
    if responses.is_timeseries:
        raise ValidationError(
            "brain_rdms needs 2-D responses; use compute_rdms_over_time for time series."
        )
    assert responses.targets is not None and responses.data is not None
    targets = responses.targets
    rois = (
        targets[roi_column].astype(str).to_numpy()
        if roi_column in targets
        else np.full(len(targets), "all")
    )
    subjects = (
        targets[subject_column].astype(str).to_numpy()
        if subject_column in targets
        else np.full(len(targets), "all")
    )
    out = {}
    data = np.asarray(responses.data)
    for roi in pd.unique(rois):
        subs = list(pd.unique(subjects[rois == roi]))
        vecs = np.stack(
            [
                compute_rdm(data[:, (rois == roi) & (subjects == s)], metric, dtype=dtype)
                for s in subs
            ]
        )
        out[str(roi)] = RDMs(
            vecs,
            responses.stimulus_ids,
            pd.DataFrame({"subject": subs}),
            metric=metric,
            meta={"roi": str(roi)},
        )
    return out


def _by_roi(data: Mapping[str, RDMs] | RDMs) -> dict[str, RDMs]:
    if isinstance(data, RDMs):
        desc = data.descriptors
        assert desc is not None
        if "roi" in desc and desc["roi"].nunique() > 1:
            rois = desc["roi"].astype(str)
            return {r: data.subset((rois == r).to_numpy()) for r in pd.unique(rois)}
        return {
            str(data.meta.get("roi") or (desc["roi"].iloc[0] if "roi" in desc else "all")): data
        }
    if not isinstance(data, Mapping) or not data:
        raise ValidationError(
            f"data must be RDMs or a non-empty mapping roi -> RDMs (see brain_rdms); got "
            f"{type(data).__name__}."
        )
    return dict(data)


def rsa_table(
    activations: Activations | RDMs,
    data: Mapping[str, RDMs] | RDMs,
    method: str = "spearman",
    metric: str = "correlation",
    n_boot: int = 1000,
    over: str = "auto",
    seed: int = 0,
    select: str | None = None,
    n_splits: int = 2,
    subject: str | None = "subject",
    device: str | None = None,
    dtype: str = "float32",
    quiet: bool = False,
) -> Result:
    """RSA of every layer with every ROI: bootstrap intervals, noise ceilings and, on request, a
    cross-validated choice of the best layer.

    Parameters
    ----------
    activations : Activations or RDMs
        The model: its layers become RDMs (``metric``), or model RDMs given directly.
    data : mapping roi -> RDMs, or RDMs
        Brain RDMs (:func:`brain_rdms`, :func:`load_rdms`); RDMs with a ``roi`` descriptor are
        split by it. Within an ROI, the RDMs of each subject are averaged (``subject``).
    method, n_boot, over, seed, subject :
        See :func:`bootstrap_rsa` (``over="auto"``: subjects when >= 3, else stimuli with a note).
    metric, device, dtype :
        See :func:`compute_rdm` (``dtype="float64"`` for RDMs whose last bits do not depend on the
        BLAS thread count, as benchmarks use).
    select : {None, "subjects", "stimuli"}
        Add, per ROI, a row ``statistic="cv_selected"`` with the layer chosen on held-out data and
        its held-out score (:func:`select_layer`) — report this for "the best layer", not the
        maximum of the per-layer rows, which is biased upwards.
    n_splits : int
        Stimulus folds for ``select="stimuli"``.
    quiet : bool
        No progress bar.

    Returns
    -------
    Result
        ``kind="rsa.table"``; rows of :func:`bootstrap_rsa` (``statistic="similarity"``) for every
        layer × ROI, plus the ``cv_selected`` rows. Arrays ``samples/<roi>`` and
        ``ceiling_samples/<roi>``.
    """
    n_boot = check_n_boot(n_boot)
    if select is not None:
        check_choice(select, "select", ("subjects", "stimuli"))
    rois = _by_roi(data)
    tables, arrays = [], {}
    for roi in track(list(rois), len(rois), "RSA per ROI", quiet):
        model, rdms = align(activations, rois[roi])
        model_rdms = (
            model
            if isinstance(model, RDMs)
            else compute_rdms(model, metric=metric, device=device, dtype=dtype)
        )
        rdms = RDMs(
            rdms.dissimilarities,
            rdms.stimulus_ids,
            rdms.descriptors,
            rdms.metric,
            {**rdms.meta, "roi": roi},
        )
        res = bootstrap_rsa(
            model_rdms,
            rdms,
            method=method,
            n_boot=n_boot,
            over=over,  # type: ignore[arg-type]
            seed=seed,
            subject=subject,
            quiet=True,
        )
        tables.append(res.table)
        arrays[f"samples/{roi}"] = res.arrays["samples"]
        arrays[f"ceiling_samples/{roi}"] = res.arrays["ceiling_samples"]
        if select is not None:
            sel = select_layer(
                model_rdms,
                rdms,
                by=select,  # type: ignore[arg-type]
                method=method,
                n_splits=n_splits,
                seed=seed,
                subject=subject,
            )
            tables.append(sel.table)
    table = make_table(pd.concat(tables, ignore_index=True))
    params = {
        "method": method,
        "metric": metric,
        "n_boot": n_boot,
        "over": over,
        "seed": seed,
        "select": select,
    }
    return Result(table, "rsa.table", arrays, params)


def _other_blocks(b: Activations | Responses) -> tuple[str, dict[str, np.ndarray], str]:
    if isinstance(b, Responses):
        assert b.targets is not None and b.data is not None
        rois = b.rois or ["all"]
        return "roi", {r: np.asarray(b.roi(r).data if b.rois else b.data) for r in rois}, ""
    if isinstance(b, Activations):
        return "layer_other", {k: np.asarray(v) for k, v in b.layers.items()}, b.model
    raise ValidationError(
        f"the second representation must be Activations or Responses; got {type(b).__name__}."
    )


def _pair_table(
    a: Activations,
    b: Activations | Responses,
    fn: Callable[[np.ndarray, np.ndarray], float],
    quiet: bool,
    what: str,
    **constants: Any,
) -> pd.DataFrame:
    if not isinstance(a, Activations):
        raise ValidationError(
            f"the first representation must be Activations; got {type(a).__name__}."
        )
    a, b = align(a, b)
    label, other, model_other = _other_blocks(b)
    cells = [(la, lb) for la in a.layer_names for lb in other]
    rows = [
        {"layer": la, label: lb, "value": fn(np.asarray(a[la]), other[lb])}
        for la, lb in track(cells, len(cells), what, quiet)
    ]
    table = make_table(
        rows, model=a.model, statistic="similarity", split="all", n=a.n_stimuli, **constants
    )
    if label == "layer_other":
        table["model_other"] = model_other
    return table


def cka_table(
    a: Activations,
    b: Activations | Responses,
    kernel: str = "linear",
    debiased: bool = True,
    device: str | None = None,
    quiet: bool = False,
    **kernel_options: Any,
) -> Result:
    """CKA of every layer of ``a`` with every layer of ``b`` (or every ROI of responses ``b``).

    Returns
    -------
    Result
        ``kind="cka.table"``: ``analysis="cka"``, ``method="cka"``, ``layer`` (of ``a``),
        ``value`` the CKA, ``n`` stimuli. The other side goes in ``roi`` for Responses, or in the
        extra columns ``layer_other`` and ``model_other`` for Activations; extras ``kernel`` and
        ``debiased``.
    """

    def fn(x: np.ndarray, y: np.ndarray) -> float:
        return cka(x, y, kernel=kernel, debiased=debiased, device=device, **kernel_options)

    table = _pair_table(a, b, fn, quiet, "CKA", analysis="cka", method="cka")
    table["kernel"], table["debiased"] = kernel, debiased
    params = {"kernel": kernel, "debiased": debiased, **kernel_options}
    return Result(table, "cka.table", {}, params)


SHAPE_METHODS: dict[str, Any] = {}


@register(SHAPE_METHODS)
def procrustes(x: np.ndarray, y: np.ndarray, alpha: float) -> float:
    """Angular Procrustes distance (shape metric with α = 1), radians."""
    return shape_distance(x, y, alpha=1.0)


@register(SHAPE_METHODS, name="shape")
def _shape(x: np.ndarray, y: np.ndarray, alpha: float) -> float:
    """Generalised shape metric with partial whitening ``alpha`` (Williams et al. 2021)."""
    return shape_distance(x, y, alpha=alpha)


@register(SHAPE_METHODS, name="svcca")
def _svcca(x: np.ndarray, y: np.ndarray, alpha: float) -> float:
    """Mean SVCCA correlation (99 % variance kept)."""
    return svcca(x, y)


@register(SHAPE_METHODS, name="pwcca")
def _pwcca(x: np.ndarray, y: np.ndarray, alpha: float) -> float:
    """Projection-weighted CCA."""
    return pwcca(x, y)


def shape_table(
    a: Activations,
    b: Activations | Responses,
    method: str = "procrustes",
    alpha: float = 1.0,
    quiet: bool = False,
) -> Result:
    """A shape metric (or CCA similarity) of every layer of ``a`` with every layer / ROI of ``b``.

    Parameters
    ----------
    method : {"procrustes", "shape", "svcca", "pwcca"}
        ``procrustes`` and ``shape`` (with ``alpha``) are distances in radians (0 = same shape);
        ``svcca`` and ``pwcca`` are similarities in [0, 1].

    Returns
    -------
    Result
        ``kind="shape.table"``, ``analysis="shape"``, ``statistic`` "distance" or "similarity";
        the other side in ``roi`` or ``layer_other``/``model_other`` as in :func:`cka_table`;
        extra ``alpha``.
    """
    fn_m = lookup(SHAPE_METHODS, method, "shape method")

    def fn(x: np.ndarray, y: np.ndarray) -> float:
        return fn_m(x, y, alpha)

    table = _pair_table(a, b, fn, quiet, method, analysis="shape", method=method)
    table["statistic"] = "distance" if method in ("procrustes", "shape") else "similarity"
    table["alpha"] = alpha if method == "shape" else (1.0 if method == "procrustes" else np.nan)
    return Result(table, "shape.table", {}, {"method": method, "alpha": alpha})
