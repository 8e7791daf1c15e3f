"""Classic decoding: labels from brain patterns ``(n_samples, n_targets)`` with any scikit-learn
classifier, run-aware cross-validation, chance levels, a label-permutation test, confusion matrices
and Haufe activation patterns.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from ..core import Result, make_table
from ..core._multiple import permutation_p_values
from ..core._progress import track
from ..core._registry import lookup, register
from ..core._validation import check_array, check_same_length
from ..core.exceptions import ValidationError
from ._checks import check_counts, check_labels, make_cv
from ._scoring import chance_level, get_scorer

__all__ = ["ESTIMATORS", "decode", "haufe_patterns", "permutation_blocks", "permute_within"]

#: Named classifiers (factories of scikit-learn estimators); any estimator instance works as well.
ESTIMATORS: dict[str, Callable[[], Any]] = {}


@register(ESTIMATORS)
def svc() -> Any:
    """Linear support-vector classifier (libsvm, one-vs-one for K > 2)."""
    from sklearn.svm import SVC

    return SVC(kernel="linear")


@register(ESTIMATORS)
def logistic() -> Any:
    """L2 logistic regression (multinomial for K > 2)."""
    from sklearn.linear_model import LogisticRegression

    return LogisticRegression(max_iter=2000)


@register(ESTIMATORS)
def ridge() -> Any:
    """Ridge classifier (α = 1, one-vs-rest least squares on ±1 targets)."""
    from sklearn.linear_model import RidgeClassifier

    return RidgeClassifier(alpha=1.0)


@register(ESTIMATORS)
def lda() -> Any:
    """Linear discriminant analysis with Ledoit–Wolf shrinkage of the pooled covariance."""
    from sklearn.discriminant_analysis import LinearDiscriminantAnalysis

    return LinearDiscriminantAnalysis(solver="lsqr", shrinkage="auto")


def _make_estimator(estimator: Any, standardize: bool) -> tuple[Any, str]:
    from sklearn.base import clone
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    if isinstance(estimator, str):
        name, est = estimator, lookup(ESTIMATORS, estimator, "estimator")()
    else:
        name, est = type(estimator).__name__, clone(estimator)
    return (make_pipeline(StandardScaler(), est) if standardize else est), name


def decision_values(est: Any, X: np.ndarray) -> np.ndarray:
    """``(n, K)`` decision values (``K = 1`` for two classes: the evidence for class 1)."""
    if hasattr(est, "decision_function"):
        d = np.asarray(est.decision_function(X), dtype=float)
    else:
        d = np.asarray(est.predict_proba(X), dtype=float)
        if d.shape[1] == 2:
            d = d[:, 1]
    return d[:, None] if d.ndim == 1 else d


def permutation_blocks(splits: list, groups: np.ndarray | None, n: int) -> np.ndarray:
    """Blocks within which labels are exchanged under the null: the samples that share their
    place in every split (the test fold of each sample when the folds partition the samples;
    for repeated K-fold, the intersection of a sample's folds across repeats), crossed with
    ``groups``.

    Exchanging labels only within these blocks keeps every training and test set's class
    counts, so the same splits (and, for the batched ridge, the same factorisations) serve every
    permutation; shuffling across the folds of a stratified split would unbalance them and bias
    the null downwards (permuted accuracies below chance), inflating false positives — as the
    global shuffle this fell back to for splits that do not partition the samples did
    (repeated stratified 5-fold × 2: 8 % of null tests at p ≤ 0.05, cluster FWER 9 %).
    Raises when most samples would sit alone in their block (e.g. ShuffleSplit): their labels
    could not move, and the test would say nothing.
    """
    member = np.zeros((n, len(splits)), dtype=bool)  # sample × split: in its test set
    for i, (_, test) in enumerate(splits):
        member[test, i] = True
    parts = [np.unique(member, axis=0, return_inverse=True)[1].ravel()]
    if groups is not None:
        parts.append(np.unique(groups, return_inverse=True)[1])
    blocks = np.unique(np.stack(parts, 1), axis=0, return_inverse=True)[1].ravel()
    alone = int((np.bincount(blocks)[blocks] == 1).sum())
    if alone > n // 2:
        raise ValidationError(
            f"label permutations keep every split's class counts by exchanging labels only "
            f"between samples in the same test sets, but with these splits {alone} of {n} "
            "samples share their test sets with no other sample (ShuffleSplit-like splits). Use "
            "a splitter whose test sets partition the samples (StratifiedKFold, GroupKFold, "
            "LeaveOneGroupOut) or a repeated K-fold for permutation tests."
        )
    return blocks


def permute_within(
    y: np.ndarray, groups: np.ndarray | None, rng: np.random.Generator
) -> np.ndarray:
    """``y`` shuffled within each block of ``groups`` (the whole of ``y`` when None); see
    :func:`permutation_blocks`."""
    if groups is None:
        return rng.permutation(y)
    out = y.copy()
    for g in np.unique(groups):
        idx = np.flatnonzero(groups == g)
        out[idx] = y[rng.permutation(idx)]
    return out


def _cv_scores(
    X: np.ndarray,
    yi: np.ndarray,
    splits: list,
    make: Callable[[], Any],
    scorers: Sequence[str],
    n_classes: int,
    with_confusion: bool,
) -> tuple[np.ndarray, np.ndarray | None]:
    from sklearn.metrics import confusion_matrix

    scores = np.empty((len(splits), len(scorers)))
    conf = np.zeros((n_classes, n_classes), np.int64) if with_confusion else None
    for f, (train, test) in enumerate(splits):
        est = make().fit(X[train], yi[train])
        pred = np.asarray(est.predict(X[test]))
        dec = decision_values(est, X[test])
        for j, s in enumerate(scorers):
            scores[f, j] = get_scorer(s)(yi[test], pred, dec)
        if conf is not None:
            conf += confusion_matrix(yi[test], pred, labels=np.arange(n_classes))
    return scores, conf


def haufe_patterns(X: Any, coef: Any) -> np.ndarray:
    """Activation patterns of linear decoders (Haufe et al. 2014, NeuroImage 87:96–110).

    For weights ``W`` ``(n_targets, n_outputs)`` the pattern is ``A = Σ_X W Σ_ŝ⁻¹`` with
    ``ŝ = X W`` the decoded sources: unlike ``W``, ``A`` says how each source shows up in the
    targets, so it can be interpreted neurophysiologically.

    Parameters
    ----------
    X : array (n_samples, n_targets)
        The data the decoder was fit on (same preprocessing).
    coef : array (n_outputs, n_targets)
        Decoder weights (scikit-learn's ``coef_``).

    Returns
    -------
    patterns : array (n_outputs, n_targets)
    """
    X = check_array(X, "X", ndim=2)
    W = np.atleast_2d(check_array(coef, "coef")).T
    check_same_length("coef (targets)", W.shape[0], "X (targets)", X.shape[1])
    Xc = X - X.mean(0)
    S = Xc @ W
    cov_xs = Xc.T @ S / (len(X) - 1)  # Σ_X W without forming Σ_X
    cov_s = S.T @ S / (len(X) - 1)
    return np.linalg.lstsq(cov_s, cov_xs.T, rcond=None)[0]


def decode(
    X: Any,
    y: Any,
    *,
    groups: Any = None,
    estimator: Any = "svc",
    cv: Any = None,
    scoring: str | Sequence[str] = ("accuracy", "balanced_accuracy", "roc_auc"),
    standardize: bool = True,
    n_permutations: int = 0,
    seed: int = 0,
    roi: str = "",
    subject: str = "",
    quiet: bool = False,
) -> Result:
    """Cross-validated decoding of labels from brain patterns.

    Parameters
    ----------
    X : array (n_samples, n_targets)
    y : array (n_samples,)
        Labels (any type); at least two classes.
    groups : array (n_samples,), optional
        Run / session of each sample. With groups the default CV is leave-one-group-out and
        permutations shuffle labels within groups.
    estimator : str or scikit-learn classifier
        A key of :data:`ESTIMATORS` (``svc``, ``logistic``, ``ridge``, ``lda``) or an estimator
        (cloned per fold).
    cv : int, "loro", splitter or list of (train, test), optional
        Default: ``"loro"`` with groups, else stratified 5-fold.
    scoring : str or sequence of str
        Keys of ``CLASSIFICATION_SCORES``: accuracy, balanced_accuracy, roc_auc.
    standardize : bool
        z-score each target with the training fold's mean and SD first.
    n_permutations : int
        Label permutations for the p-value ``(1 + #{null >= observed}) / (1 + n_permutations)``;
        each refits every fold. Labels are exchanged within test folds (and groups), so every
        fold keeps its class counts under the null.
    seed : int
    roi, subject : str
        Labels copied into the table.
    quiet : bool

    Returns
    -------
    Result
        kind ``"decoding.classic"``; one row per scoring (``value`` = mean over folds, ``se`` over
        folds, ``chance``, ``p_value``, ``n`` = samples); arrays ``confusion`` (true × predicted
        counts summed over folds), ``classes``, ``fold_scores`` (n_folds, n_scorings),
        ``null`` (n_permutations, n_scorings), ``patterns`` / ``coef`` (Haufe patterns and weights
        of the estimator refit on all samples, when it is linear).

    Examples
    --------
    >>> from neuroalign.data import make_epochs
    >>> sim = make_epochs(60, 8, 50, snr=2.0, seed=0)
    >>> r = decode(sim.epochs[:, :, sim.informative].mean(-1), sim.labels, cv=3, scoring="accuracy")
    >>> bool(r.table["value"].iloc[0] > 0.8), r.table["chance"].iloc[0]
    (True, np.float64(0.5))
    """
    check_counts(n_permutations)
    X = check_array(X, "X", ndim=2)
    y, classes = check_labels(y, len(X))
    scorers = [scoring] if isinstance(scoring, str) else list(scoring)
    for s in scorers:
        get_scorer(s)
    groups = None if groups is None else np.asarray(groups)
    yi = np.searchsorted(classes, y)
    splits = make_cv(cv, yi, groups, seed)
    est0, name = _make_estimator(estimator, standardize)

    def make() -> Any:
        return _make_estimator(estimator, standardize)[0]

    blocks = permutation_blocks(splits, groups, len(yi)) if n_permutations else None
    fold, conf = _cv_scores(X, yi, splits, make, scorers, len(classes), True)
    observed = fold.mean(0)
    rng = np.random.default_rng(seed)
    null = np.empty((n_permutations, len(scorers)))
    for i in track(range(n_permutations), n_permutations, "permutations", quiet):
        yp = permute_within(yi, blocks, rng)
        null[i] = _cv_scores(X, yp, splits, make, scorers, len(classes), False)[0].mean(0)
    p = permutation_p_values(null, observed) if n_permutations else None
    arrays: dict[str, np.ndarray] = {
        "confusion": conf,  # type: ignore[dict-item]
        "classes": classes.astype(str),
        "fold_scores": fold,
        "null": null,
    }
    final = est0.fit(X, yi)
    last = final[-1] if hasattr(final, "steps") else final
    if hasattr(last, "coef_"):
        Xs = final[:-1].transform(X) if hasattr(final, "steps") else X
        arrays["coef"] = np.atleast_2d(last.coef_)
        arrays["patterns"] = haufe_patterns(Xs, arrays["coef"])
    rows = [
        {
            "scoring": s,
            "value": observed[j],
            "se": fold[:, j].std(ddof=1) / np.sqrt(len(fold)) if len(fold) > 1 else np.nan,
            "p_value": np.nan if p is None else p[j],
            "chance": chance_level(s, yi),
            "n_folds": len(splits),
        }
        for j, s in enumerate(scorers)
    ]
    table = make_table(
        rows,
        analysis="decoding",
        method=name,
        statistic="score",
        split="cv",
        roi=roi,
        subject=subject,
        n=len(X),
        resampled="none",
    )
    params = {
        "estimator": name,
        "cv": repr(cv),
        "n_splits": len(splits),
        "standardize": standardize,
        "n_permutations": n_permutations,
        "permutation": "labels within test folds" + (" and groups" if groups is not None else ""),
        "seed": seed,
    }
    return Result(table, kind="decoding.classic", arrays=arrays, params=params)
