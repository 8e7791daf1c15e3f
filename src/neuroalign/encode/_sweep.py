"""``sweep_layers``: fit every layer of a model to every ROI; pick the best layer on training data.

The result is one :class:`~neuroalign.core.Result` (kind ``"encoding.sweep"``): a tidy table with
one row per layer × roi × quantity (test Pearson r, test R², training-CV R², ceiling-normalised r),
each as the mean and the median over the ROI's targets, and per-target arrays (α, scores).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import clone

from ..core import Activations, Responses, Result, align, make_table
from ..core._backend import chunk_slices, targets_per_chunk
from ..core._progress import track
from ..core._validation import parse_memory_budget
from ..core.exceptions import ConfigurationError, StimulusMismatchError, ValidationError
from ..core.metrics import pearson_score, r2_score
from ._estimators import RidgeEncoder
from ._ridge import solve_ridge_cv
from ._ridge_inputs import TargetReader, make_folds
from ._stats import MIN_CEILING

__all__ = ["sweep_layers", "sweep_table", "sweep_targets", "train_test_ids"]

Readout = Any  # a scikit-learn regressor (fit(X, Y) / predict(X)) or a factory returning one

#: The quantities of the sweep table: (statistic, scoring, split, per-target array name).
_QUANTITIES = (
    ("score", "pearson", "test", "test_pearson"),
    ("score", "r2", "test", "test_r2"),
    ("cv_score", "r2", "cv", "cv_r2"),
)
_AGGREGATES: dict[str, Callable[[np.ndarray], float]] = {
    "mean": lambda v: float(np.nanmean(v)) if np.isfinite(v).any() else np.nan,
    "median": lambda v: float(np.nanmedian(v)) if np.isfinite(v).any() else np.nan,
}


def train_test_ids(
    ids: np.ndarray, test_size: float = 0.2, seed: int = 0
) -> tuple[np.ndarray, np.ndarray]:
    """A seeded random split of stimulus ids into training and test ids."""
    if not 0 < test_size < 1:
        raise ValidationError(f"test_size must be in (0, 1); got {test_size}.")
    rng = np.random.default_rng(seed)
    perm = rng.permutation(len(ids))
    n_test = max(1, round(test_size * len(ids)))
    return np.asarray(ids)[np.sort(perm[n_test:])], np.asarray(ids)[np.sort(perm[:n_test])]


def _split_rows(
    ids: np.ndarray, split: tuple[Any, Any] | None, test_size: float, seed: int
) -> tuple[np.ndarray, np.ndarray]:
    """Row indices of the training and test stimuli (a given split is checked against ``ids``)."""
    if split is None:
        train, test = train_test_ids(ids, test_size, seed)
    else:
        if not isinstance(split, (tuple, list)) or len(split) != 2:
            raise ValidationError(
                "split must be a pair (train_ids, test_ids) of stimulus ids; "
                f"got {type(split).__name__}."
            )
        train, test = (np.asarray([str(s) for s in part]) for part in split)
        if train.size < 2 or test.size < 1:
            raise ValidationError(
                f"split needs >= 2 training and >= 1 test stimuli; got {train.size} and {test.size}."
            )
        both = np.intersect1d(train, test)
        if both.size:
            raise ValidationError(
                f"split: {both.size} stimulus id(s) are in both train and test, e.g. {both[:5].tolist()}."
            )
    pos = {s: i for i, s in enumerate(ids)}
    missing = [s for s in (*train, *test) if s not in pos]
    if missing:
        raise StimulusMismatchError(
            f"split names {len(missing)} stimulus id(s) that the responses do not have, e.g. "
            f"{missing[:5]}."
        )
    return np.array([pos[s] for s in train]), np.array([pos[s] for s in test])


def _make_readout(readout: Readout | None, encoder_params: Mapping[str, Any]) -> Any:
    """The estimator to fit per layer: a RidgeEncoder from ``encoder_params`` by default; a name
    of :data:`~neuroalign.encode.READOUTS` (``"ridge"``, ``"factorized"``, ``"attention"``) builds
    that readout from ``encoder_params``."""
    if isinstance(readout, str) and readout != "ridge":
        from ..core._registry import lookup
        from ._readout_compare import READOUTS

        return lookup(READOUTS, readout, "readout")(**encoder_params)
    if readout is None or readout == "ridge":
        try:
            return RidgeEncoder(**encoder_params)
        except TypeError as err:
            allowed = sorted(RidgeEncoder().get_params())
            raise ConfigurationError(
                f"sweep_layers: {err}; encoder parameters are {allowed}."
            ) from None
    if encoder_params:
        raise ConfigurationError(
            f"sweep_layers: encoder parameters {sorted(encoder_params)} apply to the default ridge "
            "readout only; set them on the readout you pass."
        )
    factory = isinstance(readout, type) or (callable(readout) and not hasattr(readout, "fit"))
    est = readout() if factory else readout
    if not (hasattr(est, "fit") and hasattr(est, "predict")):
        raise ConfigurationError(
            "readout must be a scikit-learn regressor (fit/predict) or a function returning one; "
            f"got {type(est).__name__}."
        )
    return est


def sweep_layers(
    activations: Activations,
    responses: Responses,
    test_size: float = 0.2,
    seed: int = 0,
    ceiling: np.ndarray | None = None,
    roi_column: str = "roi",
    split: tuple[Any, Any] | None = None,
    readout: Readout | None = None,
    quiet: bool = False,
    **encoder_params: Any,
) -> Result:
    """Fit an encoder per layer and score it on held-out stimuli.

    The stimuli are split once into training and test sets (seeded, or the dataset's own
    ``split``). On the training set each layer's encoder chooses its hyper-parameters by inner
    cross-validation; the layer with the best mean cross-validated R² within an ROI is that ROI's
    best layer — chosen on training data only. Test-set Pearson r and R² are reported for every
    layer, as the mean and the median over the ROI's targets.

    Parameters
    ----------
    activations : Activations
    responses : Responses
        2-D responses (possibly memory-mapped: the default ridge readout reads them in chunks of
        targets and never copies them); ROIs from ``targets[roi_column]`` (all targets form one
        ROI ``"all"`` when the column is absent).
    test_size : float
        Fraction of stimuli held out (ignored when ``split`` is given).
    seed : int
        Seed of the split and of the inner cross-validation folds.
    ceiling : array (n_targets,), optional
        Per-target noise ceiling of Pearson r (``ceiling_high``; ``ceiling_normalized`` rows are
        ``mean r / mean ceiling`` and ``median r / median ceiling``).
    roi_column : str
    split : (train_ids, test_ids), optional
        A dataset's own train/test stimulus ids.
    readout : str, estimator or callable, optional
        The per-layer encoder: a name of ``READOUTS`` (``"ridge"``, ``"factorized"``,
        ``"attention"``; built from ``encoder_params``, e.g. ``feature_shape=(C, H, W)`` for the
        factorised readout on flattened maps), a scikit-learn regressor (cloned per layer) or a
        function returning a new one. Default: :class:`RidgeEncoder` built from ``encoder_params``. A readout that
        exposes ``best_cv_r2_`` after ``fit`` provides the selection score itself; otherwise it is
        the 5-fold R² on the training set.
    quiet : bool
    **encoder_params
        Passed to :class:`RidgeEncoder` (``alphas``, ``cv``, ``scoring``, ``device``, ...).

    Returns
    -------
    Result
        ``kind="encoding.sweep"``. Table: ``analysis="encoding"``, ``model``, ``layer``, ``roi``,
        ``statistic`` (``score`` | ``cv_score`` | ``ceiling_normalized``), ``scoring``
        (``pearson`` | ``r2``), ``split`` (``test`` | ``cv``), ``aggregate`` (``mean`` |
        ``median``), ``value``, ``ceiling_high``, ``n`` (targets), extras ``layer_index`` and
        ``is_best``. ``params["best_layers"]`` maps roi → best layer; ``arrays`` hold
        ``train_ids``, ``test_ids``, ``layers``, ``rois`` and per-target ``alpha``,
        ``cv_r2``, ``test_pearson``, ``test_r2`` (n_layers × n_targets) and ``ceiling``.
        :func:`sweep_table` pivots it to one row per layer × roi.
    """
    activations, responses = align(activations, responses)
    if responses.is_timeseries:
        raise ValidationError(
            "sweep_layers needs 2-D responses (stimulus × target); average or pick a time window."
        )
    assert responses.data is not None and responses.targets is not None
    est = _make_readout(readout, encoder_params)
    if readout == "ridge":
        readout = None  # the named default: the fast chunked ridge path
    if readout is None:
        est.set_params(seed=seed)  # the inner folds share the sweep's seed
    tr, te = _split_rows(np.asarray(responses.stimulus_ids), split, test_size, seed)
    Y = responses.data
    t = responses.n_targets
    rois = (
        responses.targets[roi_column].astype(str).to_numpy()
        if roi_column in responses.targets
        else np.full(t, "all")
    )
    if ceiling is not None:
        ceiling = np.asarray(ceiling, dtype=np.float64)
        if ceiling.shape != (t,):
            raise ValidationError(
                f"ceiling has shape {ceiling.shape}; expected one value per target ({t},)."
            )
    layers = list(activations.layer_names)
    per_target = {
        k: np.full((len(layers), t), np.nan) for k in ("alpha", "cv_r2", "test_pearson", "test_r2")
    }
    fit_layer = _fit_ridge_layer if isinstance(est, RidgeEncoder) else _fit_any_layer
    cache: dict[str, Any] = {}
    for li in track(range(len(layers)), len(layers), "encode layers", quiet):
        X = np.asarray(activations[layers[li]])
        for k, v in fit_layer(est, X, Y, tr, te, seed, cache).items():
            per_target[k][li] = v
    table, best = _summary(activations.model, layers, rois, per_target, ceiling)
    arrays = {
        "train_ids": np.asarray(responses.stimulus_ids)[tr].astype(str),
        "test_ids": np.asarray(responses.stimulus_ids)[te].astype(str),
        "layers": np.asarray(layers, dtype=str),
        "rois": rois.astype(str),
        **per_target,
    }
    if ceiling is not None:
        arrays["ceiling"] = ceiling
    params = {
        "best_layers": best,
        "model": activations.model,
        "readout": type(est).__name__,
        "encoder_params": {k: _jsonable(v) for k, v in est.get_params(deep=False).items()}
        if hasattr(est, "get_params")
        else {},
        "split": "given" if split is not None else "random",
        "test_size": test_size if split is None else len(te) / (len(tr) + len(te)),
        "seed": seed,
        "n_train": len(tr),
        "n_test": len(te),
        "selection": "mean cross-validated R² on the training stimuli",
    }
    return Result(table, "encoding.sweep", arrays, params)


def _jsonable(v: Any) -> Any:
    if isinstance(v, (np.ndarray, tuple, list)):
        return [_jsonable(x) for x in np.asarray(v).tolist()] if np.ndim(v) else v
    if isinstance(v, (np.generic,)):
        return v.item()
    if v is None or isinstance(v, (str, int, float, bool)):
        return v
    return repr(v)


def _fit_ridge_layer(
    est: RidgeEncoder,
    X: np.ndarray,
    Y: Any,
    tr: np.ndarray,
    te: np.ndarray,
    seed: int,
    cache: dict[str, Any],
) -> dict[str, np.ndarray]:
    """The ridge readout through the solver: Y is read in target chunks, never copied."""
    params = est.get_params()
    dtype = np.float32 if params["dtype"] == "float32" else np.float64
    res = solve_ridge_cv(
        _rows(X, tr, dtype),
        TargetReader(Y, rows=tr),
        alphas=params["alphas"],
        cv=params["cv"],
        scoring=params["scoring"],
        fit_intercept=params["fit_intercept"],
        standardize=params["standardize"],
        device=params["device"],
        dtype=params["dtype"],
        memory_budget=params["memory_budget"],
        shuffle=params["shuffle"],
        seed=params["seed"],
    )
    coef = res.coef
    assert coef is not None
    x_te = _rows(X, te, dtype)
    test_r, test_r2 = _test_scores(
        lambda sl: x_te @ coef[:, sl] + res.intercept[sl].astype(dtype),
        TargetReader(Y, rows=te),
        parse_memory_budget(params["memory_budget"]),
        dtype,
    )
    # targets excluded as constant (α NaN) have no test score: their constant prediction of a
    # constant target gave r = R² = 1 from float32 rounding, lifting every ROI mean
    excluded = np.isnan(res.best_alphas)
    test_r[excluded] = np.nan
    test_r2[excluded] = np.nan
    return {
        "alpha": res.best_alphas,
        "cv_r2": res.best_r2,
        "test_pearson": test_r,
        "test_r2": test_r2,
    }


def _fit_any_layer(
    est: Any,
    X: np.ndarray,
    Y: Any,
    tr: np.ndarray,
    te: np.ndarray,
    seed: int,
    cache: dict[str, Any],
) -> dict[str, np.ndarray]:
    """Any scikit-learn-style readout; the training and test responses are copied once."""
    if "y_tr" not in cache:
        cache["y_tr"] = np.asarray(Y[tr], dtype=np.float32)
        cache["y_te"] = np.asarray(Y[te], dtype=np.float32)
    y_tr, y_te = cache["y_tr"], cache["y_te"]
    x_tr, x_te = X[tr], X[te]
    model = clone(est).fit(x_tr, y_tr)
    cv_r2 = getattr(model, "best_cv_r2_", None)
    if cv_r2 is None:
        pred = np.zeros_like(y_tr)
        for ftr, fva in make_folds(len(tr), 5, seed=seed):
            pred[fva] = np.asarray(clone(est).fit(x_tr[ftr], y_tr[ftr]).predict(x_tr[fva])).reshape(
                len(fva), -1
            )
        cv_r2 = r2_score(y_tr, pred)
    pred_te = np.asarray(model.predict(x_te)).reshape(len(te), -1)
    alpha = getattr(model, "best_alphas_", np.full(y_tr.shape[1], np.nan))
    return {
        "alpha": np.asarray(alpha, dtype=np.float64),
        "cv_r2": np.asarray(cv_r2, dtype=np.float64),
        "test_pearson": pearson_score(y_te, pred_te),
        "test_r2": r2_score(y_te, pred_te),
    }


def _rows(X: np.ndarray, rows: np.ndarray, dtype: Any) -> np.ndarray:
    return np.asarray(X[rows], dtype=dtype)


def _test_scores(
    predict: Callable[[slice], np.ndarray], reader: TargetReader, budget: int, dtype: Any
) -> tuple[np.ndarray, np.ndarray]:
    """Test-set Pearson r and R² per target, computed chunk by chunk of targets."""
    r = np.empty(reader.t)
    r2 = np.empty(reader.t)
    step = min(4096, targets_per_chunk(4 * reader.n * np.dtype(dtype).itemsize, budget))
    with np.errstate(invalid="ignore", divide="ignore"):
        for sl in chunk_slices(reader.t, step):
            y = reader.read(sl, dtype)
            pred = predict(sl)
            r[sl] = pearson_score(y, pred)
            r2[sl] = r2_score(y, pred)
    return r, r2


def _summary(
    model: str,
    layers: list[str],
    rois: np.ndarray,
    per_target: Mapping[str, np.ndarray],
    ceiling: np.ndarray | None,
) -> tuple[pd.DataFrame, dict[str, str]]:
    """The tidy table (layer × roi × quantity × aggregate) and the best layer per roi."""
    roi_names = list(pd.unique(rois))
    masks = {roi: rois == roi for roi in roi_names}
    best: dict[str, str] = {}
    for roi in roi_names:
        cv: Any = [
            _AGGREGATES["mean"](per_target["cv_r2"][li][masks[roi]]) for li in range(len(layers))
        ]
        cv = np.where(np.isfinite(cv), cv, -np.inf)
        best[roi] = layers[int(np.argmax(cv))]
    rows = []
    for roi in roi_names:
        m = masks[roi]
        ceil = ceiling[m] if ceiling is not None else None
        for li, layer in enumerate(layers):
            base = {"roi": roi, "layer": layer, "layer_index": li, "is_best": best[roi] == layer}
            for agg, fn in _AGGREGATES.items():
                c_agg = fn(ceil) if ceil is not None else np.nan
                for statistic, scoring, split, key in _QUANTITIES:
                    v = per_target[key][li][m]
                    rows.append(
                        {
                            **base,
                            "statistic": statistic,
                            "scoring": scoring,
                            "split": split,
                            "aggregate": agg,
                            "value": fn(v),
                            "ceiling_high": c_agg if scoring == "pearson" else np.nan,
                            "n": int(np.isfinite(v).sum()),
                        }
                    )
                if ceil is not None:
                    # over the targets with both a score and a ceiling (≥ MIN_CEILING, as
                    # ceiling_normalized per target): a mean of r over all targets divided by the
                    # mean ceiling of fewer of them is neither, and near-zero ceilings explode
                    v = per_target["test_pearson"][li][m]
                    with np.errstate(invalid="ignore"):
                        both = np.isfinite(v) & (ceil >= MIN_CEILING)
                    c_both = fn(ceil[both]) if both.any() else np.nan
                    ok = bool(c_both) and bool(np.isfinite(c_both))
                    rows.append(
                        {
                            **base,
                            "statistic": "ceiling_normalized",
                            "scoring": "pearson",
                            "split": "test",
                            "aggregate": agg,
                            "value": fn(v[both]) / c_both if ok else np.nan,
                            "ceiling_high": 1.0,
                            "n": int(both.sum()),
                        }
                    )
    table = make_table(rows, analysis="encoding", model=model, method="ridge")
    return table, best


def sweep_table(result: Result, aggregate: str = "mean") -> pd.DataFrame:
    """One row per layer × roi: ``cv_score`` (training-CV R²), ``test_r``, ``test_r2``,
    ``ceiling``, ``normalized`` and ``is_best``, aggregated over targets by ``aggregate``.

    A pivot of the tidy ``result.table`` of :func:`sweep_layers`, for display and plots.
    """
    if not isinstance(result, Result) or not result.kind.startswith("encoding.sweep"):
        raise ValidationError(
            "sweep_table needs the Result of sweep_layers (kind 'encoding.sweep')."
        )
    if aggregate not in _AGGREGATES:
        raise ConfigurationError(f"aggregate={aggregate!r}; choose one of {sorted(_AGGREGATES)}.")
    t = result.table[result.table["aggregate"] == aggregate]
    names = {
        ("cv_score", "r2"): "cv_score",
        ("score", "pearson"): "test_r",
        ("score", "r2"): "test_r2",
        ("ceiling_normalized", "pearson"): "normalized",
    }
    keys = ["model", "roi", "layer", "layer_index", "is_best"]
    wide = t.assign(col=[names[(s, c)] for s, c in zip(t["statistic"], t["scoring"], strict=True)])
    out = wide.pivot(index=keys, columns="col", values="value").reset_index()
    ceil = t[(t["statistic"] == "score") & (t["scoring"] == "pearson")]
    out = out.merge(
        ceil[["roi", "layer", "ceiling_high"]].rename(columns={"ceiling_high": "ceiling"}),
        on=["roi", "layer"],
    )
    if "normalized" not in out:
        out["normalized"] = np.nan
    out.columns.name = None
    cols = [*keys[:4], "cv_score", "test_r", "test_r2", "ceiling", "normalized", "is_best"]
    roi_order = {r: i for i, r in enumerate(pd.unique(t["roi"]))}
    out = out.assign(_o=out["roi"].map(roi_order)).sort_values(["_o", "layer_index"], kind="stable")
    return out[cols].reset_index(drop=True)


def sweep_targets(result: Result) -> pd.DataFrame:
    """The per-target values of a :func:`sweep_layers` result as a schema table: one row per
    layer × target × quantity (``aggregate="none"``), with the chosen ``alpha`` as an extra."""
    if not isinstance(result, Result) or not result.kind.startswith("encoding.sweep"):
        raise ValidationError(
            "sweep_targets needs the Result of sweep_layers (kind 'encoding.sweep')."
        )
    a = result.arrays
    layers, rois = a["layers"], a["rois"]
    n_l, t = a["alpha"].shape
    ceiling = a["ceiling"] if "ceiling" in a else np.full(t, np.nan)
    frames = []
    for statistic, scoring, split, key in _QUANTITIES:
        frames.append(
            pd.DataFrame(
                {
                    "layer": np.repeat(layers, t),
                    "roi": np.tile(rois, n_l),
                    "target": np.tile(np.arange(t).astype(str), n_l),
                    "statistic": statistic,
                    "scoring": scoring,
                    "split": split,
                    "value": a[key].ravel(),
                    "ceiling_high": np.tile(ceiling, n_l) if scoring == "pearson" else np.nan,
                    "alpha": a["alpha"].ravel(),
                }
            )
        )
    return make_table(
        pd.concat(frames, ignore_index=True),
        analysis="encoding",
        model=str(result.params.get("model", "")),
        method="ridge",
        aggregate="none",
        n=1,
    )
