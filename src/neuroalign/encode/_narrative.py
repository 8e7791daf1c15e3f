"""Narrative (story, movie) encoding end to end: features on the stimulus clock → the recording's
clock → FIR delays → (banded) ridge with runs as cross-validation groups → per-target scores,
best layer and best delay, in one :class:`~neuroalign.core.Result`.

The steps, each a public function:

1. :func:`resample_series` — each run's features resampled (``resample``: Lanczos by default, as
   Huth et al. 2016) to the responses' sample times, after :func:`~neuroalign.core.align_runs`
   checked that both hold the same runs over the same stretch of time;
2. features z-scored within each run (optional), :func:`make_delays` (never crossing runs);
3. a solver from :data:`NARRATIVE_SOLVERS`: ``"ridge"`` (one :func:`solve_ridge_cv` per layer,
   α per target by group k-fold over runs) or ``"banded"`` (all layers as bands of one
   :func:`solve_banded_ridge_cv`);
4. scores per target: cross-validated R² over runs, or with ``test_runs`` Pearson r on runs left
   out of the fit; the best layer of each target by its cross-validated R² on the training runs
   (never by the test score); its best delay by the energy of its coefficients at each delay.
"""

from __future__ import annotations

import time as _time
import warnings
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from ..core import Result, TimeSeries, align_runs, make_table
from ..core._progress import track
from ..core._registry import register
from ..core._resample import RESAMPLERS, resample
from ..core._validation import check_choice
from ..core.exceptions import ConfigurationError, NeuroalignWarning, ValidationError
from ..core.metrics import pearson_score
from ._banded import solve_banded_ridge_cv
from ._delays import make_delays
from ._ridge import DEFAULT_ALPHAS, solve_ridge_cv

__all__ = ["NARRATIVE_SOLVERS", "narrative_encoding", "resample_series", "zscore_runs"]


def resample_series(
    series: TimeSeries,
    clock: TimeSeries,
    method: str = "lanczos",
    *,
    window: int = 3,
    cutoff: float | None = None,
    tolerance: float | None = None,
) -> TimeSeries:
    """``series`` (features on the stimulus clock) resampled to ``clock``'s sample times, run by
    run, in ``clock``'s run order.

    Parameters
    ----------
    series : TimeSeries
        E.g. one layer's features per word (times: onsets) or per audio frame.
    clock : TimeSeries
        The recording (fMRI TRs, M/EEG samples); only its runs and times are used.
    method, window, cutoff :
        As in :func:`resample` (``"lanczos"``, ``"box"``, ``"linear"``).
    tolerance : float, optional
        Seconds by which each run's first and last times may differ between the two (default:
        two samples of ``clock``); checked by ``align_runs(on="span")`` before any work.

    Returns
    -------
    TimeSeries with ``clock``'s runs and times and ``series``' columns.
    """
    if not isinstance(series, TimeSeries) or not isinstance(clock, TimeSeries):
        raise ValidationError(
            f"resample_series needs two TimeSeries; got {type(series).__name__} and "
            f"{type(clock).__name__}."
        )
    if method not in RESAMPLERS:
        raise ConfigurationError(f"method={method!r}: choose from {sorted(RESAMPLERS)}.")
    if tolerance is None:
        tolerance = (
            2.0 * float(np.median(np.diff(clock.run_times(clock.run_ids[0]))))
            if (clock.n_samples > 1)
            else 0.0
        )
    clock, series = align_runs(clock, series, on="span", tolerance=tolerance)
    parts = [
        resample(
            series.run_data(r),
            series.run_times(r),
            clock.run_times(r),
            method,
            window=window,
            cutoff=cutoff,
        )
        for r in clock.run_ids
    ]
    return TimeSeries(
        np.concatenate(parts).astype(np.float32, copy=False),
        clock.runs,
        clock.times,
        name=series.name,
        meta={**dict(series.meta), "resampled": method},
    )


def zscore_runs(series: TimeSeries) -> TimeSeries:
    """Each column z-scored within each run (constant columns set to 0)."""
    out = np.empty(series.data.shape, np.float32)
    for r in series.run_ids:
        s = series.run_slice(r)
        x = np.asarray(series.data[s], dtype=np.float64)
        sd = x.std(axis=0)
        out[s] = (x - x.mean(axis=0)) / np.where(sd > 0, sd, 1.0)
    return series.replace(out)


# ---------------------------------------------------------------------------------- solvers
NARRATIVE_SOLVERS: dict[str, Callable[..., dict[str, Any]]] = {}


def _delay_energy(coef: np.ndarray, n_delays: int) -> np.ndarray:
    """(n_delays × n_features, n_targets) coefficients → (n_delays, n_targets) sums of squares."""
    c = coef.reshape(n_delays, -1, coef.shape[-1])
    return np.einsum("dft,dft->dt", c, c)


@register(NARRATIVE_SOLVERS)
def ridge(
    Xs: list[np.ndarray], Y: np.ndarray, groups: np.ndarray, n_delays: int, **kw: Any
) -> dict[str, Any]:
    """One ridge per layer, α per target by group k-fold over runs."""
    quiet = kw.pop("quiet", False)
    cv_r2, coefs, intercepts, alphas, energy = [], [], [], [], []
    for X in track(Xs, len(Xs), "ridge per layer", quiet):
        res = solve_ridge_cv(X, Y, groups=groups, **kw)
        cv_r2.append(res.best_r2)
        coefs.append(res.coef)
        intercepts.append(res.intercept)
        alphas.append(res.best_alphas)
        energy.append(_delay_energy(res.coef, n_delays))  # type: ignore[arg-type]
    return {
        "cv_r2": np.stack(cv_r2),
        "coef": coefs,
        "intercept": intercepts,
        "alpha": np.stack(alphas),
        "energy": np.stack(energy),
    }


@register(NARRATIVE_SOLVERS)
def banded(
    Xs: list[np.ndarray], Y: np.ndarray, groups: np.ndarray, n_delays: int, **kw: Any
) -> dict[str, Any]:
    """All layers as the bands of one banded ridge; (γ, α) per target by group k-fold."""
    kw.pop("keep_coef", None)
    kw["scoring"] = "r2_score"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", NeuroalignWarning)
        res = solve_banded_ridge_cv(Xs, Y, groups=groups, **kw)
    n = len(Xs)
    # one joint model: its CV R² on every row; the layers ranked by their weight γ
    return {
        "cv_r2": np.repeat(res.best_scores[None], n, axis=0),
        "gamma": res.best_gammas.T,
        "coef": [np.vstack(res.coef)],
        "intercept": [res.intercept],
        "alpha": np.repeat(res.best_alphas[None], n, axis=0),
        "energy": np.stack([_delay_energy(c, n_delays) for c in res.coef]),
    }


# ---------------------------------------------------------------------------------- pipeline
def narrative_encoding(
    features: Mapping[str, TimeSeries] | TimeSeries,
    responses: TimeSeries,
    *,
    delays: Sequence[int] = (1, 2, 3, 4),
    method: str = "lanczos",
    solver: str = "ridge",
    alphas: Any = DEFAULT_ALPHAS,
    n_folds: int = 5,
    test_runs: Sequence[str] | None = None,
    zscore: bool = True,
    tolerance: float | None = None,
    model: str = "",
    n_iter: int = 20,
    device: str | None = None,
    memory_budget: int | str = "2GB",
    seed: int = 0,
    quiet: bool = False,
) -> Result:
    """Voxel-wise encoding of a narrative (story, movie) from features with their own timing.

    Parameters
    ----------
    features : mapping layer → TimeSeries, or one TimeSeries
        Features on the stimulus clock (one row per word, frame ...; e.g. from
        :func:`neuroalign.extract.word_features`), one per layer or feature space.
    responses : TimeSeries (n_samples, n_targets)
        The recording per TR (or sample), runs as in ``features``; ``targets`` (voxel ids,
        coordinates) are carried to the table when present.
    delays : sequence of int
        FIR delays in samples of ``responses`` (TRs), never crossing runs.
    method : {"lanczos", "box", "linear"}
        Resampling to the responses' times (:func:`resample`).
    solver : {"ridge", "banded"}
        :data:`NARRATIVE_SOLVERS`: a ridge per layer (best layer by cross-validated R²) or one
        banded ridge over all layers (best layer by its weight γ).
    alphas : sequence of float
    n_folds : int
        Group k-fold over the training runs (at most one fold per run; runs are never split).
    test_runs : sequence of str, optional
        Runs left out of every fit and scored by Pearson r; without them the score is the
        cross-validated R² over runs.
    zscore : bool
        z-score each resampled feature within each run.
    tolerance : float, optional
        Seconds by which a run's features and responses may differ at either end (default: two
        samples of ``responses``); beyond that, an error lists the runs.
    model : str
        A label for the ``model`` column.
    n_iter : int
        Space-weight candidates of the banded solver.
    device, memory_budget, seed :
        As in :func:`solve_ridge_cv`.
    quiet : bool
        No progress bar (over the layers of ``"ridge"``, the candidates of ``"banded"``).

    Returns
    -------
    Result (kind ``"encoding.narrative"``)
        Table: per-target rows (``aggregate="none"``, the target's best layer, its score and
        extras ``best_delay`` (samples), ``alpha``), and per-layer summary rows (mean and median
        score over targets, ``n_best``: targets whose best layer it is). Arrays: ``scores``
        (n_layers, n_targets), ``cv_r2`` (n_layers, n_targets), ``best_layer``, ``best_delay``,
        ``delay_energy`` (n_layers, n_delays, n_targets), ``alphas``, ``layers``, ``delays``.
    """
    t_start = _time.perf_counter()
    # ---------------------------------------------------------------- checks, before any work
    if isinstance(features, TimeSeries):
        features = {features.name: features}
    if not isinstance(features, Mapping) or not features:
        raise ValidationError(
            "features must be a non-empty mapping layer → TimeSeries (or one TimeSeries); got "
            f"{type(features).__name__}."
        )
    bad = [k for k, v in features.items() if not isinstance(v, TimeSeries)]
    if bad or not isinstance(responses, TimeSeries):
        raise ValidationError(
            f"features values and responses must be TimeSeries; got {bad or type(responses).__name__}."
        )
    check_choice(solver, "solver", tuple(NARRATIVE_SOLVERS))
    if method not in RESAMPLERS:
        raise ConfigurationError(f"method={method!r}: choose from {sorted(RESAMPLERS)}.")
    delays = [int(d) for d in delays]
    if not delays or len(set(delays)) != len(delays):
        raise ValidationError(f"delays must be distinct integers; got {delays}.")
    layers = [str(k) for k in features]
    run_ids = responses.run_ids
    test = [str(r) for r in (test_runs or [])]
    unknown = sorted(set(test) - set(run_ids))
    if unknown:
        raise ValidationError(f"test_runs {unknown} are not runs of the responses {list(run_ids)}.")
    train = [r for r in run_ids if r not in test]
    if len(train) < 2:
        raise ValidationError(
            f"at least 2 training runs are needed for run-wise cross-validation; got {train}."
        )
    if n_folds < 2:
        raise ValidationError(f"n_folds must be >= 2; got {n_folds}.")
    if tolerance is None and responses.n_samples > 1:
        tolerance = 2.0 * float(np.median(np.diff(responses.run_times(run_ids[0]))))
    for f in features.values():  # every run of every layer, before resampling any
        align_runs(responses, f, on="span", tolerance=tolerance)

    # ---------------------------------------------------------------- design
    t0 = _time.perf_counter()
    groups = responses.groups
    Xs = []
    for name in layers:
        x = resample_series(features[name], responses, method, tolerance=tolerance)
        if zscore:
            x = zscore_runs(x)
        Xs.append(make_delays(np.asarray(x.data), delays, groups=groups))
    Y = np.asarray(responses.data, dtype=np.float32)
    tr_mask = np.isin(responses.runs, train)
    t_design = _time.perf_counter() - t0

    # ---------------------------------------------------------------- fit
    t0 = _time.perf_counter()
    kw: dict[str, Any] = dict(
        alphas=alphas,
        cv=min(n_folds, len(train)),
        device=device,
        memory_budget=memory_budget,
        seed=seed,
        quiet=quiet,
    )
    if solver == "banded":
        kw["n_iter"] = n_iter
    if tr_mask.all():  # no held-out run: no copies of the design or the responses
        fit = NARRATIVE_SOLVERS[solver](Xs, Y, groups, len(delays), **kw)
    else:
        fit = NARRATIVE_SOLVERS[solver](
            [X[tr_mask] for X in Xs], Y[tr_mask], groups[tr_mask], len(delays), **kw
        )
    t_fit = _time.perf_counter() - t0

    # ---------------------------------------------------------------- scores
    cv_r2 = fit["cv_r2"]
    if solver == "banded":
        best_layer = np.argmax(fit["gamma"], axis=0)
    else:
        best_layer = np.argmax(np.where(np.isnan(cv_r2), -np.inf, cv_r2), axis=0)
    if test:
        te = ~tr_mask
        if solver == "banded":
            pred = np.hstack(Xs)[te] @ fit["coef"][0] + fit["intercept"][0]
            scores = np.repeat(pearson_score(Y[te], pred)[None], len(layers), axis=0)
        else:
            scores = np.stack(
                [
                    pearson_score(Y[te], X[te] @ c + b)
                    for X, c, b in zip(Xs, fit["coef"], fit["intercept"], strict=True)
                ]
            )
        scoring, split = "pearson", "test"
    else:
        scores, scoring, split = cv_r2, "r2", "cv"
    cols = np.arange(Y.shape[1])
    energy = fit["energy"]  # (n_layers, n_delays, n_targets)
    best_delay = np.asarray(delays)[np.argmax(energy[best_layer, :, cols], axis=1)]
    table = _table(
        layers, scores, best_layer, best_delay, fit["alpha"], responses, scoring, split, solver
    )
    params = {
        "delays": delays,
        "method": method,
        "solver": solver,
        "n_folds": int(kw["cv"]),
        "test_runs": test,
        "train_runs": train,
        "zscore": zscore,
        "tolerance": tolerance,
        "seconds": {
            "design": t_design,
            "fit": t_fit,
            "total": _time.perf_counter() - t_start,
        },
    }
    arrays = {
        "scores": scores,
        "cv_r2": cv_r2,
        "best_layer": best_layer,
        "best_delay": best_delay,
        "delay_energy": energy,
        "alphas": fit["alpha"],
        "layers": np.asarray(layers),
        "delays": np.asarray(delays),
    }
    if "gamma" in fit:
        arrays["gammas"] = fit["gamma"]
    table["model"] = model
    return Result(table, "encoding.narrative", arrays, params)


def _table(
    layers: list[str],
    scores: np.ndarray,
    best_layer: np.ndarray,
    best_delay: np.ndarray,
    alphas: np.ndarray,
    responses: TimeSeries,
    scoring: str,
    split: str,
    solver: str,
) -> pd.DataFrame:
    n_targets = scores.shape[1]
    cols = np.arange(n_targets)
    tg = responses.targets
    target_ids = (
        tg["target"].astype(str).to_numpy()
        if tg is not None and "target" in tg
        else np.asarray([f"t{i}" for i in range(n_targets)])
    )
    roi = tg["roi"].astype(str).to_numpy() if tg is not None and "roi" in tg else "all"
    per_target = pd.DataFrame(
        {
            "layer": np.asarray(layers)[best_layer],
            "roi": roi,
            "target": target_ids,
            "statistic": "score",
            "aggregate": "none",
            "value": scores[best_layer, cols],
            "n": 1,
            "best_delay": best_delay,
            "alpha": alphas[best_layer, cols],
        }
    )
    counts = np.bincount(best_layer, minlength=len(layers))
    summary = []
    for i, name in enumerate(layers):
        for agg, fn in (("mean", np.nanmean), ("median", np.nanmedian)):
            summary.append(
                {
                    "layer": name,
                    "roi": "all",
                    "statistic": "score",
                    "aggregate": agg,
                    "value": float(fn(scores[i])),
                    "n": int(np.isfinite(scores[i]).sum()),
                    "n_best": int(counts[i]),
                }
            )
    return make_table(
        pd.concat([pd.DataFrame(summary), per_target], ignore_index=True),
        analysis="encoding",
        scoring=scoring,
        split=split,
        method=solver,
    )
