"""Figures and HTML reports; reads results, never fits anything."""

from ._dispatch import PLOTTERS, plot_result, register_plotter
from ._explain_plots import plot_concepts, plot_image_grid, plot_selectivity, plot_top_stimuli
from ._html import ReportSection, write_report
from ._plots import plot_encoding_profile, plot_layer_profile, plot_rdms, save_figure
from ._readout_plots import plot_attention_maps, plot_readout_comparison, plot_receptive_fields

__all__ = [
    "PLOTTERS",
    "ReportSection",
    "plot_attention_maps",
    "plot_concepts",
    "plot_encoding_profile",
    "plot_image_grid",
    "plot_layer_profile",
    "plot_rdms",
    "plot_readout_comparison",
    "plot_receptive_fields",
    "plot_result",
    "plot_selectivity",
    "plot_top_stimuli",
    "register_plotter",
    "save_figure",
    "write_report",
]
