"""neuroalign: put artificial neural networks and brains side by side.

The top-level namespace holds the containers that carry data between the layers; the engines live
in subpackages: :mod:`neuroalign.extract`, :mod:`neuroalign.data`, :mod:`neuroalign.encode`,
:mod:`neuroalign.compare`, :mod:`neuroalign.report`. Importing ``neuroalign`` loads none of torch,
matplotlib or typer.
"""

from importlib.metadata import PackageNotFoundError, version

from .core._threads import torch_huge_pages

torch_huge_pages()  # before any model is built in this process (see the function)

from .core import (  # noqa: E402
    Activations,
    RDMs,
    Responses,
    Result,
    StimulusSet,
    TimedEvents,
    TimedSignals,
    TimeSeries,
    align,
    align_runs,
    concat_results,
    exceptions,
    get_backend,
    load_activations,
    load_responses,
    load_result,
    make_table,
    save_activations,
    save_responses,
    system_info,
)

try:
    __version__ = version("neuroalign")
except PackageNotFoundError:  # running from a source tree without installation
    __version__ = "0.0.0+unknown"

__all__ = [
    "Activations",
    "RDMs",
    "Responses",
    "Result",
    "StimulusSet",
    "TimeSeries",
    "TimedEvents",
    "TimedSignals",
    "__version__",
    "align",
    "align_runs",
    "concat_results",
    "exceptions",
    "get_backend",
    "load_activations",
    "load_responses",
    "load_result",
    "make_table",
    "save_activations",
    "save_responses",
    "system_info",
]
