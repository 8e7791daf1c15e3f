"""Encoding models: model features → brain responses.

Ridge with a cross-validated α per target (shuffled k-fold by squared error by default, group
k-fold, or closed-form GCV), banded ridge, layer sweeps returning one ``Result``, FIR delays for
time series, permutation tests, FDR and ceiling normalisation. See ``docs/encode.md``.
Naturalistic stimuli: ``resample`` to the recording clock and temporal response functions
(``ReceptiveField``, ``cross_validate_trf``); see ``docs/naturalistic.md``.
"""

from ..core import fdr_correction
from ..core._resample import RESAMPLERS, resample
from ._attention import AttentionReadout
from ._banded import (
    BandedRidgeEncoder,
    BandedRidgeResult,
    simplex_candidates,
    solve_banded_ridge_cv,
    variance_partitioning,
)
from ._delays import make_delays
from ._estimators import RidgeEncoder
from ._factorized import FactorizedReadout
from ._incontext import InContextEncoder, load_incontext_encoder
from ._narrative import NARRATIVE_SOLVERS, narrative_encoding, resample_series, zscore_runs
from ._readout_compare import READOUTS, compare_readouts
from ._reconstruct import RECONSTRUCTION_WINDOWS, reconstruct_over_time
from ._ridge import DEFAULT_ALPHAS, RidgeCVResult, solve_ridge, solve_ridge_cv
from ._ridge_inputs import TargetReader, make_folds
from ._stats import ceiling_normalized, permutation_test, summarize_by_roi
from ._sweep import sweep_layers, sweep_table, sweep_targets, train_test_ids
from ._trf import ReceptiveField
from ._trf_cv import cross_validate_trf

__all__ = [
    "DEFAULT_ALPHAS",
    "NARRATIVE_SOLVERS",
    "READOUTS",
    "RECONSTRUCTION_WINDOWS",
    "RESAMPLERS",
    "AttentionReadout",
    "BandedRidgeEncoder",
    "BandedRidgeResult",
    "FactorizedReadout",
    "InContextEncoder",
    "ReceptiveField",
    "RidgeCVResult",
    "RidgeEncoder",
    "TargetReader",
    "ceiling_normalized",
    "compare_readouts",
    "cross_validate_trf",
    "fdr_correction",
    "load_incontext_encoder",
    "make_delays",
    "make_folds",
    "narrative_encoding",
    "permutation_test",
    "reconstruct_over_time",
    "resample",
    "resample_series",
    "simplex_candidates",
    "solve_banded_ridge_cv",
    "solve_ridge",
    "solve_ridge_cv",
    "summarize_by_roi",
    "sweep_layers",
    "sweep_table",
    "sweep_targets",
    "train_test_ids",
    "variance_partitioning",
    "zscore_runs",
]
