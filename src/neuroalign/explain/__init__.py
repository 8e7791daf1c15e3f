"""Explain what a target (voxel, roi, model unit) responds to, using fitted encoders as in-silico
brains: top stimuli by predicted or measured response, concept ranking in a joint image–text (or
class-label) space, unit-level selectivity and activation sparsity, and stimulus synthesis through
differentiable encoders. Every function returns a :class:`~neuroalign.core.Result` with
``analysis="explain"``.
"""

from ._concepts import (
    BRAINSCUBA_TEMPERATURE,
    CONCEPT_METHODS,
    ConceptSpace,
    concept_prediction,
    rank_concepts,
)
from ._embed import classifier_concepts, embed_concepts, embed_images, imagenet_classes
from ._mds import most_discriminative_stimuli
from ._readout import (
    LinearReadout,
    as_readout,
    fit_readout,
    load_readout,
    save_readout,
    unit_readout,
)
from ._screen import top_stimuli, top_stimuli_measured
from ._synthesis import PARAMETERIZATIONS, FeatureModel, FourierImage, PixelImage, synthesize
from ._units import (
    ACTIVATION_TYPES,
    activation_sparsity,
    category_selectivity,
    match_units,
    measure_activation_sparsity,
    sparseness,
)

__all__ = [
    "ACTIVATION_TYPES",
    "BRAINSCUBA_TEMPERATURE",
    "CONCEPT_METHODS",
    "PARAMETERIZATIONS",
    "ConceptSpace",
    "FeatureModel",
    "FourierImage",
    "LinearReadout",
    "PixelImage",
    "activation_sparsity",
    "as_readout",
    "category_selectivity",
    "classifier_concepts",
    "concept_prediction",
    "embed_concepts",
    "embed_images",
    "fit_readout",
    "imagenet_classes",
    "load_readout",
    "match_units",
    "measure_activation_sparsity",
    "most_discriminative_stimuli",
    "rank_concepts",
    "save_readout",
    "sparseness",
    "synthesize",
    "top_stimuli",
    "top_stimuli_measured",
    "unit_readout",
]
