"""``sweep_layers``: fit every layer of a model to every ROI; pick the best layer on training data."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from ..core import Activations, Responses, align
from ..core._progress import track
from ..core.exceptions import ValidationError
from ..core.metrics import pearson_score, r2_score
from ._estimators import RidgeEncoder

__all__ = ["SweepResult", "sweep_layers", "train_test_ids"]


@dataclass(frozen=True, eq=False)
class SweepResult:
    """Result of :func:`sweep_layers`.

    Attributes
    ----------
    table : DataFrame
        One row per (layer, roi): ``cv_score`` (training data, used for selection), ``test_r``,
        ``test_r2``, ``ceiling``, ``normalized`` (``test_r / ceiling``), ``is_best``.
    targets : DataFrame
        One row per (layer, target) with the same scores and the chosen ``alpha``.
    best_layers : dict
        ROI → the layer with the highest ``cv_score``.
    train_ids, test_ids : arrays of str
    """

    table: pd.DataFrame
    targets: pd.DataFrame
    best_layers: dict[str, str]
    train_ids: np.ndarray
    test_ids: np.ndarray


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


def sweep_layers(
    activations: Activations,
    responses: Responses,
    test_size: float = 0.2,
    seed: int = 0,
    ceiling: np.ndarray | None = None,
    roi_column: str = "roi",
    quiet: bool = False,
    **encoder_params: Any,
) -> SweepResult:
    """Fit a :class:`RidgeEncoder` per layer and score it on held-out stimuli.

    The stimuli are split once into training and test sets. On the training set each layer's
    encoder chooses α per target by inner cross-validation; the layer with the best mean
    cross-validated score within an ROI is that ROI's best layer — chosen on training data only.
    Test-set Pearson r and R² are reported for every layer.

    Parameters
    ----------
    activations : Activations
    responses : Responses
        2-D responses; ROIs from ``targets[roi_column]`` (all targets form one ROI ``"all"`` when
        the column is absent).
    test_size : float
        Fraction of stimuli held out.
    seed : int
        Seed of the split.
    ceiling : array (n_targets,), optional
        Per-target noise ceiling of Pearson r; ``normalized = mean test r / mean ceiling`` per ROI.
    roi_column : str
    quiet : bool
    **encoder_params
        Passed to :class:`RidgeEncoder` (``alphas``, ``cv``, ``device``, ...).

    Returns
    -------
    SweepResult
    """
    activations, responses = align(activations, responses)
    if responses.is_timeseries:
        raise ValidationError(
            "sweep_layers needs 2-D responses (stimulus × target); average or pick a time window."
        )
    assert responses.data is not None and responses.targets is not None
    train, test = train_test_ids(responses.stimulus_ids, test_size, seed)
    pos = {s: i for i, s in enumerate(responses.stimulus_ids)}
    tr = np.array([pos[s] for s in train])
    te = np.array([pos[s] for s in test])
    Y = np.asarray(responses.data)
    rois = (
        responses.targets[roi_column].astype(str).to_numpy()
        if roi_column in responses.targets
        else np.full(responses.n_targets, "all")
    )
    if ceiling is not None and len(ceiling) != responses.n_targets:
        raise ValidationError(
            f"ceiling has {len(ceiling)} values; expected one per target ({responses.n_targets})."
        )
    target_rows = []
    for layer in track(activations.layer_names, len(activations), "encode layers", quiet):
        X = np.asarray(activations[layer], dtype=np.float32)
        enc = RidgeEncoder(**encoder_params).fit(X[tr], Y[tr])
        pred = enc.predict(X[te])
        target_rows.append(
            pd.DataFrame(
                {
                    "layer": layer,
                    "layer_index": activations.layer_names.index(layer),
                    "roi": rois,
                    "target_index": np.arange(responses.n_targets),
                    "alpha": enc.best_alphas_,
                    "cv_score": enc.best_cv_scores_,
                    "test_r": pearson_score(Y[te], pred),
                    "test_r2": r2_score(Y[te], pred),
                    "ceiling": np.nan if ceiling is None else np.asarray(ceiling),
                }
            )
        )
    targets = pd.concat(target_rows, ignore_index=True)
    table = (
        targets.groupby(["layer_index", "layer", "roi"], sort=False)
        .agg(
            cv_score=("cv_score", "mean"),
            test_r=("test_r", "mean"),
            test_r2=("test_r2", "mean"),
            ceiling=("ceiling", "mean"),
            n_targets=("target_index", "size"),
        )
        .reset_index()
    )
    roi_order = {r: i for i, r in enumerate(pd.unique(rois))}  # ROIs in the order of the targets
    table = (
        table.assign(roi_order=table["roi"].map(roi_order))
        .sort_values(["roi_order", "layer_index"], kind="stable")
        .drop(columns="roi_order")
    )
    table["normalized"] = table["test_r"] / table["ceiling"]
    best_idx = table.groupby("roi", sort=False)["cv_score"].idxmax()
    table["is_best"] = table.index.isin(best_idx)
    best = {str(table.loc[i, "roi"]): str(table.loc[i, "layer"]) for i in best_idx}
    table = table.reset_index(drop=True)
    table.insert(0, "model", activations.model)
    return SweepResult(table, targets, best, train, test)
