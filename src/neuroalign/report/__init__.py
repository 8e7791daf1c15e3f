"""Figures and HTML reports; reads results, never fits anything."""

from . import _decode_plots  # noqa: F401  (registers the decoding.* and retrieval plotters)
from ._dispatch import PLOTTERS, plot_result, register_plotter
from ._html import ReportSection, write_report
from ._plots import plot_encoding_profile, plot_layer_profile, plot_rdms, save_figure

__all__ = [
    "PLOTTERS",
    "ReportSection",
    "plot_encoding_profile",
    "plot_layer_profile",
    "plot_rdms",
    "plot_result",
    "register_plotter",
    "save_figure",
    "write_report",
]
