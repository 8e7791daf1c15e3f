"""Cross-validated layer selection for RSA: choose the best model RDM on one part of the data and
score it on the rest, so the reported value of "the best layer" is not inflated by the choice
(the winner's curse of taking the argmax and its interval on the same data).

- ``by="subjects"``: leave one subject out; the layer that best matches the other subjects is
  scored on the held-out subject. The value generalises to new subjects.
- ``by="stimuli"``: K folds of stimuli; the layer is chosen on the RDM entries among the other
  folds' stimuli and scored on the entries among the held-out stimuli (no pair is in both).
"""

from __future__ import annotations

from collections import Counter
from typing import Any, Literal

import numpy as np

from ..core import RDMs, Result, make_table
from ..core._registry import lookup
from ..core._validation import check_choice
from ..core.exceptions import ValidationError
from ._evaluate import _evaluate
from ._inference import bootstrap_indices
from ._similarity import SIMILARITIES, check_same_stimuli
from ._subjects import pool_subjects, rdm_labels, roi_label

__all__ = ["select_layer"]


def _pairs_within(stimuli: np.ndarray, n: int) -> np.ndarray:
    """Condensed indices of the pairs whose two stimuli are both in ``stimuli`` (sorted)."""
    s = np.sort(stimuli)
    i, j = np.triu_indices(len(s), k=1)
    a, b = s[i], s[j]
    return n * a - a * (a + 1) // 2 + b - a - 1


def _by_subjects(
    fn: Any, m: np.ndarray, d: np.ndarray, method: str
) -> list[tuple[int, float, float, float]]:
    folds = []
    for s in range(d.shape[0]):
        others = np.delete(d, s, axis=0)
        train, _, _ = _evaluate(fn, m, others, method)
        best = int(np.nanargmax(train))
        # the ceilings of one held-out subject: its similarity with the pooled RDM of the others
        # (lower) and of everyone (upper); their mean over subjects is rdm_noise_ceiling
        score, _, _ = _evaluate(fn, m[best : best + 1], d[s : s + 1], method)
        low, high = _held_out_ceiling(fn, d, s, method)
        folds.append((best, float(score[0]), low, high))
    return folds


def _held_out_ceiling(fn: Any, d: np.ndarray, s: int, method: str) -> tuple[float, float]:
    from ._similarity import pool_rdms

    low = fn(d[s : s + 1], pool_rdms(np.delete(d, s, axis=0), method)[None])[0, 0]
    high = fn(d[s : s + 1], pool_rdms(d, method)[None])[0, 0]
    return float(low), float(high)


def _by_stimuli(
    fn: Any, m: np.ndarray, d: np.ndarray, method: str, n: int, n_splits: int, seed: int
) -> list[tuple[int, float, float, float]]:
    order = np.random.default_rng(seed).permutation(n)
    folds = []
    for test in np.array_split(order, n_splits):
        train_cols = _pairs_within(np.setdiff1d(order, test), n)
        test_cols = _pairs_within(test, n)
        train, _, _ = _evaluate(fn, m[:, train_cols], d[:, train_cols], method)
        best = int(np.nanargmax(train))
        score, low, high = _evaluate(fn, m[best : best + 1, test_cols], d[:, test_cols], method)
        folds.append((best, float(score[0]), low, high))
    return folds


def select_layer(
    models: RDMs,
    data: RDMs,
    by: Literal["subjects", "stimuli"] = "subjects",
    method: str = "spearman",
    n_splits: int = 2,
    ci: float = 0.95,
    n_boot: int = 1000,
    seed: int = 0,
    subject: str | None = "subject",
) -> Result:
    """Choose the best model RDM on part of the data and score it on the rest.

    Parameters
    ----------
    models : RDMs
        Candidate RDMs (e.g. one per layer).
    data : RDMs
        Brain RDMs; the RDMs of each subject are averaged first (see :func:`bootstrap_rsa`).
    by : {"subjects", "stimuli"}
        Hold out one subject at a time (needs >= 2 subjects), or ``n_splits`` folds of stimuli.
    method : str
        A key of ``SIMILARITIES``.
    n_splits : int
        Stimulus folds for ``by="stimuli"`` (each fold needs >= 3 stimuli).
    ci, n_boot :
        For ``by="subjects"``: percentile interval of the mean over held-out subjects, from
        ``n_boot`` resamples of subjects. Stimulus folds are not independent: no interval.
    seed : int
        Fold assignment (stimuli) and bootstrap (subjects).
    subject : str or None
        Descriptor column naming subjects.

    Returns
    -------
    Result
        ``kind="rsa.selection"``; one row with ``statistic="cv_selected"``, ``split="test"``,
        ``layer`` the layer chosen most often, ``value`` the mean held-out score of the layer
        chosen in each fold, ``se`` the SD over folds / √folds, ``ci_low``/``ci_high``
        (subjects only), ``ceiling_low``/``ceiling_high`` on the held-out parts, ``n`` folds,
        ``resampled`` "subjects" (bootstrap) or "none", and extras ``selected_by``,
        ``selected_layers`` (choice per fold, ``;``-separated). Arrays: ``fold_values``,
        ``fold_choices``.

    Examples
    --------
    >>> from neuroalign.data import load_kriegeskorte92
    >>> k = load_kriegeskorte92()
    >>> r = select_layer(k.models, k.human_it, by="subjects")
    >>> r.table["layer"].iloc[0], int(r.table["n"].iloc[0])
    ('animacy', 4)
    """
    check_choice(by, "by", ("subjects", "stimuli"))
    fn = lookup(SIMILARITIES, method, "RDM similarity")
    check_same_stimuli(models, data)
    subjects = pool_subjects(data, subject)
    m = np.asarray(models.dissimilarities, dtype=np.float64)
    d = np.asarray(subjects.rdms.dissimilarities, dtype=np.float64)
    if models.n_rdms < 2:
        raise ValidationError(
            f"select_layer needs >= 2 model RDMs to choose from; got {models.n_rdms}."
        )
    n = models.n_stimuli
    if by == "subjects":
        if subjects.n_subjects < 2:
            raise ValidationError(
                f"by='subjects' holds out subjects but the data hold {subjects.n_subjects}; "
                "use by='stimuli'."
            )
        folds = _by_subjects(fn, m, d, method)
    else:
        if (
            isinstance(n_splits, bool)
            or not isinstance(n_splits, (int, np.integer))
            or n_splits < 2
        ):
            raise ValidationError(f"n_splits must be an integer >= 2; got {n_splits!r}.")
        if n // n_splits < 3:
            raise ValidationError(
                f"{n} stimuli are too few for {n_splits} stimulus folds (each needs >= 3); "
                "use fewer folds."
            )
        folds = _by_stimuli(fn, m, d, method, n, int(n_splits), seed)
    labels = rdm_labels(models)["layer"].astype(str).to_numpy()
    choices = labels[[f[0] for f in folds]]
    vals = np.array([f[1] for f in folds])
    k = len(folds)
    ci_low = ci_high = np.nan
    resampled = "none"
    if by == "subjects":
        boots = vals[bootstrap_indices(k, n_boot, seed)].mean(1)
        alpha = (1 - ci) / 2
        ci_low, ci_high = np.quantile(boots, alpha), np.quantile(boots, 1 - alpha)
        resampled = "subjects"
    row = {
        "layer": Counter(choices.tolist()).most_common(1)[0][0],
        "value": float(vals.mean()),
        "ci_low": ci_low,
        "ci_high": ci_high,
        "se": float(vals.std(ddof=1) / np.sqrt(k)) if k > 1 else np.nan,
        "ceiling_low": float(np.mean([f[2] for f in folds])),
        "ceiling_high": float(np.mean([f[3] for f in folds])),
    }
    table = make_table(
        [row],
        analysis="rsa",
        model=str(models.meta.get("model", "")),
        roi=roi_label(data),
        statistic="cv_selected",
        method=method,
        metric=data.metric,
        aggregate="mean",
        split="test",
        n=k,
        resampled=resampled,
        selected_by=by,
        selected_layers=";".join(choices.tolist()),
        group_by=subjects.group_by,
    )
    params = {"by": by, "method": method, "n_splits": n_splits, "seed": seed}
    return Result(
        table,
        "rsa.selection",
        {"fold_values": vals, "fold_choices": choices.astype(str)},
        params,
    )
