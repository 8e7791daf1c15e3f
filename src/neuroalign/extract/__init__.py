"""Model activations: load models by id, name layers, extract many layers in one pass.

Only this subpackage imports torch model zoos (torchvision, timm, transformers, open_clip), and
only inside functions.
"""

from ..core._identity import module_fingerprint
from . import _file, _hf  # noqa: F401  (register the hf, open_clip and file sources)
from ._acoustic import ACOUSTIC_FEATURES, acoustic_features, event_rate
from ._extract import ExtractionPlan, extract, plan_extraction
from ._file import ARCHITECTURES
from ._layers import list_layers, resolve_layers
from ._preprocess import IMAGENET_MEAN, IMAGENET_STD, ImagePreprocess
from ._reducers import ACTIVATIONS, REDUCERS, make_reducer
from ._sources import MODEL_SOURCES, LoadedModel, load_model
from ._store_format import default_cache_dir
from ._timed import audio_features, conv_frame_times, video_features, word_features
from ._tiny import tiny_cnn

__all__ = [
    "ACOUSTIC_FEATURES",
    "ACTIVATIONS",
    "ARCHITECTURES",
    "IMAGENET_MEAN",
    "IMAGENET_STD",
    "MODEL_SOURCES",
    "REDUCERS",
    "ExtractionPlan",
    "ImagePreprocess",
    "LoadedModel",
    "acoustic_features",
    "audio_features",
    "conv_frame_times",
    "default_cache_dir",
    "event_rate",
    "extract",
    "list_layers",
    "load_model",
    "make_reducer",
    "module_fingerprint",
    "plan_extraction",
    "resolve_layers",
    "tiny_cnn",
    "video_features",
    "word_features",
]
