"""Concept spaces from models: a joint model's text tower (CLIP via ``hf:`` or ``open_clip:``), or
a classifier's class readout; and the image tower's embeddings of a stimulus set.

torch and the model libraries are imported inside the functions (through ``neuroalign.extract``).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from ..core import StimulusSet
from ..core._progress import track
from ..core.exceptions import ConfigurationError, ValidationError
from ..extract import LoadedModel, load_model
from ..extract._text import tokenize
from ._concepts import ConceptSpace, check_vocabulary

__all__ = ["classifier_concepts", "embed_concepts", "embed_images", "imagenet_classes"]


def _loaded(model: LoadedModel | str) -> LoadedModel:
    if isinstance(model, str):
        return load_model(model)
    if not isinstance(model, LoadedModel):
        raise ValidationError(
            f"model must be a model id or a LoadedModel (neuroalign.extract.load_model); got "
            f"{type(model).__name__}."
        )
    return model


def _joint(loaded: LoadedModel, need: str) -> None:
    if not {"image", "text"} <= set(loaded.forward) or loaded.tokenizer is None:
        raise ValidationError(
            f"{loaded.model_id} has no {'text' if need == 'text' else 'joint image'} tower: concept "
            "ranking in a joint space needs a model with both towers (hf:openai/clip-vit-base-patch32, "
            "open_clip:ViT-B-32/<tag>). For a classifier, use classifier_concepts(model) (its class "
            "labels as concepts)."
        )


def embed_concepts(
    model: LoadedModel | str,
    concepts: Sequence[str],
    batch_size: int = 64,
    device: str = "cpu",
    quiet: bool = False,
) -> ConceptSpace:
    """Embed a vocabulary with a joint model's text tower (CLIP's ``get_text_features`` /
    open_clip's ``encode_text``); the embeddings share the space of :func:`embed_images`.
    A progress bar over the batches is shown in a terminal unless ``quiet``."""
    import torch

    names = check_vocabulary(concepts)
    loaded = _loaded(model)
    _joint(loaded, "text")
    module = loaded.module.to(device)
    texts = StimulusSet(
        ids=np.array([f"c{i}" for i in range(len(names))]), texts=names, name="concepts"
    )
    out = []
    with torch.inference_mode():
        starts = range(0, len(names), batch_size)
        for s in track(starts, len(starts), "embedding concepts", quiet):
            # the project's one tokenisation policy (hf fast tokenizers and open_clip's)
            inputs = tokenize(
                loaded.tokenizer, texts, np.arange(s, min(len(names), s + batch_size))
            ).inputs
            if isinstance(inputs, dict):
                inputs = {k: v.to(device) for k, v in inputs.items()}
            else:
                inputs = inputs.to(device)
            emb = loaded.forward["text"](module, inputs)
            emb = getattr(emb, "pooler_output", emb)  # transformers >= 5 returns an output object
            out.append(emb.float().cpu().numpy())
    return ConceptSpace(names, np.concatenate(out), loaded.model_id, "image_embeds", "text")


def embed_images(
    model: LoadedModel | str,
    stimuli: StimulusSet,
    batch_size: int = 32,
    device: str = "cpu",
    quiet: bool = False,
) -> np.ndarray:
    """Image-tower embeddings (n_stimuli, n_features) of a joint model (CLIP's
    ``get_image_features`` / open_clip's ``encode_image``): fit encoders and project onto these.
    A progress bar over the batches is shown in a terminal unless ``quiet``."""
    import torch

    loaded = _loaded(model)
    _joint(loaded, "image")
    if stimuli.kind != "image":
        raise ValidationError(f"embed_images needs image stimuli; {stimuli.name!r} holds texts.")
    module, preprocess = loaded.module.to(device), loaded.preprocess
    if preprocess is None:
        raise ValidationError(
            f"{loaded.model_id} has no image preprocessing; it cannot embed images."
        )
    out = []
    with torch.inference_mode():
        starts = range(0, len(stimuli), batch_size)
        for s in track(starts, len(starts), "embedding images", quiet):
            idx = range(s, min(len(stimuli), s + batch_size))
            batch = torch.stack([preprocess(stimuli.load_image(i)) for i in idx])
            emb = loaded.forward["image"](module, batch.to(device))
            out.append(getattr(emb, "pooler_output", emb).float().cpu().numpy())
    return np.concatenate(out)


def imagenet_classes() -> list[str]:
    """The 1000 ImageNet-1k class names in the standard index order (from torchvision, offline)."""
    from ..core._validation import require

    tv = require("torchvision", "torch", "ImageNet class names")
    return list(tv.models.ResNet50_Weights.IMAGENET1K_V1.meta["categories"])


def classifier_concepts(
    model: LoadedModel | str = "efficientnet_lite:lite0",
    readout: str | None = None,
    labels: Sequence[str] | None = None,
    features_layer: str | None = None,
) -> ConceptSpace:
    """A classifier's label space as concepts: class ``c``'s embedding is row ``c`` of the final
    linear layer's weight, which lives in that layer's input space (the pooled penultimate
    features). Fit encoders on those features (e.g. ``_avg_pooling`` of EfficientNet-Lite0).

    Parameters
    ----------
    model : LoadedModel or model id
    readout : str, optional
        Name of the class readout ``nn.Linear`` (default: the last ``nn.Linear`` of the model).
    labels : sequence of str, optional
        Class names (default: the ImageNet-1k names when the readout has 1000 outputs).
    features_layer : str, optional
        The layer whose (pooled) output feeds the readout, recorded as the space's layer
        (default ``_avg_pooling`` for EfficientNet-Lite0, else ``"<readout>:input"``).
    """
    import torch

    loaded = _loaded(model)
    linears = [(n, m) for n, m in loaded.module.named_modules() if isinstance(m, torch.nn.Linear)]
    if not linears:
        raise ConfigurationError(f"{loaded.model_id} has no nn.Linear class readout.")
    mods = dict(linears)
    name = readout or linears[-1][0]
    if name not in mods:
        raise ConfigurationError(
            f"readout={name!r} is not an nn.Linear of {loaded.model_id}; it has {list(mods)[-5:]}."
        )
    W = mods[name].weight.detach().float().cpu().numpy()
    if labels is None:
        if W.shape[0] != 1000:
            raise ValidationError(
                f"{loaded.model_id}:{name} has {W.shape[0]} outputs, not the 1000 ImageNet classes; "
                "pass labels=[...] (one name per output)."
            )
        labels = imagenet_classes()
    if len(labels) != W.shape[0]:
        raise ValidationError(f"labels has {len(labels)} names for {W.shape[0]} class outputs.")
    if features_layer is None:
        features_layer = (
            "_avg_pooling" if loaded.model_id.startswith("efficientnet_lite") else f"{name}:input"
        )
    return ConceptSpace(list(labels), W, loaded.model_id, features_layer, "classifier")
