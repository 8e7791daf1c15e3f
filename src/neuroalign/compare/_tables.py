"""Model × brain comparison tables: RSA of every layer with every ROI, CKA of every layer pair."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from ..core import Activations, RDMs, Responses, align
from ..core.exceptions import ValidationError
from ._cka import cka
from ._inference import bootstrap_rsa
from ._rdm import compute_rdm, compute_rdms

__all__ = ["brain_rdms", "cka_table", "rsa_table"]


def brain_rdms(
    responses: Responses,
    metric: str = "correlation",
    subject_column: str = "subject",
    roi_column: str = "roi",
) -> dict[str, RDMs]:
    """One :class:`RDMs` per ROI, with one RDM per subject when ``targets`` has a subject column.

    Returns ``{roi: RDMs}`` (ROI ``"all"`` when there is no ROI column).
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
            [compute_rdm(data[:, (rois == roi) & (subjects == s)], metric) for s in subs]
        )
        out[str(roi)] = RDMs(
            vecs, responses.stimulus_ids, pd.DataFrame({"subject": subs}), metric=metric
        )
    return out


def rsa_table(
    activations: Activations,
    data: Mapping[str, RDMs],
    method: str = "spearman",
    metric: str = "correlation",
    n_boot: int = 1000,
    over: str = "stimuli",
    seed: int = 0,
) -> pd.DataFrame:
    """RSA of every layer with every brain target, with bootstrap intervals and noise ceilings.

    Parameters
    ----------
    activations : Activations
    data : mapping of target name to RDMs
        E.g. :func:`brain_rdms` output; each target's RDMs are its subjects.
    method, metric, n_boot, over, seed :
        See :func:`bootstrap_rsa` and :func:`compute_rdm`.

    Returns
    -------
    DataFrame with one row per (layer, target): value, ci_low, ci_high, se, ceiling_low,
    ceiling_high, n_subjects.
    """
    rows = []
    for target, rdms in data.items():
        acts, rdms = align(activations, rdms)
        model_rdms = compute_rdms(acts, metric=metric)
        how = over if rdms.n_rdms > 1 else "stimuli"
        res = bootstrap_rsa(model_rdms, rdms, method=method, n_boot=n_boot, over=how, seed=seed)  # type: ignore[arg-type]
        t = res.table.copy()
        t.insert(0, "target", target)
        t["n_subjects"] = rdms.n_rdms
        t["resampled"] = how
        rows.append(t)
    table = pd.concat(rows, ignore_index=True)
    table.insert(0, "model", activations.model)
    return table


def cka_table(
    a: Activations,
    b: Activations | Responses,
    kernel: str = "linear",
    debiased: bool = True,
    device: str | None = None,
    **kernel_options: Any,
) -> pd.DataFrame:
    """CKA of every layer of ``a`` with every layer of ``b`` (or every ROI of responses ``b``)."""
    a, b = align(a, b)
    if isinstance(b, Responses):
        assert b.targets is not None and b.data is not None
        rois = b.rois or ["all"]
        other = {r: np.asarray(b.roi(r).data if b.rois else b.data) for r in rois}
        label = "roi"
    else:
        other = {k: np.asarray(v) for k, v in b.layers.items()}
        label = "layer_b"
    rows = [
        {
            "layer": la,
            label: lb,
            "cka": cka(
                np.asarray(a[la]),
                xb,
                kernel=kernel,
                debiased=debiased,
                device=device,
                **kernel_options,
            ),
        }
        for la in a.layer_names
        for lb, xb in other.items()
    ]
    table = pd.DataFrame(rows)
    table.insert(0, "model", a.model)
    table["kernel"], table["debiased"] = kernel, debiased
    return table
