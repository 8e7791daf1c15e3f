"""Who the data RDMs belong to: pooling sessions within subjects, choosing what to resample, and
the schema labels of model RDMs.

Brain RDMs often hold several RDMs per subject (sessions, runs, repetitions). Inference treats the
*subject* as the unit: the RDMs of one subject are averaged into one RDM (sessions pooled within
subject) before values, noise ceilings and bootstraps are computed, so two sessions of one person
are never counted as two people. The grouping is read from a descriptor column (``"subject"`` by
default) and reported in every result table (``group_by``, ``n_rdms``, ``n``).
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from ..core import RDMs
from ..core._validation import check_choice
from ..core.exceptions import NeuroalignWarning, ValidationError

__all__ = ["SubjectRDMs", "pool_subjects", "rdm_labels", "resolve_over"]

#: descriptor columns that must not vary among the RDMs averaged into one subject's RDM
_MUST_AGREE = ("roi", "time", "layer", "model")
#: descriptors copied into the schema columns of the same name
MIN_SUBJECTS = 3


@dataclass(frozen=True)
class SubjectRDMs:
    """Data RDMs with one RDM per subject, and how they were obtained.

    Attributes
    ----------
    rdms : RDMs
        One RDM per subject (descriptors ``subject`` and ``n_rdms``).
    group_by : str
        The descriptor that defined the subjects, or ``"rdm"`` when every RDM is its own subject.
    n_rdms : int
        How many RDMs the input held (before sessions were averaged).
    """

    rdms: RDMs
    group_by: str
    n_rdms: int

    @property
    def n_subjects(self) -> int:
        return self.rdms.n_rdms


def pool_subjects(data: RDMs, subject: str | None = "subject") -> SubjectRDMs:
    """Average the RDMs of each subject (sessions pooled within subject): one RDM per subject.

    Parameters
    ----------
    data : RDMs
        Brain RDMs; ``data.descriptors[subject]`` names the subject of each RDM.
    subject : str or None
        Descriptor column with the subject of each RDM. ``None``, or a column the descriptors do
        not have, makes every RDM its own subject (``group_by="rdm"``).

    Returns
    -------
    SubjectRDMs

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> from neuroalign import RDMs
    >>> d = RDMs(np.arange(12.0).reshape(4, 3), ["a", "b", "c"],
    ...          pd.DataFrame({"subject": ["x", "x", "y", "y"], "session": [1, 2, 1, 2]}))
    >>> s = pool_subjects(d)
    >>> s.n_subjects, s.group_by, s.rdms.dissimilarities[0].tolist()
    (2, 'subject', [1.5, 2.5, 3.5])
    """
    if not isinstance(data, RDMs):
        raise ValidationError(
            f"data must be an RDMs container; got {type(data).__name__}. "
            "Wrap arrays as RDMs(array, stimulus_ids, descriptors)."
        )
    desc = data.descriptors
    assert desc is not None
    if subject is None or subject not in desc:
        sub_desc = pd.DataFrame({"subject": [str(i) for i in range(data.n_rdms)], "n_rdms": 1})
        return SubjectRDMs(
            RDMs(data.dissimilarities, data.stimulus_ids, sub_desc, data.metric, data.meta),
            "rdm",
            data.n_rdms,
        )
    codes = desc[subject].astype(str).to_numpy()
    names = list(pd.unique(codes))
    for col in _MUST_AGREE:
        if col in desc and col != subject:
            varies = desc.groupby(codes)[col].nunique(dropna=False)
            if (varies > 1).any():
                raise ValidationError(
                    f"the RDMs of subject {varies.index[varies > 1][0]!r} differ in {col!r}; "
                    f"sessions can be pooled only within one {col}. Select one {col} first "
                    f"(rdms.subset(rdms.descriptors[{col!r}] == ...))."
                )
    if len(names) == data.n_rdms:
        vecs = data.dissimilarities
    else:
        vecs = np.stack([data.dissimilarities[codes == s].mean(0) for s in names])
    counts = [int((codes == s).sum()) for s in names]
    pooled = RDMs(
        vecs,
        data.stimulus_ids,
        pd.DataFrame({"subject": names, "n_rdms": counts}),
        data.metric,
        data.meta,
    )
    return SubjectRDMs(pooled, subject, data.n_rdms)


def resolve_over(over: str, n_subjects: int, has_indices: bool = False) -> tuple[str, str]:
    """What a bootstrap resamples, and a note saying why (empty when the user chose it).

    ``"auto"`` resamples subjects when there are >= 3 (intervals then generalise to new subjects)
    and stimuli otherwise, with a warning and a note, because intervals over stimuli describe only
    the subjects measured. Resampling subjects with fewer than 2 is an error, never a silent switch.
    """
    check_choice(over, "over", ("auto", "stimuli", "subjects", "both"))
    if over == "auto":
        if has_indices:
            return "stimuli", "stimuli: stimulus resamples were given (indices=)"
        if n_subjects >= MIN_SUBJECTS:
            return "subjects", ""
        note = (
            f"stimuli: only {n_subjects} subject(s); a subject bootstrap needs >= {MIN_SUBJECTS}, "
            "so intervals describe these subjects only"
        )
        warnings.warn(
            f"bootstrap resamples {note} (not the population). Pass over='stimuli' to silence "
            "this, or add subjects.",
            NeuroalignWarning,
            stacklevel=3,
        )
        return "stimuli", note
    if over in ("subjects", "both"):
        if n_subjects < 2:
            raise ValidationError(
                f"over={over!r} resamples subjects but the data hold {n_subjects} subject; "
                "use over='stimuli' (intervals then describe this subject only)."
            )
        if n_subjects < MIN_SUBJECTS:
            warnings.warn(
                f"over={over!r} with {n_subjects} subjects: many resamples draw one subject "
                "twice (their noise ceilings are NaN); intervals are unreliable.",
                NeuroalignWarning,
                stacklevel=3,
            )
    return over, ""


def rdm_labels(rdms: RDMs) -> pd.DataFrame:
    """One row per model RDM in schema terms: the RDM's name goes in ``layer`` (the ``layer``
    descriptor, else the first descriptor, e.g. ``model`` of ``load_kriegeskorte92().models``: the
    schema's ``layer`` is a layer or a model RDM name); ``meta["model"]`` fills ``model``. The other
    descriptors are kept as columns (schema columns such as ``roi``/``time`` keep their meaning)."""
    desc = rdms.descriptors
    assert desc is not None
    out = desc.reset_index(drop=True).copy()
    if "layer" not in out and len(out.columns):
        out.columns = ["layer", *out.columns[1:]]  # rename the first (rename() costs ~3 ms)
    if "model" not in out and rdms.meta.get("model"):
        out.insert(0, "model", str(rdms.meta["model"]))
    return out


def roi_label(data: RDMs, default: str = "") -> Any:
    """The ROI of data RDMs: ``meta["roi"]``, else a single-valued ``roi`` descriptor."""
    assert data.descriptors is not None
    if data.meta.get("roi"):
        return str(data.meta["roi"])
    if "roi" in data.descriptors and data.descriptors["roi"].nunique() == 1:
        return str(data.descriptors["roi"].iloc[0])
    return default
