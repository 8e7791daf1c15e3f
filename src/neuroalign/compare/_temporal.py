"""Time-resolved RSA for M/EEG: an RDM per time point, RSA time courses, temporal generalisation."""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..core import RDMs, Responses, Result, make_table
from ..core.exceptions import ValidationError
from ._rdm import compute_rdm
from ._similarity import check_same_stimuli, compare_rdms
from ._subjects import rdm_labels, roi_label

__all__ = ["compute_rdms_over_time", "rsa_over_time", "temporal_generalization"]


def compute_rdms_over_time(
    responses: Responses,
    metric: str = "correlation",
    device: str | None = None,
    dtype: str = "float32",
) -> RDMs:
    """One RDM per time point of time-resolved responses (n_stimuli, n_channels, n_times),
    computed as one batched call; descriptors hold ``time``."""
    if not responses.is_timeseries:
        raise ValidationError(
            "compute_rdms_over_time needs 3-D responses (stimulus × channel × time)."
        )
    assert responses.data is not None and responses.times is not None
    stack = np.moveaxis(np.asarray(responses.data), 2, 0)  # (n_times, n_stimuli, n_channels)
    vecs = compute_rdm(stack, metric=metric, device=device, dtype=dtype)
    return RDMs(
        vecs, responses.stimulus_ids, pd.DataFrame({"time": responses.times}), metric=metric
    )


def rsa_over_time(models: RDMs, data: RDMs, method: str = "spearman") -> Result:
    """Similarity of each model RDM with the data RDM at every time point (one matrix product).

    ``data`` holds one RDM per time point (descriptor ``time``, see
    :func:`compute_rdms_over_time`), optionally for several subjects (descriptor ``subject``):
    the value at each time is then the mean over subjects, and ``n`` the number of subjects.

    Returns
    -------
    Result
        ``kind="rsa.over_time"``: one row per model RDM × time, ``time`` in seconds, ``value``;
        ``arrays["values"]`` (n_models, n_times).
    """
    check_same_stimuli(models, data)
    assert data.descriptors is not None and models.descriptors is not None
    if "time" not in data.descriptors:
        raise ValidationError("data RDMs need a 'time' descriptor (see compute_rdms_over_time).")
    sim = compare_rdms(models, data, method)  # (n_models, n_rdms)
    times = data.descriptors["time"].to_numpy(dtype=float)
    uniq = np.unique(times)
    n_subjects = data.descriptors["subject"].nunique() if "subject" in data.descriptors else 1
    values = np.stack([sim[:, times == t].mean(1) for t in uniq], axis=1)
    labels = rdm_labels(models)
    rows = [
        {**labels.iloc[i].to_dict(), "time": t, "value": v}
        for i in range(models.n_rdms)
        for t, v in zip(uniq, values[i], strict=True)
    ]
    table = make_table(
        rows,
        analysis="rsa",
        roi=roi_label(data),
        statistic="similarity",
        method=method,
        metric=data.metric,
        aggregate="mean",
        split="all",
        n=n_subjects,
        resampled="none",
    )
    return Result(table, "rsa.over_time", {"values": values, "times": uniq}, {"method": method})


def temporal_generalization(a: RDMs, b: RDMs | None = None, method: str = "spearman") -> Result:
    """RDM similarity between every time point of ``a`` and every time point of ``b`` (``a``
    itself by default).

    Returns
    -------
    Result
        ``kind="rsa.temporal_generalization"``: one row per (``train_time`` of ``a``, ``time`` of
        ``b``) with ``value``; ``arrays["matrix"]`` the (n_times_a, n_times_b) matrix.
    """
    b = a if b is None else b
    check_same_stimuli(a, b)
    for name, r in (("a", a), ("b", b)):
        assert r.descriptors is not None
        if "time" not in r.descriptors:
            raise ValidationError(f"{name} needs a 'time' descriptor (see compute_rdms_over_time).")
    mat = compare_rdms(a, b, method)
    ta = a.descriptors["time"].to_numpy(dtype=float)  # type: ignore[index]
    tb = b.descriptors["time"].to_numpy(dtype=float)  # type: ignore[index]
    table = make_table(
        pd.DataFrame(
            {
                "train_time": np.repeat(ta, len(tb)),
                "time": np.tile(tb, len(ta)),
                "value": mat.ravel(),
            }
        ),
        analysis="rsa",
        roi=roi_label(a),
        statistic="similarity",
        method=method,
        metric=a.metric,
        split="all",
        n=1,
        resampled="none",
    )
    return Result(
        table,
        "rsa.temporal_generalization",
        {"matrix": mat, "train_times": ta, "times": tb},
        {"method": method},
    )
