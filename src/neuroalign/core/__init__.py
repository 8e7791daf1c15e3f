"""Core: containers, exceptions, validation, the numerical backend, registries and scores.

Everything else in neuroalign builds on this layer; it imports nothing heavy (no torch, no
matplotlib, no typer) at import time.
"""

from . import exceptions, metrics
from ._activations import Activations
from ._align import align
from ._align_runs import align_runs
from ._backend import Backend, get_backend
from ._info import system_info
from ._io import load_activations, load_responses, save_activations, save_responses
from ._multiple import fdr_correction
from ._rdms import RDMs
from ._responses import Responses
from ._result import COLUMNS, Result, concat_results, load_result, make_table
from ._stimuli import StimulusSet
from ._timed import TimedEvents, TimedSignals, TimeSeries
from ._timed_io import load_timeseries, save_timeseries

__all__ = [
    "COLUMNS",
    "Activations",
    "Backend",
    "RDMs",
    "Responses",
    "Result",
    "StimulusSet",
    "TimeSeries",
    "TimedEvents",
    "TimedSignals",
    "align",
    "align_runs",
    "concat_results",
    "exceptions",
    "fdr_correction",
    "get_backend",
    "load_activations",
    "load_responses",
    "load_result",
    "load_timeseries",
    "make_table",
    "metrics",
    "save_activations",
    "save_responses",
    "save_timeseries",
    "system_info",
]
