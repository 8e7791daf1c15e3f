"""Inputs users have: already-preprocessed tensors, iterables of batches and DataLoaders (video,
audio, several inputs), through the same hooks and store; images whose pixel values are kept."""

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from neuroalign import StimulusSet  # noqa: E402
from neuroalign.core.exceptions import NeuroalignWarning, ValidationError  # noqa: E402
from neuroalign.extract import ImagePreprocess, extract  # noqa: E402

from .helpers import PRE, Tiny  # noqa: E402


class Video(torch.nn.Module):
    """A 3-D convolution over clips (batch, channels, time, height, width)."""

    def __init__(self):
        super().__init__()
        torch.manual_seed(0)
        self.conv = torch.nn.Conv3d(3, 4, 3, padding=1)
        self.head = torch.nn.Linear(4, 2)
        self._calls = 0

    def forward(self, x):
        self._calls += 1
        return self.head(self.conv(x).mean(dim=(2, 3, 4)))


class TwoInputs(torch.nn.Module):
    """Audio (batch, samples) and a label embedding: a multi-input model."""

    def __init__(self):
        super().__init__()
        torch.manual_seed(0)
        self.audio = torch.nn.Conv1d(1, 3, 5, stride=2)
        self.mix = torch.nn.Linear(3 + 2, 4)

    def forward(self, wave, extra):
        a = self.audio(wave[:, None]).mean(-1)
        return self.mix(torch.cat([a, extra], dim=1))


def test_tensor_input_for_a_bare_module_equals_a_direct_forward(tmp_path):
    rng = np.random.default_rng(0)
    clips = rng.normal(size=(7, 3, 4, 8, 8)).astype(np.float32)
    ids = [f"c{k}" for k in range(7)]
    m = Video()
    acts = extract(m, clips, ids=ids, layers=["conv", "head"], batch_size=3, quiet=True)
    with torch.inference_mode():
        ref = m.conv(torch.from_numpy(clips))
    np.testing.assert_allclose(acts["conv"], ref.reshape(7, -1).numpy(), rtol=1e-5, atol=1e-6)
    assert list(acts.stimulus_ids) == ids and acts.layer_names == ("conv", "head")
    # the same store as stimuli: a second run reads it; other tensor content is another entry
    kw = dict(ids=ids, layers=["head"], cache=tmp_path, quiet=True)
    first = extract(m, torch.from_numpy(clips), **kw)
    calls = m._calls
    again = extract(m, clips, **kw)  # array or tensor of the same bytes: the same entry
    assert m._calls == calls
    np.testing.assert_array_equal(first["head"], again["head"])
    other = clips.copy()
    other[3, 0, 0, 0, 0] += 1
    changed = extract(m, other, **kw)
    assert m._calls > calls and not np.array_equal(changed["head"][3], first["head"][3])
    np.testing.assert_array_equal(changed["head"][:3], first["head"][:3])


def test_batches_and_dataloaders_with_a_forward_callable(tmp_path):
    from torch.utils.data import DataLoader, TensorDataset

    rng = np.random.default_rng(1)
    wave = torch.from_numpy(rng.normal(size=(10, 64)).astype(np.float32))
    extra = torch.from_numpy(rng.normal(size=(10, 2)).astype(np.float32))
    ids = [f"a{k}" for k in range(10)]
    m = TwoInputs()
    with torch.inference_mode():
        ref = m(wave, extra)
    loader = DataLoader(TensorDataset(wave, extra), batch_size=4, shuffle=False)
    as_tuple = extract(m, loader, ids=ids, layers=["mix"], quiet=True)  # module(*batch)
    np.testing.assert_allclose(as_tuple["mix"], ref.numpy(), rtol=1e-5, atol=1e-6)
    dicts = [{"w": wave[a : a + 3], "e": extra[a : a + 3]} for a in range(0, 10, 3)]

    def run(module, batch):
        return module(batch["w"], batch["e"])

    run.cache_key = "two-inputs-v1"
    got = extract(
        m, dicts, ids=ids, layers=["mix", "audio"], forward=run, cache=tmp_path, quiet=True
    )
    np.testing.assert_allclose(got["mix"], ref.numpy(), rtol=1e-5, atol=1e-6)
    assert got.layer_names == ("audio", "mix")
    hit = extract(
        m, dicts, ids=ids, layers=["mix", "audio"], forward=run, cache=tmp_path, quiet=True
    )
    np.testing.assert_array_equal(hit["mix"], got["mix"])
    assert isinstance(hit["mix"], np.memmap)
    # a shuffling loader gives other batches on the second read: refused, not mixed
    shuffled = DataLoader(TensorDataset(wave, extra), batch_size=4, shuffle=True)
    with pytest.raises(ValidationError, match="differs from the first time"):
        extract(m, shuffled, ids=ids, layers=["mix"], cache=tmp_path / "s", quiet=True)
    # a fitted reducer reads the loader twice (fit, then transform): equal to a PCA of the rows
    from sklearn.decomposition import PCA

    pca = extract(
        m,
        loader,
        ids=ids,
        layers=["mix"],
        reduce="ipca",
        reduce_options={"n_components": 2},
        quiet=True,
    )
    ref = PCA(n_components=2).fit_transform(ref.numpy().astype(np.float64))
    np.testing.assert_allclose(np.abs(pca["mix"]), np.abs(ref), rtol=1e-4, atol=1e-5)
    with pytest.raises(ValidationError, match="ids has 9 entries"):
        extract(m, loader, ids=ids[:9], layers=["mix"], quiet=True)
    with pytest.raises(ValidationError, match="one-shot iterator"):
        extract(
            m, iter(dicts), ids=ids, layers=["mix"], forward=run, cache=tmp_path / "g", quiet=True
        )
    with pytest.raises(ValidationError, match="need ids"):
        extract(m, loader, layers=["mix"], quiet=True)


def test_tensor_inputs_are_resumed_chunk_by_chunk(tmp_path, monkeypatch):
    from neuroalign.extract._store import LayerEntry

    x = torch.from_numpy(np.random.default_rng(2).normal(size=(23, 3, 16, 16)).astype("f4"))
    ids = [f"x{k}" for k in range(23)]
    real = LayerEntry.finalize

    def interrupted(self):
        raise KeyboardInterrupt

    monkeypatch.setattr(LayerEntry, "finalize", interrupted)
    kw = dict(ids=ids, layers=["fc"], cache=tmp_path, memory_budget=40, batch_size=4, quiet=True)
    with pytest.raises(KeyboardInterrupt):
        extract(Tiny(), x, **kw)
    monkeypatch.setattr(LayerEntry, "finalize", real)
    m = Tiny()
    got = extract(m, x, **kw)
    assert m._calls == 0
    np.testing.assert_allclose(
        got["fc"], extract(Tiny(), x, ids=ids, layers=["fc"])["fc"], rtol=1e-6, atol=1e-6
    )


def test_float_images_on_the_0_255_scale_warn_once():
    import warnings

    rng = np.random.default_rng(0)
    u8 = rng.integers(0, 256, size=(4, 20, 20, 3), dtype=np.uint8)
    pre = ImagePreprocess(resize=(16, 16))
    with warnings.catch_warnings(record=True) as rec:
        warnings.simplefilter("always")
        feats = extract(
            Tiny(),
            StimulusSet(ids=list("wxyz"), images=u8.astype(np.float32)),  # 0–255 as float
            layers=["fc"],
            preprocess=pre,
            batch_size=2,
        )
    scale = [w for w in rec if issubclass(w.category, NeuroalignWarning)]
    assert len(scale) == 1, [str(w.message) for w in rec]  # two batches, one warning
    msg = str(scale[0].message)
    assert "0–255" in msg and "uint8" in msg and "divide" in msg and "255" in msg
    ref = extract(Tiny(), StimulusSet(ids=list("wxyz"), images=u8), layers=["fc"], preprocess=pre)
    assert np.abs(feats["fc"] - ref["fc"]).max() > 1  # why it warns: far from the uint8 twin
    # [0, 1] floats, and 0–255 floats with 0–255 mean/std, are fine: no warning
    with warnings.catch_warnings():
        warnings.simplefilter("error", NeuroalignWarning)
        ImagePreprocess(resize=8).batch(u8.astype(np.float32) / 255)
        ImagePreprocess(resize=8, mean=(123.7, 116.3, 103.5), std=(58.4, 57.1, 57.4)).batch(
            u8.astype(np.float32)
        )
    # the warning flag is not part of the key
    assert pre == PRE and pre.cache_key == PRE.cache_key


def test_float_and_16_bit_images_keep_their_values(tmp_path):
    from PIL import Image

    rng = np.random.default_rng(0)
    floats = rng.uniform(-0.5, 1.5, size=(2, 8, 8, 3)).astype(np.float32)  # normalised input
    s = StimulusSet(ids=["a", "b"], images=floats)
    np.testing.assert_array_equal(s.load_image(0), floats[0])  # no clipping, no uint8
    deep = rng.integers(0, 65535, size=(8, 8), dtype=np.uint16)
    Image.fromarray(deep).save(tmp_path / "deep.png")
    img = StimulusSet(ids=["d"], images=[tmp_path / "deep.png"]).load_image(0)
    assert img.dtype == np.uint16 and img.shape == (8, 8, 3)
    np.testing.assert_array_equal(img[..., 0], deep)
    wide = np.array([[[0, 70000, 3]]])
    with pytest.raises(ValidationError, match="fit neither 8 nor 16 bits"):
        StimulusSet(ids=["w"], images=[wide]).load_image(0)
    # ImagePreprocess scales by the type's range and takes floats as they are
    pre = ImagePreprocess(resize=(8, 8), mean=(0, 0, 0), std=(1, 1, 1))
    np.testing.assert_allclose(pre(floats[0]).permute(1, 2, 0).numpy(), floats[0], atol=1e-6)
    np.testing.assert_allclose(pre(img)[0].numpy(), deep / 65535.0, atol=1e-6)
    # float images go through extract unchanged: the same features as their uint8 originals
    u8 = rng.integers(0, 255, size=(3, 20, 20, 3), dtype=np.uint8)
    a = extract(Tiny(), StimulusSet(ids=list("xyz"), images=u8), layers=["fc"], preprocess=PRE)
    b = extract(
        Tiny(),
        StimulusSet(ids=list("xyz"), images=u8.astype(np.float32) / 255),
        layers=["fc"],
        preprocess=PRE,
    )
    np.testing.assert_allclose(a["fc"], b["fc"], rtol=1e-5, atol=1e-6)
