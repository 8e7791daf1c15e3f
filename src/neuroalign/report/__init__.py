"""Figures and HTML reports; reads results, never fits anything."""

from . import (
    _decode_plots,  # noqa: F401  (registers the decoding.* and retrieval plotters)
    _narrative_plots,  # noqa: F401  (registers the encoding.narrative plotter)
    _plotters,  # noqa: F401  (registers the cka plotter)
    _trf_plots,  # noqa: F401  (registers the encoding.trf plotter)
)
from ._bench_plots import (
    plot_bench_layers,
    plot_benchmark_scatter,
    plot_model_key,
    plot_model_scores,
)
from ._brainmap import plot_brain_map, scores_to_nifti
from ._dispatch import PLOTTERS, plot_result, register_plotter
from ._explain_plots import plot_concepts, plot_image_grid, plot_selectivity, plot_top_stimuli
from ._html import RawHTML, ReportSection, html_format, write_report
from ._leaderboard import leaderboard_table, write_leaderboard
from ._plots import (
    plot_cka_heatmap,
    plot_encoding_profile,
    plot_generalization_matrix,
    plot_layer_profile,
    plot_model_comparison,
    plot_rdms,
    plot_time_course,
    save_figure,
    short_layer_name,
    style_cycle,
    unique_labels,
)
from ._readout_plots import plot_attention_maps, plot_readout_comparison, plot_receptive_fields
from ._result_report import collect_results, write_result_report

__all__ = [
    "PLOTTERS",
    "RawHTML",
    "ReportSection",
    "collect_results",
    "html_format",
    "leaderboard_table",
    "plot_attention_maps",
    "plot_bench_layers",
    "plot_benchmark_scatter",
    "plot_brain_map",
    "plot_cka_heatmap",
    "plot_concepts",
    "plot_encoding_profile",
    "plot_generalization_matrix",
    "plot_image_grid",
    "plot_layer_profile",
    "plot_model_comparison",
    "plot_model_key",
    "plot_model_scores",
    "plot_rdms",
    "plot_readout_comparison",
    "plot_receptive_fields",
    "plot_result",
    "plot_selectivity",
    "plot_time_course",
    "plot_top_stimuli",
    "register_plotter",
    "save_figure",
    "scores_to_nifti",
    "short_layer_name",
    "style_cycle",
    "unique_labels",
    "write_leaderboard",
    "write_report",
    "write_result_report",
]
