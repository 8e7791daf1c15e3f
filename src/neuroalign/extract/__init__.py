"""Model activations: load models by id, name layers, extract many layers in one pass.

Only this subpackage imports torch model zoos (torchvision, timm, ...), and only inside functions.
"""

from ._extract import extract
from ._layers import list_layers, resolve_layers
from ._preprocess import IMAGENET_MEAN, IMAGENET_STD, ImagePreprocess
from ._reducers import REDUCERS, make_reducer
from ._sources import MODEL_SOURCES, LoadedModel, load_model

__all__ = [
    "IMAGENET_MEAN",
    "IMAGENET_STD",
    "MODEL_SOURCES",
    "REDUCERS",
    "ImagePreprocess",
    "LoadedModel",
    "extract",
    "list_layers",
    "load_model",
    "make_reducer",
    "resolve_layers",
]
