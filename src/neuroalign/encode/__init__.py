"""Encoding models: model features → brain responses (ridge with per-target α, layer sweeps)."""

from ._estimators import RidgeEncoder
from ._ridge import DEFAULT_ALPHAS, RidgeCVResult, make_folds, solve_ridge, solve_ridge_cv
from ._sweep import SweepResult, sweep_layers, train_test_ids

__all__ = [
    "DEFAULT_ALPHAS",
    "RidgeCVResult",
    "RidgeEncoder",
    "SweepResult",
    "make_folds",
    "solve_ridge",
    "solve_ridge_cv",
    "sweep_layers",
    "train_test_ids",
]
