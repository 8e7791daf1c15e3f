"""Benchmark metrics: one layer's features + a benchmark's data → scored rows.

Every metric is a function ``fn(X, data, split, **params) -> list[dict]`` registered in
:data:`METRICS` under the name benchmark ids use (``rsa``, ``encoding``, ``cka``, ``decoding``). It
returns one row per place it measured: ``split="commit"`` (the part of the data that chooses the
layer), ``split="test"`` (the rest, which scores the committed layer) and optionally
``split="all"`` (every stimulus and subject, with bootstrap intervals). Rows carry schema columns
(``value``, ``ceiling_low``, ``ceiling_high``, ``ci_low``, ``ci_high``, ``se``, ``chance``, ``n``,
``method``, ``scoring``, ``metric``, ``aggregate``, ``resampled``). A new metric (a decoding
engine from ``neuroalign.decode``, say) is one more registered function.

The calls into encode / compare whose result shapes are changing go through ``_adapters`` so that
one file follows those APIs.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..core import RDMs, Responses
from ..core._registry import lookup, register
from ..core.exceptions import ValidationError
from ..core.metrics import pearson_score
from ._adapters import fit_ridge, rsa_with_intervals
from ._benchmark import Benchmark, BenchmarkData

__all__ = ["METRICS", "Split", "commitment_split"]

#: Metric name → ``fn(X, data, split, **params) -> list[dict]``.
METRICS: dict[str, Callable[..., list[dict[str, Any]]]] = {}


@dataclass(frozen=True)
class Split:
    """The commitment split: positions of the committing and of the scoring part.

    ``kind`` is ``"stimuli"`` (positions of stimuli; ``"groups"`` splits are stored as the
    stimuli of the chosen groups) or ``"subjects"`` (positions of the brain RDMs / subjects).
    """

    kind: str
    commit: np.ndarray
    test: np.ndarray


def commitment_split(benchmark: Benchmark, data: BenchmarkData) -> Split:
    """The seeded commitment split of a benchmark's data (the same in every process)."""
    rng = np.random.default_rng(benchmark.seed)
    frac = float(benchmark.commit_fraction)
    if benchmark.commit_split == "subjects":
        if not isinstance(data.brain, RDMs) or data.brain.n_rdms < 2:
            raise ValidationError(
                f"{benchmark.id}: commit_split='subjects' needs brain RDMs of >= 2 subjects."
            )
        units = data.brain.n_rdms
        perm = rng.permutation(units)
        k = min(max(1, round(frac * units)), units - 1)
        return Split("subjects", np.sort(perm[:k]), np.sort(perm[k:]))
    n = len(data.stimuli)
    if benchmark.commit_split == "groups":
        if data.groups is None:
            raise ValidationError(f"{benchmark.id}: commit_split='groups' needs data.groups.")
        groups = np.asarray(data.groups).astype(str)
        uniq = np.unique(groups)
        perm = rng.permutation(len(uniq))
        k = min(max(1, round(frac * len(uniq))), len(uniq) - 1)
        chosen = np.isin(groups, uniq[perm[:k]])
        return Split("stimuli", np.flatnonzero(chosen), np.flatnonzero(~chosen))
    perm = rng.permutation(n)
    k = min(max(2, round(frac * n)), n - 2)
    return Split("stimuli", np.sort(perm[:k]), np.sort(perm[k:]))


def _pair_positions(n: int, idx: np.ndarray) -> np.ndarray:
    """Positions in a condensed RDM of ``n`` stimuli of the pairs among the (sorted) ``idx``."""
    i, j = np.triu_indices(len(idx), k=1)
    a, b = idx[i], idx[j]
    return n * a - a * (a + 1) // 2 + (b - a - 1)


@register(METRICS)
def rsa(
    X: np.ndarray,
    data: BenchmarkData,
    split: Split,
    method: str = "spearman",
    metric: str = "correlation",
    n_boot: int = 100,
    over: str = "stimuli",
    seed: int = 0,
) -> list[dict[str, Any]]:
    """RSA: mean similarity (``method``) of the layer's RDM (``metric``) with subjects' RDMs.

    Ceilings are the subject-RDM noise ceilings (lower/upper) of the same part of the data; with
    one brain RDM there is none (NaN). The ``all`` row is ``compare.bootstrap_rsa`` on every
    stimulus and subject (intervals by ``over``).
    """
    from ..compare import compare_rdms, compute_rdm, rdm_noise_ceiling

    brain = data.brain
    if not isinstance(brain, RDMs):
        raise ValidationError(
            f"the rsa metric needs brain RDMs in BenchmarkData.brain; got {type(brain).__name__}."
        )
    d = np.asarray(brain.dissimilarities)
    n = len(data.stimuli)
    # float64: a benchmark's score must not depend on float32 rounding under BLAS thread counts
    model = compute_rdm(X, metric, dtype="float64")
    common = {"method": method, "metric": metric, "aggregate": "mean"}
    rows = []
    for part in ("commit", "test"):
        sel = getattr(split, part)
        if split.kind == "subjects":
            m, b, n_items = model, d[sel], len(sel)
        else:
            pos = _pair_positions(n, sel)
            m, b, n_items = model[pos], d[:, pos], len(sel)
        value = float(np.mean(compare_rdms(m, b, method)))
        low, high = rdm_noise_ceiling(b, method) if b.shape[0] > 1 else (np.nan, np.nan)
        rows.append(
            {
                **common,
                "split": part,
                "value": value,
                "ceiling_low": low,
                "ceiling_high": high,
                "n": n_items,
                "resampled": "none",
            }
        )
    over_ = over if d.shape[0] > 1 else "stimuli"
    rows.append(
        {
            **common,
            "split": "all",
            "n": n,
            **rsa_with_intervals(model, brain, method, n_boot, over_, seed),
        }
    )
    return rows


@register(METRICS)
def encoding(
    X: np.ndarray,
    data: BenchmarkData,
    split: Split,
    alphas: Any = None,
    cv: int = 5,
    device: str | None = None,
) -> list[dict[str, Any]]:
    """Ridge encoding: α per target by CV on the commit stimuli (its CV Pearson r commits), the
    fitted model predicts the test stimuli (mean test Pearson r over targets). Ceiling:
    ``data.ceiling`` when the loader computed one (NSD's ncsnr ceiling, in r units), else the
    mean split-half noise ceiling of the targets on the same stimuli
    (``data.compute_noise_ceiling``)."""
    from ..data import compute_noise_ceiling

    resp = data.brain
    if not isinstance(resp, Responses) or split.kind != "stimuli":
        raise ValidationError("the encoding metric needs Responses and a stimulus split.")
    Y = np.asarray(resp.data, dtype=np.float32)
    X = np.asarray(X, dtype=np.float32)
    tr, te = split.commit, split.test
    cv_scores, predict = fit_ridge(X[tr], Y[tr], alphas=alphas, cv=cv, device=device)
    r = np.asarray(pearson_score(Y[te], predict(X[te])))
    common = {"scoring": "pearson", "method": "ridge", "aggregate": "mean", "resampled": "none"}
    rows = []
    for part, sel, value in (("commit", tr, np.nanmean(cv_scores)), ("test", te, np.nanmean(r))):
        ceil = np.nan
        if data.ceiling is not None:
            ceil = float(data.ceiling)
        elif resp.repetitions is not None and resp.n_reps >= 2:
            ceil = float(np.nanmean(compute_noise_ceiling(np.asarray(resp.repetitions)[:, sel])))
        rows.append(
            {**common, "split": part, "value": float(value), "ceiling_high": ceil, "n": len(sel)}
        )
    rows[1]["target_values"] = r.astype(np.float64).tolist()
    return rows


@register(METRICS)
def cka(
    X: np.ndarray,
    data: BenchmarkData,
    split: Split,
    kernel: str = "linear",
    debiased: bool = True,
) -> list[dict[str, Any]]:
    """CKA between the layer's features and the responses, on each part of the stimuli."""
    from ..compare import cka as cka_fn

    resp = data.brain
    if not isinstance(resp, Responses) or split.kind != "stimuli":
        raise ValidationError("the cka metric needs Responses and a stimulus split.")
    Y = np.asarray(resp.data, dtype=np.float64)
    return [
        {
            "method": "cka",
            "split": part,
            "value": float(
                cka_fn(np.asarray(X[sel], np.float64), Y[sel], kernel=kernel, debiased=debiased)
            ),
            "n": len(sel),
            "aggregate": "none",
            "resampled": "none",
        }
        for part, sel in (("commit", split.commit), ("test", split.test))
    ]


@register(METRICS)
def decoding(
    X: np.ndarray,
    data: BenchmarkData,
    split: Split,
    C: float = 1.0,
    n_splits: int = 4,
) -> list[dict[str, Any]]:
    """Linear decoding of ``data.labels`` from the layer's features (standardised logistic
    regression): accuracy by group-wise CV inside the commit part (commits), and of the model
    trained on the commit part on the held-out groups (scores). Ceiling: ``data.ceiling`` (the
    brain region's own accuracy on the same distinction); chance: 1 / n_classes."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import GroupKFold, cross_val_score
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    if data.labels is None:
        raise ValidationError("the decoding metric needs data.labels.")
    y = np.asarray(data.labels).astype(str)
    groups = np.asarray(data.groups).astype(str) if data.groups is not None else np.arange(len(y))
    X = np.asarray(X, dtype=np.float64)
    tr, te = split.commit, split.test

    def model() -> Any:
        return make_pipeline(StandardScaler(), LogisticRegression(C=C, max_iter=2000))

    k = min(n_splits, len(np.unique(groups[tr])))
    cv = cross_val_score(model(), X[tr], y[tr], groups=groups[tr], cv=GroupKFold(k))
    test = model().fit(X[tr], y[tr]).score(X[te], y[te])
    common = {
        "scoring": "accuracy",
        "method": "logistic",
        "aggregate": "none",
        "resampled": "none",
        "chance": 1.0 / len(np.unique(y)),
        "ceiling_high": np.nan if data.ceiling is None else float(data.ceiling),
    }
    return [
        {**common, "split": "commit", "value": float(np.mean(cv)), "n": len(tr)},
        {**common, "split": "test", "value": float(test), "n": len(te)},
    ]


def score_cell(
    metric: str, X: np.ndarray, data: BenchmarkData, split: Split, params: dict[str, Any]
) -> list[dict[str, Any]]:
    """Run the metric ``metric`` on one layer's features."""
    fn = lookup(METRICS, metric, "benchmark metric")
    return fn(X, data, split, **params)
