"""Time-resolved RSA for M/EEG: an RDM per time point, RSA time courses, temporal generalisation."""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..core import RDMs, Responses
from ..core.exceptions import ValidationError
from ._rdm import compute_rdm
from ._similarity import check_same_stimuli, compare_rdms

__all__ = ["compute_rdms_over_time", "rsa_over_time", "temporal_generalization"]


def compute_rdms_over_time(
    responses: Responses, metric: str = "correlation", device: str | None = None
) -> RDMs:
    """One RDM per time point of time-resolved responses (n_stimuli, n_channels, n_times),
    computed as one batched call; descriptors hold ``time``."""
    if not responses.is_timeseries:
        raise ValidationError(
            "compute_rdms_over_time needs 3-D responses (stimulus × channel × time)."
        )
    assert responses.data is not None and responses.times is not None
    stack = np.moveaxis(np.asarray(responses.data), 2, 0)  # (n_times, n_stimuli, n_channels)
    vecs = compute_rdm(stack, metric=metric, device=device)
    return RDMs(
        vecs, responses.stimulus_ids, pd.DataFrame({"time": responses.times}), metric=metric
    )


def rsa_over_time(models: RDMs, data: RDMs, method: str = "spearman") -> pd.DataFrame:
    """Similarity of each model RDM with the data RDM at every time point (one matrix product).

    Returns a long table: model descriptors, ``time`` and ``value``.
    """
    check_same_stimuli(models, data)
    assert data.descriptors is not None and models.descriptors is not None
    if "time" not in data.descriptors:
        raise ValidationError("data RDMs need a 'time' descriptor (see compute_rdms_over_time).")
    sim = compare_rdms(models, data, method)  # (n_models, n_times)
    frames = []
    for i in range(models.n_rdms):
        f = pd.DataFrame({"time": data.descriptors["time"].to_numpy(), "value": sim[i]})
        for col in models.descriptors.columns:
            f.insert(0, col, models.descriptors[col].iloc[i])
        frames.append(f)
    return pd.concat(frames, ignore_index=True)


def temporal_generalization(a: RDMs, b: RDMs | None = None, method: str = "spearman") -> np.ndarray:
    """RDM similarity between every time point of ``a`` and every time point of ``b`` (``a`` itself
    by default): an (n_times_a, n_times_b) matrix."""
    b = a if b is None else b
    check_same_stimuli(a, b)
    return compare_rdms(a, b, method)
