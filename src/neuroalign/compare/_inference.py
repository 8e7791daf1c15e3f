"""RSA inference: bootstrap over stimuli and/or subjects (one sample's similarities and ceilings:
:mod:`._evaluate`; the subject path: :mod:`._subject_boot`).

Resampling indices come from :func:`bootstrap_indices` and can be passed in, so that another
implementation can be fed the same resamples. When stimuli are resampled with replacement, a
stimulus drawn twice would create a pair with itself; such pairs are left out of that sample's
comparison (as rsatoolbox does), every other pair keeps its duplicated entries.
"""

from __future__ import annotations

import numbers
import warnings
from typing import Any, Literal

import numpy as np

from ..core import RDMs, Result, make_table
from ..core._progress import track
from ..core._registry import lookup
from ..core.exceptions import NeuroalignWarning, ValidationError
from ._evaluate import (
    _evaluate,
    _evaluate_ranked,
    _evaluate_tau_a,
    _pairs,
    _ResampleRanks,
)
from ._similarity import (
    SIMILARITIES,
    check_same_stimuli,
)
from ._subject_boot import _subject_bootstrap
from ._subjects import pool_subjects, rdm_labels, resolve_over, roi_label

__all__ = ["bootstrap_indices", "bootstrap_rsa", "check_n_boot"]


def bootstrap_indices(n: int, n_boot: int, seed: int = 0) -> np.ndarray:
    """``(n_boot, n)`` indices drawn with replacement (the one place resamples are generated)."""
    return np.random.default_rng(seed).integers(0, n, size=(n_boot, n))


def check_n_boot(n_boot: Any, name: str = "n_boot") -> int:
    """``n_boot`` as an int >= 2, or a :class:`ValidationError` saying what works."""
    if isinstance(n_boot, bool) or not isinstance(n_boot, numbers.Integral) or n_boot < 2:
        raise ValidationError(
            f"{name} must be an integer >= 2 (bootstrap resamples; 1000 or more for 95% "
            f"intervals); got {n_boot!r}."
        )
    return int(n_boot)


def bootstrap_rsa(
    models: RDMs,
    data: RDMs,
    method: str = "spearman",
    n_boot: int = 1000,
    over: Literal["auto", "stimuli", "subjects", "both"] = "auto",
    ci: float = 0.95,
    seed: int = 0,
    indices: np.ndarray | None = None,
    n_jobs: int | None = None,
    subject: str | None = "subject",
    quiet: bool = False,
) -> Result:
    """Similarity of each model RDM with brain RDMs, with bootstrap intervals and noise ceilings.

    The RDMs of each subject are averaged first (sessions pooled within subject, read from the
    ``subject`` descriptor), so the subject is the unit of inference; ``value`` is the mean over
    subjects of the similarity of each subject's RDM with the model RDM.

    Parameters
    ----------
    models : RDMs
        Candidate RDMs (e.g. one per layer, from :func:`compute_rdms`).
    data : RDMs
        Brain RDMs: one or more per subject.
    method : str
        A key of ``SIMILARITIES``.
    n_boot : int
        Bootstrap resamples (>= 2).
    over : {"auto", "stimuli", "subjects", "both"}
        What is resampled. ``"auto"``: subjects when there are >= 3 (intervals generalise to new
        subjects), otherwise stimuli, with a warning and the reason in the table's
        ``resampling_note``. ``"both"`` resamples subjects and stimuli independently. Asking to
        resample subjects with one subject is an error.
    ci : float
        Coverage of the percentile interval, in (0, 1).
    seed : int
    indices : array (n_boot, n_stimuli), optional
        Stimulus resamples to use instead of drawing new ones (``over`` "stimuli", "both" or
        "auto", which then means "stimuli").
    n_jobs : int, optional
        Threads for the subject-bootstrap ceilings of rank methods (default: up to 4 cores).
    subject : str or None
        Descriptor column of ``data`` naming each RDM's subject; ``None`` (or a missing column)
        makes every RDM its own subject.
    quiet : bool
        No progress bar.

    Returns
    -------
    Result
        ``kind="rsa.bootstrap"``; one row per model RDM with ``value``, ``ci_low``/``ci_high``
        (percentile interval), ``se`` (the SD of the bootstrap distribution, ddof=1 — not
        rsatoolbox's ``get_sem``, which also multiplies the variance by n/(n−1) and corrects
        dual bootstraps), ``ceiling_low``/``ceiling_high``, ``n`` (subjects), ``resampled`` and
        the extras ``n_boot``, ``group_by``, ``n_rdms`` (data RDMs before pooling) and
        ``resampling_note``. Arrays: ``samples`` (n_boot, n_models), ``ceiling_samples``
        (n_boot, 2: lower, upper), ``stimulus_indices`` and/or ``subject_indices`` (the resamples,
        to feed another call or tool the same draws).

    Examples
    --------
    >>> from neuroalign.data import load_kriegeskorte92
    >>> k = load_kriegeskorte92()
    >>> r = bootstrap_rsa(k.models, k.human_it, n_boot=50, quiet=True)
    >>> r.kind, int(r.table["n"].iloc[0]), r.table["resampled"].iloc[0]
    ('rsa.bootstrap', 4, 'subjects')
    """
    n_boot = check_n_boot(n_boot)
    if not 0.0 < float(ci) < 1.0:
        raise ValidationError(f"ci must be in (0, 1), e.g. 0.95; got {ci!r}.")
    fn = lookup(SIMILARITIES, method, "RDM similarity")
    for name, value in (("models", models), ("data", data)):
        if not isinstance(value, RDMs):
            raise ValidationError(
                f"{name} must be an RDMs container; got {type(value).__name__} "
                "(wrap arrays as RDMs(array, stimulus_ids))."
            )
    check_same_stimuli(models, data)
    subjects = pool_subjects(data, subject)
    resampled, note = resolve_over(over, subjects.n_subjects, indices is not None)
    n = models.n_stimuli
    m = np.asarray(models.dissimilarities, dtype=np.float64)
    d = np.asarray(subjects.rdms.dissimilarities, dtype=np.float64)
    stim_idx: np.ndarray | None = None
    if indices is not None:
        if resampled == "subjects":
            raise ValidationError(
                "indices= are stimulus resamples; use over='stimuli' or 'both' with them."
            )
        stim_idx = np.asarray(indices)
        if (
            stim_idx.ndim != 2
            or stim_idx.shape[1] != n
            or not np.issubdtype(stim_idx.dtype, np.integer)
            or (stim_idx.size and (stim_idx.min() < 0 or stim_idx.max() >= n))
        ):
            raise ValidationError(
                f"indices must be integers in [0, {n}) of shape (n_boot, {n}); got {stim_idx.dtype} "
                f"{stim_idx.shape} (see bootstrap_indices)."
            )
        n_boot = check_n_boot(stim_idx.shape[0], "indices.shape[0]")
    elif resampled != "subjects":
        stim_idx = bootstrap_indices(n, n_boot, seed)
    subj_idx = bootstrap_indices(d.shape[0], n_boot, seed + 1) if resampled != "stimuli" else None
    if resampled == "subjects":
        assert subj_idx is not None
        values, low, high, samples, ceil = _subject_bootstrap(fn, m, d, method, subj_idx, n_jobs)
    else:
        values, low, high = _evaluate(fn, m, d, method)
        samples = np.empty((n_boot, m.shape[0]))
        ceil = np.full((n_boot, 2), np.nan)
    loop = range(n_boot if resampled != "subjects" else 0)
    ranker = (
        _ResampleRanks(np.vstack([m, d]))
        if method in ("spearman", "kendall_tau_a") and len(loop)
        else None
    )
    triu = np.triu_indices(n, k=1)
    undefined = 0
    few = np.zeros(n_boot, dtype=bool)
    if stim_idx is not None and len(loop):
        drawn = np.sort(stim_idx, axis=1)
        few = (drawn[:, 1:] != drawn[:, :-1]).sum(1) + 1 < 3  # distinct stimuli per resample
    for k in track(
        loop, len(loop), f"bootstrap RSA ({resampled})", quiet or resampled == "subjects"
    ):
        assert stim_idx is not None
        cols, pairs = _pairs(stim_idx[k], n, triu)
        if few[k]:  # < 3 distinct stimuli: < 2 distinct pairs, no correlation
            samples[k], ceil[k] = np.nan, np.nan
            undefined += 1
            continue
        groups = subj_idx[k] if subj_idx is not None else None
        if ranker is not None:  # ranks of the resampled vectors without sorting them
            ranks = ranker(cols)
            rm, rd = ranks[: len(m)], ranks[len(m) :]
            rd = rd[subj_idx[k]] if subj_idx is not None else rd
            evaluate = _evaluate_tau_a if method == "kendall_tau_a" else _evaluate_ranked
            samples[k], ceil[k, 0], ceil[k, 1] = evaluate(rm, rd, groups)
            continue
        dk = d[subj_idx[k]] if subj_idx is not None else d
        mk, dk = m[:, cols], dk[:, cols]
        samples[k], ceil[k, 0], ceil[k, 1] = _evaluate(fn, mk, dk, method, groups, pairs)
    if undefined:
        warnings.warn(
            f"{undefined} of {n_boot} stimulus resamples drew fewer than 3 distinct stimuli (fewer "
            f"than 2 pairs, no correlation): their samples are NaN and left out of the interval. "
            f"{n} stimuli are too few for a stimulus bootstrap; use over='subjects'.",
            NeuroalignWarning,
            stacklevel=2,
        )
    alpha = (1 - ci) / 2
    if np.isfinite(samples).all():  # the same quantiles as nanquantile, one call for all columns
        ci_low, ci_high = np.quantile(samples, [alpha, 1 - alpha], axis=0)
    else:
        with np.errstate(invalid="ignore"):
            ci_low, ci_high = np.nanquantile(samples, [alpha, 1 - alpha], axis=0)
    with np.errstate(invalid="ignore"):
        se = np.nanstd(samples, axis=0, ddof=1)
    table = make_table(
        rdm_labels(models),
        value=values,
        ci_low=ci_low,
        ci_high=ci_high,
        se=se,
        ceiling_low=low,
        ceiling_high=high,
        analysis="rsa",
        roi=roi_label(data, roi_label(models)),
        statistic="similarity",
        method=method,
        metric=data.metric,
        aggregate="mean",
        split="all",
        n=subjects.n_subjects,
        resampled=resampled,
        n_boot=n_boot,
        group_by=subjects.group_by,
        n_rdms=subjects.n_rdms,
        resampling_note=note,
    )
    arrays = {"samples": samples, "ceiling_samples": ceil}
    if stim_idx is not None:
        arrays["stimulus_indices"] = stim_idx
    if subj_idx is not None:
        arrays["subject_indices"] = subj_idx
    params = {
        "method": method,
        "n_boot": n_boot,
        "over": resampled,
        "ci": ci,
        "seed": seed,
        "group_by": subjects.group_by,
        "subjects": [str(v) for v in subjects.rdms.descriptors["subject"]],  # type: ignore[index]
    }
    return Result(table, "rsa.bootstrap", arrays, params)
