"""Brain data and stimuli: simulators (``make_*``), bundled real data (``load_*``), noise ceilings."""

from ._ceiling import compute_noise_ceiling, split_half_reliability
from ._kriegeskorte92 import KRIEGESKORTE92_CITATION, Kriegeskorte92, load_kriegeskorte92
from ._simulate import (
    SHAPES,
    SimulationTruth,
    compute_image_statistics,
    make_responses,
    make_shape_images,
)

__all__ = [
    "KRIEGESKORTE92_CITATION",
    "SHAPES",
    "Kriegeskorte92",
    "SimulationTruth",
    "compute_image_statistics",
    "compute_noise_ceiling",
    "load_kriegeskorte92",
    "make_responses",
    "make_shape_images",
    "split_half_reliability",
]
