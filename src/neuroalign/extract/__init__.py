"""Model activations: load models by id, name layers, extract many layers in one pass.

Only this subpackage imports torch model zoos (torchvision, timm, transformers, open_clip), and
only inside functions.
"""

from . import _file, _hf  # noqa: F401  (register the hf, open_clip and file sources)
from ._extract import ExtractionPlan, extract, plan_extraction
from ._file import ARCHITECTURES
from ._layers import list_layers, resolve_layers
from ._preprocess import IMAGENET_MEAN, IMAGENET_STD, ImagePreprocess
from ._reducers import ACTIVATIONS, REDUCERS, make_reducer
from ._sources import MODEL_SOURCES, LoadedModel, load_model
from ._store import default_cache_dir, module_fingerprint
from ._tiny import tiny_cnn

__all__ = [
    "ACTIVATIONS",
    "ARCHITECTURES",
    "IMAGENET_MEAN",
    "IMAGENET_STD",
    "MODEL_SOURCES",
    "REDUCERS",
    "ExtractionPlan",
    "ImagePreprocess",
    "LoadedModel",
    "default_cache_dir",
    "extract",
    "list_layers",
    "load_model",
    "make_reducer",
    "module_fingerprint",
    "plan_extraction",
    "resolve_layers",
    "tiny_cnn",
]
